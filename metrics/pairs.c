/* qeval — paired-sentence and embedding metrics (see metrics/pairs.h and
 * docs/metrics.md, "Sentence pairs"). */
#include "metrics/pairs.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/stats.h"

struct qe_pairs_params qe_pairs_default_params(void)
{
	struct qe_pairs_params p = {
		.kind = QE_LABEL_BINARY,
		.pos_threshold = 4.0,
		.neg_threshold = 1.0,
		.ks = { 1, 5, 10 },
		.n_ks = 3,
		.mrr_k = 10,
		.overlap_k = 10,
		.sim = qe_sim_default_params(),
	};
	return p;
}

/* ======================================================================
 * Ranking metrics of one query
 * ====================================================================== */

double qe_ir_recall(const double *gains, size_t n_ranked, size_t n_rel, size_t k)
{
	size_t hit = 0;

	if (n_rel == 0)
		return NAN;
	for (size_t r = 0; r < n_ranked && r < k; r++)
		hit += gains[r] > 0.0;
	return (double)hit / (double)n_rel;
}

double qe_ir_ndcg(const double *gains, size_t n_ranked, const double *ideal, size_t n_rel,
		  size_t k)
{
	double dcg = 0.0, idcg = 0.0;

	for (size_t r = 0; r < n_ranked && r < k; r++)
		dcg += gains[r] / log2((double)r + 2.0);
	for (size_t r = 0; r < n_rel && r < k; r++)
		idcg += ideal[r] / log2((double)r + 2.0);
	return idcg > 0.0 ? dcg / idcg : NAN;
}

double qe_ir_rr(const double *gains, size_t n_ranked, size_t k)
{
	for (size_t r = 0; r < n_ranked && r < k; r++)
		if (gains[r] > 0.0)
			return 1.0 / (double)(r + 1);
	return 0.0;
}

/* ======================================================================
 * Cosines
 * ====================================================================== */

double qe_pairs_cosine(const float *a, const float *b, size_t dim)
{
	double ab = 0.0, aa = 0.0, bb = 0.0;

	for (size_t t = 0; t < dim; t++) {
		ab += (double)a[t] * b[t];
		aa += (double)a[t] * a[t];
		bb += (double)b[t] * b[t];
	}
	if (aa == 0.0 || bb == 0.0)
		return 0.0;
	return ab / sqrt(aa * bb);
}

static double emb_cos(const struct qe_emb *e, const struct qe_emb *f, uint32_t i, uint32_t j)
{
	const float *a = e->v + (size_t)i * e->dim, *b = f->v + (size_t)j * f->dim;

	if (e->normalized && f->normalized) {
		double ab = 0.0;

		for (size_t t = 0; t < e->dim; t++)
			ab += (double)a[t] * b[t];
		return ab;
	}
	return qe_pairs_cosine(a, b, e->dim);
}

/* ======================================================================
 * Checks
 * ====================================================================== */

static int check_params(const struct qe_pairs_params *p, struct qe_err *err)
{
	if (p->kind != QE_LABEL_BINARY && p->kind != QE_LABEL_GRADED)
		return qe_fail(err, QE_EINVAL, "pairs: unknown label kind %d", (int)p->kind);
	if (p->n_ks == 0 || p->n_ks > QE_PAIRS_MAX_KS)
		return qe_fail(err, QE_EINVAL, "pairs: n_ks=%zu outside 1..%d", p->n_ks, QE_PAIRS_MAX_KS);
	for (size_t i = 0; i < p->n_ks; i++)
		if (p->ks[i] == 0)
			return qe_fail(err, QE_EINVAL, "pairs: cut-off ks[%zu] is 0", i);
	if (p->mrr_k == 0 || p->overlap_k == 0)
		return qe_fail(err, QE_EINVAL, "pairs: mrr_k and overlap_k must be >= 1");
	if (p->kind == QE_LABEL_GRADED && !(p->neg_threshold < p->pos_threshold))
		return qe_fail(err, QE_EINVAL, "pairs: neg_threshold %g not below pos_threshold %g",
			       p->neg_threshold, p->pos_threshold);
	return 0;
}

static int check_emb(const struct qe_emb *e, const char *what, struct qe_err *err)
{
	if (!e || (e->n > 0 && !e->v))
		return qe_fail(err, QE_EINVAL, "pairs: NULL %s embeddings", what);
	if (e->dim == 0)
		return qe_fail(err, QE_EINVAL, "pairs: %s embeddings have dim 0", what);
	for (size_t i = 0; i < e->n * e->dim; i++)
		if (!isfinite(e->v[i]))
			return qe_fail(err, QE_EINPUT, "pairs: %s embedding of sentence %zu is not finite",
				       what, i / e->dim);
	return 0;
}

static int check_pairs(const struct qe_pair *pairs, size_t n_pairs, size_t n_sent,
		       struct qe_err *err)
{
	if (n_pairs > 0 && !pairs)
		return qe_fail(err, QE_EINVAL, "pairs: NULL pair array");
	for (size_t i = 0; i < n_pairs; i++) {
		if (pairs[i].s1 >= n_sent || pairs[i].s2 >= n_sent)
			return qe_fail(err, QE_EINPUT,
				       "pairs: pair %zu (line %u): sentences (%u, %u) outside %zu embeddings",
				       i, pairs[i].line, pairs[i].s1, pairs[i].s2, n_sent);
		if (isnan(pairs[i].label))
			return qe_fail(err, QE_EINPUT, "pairs: pair %zu (line %u) has a NaN label", i,
				       pairs[i].line);
	}
	return 0;
}

static int is_pos(const struct qe_pairs_params *p, double label)
{
	return p->kind == QE_LABEL_BINARY ? label >= 0.5 : label >= p->pos_threshold;
}

static int is_neg(const struct qe_pairs_params *p, double label)
{
	return p->kind == QE_LABEL_BINARY ? label < 0.5 : label <= p->neg_threshold;
}

/* ======================================================================
 * Retrieval set-up: queries, corpus, relevance
 * ====================================================================== */

struct retr {
	size_t nq, nc;
	uint32_t *qsent;     /* [nq] sentence of each query, ascending */
	uint32_t *csent;     /* [nc] sentence of each corpus document, ascending */
	uint32_t *excl;      /* [nq] corpus position of the query's own sentence or QE_SIM_NONE */
	size_t *rel_at;      /* [nq + 1] query i's relevant documents: rel_doc[rel_at[i]..rel_at[i+1]) */
	uint32_t *rel_doc;   /* corpus positions, ascending within a query */
	double *rel_gain;    /* their gains */
};

static void retr_release(struct retr *r)
{
	free(r->qsent);
	free(r->csent);
	free(r->excl);
	free(r->rel_at);
	free(r->rel_doc);
	free(r->rel_gain);
	memset(r, 0, sizeof(*r));
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

/* position of v in sorted a[n], or QE_SIM_NONE */
static uint32_t find_u32(const uint32_t *a, size_t n, uint32_t v)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (a[mid] < v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && a[lo] == v ? (uint32_t)lo : QE_SIM_NONE;
}

struct posrel {
	uint32_t s1, doc;
	double gain;
};

static int cmp_posrel(const void *a, const void *b)
{
	const struct posrel *x = a, *y = b;

	if (x->s1 != y->s1)
		return x->s1 < y->s1 ? -1 : 1;
	return (x->doc > y->doc) - (x->doc < y->doc);
}

static size_t uniq_u32(uint32_t *a, size_t n)
{
	size_t m = 0;

	qsort(a, n, sizeof(*a), cmp_u32);
	for (size_t i = 0; i < n; i++)
		if (m == 0 || a[i] != a[m - 1])
			a[m++] = a[i];
	return m;
}

static int retr_build(const struct qe_pair *pairs, size_t n_pairs,
		      const struct qe_pairs_params *p, struct retr *r, struct qe_err *err)
{
	struct posrel *pr = NULL;
	size_t npr = 0, m = 0;

	memset(r, 0, sizeof(*r));
	r->csent = malloc((n_pairs ? n_pairs : 1) * sizeof(*r->csent));
	pr = malloc((n_pairs ? n_pairs : 1) * sizeof(*pr));
	r->qsent = malloc((n_pairs ? n_pairs : 1) * sizeof(*r->qsent));
	r->excl = malloc((n_pairs ? n_pairs : 1) * sizeof(*r->excl));
	r->rel_at = malloc((n_pairs + 1) * sizeof(*r->rel_at));
	r->rel_doc = malloc((n_pairs ? n_pairs : 1) * sizeof(*r->rel_doc));
	r->rel_gain = malloc((n_pairs ? n_pairs : 1) * sizeof(*r->rel_gain));
	if (!r->csent || !pr || !r->qsent || !r->excl || !r->rel_at || !r->rel_doc || !r->rel_gain) {
		free(pr);
		retr_release(r);
		return qe_fail(err, QE_ENOMEM, "pairs: cannot allocate retrieval for %zu pairs", n_pairs);
	}

	/* corpus: distinct s2, ascending sentence index */
	for (size_t i = 0; i < n_pairs; i++)
		r->csent[i] = pairs[i].s2;
	r->nc = uniq_u32(r->csent, n_pairs);

	/* positive (query, document, gain), self-pairs dropped */
	for (size_t i = 0; i < n_pairs; i++) {
		if (!is_pos(p, pairs[i].label) || pairs[i].s1 == pairs[i].s2)
			continue;
		pr[npr].s1 = pairs[i].s1;
		pr[npr].doc = find_u32(r->csent, r->nc, pairs[i].s2);
		pr[npr].gain = p->kind == QE_LABEL_BINARY ? 1.0 : pairs[i].label;
		npr++;
	}
	qsort(pr, npr, sizeof(*pr), cmp_posrel);

	/* group by query; a repeated (query, document) keeps its largest gain */
	r->rel_at[0] = 0;
	for (size_t i = 0; i < npr; i++) {
		int new_q = i == 0 || pr[i].s1 != pr[i - 1].s1;

		if (new_q) {
			if (r->nq > 0)
				r->rel_at[r->nq] = m;
			r->qsent[r->nq] = pr[i].s1;
			r->excl[r->nq] = find_u32(r->csent, r->nc, pr[i].s1);
			r->nq++;
		} else if (pr[i].doc == pr[i - 1].doc) {
			if (pr[i].gain > r->rel_gain[m - 1])
				r->rel_gain[m - 1] = pr[i].gain;
			continue;
		}
		r->rel_doc[m] = pr[i].doc;
		r->rel_gain[m] = pr[i].gain;
		m++;
	}
	r->rel_at[r->nq] = m;
	free(pr);
	return 0;
}

/* rows[idx[i]] of e into a new [n][dim] array, unit-normalised */
static float *gather(const struct qe_emb *e, const uint32_t *idx, size_t n, struct qe_err *err)
{
	float *v = malloc((n ? n : 1) * e->dim * sizeof(*v));

	if (!v) {
		qe_fail(err, QE_ENOMEM, "pairs: cannot allocate %zu x %zu floats", n, e->dim);
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		memcpy(v + i * e->dim, e->v + (size_t)idx[i] * e->dim, e->dim * sizeof(*v));
	if (!e->normalized)
		qe_sim_normalize_rows(v, n, e->dim);
	return v;
}

/* Top-K corpus positions of every query: idx [nq][K]. */
static int retr_topk(const struct qe_emb *e, const struct retr *r, size_t K,
		     const struct qe_sim_params *sp, uint32_t **idx_out, struct qe_err *err)
{
	float *q = NULL, *c = NULL;
	uint32_t *idx = NULL;
	int rc;

	*idx_out = NULL;
	q = gather(e, r->qsent, r->nq, err);
	c = q ? gather(e, r->csent, r->nc, err) : NULL;
	idx = malloc((r->nq ? r->nq : 1) * K * sizeof(*idx));
	if (!q || !c || !idx) {
		free(q); free(c); free(idx);
		return qe_fail(err, QE_ENOMEM, "pairs: cannot allocate top-%zu for %zu queries", K, r->nq);
	}
	rc = qe_sim_topk_ex(sp, q, r->nq, c, r->nc, e->dim, K, r->excl, idx, NULL, err);
	free(q);
	free(c);
	if (rc != 0) {
		free(idx);
		return rc;
	}
	*idx_out = idx;
	return 0;
}

static int cmp_desc(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x < y) - (x > y);
}

static int retrieval(const struct qe_emb *e, const struct qe_pair *pairs, size_t n_pairs,
		     const struct qe_pairs_params *p, struct qe_pairs_quality *out,
		     struct qe_err *err)
{
	struct retr r;
	uint32_t *idx = NULL;
	double *gains = NULL, *ideal = NULL, sum_rr = 0.0;
	double sum_rec[QE_PAIRS_MAX_KS] = { 0 }, sum_ndcg[QE_PAIRS_MAX_KS] = { 0 };
	size_t K = p->mrr_k;
	int rc;

	for (size_t j = 0; j < p->n_ks; j++)
		if (p->ks[j] > K)
			K = p->ks[j];
	if ((rc = retr_build(pairs, n_pairs, p, &r, err)) != 0)
		return rc;
	out->n_queries = r.nq;
	out->n_corpus = r.nc;
	for (size_t j = 0; j < p->n_ks; j++)
		out->recall[j] = out->ndcg[j] = NAN;
	out->mrr = NAN;
	if (r.nq == 0) {
		retr_release(&r);
		return 0;
	}
	if ((rc = retr_topk(e, &r, K, &p->sim, &idx, err)) != 0) {
		retr_release(&r);
		return rc;
	}
	gains = malloc(K * sizeof(*gains));
	ideal = malloc((n_pairs ? n_pairs : 1) * sizeof(*ideal));
	if (!gains || !ideal) {
		rc = qe_fail(err, QE_ENOMEM, "pairs: cannot allocate gains");
		goto done;
	}
	for (size_t i = 0; i < r.nq; i++) {
		const uint32_t *top = idx + i * K, *rd = r.rel_doc + r.rel_at[i];
		const double *rg = r.rel_gain + r.rel_at[i];
		size_t nrel = r.rel_at[i + 1] - r.rel_at[i], nr = 0;

		for (; nr < K && top[nr] != QE_SIM_NONE; nr++) {
			uint32_t pos = find_u32(rd, nrel, top[nr]);

			gains[nr] = pos == QE_SIM_NONE ? 0.0 : rg[pos];
		}
		memcpy(ideal, rg, nrel * sizeof(*ideal));
		qsort(ideal, nrel, sizeof(*ideal), cmp_desc);
		for (size_t j = 0; j < p->n_ks; j++) {
			sum_rec[j] += qe_ir_recall(gains, nr, nrel, p->ks[j]);
			sum_ndcg[j] += qe_ir_ndcg(gains, nr, ideal, nrel, p->ks[j]);
		}
		sum_rr += qe_ir_rr(gains, nr, p->mrr_k);
	}
	for (size_t j = 0; j < p->n_ks; j++) {
		out->recall[j] = sum_rec[j] / (double)r.nq;
		out->ndcg[j] = sum_ndcg[j] / (double)r.nq;
	}
	out->mrr = sum_rr / (double)r.nq;
done:
	free(gains);
	free(ideal);
	free(idx);
	retr_release(&r);
	return rc;
}

/* ======================================================================
 * Quality of one embedding set
 * ====================================================================== */

int qe_pairs_quality(const struct qe_emb *e, const struct qe_pair *pairs, size_t n_pairs,
		     const struct qe_pairs_params *params, struct qe_pairs_quality *out,
		     struct qe_err *err)
{
	struct qe_pairs_params p = params ? *params : qe_pairs_default_params();
	double *cs = NULL, *lab = NULL, pos = 0.0, neg = 0.0;
	int rc;

	if (!out)
		return qe_fail(err, QE_EINVAL, "pairs: NULL output");
	memset(out, 0, sizeof(*out));
	if ((rc = check_params(&p, err)) != 0 || (rc = check_emb(e, "sentence", err)) != 0 ||
	    (rc = check_pairs(pairs, n_pairs, e->n, err)) != 0)
		return rc;

	out->n_pairs = n_pairs;
	out->n_ks = p.n_ks;
	memcpy(out->ks, p.ks, sizeof(out->ks));
	out->mrr_k = p.mrr_k;

	cs = malloc((n_pairs ? n_pairs : 1) * sizeof(*cs));
	lab = malloc((n_pairs ? n_pairs : 1) * sizeof(*lab));
	if (!cs || !lab) {
		free(cs);
		free(lab);
		return qe_fail(err, QE_ENOMEM, "pairs: cannot allocate for %zu pairs", n_pairs);
	}
	for (size_t i = 0; i < n_pairs; i++) {
		cs[i] = emb_cos(e, e, pairs[i].s1, pairs[i].s2);
		lab[i] = pairs[i].label;
		if (is_pos(&p, lab[i])) {
			pos += cs[i];
			out->n_pos++;
		} else if (is_neg(&p, lab[i])) {
			neg += cs[i];
			out->n_neg++;
		}
	}
	out->pearson = qe_stats_pearson(lab, cs, n_pairs);
	rc = qe_stats_spearman(lab, cs, n_pairs, &out->spearman, err);
	out->pos_mean = out->n_pos ? pos / (double)out->n_pos : NAN;
	out->neg_mean = out->n_neg ? neg / (double)out->n_neg : NAN;
	out->gap = out->pos_mean - out->neg_mean;
	free(cs);
	free(lab);
	if (rc != 0)
		return rc;
	return retrieval(e, pairs, n_pairs, &p, out, err);
}

/* ======================================================================
 * Drift of a level against the reference
 * ====================================================================== */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* |a[0..den) and b[0..den)| / den; den >= 1 (a query has an eligible row) */
static double list_overlap(const uint32_t *a, const uint32_t *b, size_t den)
{
	size_t hit = 0;

	for (size_t x = 0; x < den; x++)
		for (size_t y = 0; y < den; y++)
			if (a[x] == b[y]) {
				hit++;
				break;
			}
	return (double)hit / (double)den;
}

static int neighbour_overlap(const struct qe_emb *ref, const struct qe_emb *lvl,
			     const struct qe_pair *pairs, size_t n_pairs,
			     const struct qe_pairs_params *p, struct qe_pairs_drift *out,
			     struct qe_err *err)
{
	struct retr r;
	uint32_t *ia = NULL, *ib = NULL;
	size_t K = p->overlap_k;
	double sum = 0.0, sum_at[QE_PAIRS_MAX_KS] = { 0 };
	int rc;

	for (size_t j = 0; j < p->n_ks; j++)
		if (p->ks[j] > K)
			K = p->ks[j];
	if ((rc = retr_build(pairs, n_pairs, p, &r, err)) != 0)
		return rc;
	out->n_queries = r.nq;
	if (r.nq == 0) {
		retr_release(&r);
		return 0;
	}
	if ((rc = retr_topk(ref, &r, K, &p->sim, &ia, err)) != 0 ||
	    (rc = retr_topk(lvl, &r, K, &p->sim, &ib, err)) != 0)
		goto done;
	for (size_t i = 0; i < r.nq; i++) {
		const uint32_t *a = ia + i * K, *b = ib + i * K;
		size_t elig = r.nc - (r.excl[i] != QE_SIM_NONE);

		sum += list_overlap(a, b, p->overlap_k < elig ? p->overlap_k : elig);
		for (size_t j = 0; j < p->n_ks; j++)
			sum_at[j] += list_overlap(a, b, p->ks[j] < elig ? p->ks[j] : elig);
	}
	out->topk_overlap = sum / (double)r.nq;
	for (size_t j = 0; j < p->n_ks; j++)
		out->overlap_at[j] = sum_at[j] / (double)r.nq;
done:
	free(ia);
	free(ib);
	retr_release(&r);
	return rc;
}

int qe_pairs_drift(const struct qe_emb *ref, const struct qe_emb *lvl,
		   const struct qe_pair *pairs, size_t n_pairs,
		   const struct qe_pairs_params *params, struct qe_pairs_drift *out,
		   struct qe_err *err)
{
	struct qe_pairs_params p = params ? *params : qe_pairs_default_params();
	double *v = NULL, sum = 0.0;
	size_t n, nv;
	int rc;

	if (!out)
		return qe_fail(err, QE_EINVAL, "pairs drift: NULL output");
	memset(out, 0, sizeof(*out));
	if ((rc = check_params(&p, err)) != 0 || (rc = check_emb(ref, "reference", err)) != 0 ||
	    (rc = check_emb(lvl, "level", err)) != 0)
		return rc;
	if (ref->n != lvl->n || ref->dim != lvl->dim)
		return qe_fail(err, QE_EINVAL,
			       "pairs drift: reference has %zu x %zu embeddings, level %zu x %zu",
			       ref->n, ref->dim, lvl->n, lvl->dim);
	if ((rc = check_pairs(pairs, n_pairs, ref->n, err)) != 0)
		return rc;

	n = ref->n;
	out->n_sent = n;
	out->n_pairs = n_pairs;
	out->overlap_k = p.overlap_k;
	out->n_ks = p.n_ks;
	memcpy(out->ks, p.ks, sizeof(out->ks));
	out->cos_mean = out->cos_p5 = out->cos_p1 = out->cos_min = out->dist_mean = NAN;
	out->pair_mean = out->pair_p95 = out->pair_max = out->topk_overlap = NAN;
	for (size_t j = 0; j < QE_PAIRS_MAX_KS; j++)
		out->overlap_at[j] = NAN;
	nv = n > n_pairs ? n : n_pairs;
	v = malloc((nv ? nv : 1) * sizeof(*v));
	if (!v)
		return qe_fail(err, QE_ENOMEM, "pairs drift: cannot allocate %zu values", nv);

	/* per sentence */
	if (n > 0) {
		for (size_t i = 0; i < n; i++) {
			v[i] = emb_cos(ref, lvl, (uint32_t)i, (uint32_t)i);
			sum += 1.0 - v[i];
		}
		out->cos_mean = qe_stats_mean(v, n);
		out->dist_mean = sum / (double)n;
		qsort(v, n, sizeof(*v), cmp_double);
		out->cos_min = v[0];
		out->cos_p1 = qe_stats_percentile_sorted(v, n, 0.01);
		out->cos_p5 = qe_stats_percentile_sorted(v, n, 0.05);
	}

	/* per pair */
	if (n_pairs > 0) {
		for (size_t i = 0; i < n_pairs; i++)
			v[i] = fabs(emb_cos(ref, ref, pairs[i].s1, pairs[i].s2) -
				    emb_cos(lvl, lvl, pairs[i].s1, pairs[i].s2));
		out->pair_mean = qe_stats_mean(v, n_pairs);
		qsort(v, n_pairs, sizeof(*v), cmp_double);
		out->pair_max = v[n_pairs - 1];
		out->pair_p95 = qe_stats_percentile_sorted(v, n_pairs, 0.95);
	}
	free(v);
	return neighbour_overlap(ref, lvl, pairs, n_pairs, &p, out, err);
}
