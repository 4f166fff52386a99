/* qeval — writing a finished run's reports (docs/reports.md).
 *
 * From run_dir/results.json (docs/results-schema.md) the writers produce, in
 * the output folder:
 *   md     report.md      tables, verdicts, per-category and per-subject tables
 *   html   report.html    the same, self-contained, with gnuplot charts as inline SVG
 *   csv    summary.csv    one row per level x task x metric
 *   junit  junit.xml      one test case per gate rule x level (from gate.json), else per level x task
 *   json   results.json   the file itself, copied when the output folder is another one
 *   items  items-<task>.csv  per-item records of every level (on request)
 *   lmeval lm_eval/<level>.json  lm-evaluation-harness's results layout, one file per level
 *   mteb   mteb/<level>/no_revision_available/<task>.json  MTEB's result layout, per pairs task
 * `qeval report` calls this, and so does `qeval run` at the end of a run.
 * Thread-safe on distinct output folders.
 */
#ifndef QE_REPORTS_REPORT_H
#define QE_REPORTS_REPORT_H

#include "harness/base/err.h"

enum qe_report_format {
	QE_REPORT_MD = 1u << 0,
	QE_REPORT_HTML = 1u << 1,
	QE_REPORT_CSV = 1u << 2,
	QE_REPORT_JUNIT = 1u << 3,
	QE_REPORT_JSON = 1u << 4,
	QE_REPORT_ITEMS = 1u << 5,
	QE_REPORT_LMEVAL = 1u << 6,
	QE_REPORT_MTEB = 1u << 7,
	QE_REPORT_DEFAULT = QE_REPORT_MD | QE_REPORT_HTML | QE_REPORT_CSV,
	/* "all": every format of the run itself; the per-item CSVs stay on request */
	QE_REPORT_ALL = QE_REPORT_DEFAULT | QE_REPORT_JUNIT | QE_REPORT_JSON | QE_REPORT_LMEVAL | QE_REPORT_MTEB,
};

/* What qe_report_write_all did (optional output). */
struct qe_report_stats {
	unsigned written;    /* enum qe_report_format bits of the formats written */
	int n_charts;        /* charts drawn into the HTML */
	int charts_missing;  /* 1 = the HTML has no charts because gnuplot could not be run */
};

struct qe_report_opts {
	unsigned formats;    /* enum qe_report_format bits; 0 = QE_REPORT_DEFAULT */
	int items;           /* 1 = also the per-item CSVs (same as the QE_REPORT_ITEMS bit) */
	int charts;          /* 1 = gnuplot charts in the HTML (default), 0 = none */
	const char *gnuplot; /* gnuplot program; NULL = $QE_GNUPLOT, else "gnuplot" from PATH */
	const char *out_dir; /* where the files go; NULL = run_dir (created when missing) */
	struct qe_report_stats *stats; /* NULL, or filled in by qe_report_write_all */
};

struct qe_report_opts qe_report_default_opts(void);

/* Read run_dir/results.json and write every format in o->formats (o may be
 * NULL = defaults). Every writer runs even when an earlier one failed; the
 * first failure is returned (QE_ENOENT / QE_EINPUT for a missing or bad
 * results.json, QE_EIO for a file that cannot be written). A missing gnuplot
 * is not a failure: the HTML says the charts are not shown. */
int qe_report_write_all(const char *run_dir, const struct qe_report_opts *o, struct qe_err *err);

/* Parse a comma list of format names ("md,html,csv,junit,json,items", "all")
 * into enum bits; QE_EINVAL naming an unknown name. */
int qe_report_formats_parse(const char *list, unsigned *out, struct qe_err *err);

/* The names of the formats, comma-separated (for usage text); static storage. */
const char *qe_report_format_names(void);

#endif
