/* qeval — runtime wrappers: argument and capability checks, defaults. */
#include "runtimes/runtime_impl.h"

#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

struct qe_rt_params qe_rt_default_params(void)
{
	struct qe_rt_params p;

	memset(&p, 0, sizeof(p));
	p.runtime = "llamacpp";
	p.pooling = QE_POOL_MODEL;
	p.engine_graphs = 1;
	return p;
}

const struct qe_runtime_ops *qe_runtime_find(const char *name)
{
	if (!name || !*name)
		name = "llamacpp";
	for (const struct qe_runtime_ops *const *o = qe_runtime_registry; *o; o++)
		if (!strcmp((*o)->name, name))
			return *o;
	return NULL;
}

int qe_runtime_lookup(const char *name, const struct qe_runtime_ops **ops, struct qe_err *err)
{
	*ops = qe_runtime_find(name);
	if (!*ops)
		return qe_fail(err, QE_EINVAL, "unknown runtime '%s' (see 'qeval list')", name);
	if ((*ops)->api_version < 1) {
		name = (*ops)->name;
		*ops = NULL;
		return qe_fail(err, QE_ERUNTIME, "runtime '%s' says no api_version (set it to QE_RUNTIME_API)", name);
	}
	return 0;
}

size_t qe_runtime_ops_end(int api_version)
{
	static const size_t end[] = { 0, QE_RUNTIME_OPS_END_1, QE_RUNTIME_OPS_END_2, QE_RUNTIME_OPS_END_3,
				      QE_RUNTIME_OPS_END_4, QE_RUNTIME_OPS_END_5 };
	_Static_assert(sizeof(end) / sizeof(end[0]) == QE_RUNTIME_API + 1, "one QE_RUNTIME_OPS_END_N per version");

	if (api_version < 0)
		return 0;
	return api_version < QE_RUNTIME_API ? end[api_version] : end[QE_RUNTIME_API];
}

const char *const *qe_runtime_names(void)
{
	static const char *names[16];

	if (!names[0]) {
		size_t i = 0;
		for (const struct qe_runtime_ops *const *o = qe_runtime_registry; *o && i < 15; o++)
			names[i++] = (*o)->name;
	}
	return names;
}

const char *const *qe_runtime_quant_types(const char *runtime)
{
	static const char *const none[] = { NULL };
	const struct qe_runtime_ops *ops = qe_runtime_find(runtime);

	return ops && ops->quant_types ? ops->quant_types : none;
}

const char *qe_runtime_version(const char *runtime)
{
	const struct qe_runtime_ops *ops = qe_runtime_find(runtime);

	return ops && ops->version ? ops->version() : "";
}

int qe_runtime_open(const struct qe_rt_params *p, struct qe_runtime **out, struct qe_err *err)
{
	const struct qe_runtime_ops *ops;
	struct qe_runtime *rt;
	int rc;

	*out = NULL;
	rc = qe_runtime_lookup(p->runtime, &ops, err);
	if (rc)
		return rc;
	rt = calloc(1, sizeof(*rt));
	if (!rt)
		return qe_fail(err, QE_ENOMEM, "out of memory opening '%s'", p->model ? p->model : "?");
	rt->ops = ops;
	rt->params = *p;
	rc = ops->open(rt, &rt->params, err);
	if (rc != 0) {
		free(rt);
		return rc;
	}
	*out = rt;
	return 0;
}

void qe_runtime_close(struct qe_runtime *rt)
{
	if (!rt)
		return;
	rt->ops->close(rt);
	free(rt);
}

unsigned qe_runtime_caps(const struct qe_runtime *rt)
{
	return rt->ops->caps;
}

const char *qe_runtime_name(const struct qe_runtime *rt)
{
	return rt->ops->name;
}

static int notsup(const struct qe_runtime *rt, const char *what, struct qe_err *err)
{
	return qe_fail(err, QE_ENOTSUP, "runtime '%s' has no %s", rt->ops->name, what);
}

int qe_runtime_tokenize(struct qe_runtime *rt, const char *text, int add_special,
			int32_t *tokens, size_t cap, struct qe_err *err)
{
	if (!rt->ops->tokenize)
		return notsup(rt, "tokenizer", err);
	return rt->ops->tokenize(rt, text, add_special, tokens, cap, err);
}

int qe_runtime_score(struct qe_runtime *rt, const struct qe_score_req *reqs, size_t n,
		     struct qe_score_res *res, int *status, struct qe_err *err)
{
	int rc = 0;

	if (!rt->ops->score || !(rt->ops->caps & QE_RT_SCORE))
		rc = notsup(rt, "log-likelihood scoring", err);
	for (size_t i = 0; i < n && rc == 0; i++)
		if (reqs[i].n_conts == 0 || reqs[i].n_conts > QE_MAX_CONTS)
			rc = qe_fail(err, QE_EINVAL, "request %zu has %zu continuations (1..%d allowed)",
				     i, reqs[i].n_conts, QE_MAX_CONTS);
	if (rc == 0)
		return rt->ops->score(rt, reqs, n, res, status, err);
	/* nothing was scored: every request carries the reason */
	for (size_t i = 0; i < n; i++) {
		status[i] = rc;
		snprintf(res[i].error, sizeof(res[i].error), "%s", err->msg);
	}
	return rc;
}

void qe_runtime_reset(struct qe_runtime *rt)
{
	if (rt->ops->reset)
		rt->ops->reset(rt);
}

size_t qe_runtime_embed_dim(struct qe_runtime *rt)
{
	if (!rt->ops->embed_dim || !(rt->ops->caps & QE_RT_EMBED))
		return 0;
	return rt->ops->embed_dim(rt);
}

int qe_runtime_set_pooling(struct qe_runtime *rt, int pooling, struct qe_err *err)
{
	if (pooling != QE_POOL_MODEL && pooling != QE_POOL_MEAN && pooling != QE_POOL_CLS && pooling != QE_POOL_LAST)
		return qe_fail(err, QE_EINVAL, "unknown pooling %d", pooling);
	if (!rt->ops->embed || !(rt->ops->caps & QE_RT_EMBED))
		return notsup(rt, "embeddings", err);
	rt->params.embeddings = 1;
	rt->params.pooling = pooling;
	return 0;
}

int qe_runtime_embed(struct qe_runtime *rt, const char *const *texts, size_t n, int normalize,
		     float *out, size_t *n_truncated, struct qe_err *err)
{
	if (n_truncated)
		*n_truncated = 0;
	if (!rt->ops->embed || !(rt->ops->caps & QE_RT_EMBED))
		return notsup(rt, "embeddings", err);
	if (n == 0)
		return 0;
	return rt->ops->embed(rt, texts, n, normalize, out, n_truncated, err);
}

int qe_runtime_speed(struct qe_runtime *rt, const struct qe_speed_req *req,
		     struct qe_speed_res *res, struct qe_err *err)
{
	memset(res, 0, sizeof(*res));
	if (!rt->ops->speed || !(rt->ops->caps & QE_RT_SPEED))
		return notsup(rt, "speed measurement", err);
	if (req->n_prompt < 0 || req->n_gen < 0 || req->n_depth < 0 || req->n_prompt + req->n_gen == 0)
		return qe_fail(err, QE_EINVAL, "a speed test needs a prompt or generation size > 0");
	return rt->ops->speed(rt, req, res, err);
}

int qe_runtime_serve(struct qe_runtime *rt, const struct qe_serve_req *req, struct qe_serve_one *out,
		     struct qe_err *err)
{
	int (*fn)(struct qe_runtime *, const struct qe_serve_req *, struct qe_serve_one *, struct qe_err *) =
		QE_OPS_MEMBER(rt->ops, serve);

	if (!fn || !(rt->ops->caps & QE_RT_SERVE))
		return notsup(rt, "serving runs", err);
	if (req->n_prompt < 1 || req->n_gen < 1 || req->concurrency < 1 || req->n_requests == 0)
		return qe_fail(err, QE_EINVAL, "a serving run needs prompt, generation, concurrency and requests >= 1");
	for (size_t i = 0; i < req->n_requests; i++) {
		double *t = out[i].t_tok;
		memset(&out[i], 0, sizeof(out[i]));
		out[i].t_tok = t;
		out[i].ttft_s = NAN;
	}
	return fn(rt, req, out, err);
}

int qe_runtime_chunk_logits(struct qe_runtime *rt, const struct qe_chunk_req *req, struct qe_err *err)
{
	int (*fn)(struct qe_runtime *, const struct qe_chunk_req *, struct qe_err *) = QE_OPS_MEMBER(rt->ops, chunk_logits);

	if (!fn || !(rt->ops->caps & QE_RT_LOGITS))
		return notsup(rt, "full next-token logits", err);
	if (!req->tokens || !req->row || req->n_tok < 2 || req->first + 1 >= req->n_tok)
		return qe_fail(err, QE_EINVAL, "chunk logits: need tokens, a row callback, n_tok >= 2 and first < n_tok - 1");
	if (req->n_chunks == 0)
		return 0;
	return fn(rt, req, err);
}

int qe_runtime_chunk_topk(struct qe_runtime *rt, const struct qe_topk_req *req, struct qe_err *err)
{
	int (*fn)(struct qe_runtime *, const struct qe_topk_req *, struct qe_err *) = QE_OPS_MEMBER(rt->ops, chunk_topk);

	if (!fn || !(rt->ops->caps & QE_RT_TOPK))
		return notsup(rt, "top-K log-probabilities over token chunks", err);
	if (!req->tokens || !req->row || req->n_tok < 2 || req->first + 1 >= req->n_tok)
		return qe_fail(err, QE_EINVAL, "chunk top-K: need tokens, a row callback, n_tok >= 2 and first < n_tok - 1");
	if (req->n_chunks == 0)
		return 0;
	return fn(rt, req, err);
}

void qe_runtime_describe(struct qe_runtime *rt, struct qe_rt_info *info)
{
	memset(info, 0, sizeof(*info));
	strncpy(info->runtime, rt->ops->name, sizeof(info->runtime) - 1);
	rt->ops->describe(rt, info);
}
