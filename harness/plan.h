/* qeval — the typed plan: what a run does, read from JSON (a plan file, the
 * command line's flags, --resume's plan.json) and checked once, before any
 * level runs. Unknown keys and values of the wrong type are errors naming
 * their JSON path ("plan.tasks[1].shots: expected a whole number in 0..64,
 * got \"five\""). docs/cli.md, "Plan files", lists the keys.
 *
 * The plan keeps the JSON it was read from (`json`): that is what plan.json
 * and results.json's run.plan hold, so a plan written and read back is the
 * same plan. Strings in the typed fields are borrowed from it.
 */
#ifndef QE_PLAN_H
#define QE_PLAN_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "harness/base/err.h"
#include "harness/tasks/task.h"

/* The engine settings shared by every level ("runtime" object). */
struct qe_plan_runtime {
	const char *name;     /* registry name, default "llamacpp" */
	const char *url;      /* server runtimes, NULL otherwise */
	long threads;         /* 0 = the CPUs this process may use */
	long threads_batch;   /* 0 = threads */
	long ctx;             /* tokens, 0 = min(trained, 4096) */
	long batch, ubatch;   /* tokens, 0 = the runtime's default for the use */
	long seqs;            /* sequences per decode (questions when scoring), 0 = the runtime's default */
	long contexts;        /* scoring contexts taking decodes in turn, 0 = the runtime's default */
	long ngl;             /* GPU layers, -1 = all */
	int verbose;          /* the engine's log on stderr */
	int prefix_reuse;     /* 0 = every prompt from an empty cache */
};

struct qe_plan {
	cJSON *json;                  /* the plan as given (owned) */
	const char *model;            /* the reference model (a file, or a served model) */
	const cJSON *levels;          /* array: each a string spec or an object (borrowed) */
	const char *reference;        /* level name, NULL = the first */
	const char *cache;            /* quantization cache, NULL = qe_cache_dir() */
	const char *out;              /* run directory */
	long limit;                   /* first N items per subject / file, 0 = all */
	long seed;                    /* bootstrap seed */
	int quiet;                    /* no progress display */
	int isolate;                  /* each level in its own process */
	struct qe_plan_runtime rt;
	struct qe_task_spec *tasks;   /* n_tasks, owned */
	size_t n_tasks;
};

/* The plan's own keys, for the command line's flags and help. */
extern const struct qe_optab qe_plan_optab[];
extern const struct qe_optab qe_plan_runtime_optab[];

/* Read json (taken: owned by p afterwards, also on failure) into p. Task
 * objects get the plan's "limit" and "seed" when they name none (so plan.json
 * says what each task used). QE_EINVAL naming the JSON path on a bad plan. */
int qe_plan_from_json(struct qe_plan *p, cJSON *json, struct qe_err *err);

/* Read a plan file (a JSON object). */
int qe_plan_read_file(struct qe_plan *p, const char *path, struct qe_err *err);

void qe_plan_release(struct qe_plan *p);

/* Set (replace) key in the plan's JSON object `obj` ("runtime", a task's
 * object, or p->json itself). v is taken. For builders before
 * qe_plan_from_json. */
void qe_plan_json_set(cJSON *obj, const char *key, cJSON *v);

/* The task object named `name` (instance name, default the task's name) of
 * the plan JSON, created with {"task": task, "name": name} when absent. */
cJSON *qe_plan_json_task(cJSON *plan, const char *task, const char *name);

#endif
