#include "reports/charts.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "reports/results.h"
#include "reports/text.h"
#include "reports/view.h"

/* ---- the generic x/y chart ---- */

static int usable(const struct qe_chart_spec *sp, const struct qe_chart_point *p)
{
	if (isnan(p->y) || isnan(p->x) || isinf(p->y) || isinf(p->x))
		return 0;
	if (sp->logx && p->x <= 0)
		return 0;
	if (sp->logy && p->y <= 0)
		return 0;
	return 1;
}

static int cmp_x(const void *a, const void *b)
{
	const struct qe_chart_point *p = a, *q = b;
	return p->x < q->x ? -1 : p->x > q->x ? 1 : 0;
}

static void num(struct qe_text *t, double v)
{
	char b[32];
	qe_text_put(t, qe_fmt_num(b, v));
}

/* Points of s that are usable, sorted by x; caller frees. */
static struct qe_chart_point *sorted(const struct qe_chart_spec *sp, const struct qe_chart_series *s, size_t *n)
{
	struct qe_chart_point *v = malloc((s->n ? s->n : 1) * sizeof(*v));
	size_t k = 0;

	if (!v) {
		*n = 0;
		return NULL;
	}
	for (size_t i = 0; i < s->n; i++)
		if (usable(sp, &s->pts[i]))
			v[k++] = s->pts[i];
	qsort(v, k, sizeof(*v), cmp_x);
	*n = k;
	return v;
}

/* The title, axes and ranges of the chart. */
static void script_settings(const struct qe_chart_spec *sp, struct qe_text *t)
{
	qe_text_put(t, "set title '");
	qe_text_gp(t, sp->title);
	qe_text_put(t, "'\nset xlabel '");
	qe_text_gp(t, sp->xlabel);
	qe_text_put(t, "'\nset ylabel '");
	qe_text_gp(t, sp->ylabel);
	qe_text_put(t, "'\nset grid lc rgb '#dddddd'\nset key below\nset border 3\nset tics nomirror\n"
		       "set bars small\n");
	if (sp->logy)
		qe_text_put(t, "set offsets graph 0.08, graph 0.08, 0, 0\n");
	else
		qe_text_put(t, "set offsets graph 0.08, graph 0.08, graph 0.08, graph 0.08\n");
	if (sp->logx)
		qe_text_put(t, "set logscale x 2\n");
	if (sp->logy)
		qe_text_put(t, "set logscale y 10\nset format y '%g'\n");
	if (sp->xcats) {
		qe_text_put(t, "set xtics (");
		for (size_t i = 0; i < sp->n_xcats; i++) {
			qe_text_put(t, i ? ", '" : "'");
			qe_text_gp(t, sp->xcats[i]);
			qe_text_printf(t, "' %zu", i);
		}
		qe_text_put(t, ")\n");
		qe_text_printf(t, "set xrange [-0.5:%zu.5]\nset offsets 0, 0, graph 0.08, graph 0.08\n",
			       sp->n_xcats ? sp->n_xcats - 1 : 0);
		if (sp->n_xcats > 4)
			qe_text_put(t, "set xtics rotate by -30\n");
	}
	if (sp->zero_line)
		qe_text_put(t, "set arrow from graph 0, first 0 to graph 1, first 0 nohead dt 2 lc rgb '#888888'\n");
	if (sp->y_from_zero)
		qe_text_put(t, "set yrange [0:*]\nset offsets graph 0.08, graph 0.08, graph 0.08, 0\n");
}

/* The script's pieces: data blocks, point labels, and the plot command. */
struct script {
	struct qe_text data, labels, plot;
	size_t n_labels;       /* labels so far */
	size_t n_plotted;      /* series in the plot command so far */
};

/* Series i (its n usable points v, sorted by x): its data block, its point
 * labels, and its clauses of the plot command (points or error bars, the
 * joining line, the frontier). */
static void script_series(struct script *sc, size_t i, const struct qe_chart_series *s, const struct qe_chart_point *v,
			  size_t n)
{
	char lc[32];
	int bars = 0, xbars = 0;
	const char *using;

	for (size_t k = 0; k < n; k++) {
		bars |= !isnan(v[k].lo) && !isnan(v[k].hi);
		xbars |= v[k].xlo < v[k].xhi;
	}
	qe_text_printf(&sc->data, "$s%zu << EOD\n", i);
	for (size_t k = 0; k < n; k++) {
		double lo = isnan(v[k].lo) ? v[k].y : v[k].lo, hi = isnan(v[k].hi) ? v[k].y : v[k].hi;
		num(&sc->data, v[k].x);
		qe_text_putc(&sc->data, ' ');
		num(&sc->data, v[k].y);
		qe_text_putc(&sc->data, ' ');
		num(&sc->data, lo);
		qe_text_putc(&sc->data, ' ');
		num(&sc->data, hi);
		qe_text_putc(&sc->data, ' ');
		num(&sc->data, v[k].xlo < v[k].xhi ? v[k].xlo : v[k].x);
		qe_text_putc(&sc->data, ' ');
		num(&sc->data, v[k].xlo < v[k].xhi ? v[k].xhi : v[k].x);
		qe_text_putc(&sc->data, '\n');
		if (v[k].label) {
			qe_text_printf(&sc->labels, "set label %zu '", ++sc->n_labels);
			qe_text_gp(&sc->labels, v[k].label);
			qe_text_put(&sc->labels, "' at ");
			num(&sc->labels, v[k].x);
			qe_text_put(&sc->labels, ",");
			num(&sc->labels, v[k].y);
			qe_text_put(&sc->labels, " offset char 0.5,0.7 font ',17' tc rgb '#333333' noenhanced\n");
		}
	}
	qe_text_put(&sc->data, "EOD\n");
	if (sc->n_plotted++)
		qe_text_put(&sc->plot, ", \\\n     ");
	if (s->color)
		snprintf(lc, sizeof(lc), "lc rgb '%.7s'", s->color);
	else
		snprintf(lc, sizeof(lc), "lc %zu", i + 1);
	using = bars && xbars ? "1:2:5:6:3:4 with xyerrorbars" : bars ? "1:2:3:4 with yerrorbars"
		: xbars ? "1:2:5:6 with xerrorbars" : "1:2 with points";
	qe_text_printf(&sc->plot, "$s%zu using %s pt %d ps %.2f %s title '", i, using, s->pt > 0 ? s->pt : 7,
		       s->ps > 0 ? s->ps : 0.8, lc);
	qe_text_gp(&sc->plot, s->title);
	qe_text_put(&sc->plot, "'");
	if (s->line)
		qe_text_printf(&sc->plot, ", $s%zu using 1:2 with lines %s notitle", i, lc);
	if (s->frontier) {
		/* walk from the fastest down: a point is on the frontier when it beats every faster one on y */
		double best = -INFINITY;
		qe_text_printf(&sc->data, "$f%zu << EOD\n", i);
		for (size_t k = n; k-- > 0;) {
			if (v[k].y > best) {
				best = v[k].y;
				num(&sc->data, v[k].x);
				qe_text_putc(&sc->data, ' ');
				num(&sc->data, v[k].y);
				qe_text_putc(&sc->data, '\n');
			}
		}
		qe_text_put(&sc->data, "EOD\n");
		qe_text_printf(&sc->plot, ", $f%zu using 1:2 with lines dt 2 lw 1.5 %s title '", i, lc);
		qe_text_gp(&sc->plot, s->title);
		qe_text_put(&sc->plot, " frontier'");
	}
}

char *qe_chart_script(const struct qe_chart_spec *sp, const struct qe_chart_series *s, size_t ns)
{
	struct script sc;
	size_t total = 0;

	memset(&sc, 0, sizeof(sc));
	script_settings(sp, &sc.data);
	qe_text_put(&sc.plot, "plot ");
	for (size_t i = 0; i < ns; i++) {
		size_t n;
		struct qe_chart_point *v = sorted(sp, &s[i], &n);
		if (v && n)
			script_series(&sc, i, &s[i], v, n);
		total += v ? n : 0;
		free(v);
	}
	if (!total || sc.data.oom || sc.plot.oom || sc.labels.oom) {
		qe_text_release(&sc.data);
		qe_text_release(&sc.plot);
		qe_text_release(&sc.labels);
		return NULL;
	}
	qe_text_put(&sc.data, qe_text_str(&sc.labels));
	qe_text_release(&sc.labels);
	qe_text_put(&sc.data, qe_text_str(&sc.plot));
	qe_text_put(&sc.data, "\n");
	qe_text_release(&sc.plot);
	return qe_text_take(&sc.data);
}

/* ---- the run's charts ---- */

#define MAX_SERIES 16

struct series_buf {
	struct qe_chart_series s[MAX_SERIES];
	struct qe_chart_point *pts[MAX_SERIES];
	char titles[MAX_SERIES][160];
	size_t n;
	size_t cap_pts; /* points per series */
};

/* A new series in the next slot. The slot keeps the style flags (line,
 * frontier) it had in an earlier chart: the quality vs speed chart's series
 * are drawn with lines where the chart before had a line in the same slot.
 * A quirk, kept so the reports stay the same; set both flags to change it. */
static struct qe_chart_point *series_add(struct series_buf *b, const char *title)
{
	struct qe_chart_point *p;

	if (b->n == MAX_SERIES)
		return NULL;
	p = calloc(b->cap_pts ? b->cap_pts : 1, sizeof(*p));
	if (!p)
		return NULL;
	snprintf(b->titles[b->n], sizeof(b->titles[b->n]), "%s", title);
	b->pts[b->n] = p;
	b->s[b->n].title = b->titles[b->n];
	b->s[b->n].pts = p;
	b->s[b->n].n = 0;
	b->n++;
	return p;
}

static void series_push(struct series_buf *b, double x, double y, double lo, double hi, const char *label)
{
	struct qe_chart_series *s = &b->s[b->n - 1];
	struct qe_chart_point *p = b->pts[b->n - 1];

	if (s->n >= b->cap_pts)
		return;
	p[s->n].x = x;
	p[s->n].y = y;
	p[s->n].lo = lo;
	p[s->n].hi = hi;
	p[s->n].label = label;
	p[s->n].xlo = p[s->n].xhi = NAN;
	s->n++;
}

static void series_free(struct series_buf *b)
{
	for (size_t i = 0; i < b->n; i++)
		free(b->pts[i]);
	b->n = 0;
}

static void add_chart(struct qe_doc *d, int *headed, const char *caption, const struct qe_chart_spec *sp,
		      struct series_buf *b)
{
	char *script = qe_chart_script(sp, b->s, b->n);

	if (script) {
		if (!*headed) {
			qe_doc_heading(d, 1, "Charts");
			*headed = 1;
		}
		qe_doc_chart(d, caption, script);
		free(script);
	}
	series_free(b);
}

/* One series a task's view offers, with the name it is drawn under. */
struct task_series {
	const char *task;              /* the task instance; borrowed from res */
	char title[160];
	struct qe_view_series s;
};

#define MAX_TASK_SERIES 64

/* Every series the run's tasks' views offer, in task order; at most cap. */
static size_t collect_series(const cJSON *res, struct task_series *out, size_t cap)
{
	const cJSON *task;
	size_t n = 0;

	cJSON_ArrayForEach(task, cJSON_GetObjectItemCaseSensitive(res, "tasks")) {
		struct qe_view_series vs[MAX_TASK_SERIES];
		struct qe_view_ctx c;
		size_t k;
		qe_view_ctx_init(&c, res, task);
		if (!c.view || !c.view->series)
			continue;
		k = c.view->series(&c, vs, MAX_TASK_SERIES);
		for (size_t i = 0; i < k && n < cap; i++, n++) {
			out[n].task = task->string;
			out[n].s = vs[i];
			if (vs[i].own_name || !vs[i].label[0])
				snprintf(out[n].title, sizeof(out[n].title), "%s", vs[i].own_name ? vs[i].label : c.title);
			else
				snprintf(out[n].title, sizeof(out[n].title), "%s: %s", c.title, vs[i].label);
		}
	}
	return n;
}

/* Series ts at level nm: y (value x scale) and its bars (NaN = none).
 * Returns 0 when the level has no value. */
static int series_value(const cJSON *res, const struct task_series *ts, const char *nm, double *y, double *lo,
			double *hi)
{
	const struct qe_view_series *s = &ts->s;
	double v, sc = s->scale ? s->scale : 1, a, b;

	*lo = *hi = NAN;
	if (qe_metric_get(res, ts->task, nm, s->path, &v) != QE_METRIC_OK)
		return 0;
	*y = sc * v;
	if (s->ci[0]) {
		qe_metric_pair(res, ts->task, nm, s->ci, &a, &b);
		*lo = sc * a;
		*hi = sc * b;
	} else if (s->sd[0] && qe_metric_get(res, ts->task, nm, s->sd, &a) == QE_METRIC_OK) {
		/* a rate's spread: the bar stops at 0, where no rate can be */
		*lo = sc * (v >= 0 ? fmax(0.0, v - a) : v - a);
		*hi = sc * (v + a);
	}
	return 1;
}

/* The series of chart `chart` as lines over the levels: x = bits/weight, or
 * with ax the axis' measure (then a frontier instead of lines, and no bars).
 * The first series labels its points with the level names. */
static void level_series(const cJSON *res, const struct task_series *ts, size_t n, int chart,
			 const struct qe_view_axis *ax, struct series_buf *b)
{
	const cJSON *lv;
	int first = 1;

	for (size_t i = 0; i < n; i++) {
		if (ts[i].s.chart != chart || !series_add(b, ts[i].title))
			continue;
		if (ax)
			b->s[b->n - 1].frontier = 1;
		else
			b->s[b->n - 1].line = 1;
		cJSON_ArrayForEach(lv, qe_results_levels(res)) {
			const char *nm = qe_json_str(lv, "name", NULL);
			double x = qe_json_num(lv, "bpw", NAN), y, lo, hi, sd;
			if (!series_value(res, &ts[i], nm, &y, &lo, &hi))
				continue;
			if (ax && qe_metric_get(res, ax->task, nm, ax->path, &x) != QE_METRIC_OK)
				x = NAN;
			series_push(b, x, y, lo, hi, first ? nm : NULL);
			/* quality vs speed: bars on both axes, the speed's sd clipped at 0 */
			if (ax && ax->sd[0] && qe_metric_get(res, ax->task, nm, ax->sd, &sd) == QE_METRIC_OK &&
			    b->s[b->n - 1].n) {
				struct qe_chart_point *p = &b->pts[b->n - 1][b->s[b->n - 1].n - 1];
				p->xlo = fmax(0.0, x - sd);
				p->xhi = x + sd;
			}
		}
		first = 0;
	}
}

/* Change vs the reference: one x position per non-reference level, the
 * series side by side around it. */
static void delta_chart(const cJSON *res, const struct task_series *ts, size_t n, const char *ref, int *headed,
			struct series_buf *b, struct qe_doc *d)
{
	const char *cats[64];
	size_t n_cats = 0, n_delta = 0, i_delta = 0;
	const cJSON *lv;
	struct qe_chart_spec sp;
	char title[200], cap[256];

	cJSON_ArrayForEach(lv, qe_results_levels(res)) {
		const char *nm = qe_json_str(lv, "name", NULL);
		if (nm && strcmp(nm, ref) && n_cats < 64)
			cats[n_cats++] = nm;
	}
	for (size_t i = 0; i < n; i++)
		n_delta += ts[i].s.chart == QE_CHART_DELTA;
	for (size_t i = 0; i < n; i++) {
		double off;
		if (ts[i].s.chart != QE_CHART_DELTA || !series_add(b, ts[i].title))
			continue;
		off = n_delta > 1 ? ((double)i_delta - (double)(n_delta - 1) / 2.0) * 0.12 : 0.0;
		i_delta++;
		for (size_t k = 0; k < n_cats; k++) {
			double y, lo, hi;
			if (series_value(res, &ts[i], cats[k], &y, &lo, &hi))
				series_push(b, (double)k + off, y, lo, hi, NULL);
		}
	}
	memset(&sp, 0, sizeof(sp));
	snprintf(title, sizeof(title), "Accuracy change vs %s", ref);
	sp.title = title;
	sp.xlabel = "level";
	sp.ylabel = "change, points (paired 95% interval)";
	sp.xcats = cats;
	sp.n_xcats = n_cats;
	sp.zero_line = 1;
	snprintf(cap, sizeof(cap), "Accuracy change of each level against %s in percentage points; bars are paired "
				   "95%% intervals (Newcombe's score interval), the dashed line is no change.", ref);
	add_chart(d, headed, cap, &sp, b);
}

/* The x axis of quality vs speed, chosen by the speed tasks' views. */
static void speed_axis(const cJSON *res, struct qe_view_axis *ax)
{
	const cJSON *task;

	memset(ax, 0, sizeof(*ax));
	cJSON_ArrayForEach(task, cJSON_GetObjectItemCaseSensitive(res, "tasks")) {
		struct qe_view_ctx c;
		qe_view_ctx_init(&c, res, task);
		if (c.view && c.view->speed_axis)
			c.view->speed_axis(&c, ax);
	}
}

void qe_run_charts(const cJSON *res, struct qe_doc *d)
{
	const char *ref = qe_results_ref(res) ? qe_results_ref(res) : "the reference";
	struct task_series *ts = calloc(MAX_TASK_SERIES, sizeof(*ts));
	struct series_buf b = { 0 };
	struct qe_view_axis ax;
	struct qe_chart_spec sp;
	size_t n;
	int headed = 0;
	char cap[256], lab[160];

	if (!ts)
		return;
	n = collect_series(res, ts, MAX_TASK_SERIES);
	b.cap_pts = (size_t)cJSON_GetArraySize(qe_results_levels(res));

	memset(&sp, 0, sizeof(sp));
	sp.title = "Accuracy vs bits/weight";
	sp.xlabel = "bits/weight";
	sp.ylabel = "accuracy, % (95% interval)";
	sp.logx = 1;
	level_series(res, ts, n, QE_CHART_ACCURACY, NULL, &b);
	add_chart(d, &headed, "Accuracy of each level against its bits per weight; bars are 95% intervals.", &sp, &b);

	delta_chart(res, ts, n, ref, &headed, &b, d);

	memset(&sp, 0, sizeof(sp));
	sp.title = "Embedding drift vs bits/weight";
	sp.xlabel = "bits/weight";
	sp.ylabel = "1 \xe2\x88\x92 mean cosine (log)";
	sp.logx = 1;
	sp.logy = 1;
	level_series(res, ts, n, QE_CHART_DRIFT, NULL, &b);
	snprintf(cap, sizeof(cap), "How far each level's sentence embeddings moved from %s: 1 %s mean cosine, log "
				   "scale, lower is closer.", ref, "\xe2\x88\x92");
	add_chart(d, &headed, cap, &sp, &b);

	sp.title = "Choice drift vs bits/weight";
	sp.ylabel = "mean KL, nats (log)";
	level_series(res, ts, n, QE_CHART_DRIFT_KL, NULL, &b);
	snprintf(cap, sizeof(cap), "How far each level's distribution over the answer choices moved from %s: mean KL "
				   "divergence in nats, log scale, lower is closer.", ref);
	add_chart(d, &headed, cap, &sp, &b);

	memset(&sp, 0, sizeof(sp));
	sp.title = "Prompt tokens/s vs bits/weight";
	sp.xlabel = "bits/weight";
	sp.ylabel = "tokens/s (mean, bars: sd)";
	sp.logx = 1;
	sp.y_from_zero = 1;
	level_series(res, ts, n, QE_CHART_SPEED, NULL, &b);
	add_chart(d, &headed, "Prompt processing speed of each level against its bits per weight; bars are one "
			      "standard deviation over the repetitions, cut at 0.", &sp, &b);

	sp.title = "Generation tokens/s vs bits/weight";
	level_series(res, ts, n, QE_CHART_SPEED_GEN, NULL, &b);
	add_chart(d, &headed, "Generation speed of each level against its bits per weight; bars are one standard "
			      "deviation over the repetitions, cut at 0.", &sp, &b);

	speed_axis(res, &ax);
	if (ax.task) {
		memset(&sp, 0, sizeof(sp));
		snprintf(lab, sizeof(lab), "tokens/s (%s)", ax.label);
		sp.title = "Quality vs speed";
		sp.xlabel = lab;
		sp.ylabel = "accuracy, %";
		level_series(res, ts, n, QE_CHART_ACCURACY, &ax, &b);
		snprintf(cap, sizeof(cap), "Accuracy against %s tokens/s, bars: the accuracy's 95%% interval and the "
					   "speed's sd; the dashed line joins the levels no other level beats on both (the "
					   "frontier). Noisy speed tests are never used here.", ax.label);
		add_chart(d, &headed, cap, &sp, &b);
	}
	series_free(&b);
	free(ts);
}
