/* qeval — lm-evaluation-harness's results layout, one file per level:
 * lm_eval/<level>.json holds what lm-eval's own results_*.json holds —
 * results, groups, group_subtasks, versions, n-shot, higher_is_better,
 * n-samples, config — filled from results.json's lm_eval block (the tasks'
 * views put their part there, reports/view.h `lm_eval`), so lm-eval's readers
 * (its make_table, a results viewer) take it as a run of theirs. */
#include "reports/report_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/base/sys.h"
#include "reports/results.h"

/* lm-eval's readers index versions and n-shot by every key of results and
 * groups (make_table: result_dict["n-shot"][k]): a block from an older qeval
 * lacks them, so each missing one is null ("not known"), never a guess */
static void complete(cJSON *out)
{
	static const char *const sections[] = { "results", "groups", "group_subtasks", "versions", "n-shot",
						"higher_is_better", "n-samples" };
	static const char *const keyed[] = { "versions", "n-shot" };
	const cJSON *k;

	for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++)
		if (!cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(out, sections[i])))
			cJSON_AddObjectToObject(out, sections[i]);
	for (int s = 0; s < 2; s++)
		cJSON_ArrayForEach(k, cJSON_GetObjectItemCaseSensitive(out, s ? "groups" : "results"))
			for (size_t i = 0; i < sizeof(keyed) / sizeof(keyed[0]); i++) {
				cJSON *sec = cJSON_GetObjectItemCaseSensitive(out, keyed[i]);
				if (!cJSON_GetObjectItemCaseSensitive(sec, k->string))
					cJSON_AddNullToObject(sec, k->string);
			}
}

/* lm-eval's "config": what ran, in its keys; the level's file as the model */
static void add_config(const cJSON *res, const char *level, cJSON *out)
{
	const cJSON *lv = qe_results_level(res, level), *run = cJSON_GetObjectItemCaseSensitive(res, "run");
	const cJSON *eng = cJSON_GetObjectItemCaseSensitive(res, "engine");
	cJSON *cfg = cJSON_AddObjectToObject(out, "config");
	char args[1200];

	snprintf(args, sizeof(args), "level=%s,path=%s", level, qe_json_str(lv, "path", ""));
	cJSON_AddStringToObject(cfg, "model", qe_json_str(eng, "runtime", "qeval"));
	cJSON_AddStringToObject(cfg, "model_args", args);
	cJSON_AddNullToObject(cfg, "batch_size");
	if (qe_json_bool(run, "partial", 0))
		cJSON_AddNumberToObject(cfg, "limit", qe_json_num(run, "limit", 0));
	else
		cJSON_AddNullToObject(cfg, "limit");
	cJSON_AddNumberToObject(cfg, "bootstrap_iters", 0);
	cJSON_AddStringToObject(out, "model_name", qe_json_str(lv, "path", level));
	cJSON_AddStringToObject(out, "qeval_created", qe_json_str(res, "created", ""));
	cJSON_AddStringToObject(out, "qeval_reference", qe_json_str(res, "reference", ""));
}

static int lmeval_write(const struct qe_report_ctx *ctx, struct qe_err *err)
{
	const cJSON *lm = cJSON_GetObjectItemCaseSensitive(ctx->res, "lm_eval"), *lvl;
	char dir[4096], name[600], path[4800];
	int rc = 0;

	qe_path_join(dir, sizeof(dir), ctx->out_dir, "lm_eval");
	cJSON_ArrayForEach(lvl, lm) {
		cJSON *out = cJSON_Duplicate(lvl, 1);
		struct qe_text t = { 0 };
		char *json;

		if (!out)
			return qe_fail(err, QE_ENOMEM, "out of memory");
		complete(out);
		add_config(ctx->res, lvl->string, out);
		json = cJSON_Print(out);
		cJSON_Delete(out);
		if (!json)
			return qe_fail(err, QE_ENOMEM, "out of memory");
		if (qe_mkdirs(dir, 0755) != 0) {
			free(json);
			return qe_fail(err, QE_EIO, "cannot make '%s'", dir);
		}
		qe_file_safe(name, sizeof(name), lvl->string);
		snprintf(path, sizeof(path), "%s/%s.json", dir, name);
		qe_text_put(&t, json);
		qe_text_putc(&t, '\n');
		free(json);
		rc = qe_text_save(&t, path, err);
		qe_text_release(&t);
		if (rc)
			break;
	}
	return rc;
}

const struct qe_report_writer qe_writer_lmeval = {
	.name = "lmeval",
	.flag = QE_REPORT_LMEVAL,
	.file = NULL,
	.write = lmeval_write,
};
