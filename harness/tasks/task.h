/* qeval — tasks: a loader + a scorer + its metrics (docs/extending.md).
 *
 * The driver (harness/run.c) calls, in the parent process:
 *   prepare   once per run: read options and data, count items;
 * then for each level, in a child process (an engine abort costs only that
 * level):
 *   run_level with an open runtime: append one record per item to the
 *             journal, skipping items already done (resume);
 * then in the parent, after all levels:
 *   summarize records of every level -> the task's block of results.json.
 * The reports read that block through the task's view (reports/view.h).
 * Adding a task = its file, its view's file and one line in
 * harness/tasks/registry.c (docs/extending.md).
 */
#ifndef QE_TASK_H
#define QE_TASK_H

#include <stddef.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "harness/base/err.h"
#include "harness/base/optab.h"
#include "runtimes/runtime.h"

struct qe_journal;
struct qe_progress;
struct qe_view;

/* What one level's run of a task gets. */
struct qe_task_level {
	struct qe_runtime *rt;
	const struct qe_level *level;
	int index;                   /* level number in the run, 0 = first */
	int is_reference;
	const char *dir;             /* the level's folder in the run directory */
	const char *ref_dir;         /* the reference level's folder (the driver runs that level first) */
	struct qe_journal *journal;  /* records of this task at this level */
	struct qe_progress *progress;
};

/* What summarize gets: every level's records, loaded by the driver. */
struct qe_task_levels {
	size_t n;                    /* levels */
	size_t ref;                  /* index of the reference level */
	const struct qe_level *levels;
	const char *const *dirs;     /* each level's folder */
	cJSON *const *records;       /* [n] arrays of record objects, NULL for a failed level */
	const int *ok;               /* [n] 1 = the level ran */
	const cJSON *const *info;    /* [n] each level's level.json as the driver read it (identity,
				      * sizes, load_s, peak_rss_bytes, task_wall_s); NULL, or an entry
				      * NULL, when unknown. Borrowed. */
};

/* Seconds level i spent in the task instance `task` (level.json's
 * task_wall_s, summed over resumes); NaN when unknown. */
double qe_task_level_wall(const struct qe_task_levels *lv, size_t i, const char *task);

struct qe_task;

/* One task of the plan: the task, its instance name and its options, read
 * from the plan's task object through the task's option table. */
struct qe_task_spec {
	const struct qe_task *task;
	const char *name;            /* instance name: key in results.json, journal file */
	void *opts;                  /* the task's options struct (task->options_size bytes), owned */
	long limit;                  /* first N items per subject / file, 0 = all */
	long seed;                   /* the task's seed (the plan's unless it names one) */
	cJSON *json;                 /* the task's object in the plan, borrowed */
};

/* Keys every task object may hold besides the task's own options. */
extern const char *const qe_task_common_keys[];

/* Read a task object of the plan (obj, borrowed for the spec's life) into
 * out; path names obj in messages ("plan.tasks[0]"). */
int qe_task_spec_read(cJSON *obj, const char *path, struct qe_task_spec *out, struct qe_err *err);
void qe_task_spec_release(struct qe_task_spec *ts);

struct qe_task {
	const char *name;
	const char *summary;
	unsigned needs;              /* QE_RT_* capabilities the runtime must have */
	int own_process;             /* 1 = runs in a level process of its own, with the engine as
				      * its own tool runs it (speed: CUDA graphs on, as llama-bench);
				      * the other tasks share one process with the engine's
				      * capture-and-replay of graphs off (docs/tasks.md) */
	/* required: the task's options, declared once: plan keys, types, defaults,
	 * flags (--TASK-KEY, QE_OF_MAIN: --TASK) and help; filled into a struct of
	 * options_size bytes that prepare reads as ts->opts */
	const struct qe_optab *options;
	size_t options_size;

	/* required: load and check the data the options name; *state owned by
	 * the task until release (it may keep pointers into ts, which lives
	 * longer). *n_items = the work units a level will do (for progress), one
	 * record each: a done level whose journal holds fewer is completed
	 * again on --resume. */
	int (*prepare)(const struct qe_task_spec *ts, void **state, size_t *n_items, struct qe_err *err);
	/* required: run at one level; per-item failures become records with a
	 * status, not a returned error. Returns non-zero only when the level
	 * cannot go on (runtime broken). */
	int (*run_level)(void *state, struct qe_task_level *tl, struct qe_err *err);
	/* required: metrics over all levels' records -> out (an object) */
	int (*summarize)(void *state, const struct qe_task_levels *lv, cJSON *out, struct qe_err *err);
	/* optional: the task's settings for results.json */
	void (*describe)(void *state, cJSON *out);
	/* required */
	void (*release)(void *state);
	/* optional: how the reports show the task's block (reports/view.h); NULL = generically */
	const struct qe_view *view;
	/* optional: the true count of work units once the reference level has
	 * run, for a task that knows only an estimate at prepare (kld: its
	 * chunks, known after tokenizing). 0 with *n_items set; non-zero = not
	 * known yet (the estimate stays). The driver asks after prepare and after
	 * the reference level, so resume checks, progress and results.json's
	 * n_items use the real count. */
	int (*recount)(void *state, const char *ref_dir, size_t *n_items);
	/* optional: QE_RT_* capabilities of which the runtime must have at least
	 * one besides `needs` (kld: full logits or top-K log-probabilities);
	 * 0 = none asked */
	unsigned needs_any;

	/* Scale-out (harness/scale.h, docs/scale-out.md); members appended. */
	/* optional: work item k (< n_items) in the order run_level does them:
	 * its record id into id (cap bytes), its estimated cost in tokens into
	 * *tokens. Returns 1 when a shard of items may start at k (no engine call
	 * shares item k with item k-1), else 0. A task that has it is split into
	 * item shards, each level's records of those shards merging into the
	 * records of one run; a task without it runs whole at each level. */
	int (*item)(void *state, size_t k, char *id, size_t cap, double *tokens);
	/* optional: estimated tokens one level processes for the whole task
	 * (balancing); NULL = 64 per item */
	double (*cost)(void *state);
	/* 1 = a level's run reads what the reference level's run of the task
	 * left in ref_dir (kld): a shard running the task at a level runs it at
	 * the reference too (only the reference's own unit's records count) */
	int needs_reference;
};

/* The registry, NULL-terminated (harness/tasks/registry.c). */
extern const struct qe_task *const qe_task_registry[];

const struct qe_task *qe_task_find(const char *name);

#endif
