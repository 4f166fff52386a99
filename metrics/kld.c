/* qeval — whole-vocabulary drift (see metrics/kld.h; formulas in
 * docs/metrics.md, "Whole-vocabulary drift"). */
#include "metrics/kld.h"
#include "metrics/stats.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the stored rows are written in the host's byte order, documented as little-endian"
#endif

/* ======================================================================
 * One position
 * ====================================================================== */

size_t qe_kld_argmax(const float *x, size_t n)
{
	size_t best = 0;

	for (size_t i = 1; i < n; i++)
		if (x[i] > x[best])
			best = i;
	return best;
}

double qe_kld_logsumexp(const float *x, size_t n)
{
	double mx = x[qe_kld_argmax(x, n)], s = 0;

	for (size_t i = 0; i < n; i++)
		s += exp((double)x[i] - mx);
	return mx + log(s);
}

void qe_kld_head(const unsigned char *row, struct qe_kld_head *h)
{
	float f[4];

	memcpy(f, row, sizeof(f));
	memcpy(&h->top, row + 16, sizeof(h->top));
	h->base = f[0];
	h->step = f[1];
	h->tail = f[2];
	h->nll = f[3];
}

/* the window's floor and step, as stored floats, such that every kept
 * log-probability l in [base, lmax] has (l - base) / step <= 65535 + 1/2 */
static void window_of(double lmin, double lmax, double window, float *base, float *step)
{
	double lo = lmin > lmax - window ? lmin : lmax - window;

	*base = (float)lo;
	*step = (float)((lmax - (double)*base) / QE_KLD_CODES);
	while (*step > 0 && (double)*step * QE_KLD_CODES < lmax - (double)*base)
		*step = nextafterf(*step, INFINITY);
}

double qe_kld_encode(const float *x, size_t n, int32_t tok, double window, unsigned char *row)
{
	size_t top = qe_kld_argmax(x, n);
	double lse = qe_kld_logsumexp(x, n), lmax = x[top] - lse, lmin = lmax, tail = 0;
	float head[4], base, step;
	int32_t t32[2] = { (int32_t)top, 0 };
	unsigned char *codes = row + QE_KLD_HEAD_BYTES;

	for (size_t i = 0; i < n; i++)
		if ((double)x[i] - lse < lmin)
			lmin = (double)x[i] - lse;
	window_of(lmin, lmax, window, &base, &step);
	for (size_t i = 0; i < n; i++) {
		double l = (double)x[i] - lse, q = step > 0 ? nearbyint((l - (double)base) / (double)step) : 1;
		uint16_t c = q <= 0 ? 0 : q >= QE_KLD_CODES ? (uint16_t)QE_KLD_CODES : (uint16_t)q;
		if (c == 0)
			tail += exp(l);
		memcpy(codes + 2 * i, &c, 2);
	}
	head[0] = base;
	head[1] = step;
	head[2] = (float)tail;
	head[3] = (float)(lse - (double)x[tok]);
	memcpy(row, head, sizeof(head));
	memcpy(row + 16, t32, sizeof(t32));
	return lse - (double)x[tok];
}

/* what a level's row gives in one pass over the reference's codes */
struct cmp_sums {
	double s_kept;     /* sum of exp(stored l) over code > 0 */
	double q_tail;     /* the level's mass on the code-0 tokens */
	double m_tail_min; /* the smallest level log-prob among them */
};

/* e[i] = exp(stored l_i) for code > 0 (0 for the tail); NULL e: not kept.
 * exp(base + c step) = exp(base) exp(256 step hi) exp(step lo) with c =
 * 256 hi + lo: 512 exps a row from two tables instead of one a token (a
 * product of three doubles: a few ulps) */
static void cmp_pass1(const float *y, size_t n, double lse, const struct qe_kld_head *h, const unsigned char *codes,
		      double *e, struct cmp_sums *s)
{
	double hi[256], lo[256], eb = exp((double)h->base);

	for (int k = 0; k < 256; k++) {
		hi[k] = eb * exp((double)h->step * 256.0 * k);
		lo[k] = exp((double)h->step * k);
	}
	s->s_kept = 0;
	s->q_tail = 0;
	s->m_tail_min = INFINITY;
	for (size_t i = 0; i < n; i++) {
		uint16_t c;
		memcpy(&c, codes + 2 * i, 2);
		if (c) {
			double v = hi[c >> 8] * lo[c & 255];
			s->s_kept += v;
			if (e)
				e[i] = v;
		} else {
			double m = (double)y[i] - lse;
			s->q_tail += exp(m);
			if (m < s->m_tail_min)
				s->m_tail_min = m;
		}
	}
}

void qe_kld_compare(const float *y, size_t n, int32_t tok, const unsigned char *row, struct qe_kld_pos *out)
{
	struct qe_kld_head h;
	struct cmp_sums s;
	const unsigned char *codes = row + QE_KLD_HEAD_BYTES;
	size_t top = qe_kld_argmax(y, n);
	double *e = malloc(n * sizeof(*e)); /* a cache of exp(stored l); NULL: computed twice */
	double lse = 0, hh, shift, scale, kept = 0, absum = 0, tail = 0, gap = 0, eh;

	for (size_t i = 0; i < n; i++)
		lse += exp((double)y[i] - (double)y[top]);
	lse = (double)y[top] + log(lse);
	qe_kld_head(row, &h);
	hh = h.step;
	cmp_pass1(y, n, lse, &h, codes, e, &s);
	scale = s.s_kept > 0 && h.tail < 1 ? (1.0 - h.tail) / s.s_kept : 1;
	shift = log(scale);
	for (size_t i = 0; i < n; i++) {
		uint16_t c;
		double l, p, d;
		memcpy(&c, codes + 2 * i, 2);
		if (!c)
			continue;
		l = (double)h.base + hh * c;
		p = (e ? e[i] : exp(l)) * scale; /* the same value to a few ulps */
		d = l + shift - ((double)y[i] - lse);
		kept += p * d;
		absum += p * (fabs(d) + hh);
	}
	free(e);
	if (h.tail > 0) {
		double q = s.q_tail > 0 ? s.q_tail : DBL_MIN;
		tail = h.tail * log(h.tail / q);
		gap = h.tail * ((double)h.base + hh / 2 - s.m_tail_min) - tail;
		if (gap < 0)
			gap = 0;
	}
	eh = expm1(hh);
	out->kld = kept + tail;
	out->bound = eh * (1 + eh) * absum + (1.0 - h.tail) * eh * eh + gap;
	out->nll = lse - (double)y[tok];
	out->same_top = (int32_t)top == h.top;
}

/* the reference's kept mass sum exp(stored l) over code > 0 (cmp_pass1's
 * s_kept without a level) */
static double kept_sum(size_t n, const struct qe_kld_head *h, const unsigned char *codes)
{
	double hi[256], lo[256], eb = exp((double)h->base), s = 0;

	for (int k = 0; k < 256; k++) {
		hi[k] = eb * exp((double)h->step * 256.0 * k);
		lo[k] = exp((double)h->step * k);
	}
	for (size_t i = 0; i < n; i++) {
		uint16_t c;
		memcpy(&c, codes + 2 * i, 2);
		if (c)
			s += hi[c >> 8] * lo[c & 255];
	}
	return s;
}

void qe_kld_compare_topk(const int32_t *id, const double *lp, size_t k, size_t n_vocab, double lp_next,
			 const unsigned char *row, struct qe_kld_pos *out)
{
	struct qe_kld_head h;
	const unsigned char *codes = row + QE_KLD_HEAD_BYTES;
	double s_kept, scale, shift, eh, kl = 0, absum = 0, p_a = 0, q_known = 0, q_b = 0, p_b, q_bkt, best = -INFINITY;
	size_t n_valid = 0;
	int32_t top = -1;

	qe_kld_head(row, &h);
	s_kept = kept_sum(n_vocab, &h, codes);
	scale = s_kept > 0 && h.tail < 1 ? (1.0 - h.tail) / s_kept : 1;
	shift = log(scale);
	eh = expm1((double)h.step);
	for (size_t j = 0; j < k; j++) {
		uint16_t c;
		double q;
		if (id[j] < 0 || (size_t)id[j] >= n_vocab || isnan(lp[j]))
			continue;
		n_valid++;
		if (lp[j] > best || (lp[j] == best && id[j] < top)) {
			best = lp[j];
			top = id[j];
		}
		q = exp(lp[j]);
		q_known += q;
		memcpy(&c, codes + 2 * (size_t)id[j], 2);
		if (c) { /* a singleton of the partition */
			double l = (double)h.base + (double)h.step * c + shift, p = exp(l), d = l - lp[j];
			kl += p * d;
			absum += p * (fabs(d) + (double)h.step);
			p_a += p;
		} else { /* in the reference's tail: into the bucket */
			q_b += q;
		}
	}
	/* the bucket: everything but the kept known entries */
	p_b = 1.0 - p_a > 0 ? 1.0 - p_a : 0;
	q_bkt = q_b + (n_valid >= n_vocab ? 0 : (1.0 - q_known > 0 ? 1.0 - q_known : 0) + QE_KLD_TOPK_TAIL_EPS);
	out->bound = eh * (1 + eh) * absum + p_a * eh * eh;
	if (p_b > 0) {
		double lr = log(p_b / (q_bkt > DBL_MIN ? q_bkt : DBL_MIN));
		kl += p_b * lr;
		out->bound += fabs(lr + 1) * p_a * eh * (1 + eh);
	}
	out->kld = kl > 0 ? kl : 0; /* KL >= 0 is a lower bound too (the allowance can tip a tiny one below) */
	out->nll = isnan(lp_next) ? NAN : -lp_next;
	out->same_top = top >= 0 && top == h.top;
}

/* ======================================================================
 * Summary
 * ====================================================================== */

static double mean_of(const double *x, size_t n)
{
	return qe_stats_mean(x, n);
}

/* sd / sqrt(n) */
static double se_of(const double *x, size_t n)
{
	return qe_stats_stderr(x, n);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int dist_of(const double *x, size_t n, struct qe_kld_dist *d, struct qe_err *err)
{
	double *s;

	d->mean = mean_of(x, n);
	d->se = se_of(x, n);
	d->median = d->p90 = d->p95 = d->p99 = d->p999 = d->max = NAN;
	if (n == 0)
		return 0;
	if (!(s = malloc(n * sizeof(*s))))
		return qe_fail(err, QE_ENOMEM, "out of memory");
	memcpy(s, x, n * sizeof(*s));
	qsort(s, n, sizeof(*s), cmp_double);
	d->median = qe_stats_percentile_sorted(s, n, 0.5);
	d->p90 = qe_stats_percentile_sorted(s, n, 0.90);
	d->p95 = qe_stats_percentile_sorted(s, n, 0.95);
	d->p99 = qe_stats_percentile_sorted(s, n, 0.99);
	d->p999 = qe_stats_percentile_sorted(s, n, 0.999);
	d->max = s[n - 1];
	free(s);
	return 0;
}

static int ppl_part(const double *nll, const double *nll_ref, size_t n, struct qe_kld_summary *o, double *work)
{
	double m = mean_of(nll, n);

	o->ppl = exp(m);
	o->ppl_se = o->ppl * se_of(nll, n);
	o->ppl_ref = o->ppl_ref_se = o->ln_ratio = o->ln_ratio_se = o->ppl_ratio = o->ppl_ratio_se = o->nll_cor = NAN;
	if (!nll_ref)
		return 0;
	o->ppl_ref = exp(mean_of(nll_ref, n));
	o->ppl_ref_se = o->ppl_ref * se_of(nll_ref, n);
	for (size_t i = 0; i < n; i++)
		work[i] = nll[i] - nll_ref[i];
	o->ln_ratio = mean_of(work, n);
	o->ln_ratio_se = se_of(work, n);
	o->ppl_ratio = exp(o->ln_ratio);
	o->ppl_ratio_se = o->ppl_ratio * o->ln_ratio_se;
	o->nll_cor = qe_stats_pearson(nll, nll_ref, n);
	return 0;
}

static int dp_part(const double *nll, const double *nll_ref, size_t n, struct qe_kld_summary *o, double *work,
		   struct qe_err *err)
{
	struct qe_kld_dist d;
	double *sq = work + n;
	int rc;

	for (size_t i = 0; i < n; i++) {
		work[i] = exp(-nll[i]) - exp(-nll_ref[i]);
		sq[i] = work[i] * work[i];
	}
	o->dp_mean = mean_of(work, n);
	o->dp_se = se_of(work, n);
	o->dp_rms = sqrt(mean_of(sq, n));
	o->dp_rms_se = o->dp_rms > 0 ? 0.5 / o->dp_rms * se_of(sq, n) : NAN;
	if ((rc = dist_of(work, n, &d, err)) != 0)
		return rc;
	o->dp_p50 = d.median;
	o->dp_p95 = d.p95;
	o->dp_p99 = d.p99;
	o->dp_max = d.max;
	qsort(work, n, sizeof(*work), cmp_double);
	o->dp_min = n ? work[0] : NAN;
	o->dp_p01 = qe_stats_percentile_sorted(work, n, 0.01);
	o->dp_p05 = qe_stats_percentile_sorted(work, n, 0.05);
	return 0;
}

int qe_kld_summarize(const double *nll, const double *nll_ref, const double *kld, const unsigned char *same_top,
		     const double *bound, size_t n, struct qe_kld_summary *out, struct qe_err *err)
{
	double *work;
	int rc = 0;

	if (!nll)
		return qe_fail(err, QE_EINVAL, "kld summary: no log-likelihoods");
	memset(out, 0, sizeof(*out));
	out->n = n;
	if (!(work = malloc((2 * n + 1) * sizeof(*work))))
		return qe_fail(err, QE_ENOMEM, "out of memory");
	ppl_part(nll, nll_ref, n, out, work);
	out->dp_mean = out->dp_se = out->dp_rms = out->dp_rms_se = NAN;
	out->dp_min = out->dp_p01 = out->dp_p05 = out->dp_p50 = out->dp_p95 = out->dp_p99 = out->dp_max = NAN;
	if (nll_ref)
		rc = dp_part(nll, nll_ref, n, out, work, err);
	if (rc == 0 && kld)
		rc = dist_of(kld, n, &out->kld, err);
	else if (rc == 0)
		out->kld.mean = out->kld.se = out->kld.median = out->kld.p90 = out->kld.p95 = out->kld.p99 =
			out->kld.p999 = out->kld.max = NAN;
	out->same_top = out->same_top_se = NAN;
	if (same_top && n > 0) {
		size_t k = 0;
		for (size_t i = 0; i < n; i++)
			k += same_top[i] != 0;
		out->same_top = (double)k / (double)n;
		out->same_top_se = n > 1 ? sqrt(out->same_top * (1 - out->same_top) / (double)(n - 1)) : NAN;
	}
	out->bound_mean = bound ? mean_of(bound, n) : NAN;
	free(work);
	return rc;
}
