/* qeval — general statistics: pure functions, arrays in, numbers out.
 *
 * Nothing here touches the engine, the disk or global state; every function
 * is safe to call from several threads at once on different data. Formulas,
 * conventions and edge cases are in docs/metrics.md; in short:
 *   - standard deviations are sample ones (divisor n - 1);
 *   - percentiles use linear interpolation between order statistics
 *     (Hyndman & Fan type 7, the default of R and NumPy);
 *   - an undefined statistic (mean of nothing, sd of one value, correlation
 *     with a constant vector) is NaN, never an error;
 *   - functions that must allocate return an int status (0 or negative
 *     QE_E*, harness/base/err.h) and fill a caller's struct qe_err.
 */
#ifndef QE_METRICS_STATS_H
#define QE_METRICS_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "harness/base/err.h"

/* z such that P(|Z| <= z) = 0.95 for a standard normal Z. */
#define QE_Z95 1.959963984540054

/* ---- descriptive statistics ------------------------------------------- */

/* Arithmetic mean; NaN when n == 0. */
double qe_stats_mean(const double *x, size_t n);

/* Sample standard deviation, sqrt(sum (x - mean)^2 / (n - 1)); NaN when n < 2. */
double qe_stats_sd(const double *x, size_t n);

/* Standard error of the mean, sd / sqrt(n); NaN when n < 2. */
double qe_stats_stderr(const double *x, size_t n);

/* Smallest / largest value; NaN when n == 0. NaN entries are ignored unless
 * all entries are NaN. */
double qe_stats_min(const double *x, size_t n);
double qe_stats_max(const double *x, size_t n);

/* Type-7 percentile of values already sorted ascending: q in [0, 1]
 * (0.05 = 5th percentile), h = (n - 1) q, result
 * x[floor h] + (h - floor h) (x[floor h + 1] - x[floor h]).
 * NaN when n == 0 or q is outside [0, 1] or NaN. */
double qe_stats_percentile_sorted(const double *sorted, size_t n, double q);

/* The same on unsorted x (left untouched; a sorted copy is made).
 * *out = NaN when n == 0. Returns 0, QE_EINVAL (q outside [0, 1], NULL out)
 * or QE_ENOMEM. */
int qe_stats_percentile(const double *x, size_t n, double q, double *out,
			struct qe_err *err);

/* ---- binomial proportion ---------------------------------------------- */

/* Accuracy-style summary of k successes in n trials. */
struct qe_prop {
	size_t k, n;
	double p;           /* k / n; NaN when n == 0 */
	double se;          /* sqrt(p (1 - p) / (n - 1)): the sample standard error of a
			     * 0/1 mean, lm-evaluation-harness's convention; NaN when n < 2 */
	double lo, hi;      /* normal interval p -/+ z se, clipped to [0, 1]; NaN when n < 2 */
	double wilson_lo;   /* Wilson score interval (uses n, not n - 1); [0, 1] when n == 0 */
	double wilson_hi;
};

/* Fill *out for k of n (k <= n) at the two-sided normal quantile z
 * (QE_Z95 for 95%). */
void qe_prop_compute(size_t k, size_t n, double z, struct qe_prop *out);

/* ---- paired proportions: Newcombe's hybrid score interval -------------- */

/* Interval for p1 - p2 from one paired 2x2 table: a = both successes, b =
 * success in 1 only, c = success in 2 only, d = neither; p1 = (a + b) / n,
 * p2 = (a + c) / n, n = a + b + c + d. Newcombe (1998, Stat. Med. 17:2635),
 * method 10: the marginals' Wilson intervals at z, combined with the
 * continuity-adjusted phi correlation of the table (docs/metrics.md). It does
 * not collapse when b = c = 0. n == 0 gives NaN bounds. *lo, *hi in [-1, 1]. */
void qe_stats_paired_newcombe(uint64_t a, uint64_t b, uint64_t c, uint64_t d, double z, double *lo, double *hi);

/* ---- McNemar's exact test --------------------------------------------- */

/* Two-sided exact McNemar p-value for discordant counts b and c:
 * min(1, 2 P[X <= min(b, c)]) with X ~ Binomial(b + c, 1/2); 1 when b + c == 0.
 * Computed in log space (Loader's saddle-point binomial terms and term ratios,
 * no factorials): measured relative error below 3e-13 for b + c up to 10^5;
 * values below ~1e-300 underflow to 0. */
double qe_stats_mcnemar_exact(uint64_t b, uint64_t c);

/* ---- paired stratified bootstrap -------------------------------------- */

struct qe_boot_params {
	uint32_t n_boot;    /* replicates; 0 = 2000 */
	double conf;        /* central interval coverage in (0, 1); 0.95 by default */
	uint64_t seed;      /* the whole result is a function of (data, n_boot, conf, seed) */
	int n_threads;      /* OpenMP threads; 0 = OpenMP's default. Does not change results */
};

struct qe_boot_params qe_boot_default_params(void);

struct qe_boot_result {
	double delta;       /* point estimate: mean(x) - mean(y) over the n items */
	double lo, hi;      /* type-7 percentiles (1 - conf)/2 and (1 + conf)/2 of the replicates */
	double se;          /* sample sd of the replicates (bootstrap standard error) */
	uint32_t n_boot;    /* replicates drawn */
	size_t n_strata;    /* distinct stratum ids seen */
};

/* Paired bootstrap of mean(x) - mean(y) over the same n items (x[i], y[i]
 * belong to item i; for accuracies pass 1.0 for correct and 0.0 for wrong).
 * Items are resampled with replacement within each stratum (stratum[i], any
 * uint32 id; NULL = one stratum), each stratum keeping its size. Each
 * replicate r draws from its own xoshiro256** stream seeded from (seed, r), so
 * results are identical for any thread count. n == 0 gives all-NaN fields and
 * status 0. Returns 0, QE_EINVAL (NULL args, conf outside (0, 1)) or QE_ENOMEM. */
int qe_stats_paired_bootstrap(const double *x, const double *y, const uint32_t *stratum,
			      size_t n, const struct qe_boot_params *params,
			      struct qe_boot_result *out, struct qe_err *err);

/* ---- correlation -------------------------------------------------------- */

/* Pearson's r (two-pass, centred); NaN when n < 2 or either vector is constant. */
double qe_stats_pearson(const double *x, const double *y, size_t n);

/* 1-based ranks of x into rank[n] (caller's storage); tied values all get the
 * mean of the ranks they span. NaN values are not allowed (QE_EINVAL).
 * Returns 0, QE_EINVAL or QE_ENOMEM. */
int qe_stats_rank(const double *x, size_t n, double *rank, struct qe_err *err);

/* Spearman's rho = Pearson's r of the average ranks. *out = NaN when n < 2 or
 * either vector is all ties. Returns 0, QE_EINVAL or QE_ENOMEM. */
int qe_stats_spearman(const double *x, const double *y, size_t n, double *out,
		      struct qe_err *err);

/* ---- divergences -------------------------------------------------------- */

/* log(sum exp a[i]) computed stably; -INFINITY when n == 0 or all a[i] are
 * -INFINITY; NaN when any a[i] is NaN or +INFINITY. */
double qe_stats_logsumexp(const double *a, size_t n);

/* KL(p || q) in nats with p = softmax(a), q = softmax(b) over the same n
 * choices (a, b: log-likelihoods or any scores; -INFINITY allowed = zero
 * probability). Terms with p_i = 0 contribute 0; p_i > 0 = q_i gives
 * +INFINITY. Rounding below 0 is returned as 0. NaN when n == 0 or either
 * input holds NaN / +INFINITY / only -INFINITY. */
double qe_stats_softmax_kl(const double *a, const double *b, size_t n);

/* Index of the largest a[i], the lowest index among ties; NaN entries are
 * skipped. Returns n when n == 0 or every entry is NaN. */
size_t qe_stats_argmax(const double *a, size_t n);

/* ---- pseudo-random numbers ---------------------------------------------- */

/* xoshiro256** state; deterministic, independent of rand(). Not shared
 * between threads: give each its own (qe_rng_seed with a stream index). */
struct qe_rng {
	uint64_t s[4];
};

/* Seed stream `stream` of `seed` (splitmix64 of a mix of both). */
void qe_rng_seed(struct qe_rng *rng, uint64_t seed, uint64_t stream);

/* Next 64 random bits. */
uint64_t qe_rng_next(struct qe_rng *rng);

/* Uniform integer in [0, bound), unbiased (Lemire's multiply-and-reject);
 * bound must be > 0. */
uint64_t qe_rng_below(struct qe_rng *rng, uint64_t bound);

/* Uniform double in [0, 1) with 53 random bits. */
double qe_rng_uniform(struct qe_rng *rng);

#endif
