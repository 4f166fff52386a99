/* qeval — the task registry. Adding a task: its own files (the task, its
 * results-block keys, its view: docs/extending.md) and one line here. */
#include "harness/tasks/task.h"
#include "harness/base/json.h"
#include "reports/view.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const struct qe_task qe_task_mmlu;
extern const struct qe_task qe_task_ceval;
extern const struct qe_task qe_task_speed;
extern const struct qe_task qe_task_pairs;
extern const struct qe_task qe_task_serve;
extern const struct qe_task qe_task_kld;

const struct qe_task *const qe_task_registry[] = {
	&qe_task_mmlu,
	&qe_task_ceval,
	&qe_task_speed,
	&qe_task_pairs,
	&qe_task_serve,
	&qe_task_kld,
	NULL,
};

const struct qe_task *qe_task_find(const char *name)
{
	for (const struct qe_task *const *t = qe_task_registry; *t; t++)
		if (!strcmp((*t)->name, name))
			return *t;
	return NULL;
}

/* The views are reached through their tasks: a type's view is its task's. */
const struct qe_view *qe_view_find(const char *type)
{
	const struct qe_task *t = type ? qe_task_find(type) : NULL;

	return t ? t->view : NULL;
}

double qe_task_level_wall(const struct qe_task_levels *lv, size_t i, const char *task)
{
	const cJSON *tw, *me;

	if (!lv->info || i >= lv->n || !lv->info[i])
		return NAN;
	tw = cJSON_GetObjectItemCaseSensitive(lv->info[i], "task_wall_s");
	me = cJSON_GetObjectItemCaseSensitive(tw, task);
	return cJSON_IsNumber(me) ? me->valuedouble : NAN;
}

const char *const qe_task_common_keys[] = { "task", "name", "limit", "seed", NULL };

/* 1 when name is safe as part of a file name */
static int name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > 48 || name[0] == '.')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && !strchr("_-.", name[i]))
			return 0;
	return 1;
}

int qe_task_spec_read(cJSON *obj, const char *path, struct qe_task_spec *out, struct qe_err *err)
{
	const cJSON *v;
	const char *tn = qe_json_str(obj, "task", NULL);
	int rc;

	memset(out, 0, sizeof(*out));
	if (!cJSON_IsObject(obj))
		return qe_fail(err, QE_EINVAL, "%s: expected an object {\"task\": NAME, ...}", path);
	if (!tn)
		return qe_fail(err, QE_EINVAL, "%s: needs a \"task\" name", path);
	if (!(out->task = qe_task_find(tn))) {
		const char *names[32];
		size_t n = 0;
		const char *near;
		for (const struct qe_task *const *t = qe_task_registry; *t && n < 32; t++)
			names[n++] = (*t)->name;
		near = qe_closest_word(tn, names, n);
		return qe_fail(err, QE_EINVAL, "%s: unknown task '%s'%s%s%s", path, tn, near ? " (did you mean '" : " (see 'qeval list tasks')",
			       near ? near : "", near ? "'?)" : "");
	}
	out->json = obj;
	out->name = qe_json_str(obj, "name", tn);
	if ((v = cJSON_GetObjectItemCaseSensitive(obj, "name")) && (!cJSON_IsString(v) || !*v->valuestring))
		return qe_fail(err, QE_EINVAL, "%s.name: expected a non-empty string", path);
	if (!name_ok(out->name)) /* it names files: records-NAME.jsonl */
		return qe_fail(err, QE_EINVAL, "%s.name: '%s' is not a task name (1-48 letters, digits, '_', '-', '.'; "
			       "not starting with '.')", path, out->name);
	if ((v = cJSON_GetObjectItemCaseSensitive(obj, "limit")) &&
	    (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble != floor(v->valuedouble) || v->valuedouble > 1e15))
		return qe_fail(err, QE_EINVAL, "%s.limit: expected a whole number >= 0", path);
	out->limit = (long)qe_json_num(obj, "limit", 0);
	if ((v = cJSON_GetObjectItemCaseSensitive(obj, "seed")) &&
	    (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble != floor(v->valuedouble) || v->valuedouble > 4503599627370496.0))
		return qe_fail(err, QE_EINVAL, "%s.seed: expected a whole number >= 0", path);
	out->seed = (long)qe_json_num(obj, "seed", 1234);
	if (!(out->opts = calloc(1, out->task->options_size ? out->task->options_size : 1)))
		return qe_fail(err, QE_ENOMEM, "out of memory");
	rc = qe_optab_read(out->task->options, obj, qe_task_common_keys, out->opts, path, err);
	if (rc) {
		qe_task_spec_release(out);
		return rc;
	}
	return 0;
}

void qe_task_spec_release(struct qe_task_spec *ts)
{
	free(ts->opts);
	memset(ts, 0, sizeof(*ts));
}
