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

/* The same for a plan given as JSON (copied; checked as qe_plan_from_json does). */
int qe_run_plan(cJSON *plan, int resume, struct qe_run_status *st, struct qe_err *err);

/* Recompute results.json of a run directory from its records. */
int qe_run_summarize(const char *dir, struct qe_err *err);

#endif
