/* qeval — serving figures (metrics/serve.h). */
#include "metrics/serve.h"
#include "metrics/stats.h"

#include <math.h>
#include <stdlib.h>

int qe_serve_dist(const double *seconds, size_t n, struct qe_serve_dist *out, struct qe_err *err)
{
	double *ms = malloc((n ? n : 1) * sizeof(double));
	int rc = ms ? 0 : qe_fail(err, QE_ENOMEM, "out of memory");

	out->n = n;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		if (!isfinite(seconds[i]) || seconds[i] < 0)
			rc = qe_fail(err, QE_EINPUT, "latency %zu is %g s (finite and >= 0 expected)", i, seconds[i]);
		else
			ms[i] = seconds[i] * 1e3;
	}
	out->mean = rc == 0 && n ? qe_stats_mean(ms, n) : NAN;
	if (rc == 0)
		rc = qe_stats_percentile(ms, n, 0.5, &out->median, err);
	if (rc == 0)
		rc = qe_stats_percentile(ms, n, 0.9, &out->p90, err);
	if (rc == 0)
		rc = qe_stats_percentile(ms, n, 0.99, &out->p99, err);
	free(ms);
	return rc;
}

int qe_serve_summarize(const struct qe_serve_times *r, size_t n, struct qe_serve_summary *out, struct qe_err *err)
{
	size_t n_itl = 0, a = 0, b = 0, k = 0;
	double first = INFINITY, last = -INFINITY, *ttft, *tpot, *e2e, *itl;
	int rc = 0;

	for (size_t i = 0; i < n; i++)
		n_itl += r[i].ok ? r[i].n_itl : 0;
	ttft = malloc((n + 1) * sizeof(double));
	tpot = malloc((n + 1) * sizeof(double));
	e2e = malloc((n + 1) * sizeof(double));
	itl = malloc((n_itl + 1) * sizeof(double));
	*out = (struct qe_serve_summary){ .n = n };
	if (!ttft || !tpot || !e2e || !itl)
		rc = qe_fail(err, QE_ENOMEM, "out of memory");
	for (size_t i = 0; rc == 0 && i < n; i++) {
		if (!isfinite(r[i].start_s) || !isfinite(r[i].e2e_s) || r[i].e2e_s < 0)
			rc = qe_fail(err, QE_EINPUT, "request %zu: start %g s, end-to-end %g s", i, r[i].start_s, r[i].e2e_s);
		first = fmin(first, r[i].start_s);
		last = fmax(last, r[i].start_s + r[i].e2e_s);
		if (!r[i].ok)
			continue;
		out->n_ok++;
		out->out_tokens += (uint64_t)(r[i].n_out > 0 ? r[i].n_out : 0);
		ttft[a] = r[i].ttft_s;
		e2e[a++] = r[i].e2e_s;
		if (r[i].n_out > 1)
			tpot[b++] = (r[i].e2e_s - r[i].ttft_s) / (double)(r[i].n_out - 1);
		for (size_t j = 0; j < r[i].n_itl; j++)
			itl[k++] = r[i].itl_s[j];
	}
	out->duration_s = n && rc == 0 ? last - first : NAN;
	out->output_tps = out->duration_s > 0 ? (double)out->out_tokens / out->duration_s : NAN;
	out->request_rps = out->duration_s > 0 ? (double)out->n_ok / out->duration_s : NAN;
	if (rc == 0)
		rc = qe_serve_dist(ttft, a, &out->ttft, err);
	if (rc == 0)
		rc = qe_serve_dist(tpot, b, &out->tpot, err);
	if (rc == 0)
		rc = qe_serve_dist(itl, k, &out->itl, err);
	if (rc == 0)
		rc = qe_serve_dist(e2e, a, &out->e2e, err);
	free(ttft);
	free(tpot);
	free(e2e);
	free(itl);
	return rc;
}
