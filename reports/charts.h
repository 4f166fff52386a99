/* qeval — gnuplot scripts for the report charts. A script is built from
 * numbers and labels; every label goes through qe_text_gp inside a
 * single-quoted string, so data text can never become gnuplot commands.
 * Scripts are drawn by reports/gnuplot.c when the HTML is rendered.
 */
#ifndef QE_REPORTS_CHARTS_H
#define QE_REPORTS_CHARTS_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "reports/doc.h"

struct qe_chart_point {
	double x, y;          /* NaN y = no point */
	double lo, hi;        /* error bar ends in y units; NaN = no bar */
	const char *label;    /* text next to the point, NULL = none; borrowed */
	double xlo, xhi;      /* error bar ends in x units, drawn where xlo < xhi (NaN or equal = none) */
};

struct qe_chart_series {
	const char *title;    /* key entry; borrowed */
	const struct qe_chart_point *pts;
	size_t n;
	int line;             /* 1 = also join the points in x order */
	int frontier;         /* 1 = also draw the frontier: the points no other point beats on
			       * both x and y (higher is better on both) */
	int pt;               /* gnuplot point type; 0 = 7 (filled circle) */
	const char *color;    /* "#rrggbb"; NULL = the series' colour from the palette */
	double ps;            /* point size; 0 = 0.8 */
};

struct qe_chart_spec {
	const char *title, *xlabel, *ylabel;
	int logx, logy;                      /* 1 = log2 x / log10 y axis (points <= 0 are left out) */
	const char *const *xcats;            /* categorical x: labels of x = 0 .. n_xcats-1; NULL = numeric */
	size_t n_xcats;
	int zero_line;                       /* 1 = dashed line at y = 0 */
	int y_from_zero;                     /* 1 = the y axis starts at 0 (a rate: nothing below 0) */
};

/* The gnuplot commands that draw the chart, or NULL when no series has a
 * point (or out of memory). Caller frees with free(). */
char *qe_chart_script(const struct qe_chart_spec *spec, const struct qe_chart_series *s, size_t ns);

/* Add the run's charts to d under a "Charts" heading: accuracy vs
 * bits/weight with 95% intervals, Δ vs the reference with paired intervals,
 * embedding drift and choice drift vs bits/weight (separate charts: 1 − cosine
 * and KL are different units), prompt and generation tokens/s vs bits/weight
 * (separate charts, bars clipped at 0), and quality vs speed (bars on both axes) with
 * its frontier. Charts without data are left out. */
void qe_run_charts(const cJSON *res, struct qe_doc *d);

#endif
