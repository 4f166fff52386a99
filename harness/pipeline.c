/* qeval — the pipeline: a checked plan run into its directory, then the
 * summary on stdout, the release gates and the reports. Every command that
 * runs levels (run, bench, demo) builds a plan and calls this. */
#include "harness/pipeline.h"
#include "harness/plan.h"
#include "harness/run.h"
#include "reports/gate.h"
#include "reports/report.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- the summary table on stdout ------------------------------------------- */

static const char *fmt_pct(char *b, size_t cap, const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	if (!cJSON_IsNumber(v))
		return "-";
	snprintf(b, cap, "%.2f", 100.0 * v->valuedouble);
	return b;
}

/* o[k] with `digits` decimals, "-" when it is null or absent (the reference's drift) */
static const char *fmt_num(char *b, size_t cap, const cJSON *o, const char *k, int digits)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	if (!cJSON_IsNumber(v))
		return "-";
	snprintf(b, cap, "%.*f", digits, v->valuedouble);
	return b;
}

static void print_summary(const char *dir)
{
	char path[4200], b1[32], b2[32], b3[32], b4[32];
	cJSON *res;
	const cJSON *tasks, *t, *l;

	snprintf(path, sizeof(path), "%s/results.json", dir);
	if (qe_json_read_file(path, &res, NULL) != 0)
		return;
	printf("\nqeval results: %s%s\n", dir,
	       qe_json_bool(cJSON_GetObjectItemCaseSensitive(res, "run"), "partial", 0) ? " (PARTIAL: --limit was used)" : "");
	printf("%-10s %-7s %8s %9s %11s\n", "level", "status", "MiB", "bits/w", "size ratio");
	cJSON_ArrayForEach(l, cJSON_GetObjectItemCaseSensitive(res, "levels")) {
		printf("%-10s %-7s %8.2f %9.3f %10.2fx", qe_json_str(l, "name", "?"), qe_json_str(l, "status", "?"),
		       qe_json_num(l, "file_bytes", 0) / 1048576.0, qe_json_num(l, "bpw", 0), qe_json_num(l, "size_ratio", NAN));
		if (qe_json_str(l, "error", NULL))
			printf("  %s", qe_json_str(l, "error", ""));
		if (qe_json_str(l, "same_types_as", NULL))
			printf("  same tensor types as %s (llama.cpp's fallback for rows that do not fit the blocks)",
			       qe_json_str(l, "same_types_as", ""));
		printf("\n");
	}
	tasks = cJSON_GetObjectItemCaseSensitive(res, "tasks");
	cJSON_ArrayForEach(t, tasks) {
		const char *kind = qe_json_str(t, "task", "");
		printf("\n%s (%s, %.0f items)\n", t->string, kind, qe_json_num(t, "n_items", 0));
		if (!strcmp(kind, "mmlu") || !strcmp(kind, "ceval")) {
			printf("%-10s %7s %16s %8s %9s %6s %6s %8s %8s %9s\n", "level", "acc%", "delta pts (95% CI)",
			       "McNemar", "same-ans", "lost", "won", "KL", "top-chg", "tok/s");
			cJSON_ArrayForEach(l, cJSON_GetObjectItemCaseSensitive(t, "levels")) {
				const cJSON *v = cJSON_GetObjectItemCaseSensitive(l, "vs_ref");
				const cJSON *th = cJSON_GetObjectItemCaseSensitive(l, "throughput");
				char ci[64] = "(reference)";
				if (cJSON_IsObject(v) && !cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(v, "delta_acc"))) {
					snprintf(ci, sizeof(ci), "-");
				} else if (cJSON_IsObject(v)) {
					const cJSON *c = cJSON_GetObjectItemCaseSensitive(v, "delta_ci95");
					snprintf(ci, sizeof(ci), "%+.2f (%+.2f,%+.2f)", 100 * qe_json_num(v, "delta_acc", NAN),
						 100 * (cJSON_GetArrayItem(c, 0) ? cJSON_GetArrayItem(c, 0)->valuedouble : NAN),
						 100 * (cJSON_GetArrayItem(c, 1) ? cJSON_GetArrayItem(c, 1)->valuedouble : NAN));
				}
				printf("%-10s %7s %16s", l->string, fmt_pct(b1, sizeof(b1), l, "acc"), ci);
				if (cJSON_IsObject(v)) {
					char p[32] = "-";
					if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(v, "mcnemar_p")))
						snprintf(p, sizeof(p), "%.3g", qe_json_num(v, "mcnemar_p", NAN));
					printf(" %8s %9s %6.0f %6.0f %8s %8s", p, fmt_pct(b2, sizeof(b2), v, "same_answer_rate"),
					       qe_json_num(v, "ref_right_level_wrong", 0), qe_json_num(v, "ref_wrong_level_right", 0),
					       fmt_num(b4, sizeof(b4), v, "kl_mean", 4), fmt_pct(b3, sizeof(b3), v, "top_changed_rate"));
				} else {
					printf(" %8s %9s %6s %6s %8s %8s", "", "", "", "", "", "");
				}
				printf(" %9.0f\n", qe_json_num(th, "prompt_tokens_per_s", NAN));
			}
			cJSON_ArrayForEach(l, cJSON_GetObjectItemCaseSensitive(t, "levels"))
				if (qe_json_num(l, "n_failed", 0) > 0)
					printf("%s: %.0f of %.0f items failed (their reasons: levels/*-%s/records-%s.jsonl)\n",
					       l->string, qe_json_num(l, "n_failed", 0), qe_json_num(l, "n", 0), l->string, t->string);
		} else if (!strcmp(kind, "pairs")) {
			printf("%-10s %9s %9s %9s %9s %9s %9s\n", "level", "cos mean", "cos p1", "spearman", "recall@5",
			       "ndcg@5", "top5 ovl");
			cJSON_ArrayForEach(l, cJSON_GetObjectItemCaseSensitive(t, "levels")) {
				const cJSON *d = cJSON_GetObjectItemCaseSensitive(l, "drift");
				const cJSON *r = cJSON_GetObjectItemCaseSensitive(l, "retrieval");
				char c1[32], c2[32], c3[32], c4[32], c5[32];
				printf("%-10s %9s %9s %9s %9s %9s %9s\n", l->string, fmt_num(c1, sizeof(c1), d, "cos_mean", 5),
				       fmt_num(c2, sizeof(c2), d, "cos_p1", 5),
				       fmt_num(c3, sizeof(c3), cJSON_GetObjectItemCaseSensitive(l, "sts"), "spearman", 4),
				       fmt_pct(b4, sizeof(b4), r, "recall@5"), fmt_num(c4, sizeof(c4), r, "ndcg@5", 4),
				       fmt_num(c5, sizeof(c5), cJSON_GetObjectItemCaseSensitive(l, "topk_overlap"), "@5", 4));
			}
		} else if (!strcmp(kind, "speed")) {
			cJSON_ArrayForEach(l, cJSON_GetObjectItemCaseSensitive(t, "levels")) {
				const cJSON *x;
				printf("%-10s", l->string);
				cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(l, "tests"))
					if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(x, "tps_mean")))
						printf("  %s %.1f±%.1f t/s", qe_json_str(x, "name", "?"), qe_json_num(x, "tps_mean", NAN),
						       qe_json_num(x, "tps_sd", NAN));
				printf("\n");
			}
		}
	}
	cJSON_Delete(res);
}

/* ---- the pipeline --------------------------------------------------------- */

int qe_pipeline(const struct qe_plan *plan, const struct qe_pipeline_opts *o, struct qe_err *err)
{
	const char *who = o->who ? o->who : "run";
	const char *out = plan->out;
	struct qe_run_status st;
	int rc, code;

	rc = qe_run(plan, o->resume, &st, err);
	if (rc) {
		fprintf(stderr, "qeval %s: %s\n", who, err->msg);
		return qe_exit_code(rc);
	}
	if (o->summary)
		print_summary(out);
	code = st.n_levels_failed ? QE_EXIT_RUNTIME : QE_EXIT_OK;
	if (o->gate) {
		char junit[4300];
		int n_failed = 0;
		snprintf(junit, sizeof(junit), "%s/junit.xml", out);
		if (qe_gate_check(out, o->gate, junit, &n_failed, err) != 0) {
			fprintf(stderr, "qeval %s: %s\n", who, err->msg);
			if (code == 0)
				code = qe_exit_code(err->code);
		} else if (n_failed > 0) {
			printf("\ngates: %d rule check(s) failed (%s/gate.json, %s)\n", n_failed, out, junit);
			code = QE_EXIT_CHECK;
		} else {
			printf("\ngates: all passed\n");
		}
	}
	{
		struct qe_report_stats rs;
		struct qe_report_opts ro = qe_report_default_opts();
		memset(&rs, 0, sizeof(rs));
		ro.stats = &rs;
		if (qe_report_write_all(out, &ro, err) != 0) {
			fprintf(stderr, "qeval %s: reports: %s\n", who, err->msg);
		} else {
			printf("\nreports: %s/report.md, %s/report.html, %s/summary.csv\n", out, out, out);
			if (rs.charts_missing)
				printf("(gnuplot could not be run: report.html has no charts)\n");
		}
	}
	return code;
}
