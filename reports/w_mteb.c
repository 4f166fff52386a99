/* qeval — MTEB's result layout for the tasks whose view has an MTEB score
 * dict (reports/view.h `mteb`: the sentence-pair tasks):
 * mteb/<level>/no_revision_available/<task>.json, as MTEB writes
 * results/<model>/<revision>/<TaskName>.json: task_name, mteb_version,
 * dataset_revision, evaluation_time, kg_co2_emissions and scores.test[0]
 * with main_score, hf_subset and languages; and model_meta.json beside it. */
#include "reports/report_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/base/sys.h"
#include "reports/results.h"
#include "reports/view.h"

#define REVISION "no_revision_available"

static int save_json(cJSON *o, const char *path, struct qe_err *err)
{
	char *json = cJSON_Print(o);
	struct qe_text t = { 0 };
	int rc;

	if (!json)
		return qe_fail(err, QE_ENOMEM, "out of memory");
	qe_text_put(&t, json);
	qe_text_putc(&t, '\n');
	free(json);
	rc = qe_text_save(&t, path, err);
	qe_text_release(&t);
	return rc;
}

/* task `task` at level `level`: its result file, and the level's model_meta.json */
static int write_one(const struct qe_report_ctx *ctx, const cJSON *task, const char *level, cJSON *scores,
		     struct qe_err *err)
{
	const cJSON *blk = qe_results_block(ctx->res, task->string, level);
	const cJSON *tp = cJSON_GetObjectItemCaseSensitive(blk, "throughput");
	char dir[4096], sl[600], st[600], path[6000];
	cJSON *o = cJSON_CreateObject(), *test, *meta;
	int rc;

	qe_file_safe(sl, sizeof(sl), level);
	qe_file_safe(st, sizeof(st), task->string);
	snprintf(dir, sizeof(dir), "%s/mteb/%s/" REVISION, ctx->out_dir, sl);
	if (qe_mkdirs(dir, 0755) != 0) {
		cJSON_Delete(o);
		cJSON_Delete(scores);
		return qe_fail(err, QE_EIO, "cannot make '%s'", dir);
	}
	cJSON_AddStringToObject(o, "dataset_revision", REVISION);
	cJSON_AddStringToObject(o, "task_name", task->string);
	cJSON_AddStringToObject(o, "mteb_version", "1.12.0");
	cJSON_AddStringToObject(scores, "hf_subset", "default");
	cJSON_AddItemToObject(scores, "languages", cJSON_CreateArray());
	test = cJSON_AddArrayToObject(cJSON_AddObjectToObject(o, "scores"), "test");
	cJSON_AddItemToArray(test, scores);
	if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(tp, "wall_s")))
		cJSON_AddNumberToObject(o, "evaluation_time", qe_json_num(tp, "wall_s", 0));
	else
		cJSON_AddNullToObject(o, "evaluation_time");
	cJSON_AddNullToObject(o, "kg_co2_emissions");
	snprintf(path, sizeof(path), "%s/%s.json", dir, st);
	rc = save_json(o, path, err);
	cJSON_Delete(o);
	if (rc)
		return rc;
	meta = cJSON_CreateObject();
	cJSON_AddStringToObject(meta, "name", level);
	cJSON_AddStringToObject(meta, "revision", REVISION);
	cJSON_AddStringToObject(meta, "framework", "qeval");
	snprintf(path, sizeof(path), "%s/model_meta.json", dir);
	rc = save_json(meta, path, err);
	cJSON_Delete(meta);
	return rc;
}

static int mteb_write(const struct qe_report_ctx *ctx, struct qe_err *err)
{
	const cJSON *task, *lv;
	int rc = 0;

	cJSON_ArrayForEach(task, cJSON_GetObjectItemCaseSensitive(ctx->res, "tasks")) {
		const struct qe_view *v = qe_view_find(qe_results_task_type(task));
		if (!v || !v->mteb)
			continue;
		cJSON_ArrayForEach(lv, qe_results_levels(ctx->res)) {
			const char *name = qe_results_level_name(lv);
			cJSON *scores = cJSON_CreateObject();
			if (!scores)
				return qe_fail(err, QE_ENOMEM, "out of memory");
			if (!v->mteb(qe_results_block(ctx->res, task->string, name), scores)) {
				cJSON_Delete(scores);
				continue;
			}
			if ((rc = write_one(ctx, task, name, scores, err)) != 0)
				return rc;
		}
	}
	return rc;
}

const struct qe_report_writer qe_writer_mteb = {
	.name = "mteb",
	.flag = QE_REPORT_MTEB,
	.file = NULL,
	.write = mteb_write,
};
