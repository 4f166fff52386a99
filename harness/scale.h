/* qeval — scale-out: a run's work as units (level, task, shard of items),
 * spread over N shards (`qeval run --shard I/N`, or the ranks of `mpirun`),
 * whose per-item records merge into exactly a single process's records
 * (docs/scale-out.md).
 *
 * A task that can say its items (qe_task.item) is cut into pieces of about
 * equal estimated tokens, at items where a shard may start; any other task
 * is one piece. Units are (level, task, piece), given to shards by their
 * estimated tokens, largest first, each to the least loaded shard
 * (deterministic: every shard and `qeval merge` compute the same table).
 * Pure: no files, no engine.
 */
#ifndef QE_SCALE_H
#define QE_SCALE_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "harness/base/err.h"

/* What the planner needs to know of one task of the run. */
struct qe_scale_task {
	size_t n_items;
	const double *tokens;       /* [n_items] estimated tokens of each item, NULL = not splittable */
	const unsigned char *start; /* [n_items] 1 = a piece may start at the item; NULL = anywhere */
	double total;               /* estimated tokens of the whole task at one level (used when tokens is NULL) */
	int needs_reference;        /* qe_task.needs_reference */
};

struct qe_unit {
	int level, task;      /* indices into the plan's levels and tasks */
	int piece, n_pieces;  /* the task's piece, of n_pieces */
	size_t first, end;    /* items [first, end) */
	double tokens;        /* estimated */
	int owner;            /* the shard that runs it */
};

struct qe_scale {
	struct qe_unit *units;  /* n_units, in (task, level, piece) order; owned */
	size_t n_units;
	int n_shards;
	double *load;           /* [n_shards] estimated tokens (weighted), helpers' reference runs included */
};

/* Plan the units of n_levels levels (ref = the reference) x n_tasks tasks
 * over n_shards shards; weight[level] (NULL = all 1) multiplies a unit's
 * tokens for the assignment only (measured: a level's time per token
 * against the reference's). Caller releases with qe_scale_release. */
int qe_scale_plan(int n_levels, int ref, const struct qe_scale_task *tasks, int n_tasks, int n_shards,
		  const double *weight, struct qe_scale *out, struct qe_err *err);

void qe_scale_release(struct qe_scale *s);

/* 1 when shard `shard` runs task t at level i: it owns a unit of it, or
 * (a needs_reference task at the reference) owns a unit of the task at
 * another level. */
int qe_scale_runs(const struct qe_scale *s, int shard, int level, int task, int ref, int needs_reference);

/* "I/N" (0 <= I < N <= 4096) into *i, *n; QE_EINVAL naming the text. */
int qe_scale_parse_shard(const char *text, int *i, int *n, struct qe_err *err);

/* The unit table as JSON (shard.json's "units"; level and task names
 * given), and the check that two tables are the same. Caller frees. */
cJSON *qe_scale_json(const struct qe_scale *s, const char *const *levels, const char *const *tasks);

#endif
