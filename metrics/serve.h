/* qeval — serving figures (vLLM's `bench serve` definitions) from the times
 * of each request of a serving run. Pure functions; docs/metrics.md,
 * "Serving".
 */
#ifndef QE_METRICS_SERVE_H
#define QE_METRICS_SERVE_H

#include <stddef.h>
#include <stdint.h>

#include "harness/base/err.h"

/* A distribution of latencies, in milliseconds; NaN where n == 0. */
struct qe_serve_dist {
	size_t n;
	double mean, median, p90, p99;   /* type-7 percentiles (qe_stats_percentile) */
};

/* seconds[n] -> the distribution in ms. Every value finite and >= 0, else
 * QE_EINPUT naming its index. */
int qe_serve_dist(const double *seconds, size_t n, struct qe_serve_dist *out, struct qe_err *err);

/* One request as a serving run recorded it (times in seconds). */
struct qe_serve_times {
	int ok;              /* 1 = it succeeded; failed ones count only in duration */
	double start_s;      /* sent, after the run began */
	double ttft_s;       /* first token, after start */
	double e2e_s;        /* end, after start */
	int32_t n_out;       /* tokens of the reply */
	const double *itl_s; /* gaps between consecutive token events */
	size_t n_itl;
};

struct qe_serve_summary {
	size_t n, n_ok;
	double duration_s;           /* last end - first start, over every request */
	uint64_t out_tokens;         /* sum of n_out over the ok requests */
	double output_tps;           /* out_tokens / duration_s */
	double request_rps;          /* n_ok / duration_s */
	struct qe_serve_dist ttft;   /* per ok request */
	struct qe_serve_dist tpot;   /* (e2e - ttft) / (n_out - 1), ok requests with n_out > 1 */
	struct qe_serve_dist itl;    /* every gap of every ok request, pooled */
	struct qe_serve_dist e2e;    /* per ok request */
};

/* The summary of r[n]. Returns 0, QE_ENOMEM or QE_EINPUT (a negative or
 * non-finite time, naming the request). */
int qe_serve_summarize(const struct qe_serve_times *r, size_t n, struct qe_serve_summary *out, struct qe_err *err);

#endif
