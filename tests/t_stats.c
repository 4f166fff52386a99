/* Tests of metrics/stats.h against hand-worked values, exact rational
 * computations (python3 fractions, commands quoted) and second algorithms. */
#include "metrics/stats.h"

#include <math.h>
#include <stdint.h>

#include "tests/tq.h"

#define TOL 1e-9        /* absolute, the tolerance */
#define TOL_EXACT 1e-15 /* values that are exact in binary or nearly so */

static const double nan_v = NAN;

/* ---- descriptive -------------------------------------------------------- */

static void test_mean_sd(void)
{
	/* hand: mean 5, sum of squared deviations 32, sd = sqrt(32/7) */
	const double x[] = { 2, 4, 4, 4, 5, 5, 7, 9 };

	TQ_NEAR(qe_stats_mean(x, 8), 5.0, TOL_EXACT);
	TQ_NEAR(qe_stats_sd(x, 8), sqrt(32.0 / 7.0), TOL);
	TQ_NEAR(qe_stats_stderr(x, 8), sqrt(32.0 / 7.0) / sqrt(8.0), TOL);
	TQ_NEAR(qe_stats_min(x, 8), 2.0, 0);
	TQ_NEAR(qe_stats_max(x, 8), 9.0, 0);
	TQ_CHECK(isnan(qe_stats_mean(x, 0)));
	TQ_CHECK(isnan(qe_stats_sd(x, 1)));
	TQ_CHECK(isnan(qe_stats_stderr(x, 1)));
	TQ_CHECK(isnan(qe_stats_min(x, 0)));
	TQ_CHECK(isnan(qe_stats_min(&nan_v, 1)));
}

static void test_percentile(void)
{
	/* type 7 by hand: sorted 15 20 35 40 50; q = 0.4 -> h = 1.6 -> 20 + 0.6 * 15 = 29 */
	const double x[] = { 50, 15, 40, 20, 35 };
	const double ten[] = { 10, 9, 8, 7, 6, 5, 4, 3, 2, 1 };
	double v;
	struct qe_err err = { 0 };

	TQ_EQ_INT(qe_stats_percentile(x, 5, 0.4, &v, &err), 0);
	TQ_NEAR(v, 29.0, TOL);
	TQ_EQ_INT(qe_stats_percentile(x, 5, 0.0, &v, &err), 0);
	TQ_NEAR(v, 15.0, 0);
	TQ_EQ_INT(qe_stats_percentile(x, 5, 1.0, &v, &err), 0);
	TQ_NEAR(v, 50.0, 0);
	TQ_EQ_INT(qe_stats_percentile(x, 5, 0.5, &v, &err), 0);
	TQ_NEAR(v, 35.0, 0);
	/* 1..10 at 5%: h = 0.45 -> 1.45; at 95%: h = 8.55 -> 9.55 (R: quantile(1:10, .05)) */
	TQ_EQ_INT(qe_stats_percentile(ten, 10, 0.05, &v, &err), 0);
	TQ_NEAR(v, 1.45, TOL);
	TQ_EQ_INT(qe_stats_percentile(ten, 10, 0.95, &v, &err), 0);
	TQ_NEAR(v, 9.55, TOL);
	TQ_EQ_INT(qe_stats_percentile(x, 0, 0.5, &v, &err), 0);
	TQ_CHECK(isnan(v));
	TQ_EQ_INT(qe_stats_percentile(x, 5, 1.5, &v, &err), QE_EINVAL);
	TQ_CHECK(strstr(err.msg, "q=1.5") != NULL);
	/* one value: every percentile is it */
	TQ_NEAR(qe_stats_percentile_sorted(x, 1, 0.3), 50.0, 0);
}

/* ---- binomial proportion -------------------------------------------------- */

static void test_prop(void)
{
	/* se = sqrt(p(1-p)/(n-1)); Wilson (p + z^2/2n -/+ z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n).
	 * Constants from (k, n = 7, 10; 1000, 1234; 0, 5):
	 *   python3 -c "import math; z=1.959963984540054; k,n=7,10; p=k/n;
	 *     se=math.sqrt(p*(1-p)/(n-1)); d=1+z*z/n; c=(p+z*z/(2*n))/d;
	 *     h=z*math.sqrt(p*(1-p)/n+z*z/(4*n*n))/d;
	 *     print(repr(se), repr(p-z*se), repr(p+z*se), repr(c-h), repr(c+h))" */
	struct qe_prop pr;
	double v[10] = { 1, 1, 1, 1, 1, 1, 1, 0, 0, 0 };

	qe_prop_compute(7, 10, QE_Z95, &pr);
	TQ_NEAR(pr.p, 0.7, TOL_EXACT);
	TQ_NEAR(pr.se, 0.15275252316519466, TOL);
	TQ_NEAR(pr.lo, 0.40061055604859813, TOL);
	TQ_NEAR(pr.hi, 0.9993894439514017, TOL);
	TQ_NEAR(pr.wilson_lo, 0.39677814746114537, TOL);
	TQ_NEAR(pr.wilson_hi, 0.8922087325936989, TOL);
	/* lm-evaluation-harness convention = sample stderr of the 0/1 vector */
	TQ_NEAR(pr.se, qe_stats_stderr(v, 10), TOL);

	qe_prop_compute(1000, 1234, QE_Z95, &pr);
	TQ_NEAR(pr.se, 0.0111637790044492, TOL);
	TQ_NEAR(pr.lo, 0.7884921666947936, TOL);
	TQ_NEAR(pr.hi, 0.8322533762549632, TOL);
	TQ_NEAR(pr.wilson_lo, 0.7875505707464511, TOL);
	TQ_NEAR(pr.wilson_hi, 0.8312685797526581, TOL);

	qe_prop_compute(0, 5, QE_Z95, &pr);
	TQ_NEAR(pr.se, 0.0, 0);
	TQ_NEAR(pr.lo, 0.0, 0);
	TQ_NEAR(pr.hi, 0.0, 0);
	TQ_NEAR(pr.wilson_lo, 0.0, 0);
	TQ_NEAR(pr.wilson_hi, 0.43448246478317476, TOL);

	qe_prop_compute(0, 0, QE_Z95, &pr);
	TQ_CHECK(isnan(pr.p) && isnan(pr.se) && isnan(pr.lo));
	TQ_NEAR(pr.wilson_lo, 0.0, 0);
	TQ_NEAR(pr.wilson_hi, 1.0, 0);
	qe_prop_compute(1, 1, QE_Z95, &pr);
	TQ_NEAR(pr.p, 1.0, 0);
	TQ_CHECK(isnan(pr.se));
}

/* ---- McNemar ---------------------------------------------------------------- */

/* Normal approximation with continuity correction, for a loose check */
static double mcnemar_normal(double b, double c)
{
	double m = b < c ? b : c, n = b + c;

	return erfc(((n / 2.0) - (m + 0.5)) / sqrt(n / 4.0) / sqrt(2.0));
}

static void test_mcnemar(void)
{
	/* exact: 2 * sum_{i<=min} C(b+c, i) / 2^(b+c) in rational arithmetic,
	 *   python3 -c "from fractions import Fraction as F; from math import comb;
	 *     b,c=40,60; n=b+c; print(repr(float(min(1, F(2*sum(comb(n,i)
	 *     for i in range(min(b,c)+1)), 2**n)))))"
	 * (for b + c = 100000 the same sum built with the term recurrence
	 *  t_i = t_{i-1} (n - i + 1) / i in integers, a few seconds) */
	static const struct { uint64_t b, c; double p; } t[] = {
		{ 1, 9, 0.021484375 },          /* 22/1024, hand-checkable */
		{ 9, 1, 0.021484375 },
		{ 0, 5, 0.0625 },               /* 2/32 */
		{ 3, 4, 1.0 },
		{ 40, 60, 0.05688793364098079 },
		{ 480, 520, 0.21744829320414094 },
		{ 4000, 4400, 1.3353978213570428e-05 },
		{ 49500, 50500, 0.0015823598788515956 },
		{ 49800, 50200, 0.20703897176422484 },
		{ 10, 200, 4.728263442876991e-47 },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		double p = qe_stats_mcnemar_exact(t[i].b, t[i].c);

		TQ_NEAR(p, t[i].p, TOL);
		TQ_NEAR(p / t[i].p, 1.0, 1e-10); /* relative, too */
	}
	TQ_NEAR(qe_stats_mcnemar_exact(0, 0), 1.0, 0);
	TQ_NEAR(qe_stats_mcnemar_exact(7, 7), 1.0, 0);
	TQ_NEAR(qe_stats_mcnemar_exact(50000, 50000), 1.0, 0);
	/* large tables: the normal approximation is close (loose) */
	TQ_NEAR(qe_stats_mcnemar_exact(49500, 50500), mcnemar_normal(49500, 50500), 1e-4);
	TQ_NEAR(qe_stats_mcnemar_exact(300000, 301000), mcnemar_normal(300000, 301000), 1e-3);
	/* monotone in the imbalance */
	TQ_CHECK(qe_stats_mcnemar_exact(100, 140) < qe_stats_mcnemar_exact(110, 130));
	/* underflow is 0, never NaN */
	TQ_CHECK(qe_stats_mcnemar_exact(0, 5000) == 0.0);
}

/* ---- random numbers --------------------------------------------------------- */

/* ---- paired proportions: Newcombe's hybrid score interval ---------------- */

#define TOL_PUB 5e-4 /* published figures are rounded to 3 decimals */

static void test_newcombe(void)
{
	/* The second column comes from an independent Python computation (Wilson
	 * bounds found by bisection on the score equation |p - pi| = z sqrt(pi(1 - pi)/n),
	 * then Newcombe's combination: python3 tests/ref/newcombe.py). */
	static const struct { uint64_t a, b, c, d; double lo, hi; } tab[] = {
		{ 14, 5, 0, 22, 0.011483241383, 0.226492684351 },   /* Altman et al. 2000 p. 52 */
		{ 5, 0, 0, 20, -0.108231942112, 0.108231942112 },   /* no discordant pairs */
		{ 0, 0, 0, 25, -0.133192250939, 0.133192250939 },   /* a random model: 25 items all wrong in both */
		{ 0, 0, 1, 0, -1.0, 0.122108720682 },               /* one item, lost */
		{ 1, 0, 0, 0, -0.793450685623, 0.793450685623 },    /* one item, right in both */
		{ 30, 2, 9, 16, -0.232307753527, -0.007861658907 },
		{ 10, 15, 5, 20, 0.025838416549, 0.356936571659 },
		{ 1, 1, 7, 12, -0.506920226686, -0.025559124165 },
	};
	double lo, hi;

	/* the published worked example: Altman, Machin, Bryant, Gardner, "Statistics
	 * with confidence" (2nd ed., 2000), p. 52: 41 patients, 14 / 5 / 0 / 22,
	 * difference 0.122, 95% interval 0.011 to 0.226 */
	qe_stats_paired_newcombe(14, 5, 0, 22, QE_Z95, &lo, &hi);
	TQ_NEAR(lo, 0.011, TOL_PUB);
	TQ_NEAR(hi, 0.226, TOL_PUB);
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		qe_stats_paired_newcombe(tab[i].a, tab[i].b, tab[i].c, tab[i].d, QE_Z95, &lo, &hi);
		TQ_NEAR(lo, tab[i].lo, TOL);
		TQ_NEAR(hi, tab[i].hi, TOL);
		TQ_CHECK(hi > lo); /* never collapses */
	}
	/* swapping the two sides mirrors the interval */
	qe_stats_paired_newcombe(14, 0, 5, 22, QE_Z95, &lo, &hi);
	TQ_NEAR(lo, -0.226492684351, TOL);
	TQ_NEAR(hi, -0.011483241383, TOL);
	qe_stats_paired_newcombe(0, 0, 0, 0, QE_Z95, &lo, &hi);
	TQ_CHECK(isnan(lo) && isnan(hi));
}

static void test_rng(void)
{
	/* xoshiro256** reference outputs from state {1, 2, 3, 4} */
	struct qe_rng r = { { 1, 2, 3, 4 } };
	uint64_t counts[3] = { 0 };

	TQ_CHECK(qe_rng_next(&r) == 11520ULL);
	TQ_CHECK(qe_rng_next(&r) == 0ULL);
	TQ_CHECK(qe_rng_next(&r) == 1509978240ULL);
	TQ_CHECK(qe_rng_next(&r) == 1215971899390074240ULL);
	/* seeding as documented in docs/metrics.md, re-implemented in python3
	 * with 64-bit masking: st = seed; mixed = splitmix64(st);
	 * st = stream ^ 0x6A09E667F3BCC909; st = mixed ^ splitmix64(st);
	 * s[0..3] = four splitmix64(st) outputs. Seed 42, stream 7: */
	qe_rng_seed(&r, 42, 7);
	TQ_CHECK(qe_rng_next(&r) == 0x07b10c1f76f9a77fULL);
	TQ_CHECK(qe_rng_next(&r) == 0x6adccc425b6eaceaULL);
	TQ_CHECK(qe_rng_next(&r) == 0x733d8fe0673fdfdbULL);
	/* bounded draws stay in range and are roughly uniform */
	qe_rng_seed(&r, 1, 0);
	for (int i = 0; i < 30000; i++) {
		uint64_t v = qe_rng_below(&r, 3);

		TQ_CHECK(v < 3);
		if (v < 3)
			counts[v]++;
	}
	for (int j = 0; j < 3; j++)
		TQ_CHECK(counts[j] > 9500 && counts[j] < 10500);
	for (int i = 0; i < 1000; i++) {
		double u = qe_rng_uniform(&r);

		TQ_CHECK(u >= 0.0 && u < 1.0);
	}
}

/* ---- paired bootstrap -------------------------------------------------------- */

static void test_bootstrap_identical(void)
{
	double x[50];
	uint32_t s[50];
	struct qe_boot_params bp = qe_boot_default_params();
	struct qe_boot_result br;
	struct qe_err err = { 0 };

	for (int i = 0; i < 50; i++) {
		x[i] = (i * 7) % 3 == 0;
		s[i] = (uint32_t)(i % 4);
	}
	TQ_EQ_INT(qe_stats_paired_bootstrap(x, x, s, 50, &bp, &br, &err), 0);
	TQ_NEAR(br.delta, 0.0, 0);
	TQ_NEAR(br.lo, 0.0, 0);
	TQ_NEAR(br.hi, 0.0, 0);
	TQ_NEAR(br.se, 0.0, 0);
	TQ_EQ_INT(br.n_boot, 2000);
	TQ_EQ_INT(br.n_strata, 4);
}

static void fill_far(double *x, double *y, uint32_t *s, size_t n)
{
	/* x right on every item, y on 70%: true difference 0.3 */
	for (size_t i = 0; i < n; i++) {
		x[i] = 1.0;
		y[i] = (i % 10) < 7;
		s[i] = (uint32_t)(i % 5) * 1000u + 17u; /* sparse ids */
	}
}

static void test_bootstrap_far_and_deterministic(void)
{
	enum { N = 400 };
	double x[N], y[N];
	uint32_t s[N];
	struct qe_boot_params bp = qe_boot_default_params();
	struct qe_boot_result a, b, c, d;
	struct qe_err err = { 0 };

	fill_far(x, y, s, N);
	bp.seed = 12345;
	bp.n_threads = 1;
	TQ_EQ_INT(qe_stats_paired_bootstrap(x, y, s, N, &bp, &a, &err), 0);
	bp.n_threads = 2;
	TQ_EQ_INT(qe_stats_paired_bootstrap(x, y, s, N, &bp, &b, &err), 0);
	bp.n_threads = 3;
	TQ_EQ_INT(qe_stats_paired_bootstrap(x, y, s, N, &bp, &c, &err), 0);
	bp.seed = 54321;
	TQ_EQ_INT(qe_stats_paired_bootstrap(x, y, s, N, &bp, &d, &err), 0);

	TQ_NEAR(a.delta, 0.3, 1e-12);
	TQ_CHECK(a.lo > 0.0);                    /* excludes 0 */
	TQ_CHECK(a.lo <= a.delta && a.delta <= a.hi);
	/* identical for any thread count: bitwise */
	TQ_CHECK(a.lo == b.lo && a.hi == b.hi && a.se == b.se);
	TQ_CHECK(a.lo == c.lo && a.hi == c.hi && a.se == c.se);
	/* another seed, another draw */
	TQ_CHECK(a.lo != d.lo || a.hi != d.hi || a.se != d.se);
	/* 5 strata of 80 items: ids 17 and 1017 hold i % 10 in {0,5} and {1,6},
	 * never discordant; the other three are half discordant. Resampling n_h
	 * items from stratum h gives var(sum d) = sum_h n_h p_h (1 - p_h) = 3 * 80 / 4,
	 * so se = sqrt(60) / 400 ~ 0.01936 (loose: 2000 replicates) */
	TQ_NEAR(a.se, sqrt(60.0) / 400.0, 0.002);
	TQ_EQ_INT(a.n_strata, 5);
}

static void test_bootstrap_strata_kept(void)
{
	/* stratum 0: every item gained (d = 1); stratum 1: no change (d = 0).
	 * Resampling within strata keeps 30 of each, so every replicate equals
	 * the point estimate 30/50 and the interval is degenerate; without strata
	 * it is not. */
	enum { N = 50 };
	double x[N], y[N];
	uint32_t s[N];
	struct qe_boot_params bp = qe_boot_default_params();
	struct qe_boot_result a, b;
	struct qe_err err = { 0 };

	for (int i = 0; i < N; i++) {
		s[i] = i < 30 ? 0 : 1;
		x[i] = 1.0;
		y[i] = i < 30 ? 0.0 : 1.0;
	}
	bp.n_boot = 500;
	TQ_EQ_INT(qe_stats_paired_bootstrap(x, y, s, N, &bp, &a, &err), 0);
	TQ_NEAR(a.delta, 0.6, 1e-12);
	TQ_NEAR(a.lo, 0.6, 1e-12);
	TQ_NEAR(a.hi, 0.6, 1e-12);
	TQ_EQ_INT(qe_stats_paired_bootstrap(x, y, NULL, N, &bp, &b, &err), 0);
	TQ_CHECK(b.lo < 0.6 && b.hi > 0.6);
	TQ_EQ_INT(a.n_boot, 500);
}

static void test_bootstrap_edges(void)
{
	struct qe_boot_params bp = qe_boot_default_params();
	struct qe_boot_result br;
	struct qe_err err = { 0 };
	double one = 1.0;

	TQ_EQ_INT(qe_stats_paired_bootstrap(NULL, NULL, NULL, 0, &bp, &br, &err), 0);
	TQ_CHECK(isnan(br.delta) && isnan(br.lo) && isnan(br.hi));
	bp.conf = 1.0;
	TQ_EQ_INT(qe_stats_paired_bootstrap(&one, &one, NULL, 1, &bp, &br, &err), QE_EINVAL);
}

/* ---- correlation -------------------------------------------------------------- */

static void test_pearson(void)
{
	/* sxy / sqrt(sxx syy) = 6 / sqrt(10 * 6) = sqrt(0.6) = 0.7745966692414834 */
	const double x[] = { 1, 2, 3, 4, 5 }, y[] = { 2, 4, 5, 4, 5 }, k[] = { 3, 3, 3, 3, 3 };
	double neg[5];

	TQ_NEAR(qe_stats_pearson(x, y, 5), 0.7745966692414834, TOL);
	TQ_NEAR(qe_stats_pearson(x, y, 5), sqrt(0.6), TOL);
	for (int i = 0; i < 5; i++)
		neg[i] = -2.0 * x[i] + 1.0;
	TQ_NEAR(qe_stats_pearson(x, neg, 5), -1.0, TOL_EXACT);
	TQ_CHECK(isnan(qe_stats_pearson(x, k, 5)));
	TQ_CHECK(isnan(qe_stats_pearson(x, y, 1)));
}

static void test_rank_spearman(void)
{
	/* ties: average ranks, rank = #below + (#equal + 1)/2; rho from exact sums:
	 *   python3 -c "from fractions import Fraction as F; import math
	 *   x=[1,2,2,3,4,4,4,7]; y=[3,1,2,2,5,6,6,9]
	 *   rk=lambda v:[F(sum(b<a for b in v))+F(sum(b==a for b in v)+1,2) for a in v]
	 *   def r(x,y):
	 *     n=len(x); mx=F(sum(x),n); my=F(sum(y),n)
	 *     return float(sum((a-mx)*(b-my) for a,b in zip(x,y)))/math.sqrt(
	 *       float(sum((a-mx)**2 for a in x)*sum((b-my)**2 for b in y)))
	 *   print(repr(r(rk(x),rk(y))))" */
	const double x[] = { 1, 2, 2, 3, 4, 4, 4, 7 }, y[] = { 3, 1, 2, 2, 5, 6, 6, 9 };
	const double rx_exp[] = { 1, 2.5, 2.5, 4, 6, 6, 6, 8 };
	double rx[8], rho;
	struct qe_err err = { 0 };

	TQ_EQ_INT(qe_stats_rank(x, 8, rx, &err), 0);
	for (int i = 0; i < 8; i++)
		TQ_NEAR(rx[i], rx_exp[i], 0);
	TQ_EQ_INT(qe_stats_spearman(x, y, 8, &rho, &err), 0);
	TQ_NEAR(rho, 0.813805888832823, TOL);

	/* no ties: the classic 1 - 6 sum d^2 / (n (n^2 - 1)) agrees */
	{
		const double a[] = { 10, 20, 30, 40, 50, 60 }, b[] = { 3, 1, 4, 6, 5, 2 };
		const double ra[] = { 1, 2, 3, 4, 5, 6 }, rb[] = { 3, 1, 4, 6, 5, 2 };
		double d2 = 0.0;

		for (int i = 0; i < 6; i++)
			d2 += (ra[i] - rb[i]) * (ra[i] - rb[i]);
		TQ_EQ_INT(qe_stats_spearman(a, b, 6, &rho, &err), 0);
		TQ_NEAR(rho, 1.0 - 6.0 * d2 / (6.0 * 35.0), TOL);
	}
	/* all ties in one vector: undefined */
	{
		const double c[] = { 2, 2, 2 }, d[] = { 1, 2, 3 };

		TQ_EQ_INT(qe_stats_spearman(c, d, 3, &rho, &err), 0);
		TQ_CHECK(isnan(rho));
	}
	TQ_EQ_INT(qe_stats_spearman(x, &nan_v, 1, &rho, &err), 0);
	TQ_CHECK(isnan(rho));
	{
		const double e[] = { 1, NAN };

		TQ_EQ_INT(qe_stats_spearman(e, e, 2, &rho, &err), QE_EINVAL);
	}
}

/* ---- divergences ---------------------------------------------------------------- */

static void test_kl(void)
{
	/* p = (.5, .3, .2), q = (.25, .25, .5), given as shifted log-probabilities:
	 * softmax is shift-invariant. Hand: sum p ln(p/q). */
	double a[3] = { log(0.5) + 7, log(0.3) + 7, log(0.2) + 7 };
	double b[3] = { log(0.25) - 3, log(0.25) - 3, log(0.5) - 3 };
	double hand = 0.5 * log(0.5 / 0.25) + 0.3 * log(0.3 / 0.25) + 0.2 * log(0.2 / 0.5);
	double big_a[2] = { 1000.0, 1000.0 + log(3.0) }, big_b[2] = { -1000.0, -1000.0 };
	double ia[3] = { -INFINITY, 0.0, 0.0 }, ib[3] = { 0.0, 0.0, -INFINITY };

	TQ_NEAR(qe_stats_softmax_kl(a, b, 3), hand, TOL);
	TQ_NEAR(qe_stats_softmax_kl(a, a, 3), 0.0, TOL);
	/* no overflow: p = (1/4, 3/4), q = (1/2, 1/2) */
	TQ_NEAR(qe_stats_softmax_kl(big_a, big_b, 2),
		0.25 * log(0.5) + 0.75 * log(1.5), TOL);
	/* zero-probability terms: p = (0, .5, .5) vs q = (.25, .25, .5); p_0 = 0 contributes 0 */
	TQ_NEAR(qe_stats_softmax_kl(ia, b, 3), 0.5 * log(0.5 / 0.25) + 0.5 * log(0.5 / 0.5), TOL);
	TQ_CHECK(qe_stats_softmax_kl(a, ib, 3) == INFINITY);
	TQ_CHECK(isnan(qe_stats_softmax_kl(a, b, 0)));
	{
		double nn[3] = { 0.0, NAN, 1.0 };

		TQ_CHECK(isnan(qe_stats_softmax_kl(nn, b, 3)));
	}
	TQ_NEAR(qe_stats_logsumexp(a, 3), 7.0, TOL);
	TQ_CHECK(qe_stats_logsumexp(a, 0) == -INFINITY);
}

static void test_argmax(void)
{
	const double a[] = { 1.0, 3.0, 3.0, 2.0 }, b[] = { NAN, -1.0, NAN };

	TQ_EQ_INT(qe_stats_argmax(a, 4), 1); /* tie: lowest index */
	TQ_EQ_INT(qe_stats_argmax(b, 3), 1);
	TQ_EQ_INT(qe_stats_argmax(a, 0), 0);
	TQ_EQ_INT(qe_stats_argmax(&nan_v, 1), 1);
}

int main(void)
{
	TQ_RUN(test_mean_sd);
	TQ_RUN(test_percentile);
	TQ_RUN(test_prop);
	TQ_RUN(test_mcnemar);
	TQ_RUN(test_newcombe);
	TQ_RUN(test_rng);
	TQ_RUN(test_bootstrap_identical);
	TQ_RUN(test_bootstrap_far_and_deterministic);
	TQ_RUN(test_bootstrap_strata_kept);
	TQ_RUN(test_bootstrap_edges);
	TQ_RUN(test_pearson);
	TQ_RUN(test_rank_spearman);
	TQ_RUN(test_kl);
	TQ_RUN(test_argmax);
	return tq_done("t_stats");
}
