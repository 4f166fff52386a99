/* qeval — merging shard directories (`qeval run --shard I/N`, the ranks of
 * mpirun) into one run directory whose records, hence results.json, are
 * those a single process would have written (docs/scale-out.md).
 */
#ifndef QE_MERGE_H
#define QE_MERGE_H

#include <stddef.h>

#include "harness/base/err.h"

struct qe_merge_status {
	int n_shards;          /* the plan's shards */
	int n_missing;         /* shards not given: their units are not in out */
	char missing[256];     /* "1, 4" */
	int n_levels_failed;   /* levels a shard recorded as failed */
	int n_levels_pending;  /* levels with units not done (missing or unfinished shards) */
};

/* Combine the shard directories dirs[n] into out: plan.json (with "out"
 * set to out), identity.json, levels/NN-NAME/ (level.json, the records of
 * each unit taken from the shard that owns it, in unit order; the task's
 * other files of a whole-task unit linked or copied), then results.json.
 *
 * Refused with QE_EINVAL naming the difference: a directory that is not a
 * shard, shards of different runs (identity.json: model, levels, task
 * settings and templates, data), of different shard counts or unit tables,
 * a shard given twice; and (unless into_run, which mpirun's rank 0 uses
 * for its own run directory) an out that already holds a run. Shards may be
 * missing: their units are left out (st says which) and `qeval run --resume
 * out` runs them. */
int qe_merge(const char *out, const char *const *dirs, size_t n, int into_run, struct qe_merge_status *st,
	     struct qe_err *err);

#endif
