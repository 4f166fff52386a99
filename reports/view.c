/* qeval — what the report code does with any task's view (reports/view.h). */
#include "reports/view.h"

#include <string.h>

#include "reports/results.h"

const char *qe_view_title(const char *name, const char *type)
{
	const struct qe_view *v = type ? qe_view_find(type) : NULL;

	if (name && type && v && v->title && !strcmp(name, type))
		return v->title;
	return name ? name : "";
}

void qe_view_ctx_init(struct qe_view_ctx *c, const cJSON *res, const cJSON *task)
{
	const char *type = qe_results_task_type(task);

	c->res = res;
	c->task = task;
	c->name = task && task->string ? task->string : "";
	c->title = qe_view_title(c->name, type);
	c->ref = qe_results_ref(res) ? qe_results_ref(res) : "the reference";
	c->view = qe_view_find(type);
}

struct qe_text *qe_verdict_part(struct qe_verdict *v)
{
	if (v->parts++)
		qe_text_put(v->out, ", ");
	return v->out;
}
