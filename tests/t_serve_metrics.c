/* t_serve_metrics — metrics/serve.h against independent computations: a
 * hand-worked case and a naive recomputation (sort, interpolate) on random
 * request times. */
#include "tq.h"

#include "metrics/serve.h"

#include <math.h>
#include <stdlib.h>

#define TOL 1e-9

/* type-7 percentile by sorting a copy (insertion sort: independent of qsort) */
static double naive_pct(const double *x, size_t n, double q)
{
	double *s = malloc(n * sizeof(double)), h, v;
	size_t lo;

	for (size_t i = 0; i < n; i++) {
		size_t j = i;
		for (; j > 0 && s[j - 1] > x[i]; j--)
			s[j] = s[j - 1];
		s[j] = x[i];
	}
	h = (double)(n - 1) * q;
	lo = (size_t)floor(h);
	v = lo + 1 < n ? s[lo] + (h - (double)lo) * (s[lo + 1] - s[lo]) : s[lo];
	free(s);
	return v;
}

/* three requests worked by hand */
static void test_hand(void)
{
	const double itl_a[] = { 0.010, 0.012 }, itl_b[] = { 0.020 };
	struct qe_serve_times r[3] = {
		{ 1, 0.0, 0.100, 0.122, 3, itl_a, 2 },  /* TPOT (0.122-0.1)/2 = 11 ms */
		{ 1, 0.050, 0.200, 0.220, 2, itl_b, 1 }, /* TPOT 20 ms; ends at 0.270 */
		{ 0, 0.060, NAN, 0.500, 0, NULL, 0 },    /* failed: only the duration; ends at 0.560 */
	};
	struct qe_serve_summary s;
	struct qe_err err = { 0 };

	TQ_EQ_INT(qe_serve_summarize(r, 3, &s, &err), 0);
	TQ_EQ_INT(s.n, 3);
	TQ_EQ_INT(s.n_ok, 2);
	TQ_NEAR(s.duration_s, 0.560, TOL);
	TQ_EQ_INT(s.out_tokens, 5);
	TQ_NEAR(s.output_tps, 5 / 0.560, TOL);
	TQ_NEAR(s.request_rps, 2 / 0.560, TOL);
	TQ_NEAR(s.ttft.mean, 150, TOL);
	TQ_NEAR(s.ttft.median, 150, TOL);
	TQ_NEAR(s.ttft.p90, 100 + 0.9 * 100, TOL);
	TQ_NEAR(s.tpot.mean, 15.5, TOL);
	TQ_NEAR(s.tpot.p99, 11 + 0.99 * 9, TOL);
	TQ_EQ_INT(s.itl.n, 3);
	TQ_NEAR(s.itl.median, 12, TOL);
	TQ_NEAR(s.e2e.median, 171, TOL);
	/* a request of one token has no TPOT */
	r[1].n_out = 1;
	TQ_EQ_INT(qe_serve_summarize(r, 2, &s, &err), 0);
	TQ_EQ_INT(s.tpot.n, 1);
	TQ_NEAR(s.tpot.p99, 11, TOL);
	/* nothing: NaN, not 0 */
	TQ_EQ_INT(qe_serve_summarize(r + 2, 1, &s, &err), 0);
	TQ_CHECK(isnan(s.ttft.median) && isnan(s.tpot.mean) && s.n_ok == 0);
	r[0].e2e_s = -1;
	TQ_EQ_INT(qe_serve_summarize(r, 1, &s, &err), QE_EINPUT);
}

/* random requests: every figure against a recomputation */
static void test_random(void)
{
	enum { N = 57, G = 9 };
	struct qe_serve_times r[N];
	double gaps[N][G], ttft[N], tpot[N], e2e[N], itl[N * G], first = 1e9, last = -1e9;
	size_t nt = 0, ni = 0, nok = 0;
	uint64_t tok = 0;
	struct qe_serve_summary s;
	struct qe_err err = { 0 };

	srand(7);
	for (int i = 0; i < N; i++) {
		double t = 0.01 + rand() / (double)RAND_MAX;
		r[i] = (struct qe_serve_times){ i % 7 != 3, 0.05 * i, t, t, 1 + rand() % G, gaps[i], 0 };
		for (int j = 0; j + 1 < r[i].n_out; j++) {
			gaps[i][j] = 0.001 + 0.02 * rand() / (double)RAND_MAX;
			r[i].e2e_s += gaps[i][j];
			r[i].n_itl++;
		}
		first = fmin(first, r[i].start_s);
		last = fmax(last, r[i].start_s + r[i].e2e_s);
		if (!r[i].ok)
			continue;
		ttft[nok] = r[i].ttft_s * 1e3;
		e2e[nok++] = r[i].e2e_s * 1e3;
		tok += (uint64_t)r[i].n_out;
		if (r[i].n_out > 1)
			tpot[nt++] = (r[i].e2e_s - r[i].ttft_s) / (r[i].n_out - 1) * 1e3;
		for (size_t j = 0; j < r[i].n_itl; j++)
			itl[ni++] = gaps[i][j] * 1e3;
	}
	TQ_EQ_INT(qe_serve_summarize(r, N, &s, &err), 0);
	TQ_NEAR(s.duration_s, last - first, TOL);
	TQ_NEAR(s.output_tps, tok / (last - first), 1e-6);
	for (int k = 0; k < 3; k++) {
		double q = k == 0 ? 0.5 : k == 1 ? 0.9 : 0.99;
		TQ_NEAR(k == 0 ? s.ttft.median : k == 1 ? s.ttft.p90 : s.ttft.p99, naive_pct(ttft, nok, q), 1e-9);
		TQ_NEAR(k == 0 ? s.tpot.median : k == 1 ? s.tpot.p90 : s.tpot.p99, naive_pct(tpot, nt, q), 1e-9);
		TQ_NEAR(k == 0 ? s.itl.median : k == 1 ? s.itl.p90 : s.itl.p99, naive_pct(itl, ni, q), 1e-9);
		TQ_NEAR(k == 0 ? s.e2e.median : k == 1 ? s.e2e.p90 : s.e2e.p99, naive_pct(e2e, nok, q), 1e-9);
	}
	{
		double m = 0;
		for (size_t i = 0; i < nt; i++)
			m += tpot[i] / (double)nt;
		TQ_NEAR(s.tpot.mean, m, 1e-9);
	}
}

int main(void)
{
	TQ_RUN(test_hand);
	TQ_RUN(test_random);
	return tq_done("t_serve_metrics");
}
