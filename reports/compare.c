#include "reports/compare.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/base/sys.h"
#include "reports/bound.h"
#include "reports/charts.h"
#include "reports/fmt.h"
#include "reports/report_impl.h"
#include "reports/results.h"
#include "reports/view.h"

#define B QE_FMT_CAP
#define MAX_RUNS 32

struct qe_compare_opts qe_compare_default_opts(void)
{
	struct qe_compare_opts o;

	memset(&o, 0, sizeof(o));
	o.charts = 1;
	return o;
}

/* ---- comparability ---- */

void qe_compare_why(struct qe_compare_ctx *c, const char *fmt, ...)
{
	size_t len = strlen(c->why);
	va_list ap;

	if (len && len + 2 < c->cap) {
		strcat(c->why, "; ");
		len += 2;
	}
	if (len >= c->cap)
		return;
	va_start(ap, fmt);
	vsnprintf(c->why + len, c->cap - len, fmt, ap);
	va_end(ap);
}

static void scalar_text(const cJSON *v, char *buf, size_t cap)
{
	char *s;

	if (!v) {
		snprintf(buf, cap, "(none)");
	} else if (cJSON_IsString(v)) {
		snprintf(buf, cap, "%s", v->valuestring);
	} else if (cJSON_IsNumber(v)) {
		char n[32];
		snprintf(buf, cap, "%s", qe_fmt_num(n, v->valuedouble));
	} else {
		s = cJSON_PrintUnformatted(v);
		snprintf(buf, cap, "%s", s ? s : "?");
		free(s);
	}
}

/* The first setting that differs, "shots=5 vs shots=0". */
static void settings_diff(const cJSON *sa, const cJSON *sb, char *out, size_t cap)
{
	const cJSON *it;
	char x[128], y[128];

	out[0] = '\0';
	for (int pass = 0; pass < 2 && !out[0]; pass++) {
		const cJSON *from = pass ? sb : sa;
		cJSON_ArrayForEach(it, from) {
			const cJSON *other = cJSON_GetObjectItemCaseSensitive(pass ? sa : sb, it->string);
			if (other && cJSON_Compare(it, other, 1))
				continue;
			scalar_text(pass ? other : it, x, sizeof(x));
			scalar_text(pass ? it : other, y, sizeof(y));
			snprintf(out, cap, "%s=%s vs %s", it->string, y, x);
			break;
		}
	}
}

int qe_compare_same_num(const cJSON *a, const cJSON *b, const char *key)
{
	double x = qe_json_num(a, key, NAN), y = qe_json_num(b, key, NAN);
	return x == y || (isnan(x) && isnan(y));
}

void qe_compare_limit(struct qe_compare_ctx *c)
{
	const cJSON *ra = cJSON_GetObjectItemCaseSensitive(c->a, "run"), *rb = cJSON_GetObjectItemCaseSensitive(c->b, "run");
	char x[B], y[B];

	if (!qe_compare_same_num(ra, rb, "limit") || qe_json_bool(ra, "partial", 0) != qe_json_bool(rb, "partial", 0))
		qe_compare_why(c, "--limit %s vs %s", qe_fmt_count(x, B, qe_json_num(rb, "limit", NAN)),
			       qe_fmt_count(y, B, qe_json_num(ra, "limit", NAN)));
}

void qe_compare_counts(struct qe_compare_ctx *c, const char *key, const char *noun)
{
	const cJSON *la, *lb;
	char x[B], y[B];

	cJSON_ArrayForEach(lb, cJSON_GetObjectItemCaseSensitive(c->tb, "levels")) {
		la = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(c->ta, "levels"), lb->string);
		if (!cJSON_IsObject(la) || !cJSON_IsObject(lb))
			continue;
		if (c->why[0])
			break; /* per-level counts add nothing to a difference already named */
		if (!qe_compare_same_num(la, lb, key))
			qe_compare_why(c, "at %s %s %s vs %s", lb->string, qe_fmt_count(x, B, qe_json_num(lb, key, NAN)), noun,
				       qe_fmt_count(y, B, qe_json_num(la, key, NAN)));
	}
}

int qe_compare_task(const cJSON *a, const cJSON *b, const char *task, char *why, size_t cap)
{
	const cJSON *ta = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(a, "tasks"), task);
	const cJSON *tb = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(b, "tasks"), task);
	const char *type = qe_results_task_type(ta);
	const struct qe_view *v = qe_view_find(type);
	struct qe_compare_ctx c = { a, b, ta, tb, why, cap };
	char x[B], y[B], diff[300];

	why[0] = '\0';
	if (!ta || !tb) {
		snprintf(why, cap, "the task is not in both runs");
		return 0;
	}
	if (strcmp(type, qe_results_task_type(tb)) != 0)
		qe_compare_why(&c, "task type %s vs %s", qe_results_task_type(tb), type);
	if (!qe_compare_same_num(ta, tb, "n_items"))
		qe_compare_why(&c, "%s items vs %s", qe_fmt_count(x, B, qe_json_num(tb, "n_items", NAN)),
			       qe_fmt_count(y, B, qe_json_num(ta, "n_items", NAN)));
	if (!cJSON_Compare(cJSON_GetObjectItemCaseSensitive(ta, "settings"), cJSON_GetObjectItemCaseSensitive(tb, "settings"),
			   1)) {
		settings_diff(cJSON_GetObjectItemCaseSensitive(ta, "settings"), cJSON_GetObjectItemCaseSensitive(tb, "settings"),
			      diff, sizeof(diff));
		qe_compare_why(&c, "settings differ (%s)", diff[0] ? diff : "settings present in one run only");
	}
	if (v && v->comparable)
		v->comparable(&c);
	else
		qe_compare_limit(&c);
	return why[0] == '\0';
}

/* ---- the document ---- */

#define MAX_COLS 24

/* A task's columns: its view's fixed metrics for compare, then those its
 * blocks name (union over the runs' levels, first-seen order); at most cap. */
static size_t task_cols(const cJSON *const *res, size_t n, const char *task, const struct qe_view *v,
			struct qe_view_metric *c, size_t cap)
{
	size_t k = 0;

	for (const struct qe_view_metric *m = v ? v->metrics : NULL; m && m->path[0] && k < cap; m++)
		if (m->use & QE_VIEW_COMPARE)
			c[k++] = *m;
	for (size_t i = 0; i < n && v && v->block_metrics && k < cap; i++) {
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(res[i], "tasks"), task);
		const cJSON *blk;
		cJSON_ArrayForEach(blk, cJSON_GetObjectItemCaseSensitive(t, "levels")) {
			struct qe_view_metric more[MAX_COLS];
			size_t nm = v->block_metrics(blk, QE_VIEW_COMPARE, more, MAX_COLS);
			for (size_t j = 0; j < nm; j++) {
				size_t e;
				for (e = 0; e < k && strcmp(c[e].path, more[j].path); e++)
					;
				if (e == k && k < cap)
					c[k++] = more[j];
			}
		}
	}
	return k;
}

static void fmt_value(const cJSON *res, const char *task, const char *level, const struct qe_view_metric *c, char *out,
		      size_t cap)
{
	char a[B], b[B], x[B], ci0[128], ci1[128];
	double v, lo = NAN, hi = NAN;

	if (qe_metric_get(res, task, level, c->path, &v) != QE_METRIC_OK)
		v = NAN;
	if (c->ci[0]) {
		snprintf(ci0, sizeof(ci0), "%s[0]", c->ci);
		snprintf(ci1, sizeof(ci1), "%s[1]", c->ci);
		if (qe_metric_get(res, task, level, ci0, &lo) != QE_METRIC_OK)
			lo = NAN;
		if (qe_metric_get(res, task, level, ci1, &hi) != QE_METRIC_OK)
			hi = NAN;
	}
	switch (c->fmt) {
	case QE_VF_PCT_CI:
		snprintf(out, cap, "%s [%s, %s]", qe_fmt_fixed(x, B, 100 * v, 2, 0), qe_fmt_fixed(a, B, 100 * lo, 2, 0),
			 qe_fmt_fixed(b, B, 100 * hi, 2, 0));
		if (isnan(v))
			snprintf(out, cap, "%s", QE_DASH);
		break;
	case QE_VF_POINTS_CI:
		snprintf(out, cap, "%s [%s, %s]", qe_fmt_points(x, B, v, 2), qe_fmt_points(a, B, lo, 2), qe_fmt_points(b, B, hi, 2));
		if (isnan(v))
			snprintf(out, cap, "%s", QE_DASH);
		break;
	case QE_VF_PCT: snprintf(out, cap, "%s", qe_fmt_pct(x, B, v, 2)); break;
	case QE_VF_FIX4: snprintf(out, cap, "%s", qe_fmt_fixed(x, B, v, 4, 0)); break;
	case QE_VF_FIX3: snprintf(out, cap, "%s", qe_fmt_fixed(x, B, v, 3, 0)); break;
	case QE_VF_SIG3: snprintf(out, cap, "%s", qe_fmt_sig(x, B, v, 3)); break;
	default: snprintf(out, cap, "%s", qe_fmt_fixed(x, B, v, 1, 0)); break;
	}
}

/* The mark of run res's number at task/level/path when it is a lower bound of
 * its metric (the view's lower_bound), else NULL. */
static const char *bound_mark(const struct qe_view *v, const cJSON *res, const char *task, const char *level,
			      const char *path)
{
	return v && v->lower_bound ? v->lower_bound(qe_results_block(res, task, level), path) : NULL;
}

static const char *run_str(const cJSON *res, const char *obj, const char *key)
{
	const char *s = qe_json_str(cJSON_GetObjectItemCaseSensitive(res, obj), key, NULL);
	return s && *s ? s : QE_DASH;
}

static void runs_table(const cJSON *const *res, const char *const *labels, size_t n, struct qe_doc *d)
{
	static const char *const head[] = { "Run", "Directory", "Model", "sha256", "Engine", "Machine", "Written",
					    "Levels", "Data" };
	struct qe_block *tb;
	char a[B];

	qe_doc_heading(d, 1, "Runs");
	tb = qe_doc_table(d, 9, NULL);
	for (size_t c = 0; c < 9; c++)
		qe_doc_th(tb, c, 0, head[c]);
	for (size_t i = 0; i < n; i++) {
		const cJSON *run = cJSON_GetObjectItemCaseSensitive(res[i], "run"), *lv;
		struct qe_text t = { 0 };
		size_t r = qe_doc_row(tb);
		int k = 0;
		qe_doc_td(tb, r, 0, 0, "%s%s", labels[i], i == 0 ? " (baseline)" : "");
		qe_doc_td(tb, r, 1, 0, "%s", run_str(res[i], "run", "dir"));
		qe_doc_td(tb, r, 2, 0, "%s", run_str(res[i], "model", "source"));
		qe_doc_td(tb, r, 3, 0, "%.12s", run_str(res[i], "model", "sha256"));
		qe_doc_td(tb, r, 4, 0, "%s", run_str(res[i], "engine", "version"));
		qe_doc_td(tb, r, 5, 0, "%s", run_str(res[i], "machine", "cpu"));
		qe_doc_td(tb, r, 6, 0, "%s", qe_json_str(res[i], "created", QE_DASH));
		cJSON_ArrayForEach(lv, cJSON_GetObjectItemCaseSensitive(res[i], "levels")) {
			const char *st = qe_json_str(lv, "status", NULL);
			qe_text_printf(&t, "%s%s", k++ ? ", " : "", qe_json_str(lv, "name", "?"));
			if (st && strcmp(st, "ok"))
				qe_text_printf(&t, " (%s)", st);
		}
		qe_doc_td(tb, r, 7, 0, "%s", qe_text_str(&t));
		qe_text_release(&t);
		if (qe_json_bool(run, "partial", 0))
			qe_doc_td(tb, r, 8, QE_MARK_BAD, "partial (--limit %s)", qe_fmt_count(a, B, qe_json_num(run, "limit", NAN)));
		else
			qe_doc_td(tb, r, 8, 0, "full%s", qe_json_bool(run, "complete", 1) ? "" : ", incomplete");
	}
}

/* The header of a task's table: run, level, bits/weight, each column, then a
 * difference column for each column that has one. */
static void task_head(struct qe_block *tb, const struct qe_view_metric *cols, size_t nc, const char *base_label)
{
	char h[160];

	qe_doc_th(tb, 0, 0, "Run");
	qe_doc_th(tb, 1, 0, "Level");
	qe_doc_th(tb, 2, 1, "Bits/weight");
	for (size_t k = 0, j = 0; k < nc; k++) {
		char *p;
		qe_doc_th(tb, 3 + k, 1, cols[k].label);
		if (cols[k].delta == QE_VD_NONE)
			continue;
		snprintf(h, sizeof(h), "%s %s vs %s%s", cols[k].delta == QE_VD_RATIO ? "\xc3\x97" : "\xce\x94", cols[k].label,
			 base_label, cols[k].delta == QE_VD_POINTS ? ", points" : "");
		/* the interval belongs to the value, not to the difference */
		if ((p = strstr(h, " [95% CI]")))
			memmove(p, p + 9, strlen(p + 9) + 1);
		qe_doc_th(tb, 3 + nc + j++, 1, h);
	}
}

/* Run i's difference to the baseline in column c at level nm; where either
 * number is a lower bound, "≥"/"≤" before it or "(bounds)" after it
 * (reports/bound.h). */
static void delta_cell(const cJSON *const *res, size_t i, size_t base, int comparable, const char *task,
		       const char *nm, const struct qe_view *vw, const struct qe_view_metric *c, struct qe_block *tb,
		       size_t r, size_t col)
{
	const char *dir;
	char a[B];
	double v, w;

	if (i == base) {
		qe_doc_td(tb, r, col, QE_MARK_MUTED, "baseline");
	} else if (!comparable) {
		qe_doc_td(tb, r, col, QE_MARK_MUTED, "not comparable");
	} else if (qe_metric_get(res[i], task, nm, c->path, &v) != QE_METRIC_OK ||
		   qe_metric_get(res[base], task, nm, c->path, &w) != QE_METRIC_OK) {
		qe_doc_td(tb, r, col, QE_MARK_MUTED, "%s", QE_DASH);
	} else {
		if (c->delta == QE_VD_POINTS)
			qe_fmt_points(a, B, v - w, 2);
		else if (c->delta == QE_VD_DIFF4)
			qe_fmt_fixed(a, B, v - w, 4, 1);
		else
			qe_fmt_ratio(a, B, w != 0 ? v / w : NAN);
		dir = !strcmp(a, QE_DASH) ? "" : qe_bound_diff(c->delta, bound_mark(vw, res[i], task, nm, c->path) != NULL,
							       bound_mark(vw, res[base], task, nm, c->path) != NULL, v, w);
		qe_doc_td(tb, r, col, 0, "%s%s%s", dir ? dir : "", a, dir ? "" : QE_BOUND_NONE);
	}
}

/* Run i's rows of a task's table, one per level; a number that is a lower
 * bound of its metric (the view's lower_bound) written "≥". */
static void task_rows(const cJSON *const *res, size_t i, size_t base, int comparable, const char *task,
		      const char *label, const struct qe_view *vw, const struct qe_view_metric *cols, size_t nc, size_t nd,
		      struct qe_block *tb)
{
	const cJSON *lv;
	char a[B], cell[200];

	cJSON_ArrayForEach(lv, qe_results_levels(res[i])) {
		const char *nm = qe_json_str(lv, "name", NULL), *st = qe_json_str(lv, "status", NULL);
		const cJSON *blk = qe_results_block(res[i], task, nm);
		size_t r = qe_doc_row(tb);
		qe_doc_td(tb, r, 0, 0, "%s", label);
		qe_doc_td(tb, r, 1, 0, "%s", nm ? nm : "?");
		qe_doc_td(tb, r, 2, 0, "%s", qe_fmt_fixed(a, B, qe_json_num(lv, "bpw", NAN), 2, 0));
		if (!blk) {
			for (size_t k = 3; k < 3 + nc + nd; k++)
				qe_doc_td(tb, r, k, QE_MARK_MUTED, "%s", QE_DASH);
			qe_doc_td(tb, r, 3, st && !strcmp(st, "failed") ? QE_MARK_BAD : QE_MARK_MUTED, "%s",
				  st && strcmp(st, "ok") ? st : "no results");
			continue;
		}
		for (size_t k = 0, j = 0; k < nc; k++) {
			fmt_value(res[i], task, nm, &cols[k], cell, sizeof(cell));
			qe_doc_td(tb, r, 3 + k, 0, "%s%s",
				  strcmp(cell, QE_DASH) && bound_mark(vw, res[i], task, nm, cols[k].path) ? QE_BOUND_GE : "", cell);
			if (cols[k].delta != QE_VD_NONE)
				delta_cell(res, i, base, comparable, task, nm, vw, &cols[k], tb, r, 3 + nc + j++);
		}
	}
}

/* A note per run and level whose numbers in the task's columns are lower
 * bounds of their metrics, naming them and the bound; and, where a shown
 * difference to the baseline rests on one, how to read it. */
static void bound_notes(const cJSON *const *res, const char *const *labels, size_t n, size_t base,
			const int *comparable, const char *task, const char *title, const struct qe_view *v,
			const struct qe_view_metric *cols, size_t nc, struct qe_doc *d)
{
	int in_diff = 0;

	for (size_t i = 0; i < n; i++) {
		const cJSON *lv;
		cJSON_ArrayForEach(lv, qe_results_levels(res[i])) {
			const char *nm = qe_json_str(lv, "name", NULL), *mark = NULL, *m, *which[MAX_COLS];
			struct qe_text t = { 0 };
			size_t nb = 0;
			for (size_t k = 0; k < nc; k++) {
				m = bound_mark(v, res[i], task, nm, cols[k].path);
				if (i != base && comparable[i] && cols[k].delta != QE_VD_NONE &&
				    (m || bound_mark(v, res[base], task, nm, cols[k].path)))
					in_diff = 1;
				if (m) {
					mark = m;
					which[nb++] = cols[k].label;
				}
			}
			if (!mark)
				continue;
			for (size_t k = 0; k < nb; k++)
				qe_text_printf(&t, "%s%s", k == 0 ? "" : k + 1 == nb ? " and " : ", ", which[k]);
			qe_doc_note(d, "%s of %s at %s: %s %s a %s, written %sthe number: the metric is at least that", title,
				    labels[i], nm ? nm : "?", qe_text_str(&t), nb > 1 ? "are" : "is", mark, QE_BOUND_GE);
			qe_text_release(&t);
		}
	}
	if (in_diff)
		qe_doc_note(d, "%s: a difference to %s where one of the two numbers is a lower bound is itself a bound, "
			       "written %sor %sthe difference; where both are, it bounds nothing and is followed by%s",
			    title, labels[base], QE_BOUND_GE, QE_BOUND_LE, QE_BOUND_NONE);
}

static void task_section(const cJSON *const *res, const char *const *labels, size_t n, const char *task,
			 const char *type, struct qe_doc *d)
{
	const struct qe_view *v = qe_view_find(type);
	const char *title = qe_view_title(task, type);
	struct qe_view_metric cols[MAX_COLS];
	size_t nc = task_cols(res, n, task, v, cols, MAX_COLS), nd = 0, base = 0;
	int comparable[MAX_RUNS];
	char why[MAX_RUNS][600];
	struct qe_block *tb;
	int have_base = 0;

	/* the baseline is the first run that has the task */
	for (size_t i = 0; i < n; i++) {
		if (cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(res[i], "tasks"), task)) {
			base = i;
			have_base = 1;
			break;
		}
	}
	if (!have_base)
		return;
	qe_doc_heading(d, 1, title);
	for (size_t i = 0; i < n; i++) {
		comparable[i] = i == base || qe_compare_task(res[base], res[i], task, why[i], sizeof(why[i]));
		if (i == base)
			why[i][0] = '\0';
		else if (!comparable[i] && cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(res[i], "tasks"), task))
			qe_doc_note(d, "%s of %s was not measured on the same items and settings as %s's (%s): no "
				       "difference to %s is shown for it",
				    title, labels[i], labels[base], why[i], labels[base]);
	}
	bound_notes(res, labels, n, base, comparable, task, title, v, cols, nc, d);
	for (size_t k = 0; k < nc; k++)
		nd += cols[k].delta != QE_VD_NONE;
	tb = qe_doc_table(d, 3 + nc + nd, NULL);
	task_head(tb, cols, nc, labels[base]);
	for (size_t i = 0; i < n; i++)
		if (cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(res[i], "tasks"), task))
			task_rows(res, i, base, comparable[i], task, labels[i], v, cols, nc, nd, tb);
}

/* compare's chart of one task (t: the baseline's tasks.<name>): its view's
 * trend, one line per run that is comparable with the baseline. */
static void compare_chart(const cJSON *const *res, const char *const *labels, size_t n, const cJSON *t, int *headed,
			  struct qe_doc *d)
{
	struct qe_chart_series s[MAX_RUNS];
	struct qe_chart_point *pts[MAX_RUNS];
	struct qe_chart_spec sp;
	struct qe_view_ctx vc;
	struct qe_view_trend tr;
	char left_out[400], bounds[400], cap[1100];
	char *script;
	size_t ns = 0;

	qe_view_ctx_init(&vc, res[0], t);
	memset(&tr, 0, sizeof(tr));
	if (!vc.view || !vc.view->trend || !vc.view->trend(&vc, &tr))
		return;
	left_out[0] = bounds[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		const cJSON *lv, *levels = qe_results_levels(res[i]);
		size_t k = 0;
		char why[600];
		if (i > 0 && !qe_compare_task(res[0], res[i], t->string, why, sizeof(why))) {
			size_t len = strlen(left_out);
			snprintf(left_out + len, sizeof(left_out) - len, "%s%s", len ? ", " : "", labels[i]);
			continue;
		}
		pts[ns] = calloc((size_t)cJSON_GetArraySize(levels) + 1, sizeof(**pts));
		if (!pts[ns])
			break;
		cJSON_ArrayForEach(lv, levels) {
			double v;
			const char *nm = qe_json_str(lv, "name", NULL);
			if (qe_metric_get(res[i], t->string, nm, tr.path, &v) != QE_METRIC_OK)
				continue;
			pts[ns][k].x = qe_json_num(lv, "bpw", NAN);
			pts[ns][k].y = (tr.scale ? tr.scale : 1) * v;
			pts[ns][k].lo = pts[ns][k].hi = NAN;
			pts[ns][k].label = i == 0 ? nm : NULL;
			k++;
			if (bound_mark(vc.view, res[i], t->string, nm, tr.path)) {
				size_t len = strlen(bounds);
				snprintf(bounds + len, sizeof(bounds) - len, "%s%s at %s", len ? ", " : "", labels[i], nm);
			}
		}
		s[ns] = (struct qe_chart_series){ .title = labels[i], .pts = pts[ns], .n = k, .line = 1 };
		ns++;
	}
	memset(&sp, 0, sizeof(sp));
	sp.title = tr.title;
	sp.xlabel = "bits/weight";
	sp.ylabel = tr.ylabel;
	sp.logx = 1;
	script = qe_chart_script(&sp, s, ns);
	if (script) {
		if (!*headed) {
			qe_doc_heading(d, 1, "Charts");
			*headed = 1;
		}
		if (left_out[0])
			snprintf(cap, sizeof(cap), "One line per run. Left out, because not measured on the same items "
						   "and settings as %s: %s.", labels[0], left_out);
		else
			snprintf(cap, sizeof(cap), "One line per run.");
		if (bounds[0]) {
			size_t len = strlen(cap);
			snprintf(cap + len, sizeof(cap) - len, " Lower bounds of the metric, not its value: %s.", bounds);
		}
		qe_doc_chart(d, cap, script);
		free(script);
	}
	for (size_t i = 0; i < ns; i++)
		free(pts[i]);
}

static void compare_charts(const cJSON *const *res, const char *const *labels, size_t n, struct qe_doc *d)
{
	const cJSON *task;
	int headed = 0;

	cJSON_ArrayForEach(task, cJSON_GetObjectItemCaseSensitive(res[0], "tasks"))
		compare_chart(res, labels, n, task, &headed, d);
}

int qe_compare_doc(const cJSON *const *res, const char *const *labels, size_t n, int with_charts, struct qe_doc *d,
		   struct qe_err *err)
{
	const char *names[128], *types[128];
	size_t nt = 0;
	struct qe_text t = { 0 };

	if (n < 2 || n > MAX_RUNS)
		return qe_fail(err, QE_EINVAL, "compare wants 2 to %d runs, not %zu", MAX_RUNS, n);
	for (size_t i = 0; i < n; i++)
		qe_text_printf(&t, "%s%s", i ? (i + 1 == n ? " and " : ", ") : "", labels[i]);
	{
		char title[600];
		if (n <= 4)
			snprintf(title, sizeof(title), "qeval compare: %s", qe_text_str(&t));
		else
			snprintf(title, sizeof(title), "qeval compare: %zu runs", n);
		qe_doc_init(d, title);
	}
	qe_text_release(&t);
	qe_doc_para(d, "The first run, %s, is the baseline. A task's differences to it are shown only where the task was "
		       "measured alike: the same items, settings and --limit (and for speed the same CPU and threads). "
		       "Each level's own comparison with its run's reference is shown as it is.", labels[0]);
	runs_table(res, labels, n, d);
	/* tasks in first-seen order over all runs */
	for (size_t i = 0; i < n; i++) {
		const cJSON *task;
		cJSON_ArrayForEach(task, cJSON_GetObjectItemCaseSensitive(res[i], "tasks")) {
			size_t k;
			for (k = 0; k < nt && strcmp(names[k], task->string); k++)
				;
			if (k == nt && nt < 128) {
				names[nt] = task->string;
				types[nt++] = qe_results_task_type(task);
			}
		}
	}
	if (with_charts)
		compare_charts(res, labels, n, d);
	for (size_t k = 0; k < nt; k++)
		task_section(res, labels, n, names[k], types[k], d);
	return d->oom ? qe_fail(err, QE_ENOMEM, "out of memory building the comparison") : 0;
}

int qe_compare_write(const char *const *dirs, size_t n, const struct qe_compare_opts *o, struct qe_err *err)
{
	struct qe_compare_opts dflt = qe_compare_default_opts();
	cJSON *res[MAX_RUNS] = { 0 };
	const char *labels[MAX_RUNS];
	char autolab[MAX_RUNS][128], path[4096];
	struct qe_html_opts ho;
	struct qe_text out = { 0 };
	struct qe_doc d = { 0 };
	const char *out_dir;
	int rc = 0;

	if (!o)
		o = &dflt;
	out_dir = o->out_dir && *o->out_dir ? o->out_dir : ".";
	if (n < 2 || n > MAX_RUNS)
		return qe_fail(err, QE_EINVAL, "compare wants 2 to %d run directories, not %zu", MAX_RUNS, n);
	for (size_t i = 0; i < n && !rc; i++) {
		rc = qe_results_load(dirs[i], &res[i], err);
		if (o->labels) {
			labels[i] = o->labels[i];
		} else {
			/* the folder's base name; a repeated one gets "#2", "#3" */
			const char *s = dirs[i];
			size_t len = strlen(s), dup = 1;
			while (len > 1 && s[len - 1] == '/')
				len--;
			for (size_t j = len; j > 0; j--)
				if (s[j - 1] == '/') {
					s += j;
					len -= j;
					break;
				}
			snprintf(autolab[i], sizeof(autolab[i]), "%.*s", (int)len, s);
			for (size_t j = 0; j < i; j++)
				dup += !strncmp(labels[j], autolab[i], strlen(autolab[i]));
			if (dup > 1)
				snprintf(autolab[i] + strlen(autolab[i]), sizeof(autolab[i]) - strlen(autolab[i]), " #%zu", dup);
			labels[i] = autolab[i];
		}
	}
	if (rc)
		goto done;
	if (qe_mkdirs(out_dir, 0777)) {
		rc = qe_fail(err, QE_EIO, "cannot create '%s': %s", out_dir, strerror(errno));
		goto done;
	}
	rc = qe_compare_doc((const cJSON *const *)res, labels, n, 1, &d, err);
	if (!rc) {
		rc = qe_doc_md(&d, &out, err);
		if (!rc)
			rc = qe_text_save(&out, qe_path_join(path, sizeof(path), out_dir, "compare.md"), err);
		qe_text_release(&out);
		memset(&ho, 0, sizeof(ho));
		ho.charts = o->charts;
		ho.gnuplot = o->gnuplot;
		if (!rc)
			rc = qe_doc_html(&d, &ho, &out, NULL, err);
		if (!rc)
			rc = qe_text_save(&out, qe_path_join(path, sizeof(path), out_dir, "compare.html"), err);
		qe_text_release(&out);
	}
	qe_doc_release(&d);
done:
	for (size_t i = 0; i < n; i++)
		cJSON_Delete(res[i]);
	return rc;
}
