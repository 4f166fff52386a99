/* qeval — summary.csv: one row per level x task x metric.
 *
 * Columns: task,task_type,level,reference,status,metric,value
 *   metric  a metric path (docs/reports.md), the same name `qeval gate` takes;
 *           rows with an empty task are facts of the level ("level.bpw").
 *   value   the number exactly as results.json holds it (shortest round-trip
 *           form); empty for null. The derived metrics that apply to the
 *           task (its view's `derived`: flip_rate, pct_of_ref) follow its
 *           own rows.
 * Every numeric leaf of a per-level block is a row, except the raw samples
 * (names ending in "_samples"). Elements of an array of named objects (the
 * speed tests) are named by their "name": tests.pp512.tps_mean.
 */
#include "reports/report_impl.h"

#include <string.h>

#include "reports/results.h"
#include "reports/view.h"

static const char header[] = "task,task_type,level,reference,status,metric,value\n";

struct row_ctx {
	struct qe_text *out;
	const char *task, *type, *level, *status;
	int is_ref;
};

static void row(const struct row_ctx *rc, const char *metric, const cJSON *v)
{
	char num[32];

	qe_text_csv(rc->out, rc->task);
	qe_text_putc(rc->out, ',');
	qe_text_csv(rc->out, rc->type);
	qe_text_putc(rc->out, ',');
	qe_text_csv(rc->out, rc->level);
	qe_text_printf(rc->out, ",%d,", rc->is_ref);
	qe_text_csv(rc->out, rc->status);
	qe_text_putc(rc->out, ',');
	qe_text_csv(rc->out, metric);
	qe_text_putc(rc->out, ',');
	if (cJSON_IsNumber(v))
		qe_text_put(rc->out, qe_fmt_num(num, v->valuedouble));
	qe_text_putc(rc->out, '\n');
}

static int ends_with(const char *s, const char *tail)
{
	size_t a = strlen(s), b = strlen(tail);
	return a >= b && !strcmp(s + a - b, tail);
}

/* Rows for every numeric or null leaf under node, named prefix + path. */
static void flatten(const struct row_ctx *rc, const cJSON *node, char *path, size_t len, size_t cap)
{
	const cJSON *it;
	size_t i = 0;

	if (cJSON_IsNumber(node) || cJSON_IsNull(node)) {
		row(rc, path, node);
		return;
	}
	if (cJSON_IsObject(node)) {
		cJSON_ArrayForEach(it, node) {
			int n;
			if (ends_with(it->string, "_samples"))
				continue;
			n = snprintf(path + len, cap - len, "%s%s", len ? "." : "", it->string);
			if (n > 0 && (size_t)n < cap - len)
				flatten(rc, it, path, len + (size_t)n, cap);
			path[len] = '\0';
		}
	} else if (cJSON_IsArray(node)) {
		cJSON_ArrayForEach(it, node) {
			const char *nm = qe_json_str(it, "name", NULL);
			int n = nm ? snprintf(path + len, cap - len, "%s%s", len ? "." : "", nm)
				   : snprintf(path + len, cap - len, "[%zu]", i);
			if (n > 0 && (size_t)n < cap - len)
				flatten(rc, it, path, len + (size_t)n, cap);
			path[len] = '\0';
			i++;
		}
	}
}

static int csv_write(const struct qe_report_ctx *ctx, struct qe_err *err)
{
	static const char *const facts[] = { "file_bytes", "tensor_bytes", "n_params", "bpw", "size_ratio",
					     "load_s", "wall_s", "peak_rss_bytes" };
	const cJSON *levels = cJSON_GetObjectItemCaseSensitive(ctx->res, "levels"), *lv, *task;
	const char *ref = qe_results_ref(ctx->res);
	struct qe_text out = { 0 };
	char path[4096], metric[512];
	int rc;

	qe_text_put(&out, header);
	cJSON_ArrayForEach(lv, levels) {
		struct row_ctx rcx = { &out, "", "", qe_json_str(lv, "name", NULL), qe_json_str(lv, "status", NULL), 0 };
		if (!rcx.level)
			continue;
		rcx.is_ref = ref && !strcmp(ref, rcx.level);
		for (size_t k = 0; k < sizeof(facts) / sizeof(facts[0]); k++) {
			const cJSON *v = cJSON_GetObjectItemCaseSensitive(lv, facts[k]);
			if (!v)
				continue;
			snprintf(metric, sizeof(metric), "level.%s", facts[k]);
			row(&rcx, metric, v);
		}
	}
	cJSON_ArrayForEach(task, cJSON_GetObjectItemCaseSensitive(ctx->res, "tasks")) {
		const char *type = qe_results_task_type(task);
		const struct qe_view *v = qe_view_find(type);
		cJSON_ArrayForEach(lv, levels) {
			struct row_ctx rcx = { &out, task->string, type, qe_json_str(lv, "name", NULL), qe_json_str(lv, "status", NULL), 0 };
			const cJSON *blk = rcx.level ? qe_results_block(ctx->res, task->string, rcx.level) : NULL;
			double x;
			if (!blk)
				continue;
			rcx.is_ref = ref && !strcmp(ref, rcx.level);
			metric[0] = '\0';
			flatten(&rcx, blk, metric, 0, sizeof(metric));
			for (const char *const *dm = v ? v->derived : NULL; dm && *dm; dm++) {
				cJSON *num = NULL;
				if (qe_metric_get(ctx->res, task->string, rcx.level, *dm, &x) == QE_METRIC_OK)
					num = cJSON_CreateNumber(x);
				row(&rcx, *dm, num);
				cJSON_Delete(num);
			}
		}
	}
	rc = qe_text_save(&out, qe_path_join(path, sizeof(path), ctx->out_dir, "summary.csv"), err);
	qe_text_release(&out);
	return rc;
}

const struct qe_report_writer qe_writer_csv = {
	.name = "csv",
	.flag = QE_REPORT_CSV,
	.file = "summary.csv",
	.write = csv_write,
};
