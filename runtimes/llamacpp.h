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

/* llamacpp.c: the quantization type name ("Q4_K_M", one of quant_types) of
 * a GGUF general.file_type (llama_ftype), NULL when it is none of them. */
const char *qe_llamacpp_type_name(int32_t file_type);

#endif
