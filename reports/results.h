/* qeval — reading a run's results.json (docs/results-schema.md, version 1)
 * for the report writers, gates, compare and history; and metric paths, the
 * one way every one of them names a number in it (docs/reports.md, "Metric
 * paths").
 *
 * Everything here only reads a cJSON tree the caller owns; returned pointers
 * point into it and live as long as it does. Thread-safe on distinct trees.
 * Single values are read with harness/base/json.h's qe_json_num (NaN as the
 * default for absent or null), qe_json_str and qe_json_bool.
 */
#ifndef QE_REPORTS_RESULTS_H
#define QE_REPORTS_RESULTS_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "harness/base/err.h"
#include "harness/base/json.h"

/* The results.json version this code reads. */
#define QE_RESULTS_VERSION 1

/* Read run_dir/results.json into *out (caller frees with cJSON_Delete) and
 * check its schema name, version, and that "levels" is an array and "tasks"
 * an object. QE_ENOENT when the file is missing, QE_EINPUT when it is not a
 * qeval results file (the message names the file and what is wrong), or
 * when qe_json_parse refuses its text (not JSON, text after the value, a key
 * given twice, a NUL). */
int qe_results_load(const char *run_dir, cJSON **out, struct qe_err *err);

/* The same from len bytes of text, text[len] its NUL (path is only named in
 * messages). */
int qe_results_parse(const char *text, size_t len, const char *path, cJSON **out, struct qe_err *err);

/* The run's "levels" array. */
const cJSON *qe_results_levels(const cJSON *res);
/* The levels[] entry named name, or NULL. */
const cJSON *qe_results_level(const cJSON *res, const char *name);
/* The reference level's name (top-level "reference"), or NULL when none. */
const char *qe_results_ref(const cJSON *res);
/* tasks.<task>.levels.<level>, or NULL when absent or null (a failed level). */
const cJSON *qe_results_block(const cJSON *res, const char *task, const char *level);
/* A task's type (its "task" field, the name of the task that wrote it: the
 * key of its view, reports/view.h), "" when absent. */
const char *qe_results_task_type(const cJSON *task);

/* A levels[] entry's "name", "?" when absent. */
const char *qe_results_level_name(const cJSON *lv);
/* A levels[] entry's "status" ("ok", "failed", ...), "pending" when absent. */
const char *qe_results_level_status(const cJSON *lv);
/* 1 when lv is the run's reference level (top-level "reference" or its own
 * "reference": true). */
int qe_results_level_is_ref(const cJSON *res, const cJSON *lv);
/* A task's first per-level block that is an object (not null), or NULL. */
const cJSON *qe_results_first_block(const cJSON *task);
/* obj[key] as a [lo, hi] pair of numbers: each NaN where absent or not a number. */
void qe_results_pair(const cJSON *obj, const char *key, double *lo, double *hi);
/* The keys of the object blk[key] over all per-level blocks of a task (union in
 * first-seen order), leaving out those in skip (NULL-terminated, may be NULL);
 * at most cap. The names point into task. Returns the count. */
size_t qe_results_union_keys(const cJSON *task, const char *key, const char *const *skip, const char **out, size_t cap);

/* ---- metric paths ----
 * PATH      = ["level."] SEGMENT ("." SEGMENT)*
 * SEGMENT   = KEY ("[" INDEX "]")*     KEY: any characters but . [ ] (non-empty)
 * A KEY applied to an array of objects selects the element whose "name" is KEY
 * (so "tests.pp512.tps_mean" reads the speed test named pp512). "level." reads
 * the run's levels[] entry instead of the task's per-level block. Two derived
 * metrics exist where the block has what they need (docs/reports.md):
 *   flip_rate  = (vs_ref.ref_right_level_wrong + vs_ref.ref_wrong_level_right) / vs_ref.n_paired
 *   pct_of_ref = acc / acc of the reference level (a fraction: 0.989 = 98.9%)
 * A view (reports/view.h) lists the derived metrics that apply to its task.
 */
#define QE_METRIC_FLIP_RATE "flip_rate"
#define QE_METRIC_PCT_OF_REF "pct_of_ref"

enum qe_metric_status {
	QE_METRIC_OK = 0,       /* *out holds the number */
	QE_METRIC_NULL = 1,     /* present but null: could not be computed (e.g. vs_ref on the reference) */
	QE_METRIC_ABSENT = 2,   /* no such key in the block, or not a number */
	QE_METRIC_NO_BLOCK = 3, /* the task has no block for this level (failed, pending, not in the task) */
	QE_METRIC_NO_TASK = 4,  /* no such task in the run */
	QE_METRIC_NO_LEVEL = 5, /* no such level in the run */
};

/* 0 when path follows the grammar above, else QE_EINVAL naming what is wrong. */
int qe_metric_path_check(const char *path, struct qe_err *err);

/* Resolve path for task (may be NULL for "level." paths) at level. Returns an
 * enum qe_metric_status; *out is set only on QE_METRIC_OK. The path must have
 * passed qe_metric_path_check. */
int qe_metric_get(const cJSON *res, const char *task, const char *level, const char *path, double *out);

/* Resolve path (a metric path naming an array) like qe_metric_get and read
 * it as a [lo, hi] pair: each NaN unless the array has exactly two elements
 * and that one is a number. Returns 0 when the array was found, else an enum
 * qe_metric_status. */
int qe_metric_pair(const cJSON *res, const char *task, const char *level, const char *path, double *lo, double *hi);

/* Words for a status ("not computed (null)", "not in the block", ...). */
const char *qe_metric_status_text(int status);

#endif
