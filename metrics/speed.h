/* qeval — summaries of repeated speed measurements (llama-bench's
 * conventions): the rate of a run is the mean of the per-repetition rates,
 * not total tokens over total time. Pure functions; docs/metrics.md, "Speed".
 */
#ifndef QE_METRICS_SPEED_H
#define QE_METRICS_SPEED_H

#include <stddef.h>
#include <stdint.h>

#include "harness/base/err.h"

struct qe_speed_summary {
	size_t n;       /* repetitions */
	double mean;    /* tokens/s: mean of n_tokens[i] / seconds[i]; latency: ms. NaN when n == 0 */
	double sd;      /* sample sd (n - 1) of the same values; NaN when n < 2 */
	double min, max;
};

/* Throughput: rate_i = n_tokens[i] / seconds[i] tokens/s for each repetition.
 * Every seconds[i] must be finite and > 0 (QE_EINPUT naming the repetition).
 * Returns 0, QE_EINVAL (NULL arrays) or QE_EINPUT. */
int qe_speed_rate(const uint64_t *n_tokens, const double *seconds, size_t n,
		  struct qe_speed_summary *out, struct qe_err *err);

/* Latency: seconds[i] (finite, >= 0) summarised in milliseconds.
 * Returns 0, QE_EINVAL or QE_EINPUT. */
int qe_speed_latency(const double *seconds, size_t n, struct qe_speed_summary *out,
		     struct qe_err *err);

#endif
