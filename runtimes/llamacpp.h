/* qeval — what the llamacpp runtime's two files share (runtimes/llamacpp.c:
 * the engine; runtimes/llamacpp_level.c: its levels). Private to them. */
#ifndef QE_LLAMACPP_H
#define QE_LLAMACPP_H

#include <stddef.h>
#include <stdint.h>

#include "runtimes/runtime_impl.h"

/* llamacpp_level.c: the level members of qe_llamacpp_ops; contracts in
 * runtimes/runtime_impl.h, the specs they take in docs/extending.md. */
int qe_llamacpp_level_name(const struct qe_level_spec *spec, char *name, size_t cap, struct qe_err *err);
int qe_llamacpp_level_prepare(const char *src, const struct qe_level_spec *spec, const char *cache_dir,
			      int n_threads, struct qe_level *out, struct qe_err *err);
int qe_llamacpp_level_identity(const char *src, const struct qe_level *lv, const char *cache_dir,
			       struct cJSON *out, struct qe_err *err);
int qe_llamacpp_source_check(const char *src, struct qe_err *err);
int qe_llamacpp_source_identity(const char *src, const char *cache_dir, struct cJSON *out, struct qe_err *err);

/* llamacpp.c: the engine's one-time set-up (log capture, backends); any
 * thread, any number of times. */
void qe_llamacpp_engine_init(void);

/* llamacpp.c: quantize src into out_path as recipe r says, with the
 * importance matrix file imatrix (GGUF or .dat; NULL or "" = none). A type
 * the engine will not make without a matrix is QE_EINVAL saying so. */
struct qe_recipe;
int qe_llamacpp_quantize_recipe(const char *src, const struct qe_recipe *r, const char *imatrix, const char *out_path,
				int n_threads, struct qe_err *err);

/* llamacpp.c: the quantization type name ("Q4_K_M", one of quant_types) of
 * a GGUF general.file_type (llama_ftype), NULL when it is none of them. */
const char *qe_llamacpp_type_name(int32_t file_type);

/* llamacpp.c: what runtimes/llamacpp_kld.c needs of an open handle, borrowed
 * while it is open; *chunks is its state, freed by ll_close through
 * qe_llamacpp_chunks_free. */
struct llama_model;
struct qe_llamacpp_chunks;
struct qe_llamacpp_handle {
	struct llama_model *model;
	const char *path;
	int n_threads, n_threads_batch;
	struct qe_llamacpp_chunks **chunks;
};
struct qe_llamacpp_handle qe_llamacpp_handle(struct qe_runtime *rt);

/* llamacpp_kld.c: the chunk_logits member (runtimes/runtime.h), and freeing
 * its state (NULL-safe). */
int qe_llamacpp_chunk_logits(struct qe_runtime *rt, const struct qe_chunk_req *req, struct qe_err *err);
void qe_llamacpp_chunks_free(struct qe_llamacpp_chunks *k);

#endif
