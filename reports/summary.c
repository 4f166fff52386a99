#include "reports/summary.h"

#include <math.h>

#include "harness/base/json.h"
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

void qe_summary_print(const char *run_dir, FILE *out)
{
	char path[4200];
	cJSON *res;
	const cJSON *t, *l;

	snprintf(path, sizeof(path), "%s/results.json", run_dir);
	if (qe_json_read_file(path, &res, NULL) != 0)
		return;
	fprintf(out, "\nqeval results: %s%s\n", run_dir,
		qe_json_bool(cJSON_GetObjectItemCaseSensitive(res, "run"), "partial", 0) ? " (PARTIAL: --limit was used)" : "");
	fprintf(out, "%-10s %-7s %8s %9s %11s\n", "level", "status", "MiB", "bits/w", "size ratio");
	cJSON_ArrayForEach(l, qe_results_levels(res)) {
		fprintf(out, "%-10s %-7s %8.2f %9.3f %10.2fx", qe_json_str(l, "name", "?"), qe_json_str(l, "status", "?"),
			qe_json_num(l, "file_bytes", 0) / 1048576.0, qe_json_num(l, "bpw", 0), qe_json_num(l, "size_ratio", NAN));
		if (qe_json_str(l, "error", NULL))
			fprintf(out, "  %s", qe_json_str(l, "error", ""));
		if (qe_json_str(l, "same_types_as", NULL))
			fprintf(out, "  same tensor types as %s (llama.cpp's fallback for rows that do not fit the blocks)",
				qe_json_str(l, "same_types_as", ""));
		fprintf(out, "\n");
	}
	cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(res, "tasks")) {
		const char *type = qe_results_task_type(t);
		const struct qe_view *v = qe_view_find(type);
		fprintf(out, "\n%s (%s, %.0f items)\n", t->string, type, qe_json_num(t, "n_items", 0));
		if (v && v->summary)
			v->summary(t, out);
	}
	cJSON_Delete(res);
}
