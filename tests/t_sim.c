/* Tests of metrics/sim.h: the blocked top-k kernel against brute-force
 * enumeration. Small-integer vectors make every dot product exact in float,
 * so the expected lists (ties included) are known exactly. */
#include "metrics/sim.h"

#include <math.h>
#include <stdint.h>

#include "metrics/stats.h"
#include "tests/tq.h"

#define TOL_F 1e-5 /* float kernel vs double dot on unit vectors */

struct cand {
	double s;
	uint32_t j;
};

static int cmp_cand(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;

	if (x->s != y->s)
		return x->s > y->s ? -1 : 1;
	return (x->j > y->j) - (x->j < y->j);
}

/* Brute force: all scores in double, full sort, first k. */
static void brute_topk(const float *q, size_t nq, const float *c, size_t nc, size_t dim,
		       size_t k, const uint32_t *excl, uint32_t *idx, double *sc)
{
	struct cand *all = malloc(nc * sizeof(*all));

	for (size_t i = 0; i < nq; i++) {
		size_t m = 0;

		for (size_t j = 0; j < nc; j++) {
			double s = 0.0;

			if (excl && excl[i] == j)
				continue;
			for (size_t t = 0; t < dim; t++)
				s += (double)q[i * dim + t] * c[j * dim + t];
			all[m].s = s;
			all[m].j = (uint32_t)j;
			m++;
		}
		qsort(all, m, sizeof(*all), cmp_cand);
		for (size_t r = 0; r < k; r++) {
			idx[i * k + r] = r < m ? all[r].j : QE_SIM_NONE;
			sc[i * k + r] = r < m ? all[r].s : -INFINITY;
		}
	}
	free(all);
}

static float *int_vectors(size_t n, size_t dim, struct qe_rng *r)
{
	float *v = malloc(n * dim * sizeof(*v));

	for (size_t i = 0; i < n * dim; i++)
		v[i] = (float)((int)qe_rng_below(r, 5) - 2); /* -2..2: many ties */
	return v;
}

/* Shapes cover: several query blocks (128) with 1-3 leftover rows, several
 * corpus blocks (48) with leftover columns, dim with and without a tail of
 * dim % 8, dim below 8, k above the eligible count. */
static void check_shape(size_t nq, size_t nc, size_t dim, size_t k, int use_excl)
{
	struct qe_rng r;
	float *q, *c, *sc = malloc(nq * k * sizeof(float));
	uint32_t *idx = malloc(nq * k * sizeof(uint32_t)), *bidx = malloc(nq * k * sizeof(uint32_t));
	uint32_t *excl = NULL;
	double *bsc = malloc(nq * k * sizeof(double));
	struct qe_err err = { 0 };
	int kernels[2] = { QE_SIM_AUTO, QE_SIM_GENERIC }, threads[2] = { 1, 2 };

	qe_rng_seed(&r, 99, nq * 1000003 + nc * 101 + dim);
	q = int_vectors(nq, dim, &r);
	c = int_vectors(nc, dim, &r);
	if (use_excl) {
		excl = malloc(nq * sizeof(*excl));
		for (size_t i = 0; i < nq; i++)
			excl[i] = i % 3 == 0 ? QE_SIM_NONE : (uint32_t)((i * 7) % nc);
	}
	brute_topk(q, nq, c, nc, dim, k, excl, bidx, bsc);
	for (int a = 0; a < 2; a++)
		for (int b = 0; b < 2; b++) {
			struct qe_sim_params p = qe_sim_default_params();
			size_t bad = 0;

			p.kernel = kernels[a];
			p.n_threads = threads[b];
			TQ_EQ_INT(qe_sim_topk_ex(&p, q, nq, c, nc, dim, k, excl, idx, sc, &err), 0);
			for (size_t i = 0; i < nq * k; i++)
				if (idx[i] != bidx[i] || (double)sc[i] != bsc[i])
					bad++;
			if (bad)
				TQ_FAILF("shape %zu x %zu x %zu k %zu excl %d kernel %d threads %d: %zu mismatches",
					 nq, nc, dim, k, use_excl, kernels[a], threads[b], bad);
		}
	free(q); free(c); free(sc); free(idx); free(bidx); free(bsc); free(excl);
}

static void test_brute_force_exact(void)
{
	check_shape(1, 1, 1, 1, 0);
	check_shape(5, 7, 3, 4, 0);           /* dim < 8: tail only */
	check_shape(263, 151, 19, 10, 0);     /* 3 query blocks, edge rows and columns, tail 3 */
	check_shape(263, 151, 40, 10, 1);     /* no tail; exclusions */
	check_shape(130, 100, 16, 7, 1);
	check_shape(9, 4, 8, 6, 1);           /* k above the eligible rows: padding */
}

static void test_padding_and_empty(void)
{
	const float q[2] = { 1, 0 }, c[4] = { 1, 0, 0, 1 };
	const uint32_t excl[1] = { 0 };
	uint32_t idx[3];
	float sc[3];
	struct qe_err err = { 0 };

	TQ_EQ_INT(qe_sim_topk(q, 1, c, 2, 2, 3, excl, idx, sc, &err), 0);
	TQ_EQ_INT(idx[0], 1);
	TQ_NEAR(sc[0], 0.0, 0);
	TQ_CHECK(idx[1] == QE_SIM_NONE && idx[2] == QE_SIM_NONE);
	TQ_CHECK(sc[1] == -INFINITY && sc[2] == -INFINITY);
	/* empty corpus: all padding */
	TQ_EQ_INT(qe_sim_topk(q, 1, NULL, 0, 2, 2, NULL, idx, sc, &err), 0);
	TQ_CHECK(idx[0] == QE_SIM_NONE && idx[1] == QE_SIM_NONE);
	/* scores are optional */
	TQ_EQ_INT(qe_sim_topk(q, 1, c, 2, 2, 1, NULL, idx, NULL, &err), 0);
	TQ_EQ_INT(idx[0], 0);
	/* nothing to do */
	TQ_EQ_INT(qe_sim_topk(q, 0, c, 2, 2, 1, NULL, idx, sc, &err), 0);
}

static void test_errors(void)
{
	float q[2] = { 1, NAN }, c[2] = { 1, 0 };
	uint32_t idx[1];
	struct qe_err err = { 0 };

	TQ_EQ_INT(qe_sim_topk(q, 1, c, 1, 2, 1, NULL, idx, NULL, &err), QE_EINPUT);
	TQ_CHECK(strstr(err.msg, "query row 0") != NULL);
	q[1] = 0;
	c[1] = INFINITY;
	TQ_EQ_INT(qe_sim_topk(q, 1, c, 1, 2, 1, NULL, idx, NULL, &err), QE_EINPUT);
	TQ_CHECK(strstr(err.msg, "corpus row 0") != NULL);
	TQ_EQ_INT(qe_sim_topk(q, 1, c, 1, 0, 1, NULL, idx, NULL, &err), QE_EINVAL);
	TQ_EQ_INT(qe_sim_topk(q, 1, c, 1, 2, 1, NULL, NULL, NULL, &err), QE_EINVAL);
}

/* Real-valued unit vectors: scores close to double dots, the same bits for
 * any thread count. */
static void test_real_threads(void)
{
	enum { NQ = 300, NCO = 500, D = 77, K = 12 };
	float *q = malloc(NQ * D * sizeof(float)), *c = malloc(NCO * D * sizeof(float));
	float *s1 = malloc(NQ * K * sizeof(float)), *s2 = malloc(NQ * K * sizeof(float));
	uint32_t *i1 = malloc(NQ * K * sizeof(uint32_t)), *i2 = malloc(NQ * K * sizeof(uint32_t));
	struct qe_rng r;
	struct qe_sim_params p = qe_sim_default_params();
	struct qe_err err = { 0 };
	double worst = 0.0;

	qe_rng_seed(&r, 5, 0);
	for (size_t i = 0; i < NQ * D; i++)
		q[i] = (float)(qe_rng_uniform(&r) - 0.5);
	for (size_t i = 0; i < NCO * D; i++)
		c[i] = (float)(qe_rng_uniform(&r) - 0.5);
	qe_sim_normalize_rows(q, NQ, D);
	qe_sim_normalize_rows(c, NCO, D);
	p.n_threads = 1;
	TQ_EQ_INT(qe_sim_topk_ex(&p, q, NQ, c, NCO, D, K, NULL, i1, s1, &err), 0);
	p.n_threads = 2;
	TQ_EQ_INT(qe_sim_topk_ex(&p, q, NQ, c, NCO, D, K, NULL, i2, s2, &err), 0);
	TQ_CHECK(memcmp(i1, i2, NQ * K * sizeof(uint32_t)) == 0);
	TQ_CHECK(memcmp(s1, s2, NQ * K * sizeof(float)) == 0);
	for (size_t i = 0; i < NQ; i++)
		for (size_t j = 0; j < K; j++) {
			double d = 0.0;

			for (size_t t = 0; t < D; t++)
				d += (double)q[i * D + t] * c[(size_t)i1[i * K + j] * D + t];
			if (fabs(d - s1[i * K + j]) > worst)
				worst = fabs(d - s1[i * K + j]);
			if (j > 0)
				TQ_CHECK(s1[i * K + j] <= s1[i * K + j - 1]);
		}
	TQ_CHECK(worst < TOL_F);
	/* rows have unit norm after normalisation; zero rows stay zero */
	{
		float z[3] = { 0, 0, 0 }, v[3] = { 3, 0, 4 };

		qe_sim_normalize_rows(z, 1, 3);
		qe_sim_normalize_rows(v, 1, 3);
		TQ_CHECK(z[0] == 0 && z[1] == 0 && z[2] == 0);
		TQ_NEAR(v[0], 0.6, 1e-7);
		TQ_NEAR(v[2], 0.8, 1e-7);
	}
	free(q); free(c); free(s1); free(s2); free(i1); free(i2);
}

int main(void)
{
	fprintf(stderr, "kernel: %s\n", qe_sim_kernel_name());
	TQ_RUN(test_brute_force_exact);
	TQ_RUN(test_padding_and_empty);
	TQ_RUN(test_errors);
	TQ_RUN(test_real_threads);
	return tq_done("t_sim");
}
