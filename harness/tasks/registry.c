/* qeval — the task registry. Adding a task: its file, its view's file and one
 * line here. */
#include "harness/tasks/task.h"
#include "reports/view.h"

#include <math.h>
#include <string.h>

extern const struct qe_task qe_task_mmlu;
extern const struct qe_task qe_task_ceval;
extern const struct qe_task qe_task_speed;
extern const struct qe_task qe_task_pairs;

const struct qe_task *const qe_task_registry[] = {
	&qe_task_mmlu,
	&qe_task_ceval,
	&qe_task_speed,
	&qe_task_pairs,
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
