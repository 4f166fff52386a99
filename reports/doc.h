/* qeval — a report as a document: headings, paragraphs, facts, lists, notes,
 * tables and charts, built once from results and rendered by the Markdown and
 * HTML writers (and by compare and history). All text in a document is plain
 * UTF-8 as it came from the data; each renderer escapes it for its format, so
 * a builder never escapes anything.
 *
 * A struct qe_doc is caller-owned storage: qe_doc_init, add blocks (every
 * string is copied), render, qe_doc_release. On allocation failure the doc is
 * marked (oom = 1) and later adds are ignored; renderers then fail with
 * QE_ENOMEM. Not thread-safe on one doc.
 */
#ifndef QE_REPORTS_DOC_H
#define QE_REPORTS_DOC_H

#include <stddef.h>

#include "harness/base/err.h"
#include "reports/text.h"

enum qe_block_kind {
	QE_BLK_HEADING, /* text, level 1..3 */
	QE_BLK_PARA,    /* text */
	QE_BLK_NOTE,    /* text: a warning the reader must not miss (partial run, failed level) */
	QE_BLK_FACTS,   /* items as label/value pairs: "Model: ..." */
	QE_BLK_LIST,    /* items: a bullet list */
	QE_BLK_TABLE,   /* a table, caption in text */
	QE_BLK_CHART,   /* a gnuplot chart: script in chart, caption in text */
};

/* Cell marks: how a renderer may colour a cell. */
enum qe_cell_mark { QE_MARK_NONE = 0, QE_MARK_GOOD = 1, QE_MARK_BAD = 2, QE_MARK_MUTED = 3 };

struct qe_cell {
	char *text;                /* owned; "" for an empty cell */
	int mark;                  /* enum qe_cell_mark */
};

struct qe_table {
	size_t n_cols, n_rows;     /* n_rows excludes the header */
	struct qe_cell *head;      /* [n_cols] */
	struct qe_cell *cells;     /* [n_rows][n_cols], row-major */
	unsigned char *numeric;    /* [n_cols] 1 = right-aligned numbers */
	int wrap_last;             /* 1 = the last column's text wraps (sentences) instead of scrolling */
	size_t cap_rows;
};

struct qe_block {
	int kind;                  /* enum qe_block_kind */
	int level;                 /* headings: 1..3 */
	char *text;                /* heading, paragraph, note, table caption or chart caption; owned */
	char *id;                  /* headings: anchor id (ASCII, unique in the doc), owned, may be NULL */
	size_t n_items;
	char **items;              /* facts: [n_items][2] label, value; lists: [n_items]; owned */
	struct qe_table table;     /* QE_BLK_TABLE */
	char *chart;               /* QE_BLK_CHART: gnuplot commands that draw one plot (no terminal
				    * or output lines); owned */
};

struct qe_doc {
	char *title;               /* owned */
	struct qe_block *blocks;   /* [n], owned */
	size_t n, cap;
	int oom;
};

void qe_doc_init(struct qe_doc *d, const char *title);
void qe_doc_release(struct qe_doc *d);

/* Each add returns the new block (valid until the next add) or NULL on oom. */
struct qe_block *qe_doc_heading(struct qe_doc *d, int level, const char *text);
struct qe_block *qe_doc_para(struct qe_doc *d, const char *fmt, ...) QE_PRINTF(2, 3);
struct qe_block *qe_doc_note(struct qe_doc *d, const char *fmt, ...) QE_PRINTF(2, 3);
struct qe_block *qe_doc_facts(struct qe_doc *d);
void qe_doc_fact(struct qe_block *b, const char *label, const char *fmt, ...) QE_PRINTF(3, 4);
struct qe_block *qe_doc_list(struct qe_doc *d);
void qe_doc_item(struct qe_block *b, const char *fmt, ...) QE_PRINTF(2, 3);
/* A table with n_cols columns; caption may be NULL. Set header cells with
 * qe_doc_th, then add rows with qe_doc_row and fill them with qe_doc_td. */
struct qe_block *qe_doc_table(struct qe_doc *d, size_t n_cols, const char *caption);
void qe_doc_th(struct qe_block *b, size_t col, int numeric, const char *text);
size_t qe_doc_row(struct qe_block *b);                /* index of the new row */
void qe_doc_td(struct qe_block *b, size_t row, size_t col, int mark, const char *fmt, ...) QE_PRINTF(5, 6);
/* A chart: script draws one plot; caption says what it shows. */
struct qe_block *qe_doc_chart(struct qe_doc *d, const char *caption, const char *script);

/* Renderers. */
struct qe_html_opts {
	int charts;            /* 1 = draw QE_BLK_CHART blocks with gnuplot, 0 = leave them out */
	const char *gnuplot;   /* the gnuplot program, NULL = $QE_GNUPLOT, else "gnuplot" */
	const char *subtitle;  /* a line under the title, may be NULL */
};

/* What qe_doc_html drew. */
struct qe_html_result {
	int n_charts;          /* charts drawn */
	int n_failed;          /* charts gnuplot could not draw (each says so on the page) */
	int gnuplot_missing;   /* 1 = gnuplot could not be run: no charts, the page says so */
};

/* Markdown (CommonMark + GitHub tables). Charts become one line pointing at the HTML. */
int qe_doc_md(const struct qe_doc *d, struct qe_text *out, struct qe_err *err);
/* One self-contained HTML file: inline CSS, inline SVG charts, no script, no
 * external resource (a Content-Security-Policy says so to the browser). When
 * gnuplot is missing or a chart fails, the page says so where the charts
 * would be. r may be NULL. */
int qe_doc_html(const struct qe_doc *d, const struct qe_html_opts *o, struct qe_text *out, struct qe_html_result *r,
		struct qe_err *err);

#endif
