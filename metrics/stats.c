/* qeval — general statistics (see metrics/stats.h and docs/metrics.md). */
#include "metrics/stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

/* ======================================================================
 * Descriptive statistics
 * ====================================================================== */

double qe_stats_mean(const double *x, size_t n)
{
	double s = 0.0;

	if (n == 0)
		return NAN;
	for (size_t i = 0; i < n; i++)
		s += x[i];
	return s / (double)n;
}

double qe_stats_sd(const double *x, size_t n)
{
	double m, ss = 0.0;

	if (n < 2)
		return NAN;
	m = qe_stats_mean(x, n);
	for (size_t i = 0; i < n; i++)
		ss += (x[i] - m) * (x[i] - m);
	return sqrt(ss / (double)(n - 1));
}

double qe_stats_stderr(const double *x, size_t n)
{
	if (n < 2)
		return NAN;
	return qe_stats_sd(x, n) / sqrt((double)n);
}

double qe_stats_min(const double *x, size_t n)
{
	double m = NAN;

	for (size_t i = 0; i < n; i++)
		if (!isnan(x[i]) && (isnan(m) || x[i] < m))
			m = x[i];
	return m;
}

double qe_stats_max(const double *x, size_t n)
{
	double m = NAN;

	for (size_t i = 0; i < n; i++)
		if (!isnan(x[i]) && (isnan(m) || x[i] > m))
			m = x[i];
	return m;
}

double qe_stats_percentile_sorted(const double *sorted, size_t n, double q)
{
	double h, f;
	size_t lo;

	if (n == 0 || !(q >= 0.0 && q <= 1.0))
		return NAN;
	h = (double)(n - 1) * q;
	f = floor(h);
	lo = (size_t)f;
	if (lo >= n - 1)
		return sorted[n - 1];
	return sorted[lo] + (h - f) * (sorted[lo + 1] - sorted[lo]);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int qe_stats_percentile(const double *x, size_t n, double q, double *out,
			struct qe_err *err)
{
	double *tmp;

	if (!out || (n > 0 && !x))
		return qe_fail(err, QE_EINVAL, "percentile: NULL argument");
	if (!(q >= 0.0 && q <= 1.0))
		return qe_fail(err, QE_EINVAL, "percentile: q=%g outside [0, 1]", q);
	*out = NAN;
	if (n == 0)
		return 0;
	tmp = malloc(n * sizeof(*tmp));
	if (!tmp)
		return qe_fail(err, QE_ENOMEM, "percentile: cannot allocate %zu values", n);
	memcpy(tmp, x, n * sizeof(*tmp));
	qsort(tmp, n, sizeof(*tmp), cmp_double);
	*out = qe_stats_percentile_sorted(tmp, n, q);
	free(tmp);
	return 0;
}

/* ======================================================================
 * Binomial proportion
 * ====================================================================== */

void qe_prop_compute(size_t k, size_t n, double z, struct qe_prop *out)
{
	double p, nn = (double)n, c, half, den;

	memset(out, 0, sizeof(*out));
	out->k = k;
	out->n = n;
	if (n == 0) {
		out->p = out->se = out->lo = out->hi = NAN;
		out->wilson_lo = 0.0;
		out->wilson_hi = 1.0;
		return;
	}
	p = (double)k / nn;
	out->p = p;
	if (n >= 2) {
		out->se = sqrt(p * (1.0 - p) / (nn - 1.0));
		out->lo = fmax(0.0, p - z * out->se);
		out->hi = fmin(1.0, p + z * out->se);
	} else {
		out->se = out->lo = out->hi = NAN;
	}
	den = 1.0 + z * z / nn;
	c = (p + z * z / (2.0 * nn)) / den;
	half = z * sqrt(p * (1.0 - p) / nn + z * z / (4.0 * nn * nn)) / den;
	out->wilson_lo = fmax(0.0, c - half);
	out->wilson_hi = fmin(1.0, c + half);
}

/* ======================================================================
 * Paired proportions: Newcombe's method 10
 * ====================================================================== */

void qe_stats_paired_newcombe(uint64_t a, uint64_t b, uint64_t c, uint64_t d, double z, double *lo, double *hi)
{
	double n = (double)a + (double)b + (double)c + (double)d;
	double m1 = (double)a + (double)b, m2 = (double)a + (double)c; /* successes of 1 and 2 */
	double den, num, phi = 0.0, p1, p2, dl, du;
	struct qe_prop w1, w2;

	if (n == 0) {
		*lo = *hi = NAN;
		return;
	}
	qe_prop_compute((size_t)m1, (size_t)n, z, &w1);
	qe_prop_compute((size_t)m2, (size_t)n, z, &w2);
	p1 = w1.p;
	p2 = w2.p;
	/* phi of the table; the numerator ad - bc is moved n/2 towards 0 when
	 * positive (Newcombe's continuity adjustment), kept when negative; a
	 * table with an empty margin has phi = 0 */
	den = m1 * (n - m1) * m2 * (n - m2);
	num = (double)a * (double)d - (double)b * (double)c;
	num = num > n / 2 ? num - n / 2 : num < 0 ? num : 0.0;
	if (den > 0)
		phi = num / sqrt(den);
	dl = (p1 - w1.wilson_lo) * (p1 - w1.wilson_lo) - 2 * phi * (p1 - w1.wilson_lo) * (w2.wilson_hi - p2) +
	     (w2.wilson_hi - p2) * (w2.wilson_hi - p2);
	du = (w1.wilson_hi - p1) * (w1.wilson_hi - p1) - 2 * phi * (w1.wilson_hi - p1) * (p2 - w2.wilson_lo) +
	     (p2 - w2.wilson_lo) * (p2 - w2.wilson_lo);
	*lo = fmax(-1.0, p1 - p2 - sqrt(fmax(0.0, dl)));
	*hi = fmin(1.0, p1 - p2 + sqrt(fmax(0.0, du)));
}

/* ======================================================================
 * McNemar's exact test
 *
 * log P[X = x] for X ~ Binomial(n, 1/2) by Loader's saddle-point form
 * (C. Loader, "Fast and accurate computation of binomial probabilities",
 * 2000), which keeps relative accuracy where lgamma differences of numbers
 * near 10^7 would lose about 9 digits:
 *   log f(x) = stirlerr(n) - stirlerr(x) - stirlerr(n-x)
 *              - bd0(x, n/2) - bd0(n-x, n/2) + 0.5 log(n / (2 pi x (n-x)))
 * with stirlerr(m) = log m! - log(sqrt(2 pi m) (m/e)^m) and
 * bd0(x, M) = x log(x/M) + M - x.
 * ====================================================================== */

static const double LN_SQRT_2PI = 0.918938533204672741780329736406;

static double stirlerr(double m)
{
	const double s0 = 1.0 / 12, s1 = 1.0 / 360, s2 = 1.0 / 1260,
		     s3 = 1.0 / 1680, s4 = 1.0 / 1188;
	double m2 = m * m;

	if (m <= 15.0)
		return lgamma(m + 1.0) - (m + 0.5) * log(m) + m - LN_SQRT_2PI;
	if (m > 500)
		return (s0 - s1 / m2) / m;
	if (m > 80)
		return (s0 - (s1 - s2 / m2) / m2) / m;
	if (m > 35)
		return (s0 - (s1 - (s2 - s3 / m2) / m2) / m2) / m;
	return (s0 - (s1 - (s2 - (s3 - s4 / m2) / m2) / m2) / m2) / m;
}

static double bd0(double x, double M)
{
	if (fabs(x - M) < 0.1 * (x + M)) {
		double v = (x - M) / (x + M), s = (x - M) * v, ej = 2.0 * x * v;

		v = v * v;
		for (int j = 1; j < 1000; j++) {
			double s1;

			ej *= v;
			s1 = s + ej / (double)(2 * j + 1);
			if (s1 == s)
				return s1;
			s = s1;
		}
		return s;
	}
	return x * log(x / M) + M - x;
}

static double log_binom_half(uint64_t n, uint64_t x)
{
	double nn = (double)n, xx = (double)x, M = nn / 2.0;

	if (x == 0 || x == n)
		return -nn * M_LN2;
	return stirlerr(nn) - stirlerr(xx) - stirlerr(nn - xx) - bd0(xx, M) - bd0(nn - xx, M) +
	       0.5 * log(nn / (2.0 * M_PI * xx * (nn - xx)));
}

double qe_stats_mcnemar_exact(uint64_t b, uint64_t c)
{
	uint64_t n = b + c, m = b < c ? b : c;
	double lf, s = 1.0, t = 1.0, p;

	if (n == 0 || b == c)
		return 1.0;
	/* P[X <= m] = f(m) * sum_{i<=m} f(i)/f(m); f(i-1)/f(i) = i / (n - i + 1),
	 * terms fall off at least geometrically for m < n/2 */
	lf = log_binom_half(n, m);
	for (uint64_t i = m; i > 0; i--) {
		t *= (double)i / (double)(n - i + 1);
		s += t;
		if (t < s * 1e-18)
			break;
	}
	p = 2.0 * exp(lf + log(s));
	return p < 1.0 ? p : 1.0;
}

/* ======================================================================
 * Pseudo-random numbers: splitmix64 for seeding, xoshiro256** for draws
 * ====================================================================== */

static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

void qe_rng_seed(struct qe_rng *rng, uint64_t seed, uint64_t stream)
{
	uint64_t st = seed, mixed;

	mixed = splitmix64(&st);
	st = stream ^ 0x6A09E667F3BCC909ULL;
	st = mixed ^ splitmix64(&st);
	for (int i = 0; i < 4; i++)
		rng->s[i] = splitmix64(&st);
	if (!(rng->s[0] | rng->s[1] | rng->s[2] | rng->s[3]))
		rng->s[0] = 1;
}

static uint64_t rotl64(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t qe_rng_next(struct qe_rng *rng)
{
	uint64_t *s = rng->s, r = rotl64(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl64(s[3], 45);
	return r;
}

uint64_t qe_rng_below(struct qe_rng *rng, uint64_t bound)
{
#ifdef __SIZEOF_INT128__
	unsigned __int128 m = (unsigned __int128)qe_rng_next(rng) * bound;
	uint64_t lo = (uint64_t)m;

	if (lo < bound) {
		uint64_t thr = (0 - bound) % bound;

		while (lo < thr) {
			m = (unsigned __int128)qe_rng_next(rng) * bound;
			lo = (uint64_t)m;
		}
	}
	return (uint64_t)(m >> 64);
#else
	/* reject the top partial block of 2^64 so every residue is equally likely */
	uint64_t lim = UINT64_MAX - UINT64_MAX % bound, r;

	do
		r = qe_rng_next(rng);
	while (r >= lim);
	return r % bound;
#endif
}

double qe_rng_uniform(struct qe_rng *rng)
{
	return (double)(qe_rng_next(rng) >> 11) * 0x1.0p-53;
}

/* ======================================================================
 * Paired stratified bootstrap
 * ====================================================================== */

struct qe_boot_params qe_boot_default_params(void)
{
	struct qe_boot_params p = {
		.n_boot = 2000,
		.conf = 0.95,
		.seed = 0x5EED5EED5EED5EEDULL,
		.n_threads = 0,
	};
	return p;
}

struct strat_ix {
	uint32_t s;
	size_t i;
};

static int cmp_strat(const void *a, const void *b)
{
	const struct strat_ix *x = a, *y = b;

	if (x->s != y->s)
		return x->s < y->s ? -1 : 1;
	return (x->i > y->i) - (x->i < y->i);
}

int qe_stats_paired_bootstrap(const double *x, const double *y, const uint32_t *stratum,
			      size_t n, const struct qe_boot_params *params,
			      struct qe_boot_result *out, struct qe_err *err)
{
	struct qe_boot_params p = params ? *params : qe_boot_default_params();
	struct strat_ix *ix = NULL;
	double *d = NULL, *rep = NULL;
	size_t *start = NULL, ns = 0;
	int nt;

	if (!out || (n > 0 && (!x || !y)))
		return qe_fail(err, QE_EINVAL, "bootstrap: NULL argument");
	if (p.n_boot == 0)
		p.n_boot = 2000;
	if (!(p.conf > 0.0 && p.conf < 1.0))
		return qe_fail(err, QE_EINVAL, "bootstrap: conf=%g outside (0, 1)", p.conf);
	memset(out, 0, sizeof(*out));
	out->n_boot = p.n_boot;
	if (n == 0) {
		out->delta = out->lo = out->hi = out->se = NAN;
		return 0;
	}

	ix = malloc(n * sizeof(*ix));
	d = malloc(n * sizeof(*d));
	start = malloc((n + 1) * sizeof(*start));
	rep = malloc((size_t)p.n_boot * sizeof(*rep));
	if (!ix || !d || !start || !rep) {
		free(ix); free(d); free(start); free(rep);
		return qe_fail(err, QE_ENOMEM, "bootstrap: cannot allocate for %zu items", n);
	}
	for (size_t i = 0; i < n; i++) {
		ix[i].s = stratum ? stratum[i] : 0;
		ix[i].i = i;
	}
	qsort(ix, n, sizeof(*ix), cmp_strat);
	/* d in stratum order; start[j] = first position of stratum j */
	for (size_t j = 0; j < n; j++) {
		d[j] = x[ix[j].i] - y[ix[j].i];
		if (j == 0 || ix[j].s != ix[j - 1].s)
			start[ns++] = j;
	}
	start[ns] = n;

#ifdef _OPENMP
	nt = p.n_threads > 0 ? p.n_threads : omp_get_max_threads();
#else
	nt = 1;
#endif
	(void)nt;
#pragma omp parallel for num_threads(nt) schedule(static)
	for (long r = 0; r < (long)p.n_boot; r++) {
		struct qe_rng rng;
		double sum = 0.0;

		qe_rng_seed(&rng, p.seed, (uint64_t)r);
		for (size_t k = 0; k < ns; k++) {
			size_t b = start[k], len = start[k + 1] - start[k];

			for (size_t t = 0; t < len; t++)
				sum += d[b + qe_rng_below(&rng, len)];
		}
		rep[r] = sum / (double)n;
	}

	out->delta = qe_stats_mean(x, n) - qe_stats_mean(y, n);
	out->se = qe_stats_sd(rep, p.n_boot);
	qsort(rep, p.n_boot, sizeof(*rep), cmp_double);
	out->lo = qe_stats_percentile_sorted(rep, p.n_boot, (1.0 - p.conf) / 2.0);
	out->hi = qe_stats_percentile_sorted(rep, p.n_boot, (1.0 + p.conf) / 2.0);
	out->n_strata = ns;
	free(ix); free(d); free(start); free(rep);
	return 0;
}

/* ======================================================================
 * Correlation
 * ====================================================================== */

double qe_stats_pearson(const double *x, const double *y, size_t n)
{
	double mx, my, sxx = 0.0, syy = 0.0, sxy = 0.0, r;

	if (n < 2)
		return NAN;
	mx = qe_stats_mean(x, n);
	my = qe_stats_mean(y, n);
	for (size_t i = 0; i < n; i++) {
		double dx = x[i] - mx, dy = y[i] - my;

		sxx += dx * dx;
		syy += dy * dy;
		sxy += dx * dy;
	}
	if (sxx == 0.0 || syy == 0.0)
		return NAN;
	r = sxy / sqrt(sxx * syy);
	return r > 1.0 ? 1.0 : r < -1.0 ? -1.0 : r;
}

struct val_ix {
	double v;
	size_t i;
};

static int cmp_val(const void *a, const void *b)
{
	const struct val_ix *x = a, *y = b;

	if (x->v != y->v)
		return x->v < y->v ? -1 : 1;
	return (x->i > y->i) - (x->i < y->i);
}

int qe_stats_rank(const double *x, size_t n, double *rank, struct qe_err *err)
{
	struct val_ix *v;

	if (n == 0)
		return 0;
	if (!x || !rank)
		return qe_fail(err, QE_EINVAL, "rank: NULL argument");
	for (size_t i = 0; i < n; i++)
		if (isnan(x[i]))
			return qe_fail(err, QE_EINVAL, "rank: value %zu is NaN", i);
	v = malloc(n * sizeof(*v));
	if (!v)
		return qe_fail(err, QE_ENOMEM, "rank: cannot allocate %zu values", n);
	for (size_t i = 0; i < n; i++) {
		v[i].v = x[i];
		v[i].i = i;
	}
	qsort(v, n, sizeof(*v), cmp_val);
	for (size_t j = 0; j < n;) {
		size_t k = j + 1;
		double avg;

		while (k < n && v[k].v == v[j].v)
			k++;
		/* positions j..k-1 hold ranks j+1..k */
		avg = ((double)(j + 1) + (double)k) / 2.0;
		for (size_t t = j; t < k; t++)
			rank[v[t].i] = avg;
		j = k;
	}
	free(v);
	return 0;
}

int qe_stats_spearman(const double *x, const double *y, size_t n, double *out,
		      struct qe_err *err)
{
	double *rx, *ry;
	int rc;

	if (!out)
		return qe_fail(err, QE_EINVAL, "spearman: NULL argument");
	*out = NAN;
	if (n < 2)
		return 0;
	rx = malloc(n * sizeof(*rx));
	ry = malloc(n * sizeof(*ry));
	if (!rx || !ry) {
		free(rx); free(ry);
		return qe_fail(err, QE_ENOMEM, "spearman: cannot allocate %zu ranks", n);
	}
	rc = qe_stats_rank(x, n, rx, err);
	if (rc == 0)
		rc = qe_stats_rank(y, n, ry, err);
	if (rc == 0)
		*out = qe_stats_pearson(rx, ry, n);
	free(rx);
	free(ry);
	return rc;
}

/* ======================================================================
 * Divergences
 * ====================================================================== */

double qe_stats_logsumexp(const double *a, size_t n)
{
	double m = -INFINITY, s = 0.0;

	for (size_t i = 0; i < n; i++) {
		if (isnan(a[i]) || a[i] == INFINITY)
			return NAN;
		if (a[i] > m)
			m = a[i];
	}
	if (m == -INFINITY)
		return -INFINITY;
	for (size_t i = 0; i < n; i++)
		s += exp(a[i] - m);
	return m + log(s);
}

double qe_stats_softmax_kl(const double *a, const double *b, size_t n)
{
	double la = qe_stats_logsumexp(a, n), lb = qe_stats_logsumexp(b, n), kl = 0.0;

	if (n == 0 || !isfinite(la) || !isfinite(lb))
		return NAN;
	for (size_t i = 0; i < n; i++) {
		double lp, lq;

		if (a[i] == -INFINITY)
			continue;
		if (b[i] == -INFINITY)
			return INFINITY;
		lp = a[i] - la;
		lq = b[i] - lb;
		kl += exp(lp) * (lp - lq);
	}
	return kl > 0.0 ? kl : 0.0;
}

size_t qe_stats_argmax(const double *a, size_t n)
{
	size_t best = n;

	for (size_t i = 0; i < n; i++)
		if (!isnan(a[i]) && (best == n || a[i] > a[best]))
			best = i;
	return best;
}
