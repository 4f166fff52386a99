/* qeval — a level's tensor types by kind and layer, from results.json's
 * identity "tensor_types" (name -> ggml type): "attn_q" of every layer,
 * "token_embd", ... For qeval describe and the report's "Tensor types". */
#ifndef QE_REPORTS_TENSORS_H
#define QE_REPORTS_TENSORS_H

#include <stddef.h>

#include "harness/base/text.h"

struct cJSON;

#define QE_TENSOR_KIND_CAP 48

/* The kind of a tensor name: "blk.3.attn_q.weight" -> "attn_q" (*layer 3),
 * "token_embd.weight" -> "token_embd" (*layer -1), "blk.0.attn_q.bias" ->
 * "attn_q.bias". */
void qe_tensor_kind(const char *name, char kind[QE_TENSOR_KIND_CAP], int *layer);

/* The kinds types holds, in first-seen order; returns how many (at most cap). */
size_t qe_tensor_kinds(const struct cJSON *types, char (*kinds)[QE_TENSOR_KIND_CAP], size_t cap);

/* What the tensors of one kind are into out: "q6_K" when all are one type,
 * else each type with its layers, "q6_K 0-1,5 · q4_K 2-4"; nothing when types
 * has no tensor of that kind. */
void qe_tensor_kind_text(const struct cJSON *types, const char *kind, struct qe_text *out);

#endif
