/* qeval — a task's view: everything the reports know about one task type.
 *
 * The report code (run_doc.c, charts.c, compare.c, history.c, w_csv.c,
 * summary.c) and the driver's lm-eval export never name a task type: they
 * find the type's view with qe_view_find and use its members. Every member
 * is optional: a NULL member gets the generic default named beside it, and a
 * type without a view (an unknown type in someone's results.json) gets the
 * defaults throughout.
 *
 * A view lives beside its task (harness/tasks/<family>_view.c, which may
 * include the family's results-block keys, harness/tasks/<family>_keys.h) and
 * is reached through the task's `.view` member (harness/tasks/task.h), so a
 * new task with its view is its own files and one registry line
 * (docs/extending.md). Views are static const data and pure functions of
 * their arguments: thread-safe.
 */
#ifndef QE_REPORTS_VIEW_H
#define QE_REPORTS_VIEW_H

#include <stddef.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "harness/base/text.h"
#include "reports/doc.h"

struct qe_compare_ctx; /* reports/compare.h */

/* What a view's callbacks are told about the task they show; borrowed for
 * the call (qe_view_ctx_init fills it in). */
struct qe_view_ctx {
	const cJSON *res;          /* the run's results.json, checked by qe_results_parse */
	const cJSON *task;         /* its tasks.<name> object */
	const char *name;          /* the task instance's name ("mmlu", "pairs_zh") */
	const char *title;         /* how readers name it: qe_view_title */
	const char *ref;           /* the reference level's name, "the reference" when none */
	const struct qe_view *view; /* the task's view, NULL when its type has none */
};

/* ---- headline metrics: compare's columns, history's numbers ---- */

enum qe_view_fmt {            /* how compare prints a value */
	QE_VF_PCT_CI = 1,     /* fraction x 100, 2 decimals, with its interval: "25.13 [20.00, 30.00]" */
	QE_VF_POINTS_CI,      /* signed percentage points, 2 decimals, with its interval */
	QE_VF_PCT,            /* "25.13%" */
	QE_VF_FIX4,           /* 4 decimals */
	QE_VF_FIX3,           /* 3 decimals */
	QE_VF_SIG3,           /* 3 significant digits */
	QE_VF_RATE,           /* tokens/s: 1 decimal */
};

enum qe_view_delta {          /* how compare shows a run's difference to the baseline */
	QE_VD_NONE = 0,       /* not at all */
	QE_VD_POINTS,         /* difference in percentage points */
	QE_VD_DIFF4,          /* signed difference, 4 decimals */
	QE_VD_RATIO,          /* ratio run / baseline */
};

#define QE_VIEW_COMPARE 1u    /* a column of compare's task table */
#define QE_VIEW_HISTORY 2u    /* a number of each level in a history line */

struct qe_view_metric {
	char path[96];        /* metric path in the task's per-level block (reports/results.h); "" ends a table */
	char label[96];       /* compare's column head */
	int fmt;              /* enum qe_view_fmt */
	int delta;            /* enum qe_view_delta */
	char ci[96];          /* metric path of the value's [lo, hi] interval (QE_VF_*_CI); "" = none */
	unsigned use;         /* QE_VIEW_COMPARE | QE_VIEW_HISTORY */
};

/* ---- the run's charts (reports/charts.c draws them, in this order) ---- */

enum qe_view_chart {
	QE_CHART_ACCURACY = 1, /* accuracy vs bits/weight, with intervals; also the y of quality vs speed */
	QE_CHART_DELTA,        /* change vs the reference, one x position per level, paired intervals */
	QE_CHART_DRIFT,        /* embedding distance from the reference (1 - cosine) vs bits/weight, log y */
	QE_CHART_SPEED,        /* prompt tokens/s vs bits/weight, bars one sd clipped at 0 */
	QE_CHART_DRIFT_KL,     /* choice-distribution distance (KL, nats) vs bits/weight, log y */
	QE_CHART_SPEED_GEN,    /* generation tokens/s vs bits/weight, bars one sd clipped at 0 */
};

struct qe_view_series {
	int chart;             /* enum qe_view_chart */
	char path[96];         /* y: metric path in the task's per-level block */
	char ci[96];           /* metric path of y's [lo, hi] interval, drawn as bars; "" = none */
	char sd[96];           /* metric path of y's standard deviation, bars y +- sd; "" = none */
	char label[96];        /* the series' name after the task's title ("mean KL": "MMLU: mean KL");
				* "" = the title alone */
	int own_name;          /* 1 = label alone names the series (a speed test: "tg128") */
	double scale;          /* y = value x scale (100: a fraction as %); 0 = 1 */
};

/* The x axis of the quality vs speed chart: one speed measure of one task. */
struct qe_view_axis {
	const char *task;      /* the task instance measured; NULL = no axis (no chart) */
	char path[96];         /* metric path of x in that task's per-level block */
	char sd[96];           /* metric path of x's standard deviation (bars x +- sd); "" = none */
	char label[96];        /* what x is, for the axis and caption ("tg128") */
};

/* compare's chart of a task: one line per run over bits/weight. */
struct qe_view_trend {
	char path[96];         /* y: metric path */
	char title[200];
	char ylabel[120];
	double scale;          /* y = value x scale; 0 = 1 */
};

/* How a metric of the block reads in words (the decision lines of the reports
 * and the summary, reports/decision.c): "Δ lower 95% bound" in "pts". */
enum qe_view_unit {
	QE_VU_PLAIN = 0,      /* the number, 4 significant digits */
	QE_VU_POINTS,         /* a fraction difference as signed percentage points: "−1.67 pts" */
	QE_VU_PCT,            /* a fraction as a percentage: "25.13%" */
	QE_VU_RATIO,          /* "1.52×" */
};

struct qe_view_word {
	char path[96];        /* a metric path; one ending in "." names every path it starts ("speedup.");
			       * "" ends the table */
	char name[96];        /* what it is, after the task's title: "Δ lower 95% bound"; for a
			       * prefix, the rest of the path is appended */
	int unit;             /* enum qe_view_unit */
};

/* A level's verdict line, built part by part (reports/run_doc.c). */
struct qe_verdict {
	struct qe_text *out;
	int parts;             /* parts written so far */
};

struct qe_view {
	const char *title;     /* how readers name the task's own instance (the one named as its type):
				* "MMLU"; NULL = the instance name */

	/* headline metrics: the fixed ones (ends with an empty path; NULL = none) ... */
	const struct qe_view_metric *metrics;
	/* ... and those a level's block names itself (one per speed test): fills
	 * at most cap of out for uses `use` (one QE_VIEW_* bit); blk may be NULL */
	size_t (*block_metrics)(const cJSON *blk, unsigned use, struct qe_view_metric *out, size_t cap);
	/* whether the number at metric path `path` of a level's block blk (may be
	 * NULL) only bounds its metric from below: its mark, borrowed from blk
	 * ("top-k lower bound (K=100)": a server's top-K KL), else NULL. compare
	 * and history write such a number "≥" (reports/bound.h). NULL member =
	 * every number is its metric's value */
	const char *(*lower_bound)(const cJSON *blk, const char *path);
	/* derived metrics (reports/results.h: "flip_rate", ...) that apply, NULL-terminated;
	 * summary.csv adds a row of each after the block's own. NULL = none */
	const char *const *derived;

	/* ---- the run's report (reports/run_doc.c) ---- */
	/* what the task measured, for the "Tasks" fact ("25 items"); NULL = "<n_items> items" */
	void (*amount)(const struct qe_view_ctx *c, struct qe_text *out);
	/* notes a reader must not miss (items that could not be scored); NULL = none */
	void (*notes)(const struct qe_view_ctx *c, struct qe_doc *d);
	/* the task's parts of the verdict of a non-reference level that ran and has
	 * the task's block (each started with qe_verdict_part); NULL = none */
	void (*verdict)(const struct qe_view_ctx *c, const char *level, struct qe_verdict *v);
	int verdict_first;     /* 1 = its parts come before the other tasks' (what a level gains in
				* speed before what it loses in quality) */
	/* the task's section: heading, paragraph, tables; NULL = a heading and a line saying the
	 * report has no table for the type */
	void (*section)(const struct qe_view_ctx *c, struct qe_doc *d);

	/* how the block's metrics read in words, for the decision lines (ends with
	 * an empty path); NULL = paths and plain numbers */
	const struct qe_view_word *words;
	/* metric path of the number of items a level's numbers rest on ("n_scored"):
	 * a gate rule's "min_n" reads it; NULL = the task has no such count */
	const char *n_path;

	/* ---- charts (reports/charts.c) ---- */
	/* the task's series in the run's charts: fills at most cap of out; NULL = none */
	size_t (*series)(const struct qe_view_ctx *c, struct qe_view_series *out, size_t cap);
	/* offer the task's speed measure as the x of the quality vs speed chart: ax
	 * holds the choice among earlier tasks; replace it where this one is
	 * better. NULL = the task measures no speed */
	void (*speed_axis)(const struct qe_view_ctx *c, struct qe_view_axis *ax);

	/* ---- compare (reports/compare.c) ---- */
	/* what else must match, beyond type, n_items and settings, for two runs'
	 * numbers to be compared: add each difference with qe_compare_why.
	 * NULL = qe_compare_limit (the same --limit) */
	void (*comparable)(struct qe_compare_ctx *c);
	/* compare's chart of the task (c describes the baseline run's task):
	 * 1 = t filled in; NULL or 0 = no chart */
	int (*trend)(const struct qe_view_ctx *c, struct qe_view_trend *t);

	/* ---- elsewhere ---- */
	/* the task's rows of the table `qeval run` prints when done (reports/summary.c
	 * prints the task's heading line); NULL = the heading alone */
	void (*summary)(const cJSON *task, FILE *out);
	/* add level `level`'s numbers of task instance `task` (its block blk) to
	 * results.json's lm-evaluation-harness-shaped object lm
	 * (lm.<level>.results.<name> = {"acc,none", ...}); NULL = nothing */
	void (*lm_eval)(cJSON *lm, const char *level, const char *task, const cJSON *blk);
	/* fill an MTEB score dict (its names: "cosine_spearman", "ndcg_at_10", ...,
	 * and "main_score") from a level's block; 1 = filled, 0 = nothing to say.
	 * NULL = the task has no MTEB-shaped export (reports/w_mteb.c) */
	int (*mteb)(const cJSON *blk, cJSON *scores);
};

/* The view of task type `type` (qe_results_task_type), or NULL when the type
 * has none or is unknown. Defined by the task registry
 * (harness/tasks/registry.c). */
const struct qe_view *qe_view_find(const char *type);

/* How readers name task instance `name` of type `type`: the view's title for
 * the instance named as its type ("mmlu" -> "MMLU"), else the name itself.
 * Static storage or name. */
const char *qe_view_title(const char *name, const char *type);

/* Fill c for task (an entry of res's "tasks"). */
void qe_view_ctx_init(struct qe_view_ctx *c, const cJSON *res, const cJSON *task);

/* Start the next part of a verdict line (", " after the first) and return
 * the text to append it to. */
struct qe_text *qe_verdict_part(struct qe_verdict *v);

/* For views' sections (reports/run_doc.c): the first cells of a task's row
 * for level lv (level, size, bits/weight). Returns 1 when the level has a
 * block to show (blk != NULL); else fills the rest of the row with why not
 * and returns 0. */
int qe_run_row_start(const cJSON *res, const cJSON *lv, const cJSON *blk, struct qe_block *tb, size_t row);

/* The same with size and bits/weight in columns size_col and size_col + 1
 * (a table that puts its headline numbers first, to be seen on a phone
 * without scrolling); why there is no block goes in column 1 (3 when
 * size_col is 1). */
int qe_run_row_start_at(const cJSON *res, const cJSON *lv, const cJSON *blk, struct qe_block *tb, size_t row,
			size_t size_col);

#endif
