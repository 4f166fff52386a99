/* qeval — the driver: a plan (reference + levels × tasks) run into an output
 * directory, one level at a time, each level in a child process.
 *
 * Output directory (docs/formats.md, "Run directory"):
 *   plan.json                       the resolved plan (what --resume reads)
 *   levels/NN-NAME/level.json       the level's identity, status and timings
 *   levels/NN-NAME/records-T.jsonl  per-item records of task T (the truth)
 *   results.json                    recomputed from the records (docs/results-schema.md)
 *
 * The plan is a cJSON object (docs/cli.md, "Plan files"):
 *   { "runtime": {"name": "llamacpp", "threads": 0, "threads_batch": 0, "ctx": 0,
 *                 "batch": 0, "ubatch": 0, "ngl": 0, "url": null},
 *     "model": "m-f16.gguf", "levels": ["F16", "Q4_K_M", "mine=x.gguf"],
 *     "reference": "F16", "cache": null,
 *     "tasks": [ {"task": "mmlu", "name": "mmlu", "dir": "...", ...}, ... ],
 *     "limit": 0, "seed": 1234, "out": "DIR", "quiet": false, "isolate": true }
 */
#ifndef QE_RUN_H
#define QE_RUN_H

#include <cjson/cJSON.h>

#include "harness/base/err.h"
#include "harness/base/json.h"
#include "harness/scale.h"

struct qe_run_status {
	int n_levels;
	int n_levels_failed;
	int n_items_failed;   /* records with an error status */
	int interrupted;      /* the signal (SIGINT, SIGTERM) that stopped the run after its
			       * current item, 0 = none: the finished records are kept,
			       * results.json is written, the level is "interrupted" */
};

struct qe_plan;

/* Run (or resume) the plan; writes plan.json and identity.json (a new run),
 * the levels' records and level.json, then results.json. Holds DIR/lock
 * meanwhile (one process per run directory); a resume whose identity differs
 * from the run's is QE_EINVAL naming the difference (harness/runid.h). Returns 0 when the run could
 * be carried out (levels may still have failed: see st), or a negative status
 * for a bad plan / unreadable data / an unwritable directory. */
int qe_run(const struct qe_plan *plan, int resume, struct qe_run_status *st, struct qe_err *err);

/* Shard so->shard of so->n_shards (harness/scale.h; 1 = the whole run, as
 * qe_run): the plan's units are planned over n_shards and this process runs
 * its own into plan->out, which then holds shard.json (QE_SHARD_FILE) beside
 * plan.json and identity.json, and no results.json: `qeval merge` (or rank 0
 * of mpirun) combines the shards. A resumed shard must be the same shard of
 * the same units (QE_EINVAL otherwise). */
struct qe_shard_opts {
	int shard, n_shards;       /* this shard of n_shards */
	const char *balance_from;  /* a finished run whose levels' measured times weigh the units
				    * (docs/scale-out.md, "Balancing"); NULL = estimated tokens only.
				    * A resumed shard keeps the weights of its shard.json. */
};

int qe_run_shard(const struct qe_plan *plan, int resume, const struct qe_shard_opts *so, struct qe_run_status *st,
		 struct qe_err *err);

#define QE_SHARD_FILE "shard.json"

/* The shard a run directory holds (its shard.json) into *shard, *n_shards;
 * QE_ENOENT (and 0 of 1) when it holds a whole run. */
int qe_run_shard_of(const char *dir, int *shard, int *n_shards);

/* A plan's units over n_shards (as qe_run_shard plans them), with what a
 * merge needs to place records: level and task names, each split task's
 * record ids in item order (unit [first, end) indexes them). */
struct qe_run_units {
	struct qe_scale scale;
	int n_levels, ref, n_tasks;
	char (*levels)[64];       /* [n_levels] names (folders levels/NN-NAME) */
	const char **tasks;       /* [n_tasks] instance names, borrowed from the plan */
	size_t *n_items;          /* [n_tasks] */
	char ***item_ids;         /* [n_tasks][n_items] ids; NULL for a task run whole */
};

int qe_run_units(const struct qe_plan *plan, int n_shards, struct qe_run_units *u, struct qe_err *err);
void qe_run_units_release(struct qe_run_units *u);

/* The same for a plan given as JSON (copied; checked as qe_plan_from_json does). */
int qe_run_plan(cJSON *plan, int resume, struct qe_run_status *st, struct qe_err *err);

/* Recompute results.json of a run directory from its records. */
int qe_run_summarize(const char *dir, struct qe_err *err);

#endif
