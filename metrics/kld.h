/* qeval — whole-vocabulary drift of a level against the reference over a
 * text (the kld task): the stored form of the reference's next-token
 * distribution at one position, the per-position numbers a level gets against
 * it, and the summary over all positions. Pure functions: arrays in, numbers
 * out; formulas and the representation's error bound in docs/metrics.md
 * ("Whole-vocabulary drift").
 *
 * The stored row (QE_KLD_ROW_BYTES(n_vocab) bytes, little-endian):
 *   float base, step;   code c >= 1 stands for log-probability base + c step
 *   float tail;         probability mass of the code-0 tokens (below the
 *                       window), summed exactly
 *   float nll;          -log p(true token), exact
 *   int32 top;          the reference's most probable token (lowest id of ties)
 *   int32 reserved;     0
 *   uint16 code[n_vocab]
 * Codes round (l - base) / step to the nearest integer, so a kept token's
 * stored log-probability is within step / 2 of its own; the window is
 * [max(lmin, lmax - window), lmax] and step = its width / 65535.
 */
#ifndef QE_METRICS_KLD_H
#define QE_METRICS_KLD_H

#include <stddef.h>
#include <stdint.h>

#include "harness/base/err.h"

#define QE_KLD_HEAD_BYTES 24u
#define QE_KLD_ROW_BYTES(n_vocab) (QE_KLD_HEAD_BYTES + 2u * (size_t)(n_vocab))
#define QE_KLD_CODES 65535u
#define QE_KLD_DEFAULT_WINDOW 24.0 /* nats: the kld task's default (llama.cpp stores 16) */

/* One position of the reference, decoded from a stored row. */
struct qe_kld_head {
	float base, step, tail, nll;
	int32_t top;
};

/* Encode one position: logits[n_vocab] (natural-log scale, any offset) and
 * the true next token -> row (QE_KLD_ROW_BYTES(n_vocab) bytes). window in
 * nats (> 0). Returns the exact -log p(tok) (double). */
double qe_kld_encode(const float *logits, size_t n_vocab, int32_t tok, double window, unsigned char *row);

/* Read a row's head. */
void qe_kld_head(const unsigned char *row, struct qe_kld_head *h);

/* What a level's position gives against the reference's row. */
struct qe_kld_pos {
	double kld;     /* KL(ref || level), nats: kept tokens renormalised + the tail as one bucket */
	double bound;   /* |kld - the exact KL from the unrounded reference| <= bound (docs/metrics.md) */
	double nll;     /* -log p_level(true token) */
	int same_top;   /* the level's most probable token (lowest id of ties) is the reference's */
};

/* logits[n_vocab] of the level at the position, the true token tok, the
 * reference's row -> out. */
void qe_kld_compare(const float *logits, size_t n_vocab, int32_t tok, const unsigned char *row, struct qe_kld_pos *out);

/* The level's rounding allowance of a top-K tail: added to its mass outside
 * the known entries (1 - their sum), so float32 probabilities summed by the
 * server cannot make that mass look smaller than it is (docs/metrics.md). */
#define QE_KLD_TOPK_TAIL_EPS 1e-6

/* What a level that gives only k entries per position (ids id[k], natural-log
 * probabilities lp[k], no repeats; ids outside [0, n_vocab) are ignored) and
 * the true token's log-probability lp_next (NaN = unknown) gives against the
 * reference's row: kld = the lower bound on KL(ref || level) from merging
 * every token outside the known entries (and those in the reference's code-0
 * tail) into one bucket, whose level mass is 1 - sum of the known entries'
 * (plus QE_KLD_TOPK_TAIL_EPS unless the entries cover the whole vocabulary);
 * nll = -lp_next (NaN when unknown); same_top = the entry of the largest
 * lp (lowest id of ties) is the reference's top token; bound = the stored
 * reference's rounding bound on kld. */
void qe_kld_compare_topk(const int32_t *id, const double *lp, size_t k, size_t n_vocab, double lp_next,
			 const unsigned char *row, struct qe_kld_pos *out);

/* Exact log-softmax helpers (double accumulation): log sum exp of x[n], and
 * the index of the first maximum. */
double qe_kld_logsumexp(const float *x, size_t n);
size_t qe_kld_argmax(const float *x, size_t n);

/* ---- summary over positions ------------------------------------------- */

struct qe_kld_dist {
	double mean, se, median, p90, p95, p99, p999, max; /* type-7 percentiles; NaN when n == 0 */
};

struct qe_kld_summary {
	size_t n;              /* positions */
	double ppl, ppl_se;    /* exp(mean nll), ppl * se(nll) */
	double ppl_ref, ppl_ref_se;
	double ln_ratio;       /* mean(nll - nll_ref) = ln(PPL / PPL_ref) */
	double ln_ratio_se;    /* sd(nll - nll_ref) / sqrt(n): paired */
	double ppl_ratio, ppl_ratio_se; /* exp(ln_ratio), ppl_ratio * ln_ratio_se */
	double nll_cor;        /* Pearson correlation of nll and nll_ref */
	struct qe_kld_dist kld;
	double same_top, same_top_se; /* rate, sqrt(r (1 - r) / (n - 1)) */
	/* dp = p_level(true) - p_ref(true) = exp(-nll) - exp(-nll_ref) */
	double dp_mean, dp_se, dp_rms, dp_rms_se;
	double dp_min, dp_p01, dp_p05, dp_p50, dp_p95, dp_p99, dp_max;
	double bound_mean;     /* mean of the positions' bounds: the representation's bound on |mean KLD error| */
};

/* nll[n], nll_ref[n], kld[n], same_top[n] (0/1), bound[n] (each may be NULL
 * but nll: then its numbers are NaN; kld NULL at the reference). Returns 0,
 * QE_EINVAL (NULL nll) or QE_ENOMEM. */
int qe_kld_summarize(const double *nll, const double *nll_ref, const double *kld, const unsigned char *same_top,
		     const double *bound, size_t n, struct qe_kld_summary *out, struct qe_err *err);

#endif
