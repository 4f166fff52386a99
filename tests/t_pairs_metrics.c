/* Tests of metrics/pairs.h on a 2-D example whose cosines, rankings and
 * ranking metrics are worked out by hand below, plus hand cases of the
 * per-query ranking metrics. */
#include "metrics/pairs.h"

#include <math.h>
#include <stdint.h>

#include "metrics/stats.h"
#include "tests/tq.h"

#define TOL 1e-9
#define TOL_F 1e-6 /* results through float normalisation */

/* ---- per-query ranking metrics ---------------------------------------------- */

static void test_ir_hand(void)
{
	/* graded gains in rank order; 4 relevant with gains 3, 2, 2, 1, one of the
	 * 2s not retrieved */
	const double g[5] = { 3, 0, 2, 0, 1 }, ideal[4] = { 3, 2, 2, 1 };
	const double late[4] = { 0, 0, 1, 1 }, none[3] = { 0, 0, 0 };
	double dcg5 = 3.0 / 1.0 + 2.0 / log2(4.0) + 1.0 / log2(6.0);
	double idcg5 = 3.0 + 2.0 / log2(3.0) + 2.0 / log2(4.0) + 1.0 / log2(5.0);

	TQ_NEAR(qe_ir_ndcg(g, 5, ideal, 4, 5), dcg5 / idcg5, TOL);
	TQ_NEAR(qe_ir_ndcg(g, 5, ideal, 4, 1), 1.0, TOL);
	/* k = 2: DCG 3, IDCG 3 + 2/log2 3 */
	TQ_NEAR(qe_ir_ndcg(g, 5, ideal, 4, 2), 3.0 / (3.0 + 2.0 / log2(3.0)), TOL);
	TQ_NEAR(qe_ir_recall(g, 5, 4, 5), 0.75, TOL);
	TQ_NEAR(qe_ir_recall(g, 5, 4, 1), 0.25, TOL);
	TQ_NEAR(qe_ir_recall(g, 5, 4, 100), 0.75, TOL); /* k beyond the list */
	TQ_NEAR(qe_ir_rr(g, 5, 10), 1.0, TOL);
	TQ_NEAR(qe_ir_rr(late, 4, 10), 1.0 / 3.0, TOL);
	TQ_NEAR(qe_ir_rr(late, 4, 2), 0.0, 0);
	TQ_NEAR(qe_ir_ndcg(none, 3, ideal, 1, 3), 0.0, 0);
	TQ_CHECK(isnan(qe_ir_recall(none, 3, 0, 3)));   /* empty relevant set */
	TQ_CHECK(isnan(qe_ir_ndcg(none, 3, ideal, 0, 3)));
}

/* ---- a 2-D example ------------------------------------------------------------
 * Sentences (integer coordinates; exact in float):
 *   s0 (1,0)  s1 (0,1)  s2 (5,1)  s3 (2,1)  s4 (1,4)  s5 (-1,4)  s6 (-1,0)
 * Pairs (binary label / graded label):
 *   (0,2) 1/5   (0,4) 1/4   (1,5) 1/4.5   (0,6) 0/0   (1,3) 0/2   (1,2) 0/1   (2,0) 0/0.5
 * Corpus = distinct s2 = {s0, s2, s3, s4, s5, s6} (positions 0..5).
 * Queries = s1 of positive pairs = {s0, s1}; s0 is in the corpus and excluded
 * from its own ranking.
 *   s0: cos to s2 5/sqrt26 = .981, s3 2/sqrt5 = .894, s4 1/sqrt17, s5 -1/sqrt17, s6 -1
 *       ranking s2 s3 s4 s5 s6; relevant {s2, s4} at ranks 1 and 3
 *   s1: cos to s4 = s5 = 4/sqrt17 (exact tie: s4 first, lower index), s3 1/sqrt5,
 *       s2 1/sqrt26, s0 = s6 = 0 (tie: s0 first); relevant {s5} at rank 2 */
#define NS 7
#define NP 7
#define DIM 2
static const float ref_v[NS][DIM] = { { 1, 0 }, { 0, 1 }, { 5, 1 }, { 2, 1 }, { 1, 4 }, { -1, 4 }, { -1, 0 } };
/* the level moves s1 to (1,1) and leaves everything else */
static const float lvl_v[NS][DIM] = { { 1, 0 }, { 1, 1 }, { 5, 1 }, { 2, 1 }, { 1, 4 }, { -1, 4 }, { -1, 0 } };
static const struct qe_pair bin_pairs[NP] = {
	{ 0, 2, 1, 1 }, { 0, 4, 1, 2 }, { 1, 5, 1, 3 }, { 0, 6, 0, 4 }, { 1, 3, 0, 5 }, { 1, 2, 0, 6 }, { 2, 0, 0, 7 },
};
static const struct qe_pair gr_pairs[NP] = {
	{ 0, 2, 5, 1 }, { 0, 4, 4, 2 }, { 1, 5, 4.5, 3 }, { 0, 6, 0, 4 }, { 1, 3, 2, 5 }, { 1, 2, 1, 6 }, { 2, 0, 0.5, 7 },
};

static double cos2(const float *a, const float *b)
{
	return ((double)a[0] * b[0] + (double)a[1] * b[1]) /
	       sqrt(((double)a[0] * a[0] + (double)a[1] * a[1]) * ((double)b[0] * b[0] + (double)b[1] * b[1]));
}

static struct qe_emb emb(const float (*v)[DIM], int normalized)
{
	struct qe_emb e = { .v = &v[0][0], .n = NS, .dim = DIM, .normalized = normalized };
	return e;
}

/* Pearson by the textbook sums, written out here rather than calling stats */
static double pearson_sums(const double *x, const double *y, int n)
{
	double sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;

	for (int i = 0; i < n; i++) {
		sx += x[i];
		sy += y[i];
		sxx += x[i] * x[i];
		syy += y[i] * y[i];
		sxy += x[i] * y[i];
	}
	return (n * sxy - sx * sy) / sqrt((n * sxx - sx * sx) * (n * syy - sy * sy));
}

static void test_quality_binary(void)
{
	struct qe_emb e = emb(ref_v, 0);
	struct qe_pairs_params p = qe_pairs_default_params();
	struct qe_pairs_quality q;
	struct qe_err err = { 0 };
	double cs[NP], lab[NP], pos, neg, nd5;

	for (int i = 0; i < NP; i++) {
		cs[i] = cos2(ref_v[bin_pairs[i].s1], ref_v[bin_pairs[i].s2]);
		lab[i] = bin_pairs[i].label;
	}
	pos = (5 / sqrt(26.0) + 1 / sqrt(17.0) + 4 / sqrt(17.0)) / 3;
	neg = (-1 + 1 / sqrt(5.0) + 1 / sqrt(26.0) + 5 / sqrt(26.0)) / 4;

	TQ_EQ_INT(qe_pairs_quality(&e, bin_pairs, NP, &p, &q, &err), 0);
	TQ_EQ_INT(q.n_pairs, NP);
	TQ_EQ_INT(q.n_pos, 3);
	TQ_EQ_INT(q.n_neg, 4);
	TQ_NEAR(q.pos_mean, pos, TOL);
	TQ_NEAR(q.neg_mean, neg, TOL);
	TQ_NEAR(q.gap, pos - neg, TOL);
	TQ_NEAR(q.pearson, pearson_sums(lab, cs, NP), TOL);
	/* labels have two tied groups: ranks 2.5 (four 0s) and 6 (three 1s);
	 * cosines ranked by hand: -1 (1), .196 (2), .243 (3), .447 (4), .970 (5),
	 * .981 twice (6.5, 6.5) */
	{
		const double rl[NP] = { 6, 6, 6, 2.5, 2.5, 2.5, 2.5 };
		const double rc[NP] = { 6.5, 3, 5, 1, 4, 2, 6.5 };

		TQ_NEAR(q.spearman, pearson_sums(rl, rc, NP), TOL);
	}
	TQ_EQ_INT(q.n_queries, 2);
	TQ_EQ_INT(q.n_corpus, 6);
	TQ_EQ_INT(q.n_ks, 3);
	TQ_EQ_INT(q.ks[2], 10);
	/* Recall@1: s0 1/2, s1 0; @5 and @10: 1, 1 */
	TQ_NEAR(q.recall[0], 0.25, TOL);
	TQ_NEAR(q.recall[1], 1.0, TOL);
	TQ_NEAR(q.recall[2], 1.0, TOL);
	/* NDCG@1: 1 and 0; NDCG@5: s0 (1 + 1/2) / (1 + 1/log2 3), s1 (1/log2 3) / 1 */
	nd5 = ((1.0 + 0.5) / (1.0 + 1.0 / log2(3.0)) + 1.0 / log2(3.0)) / 2.0;
	TQ_NEAR(q.ndcg[0], 0.5, TOL);
	TQ_NEAR(q.ndcg[1], nd5, TOL);
	TQ_NEAR(q.ndcg[2], nd5, TOL);
	/* MRR@10: (1 + 1/2) / 2 */
	TQ_NEAR(q.mrr, 0.75, TOL);

	/* already-normalised input gives the same (to float rounding) */
	{
		float nv[NS][DIM];
		struct qe_pairs_quality q2;
		struct qe_emb e2;

		memcpy(nv, ref_v, sizeof(nv));
		qe_sim_normalize_rows(&nv[0][0], NS, DIM);
		e2 = emb((const float (*)[DIM])nv, 1);
		TQ_EQ_INT(qe_pairs_quality(&e2, bin_pairs, NP, &p, &q2, &err), 0);
		TQ_NEAR(q2.pos_mean, pos, TOL_F);
		TQ_NEAR(q2.pearson, q.pearson, TOL_F);
		TQ_NEAR(q2.mrr, 0.75, TOL);
		TQ_NEAR(q2.ndcg[1], nd5, TOL);
	}
}

static void test_quality_graded(void)
{
	struct qe_emb e = emb(ref_v, 0);
	struct qe_pairs_params p = qe_pairs_default_params();
	struct qe_pairs_quality q;
	struct qe_err err = { 0 };
	double nd5_s0, nd5_s1;

	p.kind = QE_LABEL_GRADED;
	p.ks[0] = 1;
	p.ks[1] = 2;
	p.n_ks = 2;
	p.mrr_k = 1;
	TQ_EQ_INT(qe_pairs_quality(&e, gr_pairs, NP, &p, &q, &err), 0);
	/* positives: labels 5, 4, 4.5 (>= 4); negatives 0, 1, 0.5 (<= 1); label 2 neither */
	TQ_EQ_INT(q.n_pos, 3);
	TQ_EQ_INT(q.n_neg, 3);
	TQ_NEAR(q.neg_mean, (-1 + 1 / sqrt(26.0) + 5 / sqrt(26.0)) / 3, TOL);
	/* s0: gains s2 5 at rank 1, s4 4 at rank 3; @2: DCG 5, IDCG 5 + 4/log2 3.
	 * s1: gain 4.5 at rank 2; @2: (4.5/log2 3) / 4.5 */
	nd5_s0 = 5.0 / (5.0 + 4.0 / log2(3.0));
	nd5_s1 = 1.0 / log2(3.0);
	TQ_NEAR(q.ndcg[0], 0.5, TOL);
	TQ_NEAR(q.ndcg[1], (nd5_s0 + nd5_s1) / 2, TOL);
	TQ_NEAR(q.recall[1], (0.5 + 1.0) / 2, TOL);
	TQ_NEAR(q.mrr, 0.5, TOL); /* MRR@1: 1 and 0 */
	/* Spearman with graded labels: labels all distinct, ranks
	 * 5 -> 7, 4 -> 5, 4.5 -> 6, 0 -> 1, 2 -> 4, 1 -> 3, 0.5 -> 2 */
	{
		const double rl[NP] = { 7, 5, 6, 1, 4, 3, 2 };
		const double rc[NP] = { 6.5, 3, 5, 1, 4, 2, 6.5 };

		TQ_NEAR(q.spearman, pearson_sums(rl, rc, NP), TOL);
	}
}

static void test_quality_edges(void)
{
	struct qe_emb e = emb(ref_v, 0);
	struct qe_pairs_params p = qe_pairs_default_params();
	struct qe_pairs_quality q;
	struct qe_err err = { 0 };
	struct qe_pair bad[2] = { { 0, 1, 1, 1 }, { 3, 7, 0, 2 } };
	struct qe_pair self[1] = { { 3, 3, 1, 1 } };

	TQ_EQ_INT(qe_pairs_quality(&e, bad, 2, &p, &q, &err), QE_EINPUT);
	TQ_CHECK(strstr(err.msg, "pair 1") != NULL);
	bad[1].s2 = 2;
	bad[1].label = NAN;
	TQ_EQ_INT(qe_pairs_quality(&e, bad, 2, &p, &q, &err), QE_EINPUT);
	/* a self pair is no query: no relevant document remains */
	TQ_EQ_INT(qe_pairs_quality(&e, self, 1, &p, &q, &err), 0);
	TQ_EQ_INT(q.n_queries, 0);
	TQ_CHECK(isnan(q.recall[0]) && isnan(q.mrr));
	TQ_CHECK(isnan(q.pearson));
	/* no pairs */
	TQ_EQ_INT(qe_pairs_quality(&e, NULL, 0, &p, &q, &err), 0);
	TQ_CHECK(isnan(q.pos_mean) && isnan(q.spearman));
	p.n_ks = 0;
	TQ_EQ_INT(qe_pairs_quality(&e, bin_pairs, NP, &p, &q, &err), QE_EINVAL);
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void test_drift(void)
{
	struct qe_emb r = emb(ref_v, 0), l = emb(lvl_v, 0);
	struct qe_pairs_params p = qe_pairs_default_params();
	struct qe_pairs_drift d;
	struct qe_err err = { 0 };
	double c1 = 1.0 / sqrt(2.0), pd[NP], h;

	p.overlap_k = 2;
	TQ_EQ_INT(qe_pairs_drift(&r, &l, bin_pairs, NP, &p, &d, &err), 0);
	/* per sentence: six 1s and 1/sqrt2 */
	TQ_EQ_INT(d.n_sent, NS);
	TQ_NEAR(d.cos_mean, (6.0 + c1) / 7.0, TOL);
	TQ_NEAR(d.dist_mean, (1.0 - c1) / 7.0, TOL);
	TQ_NEAR(d.cos_min, c1, TOL);
	/* type 7 over [c1, 1 x 6]: p5 at h = 0.3, p1 at h = 0.06 */
	TQ_NEAR(d.cos_p5, c1 + 0.3 * (1.0 - c1), TOL);
	TQ_NEAR(d.cos_p1, c1 + 0.06 * (1.0 - c1), TOL);
	/* per pair: only pairs with s1 change */
	for (int i = 0; i < NP; i++)
		pd[i] = fabs(cos2(ref_v[bin_pairs[i].s1], ref_v[bin_pairs[i].s2]) -
			     cos2(lvl_v[bin_pairs[i].s1], lvl_v[bin_pairs[i].s2]));
	TQ_NEAR(pd[0], 0.0, 0);
	TQ_NEAR(pd[2], fabs(4 / sqrt(17.0) - 3 / sqrt(34.0)), TOL);
	TQ_NEAR(d.pair_mean, (pd[2] + pd[4] + pd[5]) / 7.0, TOL);
	qsort(pd, NP, sizeof(*pd), cmp_d);
	h = 0.95 * (NP - 1); /* 5.7 */
	TQ_NEAR(d.pair_max, pd[NP - 1], TOL);
	TQ_NEAR(d.pair_p95, pd[5] + (h - 5.0) * (pd[6] - pd[5]), TOL);
	/* top-2 neighbours: s0 {s2, s3} both; s1 ref {s4, s5}, level (1,1):
	 * s3 .949, s4 .857, s2 .832, ... -> {s3, s4}: overlap 1/2. Mean 3/4 */
	TQ_EQ_INT(d.n_queries, 2);
	TQ_NEAR(d.topk_overlap, 0.75, TOL);
	/* k = 10 is beyond the eligible rows (5 and 6): whole corpus, overlap 1 */
	p.overlap_k = 10;
	TQ_EQ_INT(qe_pairs_drift(&r, &l, bin_pairs, NP, &p, &d, &err), 0);
	TQ_NEAR(d.topk_overlap, 1.0, TOL);
	/* against itself */
	p.overlap_k = 2;
	TQ_EQ_INT(qe_pairs_drift(&r, &r, bin_pairs, NP, &p, &d, &err), 0);
	TQ_NEAR(d.cos_mean, 1.0, TOL);
	TQ_NEAR(d.cos_min, 1.0, TOL);
	TQ_NEAR(d.pair_max, 0.0, TOL);
	TQ_NEAR(d.topk_overlap, 1.0, 0);
	/* no pairs: pair fields NaN, sentence fields still there */
	TQ_EQ_INT(qe_pairs_drift(&r, &l, NULL, 0, &p, &d, &err), 0);
	TQ_CHECK(isnan(d.pair_mean) && isnan(d.topk_overlap));
	TQ_NEAR(d.cos_min, c1, TOL);
	/* shape mismatch */
	l.n = NS - 1;
	TQ_EQ_INT(qe_pairs_drift(&r, &l, bin_pairs, NP, &p, &d, &err), QE_EINVAL);
}

/* overlap_at[j] (one search at the largest cut-off, prefixes) equals
 * topk_overlap computed with overlap_k = ks[j] */
static void test_drift_overlap_at_each_k(void)
{
	struct qe_emb r = emb(ref_v, 0), l = emb(lvl_v, 0);
	struct qe_pairs_params p = qe_pairs_default_params();
	struct qe_pairs_drift d, one;
	struct qe_err err = { 0 };
	static const uint32_t ks[] = { 1, 2, 3, 4, 10 };

	p.n_ks = sizeof(ks) / sizeof(ks[0]);
	memcpy(p.ks, ks, sizeof(ks));
	p.overlap_k = 2;
	TQ_EQ_INT(qe_pairs_drift(&r, &l, bin_pairs, NP, &p, &d, &err), 0);
	TQ_EQ_INT(d.n_ks, p.n_ks);
	TQ_NEAR(d.overlap_at[1], 0.75, TOL);
	for (size_t j = 0; j < p.n_ks; j++) {
		struct qe_pairs_params q = p;
		q.overlap_k = ks[j];
		TQ_EQ_INT(qe_pairs_drift(&r, &l, bin_pairs, NP, &q, &one, &err), 0);
		TQ_EQ_INT(d.ks[j], ks[j]);
		TQ_NEAR(d.overlap_at[j], one.topk_overlap, 0);
	}
	TQ_NEAR(d.overlap_at[4], 1.0, TOL);
	TQ_EQ_INT(qe_pairs_drift(&r, &l, NULL, 0, &p, &d, &err), 0);
	TQ_CHECK(isnan(d.overlap_at[0]));
}

static void test_cosine(void)
{
	const float a[3] = { 1, 2, 2 }, b[3] = { 2, 0, 0 }, z[3] = { 0, 0, 0 };

	TQ_NEAR(qe_pairs_cosine(a, b, 3), 2.0 / (3.0 * 2.0), TOL);
	TQ_NEAR(qe_pairs_cosine(a, z, 3), 0.0, 0);
	TQ_NEAR(qe_pairs_cosine(a, a, 3), 1.0, TOL);
}

int main(void)
{
	TQ_RUN(test_ir_hand);
	TQ_RUN(test_cosine);
	TQ_RUN(test_quality_binary);
	TQ_RUN(test_quality_graded);
	TQ_RUN(test_quality_edges);
	TQ_RUN(test_drift);
	TQ_RUN(test_drift_overlap_at_each_k);
	return tq_done("t_pairs_metrics");
}
