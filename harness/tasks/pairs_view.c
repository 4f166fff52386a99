/* qeval — the view of the sentence-pairs task: how the reports show its
 * per-level block (harness/tasks/pairs_keys.h). */
#include "harness/tasks/pairs_keys.h"
#include "harness/base/json.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "reports/compare.h"
#include "reports/fmt.h"
#include "reports/results.h"
#include "reports/summary.h"
#include "reports/view.h"

#define B QE_FMT_CAP

/* ---- headline metrics, charts ---- */

static const struct qe_view_metric pairs_metrics[] = {
	{ QE_PAIRS_DRIFT "." QE_PAIRS_COS_MEAN, "Mean cos to own reference", QE_VF_FIX4, QE_VD_DIFF4, "",
	  QE_VIEW_COMPARE | QE_VIEW_HISTORY },
	{ QE_PAIRS_STS "." QE_PAIRS_SPEARMAN, "Spearman", QE_VF_FIX4, QE_VD_DIFF4, "", QE_VIEW_COMPARE | QE_VIEW_HISTORY },
	{ QE_PAIRS_RETRIEVAL "." QE_PAIRS_NDCG_AT "10", "NDCG@10", QE_VF_FIX3, QE_VD_DIFF4, "",
	  QE_VIEW_COMPARE | QE_VIEW_HISTORY },
	{ "", "", 0, 0, "", 0 },
};

static size_t pairs_series(const struct qe_view_ctx *c, struct qe_view_series *out, size_t cap)
{
	static const struct qe_view_series drift = { QE_CHART_DRIFT, QE_PAIRS_DRIFT "." QE_PAIRS_ONE_MINUS_COS_MEAN, "", "",
						     "1 - mean cosine", 0, 1 };
	if (!cap)
		return 0;
	out[0] = drift;
	return 1;
}

static void pairs_comparable(struct qe_compare_ctx *c)
{
	qe_compare_limit(c);
	qe_compare_counts(c, QE_PAIRS_N_PAIRS, "pairs");
}

/* ---- the run's report ---- */

static void pairs_amount(const struct qe_view_ctx *c, struct qe_text *out)
{
	char a[B];

	qe_text_printf(out, "%s pairs", qe_fmt_count(a, B, qe_json_num(c->task, "n_items", NAN)));
}

/* "pairs_zh embeddings mean cosine 0.9987 to F16" */
static void pairs_verdict(const struct qe_view_ctx *c, const char *level, struct qe_verdict *v)
{
	const cJSON *blk = qe_results_block(c->res, c->name, level);
	double cm = qe_json_num(cJSON_GetObjectItemCaseSensitive(blk, QE_PAIRS_DRIFT), QE_PAIRS_COS_MEAN, NAN);
	char a[B];

	if (!isnan(cm))
		qe_text_printf(qe_verdict_part(v), "%s embeddings mean cosine %s to %s", c->title,
			       qe_fmt_fixed(a, B, cm, 4, 0), c->ref);
}

static void drift_table(const struct qe_view_ctx *c, struct qe_doc *d)
{
	static const char *const drift_keys[] = { QE_PAIRS_COS_MEAN, QE_PAIRS_COS_P5, QE_PAIRS_COS_P1, QE_PAIRS_COS_MIN,
						  QE_PAIRS_ONE_MINUS_COS_MEAN, QE_PAIRS_SIM_DRIFT_MEAN, QE_PAIRS_SIM_DRIFT_P95,
						  QE_PAIRS_SIM_DRIFT_MAX };
	static const char *const drift_head[] = { "Mean cos", "cos p5", "cos p1", "cos min", "1 " QE_MINUS " mean cos",
						  "Sim drift mean", "Sim drift p95", "Sim drift max" };
	const char *topk[16];
	size_t ntop = qe_results_union_keys(c->task, QE_PAIRS_TOPK_OVERLAP, NULL, topk, 16);
	const cJSON *lv;
	struct qe_block *tb;
	char a[B], h[96];

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
	cJSON_ArrayForEach(lv, qe_results_levels(c->res)) {
		const cJSON *blk = qe_results_block(c->res, c->name, qe_results_level_name(lv));
		const cJSON *dr = cJSON_GetObjectItemCaseSensitive(blk, QE_PAIRS_DRIFT);
		const cJSON *to = cJSON_GetObjectItemCaseSensitive(blk, QE_PAIRS_TOPK_OVERLAP);
		size_t r = qe_doc_row(tb);
		if (!qe_run_row_start(c->res, lv, blk, tb, r))
			continue;
		for (size_t k = 0; k < 8; k++) {
			double v = qe_json_num(dr, drift_keys[k], NAN);
			if (k == 0 && !cJSON_IsObject(dr) && qe_results_level_is_ref(c->res, lv))
				qe_doc_td(tb, r, 3, QE_MARK_MUTED, "reference");
			else if (k < 4)
				qe_doc_td(tb, r, 3 + k, 0, "%s", qe_fmt_fixed(a, B, v, 4, 0));
			else
				qe_doc_td(tb, r, 3 + k, 0, "%s", qe_fmt_sig(a, B, v, 3));
		}
		for (size_t k = 0; k < ntop; k++)
			qe_doc_td(tb, r, 11 + k, 0, "%s", qe_fmt_fixed(a, B, qe_json_num(to, topk[k], NAN), 3, 0));
	}
}

/* A retrieval key as a column head: recall@5 -> Recall@5, ndcg@10 -> NDCG@10, mrr@10 -> MRR@10 */
static void retrieval_head(const char *key, char *h, size_t cap)
{
	snprintf(h, cap, "%c%s", key[0] >= 'a' && key[0] <= 'z' ? key[0] - 32 : key[0], key + 1);
	if (!strncmp(key, QE_PAIRS_NDCG_AT, strlen(QE_PAIRS_NDCG_AT)) ||
	    !strncmp(key, QE_PAIRS_MRR_AT, strlen(QE_PAIRS_MRR_AT)))
		for (char *p = h; *p && *p != '@'; p++)
			*p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
}

/* A vs_ref key as a column head: recall@5_delta -> "Δ recall@5" */
static void delta_head(const char *key, char *h, size_t cap)
{
	size_t len = strlen(key), sl = strlen(QE_PAIRS_DELTA);

	if (len > sl && !strcmp(key + len - sl, QE_PAIRS_DELTA))
		snprintf(h, cap, "\xce\x94 %.*s", (int)(len - sl), key);
	else
		snprintf(h, cap, "%s", key);
}

static void quality_table(const struct qe_view_ctx *c, struct qe_doc *d)
{
	static const char *const rskip[] = { QE_PAIRS_N_QUERIES, QE_PAIRS_N_CORPUS, NULL };
	const char *rkeys[32], *vkeys[32];
	size_t nr = qe_results_union_keys(c->task, QE_PAIRS_RETRIEVAL, rskip, rkeys, 32);
	size_t nv = qe_results_union_keys(c->task, QE_PAIRS_VS_REF, NULL, vkeys, 32);
	const cJSON *lv;
	struct qe_block *tb;
	char a[B], h[96];

	qe_doc_heading(d, 2, "Similarity and retrieval quality");
	tb = qe_doc_table(d, 4 + nr + nv + 1, NULL);
	qe_doc_th(tb, 0, 0, "Level");
	qe_doc_th(tb, 1, 1, "Spearman");
	qe_doc_th(tb, 2, 1, "Pearson");
	qe_doc_th(tb, 3, 1, "Pos " QE_MINUS " neg cos");
	for (size_t k = 0; k < nr; k++) {
		retrieval_head(rkeys[k], h, sizeof(h));
		qe_doc_th(tb, 4 + k, 1, h);
	}
	for (size_t k = 0; k < nv; k++) {
		delta_head(vkeys[k], h, sizeof(h));
		qe_doc_th(tb, 4 + nr + k, 1, h);
	}
	qe_doc_th(tb, 4 + nr + nv, 1, "Sentences/s");
	cJSON_ArrayForEach(lv, qe_results_levels(c->res)) {
		const char *st = qe_results_level_status(lv);
		const cJSON *blk = qe_results_block(c->res, c->name, qe_results_level_name(lv));
		const cJSON *sts = cJSON_GetObjectItemCaseSensitive(blk, QE_PAIRS_STS);
		const cJSON *ret = cJSON_GetObjectItemCaseSensitive(blk, QE_PAIRS_RETRIEVAL);
		const cJSON *vs = cJSON_GetObjectItemCaseSensitive(blk, QE_PAIRS_VS_REF);
		const cJSON *tp = cJSON_GetObjectItemCaseSensitive(blk, QE_PAIRS_THROUGHPUT);
		size_t r = qe_doc_row(tb);
		qe_doc_td(tb, r, 0, 0, "%s%s", qe_results_level_name(lv), qe_results_level_is_ref(c->res, lv) ? " (ref)" : "");
		if (!blk) {
			for (size_t k = 1; k < tb->table.n_cols; k++)
				qe_doc_td(tb, r, k, QE_MARK_MUTED, "%s", QE_DASH);
			qe_doc_td(tb, r, 1, strcmp(st, "failed") ? QE_MARK_MUTED : QE_MARK_BAD, "%s",
				  !strcmp(st, "failed") ? "failed" : !strcmp(st, "ok") ? "no results" : st);
			continue;
		}
		qe_doc_td(tb, r, 1, 0, "%s", qe_fmt_fixed(a, B, qe_json_num(sts, QE_PAIRS_SPEARMAN, NAN), 4, 0));
		qe_doc_td(tb, r, 2, 0, "%s", qe_fmt_fixed(a, B, qe_json_num(sts, QE_PAIRS_PEARSON, NAN), 4, 0));
		qe_doc_td(tb, r, 3, 0, "%s", qe_fmt_fixed(a, B, qe_json_num(blk, QE_PAIRS_POS_NEG_GAP, NAN), 4, 0));
		for (size_t k = 0; k < nr; k++)
			qe_doc_td(tb, r, 4 + k, 0, "%s", qe_fmt_fixed(a, B, qe_json_num(ret, rkeys[k], NAN), 3, 0));
		for (size_t k = 0; k < nv; k++)
			qe_doc_td(tb, r, 4 + nr + k, cJSON_IsObject(vs) ? 0 : QE_MARK_MUTED, "%s",
				  qe_fmt_fixed(a, B, qe_json_num(vs, vkeys[k], NAN), 4, 1));
		qe_doc_td(tb, r, 4 + nr + nv, 0, "%s", qe_fmt_fixed(a, B, qe_json_num(tp, QE_PAIRS_SENTENCES_PER_S, NAN), 1, 0));
	}
}

static void pairs_section(const struct qe_view_ctx *c, struct qe_doc *d)
{
	const cJSON *any = qe_results_first_block(c->task);
	const char *kind = qe_json_str(any, QE_PAIRS_LABEL_KIND, NULL);
	char a[B];

	qe_doc_heading(d, 1, c->title);
	qe_doc_para(d, "%s pairs, %s sentences, %s labels. Drift compares each sentence's embedding with %s's: cosine "
		       "(higher is closer; p5/p1 are low percentiles), and how much each pair's similarity moved "
		       "(sim drift). Retrieval: each pair's first sentence queries the others.",
		    qe_fmt_count(a, B, qe_json_num(any, QE_PAIRS_N_PAIRS, NAN)),
		    qe_fmt_count((char[B]){ 0 }, B, qe_json_num(any, QE_PAIRS_N_SENTENCES, NAN)), kind ? kind : "unknown",
		    c->ref);
	drift_table(c, d);
	quality_table(c, d);
}

/* ---- the table `qeval run` prints ---- */

static void pairs_summary(const cJSON *t, FILE *out)
{
	const cJSON *l;
	char b4[32];

	fprintf(out, "%-10s %9s %9s %9s %9s %9s %9s\n", "level", "cos mean", "cos p1", "spearman", "recall@5", "ndcg@5",
		"top5 ovl");
	cJSON_ArrayForEach(l, cJSON_GetObjectItemCaseSensitive(t, "levels")) {
		const cJSON *d = cJSON_GetObjectItemCaseSensitive(l, QE_PAIRS_DRIFT);
		const cJSON *r = cJSON_GetObjectItemCaseSensitive(l, QE_PAIRS_RETRIEVAL);
		char c1[32], c2[32], c3[32], c4[32], c5[32];
		fprintf(out, "%-10s %9s %9s %9s %9s %9s %9s\n", l->string, qe_summary_num(c1, sizeof(c1), d, QE_PAIRS_COS_MEAN, 5),
			qe_summary_num(c2, sizeof(c2), d, QE_PAIRS_COS_P1, 5),
			qe_summary_num(c3, sizeof(c3), cJSON_GetObjectItemCaseSensitive(l, QE_PAIRS_STS), QE_PAIRS_SPEARMAN, 4),
			qe_summary_pct(b4, sizeof(b4), r, QE_PAIRS_RECALL_AT "5"),
			qe_summary_num(c4, sizeof(c4), r, QE_PAIRS_NDCG_AT "5", 4),
			qe_summary_num(c5, sizeof(c5), cJSON_GetObjectItemCaseSensitive(l, QE_PAIRS_TOPK_OVERLAP),
				       QE_PAIRS_OVERLAP_AT "5", 4));
	}
}

/* MTEB's names (its STS and retrieval tasks' score dicts): cosine_spearman,
 * cosine_pearson, then recall_at_k, ndcg_at_k, mrr_at_k; main_score is
 * cosine_spearman, as MTEB's STS tasks have it. */
static int pairs_mteb(const cJSON *blk, cJSON *scores)
{
	const cJSON *sts = cJSON_GetObjectItemCaseSensitive(blk, QE_PAIRS_STS), *it;
	double sp = qe_json_num(sts, QE_PAIRS_SPEARMAN, NAN);

	if (isnan(sp))
		return 0;
	cJSON_AddNumberToObject(scores, "cosine_spearman", sp);
	qe_json_add_num(scores, "cosine_pearson", qe_json_num(sts, QE_PAIRS_PEARSON, NAN));
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(blk, QE_PAIRS_RETRIEVAL)) {
		const char *at = strchr(it->string, '@');
		char key[64];
		if (!at || !cJSON_IsNumber(it))
			continue;
		snprintf(key, sizeof(key), "%.*s_at_%s", (int)(at - it->string), it->string, at + 1);
		cJSON_AddNumberToObject(scores, key, it->valuedouble);
	}
	cJSON_AddNumberToObject(scores, "main_score", sp);
	return 1;
}

static const struct qe_view_word pairs_words[] = {
	{ QE_PAIRS_DRIFT "." QE_PAIRS_COS_MEAN, "mean cosine to the reference", QE_VU_PLAIN },
	{ QE_PAIRS_DRIFT "." QE_PAIRS_COS_P5, "5th-percentile cosine to the reference", QE_VU_PLAIN },
	{ QE_PAIRS_DRIFT "." QE_PAIRS_COS_MIN, "lowest cosine to the reference", QE_VU_PLAIN },
	{ QE_PAIRS_DRIFT "." QE_PAIRS_ONE_MINUS_COS_MEAN, "1 \xe2\x88\x92 mean cosine", QE_VU_PLAIN },
	{ QE_PAIRS_STS "." QE_PAIRS_SPEARMAN, "Spearman", QE_VU_PLAIN },
	{ QE_PAIRS_STS "." QE_PAIRS_PEARSON, "Pearson", QE_VU_PLAIN },
	{ QE_PAIRS_RETRIEVAL ".", "", QE_VU_PLAIN },
	{ QE_PAIRS_TOPK_OVERLAP ".", "top-k overlap ", QE_VU_PCT },
	{ QE_PAIRS_VS_REF ".", "", QE_VU_PLAIN },
	{ "", "", 0 },
};

const struct qe_view qe_view_pairs = {
	.metrics = pairs_metrics,
	.words = pairs_words,
	.mteb = pairs_mteb,
	.n_path = QE_PAIRS_N_SCORED,
	.amount = pairs_amount,
	.verdict = pairs_verdict,
	.section = pairs_section,
	.series = pairs_series,
	.comparable = pairs_comparable,
	.summary = pairs_summary,
};
