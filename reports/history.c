#include "reports/history.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness/base/sys.h"
#include "reports/bound.h"
#include "reports/charts.h"
#include "reports/doc.h"
#include "reports/fmt.h"
#include "reports/gate.h"
#include "reports/report_impl.h"
#include "reports/results.h"
#include "reports/view.h"

#define B QE_FMT_CAP

/* ---- one line ---- */

static void put_metric(cJSON *obj, const cJSON *res, const char *task, const char *level, const char *path)
{
	double v;

	if (cJSON_GetObjectItemCaseSensitive(obj, path))
		return;
	if (qe_metric_get(res, task, level, path, &v) == QE_METRIC_OK)
		cJSON_AddNumberToObject(obj, path, v);
	else
		cJSON_AddNullToObject(obj, path);
}

#define MAX_BLOCK_METRICS 128

/* metrics[task][level]: the headline metrics of the task's view that history
 * records, and whatever the gate looked at, so its failures can be drawn. */
static void put_level(cJSON *lm, const cJSON *res, const cJSON *gate, const cJSON *task, const char *nm)
{
	const struct qe_view *v = qe_view_find(qe_results_task_type(task));
	const cJSON *blk = qe_results_block(res, task->string, nm), *c;

	for (const struct qe_view_metric *m = v ? v->metrics : NULL; m && m->path[0]; m++)
		if (m->use & QE_VIEW_HISTORY)
			put_metric(lm, res, task->string, nm, m->path);
	if (v && v->block_metrics) {
		struct qe_view_metric more[MAX_BLOCK_METRICS];
		size_t n = v->block_metrics(blk, QE_VIEW_HISTORY, more, MAX_BLOCK_METRICS);
		for (size_t k = 0; k < n; k++)
			put_metric(lm, res, task->string, nm, more[k].path);
	}
	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(gate, "checks")) {
		const char *ct = qe_json_str(c, "task", NULL), *cl = qe_json_str(c, "level", NULL);
		const char *cm = qe_json_str(c, "metric", NULL);
		if (ct && cl && cm && !strcmp(ct, task->string) && !strcmp(cl, nm) && strncmp(cm, "level.", 6) &&
		    !qe_metric_path_check(cm, NULL))
			put_metric(lm, res, task->string, nm, cm);
	}
}

/* o's object named key, added when absent; NULL when out of memory */
static cJSON *child_obj(cJSON *o, const char *key)
{
	cJSON *c = cJSON_GetObjectItemCaseSensitive(o, key);
	return c ? c : cJSON_AddObjectToObject(o, key);
}

/* e.lower_bounds[task][level][path] = the mark of each number of e.metrics
 * that only bounds its metric from below (the task view's lower_bound), so
 * the dashboard can say so without the run; absent when none is. 0 or
 * QE_ENOMEM. */
static int put_bounds(cJSON *e, const cJSON *res, struct qe_err *err)
{
	const cJSON *tm, *lm, *m;

	cJSON_ArrayForEach(tm, cJSON_GetObjectItemCaseSensitive(e, "metrics")) {
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(res, "tasks"), tm->string);
		const struct qe_view *v = qe_view_find(qe_results_task_type(t));
		if (!v || !v->lower_bound)
			continue;
		cJSON_ArrayForEach(lm, tm) {
			const cJSON *blk = qe_results_block(res, tm->string, lm->string);
			cJSON_ArrayForEach(m, lm) {
				const char *mark = cJSON_IsNumber(m) ? v->lower_bound(blk, m->string) : NULL;
				cJSON *at;
				if (!mark)
					continue;
				at = child_obj(child_obj(child_obj(e, "lower_bounds"), tm->string), lm->string);
				if (!at || !cJSON_AddStringToObject(at, m->string, mark))
					return qe_fail(err, QE_ENOMEM, "out of memory");
			}
		}
	}
	return 0;
}

int qe_history_entry(const cJSON *res, const cJSON *gate, const char *run_dir, const char *commit, const char *date,
		     cJSON **out, struct qe_err *err)
{
	const cJSON *mach = cJSON_GetObjectItemCaseSensitive(res, "machine");
	const cJSON *run = cJSON_GetObjectItemCaseSensitive(res, "run"), *task, *lv, *c;
	const cJSON *q = cJSON_GetObjectItemCaseSensitive(res, "qeval");
	cJSON *e = cJSON_CreateObject(), *metrics;
	char machine[300];

	*out = NULL;
	if (!e)
		return qe_fail(err, QE_ENOMEM, "out of memory");
	cJSON_AddStringToObject(e, "schema", "qeval-history");
	cJSON_AddNumberToObject(e, "version", QE_HISTORY_VERSION);
	cJSON_AddStringToObject(e, "date", date ? date : qe_json_str(res, "created", ""));
	cJSON_AddStringToObject(e, "commit", commit ? commit : qe_json_str(q, "git", ""));
	snprintf(machine, sizeof(machine), "%s (%s)", qe_json_str(mach, "host", "?"), qe_json_str(mach, "cpu", "?"));
	cJSON_AddStringToObject(e, "machine", machine);
	cJSON_AddStringToObject(e, "run", run_dir ? run_dir : "");
	cJSON_AddStringToObject(e, "model", qe_json_str(cJSON_GetObjectItemCaseSensitive(res, "model"), "source", ""));
	cJSON_AddStringToObject(e, "model_sha256", qe_json_str(cJSON_GetObjectItemCaseSensitive(res, "model"), "sha256", ""));
	cJSON_AddStringToObject(e, "engine", qe_json_str(cJSON_GetObjectItemCaseSensitive(res, "engine"), "version", ""));
	cJSON_AddBoolToObject(e, "complete", qe_json_bool(run, "complete", 0));
	cJSON_AddBoolToObject(e, "partial", qe_json_bool(run, "partial", 0));
	cJSON_AddNumberToObject(e, "limit", qe_json_num(run, "limit", 0));
	if (gate) {
		cJSON *g = cJSON_AddObjectToObject(e, "gate"), *failed;
		cJSON_AddBoolToObject(g, "passed", qe_json_bool(gate, "passed", 0));
		cJSON_AddNumberToObject(g, "n_checks", qe_json_num(gate, "n_checks", NAN));
		cJSON_AddNumberToObject(g, "n_failed", qe_json_num(gate, "n_failed", NAN));
		failed = cJSON_AddArrayToObject(g, "failed");
		cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(gate, "checks")) {
			const char *st = qe_json_str(c, "status", NULL);
			cJSON *f;
			if (!st || strcmp(st, "fail") != 0)
				continue;
			f = cJSON_CreateObject();
			cJSON_AddNumberToObject(f, "rule", qe_json_num(c, "rule", NAN));
			if (qe_json_str(c, "task", NULL))
				cJSON_AddStringToObject(f, "task", qe_json_str(c, "task", NULL));
			else
				cJSON_AddNullToObject(f, "task");
			cJSON_AddStringToObject(f, "level", qe_json_str(c, "level", ""));
			cJSON_AddStringToObject(f, "metric", qe_json_str(c, "metric", ""));
			cJSON_AddItemToArray(failed, f);
		}
	} else {
		cJSON_AddNullToObject(e, "gate");
	}
	metrics = cJSON_AddObjectToObject(e, "metrics");
	cJSON_ArrayForEach(task, cJSON_GetObjectItemCaseSensitive(res, "tasks")) {
		cJSON *tm = cJSON_AddObjectToObject(metrics, task->string);
		cJSON_ArrayForEach(lv, qe_results_levels(res)) {
			const char *nm = qe_json_str(lv, "name", NULL);
			if (nm)
				put_level(cJSON_AddObjectToObject(tm, nm), res, gate, task, nm);
		}
	}
	if (!cJSON_GetObjectItemCaseSensitive(e, "metrics") || put_bounds(e, res, err)) {
		cJSON_Delete(e);
		return qe_fail(err, QE_ENOMEM, "out of memory");
	}
	*out = e;
	return 0;
}

int qe_history_add(const char *history, const char *run_dir, const char *commit, const char *date,
		   struct qe_err *err)
{
	cJSON *res = NULL, *gate = NULL, *e = NULL;
	struct qe_text t = { 0 };
	char *text = NULL, *line = NULL;
	size_t len = 0;
	int rc;

	rc = qe_results_load(run_dir, &res, err);
	if (rc)
		return rc;
	rc = qe_gate_outcome_load(run_dir, &gate, err); /* damaged: fail, never record a pass */
	if (!rc)
		rc = qe_history_entry(res, gate, run_dir, commit, date, &e, err);
	if (rc)
		goto done;
	line = cJSON_PrintUnformatted(e);
	if (!line) {
		rc = qe_fail(err, QE_ENOMEM, "out of memory");
		goto done;
	}
	/* the whole file rewritten (temp + fsync + rename): a full disk leaves the
	 * old history whole. A last line cut short (no newline) gets one first, so
	 * the torn line stays one bad line instead of spoiling this one */
	rc = qe_file_read(history, &text, &len, err);
	if (rc && rc != QE_ENOENT)
		goto done;
	qe_err_clear(err);
	qe_text_putn(&t, text ? text : "", text ? len : 0);
	if (len && text[len - 1] != '\n')
		qe_text_putc(&t, '\n');
	qe_text_put(&t, line);
	qe_text_putc(&t, '\n');
	rc = qe_text_save(&t, history, err);
done:
	qe_text_release(&t);
	free(text);
	free(line);
	cJSON_Delete(e);
	cJSON_Delete(gate);
	cJSON_Delete(res);
	return rc;
}

/* ---- the dashboard ---- */

#define MAX_RUNS 4096

struct hist {
	cJSON *e[MAX_RUNS];
	size_t n;
	size_t bad;   /* lines that were not history entries */
};

/* 1 when o is an object of tasks, each an object of levels, each an object
 * of metrics whose values are numbers or null (strings: strings) */
static int three_deep(const cJSON *o, int strings)
{
	const cJSON *task, *lv, *m;

	if (!cJSON_IsObject(o))
		return 0;
	cJSON_ArrayForEach(task, o) {
		if (!cJSON_IsObject(task))
			return 0;
		cJSON_ArrayForEach(lv, task) {
			if (!cJSON_IsObject(lv))
				return 0;
			cJSON_ArrayForEach(m, lv)
				if (strings ? !cJSON_IsString(m) : !cJSON_IsNumber(m) && !cJSON_IsNull(m))
					return 0;
		}
	}
	return 1;
}

/* 1 when e is a history entry the dashboard can draw: schema "qeval-history",
 * metrics an object of tasks, each an object of levels, each an object of
 * metrics whose values are numbers or null; lower_bounds, when there, the
 * same shape with strings (the marks); gate, when there, an object or null.
 * Anything else is a bad line, counted and skipped. */
static int entry_ok(const cJSON *e)
{
	const cJSON *g = cJSON_GetObjectItemCaseSensitive(e, "gate");
	const cJSON *lb = cJSON_GetObjectItemCaseSensitive(e, "lower_bounds");

	if (!cJSON_IsObject(e) || strcmp(qe_json_str(e, "schema", ""), "qeval-history") != 0 ||
	    !three_deep(cJSON_GetObjectItemCaseSensitive(e, "metrics"), 0))
		return 0;
	if (g && !cJSON_IsObject(g) && !cJSON_IsNull(g))
		return 0;
	return !lb || three_deep(lb, 1);
}

static void hist_free(struct hist *h)
{
	for (size_t i = 0; i < h->n; i++)
		cJSON_Delete(h->e[i]);
	h->n = 0;
}

/* One line of the history file (p[n] is its end, set to NUL for the call) as
 * *e, NULL when it is not JSON: a bad line, counted. JSON that qeval's reader
 * refuses, a key given twice or a NUL in it, is QE_EINPUT naming path:line: no
 * torn write leaves such a line, and which of the values is meant cannot be
 * told, so it is not left out in silence. */
static int hist_line(const char *path, size_t line, char *p, size_t n, cJSON **e, struct qe_err *err)
{
	char where[4200], end = p[n];
	int rc;

	p[n] = '\0';
	snprintf(where, sizeof(where), "%s:%zu", path, line);
	rc = qe_json_parse(p, n, where, e, err);
	if (rc) {
		cJSON *plain = cJSON_ParseWithLengthOpts(p, n + 1, NULL, 1);
		if (plain) /* cJSON would take it: refused for what it holds, not a bad line */
			cJSON_Delete(plain);
		else
			rc = 0;
	}
	p[n] = end;
	if (!rc)
		qe_err_clear(err);
	return rc;
}

static int hist_load(const char *path, struct hist *h, struct qe_err *err)
{
	char *text, *p, *nl;
	size_t len, line = 0;
	int rc = qe_file_read(path, &text, &len, err);

	memset(h, 0, sizeof(*h));
	if (rc)
		return rc;
	for (p = text; p < text + len; p = nl + 1) {
		cJSON *e;
		nl = memchr(p, '\n', (size_t)(text + len - p));
		if (!nl)
			nl = text + len;
		line++;
		if (nl == p)
			continue;
		if ((rc = hist_line(path, line, p, (size_t)(nl - p), &e, err)) != 0) {
			hist_free(h);
			free(text);
			return rc;
		}
		if (!entry_ok(e)) {
			cJSON_Delete(e);
			h->bad++;
			continue;
		}
		if (h->n == MAX_RUNS) {
			cJSON_Delete(e);
			h->bad++;
			continue;
		}
		h->e[h->n++] = e;
	}
	free(text);
	return 0;
}

/* The mark of run e's number at task/level/metric when it is a lower bound
 * of the metric (e.lower_bounds), else NULL. */
static const char *bound_of(const cJSON *e, const char *task, const char *level, const char *metric)
{
	const cJSON *lb = cJSON_GetObjectItemCaseSensitive(e, "lower_bounds");
	return qe_json_str(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(lb, task), level), metric, NULL);
}

/* Did run i's gate fail on task/level/metric? */
static int gate_failed(const cJSON *e, const char *task, const char *level, const char *metric)
{
	const cJSON *f;
	cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(e, "gate"), "failed")) {
		const char *t = qe_json_str(f, "task", NULL), *l = qe_json_str(f, "level", NULL), *m = qe_json_str(f, "metric", NULL);
		if (t && l && m && !strcmp(t, task) && !strcmp(l, level) && !strcmp(m, metric))
			return 1;
	}
	return 0;
}

/* Append the distinct names found at e.metrics[task] (levels) or
 * e.metrics[task][*] (metrics) over all runs. */
static size_t names_union(const struct hist *h, const char *task, int metrics, const char **out, size_t cap)
{
	size_t n = 0;

	for (size_t i = 0; i < h->n; i++) {
		const cJSON *tm = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(h->e[i], "metrics"), task);
		const cJSON *lv, *m;
		cJSON_ArrayForEach(lv, tm) {
			const cJSON *src = metrics ? lv : NULL;
			if (!metrics) {
				size_t k;
				for (k = 0; k < n && strcmp(out[k], lv->string); k++)
					;
				if (k == n && n < cap)
					out[n++] = lv->string;
				continue;
			}
			cJSON_ArrayForEach(m, src) {
				size_t k;
				for (k = 0; k < n && strcmp(out[k], m->string); k++)
					;
				if (k == n && n < cap)
					out[n++] = m->string;
			}
		}
	}
	return n;
}

static void runs_table(const struct hist *h, struct qe_doc *d)
{
	static const char *const head[] = { "#", "Date", "Commit", "Machine", "Engine", "Data", "Gate" };
	struct qe_block *tb;
	char a[B], b[B];

	qe_doc_heading(d, 1, "Runs");
	tb = qe_doc_table(d, 7, NULL);
	for (size_t c = 0; c < 7; c++)
		qe_doc_th(tb, c, c == 0, head[c]);
	for (size_t i = h->n; i-- > 0;) {
		const cJSON *e = h->e[i], *g = cJSON_GetObjectItemCaseSensitive(e, "gate");
		size_t r = qe_doc_row(tb);
		qe_doc_td(tb, r, 0, 0, "%zu", i + 1);
		qe_doc_td(tb, r, 1, 0, "%s", qe_json_str(e, "date", QE_DASH));
		qe_doc_td(tb, r, 2, 0, "%s", qe_json_str(e, "commit", QE_DASH));
		qe_doc_td(tb, r, 3, 0, "%s", qe_json_str(e, "machine", QE_DASH));
		qe_doc_td(tb, r, 4, 0, "%s", qe_json_str(e, "engine", QE_DASH));
		if (qe_json_bool(e, "partial", 0))
			qe_doc_td(tb, r, 5, 0, "partial (--limit %s)%s", qe_fmt_count(a, B, qe_json_num(e, "limit", NAN)),
				  qe_json_bool(e, "complete", 1) ? "" : ", incomplete");
		else
			qe_doc_td(tb, r, 5, 0, "full%s", qe_json_bool(e, "complete", 1) ? "" : ", incomplete");
		if (!cJSON_IsObject(g))
			qe_doc_td(tb, r, 6, QE_MARK_MUTED, "no gate");
		else if (qe_json_bool(g, "passed", 0))
			qe_doc_td(tb, r, 6, QE_MARK_GOOD, "passed (%s checks)", qe_fmt_count(a, B, qe_json_num(g, "n_checks", NAN)));
		else
			qe_doc_td(tb, r, 6, QE_MARK_BAD, "FAILED (%s of %s checks)", qe_fmt_count(a, B, qe_json_num(g, "n_failed", NAN)),
				  qe_fmt_count(b, B, qe_json_num(g, "n_checks", NAN)));
	}
}

/* The note under a task's latest-values table when some of its numbers are
 * lower bounds: which levels of which run (latest[l] / before[l]: the mark
 * of level l's bound, NULL when none), and how a change then reads. */
static void bounds_note(const char *task, const char *const *levels, size_t nl, const char *const *latest,
			const char *const *before, struct qe_doc *d)
{
	struct qe_text t = { 0 };

	for (size_t l = 0; l < nl; l++) {
		if (latest[l])
			qe_text_printf(&t, "%s%s in the latest run, a %s", t.len ? "; " : "", levels[l], latest[l]);
		if (before[l])
			qe_text_printf(&t, "%s%s in the run before, a %s", t.len ? "; " : "", levels[l], before[l]);
	}
	if (t.len)
		qe_doc_note(d, "%s: the numbers written %sare lower bounds of their metric, not its value: %s. A change "
			       "where one of the two numbers is a bound is itself a bound, written %sor %sthe change; between "
			       "two bounds it bounds nothing and is followed by%s",
			    task, QE_BOUND_GE, qe_text_str(&t), QE_BOUND_GE, QE_BOUND_LE, QE_BOUND_NONE);
	qe_text_release(&t);
}

/* Latest value, the one before and the change, per task x metric x level; a
 * number that is a lower bound of its metric written "≥" (reports/bound.h). */
static void latest_table(const struct hist *h, const char *task, const char *const *metrics, size_t nm,
			 const char *const *levels, size_t nl, struct qe_doc *d)
{
	const cJSON *last = h->e[h->n - 1], *prev = h->n > 1 ? h->e[h->n - 2] : NULL;
	struct qe_block *tb = qe_doc_table(d, 6, NULL);
	const char *latest[64] = { 0 }, *before[64] = { 0 }; /* the bounds' marks per level (nl <= 64) */
	char a[B];

	qe_doc_th(tb, 0, 0, "Metric");
	qe_doc_th(tb, 1, 0, "Level");
	qe_doc_th(tb, 2, 1, "Latest");
	qe_doc_th(tb, 3, 1, "Run before");
	qe_doc_th(tb, 4, 1, "Change");
	qe_doc_th(tb, 5, 0, "Gate, latest run");
	for (size_t m = 0; m < nm; m++) {
		for (size_t l = 0; l < nl; l++) {
			const cJSON *lm = cJSON_GetObjectItemCaseSensitive(
				cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(last, "metrics"), task), levels[l]);
			const cJSON *pm = cJSON_GetObjectItemCaseSensitive(
				cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(prev, "metrics"), task), levels[l]);
			double v = qe_json_num(lm, metrics[m], NAN), w = qe_json_num(pm, metrics[m], NAN);
			const char *bv = isnan(v) ? NULL : bound_of(last, task, levels[l], metrics[m]);
			const char *bw = isnan(w) ? NULL : bound_of(prev, task, levels[l], metrics[m]), *dir;
			size_t r;
			if (!cJSON_GetObjectItemCaseSensitive(lm, metrics[m]) || (isnan(v) && isnan(w)))
				continue;
			latest[l] = bv ? bv : latest[l];
			before[l] = bw ? bw : before[l];
			dir = qe_bound_diff(QE_VD_DIFF4, bv != NULL, bw != NULL, v, w);
			r = qe_doc_row(tb);
			qe_doc_td(tb, r, 0, 0, "%s", metrics[m]);
			qe_doc_td(tb, r, 1, 0, "%s", levels[l]);
			qe_doc_td(tb, r, 2, 0, "%s%s", bv ? QE_BOUND_GE : "", qe_fmt_sig(a, B, v, 4));
			qe_doc_td(tb, r, 3, 0, "%s%s", bw ? QE_BOUND_GE : "", qe_fmt_sig(a, B, w, 4));
			if (isnan(v) || isnan(w))
				qe_doc_td(tb, r, 4, 0, "%s", QE_DASH);
			else
				qe_doc_td(tb, r, 4, 0, "%s%s%s", dir ? dir : "", qe_fmt_sig(a, B, v - w, 3), dir ? "" : QE_BOUND_NONE);
			if (gate_failed(last, task, levels[l], metrics[m]))
				qe_doc_td(tb, r, 5, QE_MARK_BAD, "FAILED");
			else
				qe_doc_td(tb, r, 5, QE_MARK_MUTED, "%s", QE_DASH);
		}
	}
	bounds_note(task, levels, nl, latest, before, d);
}

static void task_charts(const struct hist *h, const char *task, const char *const *metrics, size_t nm,
			const char *const *levels, size_t nl, const char *const *xcats, struct qe_doc *d)
{
	/* [nl][n] points per level, then up to nl * n gate failures */
	struct qe_chart_point *pts = calloc(2 * (nl ? nl : 1) * (h->n ? h->n : 1), sizeof(*pts));
	struct qe_chart_series s[17];

	if (!pts)
		return;
	for (size_t m = 0; m < nm; m++) {
		struct qe_chart_spec sp;
		struct qe_chart_point *fail = pts + nl * h->n;
		size_t nfail = 0, ns = 0;
		char title[300], cap[1000];
		struct qe_text bounds = { 0 }; /* "Q4_K_M at #2, #3; ...": the points that are lower bounds */
		char *script;

		for (size_t l = 0; l < nl && l < 16; l++) { /* 16 levels drawn at most */
			struct qe_chart_point *p = pts + l * h->n;
			size_t k = 0, nb = 0;
			for (size_t i = 0; i < h->n; i++) {
				const cJSON *lm = cJSON_GetObjectItemCaseSensitive(
					cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(h->e[i], "metrics"), task),
					levels[l]);
				double v = qe_json_num(lm, metrics[m], NAN);
				if (isnan(v))
					continue;
				p[k].x = (double)i;
				p[k].y = v;
				p[k].lo = p[k].hi = NAN;
				p[k].label = NULL;
				k++;
				if (bound_of(h->e[i], task, levels[l], metrics[m])) {
					if (nb++)
						qe_text_printf(&bounds, ", #%zu", i + 1);
					else
						qe_text_printf(&bounds, "%s%s at #%zu", bounds.len ? "; " : "", levels[l], i + 1);
				}
				if (gate_failed(h->e[i], task, levels[l], metrics[m])) {
					fail[nfail].x = (double)i;
					fail[nfail].y = v;
					fail[nfail].lo = fail[nfail].hi = NAN;
					fail[nfail].label = NULL;
					nfail++;
				}
			}
			/* every level keeps its series (even empty) so its colour is the same in every chart */
			s[ns++] = (struct qe_chart_series){ .title = levels[l], .pts = p, .n = k, .line = 1 };
		}
		if (nfail)
			s[ns++] = (struct qe_chart_series){ .title = "gate failed", .pts = fail, .n = nfail, .pt = 2,
							    .color = "#d00000", .ps = 2.0 };
		memset(&sp, 0, sizeof(sp));
		snprintf(title, sizeof(title), "%s: %s", task, metrics[m]);
		sp.title = title;
		sp.xlabel = "run";
		sp.ylabel = metrics[m];
		sp.xcats = xcats;
		sp.n_xcats = h->n;
		script = qe_chart_script(&sp, s, ns);
		if (script) {
			snprintf(cap, sizeof(cap), "%s of task %s per level over the runs%s.%s%s%s", metrics[m], task,
				 nfail ? "; red crosses mark runs whose gate failed on it" : "",
				 bounds.len ? " Lower bounds of the metric, not its value (runs by #): " : "", qe_text_str(&bounds),
				 bounds.len ? "." : "");
			qe_doc_chart(d, cap, script);
			free(script);
		}
		qe_text_release(&bounds);
	}
	free(pts);
}

int qe_history_render(const char *history, const char *out_dir, const struct qe_history_render_opts *o, int *n_runs,
		      struct qe_err *err)
{
	struct qe_history_render_opts dflt = { 1, NULL };
	struct qe_html_opts ho;
	struct qe_text out = { 0 };
	struct qe_doc d = { 0 };
	struct hist *h = malloc(sizeof(*h));
	const char *tasks[128], **xcats = NULL;
	char (*xbuf)[48] = NULL;
	char path[4096], title[400];
	size_t nt = 0;
	int rc;

	if (!o)
		o = &dflt;
	if (n_runs)
		*n_runs = 0;
	if (!h)
		return qe_fail(err, QE_ENOMEM, "out of memory");
	rc = hist_load(history, h, err);
	if (rc) {
		free(h);
		return rc;
	}
	if (!h->n) {
		rc = qe_fail(err, QE_EINPUT, "'%s' holds no history entries (%zu lines could not be read)", history, h->bad);
		goto done;
	}
	if (n_runs)
		*n_runs = (int)h->n;
	if (qe_mkdirs(out_dir, 0777)) {
		rc = qe_fail(err, QE_EIO, "cannot create '%s': %s", out_dir, strerror(errno));
		goto done;
	}
	xcats = calloc(h->n, sizeof(*xcats));
	xbuf = calloc(h->n, sizeof(*xbuf));
	if (!xcats || !xbuf) {
		rc = qe_fail(err, QE_ENOMEM, "out of memory");
		goto done;
	}
	/* x labels: the date (its first 10 characters) of every k-th run */
	for (size_t i = 0, every = h->n > 12 ? (h->n + 11) / 12 : 1; i < h->n; i++) {
		const char *dt = qe_json_str(h->e[i], "date", NULL);
		if (i % every == 0 || i + 1 == h->n)
			snprintf(xbuf[i], sizeof(xbuf[i]), "%.10s", dt && *dt ? dt : "?");
		xcats[i] = xbuf[i];
	}
	snprintf(title, sizeof(title), "qeval history: %s", qe_json_str(h->e[h->n - 1], "model", "runs"));
	qe_doc_init(&d, title);
	{
		const cJSON *g = cJSON_GetObjectItemCaseSensitive(h->e[h->n - 1], "gate");
		struct qe_block *f = qe_doc_facts(&d);
		qe_doc_fact(f, "Runs", "%zu, from %s to %s", h->n,
			    qe_json_str(h->e[0], "date", "?"),
			    qe_json_str(h->e[h->n - 1], "date", "?"));
		qe_doc_fact(f, "Latest", "commit %s on %s",
			    qe_json_str(h->e[h->n - 1], "commit", "?"),
			    qe_json_str(h->e[h->n - 1], "machine", "?"));
		qe_doc_fact(f, "Latest gate", "%s", !cJSON_IsObject(g) ? "none" :
						      qe_json_bool(g, "passed", 0) ? "passed" : "FAILED");
		qe_doc_fact(f, "History file", "%s", history);
	}
	if (h->bad)
		qe_doc_note(&d, "%zu lines of the history file are not history entries and are left out", h->bad);
	runs_table(h, &d);
	for (size_t i = 0; i < h->n; i++) {
		const cJSON *t;
		cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(h->e[i], "metrics")) {
			size_t k;
			for (k = 0; k < nt && strcmp(tasks[k], t->string); k++)
				;
			if (k == nt && nt < 128)
				tasks[nt++] = t->string;
		}
	}
	for (size_t k = 0; k < nt; k++) {
		const char *levels[64], *metrics[64];
		size_t nl = names_union(h, tasks[k], 0, levels, 64), nm = names_union(h, tasks[k], 1, metrics, 64);
		qe_doc_heading(&d, 1, tasks[k]);
		if (o->charts)
			task_charts(h, tasks[k], metrics, nm, levels, nl, xcats, &d);
		latest_table(h, tasks[k], metrics, nm, levels, nl, &d);
	}
	memset(&ho, 0, sizeof(ho));
	ho.charts = o->charts;
	ho.gnuplot = o->gnuplot;
	rc = qe_doc_html(&d, &ho, &out, NULL, err);
	if (!rc)
		rc = qe_text_save(&out, qe_path_join(path, sizeof(path), out_dir, "index.html"), err);
done:
	qe_text_release(&out);
	qe_doc_release(&d);
	free(xcats);
	free(xbuf);
	hist_free(h);
	free(h);
	return rc;
}
