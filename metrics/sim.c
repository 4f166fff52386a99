/* qeval — blocked top-k similarity search (see metrics/sim.h).
 *
 * Loop nest, per parallel task of QB queries:
 *   for each corpus block of CB rows        (block in L2, reused by QB queries)
 *     for each tile of TR queries            (tile rows in L1)
 *       for each tile of TC corpus rows      (TR x TC products in registers)
 *         offer the TR x TC scores to the queries' top-k heaps
 * Every product uses 8 lane accumulators over dim (in order), one fixed
 * horizontal sum, then the dim % 8 tail in order; edge tiles use the same
 * scheme one product at a time, so no product depends on its tile.
 */
#include "metrics/sim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define QE_SIM_X86 1
#include <immintrin.h>
#else
#define QE_SIM_X86 0
#endif

enum { QB = 128, CB = 48, TR = 4, TC = 3, LANES = 8 };

/* out[r][j] = dot(q + r*dim, c + j*dim) for r < TR, j < TC */
typedef void (*tile_fn)(const float *q, const float *c, size_t dim, float out[TR][TC]);
typedef float (*dot_fn)(const float *a, const float *b, size_t dim);

/* ======================================================================
 * Portable kernel
 * ====================================================================== */

static float hsum8_gen(const float *l)
{
	float s0 = l[0] + l[4], s1 = l[1] + l[5], s2 = l[2] + l[6], s3 = l[3] + l[7];

	return (s0 + s2) + (s1 + s3);
}

static float dot_gen(const float *a, const float *b, size_t dim)
{
	float acc[LANES] = { 0 }, s;
	size_t d8 = dim & ~(size_t)(LANES - 1), t;

	for (t = 0; t < d8; t += LANES)
		for (int l = 0; l < LANES; l++)
			acc[l] += a[t + l] * b[t + l];
	s = hsum8_gen(acc);
	for (; t < dim; t++)
		s += a[t] * b[t];
	return s;
}

static void tile_gen(const float *q, const float *c, size_t dim, float out[TR][TC])
{
	float acc[TR][TC][LANES];
	size_t d8 = dim & ~(size_t)(LANES - 1);

	memset(acc, 0, sizeof(acc));
	for (size_t t = 0; t < d8; t += LANES)
		for (int r = 0; r < TR; r++)
			for (int j = 0; j < TC; j++) {
				const float *x = q + r * dim + t, *y = c + j * dim + t;

#pragma omp simd
				for (int l = 0; l < LANES; l++)
					acc[r][j][l] += x[l] * y[l];
			}
	for (int r = 0; r < TR; r++)
		for (int j = 0; j < TC; j++) {
			float s = hsum8_gen(acc[r][j]);

			for (size_t t = d8; t < dim; t++)
				s += q[r * dim + t] * c[j * dim + t];
			out[r][j] = s;
		}
}

/* ======================================================================
 * AVX2 + FMA kernel (x86, chosen at run time)
 * ====================================================================== */

#if QE_SIM_X86
#define QE_AVX __attribute__((target("avx2,fma")))

QE_AVX static inline float hsum8_avx(__m256 v)
{
	__m128 lo = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));

	lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));             /* (0+2), (1+3) */
	lo = _mm_add_ss(lo, _mm_shuffle_ps(lo, lo, 1));
	return _mm_cvtss_f32(lo);
}

QE_AVX static inline float tail_avx(float s, const float *a, const float *b, size_t from,
				    size_t dim)
{
	for (size_t t = from; t < dim; t++)
		s = fmaf(a[t], b[t], s);
	return s;
}

QE_AVX static float dot_avx(const float *a, const float *b, size_t dim)
{
	__m256 acc = _mm256_setzero_ps();
	size_t d8 = dim & ~(size_t)(LANES - 1);

	for (size_t t = 0; t < d8; t += LANES)
		acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + t), _mm256_loadu_ps(b + t), acc);
	return tail_avx(hsum8_avx(acc), a, b, d8, dim);
}

QE_AVX static void tile_avx(const float *q, const float *c, size_t dim, float out[TR][TC])
{
	const float *q0 = q, *q1 = q + dim, *q2 = q + 2 * dim, *q3 = q + 3 * dim;
	const float *c0 = c, *c1 = c + dim, *c2 = c + 2 * dim;
	__m256 a00 = _mm256_setzero_ps(), a01 = a00, a02 = a00, a10 = a00, a11 = a00, a12 = a00,
	       a20 = a00, a21 = a00, a22 = a00, a30 = a00, a31 = a00, a32 = a00;
	size_t d8 = dim & ~(size_t)(LANES - 1);

	for (size_t t = 0; t < d8; t += LANES) {
		__m256 y0 = _mm256_loadu_ps(c0 + t), y1 = _mm256_loadu_ps(c1 + t),
		       y2 = _mm256_loadu_ps(c2 + t), x;

		x = _mm256_loadu_ps(q0 + t);
		a00 = _mm256_fmadd_ps(x, y0, a00);
		a01 = _mm256_fmadd_ps(x, y1, a01);
		a02 = _mm256_fmadd_ps(x, y2, a02);
		x = _mm256_loadu_ps(q1 + t);
		a10 = _mm256_fmadd_ps(x, y0, a10);
		a11 = _mm256_fmadd_ps(x, y1, a11);
		a12 = _mm256_fmadd_ps(x, y2, a12);
		x = _mm256_loadu_ps(q2 + t);
		a20 = _mm256_fmadd_ps(x, y0, a20);
		a21 = _mm256_fmadd_ps(x, y1, a21);
		a22 = _mm256_fmadd_ps(x, y2, a22);
		x = _mm256_loadu_ps(q3 + t);
		a30 = _mm256_fmadd_ps(x, y0, a30);
		a31 = _mm256_fmadd_ps(x, y1, a31);
		a32 = _mm256_fmadd_ps(x, y2, a32);
	}
	out[0][0] = tail_avx(hsum8_avx(a00), q0, c0, d8, dim);
	out[0][1] = tail_avx(hsum8_avx(a01), q0, c1, d8, dim);
	out[0][2] = tail_avx(hsum8_avx(a02), q0, c2, d8, dim);
	out[1][0] = tail_avx(hsum8_avx(a10), q1, c0, d8, dim);
	out[1][1] = tail_avx(hsum8_avx(a11), q1, c1, d8, dim);
	out[1][2] = tail_avx(hsum8_avx(a12), q1, c2, d8, dim);
	out[2][0] = tail_avx(hsum8_avx(a20), q2, c0, d8, dim);
	out[2][1] = tail_avx(hsum8_avx(a21), q2, c1, d8, dim);
	out[2][2] = tail_avx(hsum8_avx(a22), q2, c2, d8, dim);
	out[3][0] = tail_avx(hsum8_avx(a30), q3, c0, d8, dim);
	out[3][1] = tail_avx(hsum8_avx(a31), q3, c1, d8, dim);
	out[3][2] = tail_avx(hsum8_avx(a32), q3, c2, d8, dim);
}

static int cpu_has_avx2(void)
{
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
#endif

struct kernel {
	const char *name;
	tile_fn tile;
	dot_fn dot;
};

static struct kernel pick_kernel(enum qe_sim_kernel want)
{
	struct kernel k = { "generic", tile_gen, dot_gen };

#if QE_SIM_X86
	if (want == QE_SIM_AUTO && cpu_has_avx2()) {
		k.name = "avx2-fma";
		k.tile = tile_avx;
		k.dot = dot_avx;
	}
#else
	(void)want;
#endif
	return k;
}

const char *qe_sim_kernel_name(void)
{
	return pick_kernel(QE_SIM_AUTO).name;
}

/* ======================================================================
 * Per-query top-k: a heap whose root is the worst kept entry
 * ====================================================================== */

/* (sa, ia) ranks below (sb, ib): lower score, or equal score and higher index */
static inline int worse(float sa, uint32_t ia, float sb, uint32_t ib)
{
	return sa < sb || (sa == sb && ia > ib);
}

struct heap {
	float *sc;       /* [k] */
	uint32_t *ix;    /* [k] */
	size_t n;        /* entries kept */
};

static void sift_down(struct heap *h, size_t n, size_t i, float s, uint32_t id)
{
	for (;;) {
		size_t l = 2 * i + 1, w;

		if (l >= n)
			break;
		w = l;
		if (l + 1 < n && worse(h->sc[l + 1], h->ix[l + 1], h->sc[l], h->ix[l]))
			w = l + 1;
		if (!worse(h->sc[w], h->ix[w], s, id))
			break;
		h->sc[i] = h->sc[w];
		h->ix[i] = h->ix[w];
		i = w;
	}
	h->sc[i] = s;
	h->ix[i] = id;
}

static inline void heap_offer(struct heap *h, size_t k, float s, uint32_t id)
{
	if (h->n < k) {
		size_t i = h->n++;

		while (i > 0) {
			size_t p = (i - 1) / 2;

			if (!worse(s, id, h->sc[p], h->ix[p]))
				break;
			h->sc[i] = h->sc[p];
			h->ix[i] = h->ix[p];
			i = p;
		}
		h->sc[i] = s;
		h->ix[i] = id;
		return;
	}
	if (s < h->sc[0] || !worse(h->sc[0], h->ix[0], s, id))
		return;
	sift_down(h, k, 0, s, id);
}

/* Turn the heap into a best-first list and pad to k. */
static void heap_finish(struct heap *h, size_t k)
{
	for (size_t m = h->n; m > 1; m--) {
		float s = h->sc[m - 1];
		uint32_t id = h->ix[m - 1];

		h->sc[m - 1] = h->sc[0];
		h->ix[m - 1] = h->ix[0];
		sift_down(h, m - 1, 0, s, id);
	}
	for (size_t i = h->n; i < k; i++) {
		h->sc[i] = -INFINITY;
		h->ix[i] = QE_SIM_NONE;
	}
}

/* ======================================================================
 * Driver
 * ====================================================================== */

static void offer(struct heap *hs, size_t qi, const uint32_t *excl, size_t k, float s, size_t j)
{
	if (excl && excl[qi] == (uint32_t)j)
		return;
	heap_offer(&hs[qi], k, s, (uint32_t)j);
}

/* Queries [qa, qb), the whole corpus. hs indexed by absolute query. */
static void run_block(const struct kernel *kn, const float *q, size_t qa, size_t qb,
		      const float *c, size_t nc, size_t dim, size_t k, const uint32_t *excl,
		      struct heap *hs)
{
	float out[TR][TC];

	for (size_t c0 = 0; c0 < nc; c0 += CB) {
		size_t c1 = c0 + CB < nc ? c0 + CB : nc;

		for (size_t r0 = qa; r0 < qb; r0 += TR) {
			if (r0 + TR > qb) {
				for (size_t r = r0; r < qb; r++)
					for (size_t j = c0; j < c1; j++)
						offer(hs, r, excl, k, kn->dot(q + r * dim, c + j * dim, dim), j);
				continue;
			}
			for (size_t j0 = c0; j0 < c1; j0 += TC) {
				if (j0 + TC > c1) {
					for (size_t r = r0; r < r0 + TR; r++)
						for (size_t j = j0; j < c1; j++)
							offer(hs, r, excl, k,
							      kn->dot(q + r * dim, c + j * dim, dim), j);
					continue;
				}
				kn->tile(q + r0 * dim, c + j0 * dim, dim, out);
				for (int r = 0; r < TR; r++)
					for (int j = 0; j < TC; j++)
						offer(hs, r0 + r, excl, k, out[r][j], j0 + j);
			}
		}
	}
}

struct qe_sim_params qe_sim_default_params(void)
{
	struct qe_sim_params p = { .n_threads = 0, .kernel = QE_SIM_AUTO };
	return p;
}

static int check_finite(const float *v, size_t n, size_t dim, const char *what,
			struct qe_err *err)
{
	for (size_t i = 0; i < n; i++)
		for (size_t t = 0; t < dim; t++)
			if (!isfinite(v[i * dim + t]))
				return qe_fail(err, QE_EINPUT, "similarity: %s row %zu column %zu is not finite",
					       what, i, t);
	return 0;
}

int qe_sim_topk_ex(const struct qe_sim_params *params, const float *q, size_t nq,
		   const float *c, size_t nc, size_t dim, size_t k, const uint32_t *excl,
		   uint32_t *idx, float *score, struct qe_err *err)
{
	struct qe_sim_params p = params ? *params : qe_sim_default_params();
	struct kernel kn = pick_kernel(p.kernel);
	struct heap *hs;
	float *sc = score;
	size_t nblk;
	int rc, nt;

	if (nq == 0 || k == 0)
		return 0;
	if (!q || !idx || (nc > 0 && !c))
		return qe_fail(err, QE_EINVAL, "similarity: NULL argument");
	if (dim == 0)
		return qe_fail(err, QE_EINVAL, "similarity: dim is 0");
	if (nc >= QE_SIM_NONE)
		return qe_fail(err, QE_EINVAL, "similarity: corpus of %zu rows is too large", nc);
	if (k > SIZE_MAX / nq / sizeof(float))
		return qe_fail(err, QE_EINVAL, "similarity: %zu x %zu results overflow", nq, k);
	if ((rc = check_finite(q, nq, dim, "query", err)) != 0 ||
	    (rc = check_finite(c, nc, dim, "corpus", err)) != 0)
		return rc;

	hs = malloc(nq * sizeof(*hs));
	if (!score)
		sc = malloc(nq * k * sizeof(*sc));
	if (!hs || !sc) {
		free(hs);
		if (!score)
			free(sc);
		return qe_fail(err, QE_ENOMEM, "similarity: cannot allocate top-%zu for %zu queries",
			       k, nq);
	}
	for (size_t i = 0; i < nq; i++) {
		hs[i].sc = sc + i * k;
		hs[i].ix = idx + i * k;
		hs[i].n = 0;
	}

	nblk = (nq + QB - 1) / QB;
#ifdef _OPENMP
	nt = p.n_threads > 0 ? p.n_threads : omp_get_max_threads();
#else
	nt = 1;
#endif
	(void)nt;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
	for (long b = 0; b < (long)nblk; b++) {
		size_t qa = (size_t)b * QB, qb = qa + QB < nq ? qa + QB : nq;

		run_block(&kn, q, qa, qb, c, nc, dim, k, excl, hs);
		for (size_t i = qa; i < qb; i++)
			heap_finish(&hs[i], k);
	}

	free(hs);
	if (!score)
		free(sc);
	return 0;
}

int qe_sim_topk(const float *q, size_t nq, const float *c, size_t nc, size_t dim, size_t k,
		const uint32_t *excl, uint32_t *idx, float *score, struct qe_err *err)
{
	return qe_sim_topk_ex(NULL, q, nq, c, nc, dim, k, excl, idx, score, err);
}

void qe_sim_normalize_rows(float *v, size_t n, size_t dim)
{
	for (size_t i = 0; i < n; i++) {
		float *row = v + i * dim;
		double ss = 0.0, inv;

		for (size_t t = 0; t < dim; t++)
			ss += (double)row[t] * row[t];
		if (ss == 0.0)
			continue;
		inv = 1.0 / sqrt(ss);
		for (size_t t = 0; t < dim; t++)
			row[t] = (float)(row[t] * inv);
	}
}
