/* qeval — the typed plan. See harness/plan.h. */
#include "harness/plan.h"
#include "harness/base/json.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PL(f) offsetof(struct qe_plan, f)
const struct qe_optab qe_plan_optab[] = {
	{ "model", QE_OT_STR, PL(model), NULL, 0, 0,
	  "the reference model (F16/BF16/F32 GGUF); levels are made from it", "FILE", 0, NULL, NULL },
	{ "levels", QE_OT_JSON, PL(levels), NULL, 0, 0,
	  "default F16,Q8_0,Q6_K,Q4_K_M,Q3_K_M,Q2_K; a type or NAME=FILE.gguf", "LIST", 0, NULL, NULL },
	{ "reference", QE_OT_STR, PL(reference), NULL, 0, 0,
	  "the level the others are compared with (default: the first)", "NAME", 0, NULL, NULL },
	{ "cache", QE_OT_STR, PL(cache), NULL, 0, 0,
	  "quantization cache (default $QEVAL_CACHE or ~/.cache/qeval)", "DIR", 0, NULL, NULL },
	{ "out", QE_OT_STR, PL(out), NULL, 0, 0, "default qeval-runs/<model>-<date>", "DIR", 0, NULL, NULL },
	{ "limit", QE_OT_INT, PL(limit), "0", 0, 1e15,
	  "the first N items per subject / pairs per file (smoke runs; marked partial)", "N", 0, NULL, NULL },
	{ "seed", QE_OT_INT, PL(seed), "1234", 0, 4503599627370496.0, "bootstrap seed (default 1234)", "N", 0, NULL, NULL },
	{ "quiet", QE_OT_BOOL, PL(quiet), "false", 0, 0, "no progress display", NULL, 0, NULL, NULL },
	{ "isolate", QE_OT_BOOL, PL(isolate), "true", 0, 0,
	  "each level in its own process (false: debugging; an engine abort ends the run)", NULL, 0, NULL, NULL },
	{ NULL, 0, 0, NULL, 0, 0, NULL, NULL, 0, NULL, NULL },
};
#undef PL

#define RT(f) offsetof(struct qe_plan_runtime, f)
const struct qe_optab qe_plan_runtime_optab[] = {
	{ "name", QE_OT_STR, RT(name), "llamacpp", 0, 0, "the runtime (default llamacpp; see 'qeval list')", "NAME", 0, NULL, NULL },
	{ "url", QE_OT_STR, RT(url), NULL, 0, 0, "server runtimes: the base URL", "URL", 0, NULL, NULL },
	{ "threads", QE_OT_INT, RT(threads), "0", 0, 4096, "default: the CPUs this process may use", "N", 0, NULL, NULL },
	{ "threads_batch", QE_OT_INT, RT(threads_batch), "0", 0, 4096, "prompt-processing threads (default: threads)", "N", 0, NULL, NULL },
	{ "ctx", QE_OT_INT, RT(ctx), "0", 0, 1 << 24, "context tokens (default min(trained, 4096))", "N", 0, NULL, NULL },
	{ "batch", QE_OT_INT, RT(batch), "0", 0, 1 << 20, "tokens per decode (scoring default: 4 contexts, at most 8192 or one context)", "N", 0, NULL, NULL },
	{ "ubatch", QE_OT_INT, RT(ubatch), "0", 0, 1 << 20, "tokens per compute graph (scoring default: the batch)", "N", 0, NULL, NULL },
	{ "seqs", QE_OT_INT, RT(seqs), "0", 0, 4096,
	  "sequences per decode: questions scored together (default 16 with GPU layers, 8 without), texts embedded together (32)", "N", 0, NULL, NULL },
	{ "contexts", QE_OT_INT, RT(contexts), "0", 0, 2,
	  "scoring contexts that take decodes in turn, one prepared while the other computes (default 2 with GPU layers, 1 without)", "N", 0, NULL, NULL },
	{ "ngl", QE_OT_INT, RT(ngl), "0", -1, 100000, "GPU layers (-1 = all)", "N", 0, NULL, NULL },
	{ "verbose", QE_OT_BOOL, RT(verbose), "false", 0, 0, "the engine's log on stderr", NULL, 0, NULL, NULL },
	{ "prefix_reuse", QE_OT_BOOL, RT(prefix_reuse), "true", 0, 0,
	  "reuse shared prompt prefixes (false: every prompt from scratch, to measure what reuse saves)", NULL, 0, NULL, NULL },
	{ NULL, 0, 0, NULL, 0, 0, NULL, NULL, 0, NULL, NULL },
};
#undef RT

void qe_plan_json_set(cJSON *obj, const char *key, cJSON *v)
{
	if (cJSON_GetObjectItemCaseSensitive(obj, key))
		cJSON_ReplaceItemInObjectCaseSensitive(obj, key, v);
	else
		cJSON_AddItemToObject(obj, key, v);
}

cJSON *qe_plan_json_task(cJSON *plan, const char *task, const char *name)
{
	cJSON *tasks = cJSON_GetObjectItemCaseSensitive(plan, "tasks"), *t;

	if (!cJSON_IsArray(tasks)) {
		tasks = cJSON_CreateArray();
		qe_plan_json_set(plan, "tasks", tasks);
	}
	/* a task of another type with this name is not it: a second object with
	 * the name makes the plan's check say "two tasks are named ..." */
	cJSON_ArrayForEach(t, tasks)
		if (!strcmp(qe_json_str(t, "name", qe_json_str(t, "task", "")), name) && !strcmp(qe_json_str(t, "task", ""), task))
			return t;
	t = cJSON_CreateObject();
	cJSON_AddStringToObject(t, "task", task);
	cJSON_AddStringToObject(t, "name", name);
	cJSON_AddItemToArray(tasks, t);
	return t;
}

static int read_levels(const cJSON *levels, struct qe_err *err)
{
	const cJSON *l;
	int i = 0;

	if (!levels)
		return 0;
	if (!cJSON_IsArray(levels))
		return qe_fail(err, QE_EINVAL, "plan.levels: expected an array of level names or objects");
	cJSON_ArrayForEach(l, levels) {
		if (!cJSON_IsString(l) && !cJSON_IsObject(l))
			return qe_fail(err, QE_EINVAL, "plan.levels[%d]: expected a string (\"Q4_K_M\", \"NAME=FILE\") or an object", i);
		i++;
	}
	return 0;
}

static int read_tasks(struct qe_plan *p, struct qe_err *err)
{
	cJSON *tasks = cJSON_GetObjectItemCaseSensitive(p->json, "tasks"), *t;
	size_t i = 0;
	int rc;

	if (!tasks)
		return 0;
	if (!cJSON_IsArray(tasks))
		return qe_fail(err, QE_EINVAL, "plan.tasks: expected an array of task objects");
	p->tasks = calloc((size_t)cJSON_GetArraySize(tasks) + 1, sizeof(*p->tasks));
	if (!p->tasks)
		return qe_fail(err, QE_ENOMEM, "out of memory");
	cJSON_ArrayForEach(t, tasks) {
		char path[64];
		snprintf(path, sizeof(path), "plan.tasks[%zu]", i);
		/* the plan's limit and seed, written into the task so plan.json says
		 * what each task used */
		if (cJSON_IsObject(t) && !cJSON_GetObjectItemCaseSensitive(t, "limit") && p->limit > 0)
			cJSON_AddNumberToObject(t, "limit", (double)p->limit);
		if (cJSON_IsObject(t) && !cJSON_GetObjectItemCaseSensitive(t, "seed"))
			cJSON_AddNumberToObject(t, "seed", (double)p->seed);
		if ((rc = qe_task_spec_read(t, path, &p->tasks[i], err)) != 0)
			return rc;
		p->n_tasks = ++i;
		for (size_t j = 0; j + 1 < i; j++)
			if (!strcmp(p->tasks[j].name, p->tasks[i - 1].name))
				return qe_fail(err, QE_EINVAL, "two tasks are named '%s': give one a \"name\"", p->tasks[j].name);
	}
	return 0;
}

int qe_plan_from_json(struct qe_plan *p, cJSON *json, struct qe_err *err)
{
	static const char *const sub[] = { "runtime", "tasks", NULL };
	int rc;

	memset(p, 0, sizeof(*p));
	p->json = json;
	if (!cJSON_IsObject(json))
		return qe_fail(err, QE_EINVAL, "plan: expected a JSON object");
	if ((rc = qe_optab_read(qe_plan_optab, json, sub, p, "plan", err)) != 0)
		return rc;
	if ((rc = qe_optab_read(qe_plan_runtime_optab, cJSON_GetObjectItemCaseSensitive(json, "runtime"), NULL, &p->rt,
				"plan.runtime", err)) != 0)
		return rc;
	if ((rc = read_levels(p->levels, err)) != 0)
		return rc;
	return read_tasks(p, err);
}

int qe_plan_read_file(struct qe_plan *p, const char *path, struct qe_err *err)
{
	cJSON *j;
	int rc;

	memset(p, 0, sizeof(*p));
	if ((rc = qe_json_read_file(path, &j, err)) != 0)
		return rc;
	if (!cJSON_IsObject(j)) {
		cJSON_Delete(j);
		return qe_fail(err, QE_EINPUT, "%s: a plan is a JSON object", path);
	}
	if ((rc = qe_plan_from_json(p, j, err)) != 0)
		qe_err_wrap(err, "%s", path);
	return rc;
}

void qe_plan_release(struct qe_plan *p)
{
	for (size_t i = 0; i < p->n_tasks; i++)
		qe_task_spec_release(&p->tasks[i]);
	free(p->tasks);
	cJSON_Delete(p->json);
	memset(p, 0, sizeof(*p));
}
