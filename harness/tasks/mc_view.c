/* qeval — the view of the multiple-choice tasks (mmlu, ceval): how the
 * reports show their per-level block (harness/tasks/mc_keys.h). Both tasks
 * write the same block, so they share every function here; their views
 * differ only in title and lm-eval task names. */
#include "harness/tasks/mc_keys.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "reports/compare.h"
#include "reports/fmt.h"
#include "reports/results.h"
#include "reports/summary.h"
#include "reports/view.h"

#define B QE_FMT_CAP
#define VS QE_MC_VS_REF "."

/* ---- headline metrics, charts ---- */

static const struct qe_view_metric mc_metrics[] = {
	{ QE_MC_ACC, "Accuracy % [95% CI]", QE_VF_PCT_CI, QE_VD_POINTS, QE_MC_ACC_CI95, QE_VIEW_COMPARE | QE_VIEW_HISTORY },
	{ VS QE_MC_DELTA_ACC, "\xce\x94 vs own reference, points [95% CI]", QE_VF_POINTS_CI, QE_VD_NONE,
	  VS QE_MC_DELTA_CI95, QE_VIEW_COMPARE | QE_VIEW_HISTORY },
	{ VS QE_MC_DELTA_CI95 "[0]", "", 0, QE_VD_NONE, "", QE_VIEW_HISTORY },
	{ QE_METRIC_FLIP_RATE, "Flip rate", QE_VF_PCT, QE_VD_NONE, "", QE_VIEW_COMPARE | QE_VIEW_HISTORY },
	{ VS QE_MC_KL_MEAN, "KL mean", QE_VF_SIG3, QE_VD_NONE, "", QE_VIEW_COMPARE | QE_VIEW_HISTORY },
	{ "", "", 0, 0, "", 0 },
};

static const struct qe_view_word mc_words[] = {
	{ VS QE_MC_DELTA_CI95 "[0]", "\xce\x94 lower 95% bound", QE_VU_POINTS },
	{ VS QE_MC_DELTA_CI95 "[1]", "\xce\x94 upper 95% bound", QE_VU_POINTS },
	{ VS QE_MC_DELTA_BOOT_CI95 "[0]", "\xce\x94 bootstrap lower 95% bound", QE_VU_POINTS },
	{ VS QE_MC_DELTA_BOOT_CI95 "[1]", "\xce\x94 bootstrap upper 95% bound", QE_VU_POINTS },
	{ VS QE_MC_DELTA_ACC, "\xce\x94", QE_VU_POINTS },
	{ QE_MC_ACC, "accuracy", QE_VU_PCT },
	{ QE_MC_ACC_CI95 "[0]", "accuracy lower 95% bound", QE_VU_PCT },
	{ QE_MC_ACC_CI95 "[1]", "accuracy upper 95% bound", QE_VU_PCT },
	{ QE_MC_ACC_MACRO, "macro accuracy", QE_VU_PCT },
	{ QE_METRIC_FLIP_RATE, "flip rate", QE_VU_PCT },
	{ QE_METRIC_PCT_OF_REF, "share of the reference's accuracy", QE_VU_PCT },
	{ VS QE_MC_SAME_ANSWER, "same-answer rate", QE_VU_PCT },
	{ VS QE_MC_TOP_CHANGED, "top-changed rate", QE_VU_PCT },
	{ VS QE_MC_KL_MEAN, "mean KL", QE_VU_PLAIN },
	{ VS QE_MC_MCNEMAR_P, "McNemar p", QE_VU_PLAIN },
	{ "", "", 0 },
};

static const char *const mc_derived[] = { QE_METRIC_FLIP_RATE, QE_METRIC_PCT_OF_REF, NULL };

static size_t mc_series(const struct qe_view_ctx *c, struct qe_view_series *out, size_t cap)
{
	static const struct qe_view_series tab[] = {
		{ QE_CHART_ACCURACY, QE_MC_ACC, QE_MC_ACC_CI95, "", "", 0, 100 },
		{ QE_CHART_DELTA, VS QE_MC_DELTA_ACC, VS QE_MC_DELTA_CI95, "", "", 0, 100 },
		{ QE_CHART_DRIFT_KL, VS QE_MC_KL_MEAN, "", "", "mean KL", 0, 1 },
	};
	size_t n = sizeof(tab) / sizeof(tab[0]);

	if (n > cap)
		n = cap;
	memcpy(out, tab, n * sizeof(*out));
	return n;
}

static int mc_trend(const struct qe_view_ctx *c, struct qe_view_trend *t)
{
	snprintf(t->path, sizeof(t->path), "%s", QE_MC_ACC);
	snprintf(t->title, sizeof(t->title), "%s accuracy vs bits/weight", c->title);
	snprintf(t->ylabel, sizeof(t->ylabel), "accuracy, %%");
	t->scale = 100;
	return 1;
}

static void mc_comparable(struct qe_compare_ctx *c)
{
	qe_compare_limit(c);
	qe_compare_counts(c, QE_MC_N, "items");
}

/* ---- the run's report ---- */

/* Below this many paired items a comparison's 95% interval is several points
 * wide: the reports say so (docs/metrics.md, "Small samples"). */
#define QE_MC_MIN_N 100

/* the fewest paired items of any level's comparison, and that level's interval width */
static void min_paired_note(const struct qe_view_ctx *c, struct qe_doc *d)
{
	const cJSON *lv;
	const char *at = NULL;
	double n_min = INFINITY, width = NAN;
	char a[B], b[B];

	cJSON_ArrayForEach(lv, qe_results_levels(c->res)) {
		const char *name = qe_results_level_name(lv);
		const cJSON *vs = cJSON_GetObjectItemCaseSensitive(qe_results_block(c->res, c->name, name), QE_MC_VS_REF);
		double n = qe_json_num(vs, QE_MC_N_PAIRED, NAN), lo, hi;
		if (isnan(n) || n >= n_min)
			continue;
		qe_results_pair(vs, QE_MC_DELTA_CI95, &lo, &hi);
		n_min = n;
		width = hi - lo;
		at = name;
	}
	if (at && n_min < QE_MC_MIN_N)
		qe_doc_note(d, "small sample: %s at %s compares only %s paired items with %s (fewer than %d), so its 95%% "
			       "interval spans %s points: too wide to show a one-point change either way",
			    c->title, at, qe_fmt_count(a, B, n_min), c->ref, QE_MC_MIN_N, qe_fmt_fixed(b, B, 100 * width, 1, 0));
}

static void mc_notes(const struct qe_view_ctx *c, struct qe_doc *d)
{
	const cJSON *lv;
	char a[B], b[B];

	min_paired_note(c, d);

	cJSON_ArrayForEach(lv, qe_results_levels(c->res)) {
		const char *name = qe_results_level_name(lv);
		const cJSON *blk = qe_results_block(c->res, c->name, name);
		double nf = qe_json_num(blk, QE_MC_N_FAILED, NAN);
		if (nf > 0)
			qe_doc_note(d, "%s at %s: %s of %s items could not be scored; its numbers are over the %s scored items",
				    c->title, name, qe_fmt_count(a, B, nf), qe_fmt_count(b, B, qe_json_num(blk, QE_MC_N, NAN)),
				    qe_fmt_count((char[B]){ 0 }, B, qe_json_num(blk, QE_MC_N_SCORED, NAN)));
	}
}

/* The reference's accuracy against chance (1 / n_choices): 1 = at or below
 * it, 2 = chance inside its 95% interval, 0 = clearly above; *chance set. */
static int ref_at_chance(const struct qe_view_ctx *c, double *chance)
{
	const cJSON *rb = qe_results_block(c->res, c->name, c->ref);
	double acc = qe_json_num(rb, QE_MC_ACC, NAN), lo, hi;

	*chance = 1.0 / qe_json_num(rb, QE_MC_N_CHOICES, 4);
	if (isnan(acc))
		return 0;
	if (acc <= *chance)
		return 1;
	qe_results_pair(rb, QE_MC_ACC_CI95, &lo, &hi);
	return !isnan(lo) && lo <= *chance ? 2 : 0;
}

/* "MMLU −0.4 points (95% CI −1.2 to +0.4), 99.1% of F16"; with a reference at
 * or near chance, what that means instead of the share */
static void mc_verdict(const struct qe_view_ctx *c, const char *level, struct qe_verdict *v)
{
	const cJSON *vs = cJSON_GetObjectItemCaseSensitive(qe_results_block(c->res, c->name, level), QE_MC_VS_REF);
	double d = qe_json_num(vs, QE_MC_DELTA_ACC, NAN), lo, hi, pct, chance;
	struct qe_text *t;
	char a[B], b[B];
	int at;

	if (isnan(d))
		return;
	t = qe_verdict_part(v);
	qe_text_printf(t, "%s %s points", c->title, qe_fmt_points(a, B, d, 1));
	qe_results_pair(vs, QE_MC_DELTA_CI95, &lo, &hi);
	if (!isnan(lo) && !isnan(hi))
		qe_text_printf(t, " (95%% CI %s to %s)", qe_fmt_points(a, B, lo, 1), qe_fmt_points(b, B, hi, 1));
	at = ref_at_chance(c, &chance);
	if (at == 1)
		qe_text_printf(t, ", but %s itself is at or below chance (%s), so there was no skill to lose", c->ref,
			       qe_fmt_pct(a, B, chance, 0));
	else if (at == 2)
		qe_text_printf(t, ", but %s itself is not clearly above chance (%s lies in its 95%% interval)", c->ref,
			       qe_fmt_pct(a, B, chance, 0));
	else if (qe_metric_get(c->res, c->name, level, QE_METRIC_PCT_OF_REF, &pct) == QE_METRIC_OK)
		qe_text_printf(t, ", %s of %s", qe_fmt_pct(a, B, pct, 1), c->ref);
}

/* The main table's columns: the decision's numbers first, so that a phone
 * shows Δ without scrolling; size and bits/weight (also in the levels table)
 * last. */
enum { C_LEVEL, C_DELTA, C_ACC, C_ITEMS, C_MCNEMAR, C_FLIPS, C_FLIP_RATE, C_SAME, C_KL, C_TOP, C_TPS, C_SIZE, C_BPW,
       C_N };

/* The comparison cells of a level's row: vs_ref, or why there is none. */
static void vs_ref_cells(const struct qe_view_ctx *c, const cJSON *lv, const cJSON *vs, struct qe_block *tb, size_t r)
{
	static const size_t cols[] = { C_DELTA, C_MCNEMAR, C_FLIPS, C_FLIP_RATE, C_SAME, C_KL, C_TOP };
	char a[B], b[B], x[B];
	double lo, hi, fr;
	int mark;

	if (!cJSON_IsObject(vs)) {
		for (size_t k = 0; k < sizeof(cols) / sizeof(cols[0]); k++)
			qe_doc_td(tb, r, cols[k], QE_MARK_MUTED, "%s",
				  cols[k] == C_DELTA && qe_results_level_is_ref(c->res, lv) ? "reference" : QE_DASH);
		return;
	}
	qe_results_pair(vs, QE_MC_DELTA_CI95, &lo, &hi);
	mark = hi < 0 ? QE_MARK_BAD : lo > 0 ? QE_MARK_GOOD : 0;
	qe_doc_td(tb, r, C_DELTA, mark, "%s [%s, %s]", qe_fmt_points(a, B, qe_json_num(vs, QE_MC_DELTA_ACC, NAN), 2),
		  qe_fmt_points(b, B, lo, 2), qe_fmt_points(x, B, hi, 2));
	qe_doc_td(tb, r, C_MCNEMAR, 0, "%s", qe_fmt_p(a, B, qe_json_num(vs, QE_MC_MCNEMAR_P, NAN)));
	qe_doc_td(tb, r, C_FLIPS, 0, "%s / %s", qe_fmt_count(a, B, qe_json_num(vs, QE_MC_LOST, NAN)),
		  qe_fmt_count(b, B, qe_json_num(vs, QE_MC_GAINED, NAN)));
	if (qe_metric_get(c->res, c->name, qe_results_level_name(lv), QE_METRIC_FLIP_RATE, &fr) != QE_METRIC_OK)
		fr = NAN;
	qe_doc_td(tb, r, C_FLIP_RATE, 0, "%s", qe_fmt_pct(a, B, fr, 2));
	qe_doc_td(tb, r, C_SAME, 0, "%s", qe_fmt_pct(a, B, qe_json_num(vs, QE_MC_SAME_ANSWER, NAN), 2));
	qe_doc_td(tb, r, C_KL, 0, "%s", qe_fmt_sig(a, B, qe_json_num(vs, QE_MC_KL_MEAN, NAN), 3));
	qe_doc_td(tb, r, C_TOP, 0, "%s", qe_fmt_pct(a, B, qe_json_num(vs, QE_MC_TOP_CHANGED, NAN), 2));
}

/* The main table: one row per level. */
static void mc_level_table(const struct qe_view_ctx *c, struct qe_doc *d)
{
	static const char *const head[C_N] = { "Level", NULL, "Accuracy % [95% CI]", "Items", "McNemar p",
					       "Flips lost / gained", "Flip rate", "Same answer", "KL mean",
					       "Top changed", "Prompt tok/s", "Size", "Bits/weight" };
	const cJSON *lv;
	struct qe_block *tb;
	char a[B], b[B], x[B], dh[128];

	snprintf(dh, sizeof(dh), "\xce\x94 vs %s, points [95%% CI]", c->ref);
	tb = qe_doc_table(d, C_N, NULL);
	for (size_t k = 0; k < C_N; k++)
		qe_doc_th(tb, k, k >= 1, head[k] ? head[k] : dh);
	cJSON_ArrayForEach(lv, qe_results_levels(c->res)) {
		const cJSON *blk = qe_results_block(c->res, c->name, qe_results_level_name(lv));
		const cJSON *tp = cJSON_GetObjectItemCaseSensitive(blk, QE_MC_THROUGHPUT);
		size_t r = qe_doc_row(tb);
		double lo, hi;

		if (!qe_run_row_start_at(c->res, lv, blk, tb, r, C_SIZE))
			continue;
		if (qe_json_num(blk, QE_MC_N_FAILED, NAN) > 0)
			qe_doc_td(tb, r, C_ITEMS, 0, "%s of %s", qe_fmt_count(a, B, qe_json_num(blk, QE_MC_N_SCORED, NAN)),
				  qe_fmt_count(b, B, qe_json_num(blk, QE_MC_N, NAN)));
		else
			qe_doc_td(tb, r, C_ITEMS, 0, "%s", qe_fmt_count(a, B, qe_json_num(blk, QE_MC_N_SCORED, NAN)));
		qe_results_pair(blk, QE_MC_ACC_CI95, &lo, &hi);
		qe_doc_td(tb, r, C_ACC, 0, "%s [%s, %s]", qe_fmt_fixed(a, B, 100 * qe_json_num(blk, QE_MC_ACC, NAN), 2, 0),
			  qe_fmt_fixed(b, B, 100 * lo, 2, 0), qe_fmt_fixed(x, B, 100 * hi, 2, 0));
		vs_ref_cells(c, lv, cJSON_GetObjectItemCaseSensitive(blk, QE_MC_VS_REF), tb, r);
		qe_doc_td(tb, r, C_TPS, 0, "%s", qe_fmt_fixed(a, B, qe_json_num(tp, QE_MC_PROMPT_TPS, NAN), 1, 0));
	}
}

/* The tables of groups x levels, after the main table. */
struct group_table {
	const char *key;        /* the block's object of groups */
	const char *what;       /* "category": heading "MMLU by category" */
	const char *head;       /* first column's head */
	int with_category;      /* 1 = a column with each group's category */
	int macro_row;          /* 1 = a last row with the block's macro average */
};

static const struct group_table group_tables[] = {
	{ QE_MC_CATEGORIES, "category", "Category", 0, 1 },
	{ QE_MC_GROUPS, "group", "Group", 0, 0 },
	{ QE_MC_SUBJECTS, "subject", "Subject", 1, 0 },
};

/* groups[name] of the task's block at level lv */
static const cJSON *group_at(const struct qe_view_ctx *c, const cJSON *lv, const char *key, const char *name)
{
	const cJSON *blk = qe_results_block(c->res, c->name, qe_results_level_name(lv));
	return cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(blk, key), name);
}

static void group_table(const struct qe_view_ctx *c, const struct group_table *g, struct qe_doc *d)
{
	const char *names[512];
	const cJSON *levels = qe_results_levels(c->res), *lv;
	const cJSON *refblk = qe_results_block(c->res, c->name, c->ref);
	size_t n = qe_results_union_keys(c->task, g->key, NULL, names, 512), n_lv = (size_t)cJSON_GetArraySize(levels);
	size_t col0 = g->with_category ? 3 : 2, col;
	struct qe_block *tb;
	char a[B], title[256];

	if (!n)
		return;
	snprintf(title, sizeof(title), "%s by %s", c->title, g->what);
	qe_doc_heading(d, 2, title);
	tb = qe_doc_table(d, col0 + n_lv, NULL);
	qe_doc_th(tb, 0, 0, g->head);
	if (g->with_category)
		qe_doc_th(tb, 1, 0, "Category");
	qe_doc_th(tb, col0 - 1, 1, "n");
	col = col0;
	cJSON_ArrayForEach(lv, levels)
		qe_doc_th(tb, col++, 1, qe_results_level_name(lv));
	for (size_t i = 0; i < n; i++) {
		size_t r = qe_doc_row(tb);
		const cJSON *g0 = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(refblk, g->key), names[i]);
		double n0 = qe_json_num(g0, QE_MC_N, NAN);
		const char *cat = qe_json_str(g0, QE_MC_CATEGORY, NULL);
		/* n and category from the reference, else the first level that has the group */
		cJSON_ArrayForEach(lv, levels) {
			const cJSON *gl = group_at(c, lv, g->key, names[i]);
			if (isnan(n0))
				n0 = qe_json_num(gl, QE_MC_N, NAN);
			if (!cat)
				cat = qe_json_str(gl, QE_MC_CATEGORY, NULL);
		}
		qe_doc_td(tb, r, 0, 0, "%s", names[i]);
		if (g->with_category)
			qe_doc_td(tb, r, 1, 0, "%s", cat ? cat : QE_DASH);
		qe_doc_td(tb, r, col0 - 1, 0, "%s", qe_fmt_count(a, B, n0));
		col = col0;
		cJSON_ArrayForEach(lv, levels) {
			const cJSON *gl = group_at(c, lv, g->key, names[i]);
			double gn = qe_json_num(gl, QE_MC_N, NAN);
			if (!gl)
				qe_doc_td(tb, r, col, QE_MARK_MUTED, "%s", QE_DASH);
			else if (!isnan(gn) && gn != n0)
				qe_doc_td(tb, r, col, 0, "%s (n %s)", qe_fmt_pct(a, B, qe_json_num(gl, QE_MC_ACC, NAN), 2),
					  qe_fmt_count((char[B]){ 0 }, B, gn));
			else
				qe_doc_td(tb, r, col, 0, "%s", qe_fmt_pct(a, B, qe_json_num(gl, QE_MC_ACC, NAN), 2));
			col++;
		}
	}
	if (g->macro_row) {
		size_t r = qe_doc_row(tb);
		qe_doc_td(tb, r, 0, QE_MARK_MUTED, "macro average of subjects");
		qe_doc_td(tb, r, col0 - 1, 0, "%s", QE_DASH);
		col = col0;
		cJSON_ArrayForEach(lv, levels) {
			const cJSON *blk = qe_results_block(c->res, c->name, qe_results_level_name(lv));
			qe_doc_td(tb, r, col++, blk ? 0 : QE_MARK_MUTED, "%s",
				  qe_fmt_pct(a, B, qe_json_num(blk, QE_MC_ACC_MACRO, NAN), 2));
		}
	}
}

static void mc_section(const struct qe_view_ctx *c, struct qe_doc *d)
{
	char a[B];

	qe_doc_heading(d, 1, c->title);
	qe_doc_para(d, "%s items. Accuracy with its 95%% interval; %s = level %s %s in percentage points with the paired "
		       "95%% interval; McNemar p tests the discordant pairs; flips lost = items %s got right and the level "
		       "got wrong, gained = the other way; flip rate = flips / paired items; KL = mean KL(%s %s level) "
		       "over the choice distributions; top changed = share of items whose top choice changed.",
		    qe_fmt_count(a, B, qe_json_num(c->task, "n_items", NAN)), "\xce\x94", QE_MINUS, c->ref, c->ref, c->ref,
		    "\xe2\x80\x96");
	mc_level_table(c, d);
	for (size_t k = 0; k < sizeof(group_tables) / sizeof(group_tables[0]); k++)
		group_table(c, &group_tables[k], d);
}

/* ---- the table `qeval run` prints ---- */

static void mc_summary(const cJSON *t, FILE *out)
{
	const cJSON *l;
	char b1[32], b2[32], b3[32], b4[32];

	fprintf(out, "%-10s %7s %16s %8s %9s %6s %6s %8s %8s %9s\n", "level", "acc%", "delta pts (95% CI)", "McNemar",
		"same-ans", "lost", "won", "KL", "top-chg", "tok/s");
	cJSON_ArrayForEach(l, cJSON_GetObjectItemCaseSensitive(t, "levels")) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(l, QE_MC_VS_REF);
		const cJSON *th = cJSON_GetObjectItemCaseSensitive(l, QE_MC_THROUGHPUT);
		char ci[64] = "(reference)", tps[32] = "-";
		/* a level without results (failed) has no accuracy: dashes, not "(reference)" */
		if (!cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(l, QE_MC_ACC)) ||
		    (cJSON_IsObject(v) && !cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(v, QE_MC_DELTA_ACC)))) {
			snprintf(ci, sizeof(ci), "-");
		} else if (cJSON_IsObject(v)) {
			const cJSON *c = cJSON_GetObjectItemCaseSensitive(v, QE_MC_DELTA_CI95);
			snprintf(ci, sizeof(ci), "%+.2f (%+.2f,%+.2f)", 100 * qe_json_num(v, QE_MC_DELTA_ACC, NAN),
				 100 * (cJSON_GetArrayItem(c, 0) ? cJSON_GetArrayItem(c, 0)->valuedouble : NAN),
				 100 * (cJSON_GetArrayItem(c, 1) ? cJSON_GetArrayItem(c, 1)->valuedouble : NAN));
		}
		fprintf(out, "%-10s %7s %16s", l->string, qe_summary_pct(b1, sizeof(b1), l, QE_MC_ACC), ci);
		if (cJSON_IsObject(v)) {
			char p[32] = "-";
			double pv = qe_json_num(v, QE_MC_MCNEMAR_P, NAN);
			/* as the reports: 3 decimals, scientific below 0.001 */
			if (!isnan(pv))
				snprintf(p, sizeof(p), pv >= 0.001 ? "%.3f" : "%.1e", pv);
			fprintf(out, " %8s %9s %6.0f %6.0f %8s %8s", p, qe_summary_pct(b2, sizeof(b2), v, QE_MC_SAME_ANSWER),
				qe_json_num(v, QE_MC_LOST, 0), qe_json_num(v, QE_MC_GAINED, 0),
				qe_summary_num(b4, sizeof(b4), v, QE_MC_KL_MEAN, 4),
				qe_summary_pct(b3, sizeof(b3), v, QE_MC_TOP_CHANGED));
		} else {
			fprintf(out, " %8s %9s %6s %6s %8s %8s", "", "", "", "", "", "");
		}
		if (!isnan(qe_json_num(th, QE_MC_PROMPT_TPS, NAN)))
			snprintf(tps, sizeof(tps), "%.0f", qe_json_num(th, QE_MC_PROMPT_TPS, NAN));
		fprintf(out, " %9s\n", tps);
	}
	cJSON_ArrayForEach(l, cJSON_GetObjectItemCaseSensitive(t, "levels"))
		if (qe_json_num(l, QE_MC_N_FAILED, 0) > 0)
			fprintf(out, "%s: %.0f of %.0f items failed (their reasons: levels/*-%s/records-%s.jsonl)\n", l->string,
				qe_json_num(l, QE_MC_N_FAILED, 0), qe_json_num(l, QE_MC_N, 0), l->string, t->string);
}

/* ---- the lm-evaluation-harness-shaped export ---- */

/* one entry of an lm-eval-shaped block: results / groups.<key> = {alias, acc,none, acc_stderr,none},
 * and its versions, n-shot, higher_is_better and n-samples */
static void lm_entry(cJSON *lvl, const char *section, const char *key, const cJSON *g, double shots, double n)
{
	cJSON *o = cJSON_AddObjectToObject(cJSON_GetObjectItemCaseSensitive(lvl, section), key), *x;

	cJSON_AddStringToObject(o, "alias", key);
	cJSON_AddNumberToObject(o, "acc,none", qe_json_num(g, QE_MC_ACC, 0));
	cJSON_AddNumberToObject(o, "acc_stderr,none", qe_json_num(g, QE_MC_ACC_STDERR, 0));
	if (!cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(lvl, "versions"), key))
		cJSON_AddNumberToObject(cJSON_GetObjectItemCaseSensitive(lvl, "versions"), key, 1);
	if (!cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(lvl, "n-shot"), key))
		cJSON_AddNumberToObject(cJSON_GetObjectItemCaseSensitive(lvl, "n-shot"), key, shots);
	if (!cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(lvl, "higher_is_better"), key)) {
		x = cJSON_AddObjectToObject(cJSON_GetObjectItemCaseSensitive(lvl, "higher_is_better"), key);
		cJSON_AddTrueToObject(x, "acc");
	}
	if (!isnan(n) && !cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(lvl, "n-samples"), key)) {
		x = cJSON_AddObjectToObject(cJSON_GetObjectItemCaseSensitive(lvl, "n-samples"), key);
		cJSON_AddNumberToObject(x, "original", n);
		cJSON_AddNumberToObject(x, "effective", n);
	}
}

/* lm.<level>: lm-evaluation-harness's results layout (its results_*.json:
 * results, groups, group_subtasks, versions, n-shot, higher_is_better,
 * n-samples). The task is a group of its subjects (<prefix>_<subject>), as in
 * lm-eval, and also a row of results with the micro accuracy. */
static void lm_eval_add(cJSON *lm, const char *level, const char *task, const char *prefix, const cJSON *blk)
{
	static const char *const sections[] = { "results", "groups", "group_subtasks", "versions", "n-shot",
						"higher_is_better", "n-samples" };
	cJSON *lvl = cJSON_GetObjectItemCaseSensitive(lm, level), *subtasks;
	const cJSON *s;
	double shots = qe_json_num(blk, QE_MC_N_SHOTS, 5);

	if (!lvl)
		lvl = cJSON_AddObjectToObject(lm, level);
	for (size_t k = 0; k < sizeof(sections) / sizeof(sections[0]); k++)
		if (!cJSON_GetObjectItemCaseSensitive(lvl, sections[k]))
			cJSON_AddObjectToObject(lvl, sections[k]);
	if (!cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(blk, QE_MC_ACC)))
		return;
	lm_entry(lvl, "results", task, blk, shots, NAN);
	lm_entry(lvl, "groups", task, blk, shots, NAN);
	subtasks = cJSON_AddArrayToObject(cJSON_GetObjectItemCaseSensitive(lvl, "group_subtasks"), task);
	cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(blk, QE_MC_SUBJECTS)) {
		char key[256];
		if (!cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(s, QE_MC_ACC)))
			continue;
		snprintf(key, sizeof(key), "%s_%s", prefix, s->string);
		lm_entry(lvl, "results", key, s, shots, qe_json_num(s, QE_MC_N, NAN));
		cJSON_AddItemToArray(subtasks, cJSON_CreateString(key));
	}
}

/* lm-eval's names of the subject tasks: mmlu_<subject>, ceval-valid_<subject> */
static void mmlu_lm_eval(cJSON *lm, const char *level, const char *task, const cJSON *blk)
{
	lm_eval_add(lm, level, task, "mmlu", blk);
}

static void ceval_lm_eval(cJSON *lm, const char *level, const char *task, const cJSON *blk)
{
	lm_eval_add(lm, level, task, "ceval-valid", blk);
}

/* ---- the views ---- */

const struct qe_view qe_view_mmlu = {
	.title = "MMLU",
	.metrics = mc_metrics,
	.derived = mc_derived,
	.notes = mc_notes,
	.verdict = mc_verdict,
	.words = mc_words,
	.n_path = QE_MC_N_SCORED,
	.section = mc_section,
	.series = mc_series,
	.comparable = mc_comparable,
	.trend = mc_trend,
	.summary = mc_summary,
	.lm_eval = mmlu_lm_eval,
};

const struct qe_view qe_view_ceval = {
	.title = "C-Eval",
	.metrics = mc_metrics,
	.derived = mc_derived,
	.notes = mc_notes,
	.verdict = mc_verdict,
	.words = mc_words,
	.n_path = QE_MC_N_SCORED,
	.section = mc_section,
	.series = mc_series,
	.comparable = mc_comparable,
	.trend = mc_trend,
	.summary = mc_summary,
	.lm_eval = ceval_lm_eval,
};
