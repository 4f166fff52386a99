/* qeval — inside the report writers: the writer ops table and registry, and
 * the pieces the writers, gates and compare share. Adding a format = one
 * reports/w_<name>.c with a `const struct qe_report_writer` + one line in the
 * registry (reports/report.c) + one enum bit in report.h (docs/extending.md).
 */
#ifndef QE_REPORTS_REPORT_IMPL_H
#define QE_REPORTS_REPORT_IMPL_H

#include <cjson/cJSON.h>

#include "harness/base/err.h"
#include "reports/doc.h"
#include "reports/report.h"
#include "reports/text.h"

/* What a writer gets. Everything is borrowed for the call. */
struct qe_report_ctx {
	const char *run_dir;                 /* the run directory (records are under run_dir/levels/) */
	const char *out_dir;                 /* where the writer puts its file(s); exists */
	const cJSON *res;                    /* results.json, checked by qe_results_parse */
	const cJSON *gate;                   /* gate.json of the run (qe_gate_check), or NULL */
	const struct qe_report_opts *opts;   /* never NULL */
};

struct qe_report_writer {
	const char *name;      /* required: the --format name, "md" */
	unsigned flag;         /* required: its enum qe_report_format bit */
	const char *file;      /* optional: the file it writes (for messages), NULL = several */
	/* required: write into ctx->out_dir; 0 or a status with err filled in */
	int (*write)(const struct qe_report_ctx *ctx, struct qe_err *err);
};

/* The registry, NULL-terminated, in the order formats are written. */
extern const struct qe_report_writer *const qe_report_writers[];

extern const struct qe_report_writer qe_writer_md;
extern const struct qe_report_writer qe_writer_html;
extern const struct qe_report_writer qe_writer_csv;
extern const struct qe_report_writer qe_writer_junit;
extern const struct qe_report_writer qe_writer_json;
extern const struct qe_report_writer qe_writer_items;
extern const struct qe_report_writer qe_writer_lmeval;
extern const struct qe_report_writer qe_writer_mteb;

/* The document of one run, shared by the Markdown and HTML writers
 * (reports/run_doc.c): facts, notes, verdicts, a table per task, per-category
 * and per-subject tables, and (with_charts) the chart blocks. gate may be NULL. */
int qe_run_doc_build(const cJSON *res, const cJSON *gate, int with_charts, struct qe_doc *d, struct qe_err *err);

/* The one-line verdict of a non-reference level ("Q4_K_M: 3.40× smaller, ..."),
 * appended to out. */
void qe_run_verdict(const cJSON *res, const cJSON *level, struct qe_text *out);

/* JUnit XML of a gate outcome (the object qe_gate_check writes to gate.json). */
void qe_junit_from_gate(const cJSON *gate, struct qe_text *out);

/* Join dir and name into buf (cap bytes); returns buf. */
char *qe_path_join(char *buf, size_t cap, const char *dir, const char *name);

/* A name made safe for a file name: every byte outside [A-Za-z0-9._-] becomes '_'. */
char *qe_file_safe(char *buf, size_t cap, const char *name);

#endif
