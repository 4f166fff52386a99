/* qeval — speed summaries (see metrics/speed.h). */
#include "metrics/speed.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/stats.h"

static void summarize(const double *v, size_t n, struct qe_speed_summary *out)
{
	out->n = n;
	out->mean = qe_stats_mean(v, n);
	out->sd = qe_stats_sd(v, n);
	out->min = qe_stats_min(v, n);
	out->max = qe_stats_max(v, n);
}

int qe_speed_rate(const uint64_t *n_tokens, const double *seconds, size_t n,
		  struct qe_speed_summary *out, struct qe_err *err)
{
	double *v;

	if (!out || (n > 0 && (!n_tokens || !seconds)))
		return qe_fail(err, QE_EINVAL, "speed: NULL argument");
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < n; i++)
		if (!isfinite(seconds[i]) || seconds[i] <= 0.0)
			return qe_fail(err, QE_EINPUT, "speed: repetition %zu took %g s", i, seconds[i]);
	v = malloc((n ? n : 1) * sizeof(*v));
	if (!v)
		return qe_fail(err, QE_ENOMEM, "speed: cannot allocate %zu rates", n);
	for (size_t i = 0; i < n; i++)
		v[i] = (double)n_tokens[i] / seconds[i];
	summarize(v, n, out);
	free(v);
	return 0;
}

int qe_speed_latency(const double *seconds, size_t n, struct qe_speed_summary *out,
		     struct qe_err *err)
{
	double *v;

	if (!out || (n > 0 && !seconds))
		return qe_fail(err, QE_EINVAL, "speed: NULL argument");
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < n; i++)
		if (!isfinite(seconds[i]) || seconds[i] < 0.0)
			return qe_fail(err, QE_EINPUT, "speed: latency sample %zu is %g s", i, seconds[i]);
	v = malloc((n ? n : 1) * sizeof(*v));
	if (!v)
		return qe_fail(err, QE_ENOMEM, "speed: cannot allocate %zu samples", n);
	for (size_t i = 0; i < n; i++)
		v[i] = seconds[i] * 1e3;
	summarize(v, n, out);
	free(v);
	return 0;
}
