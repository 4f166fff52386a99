/* qeval — several runs side by side (docs/reports.md, "Compare").
 *
 * The first run is the baseline. For each task, a run is comparable with the
 * baseline only when the task was measured on the same items and settings:
 * same task type, n_items and settings, and what the task's view adds
 * (reports/view.h, `comparable`): by default the same --limit (run.limit,
 * run.partial); the multiple-choice and pairs views also want, per level, the
 * same number of items or pairs, the speed view the same tests, threads and
 * CPU instead. Where a run is not comparable, the report prints no delta and
 * says why instead. Thread-safe on distinct output folders.
 */
#ifndef QE_REPORTS_COMPARE_H
#define QE_REPORTS_COMPARE_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "harness/base/err.h"
#include "reports/doc.h"

struct qe_compare_opts {
	const char *out_dir;           /* where compare.md and compare.html go; NULL = "." */
	const char *const *labels;     /* [n] names of the runs, NULL = the folders' base names */
	int charts;                    /* 1 = gnuplot charts in the HTML */
	const char *gnuplot;           /* NULL = $QE_GNUPLOT, else "gnuplot" */
};

struct qe_compare_opts qe_compare_default_opts(void);

/* What a view's `comparable` gets: the two runs and their task objects, and
 * the reasons found so far. Borrowed for the call. */
struct qe_compare_ctx {
	const cJSON *a, *b;        /* the baseline's and the other run's results.json */
	const cJSON *ta, *tb;      /* their tasks.<name> objects, both present */
	char *why;                 /* reasons, "; "-separated; "" = comparable so far */
	size_t cap;                /* bytes of why */
};

/* Add a reason (why's text is cut at cap). */
void qe_compare_why(struct qe_compare_ctx *c, const char *fmt, ...) QE_PRINTF(2, 3);
/* The default check: the same --limit (run.limit, run.partial). */
void qe_compare_limit(struct qe_compare_ctx *c);
/* Per level present in both: the same number blk[key] of noun ("items"),
 * checked only while no other reason is known; names the first level that
 * differs. */
void qe_compare_counts(struct qe_compare_ctx *c, const char *key, const char *noun);
/* 1 when a[key] and b[key] are the same number, or both absent or null. */
int qe_compare_same_num(const cJSON *a, const cJSON *b, const char *key);

/* Why task `task` of run b cannot be compared with the baseline a, as one
 * line in why (cap bytes); returns 1 when comparable, 0 when not. */
int qe_compare_task(const cJSON *a, const cJSON *b, const char *task, char *why, size_t cap);

/* Build the comparison document of n loaded runs (res[i], labels[i]). */
int qe_compare_doc(const cJSON *const *res, const char *const *labels, size_t n, int with_charts, struct qe_doc *d,
		   struct qe_err *err);

/* Load DIR/results.json of each of the n >= 2 folders and write
 * out_dir/compare.md and out_dir/compare.html. */
int qe_compare_write(const char *const *dirs, size_t n, const struct qe_compare_opts *o, struct qe_err *err);

#endif
