/* qeval — how the reports show the serve task (reports/view.h): a table of
 * each level's runs, one row per concurrency, with the latency percentiles;
 * headline metrics per concurrency for compare and history. */
#include "harness/tasks/serve_keys.h"
#include "reports/view.h"
#include "reports/results.h"
#include "reports/fmt.h"
#include "harness/base/json.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define B 64

/* a distribution's statistic: blk-element o, "ttft_ms", "p99" */
static double stat(const cJSON *o, const char *dist, const char *key)
{
	return qe_json_num(cJSON_GetObjectItemCaseSensitive(o, dist), key, NAN);
}

/* compare's columns and history's numbers: per concurrency, TTFT p50/p99,
 * TPOT p50/p99 and output tokens/s */
static size_t serve_block_metrics(const cJSON *blk, unsigned use, struct qe_view_metric *out, size_t cap)
{
	static const struct { const char *dist, *key, *label; } m[] = {
		{ QE_SERVE_TTFT, QE_SERVE_MEDIAN, "TTFT p50 ms" }, { QE_SERVE_TTFT, QE_SERVE_P99, "TTFT p99 ms" },
		{ QE_SERVE_TPOT, QE_SERVE_MEDIAN, "TPOT p50 ms" }, { QE_SERVE_TPOT, QE_SERVE_P99, "TPOT p99 ms" },
		{ NULL, QE_SERVE_OUT_TPS, "out tok/s" },
	};
	const cJSON *o;
	size_t n = 0;

	cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(blk, QE_SERVE_RUNS))
		for (size_t k = 0; k < sizeof(m) / sizeof(m[0]) && n < cap; k++, n++) {
			const char *nm = qe_json_str(o, QE_SERVE_NAME, "?");
			memset(&out[n], 0, sizeof(out[n]));
			if (m[k].dist)
				snprintf(out[n].path, sizeof(out[n].path), "%s.%s.%s.%s", QE_SERVE_RUNS, nm, m[k].dist, m[k].key);
			else
				snprintf(out[n].path, sizeof(out[n].path), "%s.%s.%s", QE_SERVE_RUNS, nm, m[k].key);
			snprintf(out[n].label, sizeof(out[n].label), "%s %s", nm, m[k].label);
			out[n].fmt = m[k].dist ? QE_VF_SIG3 : QE_VF_RATE;
			out[n].delta = QE_VD_RATIO;
			out[n].use = use;
		}
	return n;
}

static void serve_amount(const struct qe_view_ctx *c, struct qe_text *out)
{
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(c->task, "settings");

	qe_text_printf(out, "%.0f requests over concurrencies", qe_json_num(c->task, "n_items", 0));
	for (const cJSON *x = cJSON_GetObjectItemCaseSensitive(st, "concurrency") ? cJSON_GetObjectItemCaseSensitive(st, "concurrency")->child : NULL;
	     x; x = x->next)
		qe_text_printf(out, " %.0f", x->valuedouble);
	qe_text_printf(out, ", %.0f-token prompts, %.0f tokens out", qe_json_num(st, "prompt", NAN), qe_json_num(st, "gen", NAN));
}

static const char *const heads[] = { "Concurrency", "Requests ok", "TTFT mean", "TTFT p50", "TTFT p90", "TTFT p99",
				      "TPOT mean", "TPOT p50", "TPOT p90", "TPOT p99", "ITL p50", "ITL p99",
				      "E2E p50", "E2E p99", "Output tok/s" };
#define N_HEADS (sizeof(heads) / sizeof(heads[0]))

static void run_cells(const cJSON *o, struct qe_block *tb, size_t r)
{
	static const struct { const char *dist, *key; } cells[] = {
		{ QE_SERVE_TTFT, QE_SERVE_MEAN }, { QE_SERVE_TTFT, QE_SERVE_MEDIAN }, { QE_SERVE_TTFT, QE_SERVE_P90 },
		{ QE_SERVE_TTFT, QE_SERVE_P99 }, { QE_SERVE_TPOT, QE_SERVE_MEAN }, { QE_SERVE_TPOT, QE_SERVE_MEDIAN },
		{ QE_SERVE_TPOT, QE_SERVE_P90 }, { QE_SERVE_TPOT, QE_SERVE_P99 }, { QE_SERVE_ITL, QE_SERVE_MEDIAN },
		{ QE_SERVE_ITL, QE_SERVE_P99 }, { QE_SERVE_E2E, QE_SERVE_MEDIAN }, { QE_SERVE_E2E, QE_SERVE_P99 },
	};
	double n = qe_json_num(o, QE_SERVE_N, NAN), nf = qe_json_num(o, QE_SERVE_N_FAILED, 0);
	char a[B];

	qe_doc_td(tb, r, 3, 0, "%.0f", qe_json_num(o, QE_SERVE_C, NAN));
	qe_doc_td(tb, r, 4, nf > 0 ? QE_MARK_BAD : 0, "%.0f/%.0f", n - nf, n);
	for (size_t k = 0; k < sizeof(cells) / sizeof(cells[0]); k++)
		qe_doc_td(tb, r, 5 + k, 0, "%s", qe_fmt_sig(a, B, stat(o, cells[k].dist, cells[k].key), 3));
	qe_doc_td(tb, r, N_HEADS + 2, 0, "%s", qe_fmt_fixed(a, B, qe_json_num(o, QE_SERVE_OUT_TPS, NAN), 1, 0));
}

static void serve_section(const struct qe_view_ctx *c, struct qe_doc *d)
{
	const cJSON *lv, *o;
	struct qe_block *tb;

	qe_doc_heading(d, 1, c->title);
	qe_doc_para(d, "Streamed completions through each level's server, many in flight (vLLM's bench serve figures): "
		       "TTFT = time to the first token, TPOT = time per output token after the first, ITL = time between "
		       "token events, E2E = a request's whole time, all in ms over the requests of a run; output tok/s = "
		       "the run's output tokens over its duration. Levels that are not served have none.");
	tb = qe_doc_table(d, N_HEADS + 3, NULL);
	qe_doc_th(tb, 0, 0, "Level");
	qe_doc_th(tb, 1, 1, "Size");
	qe_doc_th(tb, 2, 1, "Bits/weight");
	for (size_t k = 0; k < N_HEADS; k++)
		qe_doc_th(tb, 3 + k, 1, heads[k]);
	cJSON_ArrayForEach(lv, qe_results_levels(c->res)) {
		const cJSON *blk = qe_results_block(c->res, c->name, qe_results_level_name(lv));
		size_t r = qe_doc_row(tb);
		int first = 1;
		if (!qe_run_row_start(c->res, lv, blk, tb, r))
			continue;
		cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(blk, QE_SERVE_RUNS)) {
			if (!first) {
				r = qe_doc_row(tb);
				qe_run_row_start(c->res, lv, blk, tb, r);
			}
			run_cells(o, tb, r);
			first = 0;
		}
	}
}

static void serve_summary(const cJSON *task, FILE *out)
{
	const cJSON *l, *o;

	cJSON_ArrayForEach(l, cJSON_GetObjectItemCaseSensitive(task, "levels"))
		cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(l, QE_SERVE_RUNS))
			fprintf(out, "%-10s c=%-3.0f TTFT p50 %.1f p99 %.1f ms  TPOT p50 %.2f p99 %.2f ms  %.1f out tok/s  %.0f failed\n",
				l->string, qe_json_num(o, QE_SERVE_C, NAN), stat(o, QE_SERVE_TTFT, QE_SERVE_MEDIAN),
				stat(o, QE_SERVE_TTFT, QE_SERVE_P99), stat(o, QE_SERVE_TPOT, QE_SERVE_MEDIAN),
				stat(o, QE_SERVE_TPOT, QE_SERVE_P99), qe_json_num(o, QE_SERVE_OUT_TPS, NAN),
				qe_json_num(o, QE_SERVE_N_FAILED, NAN));
}

const struct qe_view qe_view_serve = {
	.title = "Serving",
	.block_metrics = serve_block_metrics,
	.amount = serve_amount,
	.section = serve_section,
	.summary = serve_summary,
};
