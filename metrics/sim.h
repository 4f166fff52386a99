/* qeval — blocked similarity search: for every query row, the k corpus rows
 * with the largest dot product, without materialising the nq x nc matrix.
 *
 * Rows are float [n][dim], row-major; pass L2-normalised rows to rank by
 * cosine. Dot products are accumulated in float, 8 interleaved partial sums
 * per product (AVX2/FMA where the CPU has it, else portable C), then summed
 * in a fixed order, so a given (query, corpus row) product has the same
 * bits whatever the thread count or block it falls in. Results are therefore
 * identical for any OpenMP thread count on one machine; another machine
 * (another kernel) may differ in the last bits. Query blocks run in
 * parallel under OpenMP. Pure: touches only the caller's arrays.
 */
#ifndef QE_METRICS_SIM_H
#define QE_METRICS_SIM_H

#include <stddef.h>
#include <stdint.h>

#include "harness/base/err.h"

/* "No corpus row": an empty result slot, or no exclusion for a query. */
#define QE_SIM_NONE UINT32_MAX

enum qe_sim_kernel {
	QE_SIM_AUTO = 0,    /* the fastest the CPU supports */
	QE_SIM_GENERIC = 1, /* portable C (for tests and comparisons) */
};

struct qe_sim_params {
	int n_threads;                /* OpenMP threads; 0 = OpenMP's default */
	enum qe_sim_kernel kernel;    /* QE_SIM_AUTO by default */
};

struct qe_sim_params qe_sim_default_params(void);

/* Top-k corpus rows for each query.
 *   q     [nq][dim] queries;  c [nc][dim] corpus (nc < QE_SIM_NONE)
 *   excl  [nq] corpus row query i must not return (QE_SIM_NONE = none), or NULL
 *   idx   [nq][k] out: corpus row indices, best first
 *   score [nq][k] out: their dot products (may be NULL if not wanted)
 * Order: larger score first; equal scores by lower corpus index. When fewer
 * than k rows are eligible the remaining slots hold QE_SIM_NONE and
 * -INFINITY. Inputs must be finite (else QE_EINPUT naming the row).
 * Returns 0, QE_EINVAL (NULL arrays, dim == 0, nc too large) or QE_EINPUT. */
int qe_sim_topk(const float *q, size_t nq, const float *c, size_t nc, size_t dim, size_t k,
		const uint32_t *excl, uint32_t *idx, float *score, struct qe_err *err);

/* The same with explicit parameters (params NULL = defaults). */
int qe_sim_topk_ex(const struct qe_sim_params *params, const float *q, size_t nq,
		   const float *c, size_t nc, size_t dim, size_t k, const uint32_t *excl,
		   uint32_t *idx, float *score, struct qe_err *err);

/* Name of the kernel QE_SIM_AUTO picks on this CPU ("avx2-fma", "generic"). */
const char *qe_sim_kernel_name(void);

/* Scale each of the n rows of v [n][dim] to unit L2 norm in place (norm
 * accumulated in double). All-zero rows stay zero. */
void qe_sim_normalize_rows(float *v, size_t n, size_t dim);

#endif
