#include "reports/summary.h"

#include <math.h>

#include "harness/base/json.h"
#include "reports/decision.h"
#include "reports/fallback.h"
#include "reports/gate.h"
#include "reports/results.h"
#include "reports/view.h"

const char *qe_summary_pct(char *b, size_t cap, const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	if (!cJSON_IsNumber(v))
		return "-";
	snprintf(b, cap, "%.2f", 100.0 * v->valuedouble);
	return b;
}

const char *qe_summary_num(char *b, size_t cap, const cJSON *o, const char *k, int digits)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	if (!cJSON_IsNumber(v))
		return "-";
	snprintf(b, cap, "%.*f", digits, v->valuedouble);
	return b;
}

/* The decision first: one line per level (reports/decision.h), from
 * run_dir/gate.json when there is one. */
static void decisions(const cJSON *res, const char *run_dir, FILE *out)
{
	cJSON *gate = NULL;
	const cJSON *l;
	struct qe_text t = { 0 };
	struct qe_err err = { 0 };

	if (qe_gate_outcome_load(run_dir, &gate, &err) != 0) { /* damaged: say so, never "not gated" */
		fprintf(out, "decision: unknown: %s\n\n", err.msg);
		return;
	}
	if (!gate) {
		fprintf(out, "decision: not gated (no release rules checked: qeval gate %s --rules RULES.json)\n\n",
			run_dir);
		return;
	}
	if (qe_json_bool(gate, "partial", 0))
		fprintf(out, "decision on a subset (partial run, --limit %.0f):\n", qe_json_num(gate, "limit", 0));
	cJSON_ArrayForEach(l, qe_results_levels(res)) {
		const char *name = qe_json_str(l, "name", "?");
		int d;
		t.len = 0;
		d = qe_decision_level(res, gate, name, &t);
		fprintf(out, "%-10s %-9s %s\n", name, qe_decision_name(d), qe_text_str(&t));
	}
	fputc('\n', out);
	qe_text_release(&t);
	cJSON_Delete(gate);
}

void qe_summary_print(const char *run_dir, FILE *out)
{
	char path[4200];
	cJSON *res;
	const cJSON *t, *l;
	struct qe_text txt = { 0 };

	snprintf(path, sizeof(path), "%s/results.json", run_dir);
	if (qe_json_read_file(path, &res, NULL) != 0)
		return;
	fprintf(out, "\nqeval results: %s%s\n", run_dir,
		qe_json_bool(cJSON_GetObjectItemCaseSensitive(res, "run"), "partial", 0) ? " (PARTIAL: --limit was used)" : "");
	decisions(res, run_dir, out);
	fprintf(out, "%-10s %-7s %8s %9s %11s\n", "level", "status", "MiB", "bits/w", "size ratio");
	cJSON_ArrayForEach(l, qe_results_levels(res)) {
		double sr = qe_json_num(l, "size_ratio", NAN);
		char srb[32] = "-";
		if (!isnan(sr))
			snprintf(srb, sizeof(srb), "%.2fx", sr);
		fprintf(out, "%-10s %-7s %8.2f %9.3f %11s", qe_json_str(l, "name", "?"), qe_json_str(l, "status", "?"),
			qe_json_num(l, "file_bytes", 0) / 1048576.0, qe_json_num(l, "bpw", 0), srb);
		if (qe_json_str(l, "error", NULL))
			fprintf(out, "  %s", qe_json_str(l, "error", ""));
		if (qe_json_str(l, "same_types_as", NULL))
			fprintf(out, "  same tensor types as %s (llama.cpp's fallback for rows that do not fit the blocks)",
				qe_json_str(l, "same_types_as", ""));
		fprintf(out, "\n");
		txt.len = 0;
		if (qe_fallback_text(l, &txt))
			fprintf(out, "%-10s not mostly its type: %s\n", "", qe_text_str(&txt));
	}
	qe_text_release(&txt);
	cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(res, "tasks")) {
		const char *type = qe_results_task_type(t);
		const struct qe_view *v = qe_view_find(type);
		fprintf(out, "\n%s (%s, %.0f items)\n", t->string, type, qe_json_num(t, "n_items", 0));
		if (v && v->summary)
			v->summary(t, out);
	}
	cJSON_Delete(res);
}
