/* qeval — the pipeline: a checked plan run into its directory, then the
 * summary on stdout, the release gates and the reports. Every command that
 * runs levels (run, bench, demo) builds a plan and calls this. */
#include "harness/pipeline.h"
#include "harness/plan.h"
#include "harness/run.h"
#include "reports/gate.h"
#include "reports/report.h"
#include "reports/summary.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <signal.h>

/* ---- the pipeline --------------------------------------------------------- */

int qe_pipeline(const struct qe_plan *plan, const struct qe_pipeline_opts *o, struct qe_err *err)
{
	const char *who = o->who ? o->who : "run";
	const char *out = plan->out;
	struct qe_run_status st;
	int rc, code;

	rc = qe_run(plan, o->resume, &st, err);
	if (rc) {
		fprintf(stderr, "qeval %s: %s\n", who, err->msg);
		return qe_exit_code(rc);
	}
	if (st.interrupted) {
		fprintf(stderr, "qeval %s: stopped by %s: the finished items are kept in %s (results.json); "
			"continue with: qeval run --resume %s\n", who, strsignal(st.interrupted), out, out);
		return 128 + st.interrupted;
	}
	code = st.n_levels_failed ? QE_EXIT_RUNTIME : QE_EXIT_OK;
	if (o->gate) {
		char junit[4300];
		int n_failed = 0;
		snprintf(junit, sizeof(junit), "%s/junit.xml", out);
		if (qe_gate_check(out, o->gate, junit, &n_failed, err) != 0) {
			fprintf(stderr, "qeval %s: %s\n", who, err->msg);
			if (code == 0)
				code = qe_exit_code(err->code);
		} else if (n_failed > 0) {
			printf("\ngates: %d rule check(s) failed (%s/gate.json, %s)\n", n_failed, out, junit);
			code = QE_EXIT_CHECK;
		} else {
			printf("\ngates: all passed\n");
		}
	}
	/* the summary after the gates: it opens with each level's decision */
	if (o->summary)
		qe_summary_print(out, stdout);
	{
		struct qe_report_stats rs;
		struct qe_report_opts ro = qe_report_default_opts();
		memset(&rs, 0, sizeof(rs));
		ro.stats = &rs;
		if (qe_report_write_all(out, &ro, err) != 0) {
			fprintf(stderr, "qeval %s: reports: %s\n", who, err->msg);
		} else {
			printf("\nreports: %s/report.md, %s/report.html, %s/summary.csv\n", out, out, out);
			if (rs.charts_missing)
				printf("(gnuplot could not be run: report.html has no charts)\n");
		}
	}
	return code;
}
