#include "reports/doc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reports/gnuplot.h"

/* ---- building ---- */

void qe_doc_init(struct qe_doc *d, const char *title)
{
	memset(d, 0, sizeof(*d));
	d->title = strdup(title ? title : "");
	if (!d->title)
		d->oom = 1;
}

static void cells_free(struct qe_cell *c, size_t n)
{
	for (size_t i = 0; c && i < n; i++)
		free(c[i].text);
	free(c);
}

void qe_doc_release(struct qe_doc *d)
{
	for (size_t i = 0; i < d->n; i++) {
		struct qe_block *b = &d->blocks[i];
		size_t per = b->kind == QE_BLK_FACTS ? 2 : 1;
		free(b->text);
		free(b->id);
		for (size_t k = 0; k < b->n_items * per; k++)
			free(b->items[k]);
		free(b->items);
		cells_free(b->table.head, b->table.n_cols);
		cells_free(b->table.cells, b->table.n_rows * b->table.n_cols);
		free(b->table.numeric);
		free(b->chart);
	}
	free(d->blocks);
	free(d->title);
	memset(d, 0, sizeof(*d));
}

static char *vfmt(const char *fmt, va_list ap)
{
	va_list cp;
	char *s;
	int n;

	va_copy(cp, ap);
	n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		return NULL;
	s = malloc((size_t)n + 1);
	if (s)
		vsnprintf(s, (size_t)n + 1, fmt, ap);
	return s;
}

static struct qe_block *add(struct qe_doc *d, int kind, char *text)
{
	struct qe_block *b;

	if (d->oom || (!text && kind != QE_BLK_FACTS && kind != QE_BLK_LIST && kind != QE_BLK_TABLE)) {
		free(text);
		d->oom = 1;
		return NULL;
	}
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 32;
		struct qe_block *nb = realloc(d->blocks, cap * sizeof(*nb));
		if (!nb) {
			free(text);
			d->oom = 1;
			return NULL;
		}
		d->blocks = nb;
		d->cap = cap;
	}
	b = &d->blocks[d->n++];
	memset(b, 0, sizeof(*b));
	b->kind = kind;
	b->text = text;
	return b;
}

struct qe_block *qe_doc_heading(struct qe_doc *d, int level, const char *text)
{
	struct qe_block *b = add(d, QE_BLK_HEADING, strdup(text ? text : ""));
	char id[32];

	if (!b)
		return NULL;
	b->level = level < 1 ? 1 : level > 3 ? 3 : level;
	snprintf(id, sizeof(id), "s%zu", d->n);
	b->id = strdup(id);
	return b;
}

struct qe_block *qe_doc_para(struct qe_doc *d, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = vfmt(fmt, ap);
	va_end(ap);
	return add(d, QE_BLK_PARA, s);
}

struct qe_block *qe_doc_note(struct qe_doc *d, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = vfmt(fmt, ap);
	va_end(ap);
	return add(d, QE_BLK_NOTE, s);
}

struct qe_block *qe_doc_facts(struct qe_doc *d)
{
	return add(d, QE_BLK_FACTS, NULL);
}

struct qe_block *qe_doc_list(struct qe_doc *d)
{
	return add(d, QE_BLK_LIST, NULL);
}

/* Append per strings to b->items; the strings are taken (freed on failure). */
static void push_items(struct qe_block *b, char **s, size_t per)
{
	char **ni;
	int bad = 0;

	for (size_t i = 0; i < per; i++)
		bad |= !s[i];
	ni = bad ? NULL : realloc(b->items, (b->n_items + 1) * per * sizeof(*ni));
	if (!ni) {
		for (size_t i = 0; i < per; i++)
			free(s[i]);
		return; /* the item is lost; a report with a missing line beats no report */
	}
	b->items = ni;
	for (size_t i = 0; i < per; i++)
		ni[b->n_items * per + i] = s[i];
	b->n_items++;
}

void qe_doc_fact(struct qe_block *b, const char *label, const char *fmt, ...)
{
	va_list ap;
	char *s[2];

	if (!b)
		return;
	va_start(ap, fmt);
	s[1] = vfmt(fmt, ap);
	va_end(ap);
	s[0] = strdup(label);
	push_items(b, s, 2);
}

void qe_doc_item(struct qe_block *b, const char *fmt, ...)
{
	va_list ap;
	char *s[1];

	if (!b)
		return;
	va_start(ap, fmt);
	s[0] = vfmt(fmt, ap);
	va_end(ap);
	push_items(b, s, 1);
}

struct qe_block *qe_doc_table(struct qe_doc *d, size_t n_cols, const char *caption)
{
	struct qe_block *b = add(d, QE_BLK_TABLE, caption ? strdup(caption) : NULL);

	if (!b)
		return NULL;
	if (caption && !b->text) {
		d->oom = 1;
		return NULL;
	}
	b->table.head = calloc(n_cols ? n_cols : 1, sizeof(struct qe_cell));
	b->table.numeric = calloc(n_cols ? n_cols : 1, 1);
	if (!b->table.head || !b->table.numeric) {
		d->oom = 1;
		return NULL;
	}
	b->table.n_cols = n_cols;
	return b;
}

void qe_doc_th(struct qe_block *b, size_t col, int numeric, const char *text)
{
	if (!b || col >= b->table.n_cols)
		return;
	free(b->table.head[col].text);
	b->table.head[col].text = strdup(text ? text : "");
	b->table.numeric[col] = (unsigned char)(numeric != 0);
}

size_t qe_doc_row(struct qe_block *b)
{
	struct qe_table *t;

	if (!b)
		return 0;
	t = &b->table;
	if (t->n_rows == t->cap_rows) {
		size_t cap = t->cap_rows ? t->cap_rows * 2 : 8;
		struct qe_cell *nc = realloc(t->cells, cap * t->n_cols * sizeof(*nc));
		if (!nc)
			return (size_t)-1;
		t->cells = nc;
		t->cap_rows = cap;
	}
	memset(&t->cells[t->n_rows * t->n_cols], 0, t->n_cols * sizeof(*t->cells));
	return t->n_rows++;
}

void qe_doc_td(struct qe_block *b, size_t row, size_t col, int mark, const char *fmt, ...)
{
	struct qe_cell *c;
	va_list ap;

	if (!b || row >= b->table.n_rows || col >= b->table.n_cols)
		return;
	c = &b->table.cells[row * b->table.n_cols + col];
	free(c->text);
	va_start(ap, fmt);
	c->text = vfmt(fmt, ap);
	va_end(ap);
	c->mark = mark;
}

struct qe_block *qe_doc_chart(struct qe_doc *d, const char *caption, const char *script)
{
	struct qe_block *b = add(d, QE_BLK_CHART, strdup(caption ? caption : ""));

	if (!b)
		return NULL;
	b->chart = strdup(script ? script : "");
	if (!b->chart)
		d->oom = 1;
	return b;
}

static const char *cell_text(const struct qe_cell *c)
{
	return c->text ? c->text : "";
}

/* ---- Markdown ---- */

static void md_table(const struct qe_block *b, struct qe_text *o)
{
	const struct qe_table *t = &b->table;

	if (b->text && *b->text) {
		qe_text_md(o, b->text);
		qe_text_put(o, "\n\n");
	}
	qe_text_put(o, "|");
	for (size_t c = 0; c < t->n_cols; c++) {
		qe_text_put(o, " ");
		qe_text_md(o, cell_text(&t->head[c]));
		qe_text_put(o, " |");
	}
	qe_text_put(o, "\n|");
	for (size_t c = 0; c < t->n_cols; c++)
		qe_text_put(o, t->numeric[c] ? "---:|" : "---|");
	qe_text_put(o, "\n");
	for (size_t r = 0; r < t->n_rows; r++) {
		qe_text_put(o, "|");
		for (size_t c = 0; c < t->n_cols; c++) {
			const struct qe_cell *cell = &t->cells[r * t->n_cols + c];
			qe_text_put(o, " ");
			if (cell->mark == QE_MARK_BAD && *cell_text(cell))
				qe_text_put(o, "**");
			qe_text_md(o, cell_text(cell));
			if (cell->mark == QE_MARK_BAD && *cell_text(cell))
				qe_text_put(o, "**");
			qe_text_put(o, " |");
		}
		qe_text_put(o, "\n");
	}
	qe_text_put(o, "\n");
}

int qe_doc_md(const struct qe_doc *d, struct qe_text *o, struct qe_err *err)
{
	if (d->oom)
		return qe_fail(err, QE_ENOMEM, "out of memory building a report");
	qe_text_put(o, "# ");
	qe_text_md(o, d->title);
	qe_text_put(o, "\n\n");
	for (size_t i = 0; i < d->n; i++) {
		const struct qe_block *b = &d->blocks[i];
		switch (b->kind) {
		case QE_BLK_HEADING:
			qe_text_printf(o, "%.*s ", b->level + 1, "####");
			qe_text_md(o, b->text);
			qe_text_put(o, "\n\n");
			break;
		case QE_BLK_PARA:
			qe_text_md(o, b->text);
			qe_text_put(o, "\n\n");
			break;
		case QE_BLK_NOTE:
			qe_text_put(o, "> **Note:** ");
			qe_text_md(o, b->text);
			qe_text_put(o, "\n\n");
			break;
		case QE_BLK_FACTS:
			for (size_t k = 0; k < b->n_items; k++) {
				qe_text_put(o, "- **");
				qe_text_md(o, b->items[2 * k]);
				qe_text_put(o, ":** ");
				qe_text_md(o, b->items[2 * k + 1]);
				qe_text_put(o, "\n");
			}
			qe_text_put(o, "\n");
			break;
		case QE_BLK_LIST:
			for (size_t k = 0; k < b->n_items; k++) {
				qe_text_put(o, "- ");
				qe_text_md(o, b->items[k]);
				qe_text_put(o, "\n");
			}
			qe_text_put(o, "\n");
			break;
		case QE_BLK_TABLE:
			md_table(b, o);
			break;
		case QE_BLK_CHART:
			if (i == 0 || d->blocks[i - 1].kind != QE_BLK_CHART)
				qe_text_put(o, "Charts are in the HTML version of this report.\n\n");
			break;
		}
	}
	return qe_text_ok(o, err);
}

/* ---- HTML ---- */

static const char css[] =
	"body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif;margin:0 auto;"
	"max-width:1180px;padding:12px 14px 40px;color:#1b1f24;background:#fff}\n"
	"h1{font-size:1.45em;margin:.4em 0}h2{font-size:1.2em;border-bottom:1px solid #d0d7de;padding-bottom:.2em;"
	"margin-top:1.8em}h3{font-size:1.02em;margin-top:1.4em}\n"
	".sub{color:#57606a;margin-top:0}\n"
	".scroll{overflow-x:auto;-webkit-overflow-scrolling:touch;margin:.4em 0 1.2em;max-width:100%}\n"
	"table{border-collapse:collapse;font-size:.88em;white-space:nowrap}\n"
	"th,td{border:1px solid #d0d7de;padding:3px 8px;text-align:left;vertical-align:top}\n"
	"th{background:#f1f3f5;font-weight:600}tr:nth-child(even) td{background:#f9fafb}\n"
	"th.n,td.n{text-align:right;font-variant-numeric:tabular-nums}\n"
	"table.wrap td:last-child{white-space:normal;min-width:10em}\n"
	"td.good{color:#116329}td.bad{color:#b42318;font-weight:600}td.muted{color:#6e7781}\n"
	".cap{margin:.8em 0 .2em;color:#333}\n"
	".note{border-left:4px solid #d4a72c;background:#fff8e1;padding:6px 10px;margin:.8em 0}\n"
	"dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:.6em 0}\n"
	"dl.facts dt{font-weight:600}dl.facts dd{margin:0;overflow-wrap:anywhere}\n"
	"ul{padding-left:1.3em}li{margin:.15em 0}\n"
	"nav ul{columns:2 14em;padding-left:1.1em;margin:.3em 0}\n"
	".charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,440px),1fr));gap:14px}\n"
	"figure{margin:0}figure svg{display:block;width:100%;height:auto;border:1px solid #e5e7eb}\n"
	"figcaption{font-size:.88em;color:#444;margin-top:.3em}\n"
	"@media (max-width:600px){body{font-size:14px;padding:8px}dl.facts{grid-template-columns:1fr}"
	"dl.facts dd{margin-bottom:.4em}}\n";

static void html_table(const struct qe_block *b, struct qe_text *o)
{
	const struct qe_table *t = &b->table;
	static const char *const mark_class[] = { "", "good", "bad", "muted" };

	if (b->text && *b->text) {
		qe_text_put(o, "<p class=\"cap\">");
		qe_text_html(o, b->text);
		qe_text_put(o, "</p>\n");
	}
	qe_text_put(o, t->wrap_last ? "<div class=\"scroll\"><table class=\"wrap\">\n<thead><tr>"
				    : "<div class=\"scroll\"><table>\n<thead><tr>");
	for (size_t c = 0; c < t->n_cols; c++) {
		qe_text_put(o, t->numeric[c] ? "<th class=\"n\">" : "<th>");
		qe_text_html(o, cell_text(&t->head[c]));
		qe_text_put(o, "</th>");
	}
	qe_text_put(o, "</tr></thead>\n<tbody>\n");
	for (size_t r = 0; r < t->n_rows; r++) {
		qe_text_put(o, "<tr>");
		for (size_t c = 0; c < t->n_cols; c++) {
			const struct qe_cell *cell = &t->cells[r * t->n_cols + c];
			int m = cell->mark >= 0 && cell->mark <= 3 ? cell->mark : 0;
			if (t->numeric[c] || m) {
				qe_text_printf(o, "<td class=\"%s%s%s\">", t->numeric[c] ? "n" : "",
					       t->numeric[c] && m ? " " : "", mark_class[m]);
			} else {
				qe_text_put(o, "<td>");
			}
			qe_text_html(o, cell_text(cell));
			qe_text_put(o, "</td>");
		}
		qe_text_put(o, "</tr>\n");
	}
	qe_text_put(o, "</tbody></table></div>\n");
}

/* The page up to the first block: head, styles, title, subtitle, and a
 * table of contents when there are more than two sections. */
static void html_start(const struct qe_doc *d, const struct qe_html_opts *ho, struct qe_text *o)
{
	int n_h2 = 0;

	qe_text_put(o, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
		       "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
		       "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
		       "style-src 'unsafe-inline'; img-src data:\">\n<title>");
	qe_text_html(o, d->title);
	qe_text_put(o, "</title>\n<style>\n");
	qe_text_put(o, css);
	qe_text_put(o, "</style>\n</head>\n<body>\n<h1>");
	qe_text_html(o, d->title);
	qe_text_put(o, "</h1>\n");
	if (ho->subtitle && *ho->subtitle) {
		qe_text_put(o, "<p class=\"sub\">");
		qe_text_html(o, ho->subtitle);
		qe_text_put(o, "</p>\n");
	}
	for (size_t i = 0; i < d->n; i++)
		n_h2 += d->blocks[i].kind == QE_BLK_HEADING && d->blocks[i].level == 1;
	if (n_h2 <= 2)
		return;
	qe_text_put(o, "<nav><ul>\n");
	for (size_t i = 0; i < d->n; i++) {
		const struct qe_block *b = &d->blocks[i];
		if (b->kind != QE_BLK_HEADING || b->level != 1)
			continue;
		qe_text_put(o, "<li><a href=\"#");
		qe_text_html(o, b->id);
		qe_text_put(o, "\">");
		qe_text_html(o, b->text);
		qe_text_put(o, "</a></li>\n");
	}
	qe_text_put(o, "</ul></nav>\n");
}

/* A block other than a chart. */
static void html_block(const struct qe_block *b, struct qe_text *o)
{
	switch (b->kind) {
	case QE_BLK_HEADING:
		qe_text_printf(o, "<h%d id=\"", b->level + 1);
		qe_text_html(o, b->id);
		qe_text_put(o, "\">");
		qe_text_html(o, b->text);
		qe_text_printf(o, "</h%d>\n", b->level + 1);
		break;
	case QE_BLK_PARA:
		qe_text_put(o, "<p>");
		qe_text_html(o, b->text);
		qe_text_put(o, "</p>\n");
		break;
	case QE_BLK_NOTE:
		qe_text_put(o, "<p class=\"note\"><strong>Note:</strong> ");
		qe_text_html(o, b->text);
		qe_text_put(o, "</p>\n");
		break;
	case QE_BLK_FACTS:
		qe_text_put(o, "<dl class=\"facts\">\n");
		for (size_t k = 0; k < b->n_items; k++) {
			qe_text_put(o, "<dt>");
			qe_text_html(o, b->items[2 * k]);
			qe_text_put(o, "</dt><dd>");
			qe_text_html(o, b->items[2 * k + 1]);
			qe_text_put(o, "</dd>\n");
		}
		qe_text_put(o, "</dl>\n");
		break;
	case QE_BLK_LIST:
		qe_text_put(o, "<ul>\n");
		for (size_t k = 0; k < b->n_items; k++) {
			qe_text_put(o, "<li>");
			qe_text_html(o, b->items[k]);
			qe_text_put(o, "</li>\n");
		}
		qe_text_put(o, "</ul>\n");
		break;
	case QE_BLK_TABLE:
		html_table(b, o);
		break;
	}
}

/* What drawing the charts has come to so far. */
struct chart_state {
	int gp_dead;           /* gnuplot could not be run: no more tries */
	int drawn, failed;
	int div_open;          /* inside <div class="charts"> */
};

/* Chart block i of a run of consecutive charts (first/last: it opens/ends
 * the run): drawn as inline SVG, or a note saying why not. */
static void html_chart(const struct qe_block *b, size_t i, int first, int last, const struct qe_html_opts *ho,
		       struct chart_state *cs, struct qe_text *o)
{
	struct qe_gnuplot_opts go = { ho->gnuplot, 0, 0, NULL, 0 };
	struct qe_err cerr = { 0 };
	char prefix[32], *svg = NULL;

	if (!ho->charts || cs->gp_dead) {
		if (first && !ho->charts)
			qe_text_put(o, "<p class=\"note\"><strong>Note:</strong> charts were turned off for this report.</p>\n");
		else if (first)
			qe_text_put(o, "<p class=\"note\"><strong>Note:</strong> charts not shown: gnuplot is not "
				       "available.</p>\n");
	} else {
		if (first) {
			qe_text_put(o, "<div class=\"charts\">\n");
			cs->div_open = 1;
		}
		snprintf(prefix, sizeof(prefix), "c%zu_", i);
		go.id_prefix = prefix;
		if (qe_gnuplot_svg(&go, b->chart, &svg, &cerr) == 0) {
			qe_text_put(o, "<figure role=\"img\" aria-label=\"");
			qe_text_html(o, b->text);
			qe_text_put(o, "\">\n");
			qe_text_put(o, svg);
			qe_text_put(o, "\n<figcaption>");
			qe_text_html(o, b->text);
			qe_text_put(o, "</figcaption></figure>\n");
			cs->drawn++;
		} else if (cerr.code == QE_ENOTSUP) {
			cs->gp_dead = 1;
			qe_text_put(o, "<p class=\"note\"><strong>Note:</strong> the charts are not shown: "
				       "gnuplot is not available (");
			qe_text_html(o, cerr.msg);
			qe_text_put(o, "). Install gnuplot (Debian: gnuplot-nox) and run "
				       "'qeval report' again to draw them.</p>\n");
		} else {
			cs->failed++;
			qe_text_put(o, "<p class=\"note\"><strong>Note:</strong> the chart '");
			qe_text_html(o, b->text);
			qe_text_put(o, "' could not be drawn: ");
			qe_text_html(o, cerr.msg);
			qe_text_put(o, "</p>\n");
		}
		free(svg);
	}
	if (last && cs->div_open) {
		qe_text_put(o, "</div>\n");
		cs->div_open = 0;
	}
}

int qe_doc_html(const struct qe_doc *d, const struct qe_html_opts *ho, struct qe_text *o, struct qe_html_result *res,
		struct qe_err *err)
{
	struct qe_html_opts dflt = { 1, NULL, NULL };
	struct chart_state cs = { 0 };

	if (!ho)
		ho = &dflt;
	if (res)
		memset(res, 0, sizeof(*res));
	if (d->oom)
		return qe_fail(err, QE_ENOMEM, "out of memory building a report");
	html_start(d, ho, o);
	for (size_t i = 0; i < d->n; i++) {
		const struct qe_block *b = &d->blocks[i];
		if (b->kind == QE_BLK_CHART)
			html_chart(b, i, i == 0 || d->blocks[i - 1].kind != QE_BLK_CHART,
				   i + 1 == d->n || d->blocks[i + 1].kind != QE_BLK_CHART, ho, &cs, o);
		else
			html_block(b, o);
	}
	qe_text_put(o, "</body>\n</html>\n");
	if (res) {
		res->n_charts = cs.drawn;
		res->n_failed = cs.failed;
		res->gnuplot_missing = cs.gp_dead;
	}
	return qe_text_ok(o, err);
}
