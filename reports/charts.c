#include "reports/charts.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "reports/results.h"
#include "reports/text.h"

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

char *qe_chart_script(const struct qe_chart_spec *sp, const struct qe_chart_series *s, size_t ns)
{
	struct qe_text t = { 0 }, plot = { 0 }, labels = { 0 };
	size_t total = 0, nlab = 0;

	qe_text_put(&t, "set title '");
	qe_text_gp(&t, sp->title);
	qe_text_put(&t, "'\nset xlabel '");
	qe_text_gp(&t, sp->xlabel);
	qe_text_put(&t, "'\nset ylabel '");
	qe_text_gp(&t, sp->ylabel);
	qe_text_put(&t, "'\nset grid lc rgb '#dddddd'\nset key below\nset border 3\nset tics nomirror\n"
			"set bars small\n");
	if (sp->logy)
		qe_text_put(&t, "set offsets graph 0.08, graph 0.08, 0, 0\n");
	else
		qe_text_put(&t, "set offsets graph 0.08, graph 0.08, graph 0.08, graph 0.08\n");
	if (sp->logx)
		qe_text_put(&t, "set logscale x 2\n");
	if (sp->logy)
		qe_text_put(&t, "set logscale y 10\nset format y '%g'\n");
	if (sp->xcats) {
		qe_text_put(&t, "set xtics (");
		for (size_t i = 0; i < sp->n_xcats; i++) {
			qe_text_put(&t, i ? ", '" : "'");
			qe_text_gp(&t, sp->xcats[i]);
			qe_text_printf(&t, "' %zu", i);
		}
		qe_text_put(&t, ")\n");
		qe_text_printf(&t, "set xrange [-0.5:%zu.5]\nset offsets 0, 0, graph 0.08, graph 0.08\n",
			       sp->n_xcats ? sp->n_xcats - 1 : 0);
		if (sp->n_xcats > 4)
			qe_text_put(&t, "set xtics rotate by -30\n");
	}
	if (sp->zero_line)
		qe_text_put(&t, "set arrow from graph 0, first 0 to graph 1, first 0 nohead dt 2 lc rgb '#888888'\n");

	qe_text_put(&plot, "plot ");
	for (size_t i = 0; i < ns; i++) {
		size_t n;
		struct qe_chart_point *v = sorted(sp, &s[i], &n);
		char lc[32];
		int bars = 0;

		if (!v)
			continue;
		if (!n) {
			free(v);
			continue;
		}
		for (size_t k = 0; k < n; k++)
			bars |= !isnan(v[k].lo) && !isnan(v[k].hi);
		qe_text_printf(&t, "$s%zu << EOD\n", i);
		for (size_t k = 0; k < n; k++) {
			double lo = isnan(v[k].lo) ? v[k].y : v[k].lo, hi = isnan(v[k].hi) ? v[k].y : v[k].hi;
			num(&t, v[k].x);
			qe_text_putc(&t, ' ');
			num(&t, v[k].y);
			qe_text_putc(&t, ' ');
			num(&t, lo);
			qe_text_putc(&t, ' ');
			num(&t, hi);
			qe_text_putc(&t, '\n');
			if (v[k].label) {
				qe_text_printf(&labels, "set label %zu '", ++nlab);
				qe_text_gp(&labels, v[k].label);
				qe_text_put(&labels, "' at ");
				num(&labels, v[k].x);
				qe_text_put(&labels, ",");
				num(&labels, v[k].y);
				qe_text_put(&labels, " offset char 0.5,0.7 font ',10' tc rgb '#333333' noenhanced\n");
			}
		}
		qe_text_put(&t, "EOD\n");
		if (total)
			qe_text_put(&plot, ", \\\n     ");
		if (s[i].color)
			snprintf(lc, sizeof(lc), "lc rgb '%.7s'", s[i].color);
		else
			snprintf(lc, sizeof(lc), "lc %zu", i + 1);
		qe_text_printf(&plot, "$s%zu using %s pt %d ps %.2f %s title '", i,
			       bars ? "1:2:3:4 with yerrorbars" : "1:2 with points", s[i].pt > 0 ? s[i].pt : 7,
			       s[i].ps > 0 ? s[i].ps : 0.8, lc);
		qe_text_gp(&plot, s[i].title);
		qe_text_put(&plot, "'");
		if (s[i].line)
			qe_text_printf(&plot, ", $s%zu using 1:2 with lines %s notitle", i, lc);
		if (s[i].frontier) {
			/* walk from the fastest down: a point is on the frontier when it beats every faster one on y */
			double best = -INFINITY;
			qe_text_printf(&t, "$f%zu << EOD\n", i);
			for (size_t k = n; k-- > 0;) {
				if (v[k].y > best) {
					best = v[k].y;
					num(&t, v[k].x);
					qe_text_putc(&t, ' ');
					num(&t, v[k].y);
					qe_text_putc(&t, '\n');
				}
			}
			qe_text_put(&t, "EOD\n");
			qe_text_printf(&plot, ", $f%zu using 1:2 with lines dt 2 lw 1.5 %s title '", i, lc);
			qe_text_gp(&plot, s[i].title);
			qe_text_put(&plot, " frontier'");
		}
		total += n;
		free(v);
	}
	if (!total || t.oom || plot.oom || labels.oom) {
		qe_text_release(&t);
		qe_text_release(&plot);
		qe_text_release(&labels);
		return NULL;
	}
	qe_text_put(&t, qe_text_str(&labels));
	qe_text_release(&labels);
	qe_text_put(&t, qe_text_str(&plot));
	qe_text_put(&t, "\n");
	qe_text_release(&plot);
	return qe_text_take(&t);
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

static double ci_end(const cJSON *obj, const char *key, int i)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(obj, key), *v = cJSON_GetArrayItem(a, i);
	return cJSON_GetArraySize(a) == 2 && cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static double test_num(const cJSON *blk, const char *test, const char *key)
{
	const cJSON *t;
	cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(blk, "tests")) {
		const char *nm = qe_results_str(t, "name");
		if (nm && !strcmp(nm, test))
			return qe_results_num(t, key);
	}
	return NAN;
}

void qe_run_charts(const cJSON *res, struct qe_doc *d)
{
	const cJSON *levels = cJSON_GetObjectItemCaseSensitive(res, "levels");
	const cJSON *tasks = cJSON_GetObjectItemCaseSensitive(res, "tasks"), *task, *lv;
	const char *ref = qe_results_ref(res), *cats[64], *speed_task = NULL, *speed_test = NULL;
	struct series_buf b = { 0 };
	struct qe_chart_spec sp;
	size_t n_cats = 0, k;
	int headed = 0, first;
	char cap[256], lab[160], title[200];

	b.cap_pts = (size_t)cJSON_GetArraySize(levels);
	if (!ref)
		ref = "the reference";

	/* 1. accuracy vs bits/weight */
	memset(&sp, 0, sizeof(sp));
	sp.title = "Accuracy vs bits/weight";
	sp.xlabel = "bits/weight";
	sp.ylabel = "accuracy, % (95% interval)";
	sp.logx = 1;
	first = 1;
	cJSON_ArrayForEach(task, tasks) {
		const char *type = qe_results_task_type(task);
		if (!qe_task_type_is_mc(type) || !series_add(&b, qe_task_title(task->string, type)))
			continue;
		b.s[b.n - 1].line = 1;
		cJSON_ArrayForEach(lv, levels) {
			const char *nm = qe_results_str(lv, "name");
			const cJSON *blk = qe_results_block(res, task->string, nm);
			if (blk)
				series_push(&b, qe_results_num(lv, "bpw"), 100 * qe_results_num(blk, "acc"),
					    100 * ci_end(blk, "acc_ci95", 0), 100 * ci_end(blk, "acc_ci95", 1),
					    first ? nm : NULL);
		}
		first = 0;
	}
	add_chart(d, &headed, "Accuracy of each level against its bits per weight; bars are 95% intervals.", &sp, &b);

	/* 2. delta vs the reference, one x position per non-reference level */
	cJSON_ArrayForEach(lv, levels) {
		const char *nm = qe_results_str(lv, "name");
		if (nm && (!ref || strcmp(nm, ref)) && n_cats < 64)
			cats[n_cats++] = nm;
	}
	memset(&sp, 0, sizeof(sp));
	snprintf(title, sizeof(title), "Accuracy change vs %s", ref);
	sp.title = title;
	sp.xlabel = "level";
	sp.ylabel = "change, percentage points (paired 95% interval)";
	sp.xcats = cats;
	sp.n_xcats = n_cats;
	sp.zero_line = 1;
	{
		size_t n_mc = 0, i_mc = 0;
		cJSON_ArrayForEach(task, tasks)
			n_mc += qe_task_type_is_mc(qe_results_task_type(task));
		cJSON_ArrayForEach(task, tasks) {
			const char *type = qe_results_task_type(task);
			double off;
			if (!qe_task_type_is_mc(type) || !series_add(&b, qe_task_title(task->string, type)))
				continue;
			off = n_mc > 1 ? ((double)i_mc - (double)(n_mc - 1) / 2.0) * 0.12 : 0.0;
			i_mc++;
			for (k = 0; k < n_cats; k++) {
				const cJSON *vs = cJSON_GetObjectItemCaseSensitive(qe_results_block(res, task->string, cats[k]),
										   "vs_ref");
				if (cJSON_IsObject(vs))
					series_push(&b, (double)k + off, 100 * qe_results_num(vs, "delta_acc"),
						    100 * ci_end(vs, "delta_ci95", 0), 100 * ci_end(vs, "delta_ci95", 1), NULL);
			}
		}
	}
	snprintf(cap, sizeof(cap), "Accuracy change of each level against %s in percentage points; bars are paired "
				   "bootstrap 95%% intervals, the dashed line is no change.", ref);
	add_chart(d, &headed, cap, &sp, &b);

	/* 3. drift vs bits/weight (log y): 1 - mean cosine for pairs, mean KL for multiple choice */
	memset(&sp, 0, sizeof(sp));
	sp.title = "Drift vs bits/weight";
	sp.xlabel = "bits/weight";
	sp.ylabel = "drift (log scale, lower is closer)";
	sp.logx = 1;
	sp.logy = 1;
	first = 1;
	cJSON_ArrayForEach(task, tasks) {
		const char *type = qe_results_task_type(task);
		int mc = qe_task_type_is_mc(type);
		if (!mc && strcmp(type, "pairs") != 0)
			continue;
		snprintf(lab, sizeof(lab), "%s: %s", qe_task_title(task->string, type), mc ? "mean KL" : "1 - mean cosine");
		if (!series_add(&b, lab))
			continue;
		b.s[b.n - 1].line = 1;
		cJSON_ArrayForEach(lv, levels) {
			const char *nm = qe_results_str(lv, "name");
			const cJSON *blk = qe_results_block(res, task->string, nm);
			double v = mc ? qe_results_num(cJSON_GetObjectItemCaseSensitive(blk, "vs_ref"), "kl_mean")
				      : qe_results_num(cJSON_GetObjectItemCaseSensitive(blk, "drift"), "one_minus_cos_mean");
			if (blk && !isnan(v))
				series_push(&b, qe_results_num(lv, "bpw"), v, NAN, NAN, first ? nm : NULL);
		}
		first = 0;
	}
	snprintf(cap, sizeof(cap), "How far each level's outputs moved from %s: 1 %s mean cosine of the embeddings "
				   "(pairs tasks) and mean KL divergence of the choice distributions (multiple choice).",
		 ref, "\xe2\x88\x92");
	add_chart(d, &headed, cap, &sp, &b);

	/* 4. tokens/s vs bits/weight */
	memset(&sp, 0, sizeof(sp));
	sp.title = "Tokens/s vs bits/weight";
	sp.xlabel = "bits/weight";
	sp.ylabel = "tokens/s (mean, bars: sd)";
	sp.logx = 1;
	first = 1;
	cJSON_ArrayForEach(task, tasks) {
		const char *names[16];
		size_t nt = 0;
		const cJSON *blk, *t;
		if (strcmp(qe_results_task_type(task), "speed") != 0)
			continue;
		cJSON_ArrayForEach(blk, cJSON_GetObjectItemCaseSensitive(task, "levels"))
			cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(blk, "tests")) {
				const char *nm = qe_results_str(t, "name");
				size_t i;
				if (!nm || !cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(t, "tps_mean")))
					continue;
				for (i = 0; i < nt && strcmp(names[i], nm); i++)
					;
				if (i == nt && nt < 16)
					names[nt++] = nm;
			}
		for (size_t i = 0; i < nt; i++) {
			if (!speed_task) {
				speed_task = task->string;
				speed_test = names[i];
			}
			/* quality vs speed uses generation speed: tg128, else the first tg test */
			if (!strcmp(names[i], "tg128") ||
			    (!strncmp(names[i], "tg", 2) && strcmp(speed_test, "tg128") && strncmp(speed_test, "tg", 2))) {
				speed_task = task->string;
				speed_test = names[i];
			}
			snprintf(lab, sizeof(lab), "%s", names[i]);
			if (!series_add(&b, lab))
				continue;
			b.s[b.n - 1].line = 1;
			cJSON_ArrayForEach(lv, levels) {
				const char *nm = qe_results_str(lv, "name");
				const cJSON *lb = qe_results_block(res, task->string, nm);
				double m = test_num(lb, names[i], "tps_mean"), sd = test_num(lb, names[i], "tps_sd");
				if (lb)
					series_push(&b, qe_results_num(lv, "bpw"), m, isnan(sd) ? NAN : m - sd,
						    isnan(sd) ? NAN : m + sd, first ? nm : NULL);
			}
			first = 0;
		}
	}
	add_chart(d, &headed, "Generation and prompt speed of each level against its bits per weight; bars are one "
			      "standard deviation over the repetitions.", &sp, &b);

	/* 5. quality vs speed with the frontier */
	if (speed_task) {
		memset(&sp, 0, sizeof(sp));
		snprintf(lab, sizeof(lab), "tokens/s (%s)", speed_test);
		sp.title = "Quality vs speed";
		sp.xlabel = lab;
		sp.ylabel = "accuracy, %";
		first = 1;
		cJSON_ArrayForEach(task, tasks) {
			const char *type = qe_results_task_type(task);
			if (!qe_task_type_is_mc(type) || !series_add(&b, qe_task_title(task->string, type)))
				continue;
			b.s[b.n - 1].frontier = 1;
			cJSON_ArrayForEach(lv, levels) {
				const char *nm = qe_results_str(lv, "name");
				const cJSON *blk = qe_results_block(res, task->string, nm);
				double x = test_num(qe_results_block(res, speed_task, nm), speed_test, "tps_mean");
				if (blk)
					series_push(&b, x, 100 * qe_results_num(blk, "acc"), NAN, NAN, first ? nm : NULL);
			}
			first = 0;
		}
		snprintf(cap, sizeof(cap), "Accuracy against %s tokens/s; the dashed line joins the levels that no other "
					   "level beats on both (the frontier): pick from those.", speed_test);
		add_chart(d, &headed, cap, &sp, &b);
	}
	series_free(&b);
}
