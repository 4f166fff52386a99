/* qeval — the llamacpp runtime's full next-token logits over token chunks
 * (qe_runtime_chunk_logits, runtimes/runtime.h), for the kld task.
 *
 * The context is sized like llama-perplexity's: n_seq = n_batch / n_tok
 * chunks per decode (n_batch: the run's, else 2048 with GPU layers and
 * n_tok on the CPU), each chunk its own sequence with its own KV cells
 * (kv_unified off), the KV cache cleared before each decode, the engine's
 * default micro-batch (512) unless the run sets one. Every token of a chunk
 * is decoded and logits are asked for every position from `first` on, as
 * llama-perplexity does: the engine's kernels (and so its rounding) depend
 * on those row counts, and the figures are to compare with its own. Made at the first call
 * and again when n_tok changes; freed with the handle.
 */
#include "runtimes/llamacpp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <llama.h>

#define CHUNKS_GPU_BATCH 2048u /* tokens per decode with GPU layers, as llama-perplexity's default */

struct qe_llamacpp_chunks {
	struct llama_context *ctx;
	uint32_t n_tok;            /* tokens per chunk the context was made for */
	uint32_t n_seq;            /* chunks per decode */
	struct llama_batch batch;  /* [n_seq * n_tok] */
};

void qe_llamacpp_chunks_free(struct qe_llamacpp_chunks *k)
{
	if (!k)
		return;
	if (k->ctx) {
		llama_batch_free(k->batch);
		llama_free(k->ctx);
	}
	free(k);
}

/* chunks per decode for chunks of n_tok tokens */
static uint32_t chunks_per_decode(const struct qe_runtime *rt, uint32_t n_tok)
{
	uint32_t nb = rt->params.n_batch;
	uint32_t n;

	if (!nb)
		nb = rt->params.n_gpu_layers != 0 ? CHUNKS_GPU_BATCH : n_tok;
	n = nb / n_tok;
	return n ? n : 1;
}

static int chunks_ensure(struct qe_runtime *rt, uint32_t n_tok, struct qe_llamacpp_chunks **out, struct qe_err *err)
{
	struct qe_llamacpp_handle h = qe_llamacpp_handle(rt);
	struct qe_llamacpp_chunks *k = *h.chunks;
	struct llama_context_params cp;

	if (k && k->ctx && k->n_tok == n_tok) {
		*out = k;
		return 0;
	}
	qe_llamacpp_chunks_free(k);
	*h.chunks = k = calloc(1, sizeof(*k));
	if (!k)
		return qe_fail(err, QE_ENOMEM, "out of memory");
	k->n_tok = n_tok;
	k->n_seq = chunks_per_decode(rt, n_tok);
	cp = llama_context_default_params();
	cp.n_threads = h.n_threads;
	cp.n_threads_batch = h.n_threads_batch;
	cp.no_perf = true;
	cp.n_seq_max = k->n_seq;
	cp.n_ctx = k->n_seq * n_tok;
	cp.n_batch = cp.n_ctx;
	if (rt->params.n_ubatch)
		cp.n_ubatch = rt->params.n_ubatch;
	if (cp.n_ubatch > cp.n_batch)
		cp.n_ubatch = cp.n_batch;
	cp.kv_unified = false;
	cp.embeddings = false;
	k->ctx = llama_init_from_model(h.model, cp);
	if (!k->ctx)
		return qe_fail(err, QE_ERUNTIME, "cannot create a context of %u x %u tokens for '%s' (level %s)", k->n_seq,
			       n_tok, h.path, rt->params.level ? rt->params.level : "?");
	if (llama_n_seq_max(k->ctx) < k->n_seq)
		k->n_seq = llama_n_seq_max(k->ctx);
	k->batch = llama_batch_init((int32_t)(k->n_seq * n_tok), 0, 1);
	*out = k;
	return 0;
}

/* chunks [c0, c0 + m) of req in one decode, then their rows */
static int decode_group(struct qe_runtime *rt, struct qe_llamacpp_chunks *k, const struct qe_chunk_req *req, size_t c0,
			size_t m, struct qe_err *err)
{
	const struct llama_model *model = llama_get_model(k->ctx);
	size_t n_vocab = (size_t)llama_vocab_n_tokens(llama_model_get_vocab(model));
	struct llama_batch *b = &k->batch;
	int rc;

	b->n_tokens = 0;
	for (size_t s = 0; s < m; s++)
		for (size_t p = 0; p < req->n_tok; p++) {
			int32_t i = b->n_tokens++;
			b->token[i] = req->tokens[(c0 + s) * req->n_tok + p];
			b->pos[i] = (llama_pos)p;
			b->n_seq_id[i] = 1;
			b->seq_id[i][0] = (llama_seq_id)s;
			b->logits[i] = p >= req->first; /* the last one too, unused: the same output
							  * rows as llama-perplexity, so the same kernels */
		}
	llama_memory_clear(llama_get_memory(k->ctx), true);
	if ((rc = llama_decode(k->ctx, *b)) != 0)
		return qe_fail(err, QE_ERUNTIME, "llama_decode failed (%d) on chunks %zu..%zu (level %s)", rc, c0, c0 + m - 1,
			       rt->params.level ? rt->params.level : "?");
	for (size_t s = 0; s < m; s++)
		for (size_t p = req->first; p + 1 < req->n_tok; p++) {
			const float *lg = llama_get_logits_ith(k->ctx, (int32_t)(s * req->n_tok + p));
			if (!lg)
				return qe_fail(err, QE_ERUNTIME, "no logits for chunk %zu position %zu (level %s)", c0 + s, p,
					       rt->params.level ? rt->params.level : "?");
			if ((rc = req->row(req->arg, c0 + s, p, lg, n_vocab)) != 0)
				return rc;
		}
	return 0;
}

int qe_llamacpp_chunk_logits(struct qe_runtime *rt, const struct qe_chunk_req *req, struct qe_err *err)
{
	struct qe_llamacpp_chunks *k = NULL;
	int rc;

	if (req->n_tok > UINT32_MAX / 64)
		return qe_fail(err, QE_EINVAL, "chunks of %zu tokens are too long", req->n_tok);
	if ((rc = chunks_ensure(rt, (uint32_t)req->n_tok, &k, err)) != 0)
		return rc;
	for (size_t c = 0; c < req->n_chunks; c += k->n_seq) {
		size_t m = req->n_chunks - c < k->n_seq ? req->n_chunks - c : k->n_seq;
		if ((rc = decode_group(rt, k, req, c, m, err)) != 0)
			return rc;
	}
	return 0;
}
