/* Tests of metrics/kld.h: the stored reference row (its rounding, tail and
 * the KL error bound) and every summary statistic, each against a direct
 * double-precision computation written here, on constructed distributions
 * from a fixed seed. */
#include "tests/tq.h"

#include "metrics/kld.h"

#include <stdint.h>

#define TOL_EXACT 1e-12   /* the same formula computed twice */
#define TOL_FLOAT 1e-6    /* float storage of a value (relative) */
#define STEP_SLACK 1e-6   /* float rounding of the stored base and step, relative to a step */

static uint64_t g_rng = 0x2545f4914f6cdd1dULL;

static double urand(void)
{
	g_rng ^= g_rng << 13;
	g_rng ^= g_rng >> 7;
	g_rng ^= g_rng << 17;
	return (double)(g_rng >> 11) / 9007199254740992.0;
}

static double nrand(void)
{
	double u = urand() + 1e-300, v = urand();
	return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

/* logits of a peaked (scale large) or flat (small) distribution */
static void make_logits(float *x, size_t n, double scale)
{
	for (size_t i = 0; i < n; i++)
		x[i] = (float)(scale * nrand());
}

/* direct log-softmax in double */
static void log_softmax(const float *x, size_t n, double *l)
{
	double mx = x[0], s = 0;

	for (size_t i = 1; i < n; i++)
		mx = x[i] > mx ? x[i] : mx;
	for (size_t i = 0; i < n; i++)
		s += exp((double)x[i] - mx);
	for (size_t i = 0; i < n; i++)
		l[i] = (double)x[i] - mx - log(s);
}

static uint16_t code_of(const unsigned char *row, size_t i)
{
	uint16_t c;
	memcpy(&c, row + QE_KLD_HEAD_BYTES + 2 * i, 2);
	return c;
}

/* ---- the stored row ---------------------------------------------------- */

static void check_row(size_t n, double scale, double window)
{
	float *x = calloc(n, sizeof(*x)); /* calloc: gcc -O1 sees make_logits as maybe reading it */
	double *l = malloc(n * sizeof(*l)), tail = 0, lmax = -INFINITY;
	unsigned char *row = malloc(QE_KLD_ROW_BYTES(n));
	struct qe_kld_head h;
	size_t top = 0, kept = 0;
	double nll;

	make_logits(x, n, scale);
	log_softmax(x, n, l);
	nll = qe_kld_encode(x, n, 7, window, row);
	qe_kld_head(row, &h);
	for (size_t i = 0; i < n; i++) {
		if (l[i] > lmax) {
			lmax = l[i];
			top = i;
		}
	}
	TQ_NEAR(nll, -l[7], TOL_EXACT);
	TQ_NEAR(h.nll, -l[7], TOL_FLOAT * (1 - l[7]));
	TQ_EQ_INT(h.top, (int32_t)top);
	/* the step is llama.cpp's or finer for a window of 16 nats or less */
	TQ_CHECK(h.step <= window / QE_KLD_CODES * (1 + STEP_SLACK));
	for (size_t i = 0; i < n; i++) {
		uint16_t c = code_of(row, i);
		if (c == 0) {
			/* tail: below the window's floor + half a step */
			TQ_CHECK(l[i] <= (double)h.base + h.step * (0.5 + STEP_SLACK));
			tail += exp(l[i]);
		} else {
			double lh = (double)h.base + (double)h.step * c;
			kept++;
			if (fabs(lh - l[i]) > h.step * (0.5 + STEP_SLACK) + 1e-12)
				TQ_FAILF("token %zu: stored %.9g vs %.9g (step %g)", i, lh, l[i], h.step);
		}
	}
	TQ_CHECK(kept >= 1 && code_of(row, top) == QE_KLD_CODES);
	TQ_NEAR(h.tail, tail, TOL_FLOAT * tail + 1e-30);
	free(x);
	free(l);
	free(row);
}

static void test_row_rounding_and_tail(void)
{
	check_row(1000, 3.0, 16);   /* peaked: a wide range, tail below the window */
	check_row(1000, 0.3, 16);   /* flat: everything in the window */
	check_row(4096, 2.0, 24);
	check_row(257, 6.0, 4);     /* a narrow window: most tokens in the tail */
}

static void test_row_constant_logits(void)
{
	float x[16];
	unsigned char row[QE_KLD_ROW_BYTES(16)];
	struct qe_kld_pos p;

	for (int i = 0; i < 16; i++)
		x[i] = 1.5f;
	qe_kld_encode(x, 16, 3, 16, row);
	qe_kld_compare(x, 16, 3, row, &p);
	TQ_NEAR(p.kld, 0, 1e-12);
	TQ_NEAR(p.nll, log(16.0), 1e-12);
	TQ_CHECK(p.same_top);
}

/* ---- KL against the unrounded reference -------------------------------- */

/* KL(p || q) directly in double */
static double direct_kl(const float *xr, const float *xq, size_t n)
{
	double *lr = malloc(n * sizeof(*lr)), *lq = malloc(n * sizeof(*lq)), k = 0;

	log_softmax(xr, n, lr);
	log_softmax(xq, n, lq);
	for (size_t i = 0; i < n; i++)
		k += exp(lr[i]) * (lr[i] - lq[i]);
	free(lr);
	free(lq);
	return k;
}

/* max |kld - exact| / bound over `reps` pairs; checks each pair */
static double check_kl(size_t n, double scale, double noise, double window, int reps, double max_bound)
{
	float *xr = malloc(n * sizeof(*xr)), *xq = malloc(n * sizeof(*xq));
	unsigned char *row = malloc(QE_KLD_ROW_BYTES(n));
	double worst = 0;

	for (int r = 0; r < reps; r++) {
		struct qe_kld_pos p;
		double exact;
		int32_t tok = (int32_t)(urand() * (double)n);
		make_logits(xr, n, scale);
		for (size_t i = 0; i < n; i++)
			xq[i] = xr[i] + (float)(noise * nrand());
		qe_kld_encode(xr, n, tok, window, row);
		qe_kld_compare(xq, n, tok, row, &p);
		exact = direct_kl(xr, xq, n);
		if (!(fabs(p.kld - exact) <= p.bound * (1 + 1e-9) + 1e-15))
			TQ_FAILF("n %zu scale %g noise %g window %g: kld %.12g, exact %.12g, bound %.3g", n, scale, noise, window,
				 p.kld, exact, p.bound);
		if (!(p.bound <= max_bound))
			TQ_FAILF("bound %.3g over %.3g (n %zu scale %g noise %g window %g)", p.bound, max_bound, n, scale, noise,
				 window);
		{
			double *lq = malloc(n * sizeof(*lq));
			log_softmax(xq, n, lq);
			TQ_NEAR(p.nll, -lq[tok], 1e-9);
			free(lq);
		}
		if (p.bound > 0 && fabs(p.kld - exact) / p.bound > worst)
			worst = fabs(p.kld - exact) / p.bound;
	}
	free(xr);
	free(xq);
	free(row);
	return worst;
}

static void test_kl_within_bound(void)
{
	/* a level close to the reference (Q8_0-like), far (Q2_K-like), a flat
	 * reference, and a narrow window that puts most of the vocabulary in the
	 * tail (the tail's part of the bound) */
	check_kl(2000, 3.0, 0.02, 24, 20, 1e-4);
	check_kl(2000, 3.0, 0.5, 24, 20, 1e-3);
	check_kl(2000, 0.5, 0.1, 16, 20, 1e-4);
	check_kl(2000, 4.0, 0.3, 16, 20, 1e-2);
	check_kl(500, 5.0, 0.3, 3, 20, 100.0); /* loose there: it only has to hold */
}

/* ids[n] sorted by lq, most probable first */
static const double *g_sort_lq;
static int by_lq(const void *a, const void *b)
{
	double x = g_sort_lq[*(const int32_t *)a], y = g_sort_lq[*(const int32_t *)b];
	return (x < y) - (x > y);
}

/* The top-K bound (a server level): with the whole vocabulary it is the
 * full comparison; with fewer entries at most the exact KL (plus the stored
 * reference's bound), at least 0, and it grows with K (a finer partition);
 * the NLL and same top come through exactly. */
static void test_topk_bound(void)
{
	const size_t n = 2000, ks[] = { 1, 10, 100, 2000 };
	float *xr = malloc(n * sizeof(*xr)), *xq = malloc(n * sizeof(*xq));
	double *lq = malloc(n * sizeof(*lq));
	int32_t *ids = malloc(n * sizeof(*ids));
	unsigned char *row = malloc(QE_KLD_ROW_BYTES(n));

	for (int rep = 0; rep < 20; rep++) {
		struct qe_kld_pos full, p;
		int32_t tok = (int32_t)(urand() * (double)n);
		double exact, prev = 0;
		make_logits(xr, n, rep % 2 ? 3.0 : 0.7);
		for (size_t i = 0; i < n; i++)
			xq[i] = xr[i] + (float)((rep % 4 < 2 ? 0.5 : 0.05) * nrand());
		qe_kld_encode(xr, n, tok, rep % 3 ? 24 : 4, row);
		qe_kld_compare(xq, n, tok, row, &full);
		exact = direct_kl(xr, xq, n);
		log_softmax(xq, n, lq);
		for (size_t i = 0; i < n; i++)
			ids[i] = (int32_t)i;
		g_sort_lq = lq;
		qsort(ids, n, sizeof(*ids), by_lq);
		for (size_t t = 0; t < sizeof(ks) / sizeof(ks[0]); t++) {
			double *lp = malloc(ks[t] * sizeof(*lp));
			for (size_t i = 0; i < ks[t]; i++)
				lp[i] = lq[ids[i]];
			qe_kld_compare_topk(ids, lp, ks[t], n, lq[tok], row, &p);
			free(lp);
			TQ_CHECK(p.kld >= 0);
			if (!(p.kld <= exact + full.bound + 1e-12))
				TQ_FAILF("rep %d K %zu: bound %.9g over the exact KL %.9g", rep, ks[t], p.kld, exact);
			if (!(p.kld >= prev - 1e-5)) /* the tail's allowance may cost up to its size */
				TQ_FAILF("rep %d K %zu: %.9g below K's before, %.9g", rep, ks[t], p.kld, prev);
			prev = p.kld;
			TQ_NEAR(p.nll, full.nll, 1e-9);
			TQ_EQ_INT(p.same_top, full.same_top);
			TQ_CHECK(p.bound >= 0 && isfinite(p.bound));
			if (ks[t] == n)
				TQ_NEAR(p.kld, full.kld, 1e-9 * (1 + full.kld));
		}
		/* an unknown true token, ids outside the vocabulary ignored */
		ids[0] = (int32_t)n;
		qe_kld_compare_topk(ids, lq, 1, n, NAN, row, &p);
		TQ_CHECK(isnan(p.nll) && p.same_top == 0 && p.kld == 0);
	}
	free(xr);
	free(xq);
	free(lq);
	free(ids);
	free(row);
}

static void test_same_top(void)
{
	float xr[8] = { 0, 1, 5, 2, 5, 0, 0, 0 }, xq[8] = { 0, 1, 4, 2, 6, 0, 0, 0 };
	unsigned char row[QE_KLD_ROW_BYTES(8)];
	struct qe_kld_head h;
	struct qe_kld_pos p;

	qe_kld_encode(xr, 8, 1, 16, row);
	qe_kld_head(row, &h);
	TQ_EQ_INT(h.top, 2); /* ties: the lowest id */
	qe_kld_compare(xq, 8, 1, row, &p);
	TQ_CHECK(!p.same_top);
	xq[2] = 7;
	qe_kld_compare(xq, 8, 1, row, &p);
	TQ_CHECK(p.same_top);
}

/* ---- the summary -------------------------------------------------------- */

static int cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* type 7, on a sorted copy */
static double pct(const double *x, size_t n, double q)
{
	double *s = malloc(n * sizeof(*s)), h, v;
	size_t i;

	memcpy(s, x, n * sizeof(*s));
	qsort(s, n, sizeof(*s), cmpd);
	h = q * (double)(n - 1);
	i = (size_t)h;
	v = i + 1 < n ? s[i] + (h - (double)i) * (s[i + 1] - s[i]) : s[n - 1];
	free(s);
	return v;
}

static void test_summary_against_direct(void)
{
	enum { N = 1234 };
	static double nll[N], ref[N], kld[N], bound[N], dp[N];
	static unsigned char top[N];
	struct qe_kld_summary m;
	struct qe_err err = { 0 };
	double sa = 0, sb = 0, sab = 0, saa = 0, sbb = 0, sk = 0, skk = 0, sd = 0, sdd = 0, sd2 = 0, sd4 = 0, sbd = 0;
	size_t k = 0;

	for (size_t i = 0; i < N; i++) {
		ref[i] = 3 * urand() * urand() + 0.01;
		nll[i] = ref[i] + 0.2 * nrand() * urand();
		if (nll[i] < 0)
			nll[i] = -nll[i];
		kld[i] = 0.05 * urand() * urand() * urand();
		top[i] = urand() < 0.93;
		bound[i] = 1e-6 * urand();
		k += top[i];
	}
	TQ_EQ_INT(qe_kld_summarize(nll, ref, kld, top, bound, N, &m, &err), 0);
	/* llama.cpp's form of the same estimates: population moments / (n - 1) */
	for (size_t i = 0; i < N; i++) {
		sa += nll[i];
		sb += ref[i];
		sab += nll[i] * ref[i];
		saa += nll[i] * nll[i];
		sbb += ref[i] * ref[i];
		sk += kld[i];
		skk += kld[i] * kld[i];
		dp[i] = exp(-nll[i]) - exp(-ref[i]);
		sd += dp[i];
		sdd += dp[i] * dp[i];
		sd2 += dp[i] * dp[i];
		sd4 += dp[i] * dp[i] * dp[i] * dp[i];
		sbd += bound[i];
	}
	{
		double n = N, ma = sa / n, mb = sb / n;
		double va = (saa / n - ma * ma) / (n - 1), vb = (sbb / n - mb * mb) / (n - 1);
		double cov = (sab / n - ma * mb) / (n - 1);
		double mk = sk / n, vk = (skk / n - mk * mk) / (n - 1);
		double md = sd / n, vd = (sdd / n - md * md) / (n - 1);
		double ms = sd2 / n, vs = (sd4 / n - ms * ms) / (n - 1);
		double r = (double)k / n;
		double cor = (sab / n - ma * mb) / sqrt((saa / n - ma * ma) * (sbb / n - mb * mb));
		TQ_EQ_INT(m.n, N);
		TQ_NEAR(m.ppl, exp(ma), 1e-9 * exp(ma));
		TQ_NEAR(m.ppl_se, exp(ma) * sqrt(va), 1e-9);
		TQ_NEAR(m.ppl_ref, exp(mb), 1e-9 * exp(mb));
		TQ_NEAR(m.ln_ratio, ma - mb, 1e-12);
		TQ_NEAR(m.ln_ratio_se, sqrt(va + vb - 2 * cov), 1e-9);
		TQ_NEAR(m.ppl_ratio, exp(ma - mb), 1e-12);
		TQ_NEAR(m.ppl_ratio_se, exp(ma - mb) * sqrt(va + vb - 2 * cov), 1e-9);
		TQ_NEAR(m.nll_cor, cor, 1e-9);
		TQ_NEAR(m.kld.mean, mk, 1e-12);
		TQ_NEAR(m.kld.se, sqrt(vk), 1e-9);
		TQ_NEAR(m.same_top, r, 1e-12);
		TQ_NEAR(m.same_top_se, sqrt(r * (1 - r) / (n - 1)), 1e-12);
		TQ_NEAR(m.dp_mean, md, 1e-12);
		TQ_NEAR(m.dp_se, sqrt(vd), 1e-9);
		TQ_NEAR(m.dp_rms, sqrt(ms), 1e-12);
		TQ_NEAR(m.dp_rms_se, 0.5 / sqrt(ms) * sqrt(vs), 1e-9);
		TQ_NEAR(m.bound_mean, sbd / n, 1e-15);
	}
	TQ_NEAR(m.kld.median, pct(kld, N, 0.5), TOL_EXACT);
	TQ_NEAR(m.kld.p90, pct(kld, N, 0.9), TOL_EXACT);
	TQ_NEAR(m.kld.p95, pct(kld, N, 0.95), TOL_EXACT);
	TQ_NEAR(m.kld.p99, pct(kld, N, 0.99), TOL_EXACT);
	TQ_NEAR(m.kld.p999, pct(kld, N, 0.999), TOL_EXACT);
	TQ_NEAR(m.kld.max, pct(kld, N, 1), TOL_EXACT);
	TQ_NEAR(m.dp_min, pct(dp, N, 0), TOL_EXACT);
	TQ_NEAR(m.dp_p01, pct(dp, N, 0.01), TOL_EXACT);
	TQ_NEAR(m.dp_p05, pct(dp, N, 0.05), TOL_EXACT);
	TQ_NEAR(m.dp_p50, pct(dp, N, 0.5), TOL_EXACT);
	TQ_NEAR(m.dp_p95, pct(dp, N, 0.95), TOL_EXACT);
	TQ_NEAR(m.dp_p99, pct(dp, N, 0.99), TOL_EXACT);
	TQ_NEAR(m.dp_max, pct(dp, N, 1), TOL_EXACT);
}

static void test_summary_reference_and_empty(void)
{
	double nll[3] = { 1, 2, 3 };
	struct qe_kld_summary m;
	struct qe_err err = { 0 };

	/* at the reference: its own perplexity, nothing against itself */
	TQ_EQ_INT(qe_kld_summarize(nll, NULL, NULL, NULL, NULL, 3, &m, &err), 0);
	TQ_NEAR(m.ppl, exp(2.0), 1e-12);
	TQ_NEAR(m.ppl_se, exp(2.0) * 1 / sqrt(3.0), 1e-12);
	TQ_CHECK(isnan(m.ln_ratio) && isnan(m.kld.mean) && isnan(m.same_top) && isnan(m.dp_rms));
	TQ_EQ_INT(qe_kld_summarize(nll, nll, nll, (unsigned char[3]){ 1, 1, 0 }, NULL, 0, &m, &err), 0);
	TQ_CHECK(isnan(m.ppl) && isnan(m.kld.mean) && isnan(m.kld.p99) && isnan(m.same_top));
	TQ_EQ_INT(qe_kld_summarize(NULL, nll, nll, NULL, NULL, 3, &m, &err), QE_EINVAL);
}

int main(void)
{
	TQ_RUN(test_row_rounding_and_tail);
	TQ_RUN(test_row_constant_logits);
	TQ_RUN(test_kl_within_bound);
	TQ_RUN(test_same_top);
	TQ_RUN(test_topk_bound);
	TQ_RUN(test_summary_against_direct);
	TQ_RUN(test_summary_reference_and_empty);
	return tq_done("t_kld_metrics");
}
