/* qeval — the pipeline: plan -> levels -> results.json -> summary -> gates ->
 * reports, the one way every command runs a plan. */
#ifndef QE_PIPELINE_H
#define QE_PIPELINE_H

#include "harness/base/err.h"

struct qe_plan;

struct qe_pipeline_opts {
	int resume;           /* 1 = continue the run in plan->out */
	const char *gate;     /* gate rules file, NULL = none */
	int summary;          /* 1 = the summary table and report paths on stdout */
	const char *who;      /* the command, for messages ("run") */
	int shard, n_shards;  /* run shard `shard` of n_shards only (--shard I/N; 0 or 1 = the whole
			       * plan): its records, no results or reports (harness/scale.h) */
	const char *balance_from; /* shards and ranks: weigh levels by this finished run's times */
	int jobs;             /* > 1: that many shards at once as forked jobs, merged (harness/jobs.h) */
};

/* Run the plan and write everything after it (under mpirun with several
 * ranks: each rank its shard, rank 0 the merge and everything after it,
 * harness/mpi.h); errors are printed as one line
 * "qeval WHO: message" (and left in err). Returns the exit code (enum
 * qe_exit): 0, 1 a gate failed, 2 a bad plan or data, 3 a level failed (the
 * others ran; their results and reports are written), or 128 + the signal
 * when SIGINT / SIGTERM stopped the run (results.json written, no gate, no
 * reports: the run is not finished). */
int qe_pipeline(const struct qe_plan *plan, const struct qe_pipeline_opts *o, struct qe_err *err);

/* What follows the run of a finished directory out (results.json written):
 * the gates, the summary, the reports; code = the run's exit code so far.
 * Returns the exit code. `qeval merge` ends with it. */
int qe_pipeline_finish(const char *out, const struct qe_pipeline_opts *o, int code, struct qe_err *err);

#endif
