/* qeval — what a GGUF file holds, read without the engine (gguf API of
 * libggml-base). Used to refuse bad files with a clear message before
 * llama.cpp sees them, and for the tensor-type histogram of a level. */
#ifndef QE_GGUF_INFO_H
#define QE_GGUF_INFO_H

#include <stdint.h>

#include "harness/base/err.h"
#include "runtimes/runtime.h"

struct qe_gguf_info {
	char arch[48];          /* general.architecture, "" when absent */
	int32_t file_type;      /* general.file_type (llama_ftype), -1 when absent */
	uint64_t file_bytes;
	uint64_t n_elements;    /* all tensors */
	uint64_t tensor_bytes;  /* all tensors */
	int64_t n_tensors;
	struct qe_type_count types[QE_MAX_TYPES];
	int n_types;
};

/* Read path's header and tensor table. A missing file is QE_ENOENT; a file
 * that is not GGUF, or whose tensor data runs past its end (truncated), is
 * QE_EINPUT; the message names the file. */
int qe_gguf_read_info(const char *path, struct qe_gguf_info *info, struct qe_err *err);

/* Every tensor's type, name -> ggml type name ("blk.0.attn_q.weight":
 * "q6_K"), added to out (an object) in the file's order. Errors as above. */
struct cJSON;
int qe_gguf_tensor_types(const char *path, struct cJSON *out, struct qe_err *err);

#endif
