/* qeval — the openai runtime's private parts, shared by runtimes/openai.c
 * (level specs, open, describe), runtimes/openai_score.c (scoring,
 * embeddings, tokenizer, speed) and runtimes/openai_topk.c (top-K
 * log-probabilities over token chunks). Not for callers: they use runtimes/runtime.h.
 *
 * A level is an endpoint: {name, runtime: "openai", url, model, api_key_env?,
 * label?, bits?, top_logprobs?, route?, concurrency?, timeout_s?, retries?}
 * (docs/runtimes.md). level_prepare puts the model name in qe_level.path and
 * the base URL in qe_level.url; the optional keys ride in the URL's fragment
 * as compact JSON ("http://h:8080/v1#{\"label\":\"AWQ\"}"): a fragment is
 * never sent to the server, and the API key itself is never in it, only the
 * name of the environment variable that holds it.
 */
#ifndef QE_RT_OPENAI_H
#define QE_RT_OPENAI_H

#include <stddef.h>
#include <stdint.h>

#include "runtimes/runtime_impl.h"
#include "runtimes/http.h"

/* How continuations are scored (docs/runtimes.md). */
enum oa_route {
	OA_ROUTE_NONE = 0, /* the server gives no usable log-probabilities */
	OA_ROUTE_NEXT,     /* next-token top log-probabilities (max_tokens 1) */
	OA_ROUTE_ECHO,     /* the prompt's own log-probabilities (echo + logprobs) */
	OA_ROUTE_GENERATE, /* the same from SGLang's native /generate (return_logprob) */
};

struct oa_ctx {
	char root[512];      /* scheme://host:port[/prefix], without "/v1" */
	char api[520];       /* root + "/v1" */
	char model[256];
	char label[128];     /* the user's description ("AWQ 4-bit, g128"), "" = none */
	double bits;         /* bits per weight the user gave, 0 = unknown */
	int top;             /* top log-probabilities asked for (route next) */
	int want;            /* route the level asks for: OA_ROUTE_NONE = detect */
	int route;           /* route detected at open */
	int echo_ok;         /* 1 = the server gives prompt log-probabilities (echo, or /generate
			      * when generate_ok): a fallback of route next */
	int generate_ok;     /* 1 = through SGLang's /generate, not echo */
	char route_why[256]; /* route NONE: what the server answered */
	char server[128];    /* what the server says it is ("llama-server b1234", "vllm") */
	int32_t n_ctx;       /* tokens per request the server allows, 0 = unknown */
	int32_t n_vocab;     /* 0 = unknown */
	uint64_t n_params;   /* 0 = unknown */
	size_t dim;          /* embedding width, 0 = not yet known */
	int inflight;
	int topk_route;      /* qe_runtime_chunk_topk's form, found at its first call
			      * (runtimes/openai_topk.c): 0 = not yet */
	struct qe_http *http;
	char level[64];      /* the level's name, for messages */
};

/* POST body (JSON text) to ctx->api + path (path starts with '/'), or GET
 * when body is NULL, and parse the 2xx reply into *out. On failure, a status
 * and err naming the URL: QE_ERUNTIME when the server cannot be reached or
 * keeps failing (after the retries) or answers 401/403/404, QE_EINPUT for
 * another status (the server's own message quoted) or a reply that is not
 * JSON. */
int qe_openai_call(struct oa_ctx *c, const char *url, const char *body, struct cJSON **out, struct qe_err *err);

/* The reply of a finished request: the same mapping as qe_openai_call. */
int qe_openai_reply(const struct qe_http_req *r, struct cJSON **out, struct qe_err *err);

/* Probe the scoring routes (at open): sets c->route, c->echo_ok, c->route_why.
 * Fails only when the server cannot be reached. */
int qe_openai_probe(struct oa_ctx *c, struct qe_err *err);

/* The reply parsers, alone (for tests/fuzz_http.c): body[len] as the server
 * sent it.
 * parse_next: a next-token reply scored as the next-token route does (no
 *   echo, no widened retry): 0, or QE_EINPUT (not JSON, a choice outside the
 *   top entries), QE_ERUNTIME (no log-probabilities), QE_ENUMERIC (a
 *   log-probability that is not finite), err filled.
 * parse_echo: an echo reply of context + cont: the continuation's
 *   log-likelihood, tokens and greediness; QE_EINPUT / QE_ERUNTIME.
 * parse_generate: SGLang's /generate reply whose prompt ends with cont.
 * parse_stream: server-sent events: token events with text, the last
 *   usage.completion_tokens (0 = none), the first and last event's times
 *   (each event's time is its byte offset). */
int qe_openai_parse_next(const char *body, size_t len, const struct qe_score_req *rq, struct qe_score_res *res,
			 struct qe_err *err);
int qe_openai_parse_echo(const char *body, size_t len, const char *context, const char *cont, double *ll,
			 int32_t *n_tok, int *greedy, struct qe_err *err);
int qe_openai_parse_generate(const char *body, size_t len, const char *cont, double *ll, int32_t *n_tok, int *greedy,
			     struct qe_err *err);
void qe_openai_parse_stream(const char *data, size_t len, int32_t *n_events, int32_t *usage_out, double *t_first,
			    double *t_last);

/* The ops of runtimes/openai_score.c */
int qe_openai_score(struct qe_runtime *rt, const struct qe_score_req *reqs, size_t n, struct qe_score_res *res,
		    int *status, struct qe_err *err);
int qe_openai_tokenize(struct qe_runtime *rt, const char *text, int add_special, int32_t *tokens, size_t cap,
		       struct qe_err *err);
size_t qe_openai_embed_dim(struct qe_runtime *rt);
int qe_openai_embed(struct qe_runtime *rt, const char *const *texts, size_t n, int normalize, float *out,
		    size_t *n_truncated, struct qe_err *err);
int qe_openai_speed(struct qe_runtime *rt, const struct qe_speed_req *req, struct qe_speed_res *res,
		    struct qe_err *err);
int qe_openai_serve(struct qe_runtime *rt, const struct qe_serve_req *req, struct qe_serve_one *out,
		    struct qe_err *err);

/* The op of runtimes/openai_topk.c */
int qe_openai_chunk_topk(struct qe_runtime *rt, const struct qe_topk_req *req, struct qe_err *err);

/* Its reply parsers, alone (tests/fuzz_http.c): prompt_form 1 = a
 * prompt_logprobs reply of the prompt tok[n_tok] (every position 0 ..
 * n_tok - 2), 0 = llama-server's next-token reply whose true next token is
 * tok[0]; k top entries asked. 0 with *n_rows parsed rows (each with 1 ..
 * k + 1 entries, ids >= 0, log-probabilities not NaN), or QE_EINPUT /
 * QE_ENOMEM and err. */
int qe_openai_parse_topk(const char *body, size_t len, int prompt_form, const int32_t *tok, size_t n_tok, size_t k,
			 size_t *n_rows, struct qe_err *err);

#endif
