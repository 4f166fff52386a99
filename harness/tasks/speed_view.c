/* qeval — the view of the speed task: how the reports show its per-level
 * block (harness/tasks/speed_keys.h). Its headline numbers depend on the
 * tests the run had, so they come from the blocks, not from a fixed table. */
#include "harness/tasks/speed_keys.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "reports/compare.h"
#include "reports/fmt.h"
#include "reports/results.h"
#include "reports/view.h"

#define B QE_FMT_CAP
#define MAX_TESTS 16 /* tests shown per task */

/* ---- the tests ---- */

/* Names of the task's tests over all levels (union, first-seen order), at most
 * cap; with_tps = 1: only tests that report a tokens/s mean. */
static size_t test_names(const cJSON *task, int with_tps, const char **names, size_t cap)
{
	const cJSON *blk;
	size_t n = 0;

	cJSON_ArrayForEach(blk, cJSON_GetObjectItemCaseSensitive(task, "levels")) {
		const cJSON *t;
		cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(blk, QE_SPEED_TESTS)) {
			const char *nm = qe_json_str(t, QE_SPEED_NAME, NULL);
			size_t k;
			if (!nm || (with_tps && !cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(t, QE_SPEED_TPS_MEAN))))
				continue;
			for (k = 0; k < n && strcmp(names[k], nm); k++)
				;
			if (k == n && n < cap)
				names[n++] = nm;
		}
	}
	return n;
}

/* test `name` of a level's block, or NULL */
static const cJSON *test_of(const cJSON *blk, const char *name)
{
	const cJSON *t;

	cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(blk, QE_SPEED_TESTS))
		if (!strcmp(qe_json_str(t, QE_SPEED_NAME, ""), name))
			return t;
	return NULL;
}

/* 1 when test `name` is marked noisy at any level of the task */
static int noisy_anywhere(const cJSON *task, const char *name)
{
	const cJSON *blk;

	cJSON_ArrayForEach(blk, cJSON_GetObjectItemCaseSensitive(task, "levels"))
		if (qe_json_bool(test_of(blk, name), QE_SPEED_NOISY, 0))
			return 1;
	return 0;
}

/* The metric path of a test's key: "tests.tg128.tps_mean" */
static void test_path(char *buf, size_t cap, const char *test, const char *key)
{
	snprintf(buf, cap, "%s.%s.%s", QE_SPEED_TESTS, test, key);
}

/* ---- headline metrics, charts ---- */

/* compare: each test's tokens/s (where the block has a number); history: each
 * test's tokens/s (where the block has the key) and each speedup */
static size_t speed_block_metrics(const cJSON *blk, unsigned use, struct qe_view_metric *out, size_t cap)
{
	const cJSON *t, *sp;
	size_t n = 0;

	cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(blk, QE_SPEED_TESTS)) {
		const char *nm = qe_json_str(t, QE_SPEED_NAME, NULL);
		const cJSON *tps = cJSON_GetObjectItemCaseSensitive(t, QE_SPEED_TPS_MEAN);
		if (!nm || n == cap || !(use == QE_VIEW_COMPARE ? cJSON_IsNumber(tps) : tps != NULL))
			continue;
		memset(&out[n], 0, sizeof(out[n]));
		test_path(out[n].path, sizeof(out[n].path), nm, QE_SPEED_TPS_MEAN);
		snprintf(out[n].label, sizeof(out[n].label), "%s tok/s", nm);
		out[n].fmt = QE_VF_RATE;
		out[n].delta = QE_VD_RATIO;
		out[n].use = QE_VIEW_COMPARE | QE_VIEW_HISTORY;
		n++;
	}
	if (use != QE_VIEW_HISTORY)
		return n;
	cJSON_ArrayForEach(sp, cJSON_GetObjectItemCaseSensitive(blk, QE_SPEED_SPEEDUP)) {
		if (n == cap)
			break;
		memset(&out[n], 0, sizeof(out[n]));
		snprintf(out[n].path, sizeof(out[n].path), "%s.%s", QE_SPEED_SPEEDUP, sp->string);
		out[n].use = QE_VIEW_HISTORY;
		n++;
	}
	return n;
}

/* one series per test: tokens/s with bars of one sd */
static size_t speed_series(const struct qe_view_ctx *c, struct qe_view_series *out, size_t cap)
{
	const char *names[MAX_TESTS];
	size_t n = test_names(c->task, 1, names, MAX_TESTS);

	if (n > cap)
		n = cap;
	for (size_t i = 0; i < n; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		/* generation alone on its own chart: its tokens/s are a tenth of prompt processing's */
		out[i].chart = !strncmp(names[i], "tg", 2) ? QE_CHART_SPEED_GEN : QE_CHART_SPEED;
		test_path(out[i].path, sizeof(out[i].path), names[i], QE_SPEED_TPS_MEAN);
		test_path(out[i].sd, sizeof(out[i].sd), names[i], QE_SPEED_TPS_SD);
		snprintf(out[i].label, sizeof(out[i].label), "%s", names[i]);
		out[i].own_name = 1;
		out[i].scale = 1;
	}
	return n;
}

/* Quality is drawn against generation speed: tg128, else the first tg test,
 * else the first test that has tokens/s (over all speed tasks). */
static void speed_axis(const struct qe_view_ctx *c, struct qe_view_axis *ax)
{
	const char *names[MAX_TESTS];
	size_t n = test_names(c->task, 1, names, MAX_TESTS);

	for (size_t i = 0; i < n; i++) {
		const char *cur = ax->task ? ax->label : NULL;
		/* a noisy test measured the machine's load: no frontier from it */
		if (noisy_anywhere(c->task, names[i]))
			continue;
		if (cur && strcmp(names[i], "tg128") &&
		    (strncmp(names[i], "tg", 2) || !strcmp(cur, "tg128") || !strncmp(cur, "tg", 2)))
			continue;
		ax->task = c->name;
		test_path(ax->path, sizeof(ax->path), names[i], QE_SPEED_TPS_MEAN);
		test_path(ax->sd, sizeof(ax->sd), names[i], QE_SPEED_TPS_SD);
		snprintf(ax->label, sizeof(ax->label), "%s", names[i]);
	}
}

/* compare's chart: tokens/s of tg128, else of the first test of the first level's block */
static int speed_trend(const struct qe_view_ctx *c, struct qe_view_trend *tr)
{
	const cJSON *blk = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(c->task, "levels"), 0), *t;
	int found = 0;

	cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(blk, QE_SPEED_TESTS)) {
		const char *nm = qe_json_str(t, QE_SPEED_NAME, NULL);
		if (!nm || !cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(t, QE_SPEED_TPS_MEAN)) ||
		    (found && strcmp(nm, "tg128")))
			continue;
		test_path(tr->path, sizeof(tr->path), nm, QE_SPEED_TPS_MEAN);
		snprintf(tr->title, sizeof(tr->title), "%s tokens/s vs bits/weight", nm);
		found = 1;
	}
	snprintf(tr->ylabel, sizeof(tr->ylabel), "tokens/s");
	tr->scale = 1;
	return found;
}

/* the same tests (names, lengths, repetitions), threads and CPU; --limit does not apply */
static void speed_comparable(struct qe_compare_ctx *c)
{
	const cJSON *la, *lb;
	const char *ca = qe_json_str(cJSON_GetObjectItemCaseSensitive(c->a, "machine"), "cpu", NULL);
	const char *cb = qe_json_str(cJSON_GetObjectItemCaseSensitive(c->b, "machine"), "cpu", NULL);
	char x[B], y[B];
	int tests_named = 0, threads_named = 0;

	cJSON_ArrayForEach(lb, cJSON_GetObjectItemCaseSensitive(c->tb, "levels")) {
		const cJSON *t, *ta = cJSON_GetObjectItemCaseSensitive(c->ta, "levels");
		int same;
		la = cJSON_GetObjectItemCaseSensitive(ta, lb->string);
		if (!cJSON_IsObject(la) || !cJSON_IsObject(lb))
			continue;
		same = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(la, QE_SPEED_TESTS)) ==
		       cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(lb, QE_SPEED_TESTS));
		cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(lb, QE_SPEED_TESTS)) {
			const cJSON *u, *hit = NULL;
			const char *nt = qe_json_str(t, QE_SPEED_NAME, NULL);
			cJSON_ArrayForEach(u, cJSON_GetObjectItemCaseSensitive(la, QE_SPEED_TESTS))
				if (qe_json_str(u, QE_SPEED_NAME, NULL) && nt && !strcmp(qe_json_str(u, QE_SPEED_NAME, NULL), nt))
					hit = u;
			if (!hit || !qe_compare_same_num(t, hit, QE_SPEED_N_PROMPT) ||
			    !qe_compare_same_num(t, hit, QE_SPEED_N_GEN) || !qe_compare_same_num(t, hit, QE_SPEED_REPS))
				same = 0;
		}
		/* one mention each is enough: name the first level where it shows */
		if (!same && !tests_named) {
			qe_compare_why(c, "the speed tests differ (names, lengths or repetitions; first at %s)", lb->string);
			tests_named = 1;
		}
		if (!qe_compare_same_num(la, lb, QE_SPEED_THREADS) && !threads_named) {
			qe_compare_why(c, "at %s %s threads vs %s", lb->string,
				       qe_fmt_count(x, B, qe_json_num(lb, QE_SPEED_THREADS, NAN)),
				       qe_fmt_count(y, B, qe_json_num(la, QE_SPEED_THREADS, NAN)));
			threads_named = 1;
		}
	}
	if (!ca || !cb || strcmp(ca, cb) != 0)
		qe_compare_why(c, "measured on another CPU ('%s' vs '%s')", cb ? cb : "?", ca ? ca : "?");
}

/* ---- the run's report ---- */

static void speed_amount(const struct qe_view_ctx *c, struct qe_text *out)
{
	const char *names[MAX_TESTS];
	size_t n = test_names(c->task, 0, names, MAX_TESTS);

	for (size_t k = 0; k < n; k++)
		qe_text_printf(out, "%s%s", k ? ", " : "", names[k]);
}

/* "2.1× faster tg128" per test */
static void speed_verdict(const struct qe_view_ctx *c, const char *level, struct qe_verdict *v)
{
	const cJSON *it, *blk = qe_results_block(c->res, c->name, level), *rb = qe_results_block(c->res, c->name, c->ref);

	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(blk, QE_SPEED_SPEEDUP)) {
		/* a ratio of a noisy test is left out (the notes say why) */
		if (!cJSON_IsNumber(it) || qe_json_bool(test_of(blk, it->string), QE_SPEED_NOISY, 0) ||
		    qe_json_bool(test_of(rb, it->string), QE_SPEED_NOISY, 0))
			continue;
		if (it->valuedouble >= 1)
			qe_text_printf(qe_verdict_part(v), "%.1f%s faster %s", it->valuedouble, QE_TIMES, it->string);
		else
			qe_text_printf(qe_verdict_part(v), "%.1f%s the speed on %s (slower)", it->valuedouble, QE_TIMES,
				       it->string);
	}
}

/* One note per noisy test: where, how noisy, how loaded the machine was. */
static void speed_notes(const struct qe_view_ctx *c, struct qe_doc *d)
{
	const char *names[MAX_TESTS];
	size_t n = test_names(c->task, 1, names, MAX_TESTS);
	struct qe_text t = { 0 };
	char a[B], b[B], x[B];

	for (size_t k = 0; k < n; k++) {
		const cJSON *lv;
		int m = 0;
		t.len = 0;
		cJSON_ArrayForEach(lv, qe_results_levels(c->res)) {
			const cJSON *ts = test_of(qe_results_block(c->res, c->name, qe_results_level_name(lv)), names[k]);
			double steal = qe_json_num(ts, QE_SPEED_STEAL_S, NAN);
			if (!qe_json_bool(ts, QE_SPEED_NOISY, 0))
				continue;
			qe_text_printf(&t, "%s%s (sd %s of the mean, load average %s", m++ ? "; " : "",
				       qe_results_level_name(lv), qe_fmt_pct(a, B, qe_json_num(ts, QE_SPEED_TPS_CV, NAN), 0),
				       qe_fmt_fixed(b, B, qe_json_num(ts, QE_SPEED_LOAD1_MEAN, NAN), 1, 0));
			if (!isnan(steal) && steal > 0)
				qe_text_printf(&t, ", %s s stolen", qe_fmt_fixed(x, B, steal, 2, 0));
			qe_text_put(&t, ")");
		}
		if (m)
			qe_doc_note(d, "noisy speed test: %s varied by more than %.0f%% between repetitions at %s: the machine "
				       "was busy, so its speed-ups are left out of the verdict and the quality-vs-speed chart",
				    names[k], 100 * QE_SPEED_NOISY_CV, qe_text_str(&t));
	}
	qe_text_release(&t);
}

/* per test: the column of its tok/s, TTFT and ms/token (0 = none) */
struct speed_cols {
	const char *names[MAX_TESTS];
	size_t nt;
	size_t col[MAX_TESTS][3];
	size_t n;  /* columns so far */
};

static const char *const mean_keys[] = { QE_SPEED_TPS_MEAN, QE_SPEED_TTFT_MEAN, QE_SPEED_TPOT_MEAN };
static const char *const sd_keys[] = { QE_SPEED_TPS_SD, QE_SPEED_TTFT_SD, QE_SPEED_TPOT_SD };

/* A column for each measure that some level has for a test, after the three first columns. */
static void speed_columns(const cJSON *task, struct speed_cols *sc)
{
	memset(sc, 0, sizeof(*sc));
	sc->nt = test_names(task, 0, sc->names, MAX_TESTS);
	sc->n = 3;
	for (size_t k = 0; k < sc->nt; k++) {
		const cJSON *lv;
		cJSON_ArrayForEach(lv, cJSON_GetObjectItemCaseSensitive(task, "levels")) {
			const cJSON *t;
			cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(lv, QE_SPEED_TESTS)) {
				const char *nm = qe_json_str(t, QE_SPEED_NAME, NULL);
				if (!nm || strcmp(nm, sc->names[k]))
					continue;
				for (int m = 0; m < 3; m++)
					if (cJSON_GetObjectItemCaseSensitive(t, mean_keys[m]))
						sc->col[k][m] = 1;
			}
		}
		for (int m = 0; m < 3; m++)
			if (sc->col[k][m])
				sc->col[k][m] = sc->n++;
	}
}

/* A level's cells of every test's measures: "mean ± sd". */
static void test_cells(const struct speed_cols *sc, const cJSON *blk, struct qe_block *tb, size_t r)
{
	char a[B], b[B];

	for (size_t k = 0; k < sc->nt; k++) {
		const cJSON *t = NULL, *it;
		cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(blk, QE_SPEED_TESTS))
			if (qe_json_str(it, QE_SPEED_NAME, NULL) && !strcmp(qe_json_str(it, QE_SPEED_NAME, NULL), sc->names[k]))
				t = it;
		for (int m = 0; m < 3; m++) {
			double v = qe_json_num(t, mean_keys[m], NAN), s = qe_json_num(t, sd_keys[m], NAN);
			int dec = m == 2 ? 2 : 1;
			int noisy = m == 0 && qe_json_bool(t, QE_SPEED_NOISY, 0);
			if (!sc->col[k][m])
				continue;
			if (isnan(s))
				qe_doc_td(tb, r, sc->col[k][m], 0, "%s", qe_fmt_fixed(a, B, v, dec, 0));
			else
				qe_doc_td(tb, r, sc->col[k][m], noisy ? QE_MARK_MUTED : 0, "%s %s %s%s",
					  qe_fmt_fixed(a, B, v, dec, 0), "\xc2\xb1", qe_fmt_fixed(b, B, s, dec, 0),
					  noisy ? " (noisy)" : "");
		}
	}
}

static void speed_table(const struct qe_view_ctx *c, struct qe_doc *d)
{
	static const char *const what[] = { "tok/s", "TTFT ms", "ms/token" };
	const char *sp[16];
	size_t ns = qe_results_union_keys(c->task, QE_SPEED_SPEEDUP, NULL, sp, 16);
	struct speed_cols sc;
	const cJSON *lv;
	struct qe_block *tb;
	char a[B], h[96];

	speed_columns(c->task, &sc);
	tb = qe_doc_table(d, sc.n + ns + 1, NULL);
	qe_doc_th(tb, 0, 0, "Level");
	qe_doc_th(tb, 1, 1, "Size");
	qe_doc_th(tb, 2, 1, "Bits/weight");
	for (size_t k = 0; k < sc.nt; k++)
		for (int m = 0; m < 3; m++) {
			if (!sc.col[k][m])
				continue;
			snprintf(h, sizeof(h), "%s %s", sc.names[k], what[m]);
			qe_doc_th(tb, sc.col[k][m], 1, h);
		}
	for (size_t k = 0; k < ns; k++) {
		snprintf(h, sizeof(h), "Speedup %s", sp[k]);
		qe_doc_th(tb, sc.n + k, 1, h);
	}
	qe_doc_th(tb, sc.n + ns, 1, "Peak RSS");
	cJSON_ArrayForEach(lv, qe_results_levels(c->res)) {
		const cJSON *blk = qe_results_block(c->res, c->name, qe_results_level_name(lv));
		const cJSON *spd = cJSON_GetObjectItemCaseSensitive(blk, QE_SPEED_SPEEDUP);
		size_t r = qe_doc_row(tb);
		if (!qe_run_row_start(c->res, lv, blk, tb, r))
			continue;
		test_cells(&sc, blk, tb, r);
		for (size_t k = 0; k < ns; k++) {
			double v = qe_json_num(spd, sp[k], NAN);
			if (isnan(v) && qe_results_level_is_ref(c->res, lv))
				qe_doc_td(tb, r, sc.n + k, QE_MARK_MUTED, "reference");
			else
				qe_doc_td(tb, r, sc.n + k, 0, "%s", qe_fmt_ratio(a, B, v));
		}
		qe_doc_td(tb, r, sc.n + ns, 0, "%s", qe_fmt_bytes(a, B, qe_json_num(blk, QE_SPEED_PEAK_RSS, NAN)));
	}
}

static void speed_section(const struct qe_view_ctx *c, struct qe_doc *d)
{
	const cJSON *any = qe_results_first_block(c->task);
	const cJSON *t0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(any, QE_SPEED_TESTS), 0);
	char a[B], b[B];

	qe_doc_heading(d, 1, c->title);
	qe_doc_para(d, "Tokens per second as mean %s sd over %s timed repetitions (after warm-up), %s threads, batch %s / "
		       "micro-batch %s, %s GPU layers. TTFT = time to the first token of a prompt; ms/token = per "
		       "later token. Speedup = this level's tokens/s / %s's.",
		    "\xc2\xb1", qe_fmt_count(a, B, qe_json_num(t0, QE_SPEED_REPS, NAN)),
		    qe_fmt_count(b, B, qe_json_num(any, QE_SPEED_THREADS, NAN)),
		    qe_fmt_count((char[B]){ 0 }, B, qe_json_num(any, QE_SPEED_N_BATCH, NAN)),
		    qe_fmt_count((char[B]){ 0 }, B, qe_json_num(any, QE_SPEED_N_UBATCH, NAN)),
		    qe_fmt_count((char[B]){ 0 }, B, qe_json_num(any, QE_SPEED_N_GPU_LAYERS, NAN)), c->ref);
	speed_table(c, d);
}

/* ---- the table `qeval run` prints ---- */

static void speed_summary(const cJSON *task, FILE *out)
{
	const cJSON *l;

	cJSON_ArrayForEach(l, cJSON_GetObjectItemCaseSensitive(task, "levels")) {
		const cJSON *x, *t0;
		fprintf(out, "%-10s", l->string);
		cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(l, QE_SPEED_TESTS))
			if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(x, QE_SPEED_TPS_MEAN)))
				fprintf(out, "  %s %.1f±%.1f t/s%s", qe_json_str(x, QE_SPEED_NAME, "?"),
					qe_json_num(x, QE_SPEED_TPS_MEAN, NAN), qe_json_num(x, QE_SPEED_TPS_SD, NAN),
					qe_json_bool(x, QE_SPEED_NOISY, 0) ? " (noisy)" : "");
		t0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(l, QE_SPEED_TESTS), 0);
		if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(t0, QE_SPEED_LOAD1_MEAN)))
			fprintf(out, "  (load average %.1f)", qe_json_num(t0, QE_SPEED_LOAD1_MEAN, NAN));
		fprintf(out, "\n");
	}
}

static const struct qe_view_word speed_words[] = {
	{ QE_SPEED_SPEEDUP ".", "vs the reference on ", QE_VU_RATIO },
	{ "", "", 0 },
};

const struct qe_view qe_view_speed = {
	.title = "Speed",
	.words = speed_words,
	.block_metrics = speed_block_metrics,
	.amount = speed_amount,
	.verdict = speed_verdict,
	.verdict_first = 1,
	.notes = speed_notes,
	.section = speed_section,
	.series = speed_series,
	.speed_axis = speed_axis,
	.comparable = speed_comparable,
	.trend = speed_trend,
	.summary = speed_summary,
};
