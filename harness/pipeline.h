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
};

/* Run the plan and write everything after it; errors are printed as one line
 * "qeval WHO: message" (and left in err). Returns the exit code (enum
 * qe_exit): 0, 1 a gate failed, 2 a bad plan or data, 3 a level failed (the
 * others ran; their results and reports are written), or 128 + the signal
 * when SIGINT / SIGTERM stopped the run (results.json written, no gate, no
 * reports: the run is not finished). */
int qe_pipeline(const struct qe_plan *plan, const struct qe_pipeline_opts *o, struct qe_err *err);

#endif
