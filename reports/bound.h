/* qeval — numbers that only bound their metric from below (a view's
 * lower_bound, reports/view.h: a server's top-K KL) as compare and history
 * write them, "≥ 0.0345", and what a difference to such a number is.
 * Pure functions: thread-safe. */
#ifndef QE_REPORTS_BOUND_H
#define QE_REPORTS_BOUND_H

#define QE_BOUND_GE "\xe2\x89\xa5 "  /* "≥ ": before a lower bound, or a difference that is one */
#define QE_BOUND_LE "\xe2\x89\xa4 "  /* "≤ ": before a difference that is an upper bound */
#define QE_BOUND_NONE " (bounds)"    /* after a difference of bounds that bounds nothing */

/* What the difference (delta: enum qe_view_delta, QE_VD_RATIO = v / w, else
 * v - w) of a run's number v and a baseline's w is, where v_lb and w_lb say
 * which of them is a lower bound of its metric: "" (both exact: the
 * difference itself), QE_BOUND_GE (the true difference is at least that),
 * QE_BOUND_LE (at most that) or NULL (it bounds nothing: both are bounds, or
 * a ratio whose signs do not keep the order). Static storage. */
const char *qe_bound_diff(int delta, int v_lb, int w_lb, double v, double w);

#endif
