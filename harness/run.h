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

#include "harness/err.h"

struct qe_run_status {
	int n_levels;
	int n_levels_failed;
	int n_items_failed;   /* records with an error status */
};

/* Run (or resume) the plan; writes results.json. Returns 0 when the run could
 * be carried out (levels may still have failed: see st), or a negative status
 * for a bad plan / unreadable data / an unwritable directory. */
int qe_run_plan(cJSON *plan, int resume, struct qe_run_status *st, struct qe_err *err);

/* Recompute results.json of a run directory from its records. */
int qe_run_summarize(const char *dir, struct qe_err *err);

/* Read a whole JSON file (plan, results, level.json): caller frees. QE_ENOENT
 * or QE_EINPUT "file:line:col: ..." on a syntax error. */
int qe_json_read_file(const char *path, cJSON **out, struct qe_err *err);

/* Write a JSON value to path atomically (temp file + rename). */
int qe_json_write_file(const char *path, const cJSON *v, struct qe_err *err);

/* Small accessors with defaults. */
double qe_json_num(const cJSON *o, const char *key, double def);
const char *qe_json_str(const cJSON *o, const char *key, const char *def);
int qe_json_bool(const cJSON *o, const char *key, int def);

/* A finite number as a number, anything else (NaN: not computable) as null,
 * the convention of results.json (docs/results-schema.md). */
cJSON *qe_json_num_or_null(double v);
void qe_json_add_num(cJSON *o, const char *key, double v);

#endif
