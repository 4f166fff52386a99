/* qeval — the document of one run: what the Markdown and HTML reports say.
 * Every number comes from results.json as it is; the only derived values are
 * the ones docs/reports.md lists (flip rate, % of reference). */
#include "reports/report_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reports/charts.h"
#include "reports/fmt.h"
#include "reports/results.h"

#define B QE_FMT_CAP

/* ---- small readers ---- */

static const cJSON *levels_of(const cJSON *res)
{
	return cJSON_GetObjectItemCaseSensitive(res, "levels");
}

static const char *lv_name(const cJSON *lv)
{
	const char *s = qe_results_str(lv, "name");
	return s ? s : "?";
}

static const char *lv_status(const cJSON *lv)
{
	const char *s = qe_results_str(lv, "status");
	return s ? s : "pending";
}

static int lv_ok(const cJSON *lv)
{
	return !strcmp(lv_status(lv), "ok");
}

static int lv_is_ref(const cJSON *res, const cJSON *lv)
{
	const char *ref = qe_results_ref(res);
	return (ref && !strcmp(ref, lv_name(lv))) || qe_results_bool(lv, "reference", 0);
}

static const char *ref_name(const cJSON *res)
{
	const char *r = qe_results_ref(res);
	return r ? r : "the reference";
}

/* settings object -> "k=v, k=v" */
static void settings_text(const cJSON *settings, struct qe_text *t)
{
	const cJSON *it;
	int first = 1;

	cJSON_ArrayForEach(it, settings) {
		char num[32];
		if (!first)
			qe_text_put(t, ", ");
		first = 0;
		qe_text_put(t, it->string);
		qe_text_put(t, "=");
		if (cJSON_IsString(it)) {
			qe_text_put(t, it->valuestring);
		} else if (cJSON_IsNumber(it)) {
			qe_text_put(t, qe_fmt_num(num, it->valuedouble));
		} else if (cJSON_IsBool(it)) {
			qe_text_put(t, cJSON_IsTrue(it) ? "true" : "false");
		} else if (cJSON_IsNull(it)) {
			qe_text_put(t, "null");
		} else {
			/* nested settings (a prompt template) would swamp the line: short
			 * arrays as JSON, the rest abbreviated; results.json has them whole */
			char *s = cJSON_IsArray(it) ? cJSON_PrintUnformatted(it) : NULL;
			if (s && strlen(s) <= 60)
				qe_text_put(t, s);
			else
				qe_text_put(t, cJSON_IsArray(it) ? "[\xe2\x80\xa6]" : "{\xe2\x80\xa6}");
			free(s);
		}
	}
}

/* The speed tests' names (union over levels, in first-seen order), max 16. */
static size_t speed_tests(const cJSON *task, const char **names, size_t cap)
{
	const cJSON *blk;
	size_t n = 0;

	cJSON_ArrayForEach(blk, cJSON_GetObjectItemCaseSensitive(task, "levels")) {
		const cJSON *t;
		cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(blk, "tests")) {
			const char *nm = qe_results_str(t, "name");
			size_t k;
			if (!nm)
				continue;
			for (k = 0; k < n && strcmp(names[k], nm); k++)
				;
			if (k == n && n < cap)
				names[n++] = nm;
		}
	}
	return n;
}

/* Keys of the object at blk[key] over all levels of a task (union, first-seen
 * order), skipping the listed ones; max cap. */
static size_t union_keys(const cJSON *task, const char *key, const char *const *skip, const char **out, size_t cap)
{
	const cJSON *blk;
	size_t n = 0;

	cJSON_ArrayForEach(blk, cJSON_GetObjectItemCaseSensitive(task, "levels")) {
		const cJSON *it;
		cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(blk, key)) {
			size_t k;
			int skipped = 0;
			for (const char *const *s = skip; s && *s; s++)
				skipped |= !strcmp(*s, it->string);
			if (skipped)
				continue;
			for (k = 0; k < n && strcmp(out[k], it->string); k++)
				;
			if (k == n && n < cap)
				out[n++] = it->string;
		}
	}
	return n;
}

/* ---- verdict ---- */

void qe_run_verdict(const cJSON *res, const cJSON *lv, struct qe_text *t)
{
	const cJSON *tasks = cJSON_GetObjectItemCaseSensitive(res, "tasks"), *task;
	const char *name = lv_name(lv), *ref = ref_name(res);
	char a[B], b[B], c[B];
	double sr = qe_results_num(lv, "size_ratio");
	int parts = 0;

	qe_text_put(t, name);
	qe_text_put(t, ": ");
	if (strcmp(lv_status(lv), "ok") != 0) {
		const char *e = qe_results_str(lv, "error");
		if (!strcmp(lv_status(lv), "failed"))
			qe_text_printf(t, "failed %s %s", QE_DASH, e ? e : "no message");
		else
			qe_text_put(t, "not run yet (pending)");
		return;
	}
	if (!isnan(sr)) {
		qe_text_printf(t, "%.1f%s smaller", sr, QE_TIMES);
		parts++;
	}
	if (qe_results_str(lv, "same_types_as")) {
		qe_text_printf(t, "%ssame tensor types as %s", parts ? ", " : "", qe_results_str(lv, "same_types_as"));
		parts++;
	}
	cJSON_ArrayForEach(task, tasks) {
		const char *type = qe_results_task_type(task);
		const cJSON *blk = qe_results_block(res, task->string, name), *it;
		if (!blk || strcmp(type, "speed") != 0)
			continue;
		cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(blk, "speedup")) {
			if (!cJSON_IsNumber(it))
				continue;
			qe_text_put(t, parts++ ? ", " : "");
			if (it->valuedouble >= 1)
				qe_text_printf(t, "%.1f%s faster %s", it->valuedouble, QE_TIMES, it->string);
			else
				qe_text_printf(t, "%.1f%s the speed on %s (slower)", it->valuedouble, QE_TIMES, it->string);
		}
	}
	cJSON_ArrayForEach(task, tasks) {
		const char *type = qe_results_task_type(task), *title = qe_task_title(task->string, type);
		const cJSON *blk = qe_results_block(res, task->string, name);
		if (!blk)
			continue;
		if (qe_task_type_is_mc(type)) {
			const cJSON *vs = cJSON_GetObjectItemCaseSensitive(blk, "vs_ref");
			const cJSON *ci = cJSON_GetObjectItemCaseSensitive(vs, "delta_ci95");
			double d = qe_results_num(vs, "delta_acc"), pct;
			if (isnan(d))
				continue;
			qe_text_put(t, parts++ ? ", " : "");
			qe_text_printf(t, "%s %s points", title, qe_fmt_points(a, B, d, 1));
			if (cJSON_GetArraySize(ci) == 2 && cJSON_IsNumber(cJSON_GetArrayItem(ci, 0)) &&
			    cJSON_IsNumber(cJSON_GetArrayItem(ci, 1)))
				qe_text_printf(t, " (95%% CI %s to %s)",
					       qe_fmt_points(b, B, cJSON_GetArrayItem(ci, 0)->valuedouble, 1),
					       qe_fmt_points(c, B, cJSON_GetArrayItem(ci, 1)->valuedouble, 1));
			if (qe_metric_get(res, task->string, name, "pct_of_ref", &pct) == QE_METRIC_OK)
				qe_text_printf(t, ", %s of %s", qe_fmt_pct(a, B, pct, 1), ref);
		} else if (!strcmp(type, "pairs")) {
			double cm = qe_results_num(cJSON_GetObjectItemCaseSensitive(blk, "drift"), "cos_mean");
			if (isnan(cm))
				continue;
			qe_text_put(t, parts++ ? ", " : "");
			qe_text_printf(t, "%s embeddings mean cosine %s to %s", title, qe_fmt_fixed(a, B, cm, 4, 0), ref);
		}
	}
	if (!parts)
		qe_text_put(t, "no comparison with the reference available");
}

/* ---- sections ---- */

static void measured(const cJSON *res, const cJSON *gate, struct qe_doc *d)
{
	const cJSON *model = cJSON_GetObjectItemCaseSensitive(res, "model");
	const cJSON *mach = cJSON_GetObjectItemCaseSensitive(res, "machine");
	const cJSON *eng = cJSON_GetObjectItemCaseSensitive(res, "engine");
	const cJSON *run = cJSON_GetObjectItemCaseSensitive(res, "run");
	const cJSON *q = cJSON_GetObjectItemCaseSensitive(res, "qeval");
	const cJSON *lv, *task, *first_ok = NULL;
	struct qe_block *f;
	struct qe_text t = { 0 };
	const char *s, *sha = qe_results_str(model, "sha256");
	char a[B], b[B];
	int same = 1, n = 0;

	qe_doc_heading(d, 1, "How it was measured");
	f = qe_doc_facts(d);

	qe_text_put(&t, (s = qe_results_str(model, "source")) ? s : "?");
	qe_text_printf(&t, " (%s", (s = qe_results_str(model, "arch")) ? s : "unknown architecture");
	if (!isnan(qe_results_num(model, "n_params")))
		qe_text_printf(&t, ", %s parameters", qe_fmt_grouped(a, B, qe_results_num(model, "n_params")));
	if (sha)
		qe_text_printf(&t, ", sha256 %.12s", sha);
	qe_text_put(&t, ")");
	qe_doc_fact(f, "Model", "%s", qe_text_str(&t));
	t.len = 0;

	cJSON_ArrayForEach(lv, levels_of(res)) {
		qe_text_put(&t, n++ ? ", " : "");
		qe_text_put(&t, lv_name(lv));
		if (lv_is_ref(res, lv))
			qe_text_put(&t, " (reference)");
		else if (!lv_ok(lv))
			qe_text_printf(&t, " (%s)", lv_status(lv));
	}
	qe_doc_fact(f, "Levels", "%s", n ? qe_text_str(&t) : "none");
	t.len = 0;

	qe_doc_fact(f, "Engine", "%s, %s", (s = qe_results_str(eng, "runtime")) ? s : "?",
		    qe_results_str(eng, "version") ? qe_results_str(eng, "version") : "unknown version");
	if ((s = qe_results_str(eng, "build")) && *s)
		qe_doc_fact(f, "Engine build", "%s", s);

	qe_text_printf(&t, "%s", (s = qe_results_str(mach, "cpu")) && *s ? s : "unknown CPU");
	if (!isnan(qe_results_num(mach, "n_cpus_allowed")))
		qe_text_printf(&t, ", %s of %s CPUs usable", qe_fmt_count(a, B, qe_results_num(mach, "n_cpus_allowed")),
			       qe_fmt_count(b, B, qe_results_num(mach, "n_cpus_online")));
	if (!isnan(qe_results_num(mach, "mem_bytes")))
		qe_text_printf(&t, ", %s memory", qe_fmt_bytes(a, B, qe_results_num(mach, "mem_bytes")));
	if ((s = qe_results_str(mach, "gpu")) && *s)
		qe_text_printf(&t, ", GPU %s", s);
	if ((s = qe_results_str(mach, "os")) && *s)
		qe_text_printf(&t, ", %s", s);
	if ((s = qe_results_str(mach, "host")) && *s)
		qe_text_printf(&t, ", host %s", s);
	qe_doc_fact(f, "Machine", "%s", qe_text_str(&t));
	t.len = 0;

	/* threads: one line when every level ran alike, else per level */
	cJSON_ArrayForEach(lv, levels_of(res)) {
		static const char *const keys[] = { "threads", "threads_batch", "n_gpu_layers", "n_ctx" };
		if (!first_ok) {
			first_ok = lv;
			continue;
		}
		for (size_t k = 0; k < 4; k++) {
			double x = qe_results_num(lv, keys[k]), y = qe_results_num(first_ok, keys[k]);
			if (!(x == y || (isnan(x) && isnan(y))))
				same = 0;
		}
	}
	if (first_ok && same) {
		qe_doc_fact(f, "Threads", "%s (batch %s), GPU layers %s, context %s tokens",
			    qe_fmt_count(a, B, qe_results_num(first_ok, "threads")),
			    qe_fmt_count(b, B, qe_results_num(first_ok, "threads_batch")),
			    qe_fmt_count((char[B]){ 0 }, B, qe_results_num(first_ok, "n_gpu_layers")),
			    qe_fmt_count((char[B]){ 0 }, B, qe_results_num(first_ok, "n_ctx")));
	} else if (first_ok) {
		n = 0;
		cJSON_ArrayForEach(lv, levels_of(res))
			qe_text_printf(&t, "%s%s: %s (batch %s), GPU layers %s", n++ ? "; " : "", lv_name(lv),
				       qe_fmt_count(a, B, qe_results_num(lv, "threads")),
				       qe_fmt_count(b, B, qe_results_num(lv, "threads_batch")),
				       qe_fmt_count((char[B]){ 0 }, B, qe_results_num(lv, "n_gpu_layers")));
		qe_doc_fact(f, "Threads", "%s", qe_text_str(&t));
		t.len = 0;
	}

	n = 0;
	cJSON_ArrayForEach(task, cJSON_GetObjectItemCaseSensitive(res, "tasks")) {
		const char *type = qe_results_task_type(task);
		const cJSON *settings = cJSON_GetObjectItemCaseSensitive(task, "settings");
		qe_text_printf(&t, "%s%s: ", n++ ? "; " : "", qe_task_title(task->string, type));
		if (!strcmp(type, "speed")) {
			const char *names[16];
			size_t nt = speed_tests(task, names, 16);
			for (size_t k = 0; k < nt; k++)
				qe_text_printf(&t, "%s%s", k ? ", " : "", names[k]);
		} else {
			qe_text_printf(&t, "%s %s", qe_fmt_count(a, B, qe_results_num(task, "n_items")),
				       !strcmp(type, "pairs") ? "pairs" : "items");
		}
		if (cJSON_GetArraySize(settings) > 0) {
			qe_text_put(&t, " (");
			settings_text(settings, &t);
			qe_text_put(&t, ")");
		}
	}
	if (n) {
		qe_doc_fact(f, "Tasks", "%s", qe_text_str(&t));
		t.len = 0;
	}

	qe_text_printf(&t, "%s", qe_results_bool(run, "complete", 0) ? "complete" : "not complete");
	if (qe_results_bool(run, "partial", 0))
		qe_text_printf(&t, ", partial (--limit %s)", qe_fmt_count(a, B, qe_results_num(run, "limit")));
	else
		qe_text_put(&t, ", full data sets");
	if (!isnan(qe_results_num(run, "seed")))
		qe_text_printf(&t, ", bootstrap seed %s", qe_fmt_count(a, B, qe_results_num(run, "seed")));
	if (!isnan(qe_results_num(run, "wall_s")))
		qe_text_printf(&t, ", %s s of level wall time", qe_fmt_fixed(a, B, qe_results_num(run, "wall_s"), 1, 0));
	qe_doc_fact(f, "Run", "%s", qe_text_str(&t));
	t.len = 0;

	qe_doc_fact(f, "Written", "%s by qeval %s (%s)", (s = qe_results_str(res, "created")) ? s : "?",
		    qe_results_str(q, "version") ? qe_results_str(q, "version") : "?",
		    qe_results_str(q, "git") ? qe_results_str(q, "git") : "?");
	if (gate) {
		double nc = qe_results_num(gate, "n_checks"), nf = qe_results_num(gate, "n_failed");
		qe_doc_fact(f, "Gate", "%s: %s of %s checks failed (rules %s)", nf > 0 ? "FAILED" : "passed",
			    qe_fmt_count(a, B, nf), qe_fmt_count(b, B, nc),
			    qe_results_str(gate, "rules") ? qe_results_str(gate, "rules") : "?");
	}
	qe_text_release(&t);
}

static void notes(const cJSON *res, struct qe_doc *d)
{
	const cJSON *run = cJSON_GetObjectItemCaseSensitive(res, "run"), *lv, *task;
	struct qe_text t = { 0 };
	char a[B], b[B];
	int n = 0;

	if (qe_results_bool(run, "partial", 0))
		qe_doc_note(d, "partial run: --limit %s kept at most that many items per subject (pairs: that many pairs), "
			       "so every number below is on a subset of each data set, not the full set",
			    qe_fmt_count(a, B, qe_results_num(run, "limit")));
	cJSON_ArrayForEach(lv, levels_of(res)) {
		const char *e = qe_results_str(lv, "error");
		if (lv_ok(lv))
			continue;
		qe_text_printf(&t, "%s%s %s", n++ ? "; " : "", lv_name(lv), lv_status(lv));
		if (e)
			qe_text_printf(&t, " (%s)", e);
	}
	if (n)
		qe_doc_note(d, "incomplete run: %s. Its rows are empty; the other levels are unaffected", qe_text_str(&t));
	else if (!qe_results_bool(run, "complete", 1))
		qe_doc_note(d, "incomplete run: not every level and task finished");
	qe_text_release(&t);
	cJSON_ArrayForEach(task, cJSON_GetObjectItemCaseSensitive(res, "tasks")) {
		const char *type = qe_results_task_type(task);
		if (!qe_task_type_is_mc(type))
			continue;
		cJSON_ArrayForEach(lv, levels_of(res)) {
			const cJSON *blk = qe_results_block(res, task->string, lv_name(lv));
			double nf = qe_results_num(blk, "n_failed");
			if (nf > 0)
				qe_doc_note(d, "%s at %s: %s of %s items could not be scored; its numbers are over the %s scored items",
					    qe_task_title(task->string, type), lv_name(lv), qe_fmt_count(a, B, nf),
					    qe_fmt_count(b, B, qe_results_num(blk, "n")),
					    qe_fmt_count((char[B]){ 0 }, B, qe_results_num(blk, "n_scored")));
		}
	}
}

static void levels_table(const cJSON *res, struct qe_doc *d)
{
	static const char *const head[] = { "Level", "Status", "File type", "Size", "Bits/weight", "Smaller by",
					    "Load s", "Wall s", "Peak RSS" };
	const cJSON *lv;
	struct qe_block *tb;
	char a[B];

	qe_doc_heading(d, 1, "Levels");
	tb = qe_doc_table(d, 9, NULL);
	for (size_t c = 0; c < 9; c++)
		qe_doc_th(tb, c, c >= 3, head[c]);
	cJSON_ArrayForEach(lv, levels_of(res)) {
		size_t r = qe_doc_row(tb);
		const char *st = lv_status(lv), *e = qe_results_str(lv, "error"), *ft = qe_results_str(lv, "ftype");
		qe_doc_td(tb, r, 0, 0, "%s", lv_name(lv));
		if (!strcmp(st, "failed"))
			qe_doc_td(tb, r, 1, QE_MARK_BAD, "failed: %s", e ? e : "no message");
		else if (lv_is_ref(res, lv) && lv_ok(lv))
			qe_doc_td(tb, r, 1, 0, "ok (reference)");
		else
			qe_doc_td(tb, r, 1, lv_ok(lv) ? 0 : QE_MARK_MUTED, "%s", st);
		qe_doc_td(tb, r, 2, 0, "%s", ft ? ft : QE_DASH);
		qe_doc_td(tb, r, 3, 0, "%s", qe_fmt_bytes(a, B, qe_results_num(lv, "file_bytes")));
		qe_doc_td(tb, r, 4, 0, "%s", qe_fmt_fixed(a, B, qe_results_num(lv, "bpw"), 2, 0));
		qe_doc_td(tb, r, 5, 0, "%s", qe_fmt_ratio(a, B, qe_results_num(lv, "size_ratio")));
		qe_doc_td(tb, r, 6, 0, "%s", qe_fmt_fixed(a, B, qe_results_num(lv, "load_s"), 2, 0));
		qe_doc_td(tb, r, 7, 0, "%s", qe_fmt_fixed(a, B, qe_results_num(lv, "wall_s"), 1, 0));
		qe_doc_td(tb, r, 8, 0, "%s", qe_fmt_bytes(a, B, qe_results_num(lv, "peak_rss_bytes")));
	}
}

/* First cells of a task row: level, size, bits/weight. Returns 1 when the
 * level has a block to show, else fills the rest of the row with why not. */
static int row_start(const cJSON *res, const cJSON *lv, const cJSON *blk, struct qe_block *tb, size_t r)
{
	char a[B];

	qe_doc_td(tb, r, 0, 0, "%s%s", lv_name(lv), lv_is_ref(res, lv) ? " (ref)" : "");
	qe_doc_td(tb, r, 1, 0, "%s", qe_fmt_bytes(a, B, qe_results_num(lv, "file_bytes")));
	qe_doc_td(tb, r, 2, 0, "%s", qe_fmt_fixed(a, B, qe_results_num(lv, "bpw"), 2, 0));
	if (blk)
		return 1;
	for (size_t c = 3; c < tb->table.n_cols; c++)
		qe_doc_td(tb, r, c, QE_MARK_MUTED, "%s", QE_DASH);
	if (!strcmp(lv_status(lv), "failed"))
		qe_doc_td(tb, r, 3, QE_MARK_BAD, "failed");
	else
		qe_doc_td(tb, r, 3, QE_MARK_MUTED, "%s", lv_ok(lv) ? "no results" : lv_status(lv));
	return 0;
}

static const cJSON *arr2(const cJSON *obj, const char *key, double *lo, double *hi)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(obj, key);
	*lo = *hi = NAN;
	if (cJSON_GetArraySize(a) == 2) {
		const cJSON *x = cJSON_GetArrayItem(a, 0), *y = cJSON_GetArrayItem(a, 1);
		if (cJSON_IsNumber(x))
			*lo = x->valuedouble;
		if (cJSON_IsNumber(y))
			*hi = y->valuedouble;
	}
	return a;
}

/* A table of groups (categories, groups or subjects) x levels of an mc task. */
static void mc_group_table(const cJSON *res, const cJSON *task, const char *key, const char *what, int with_category,
			   struct qe_doc *d)
{
	const char *names[512];
	size_t n = union_keys(task, key, NULL, names, 512), n_lv = (size_t)cJSON_GetArraySize(levels_of(res));
	const cJSON *lv, *refblk = qe_results_block(res, task->string, ref_name(res));
	size_t col0 = with_category ? 3 : 2, c;
	struct qe_block *tb;
	char a[B], title[256];

	if (!n)
		return;
	snprintf(title, sizeof(title), "%s by %s", qe_task_title(task->string, qe_results_task_type(task)), what);
	qe_doc_heading(d, 2, title);
	tb = qe_doc_table(d, col0 + n_lv, NULL);
	qe_doc_th(tb, 0, 0, !strcmp(key, "subjects") ? "Subject" : !strcmp(key, "groups") ? "Group" : "Category");
	if (with_category)
		qe_doc_th(tb, 1, 0, "Category");
	qe_doc_th(tb, col0 - 1, 1, "n");
	c = col0;
	cJSON_ArrayForEach(lv, levels_of(res))
		qe_doc_th(tb, c++, 1, lv_name(lv));
	for (size_t i = 0; i < n; i++) {
		size_t r = qe_doc_row(tb);
		const cJSON *g0 = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(refblk, key), names[i]);
		double n0 = qe_results_num(g0, "n");
		const char *cat = qe_results_str(g0, "category");
		/* n and category from the reference, else the first level that has the group */
		cJSON_ArrayForEach(lv, levels_of(res)) {
			const cJSON *g = cJSON_GetObjectItemCaseSensitive(
				cJSON_GetObjectItemCaseSensitive(qe_results_block(res, task->string, lv_name(lv)), key),
				names[i]);
			if (isnan(n0))
				n0 = qe_results_num(g, "n");
			if (!cat)
				cat = qe_results_str(g, "category");
		}
		qe_doc_td(tb, r, 0, 0, "%s", names[i]);
		if (with_category)
			qe_doc_td(tb, r, 1, 0, "%s", cat ? cat : QE_DASH);
		qe_doc_td(tb, r, col0 - 1, 0, "%s", qe_fmt_count(a, B, n0));
		c = col0;
		cJSON_ArrayForEach(lv, levels_of(res)) {
			const cJSON *g = cJSON_GetObjectItemCaseSensitive(
				cJSON_GetObjectItemCaseSensitive(qe_results_block(res, task->string, lv_name(lv)), key),
				names[i]);
			double gn = qe_results_num(g, "n");
			if (!g)
				qe_doc_td(tb, r, c, QE_MARK_MUTED, "%s", QE_DASH);
			else if (!isnan(gn) && gn != n0)
				qe_doc_td(tb, r, c, 0, "%s (n %s)", qe_fmt_pct(a, B, qe_results_num(g, "acc"), 2),
					  qe_fmt_count((char[B]){ 0 }, B, gn));
			else
				qe_doc_td(tb, r, c, 0, "%s", qe_fmt_pct(a, B, qe_results_num(g, "acc"), 2));
			c++;
		}
	}
	if (!strcmp(key, "categories")) {
		size_t r = qe_doc_row(tb);
		qe_doc_td(tb, r, 0, QE_MARK_MUTED, "macro average of subjects");
		qe_doc_td(tb, r, col0 - 1, 0, "%s", QE_DASH);
		c = col0;
		cJSON_ArrayForEach(lv, levels_of(res)) {
			const cJSON *blk = qe_results_block(res, task->string, lv_name(lv));
			qe_doc_td(tb, r, c++, blk ? 0 : QE_MARK_MUTED, "%s", qe_fmt_pct(a, B, qe_results_num(blk, "acc_macro"), 2));
		}
	}
}

static void mc_section(const cJSON *res, const cJSON *task, struct qe_doc *d)
{
	static const char *const head[] = { "Level", "Size", "Bits/weight", "Items", "Accuracy % [95% CI]", NULL,
					    "McNemar p", "Flips lost / gained", "Flip rate", "Same answer", "KL mean",
					    "Top changed", "Prompt tok/s" };
	const char *type = qe_results_task_type(task), *title = qe_task_title(task->string, type);
	const char *ref = ref_name(res);
	const cJSON *lv;
	struct qe_block *tb;
	char a[B], b[B], c[B], dh[128];

	qe_doc_heading(d, 1, title);
	qe_doc_para(d, "%s items. Accuracy with its 95%% interval; %s = level %s %s in percentage points with the paired "
		       "95%% interval; McNemar p tests the discordant pairs; flips lost = items %s got right and the level "
		       "got wrong, gained = the other way; flip rate = flips / paired items; KL = mean KL(%s %s level) "
		       "over the choice distributions; top changed = share of items whose top choice changed.",
		    qe_fmt_count(a, B, qe_results_num(task, "n_items")), "\xce\x94", QE_MINUS, ref, ref, ref,
		    "\xe2\x80\x96");
	snprintf(dh, sizeof(dh), "\xce\x94 vs %s, points [95%% CI]", ref);
	tb = qe_doc_table(d, 13, NULL);
	for (size_t k = 0; k < 13; k++)
		qe_doc_th(tb, k, k >= 1, head[k] ? head[k] : dh);
	cJSON_ArrayForEach(lv, levels_of(res)) {
		const cJSON *blk = qe_results_block(res, task->string, lv_name(lv));
		const cJSON *vs = cJSON_GetObjectItemCaseSensitive(blk, "vs_ref");
		const cJSON *tp = cJSON_GetObjectItemCaseSensitive(blk, "throughput");
		size_t r = qe_doc_row(tb);
		double lo, hi, fr, nf;
		int mark;

		if (!row_start(res, lv, blk, tb, r))
			continue;
		nf = qe_results_num(blk, "n_failed");
		if (nf > 0)
			qe_doc_td(tb, r, 3, 0, "%s of %s", qe_fmt_count(a, B, qe_results_num(blk, "n_scored")),
				  qe_fmt_count(b, B, qe_results_num(blk, "n")));
		else
			qe_doc_td(tb, r, 3, 0, "%s", qe_fmt_count(a, B, qe_results_num(blk, "n_scored")));
		arr2(blk, "acc_ci95", &lo, &hi);
		qe_doc_td(tb, r, 4, 0, "%s [%s, %s]", qe_fmt_fixed(a, B, 100 * qe_results_num(blk, "acc"), 2, 0),
			  qe_fmt_fixed(b, B, 100 * lo, 2, 0), qe_fmt_fixed(c, B, 100 * hi, 2, 0));
		if (!cJSON_IsObject(vs)) {
			for (size_t k = 5; k <= 11; k++)
				qe_doc_td(tb, r, k, QE_MARK_MUTED, "%s", k == 5 && lv_is_ref(res, lv) ? "reference" : QE_DASH);
		} else {
			arr2(vs, "delta_ci95", &lo, &hi);
			mark = hi < 0 ? QE_MARK_BAD : lo > 0 ? QE_MARK_GOOD : 0;
			qe_doc_td(tb, r, 5, mark, "%s [%s, %s]", qe_fmt_points(a, B, qe_results_num(vs, "delta_acc"), 2),
				  qe_fmt_points(b, B, lo, 2), qe_fmt_points(c, B, hi, 2));
			qe_doc_td(tb, r, 6, 0, "%s", qe_fmt_p(a, B, qe_results_num(vs, "mcnemar_p")));
			qe_doc_td(tb, r, 7, 0, "%s / %s", qe_fmt_count(a, B, qe_results_num(vs, "ref_right_level_wrong")),
				  qe_fmt_count(b, B, qe_results_num(vs, "ref_wrong_level_right")));
			if (qe_metric_get(res, task->string, lv_name(lv), "flip_rate", &fr) != QE_METRIC_OK)
				fr = NAN;
			qe_doc_td(tb, r, 8, 0, "%s", qe_fmt_pct(a, B, fr, 2));
			qe_doc_td(tb, r, 9, 0, "%s", qe_fmt_pct(a, B, qe_results_num(vs, "same_answer_rate"), 2));
			qe_doc_td(tb, r, 10, 0, "%s", qe_fmt_sig(a, B, qe_results_num(vs, "kl_mean"), 3));
			qe_doc_td(tb, r, 11, 0, "%s", qe_fmt_pct(a, B, qe_results_num(vs, "top_changed_rate"), 2));
		}
		qe_doc_td(tb, r, 12, 0, "%s", qe_fmt_fixed(a, B, qe_results_num(tp, "prompt_tokens_per_s"), 1, 0));
	}
	mc_group_table(res, task, "categories", "category", 0, d);
	mc_group_table(res, task, "groups", "group", 0, d);
	mc_group_table(res, task, "subjects", "subject", 1, d);
}

static void pairs_section(const cJSON *res, const cJSON *task, struct qe_doc *d)
{
	static const char *const drift_keys[] = { "cos_mean", "cos_p5", "cos_p1", "cos_min", "one_minus_cos_mean",
						  "pair_sim_drift_mean", "pair_sim_drift_p95", "pair_sim_drift_max" };
	static const char *const drift_head[] = { "Mean cos", "cos p5", "cos p1", "cos min", "1 " QE_MINUS " mean cos",
						  "Sim drift mean", "Sim drift p95", "Sim drift max" };
	static const char *const rskip[] = { "n_queries", "n_corpus", NULL };
	const char *type = qe_results_task_type(task), *title = qe_task_title(task->string, type);
	const char *ref = ref_name(res), *topk[16], *rkeys[32], *vkeys[32];
	size_t ntop = union_keys(task, "topk_overlap", NULL, topk, 16);
	size_t nr = union_keys(task, "retrieval", rskip, rkeys, 32);
	size_t nv = union_keys(task, "vs_ref", NULL, vkeys, 32);
	const cJSON *lv, *any = NULL;
	struct qe_block *tb;
	char a[B], h[96];

	cJSON_ArrayForEach(lv, cJSON_GetObjectItemCaseSensitive(task, "levels"))
		if (cJSON_IsObject(lv) && !any)
			any = lv;
	qe_doc_heading(d, 1, title);
	qe_doc_para(d, "%s pairs, %s sentences, %s labels. Drift compares each sentence's embedding with %s's: cosine "
		       "(higher is closer; p5/p1 are low percentiles), and how much each pair's similarity moved "
		       "(sim drift). Retrieval: each pair's first sentence queries the others.",
		    qe_fmt_count(a, B, qe_results_num(any, "n_pairs")), qe_fmt_count((char[B]){ 0 }, B, qe_results_num(any, "n_sentences")),
		    qe_results_str(any, "label_kind") ? qe_results_str(any, "label_kind") : "unknown", ref);

	qe_doc_heading(d, 2, "Embedding drift");
	tb = qe_doc_table(d, 3 + 8 + ntop, NULL);
	qe_doc_th(tb, 0, 0, "Level");
	qe_doc_th(tb, 1, 1, "Size");
	qe_doc_th(tb, 2, 1, "Bits/weight");
	for (size_t k = 0; k < 8; k++)
		qe_doc_th(tb, 3 + k, 1, drift_head[k]);
	for (size_t k = 0; k < ntop; k++) {
		snprintf(h, sizeof(h), "Top-k overlap %s", topk[k]);
		qe_doc_th(tb, 11 + k, 1, h);
	}
	cJSON_ArrayForEach(lv, levels_of(res)) {
		const cJSON *blk = qe_results_block(res, task->string, lv_name(lv));
		const cJSON *dr = cJSON_GetObjectItemCaseSensitive(blk, "drift");
		const cJSON *to = cJSON_GetObjectItemCaseSensitive(blk, "topk_overlap");
		size_t r = qe_doc_row(tb);
		if (!row_start(res, lv, blk, tb, r))
			continue;
		for (size_t k = 0; k < 8; k++) {
			double v = qe_results_num(dr, drift_keys[k]);
			if (k == 0 && !cJSON_IsObject(dr) && lv_is_ref(res, lv))
				qe_doc_td(tb, r, 3, QE_MARK_MUTED, "reference");
			else if (k < 4)
				qe_doc_td(tb, r, 3 + k, 0, "%s", qe_fmt_fixed(a, B, v, 4, 0));
			else
				qe_doc_td(tb, r, 3 + k, 0, "%s", qe_fmt_sig(a, B, v, 3));
		}
		for (size_t k = 0; k < ntop; k++)
			qe_doc_td(tb, r, 11 + k, 0, "%s", qe_fmt_fixed(a, B, qe_results_num(to, topk[k]), 3, 0));
	}

	qe_doc_heading(d, 2, "Similarity and retrieval quality");
	tb = qe_doc_table(d, 4 + nr + nv + 1, NULL);
	qe_doc_th(tb, 0, 0, "Level");
	qe_doc_th(tb, 1, 1, "Spearman");
	qe_doc_th(tb, 2, 1, "Pearson");
	qe_doc_th(tb, 3, 1, "Pos " QE_MINUS " neg cos");
	for (size_t k = 0; k < nr; k++) {
		snprintf(h, sizeof(h), "%c%s", rkeys[k][0] >= 'a' && rkeys[k][0] <= 'z' ? rkeys[k][0] - 32 : rkeys[k][0],
			 rkeys[k] + 1);
		/* recall@5 -> Recall@5, ndcg@10 -> NDCG@10, mrr@10 -> MRR@10 */
		if (!strncmp(rkeys[k], "ndcg", 4) || !strncmp(rkeys[k], "mrr", 3))
			for (char *p = h; *p && *p != '@'; p++)
				*p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
		qe_doc_th(tb, 4 + k, 1, h);
	}
	for (size_t k = 0; k < nv; k++) {
		size_t len = strlen(vkeys[k]);
		if (len > 6 && !strcmp(vkeys[k] + len - 6, "_delta"))
			snprintf(h, sizeof(h), "\xce\x94 %.*s", (int)(len - 6), vkeys[k]);
		else
			snprintf(h, sizeof(h), "%s", vkeys[k]);
		qe_doc_th(tb, 4 + nr + k, 1, h);
	}
	qe_doc_th(tb, 4 + nr + nv, 1, "Sentences/s");
	cJSON_ArrayForEach(lv, levels_of(res)) {
		const cJSON *blk = qe_results_block(res, task->string, lv_name(lv));
		const cJSON *sts = cJSON_GetObjectItemCaseSensitive(blk, "sts");
		const cJSON *ret = cJSON_GetObjectItemCaseSensitive(blk, "retrieval");
		const cJSON *vs = cJSON_GetObjectItemCaseSensitive(blk, "vs_ref");
		size_t r = qe_doc_row(tb);
		qe_doc_td(tb, r, 0, 0, "%s%s", lv_name(lv), lv_is_ref(res, lv) ? " (ref)" : "");
		if (!blk) {
			for (size_t k = 1; k < tb->table.n_cols; k++)
				qe_doc_td(tb, r, k, QE_MARK_MUTED, "%s", QE_DASH);
			qe_doc_td(tb, r, 1, strcmp(lv_status(lv), "failed") ? QE_MARK_MUTED : QE_MARK_BAD, "%s",
				  !strcmp(lv_status(lv), "failed") ? "failed" : lv_ok(lv) ? "no results" : lv_status(lv));
			continue;
		}
		qe_doc_td(tb, r, 1, 0, "%s", qe_fmt_fixed(a, B, qe_results_num(sts, "spearman"), 4, 0));
		qe_doc_td(tb, r, 2, 0, "%s", qe_fmt_fixed(a, B, qe_results_num(sts, "pearson"), 4, 0));
		qe_doc_td(tb, r, 3, 0, "%s", qe_fmt_fixed(a, B, qe_results_num(blk, "pos_neg_gap"), 4, 0));
		for (size_t k = 0; k < nr; k++)
			qe_doc_td(tb, r, 4 + k, 0, "%s", qe_fmt_fixed(a, B, qe_results_num(ret, rkeys[k]), 3, 0));
		for (size_t k = 0; k < nv; k++)
			qe_doc_td(tb, r, 4 + nr + k, cJSON_IsObject(vs) ? 0 : QE_MARK_MUTED, "%s",
				  qe_fmt_fixed(a, B, qe_results_num(vs, vkeys[k]), 4, 1));
		qe_doc_td(tb, r, 4 + nr + nv, 0, "%s",
			  qe_fmt_fixed(a, B, qe_results_num(cJSON_GetObjectItemCaseSensitive(blk, "throughput"), "sentences_per_s"),
				       1, 0));
	}
}

static void speed_section(const cJSON *res, const cJSON *task, struct qe_doc *d)
{
	const char *names[16], *sp[16];
	size_t nt = speed_tests(task, names, 16), ns = union_keys(task, "speedup", NULL, sp, 16);
	const char *type = qe_results_task_type(task), *ref = ref_name(res);
	size_t cols[16][3], nc = 3; /* per test: column of tok/s, TTFT, ms/token; 0 = none */
	const cJSON *lv, *any = NULL, *t0;
	struct qe_block *tb;
	char a[B], b[B], h[96];

	cJSON_ArrayForEach(lv, cJSON_GetObjectItemCaseSensitive(task, "levels"))
		if (cJSON_IsObject(lv) && !any)
			any = lv;
	t0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(any, "tests"), 0);
	qe_doc_heading(d, 1, qe_task_title(task->string, type));
	qe_doc_para(d, "Tokens per second as mean %s sd over %s timed repetitions (after warm-up), %s threads, batch %s / "
		       "micro-batch %s, %s GPU layers. TTFT = time to the first token of a prompt; ms/token = per "
		       "later token. Speedup = this level's tokens/s / %s's.",
		    "\xc2\xb1", qe_fmt_count(a, B, qe_results_num(t0, "reps")), qe_fmt_count(b, B, qe_results_num(any, "threads")),
		    qe_fmt_count((char[B]){ 0 }, B, qe_results_num(any, "n_batch")),
		    qe_fmt_count((char[B]){ 0 }, B, qe_results_num(any, "n_ubatch")),
		    qe_fmt_count((char[B]){ 0 }, B, qe_results_num(any, "n_gpu_layers")), ref);
	memset(cols, 0, sizeof(cols));
	for (size_t k = 0; k < nt; k++) {
		static const char *const keys[] = { "tps_mean", "ttft_ms_mean", "tpot_ms_mean" };
		cJSON_ArrayForEach(lv, cJSON_GetObjectItemCaseSensitive(task, "levels")) {
			const cJSON *t;
			cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(lv, "tests")) {
				const char *nm = qe_results_str(t, "name");
				if (!nm || strcmp(nm, names[k]))
					continue;
				for (int m = 0; m < 3; m++)
					if (cJSON_GetObjectItemCaseSensitive(t, keys[m]))
						cols[k][m] = 1;
			}
		}
		for (int m = 0; m < 3; m++)
			if (cols[k][m])
				cols[k][m] = nc++;
	}
	tb = qe_doc_table(d, nc + ns + 1, NULL);
	qe_doc_th(tb, 0, 0, "Level");
	qe_doc_th(tb, 1, 1, "Size");
	qe_doc_th(tb, 2, 1, "Bits/weight");
	for (size_t k = 0; k < nt; k++) {
		static const char *const what[] = { "tok/s", "TTFT ms", "ms/token" };
		for (int m = 0; m < 3; m++) {
			if (!cols[k][m])
				continue;
			snprintf(h, sizeof(h), "%s %s", names[k], what[m]);
			qe_doc_th(tb, cols[k][m], 1, h);
		}
	}
	for (size_t k = 0; k < ns; k++) {
		snprintf(h, sizeof(h), "Speedup %s", sp[k]);
		qe_doc_th(tb, nc + k, 1, h);
	}
	qe_doc_th(tb, nc + ns, 1, "Peak RSS");
	cJSON_ArrayForEach(lv, levels_of(res)) {
		const cJSON *blk = qe_results_block(res, task->string, lv_name(lv));
		const cJSON *spd = cJSON_GetObjectItemCaseSensitive(blk, "speedup");
		size_t r = qe_doc_row(tb);
		if (!row_start(res, lv, blk, tb, r))
			continue;
		for (size_t k = 0; k < nt; k++) {
			static const char *const mean[] = { "tps_mean", "ttft_ms_mean", "tpot_ms_mean" };
			static const char *const sd[] = { "tps_sd", "ttft_ms_sd", "tpot_ms_sd" };
			const cJSON *t = NULL, *it;
			cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(blk, "tests"))
				if (qe_results_str(it, "name") && !strcmp(qe_results_str(it, "name"), names[k]))
					t = it;
			for (int m = 0; m < 3; m++) {
				double v = qe_results_num(t, mean[m]), s = qe_results_num(t, sd[m]);
				if (!cols[k][m])
					continue;
				if (isnan(s))
					qe_doc_td(tb, r, cols[k][m], 0, "%s", qe_fmt_fixed(a, B, v, m == 2 ? 2 : 1, 0));
				else
					qe_doc_td(tb, r, cols[k][m], 0, "%s %s %s", qe_fmt_fixed(a, B, v, m == 2 ? 2 : 1, 0),
						  "\xc2\xb1", qe_fmt_fixed(b, B, s, m == 2 ? 2 : 1, 0));
			}
		}
		for (size_t k = 0; k < ns; k++) {
			double v = qe_results_num(spd, sp[k]);
			if (isnan(v) && lv_is_ref(res, lv))
				qe_doc_td(tb, r, nc + k, QE_MARK_MUTED, "reference");
			else
				qe_doc_td(tb, r, nc + k, 0, "%s", qe_fmt_ratio(a, B, v));
		}
		qe_doc_td(tb, r, nc + ns, 0, "%s", qe_fmt_bytes(a, B, qe_results_num(blk, "peak_rss_bytes")));
	}
}

static void other_section(const cJSON *task, struct qe_doc *d)
{
	qe_doc_heading(d, 1, task->string);
	qe_doc_para(d, "Task type '%s' has no table in this version of the report; its numbers are in results.json and "
		       "summary.csv.", qe_results_task_type(task));
}

int qe_run_doc_build(const cJSON *res, const cJSON *gate, int with_charts, struct qe_doc *d, struct qe_err *err)
{
	const cJSON *model = cJSON_GetObjectItemCaseSensitive(res, "model"), *lv, *task;
	const char *src = qe_results_str(model, "source"), *base;
	struct qe_text t = { 0 };
	struct qe_block *list = NULL;
	char title[512];

	base = src ? strrchr(src, '/') : NULL;
	base = base ? base + 1 : src;
	snprintf(title, sizeof(title), "qeval report: %s", base && *base ? base : "model");
	qe_doc_init(d, title);
	notes(res, d);

	cJSON_ArrayForEach(lv, levels_of(res)) {
		if (lv_is_ref(res, lv))
			continue;
		if (!list) {
			qe_doc_heading(d, 1, "Verdict");
			list = qe_doc_list(d);
		}
		t.len = 0;
		qe_run_verdict(res, lv, &t);
		qe_doc_item(list, "%s", qe_text_str(&t));
	}
	qe_text_release(&t);
	if (with_charts)
		qe_run_charts(res, d);
	measured(res, gate, d);
	levels_table(res, d);
	cJSON_ArrayForEach(task, cJSON_GetObjectItemCaseSensitive(res, "tasks")) {
		const char *type = qe_results_task_type(task);
		if (qe_task_type_is_mc(type))
			mc_section(res, task, d);
		else if (!strcmp(type, "pairs"))
			pairs_section(res, task, d);
		else if (!strcmp(type, "speed"))
			speed_section(res, task, d);
		else
			other_section(task, d);
	}
	if (d->oom)
		return qe_fail(err, QE_ENOMEM, "out of memory building the report");
	return 0;
}
