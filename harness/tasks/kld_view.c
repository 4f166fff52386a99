/* qeval — the view of the kld task: how the reports show its per-level
 * block (harness/tasks/kld_keys.h). */
#include "harness/tasks/kld_keys.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "reports/compare.h"
#include "reports/fmt.h"
#include "reports/results.h"
#include "reports/summary.h"
#include "reports/view.h"

#define B QE_FMT_CAP

/* ---- headline metrics, charts, compare ---- */

static const struct qe_view_metric kld_metrics[] = {
	{ QE_KLD_MEAN, "Mean KLD", QE_VF_SIG3, QE_VD_RATIO, "", QE_VIEW_COMPARE | QE_VIEW_HISTORY },
	{ QE_KLD_P99, "KLD p99", QE_VF_SIG3, QE_VD_RATIO, "", QE_VIEW_COMPARE | QE_VIEW_HISTORY },
	{ QE_KLD_SAME_TOP, "Same top", QE_VF_PCT_CI, QE_VD_POINTS, QE_KLD_SAME_TOP_CI, QE_VIEW_COMPARE | QE_VIEW_HISTORY },
	{ QE_KLD_PPL_RATIO, "PPL ratio", QE_VF_FIX4, QE_VD_DIFF4, "", QE_VIEW_COMPARE | QE_VIEW_HISTORY },
	{ "", "", 0, 0, "", 0 },
};

static size_t kld_series(const struct qe_view_ctx *c, struct qe_view_series *out, size_t cap)
{
	static const struct qe_view_series s[] = {
		{ QE_CHART_DRIFT, QE_KLD_MEAN, QE_KLD_CI, "", "mean KLD (nats)", 0, 1 },
		{ QE_CHART_DRIFT, QE_KLD_P99, "", "", "KLD p99 (nats)", 0, 1 },
		{ QE_CHART_ACCURACY, QE_KLD_SAME_TOP, QE_KLD_SAME_TOP_CI, "", "same top token", 0, 100 },
	};
	size_t n = 0;

	for (; n < cap && n < sizeof(s) / sizeof(s[0]); n++)
		out[n] = s[n];
	return n;
}

static int kld_trend(const struct qe_view_ctx *c, struct qe_view_trend *t)
{
	snprintf(t->path, sizeof(t->path), "%s", QE_KLD_MEAN);
	snprintf(t->title, sizeof(t->title), "%s mean KL divergence vs bits/weight", c->title);
	snprintf(t->ylabel, sizeof(t->ylabel), "mean KLD, nats");
	t->scale = 1;
	return 1;
}

/* At a level that gave top-K log-probabilities only, every statistic of the
 * per-position KL is of its lower bound (docs/metrics.md, "Top-K levels"):
 * the mean, its interval, the median, the quantiles and the maximum. */
static const char *kld_lower_bound(const cJSON *blk, const char *path)
{
	static const char *const keys[] = { QE_KLD_MEAN, QE_KLD_CI, QE_KLD_MEDIAN, QE_KLD_P90, QE_KLD_P95,
					    QE_KLD_P99, QE_KLD_P999, QE_KLD_MAX };
	const char *mark = qe_json_str(blk, QE_KLD_ESTIMATE, NULL);

	for (size_t k = 0; mark && k < sizeof(keys) / sizeof(keys[0]); k++) {
		size_t n = strlen(keys[k]);
		if (!strncmp(path, keys[k], n) && (path[n] == '\0' || path[n] == '['))
			return mark;
	}
	return NULL;
}

static void kld_comparable(struct qe_compare_ctx *c)
{
	qe_compare_limit(c);
}

/* ---- the run's report ---- */

static void kld_amount(const struct qe_view_ctx *c, struct qe_text *out)
{
	const cJSON *any = qe_results_first_block(c->task);
	const cJSON *set = cJSON_GetObjectItemCaseSensitive(c->task, "settings");
	char a[B], b[B], t[B];

	qe_text_printf(out, "%s chunks of %s tokens, %s scored positions",
		       qe_fmt_count(a, B, qe_json_num(any, QE_KLD_N_CHUNKS, NAN)),
		       qe_fmt_count(b, B, qe_json_num(set, "ctx", NAN)),
		       qe_fmt_grouped(t, B, qe_json_num(any, QE_KLD_N_TOKENS, NAN)));
}

static void kld_notes(const struct qe_view_ctx *c, struct qe_doc *d)
{
	const cJSON *lv;

	cJSON_ArrayForEach(lv, qe_results_levels(c->res)) {
		const char *name = qe_results_level_name(lv);
		const cJSON *blk = qe_results_block(c->res, c->name, name);
		const char *e = qe_json_str(blk, QE_KLD_ERROR, NULL);
		double nf = qe_json_num(blk, QE_KLD_N_FAILED, 0);
		const char *est = qe_json_str(blk, QE_KLD_ESTIMATE, NULL);
		if (est) {
			double nu = qe_json_num(blk, QE_KLD_N_NLL_UNKNOWN, 0);
			qe_doc_note(d, "%s at %s: the level gave top-K log-probabilities only, so its KLD figures are a %s: "
				       "the tokens outside its top entries are merged into one bucket, which never raises KL "
				       "(docs/metrics.md); PPL, same top and \xce\x94p are exact%s", c->title, name, est,
				    nu > 0 ? ", over the positions whose true token's log-probability the server gave" : "");
			if (nu > 0)
				qe_doc_note(d, "%s at %s: %.0f scored position(s) (%.2f%%) have no true-token log-probability "
					       "(not among the top entries) and are left out of PPL, its ratio and \xce\x94p",
					    c->title, name, nu, 100.0 * qe_json_num(blk, QE_KLD_NLL_UNKNOWN_FRAC, 0));
		}
		if (e)
			qe_doc_note(d, "%s at %s: %s", c->title, name, e);
		else if (nf > 0)
			qe_doc_note(d, "%s at %s: %.0f chunk(s) of the reference have no usable record at this level and "
				       "are left out", c->title, name, nf);
	}
}

/* "kld mean KLD 0.0123 nats, same top token 97.10%" */
static void kld_verdict(const struct qe_view_ctx *c, const char *level, struct qe_verdict *v)
{
	const cJSON *blk = qe_results_block(c->res, c->name, level);
	double k = qe_json_num(blk, QE_KLD_MEAN, NAN), st = qe_json_num(blk, QE_KLD_SAME_TOP, NAN);
	char a[B], b[B];

	const char *est = qe_json_str(blk, QE_KLD_ESTIMATE, NULL);

	if (!isnan(k))
		qe_text_printf(qe_verdict_part(v), "%s mean KLD %s%s nats%s%s%s, same top token %s", c->title, est ? ">= " : "",
			       qe_fmt_sig(a, B, k, 3), est ? " (" : "", est ? est : "", est ? ")" : "", qe_fmt_pct(b, B, st, 2));
}

/* value ± se with sig significant digits */
static void cell_pm(struct qe_block *tb, size_t r, size_t col, const cJSON *blk, const char *k, const char *kse, int sig)
{
	double v = qe_json_num(blk, k, NAN), se = qe_json_num(blk, kse, NAN);
	char a[B], b[B];

	if (isnan(v))
		qe_doc_td(tb, r, col, QE_MARK_MUTED, "%s", QE_DASH);
	else
		qe_doc_td(tb, r, col, 0, "%s \xc2\xb1 %s", qe_fmt_sig(a, B, v, sig), qe_fmt_sig(b, B, se, 2));
}

static void drift_table(const struct qe_view_ctx *c, struct qe_doc *d)
{
	static const char *const keys[] = { QE_KLD_MEDIAN, QE_KLD_P90, QE_KLD_P99, QE_KLD_P999, QE_KLD_MAX };
	static const char *const head[] = { "KLD median", "KLD p90", "KLD p99", "KLD p99.9", "KLD max" };
	const cJSON *lv;
	struct qe_block *tb = qe_doc_table(d, 13, NULL);
	char a[B];

	qe_doc_th(tb, 0, 0, "Level");
	qe_doc_th(tb, 1, 1, "Size");
	qe_doc_th(tb, 2, 1, "Bits/weight");
	qe_doc_th(tb, 3, 1, "PPL");
	qe_doc_th(tb, 4, 1, "PPL / PPL ref");
	qe_doc_th(tb, 5, 1, "Mean KLD");
	for (size_t k = 0; k < 5; k++)
		qe_doc_th(tb, 6 + k, 1, head[k]);
	qe_doc_th(tb, 11, 1, "Same top");
	qe_doc_th(tb, 12, 1, "RMS \xce\x94p");
	cJSON_ArrayForEach(lv, qe_results_levels(c->res)) {
		const cJSON *blk = qe_results_block(c->res, c->name, qe_results_level_name(lv));
		size_t r = qe_doc_row(tb);
		if (!qe_run_row_start(c->res, lv, blk, tb, r))
			continue;
		cell_pm(tb, r, 3, blk, QE_KLD_PPL, QE_KLD_PPL_SE, 5);
		if (qe_results_level_is_ref(c->res, lv)) {
			for (size_t k = 4; k < 13; k++)
				qe_doc_td(tb, r, k, QE_MARK_MUTED, "%s", k == 4 ? "reference" : QE_DASH);
			continue;
		}
		cell_pm(tb, r, 4, blk, QE_KLD_PPL_RATIO, QE_KLD_PPL_RATIO_SE, 5);
		if (!qe_json_str(blk, QE_KLD_ESTIMATE, NULL))
			cell_pm(tb, r, 5, blk, QE_KLD_MEAN, QE_KLD_SE, 3);
		else /* a lower bound: "≥ 0.0123 ± 0.001 (top-k K=100)" */
			qe_doc_td(tb, r, 5, 0, "\xe2\x89\xa5 %s \xc2\xb1 %s (%s)", qe_fmt_sig(a, B, qe_json_num(blk, QE_KLD_MEAN, NAN), 3),
				  qe_fmt_sig((char[B]){ 0 }, B, qe_json_num(blk, QE_KLD_SE, NAN), 2),
				  qe_json_str(blk, QE_KLD_ESTIMATE, ""));
		for (size_t k = 0; k < 5; k++) /* a lower bound's quantiles are the bound's: marked as its mean */
			qe_doc_td(tb, r, 6 + k, 0, "%s%s", kld_lower_bound(blk, keys[k]) ? "\xe2\x89\xa5 " : "",
				  qe_fmt_sig(a, B, qe_json_num(blk, keys[k], NAN), 3));
		qe_doc_td(tb, r, 11, 0, "%s \xc2\xb1 %s", qe_fmt_pct(a, B, qe_json_num(blk, QE_KLD_SAME_TOP, NAN), 2),
			  qe_fmt_pct((char[B]){ 0 }, B, qe_json_num(blk, QE_KLD_SAME_TOP_SE, NAN), 2));
		qe_doc_td(tb, r, 12, 0, "%s", qe_fmt_pct(a, B, qe_json_num(blk, QE_KLD_DP_RMS, NAN), 3));
	}
}

static void kld_section(const struct qe_view_ctx *c, struct qe_doc *d)
{
	const cJSON *set = cJSON_GetObjectItemCaseSensitive(c->task, "settings");
	const cJSON *lv;
	double bound = 0;
	char a[B], b[B];

	cJSON_ArrayForEach(lv, qe_results_levels(c->res)) {
		double x = qe_json_num(qe_results_block(c->res, c->name, qe_results_level_name(lv)), QE_KLD_BOUND, NAN);
		if (x > bound)
			bound = x;
	}
	qe_doc_heading(d, 1, c->title);
	qe_doc_para(d, "Next-token distributions over the whole vocabulary against %s's, on %s in chunks of %s tokens (the "
		       "first half context only). KLD = KL(%s || level) in nats per scored token (\xc2\xb1 one standard "
		       "error); same top = the most probable token is %s's; \xce\x94p = p(true token) at the level minus at "
		       "%s. The stored reference bounds the error of any mean KLD here by %s nats.",
		    c->ref, qe_json_str(set, "text", "the text"), qe_fmt_count(a, B, qe_json_num(set, "ctx", NAN)), c->ref,
		    c->ref, c->ref, qe_fmt_sig(b, B, bound, 2));
	drift_table(c, d);
}

/* ---- the table `qeval run` prints ---- */

static void kld_summary(const cJSON *t, FILE *out)
{
	const cJSON *l;

	fprintf(out, "%-10s %10s %9s %10s %10s %9s %9s\n", "level", "ppl", "ppl ratio", "kld mean", "kld p99", "same top",
		"dp rms");
	cJSON_ArrayForEach(l, cJSON_GetObjectItemCaseSensitive(t, "levels")) {
		char c1[32], c2[32], c3[32], c4[32], c5[32], c6[32];
		fprintf(out, "%-10s %10s %9s %10s %10s %9s %9s\n", l->string, qe_summary_num(c1, sizeof(c1), l, QE_KLD_PPL, 4),
			qe_summary_num(c2, sizeof(c2), l, QE_KLD_PPL_RATIO, 4), qe_summary_num(c3, sizeof(c3), l, QE_KLD_MEAN, 6),
			qe_summary_num(c4, sizeof(c4), l, QE_KLD_P99, 5), qe_summary_pct(c5, sizeof(c5), l, QE_KLD_SAME_TOP),
			qe_summary_pct(c6, sizeof(c6), l, QE_KLD_DP_RMS));
	}
	cJSON_ArrayForEach(l, cJSON_GetObjectItemCaseSensitive(t, "levels"))
		if (qe_json_str(l, QE_KLD_ESTIMATE, NULL))
			fprintf(out, "%s: kld is a %s\n", l->string, qe_json_str(l, QE_KLD_ESTIMATE, ""));
}

const struct qe_view qe_view_kld = {
	.title = "KL divergence",
	.metrics = kld_metrics,
	.lower_bound = kld_lower_bound,
	.amount = kld_amount,
	.notes = kld_notes,
	.verdict = kld_verdict,
	.section = kld_section,
	.series = kld_series,
	.comparable = kld_comparable,
	.trend = kld_trend,
	.summary = kld_summary,
};
