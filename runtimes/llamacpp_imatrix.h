/* qeval — importance matrices for the llamacpp runtime: reading the files
 * llama-imatrix writes (GGUF, legacy .dat), computing one through the engine
 * from a calibration text as llama-imatrix does, writing it as llama-imatrix's
 * GGUF, and the per-column values llama-quantize hands to the quantizer
 * (docs/recipes.md, docs/metrics.md "Importance matrix").
 *
 * Private to the llamacpp runtime's files, the tests and benchmarks.
 */
#ifndef QE_LLAMACPP_IMATRIX_H
#define QE_LLAMACPP_IMATRIX_H

#include <stddef.h>
#include <stdint.h>

#include "harness/base/err.h"

/* One weight matrix's statistics (llama-imatrix's "in_sum2" and "counts").
 * GGUF: sums[n_mat][n_col] are sums of squared inputs, counts[n_mat] the
 * input rows each matrix saw. Legacy .dat: sums are (sum / rows) x ncall
 * and counts[0] is ncall. */
struct qe_imatrix_entry {
	char *name;       /* "blk.0.attn_q.weight" */
	float *sums;      /* [n_sums] */
	int64_t n_sums;   /* n_mat * n_col */
	int64_t *counts;  /* [n_counts] */
	int64_t n_counts; /* n_mat */
};

struct qe_imatrix {
	struct qe_imatrix_entry *e;  /* sorted by name (strcmp) */
	size_t n;
	char **datasets;             /* the texts it was computed from */
	size_t n_datasets;
	int32_t chunk_count, chunk_size;
	int legacy;                  /* 1 = read from a .dat file */
	int has_metadata;            /* GGUF: datasets, chunk_count and chunk_size present */
};

void qe_imatrix_release(struct qe_imatrix *m);

/* Read a llama-imatrix file: GGUF when it is one, else the legacy format.
 * QE_ENOENT / QE_EINPUT naming the file. */
int qe_imatrix_load(const char *path, struct qe_imatrix *m, struct qe_err *err);

/* Write m as llama-imatrix writes GGUF: general.type "imatrix",
 * imatrix.datasets, imatrix.chunk_count, imatrix.chunk_size, then per entry
 * (in name order) NAME.in_sum2 [n_col, n_mat] and NAME.counts [1, n_mat]. */
int qe_imatrix_save(const struct qe_imatrix *m, const char *path, struct qe_err *err);

/* The values the quantizer gets for entry e (llama-quantize's reading):
 * GGUF sums[j][i] / counts[j] (1 where a matrix saw no rows), legacy
 * sums[i] / ncall. out has e->n_sums floats. */
void qe_imatrix_values(const struct qe_imatrix *m, const struct qe_imatrix_entry *e, float *out);

/* How the matrix is computed (llama-imatrix's -c, -b, --chunks, --ubatch). */
struct qe_imatrix_params {
	int32_t n_ctx;     /* tokens per chunk, 0 = 512 */
	int32_t n_batch;   /* tokens per decode, 0 = 2048: n_batch / n_ctx chunks per decode */
	int32_t n_ubatch;  /* tokens per compute graph, 0 = 512 */
	int32_t n_chunks;  /* chunks to use, 0 = all the text has */
	int n_threads;     /* 0 = the CPUs this process may use */
	const char *dataset; /* the name written into imatrix.datasets, NULL = the text's path */
};

struct qe_imatrix_params qe_imatrix_default_params(void);

/* Compute the importance matrix of the model at model_path over the text in
 * text_path (read whole, one trailing newline dropped; tokenized with the
 * model's special tokens added, not parsed), into m (released by the caller).
 * Each chunk is decoded from an empty cache with its first token replaced by
 * BOS when the model adds one, logits for every position; the sums of squared
 * inputs of every matrix multiplication by a "blk.*" weight with at least 16
 * input rows (all of a mixture-of-experts' expert multiplications, per
 * expert). QE_EINPUT when the text has fewer than 2 chunks of tokens. */
int qe_llamacpp_imatrix_compute(const char *model_path, const char *text_path, const struct qe_imatrix_params *p,
				struct qe_imatrix *m, struct qe_err *err);

#endif
