/* qeval — items-<task>.csv: every per-item record of every level, one row
 * per record (on request: `qeval report --items`).
 *
 * Columns: level, then the union of the records' keys in first-seen order.
 * Numbers as written (shortest round-trip form), arrays of numbers joined by
 * ';' (the choice log-likelihoods "ll"), other arrays and objects as JSON,
 * null as an empty cell. Records are read from
 * RUN/levels/<NN>-<level>/records-<task>.jsonl (docs/results-schema.md).
 */
#include "reports/report_impl.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "harness/base/json.h"
#include "reports/results.h"

/* The folder of level number idx (0-based) named name under run_dir/levels:
 * "<NN>-<name>" with NN = idx, or any "<digits>-<name>". 0 when found. */
static int level_dir(const char *run_dir, int idx, const char *name, char *out, size_t cap)
{
	char base[4096], want_num[16], safe[256];
	struct dirent *e;
	DIR *dir;
	int found = 0;

	qe_path_join(base, sizeof(base), run_dir, "levels");
	dir = opendir(base);
	if (!dir)
		return -1;
	snprintf(want_num, sizeof(want_num), "%02d-", idx);
	qe_file_safe(safe, sizeof(safe), name);
	while (!found && (e = readdir(dir))) {
		const char *dash = strchr(e->d_name, '-');
		size_t digits = strspn(e->d_name, "0123456789");
		if (!dash || digits == 0 || e->d_name + digits != dash)
			continue;
		if (!strcmp(dash + 1, name) || !strcmp(dash + 1, safe)) {
			snprintf(out, cap, "%s/%s", base, e->d_name);
			found = 1;
		}
	}
	if (!found) {
		rewinddir(dir);
		while (!found && (e = readdir(dir)))
			if (!strncmp(e->d_name, want_num, strlen(want_num))) {
				snprintf(out, cap, "%s/%s", base, e->d_name);
				found = 1;
			}
	}
	closedir(dir);
	return found ? 0 : -1;
}

static void cell(struct qe_text *o, const cJSON *v)
{
	char num[32];

	if (!v || cJSON_IsNull(v))
		return;
	if (cJSON_IsString(v)) {
		qe_text_csv(o, v->valuestring);
	} else if (cJSON_IsNumber(v)) {
		qe_text_put(o, qe_fmt_num(num, v->valuedouble));
	} else if (cJSON_IsBool(v)) {
		qe_text_put(o, cJSON_IsTrue(v) ? "true" : "false");
	} else {
		const cJSON *it;
		int all_num = cJSON_IsArray(v), first = 1;
		cJSON_ArrayForEach(it, v)
			all_num &= cJSON_IsNumber(it);
		if (all_num) {
			cJSON_ArrayForEach(it, v) {
				qe_text_put(o, first ? "" : ";");
				qe_text_put(o, qe_fmt_num(num, it->valuedouble));
				first = 0;
			}
		} else {
			char *s = cJSON_PrintUnformatted(v);
			qe_text_csv(o, s ? s : "");
			free(s);
		}
	}
}

static int items_write(const struct qe_report_ctx *ctx, struct qe_err *err)
{
	const cJSON *levels = cJSON_GetObjectItemCaseSensitive(ctx->res, "levels"), *task;
	int n_lv = cJSON_GetArraySize(levels), files = 0, rc = 0;

	cJSON_ArrayForEach(task, cJSON_GetObjectItemCaseSensitive(ctx->res, "tasks")) {
		cJSON **recs = calloc((size_t)(n_lv ? n_lv : 1), sizeof(*recs));
		const char **keys = NULL;
		size_t n_keys = 0, cap_keys = 0, total = 0;
		struct qe_text out = { 0 };
		char dir[4096], path[4096], fname[300], safe[256];
		int i;

		if (!recs)
			return qe_fail(err, QE_ENOMEM, "out of memory");
		qe_file_safe(safe, sizeof(safe), task->string);
		snprintf(fname, sizeof(fname), "records-%s.jsonl", task->string);
		for (i = 0; i < n_lv && !rc; i++) {
			const char *name = qe_json_str(cJSON_GetArrayItem(levels, i), "name", NULL);
			const cJSON *r;
			if (!name || level_dir(ctx->run_dir, i, name, dir, sizeof(dir)))
				continue;
			qe_path_join(path, sizeof(path), dir, fname);
			rc = qe_json_lines_load(path, "id", &recs[i], err);
			cJSON_ArrayForEach(r, recs[i]) {
				const cJSON *f;
				total++;
				cJSON_ArrayForEach(f, r) {
					size_t k;
					for (k = 0; k < n_keys && strcmp(keys[k], f->string); k++)
						;
					if (k < n_keys)
						continue;
					if (n_keys == cap_keys) {
						const char **nk = realloc(keys, (cap_keys ? cap_keys * 2 : 16) * sizeof(*nk));
						if (!nk) {
							rc = qe_fail(err, QE_ENOMEM, "out of memory");
							break;
						}
						keys = nk;
						cap_keys = cap_keys ? cap_keys * 2 : 16;
					}
					keys[n_keys++] = f->string;
				}
			}
		}
		if (!rc && total) {
			qe_text_put(&out, "level");
			for (size_t k = 0; k < n_keys; k++) {
				qe_text_putc(&out, ',');
				qe_text_csv(&out, keys[k]);
			}
			qe_text_putc(&out, '\n');
			for (i = 0; i < n_lv; i++) {
				const cJSON *r;
				cJSON_ArrayForEach(r, recs[i]) {
					qe_text_csv(&out, qe_json_str(cJSON_GetArrayItem(levels, i), "name", NULL));
					for (size_t k = 0; k < n_keys; k++) {
						qe_text_putc(&out, ',');
						cell(&out, cJSON_GetObjectItemCaseSensitive(r, keys[k]));
					}
					qe_text_putc(&out, '\n');
				}
			}
			snprintf(fname, sizeof(fname), "items-%s.csv", safe);
			rc = qe_text_save(&out, qe_path_join(path, sizeof(path), ctx->out_dir, fname), err);
			files++;
		}
		qe_text_release(&out);
		free(keys);
		for (i = 0; i < n_lv; i++)
			cJSON_Delete(recs[i]);
		free(recs);
		if (rc)
			return rc;
	}
	if (!files)
		return qe_fail(err, QE_ENOENT, "'%s' has no per-item records (levels/*/records-*.jsonl)", ctx->run_dir);
	return 0;
}

const struct qe_report_writer qe_writer_items = {
	.name = "items",
	.flag = QE_REPORT_ITEMS,
	.file = NULL,
	.write = items_write,
};
