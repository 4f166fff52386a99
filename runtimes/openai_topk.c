/* qeval — the openai runtime's top-K log-probabilities over token chunks
 * (qe_runtime_chunk_topk, runtimes/runtime.h), the kld task's call at a
 * server level. Two forms, found at the first call (docs/runtimes.md, "Top-K
 * log-probabilities"):
 *
 *   prompt log-probabilities (vLLM's "prompt_logprobs" on /v1/completions):
 *     one request a chunk, the chunk's token ids as the prompt. Reply (a fact
 *     of vLLM's documented format): choices[0].prompt_logprobs = [null,
 *     {"<id>": {"logprob", "rank", "decoded_token"}, ...}, ...], entry p the
 *     distribution that predicted prompt token p, holding the top K and the
 *     prompt token itself (so its log-probability is always known).
 *   next-token top log-probabilities (llama-server, which refuses echo):
 *     one request a position, the chunk's ids up to it as the prompt,
 *     max_tokens 1, n_probs K, post_sampling_probs off (the model's own
 *     softmax over the whole vocabulary), temperature 0, cache_prompt on (the
 *     slot keeps the chunk's earlier tokens, so a request evaluates about one
 *     new token), and a logit_bias on the true next token: the sampled token
 *     is then the true one, and llama-server reports the sampled token's
 *     log-probability from the unbiased softmax
 *     (choices[0].logprobs.content[0] = {id, logprob, top_logprobs: [{id,
 *     logprob}, ...]}). When the reply's token is not the true one its
 *     log-probability is taken from the top entries, else it is unknown.
 *
 * Chunks go `inflight` at a time (the level's "concurrency"): one request of
 * each chunk of the group per round. A group's rows are kept until the group
 * is done and handed over in order (chunk, then position).
 */
#include "runtimes/openai.h"
#include "harness/base/json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOPK_DEFAULT 100      /* entries per position when the caller says 0 */
#define TOPK_BIAS 1e9         /* logit_bias that makes the true token the sampled one */
#define TOPK_LOWEST -1e30     /* llama-server writes log(0) as float's lowest: below this = -inf */

enum { TK_UNKNOWN = 0, TK_PROMPT, TK_NEXT };

/* The rows of one group of chunks: [m][rows][k1] entries. */
struct tk_buf {
	size_t m, rows, k1;
	int32_t *id;
	double *lp;
	size_t *n;        /* [m][rows] */
	double *lp_next;  /* [m][rows] */
};

static void buf_release(struct tk_buf *b)
{
	free(b->id);
	free(b->lp);
	free(b->n);
	free(b->lp_next);
}

static int buf_alloc(struct tk_buf *b, size_t m, size_t rows, size_t k1)
{
	size_t e = m * rows * k1;

	b->m = m;
	b->rows = rows;
	b->k1 = k1;
	b->id = malloc(e * sizeof(*b->id));
	b->lp = malloc(e * sizeof(*b->lp));
	b->n = calloc(m * rows, sizeof(*b->n));
	b->lp_next = malloc(m * rows * sizeof(*b->lp_next));
	return b->id && b->lp && b->n && b->lp_next ? 0 : QE_ENOMEM;
}

static double lp_of(double v)
{
	return v < TOPK_LOWEST ? -INFINITY : v;
}

/* ======================================================================
 * Request bodies
 * ====================================================================== */

static cJSON *ids_array(const int32_t *tok, size_t n)
{
	cJSON *a = cJSON_CreateArray();

	for (size_t i = 0; a && i < n; i++)
		cJSON_AddItemToArray(a, cJSON_CreateNumber(tok[i]));
	return a;
}

/* a request for one greedy token after the tokens [0, n) */
static cJSON *body_one_token(const struct oa_ctx *c, const int32_t *tok, size_t n)
{
	cJSON *b = cJSON_CreateObject();

	cJSON_AddStringToObject(b, "model", c->model);
	cJSON_AddItemToObject(b, "prompt", ids_array(tok, n));
	cJSON_AddNumberToObject(b, "max_tokens", 1);
	cJSON_AddNumberToObject(b, "temperature", 0);
	return b;
}

/* a whole chunk with its prompt log-probabilities */
static char *body_prompt(const struct oa_ctx *c, const int32_t *tok, size_t n, size_t k)
{
	cJSON *b = body_one_token(c, tok, n);
	char *s;

	cJSON_AddNumberToObject(b, "prompt_logprobs", (double)k);
	s = cJSON_PrintUnformatted(b);
	cJSON_Delete(b);
	return s;
}

/* tokens [0, n) and the next-token top entries, the true next token forced */
static char *body_next(const struct oa_ctx *c, const int32_t *tok, size_t n, int32_t next, size_t k)
{
	cJSON *b = body_one_token(c, tok, n), *bias, *e;
	char *s;

	cJSON_AddNumberToObject(b, "n_probs", (double)k);
	cJSON_AddFalseToObject(b, "post_sampling_probs");
	cJSON_AddTrueToObject(b, "cache_prompt");
	bias = cJSON_AddArrayToObject(b, "logit_bias");
	e = cJSON_CreateArray();
	cJSON_AddItemToArray(e, cJSON_CreateNumber(next));
	cJSON_AddItemToArray(e, cJSON_CreateNumber(TOPK_BIAS));
	cJSON_AddItemToArray(bias, e);
	s = cJSON_PrintUnformatted(b);
	cJSON_Delete(b);
	return s;
}

/* ======================================================================
 * Reply parsing
 * ====================================================================== */

/* choices[0].prompt_logprobs of j, NULL when absent */
static const cJSON *prompt_lps(const cJSON *j)
{
	const cJSON *ch = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "choices"), 0);
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(ch, "prompt_logprobs");

	return cJSON_IsArray(a) ? a : NULL;
}

/* entry n of row r of b, while the row has room */
static void put_top(struct tk_buf *b, size_t r, size_t *n, int32_t id, double lp)
{
	if (*n < b->k1) {
		b->id[r * b->k1 + *n] = id;
		b->lp[r * b->k1 + (*n)++] = lp_of(lp);
	}
}

/* One prompt position's dict {"<id>": {"logprob"}} (the distribution that
 * predicted `next`) into row r of b. */
static int parse_prompt_pos(const cJSON *d, int32_t next, struct tk_buf *b, size_t r)
{
	const cJSON *e;
	size_t n = 0;

	b->lp_next[r] = NAN;
	if (!cJSON_IsObject(d))
		return -1;
	cJSON_ArrayForEach(e, d) {
		char *end;
		long id = strtol(e->string, &end, 10);
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, "logprob");
		double lp = cJSON_IsNumber(v) ? v->valuedouble : cJSON_IsNumber(e) ? e->valuedouble : NAN;
		if (*end || end == e->string || id < 0 || id > INT32_MAX || isnan(lp))
			return -1;
		if (id == next)
			b->lp_next[r] = lp_of(lp);
		put_top(b, r, &n, (int32_t)id, lp);
	}
	b->n[r] = n;
	return n > 0 ? 0 : -1;
}

/* A prompt_logprobs reply of chunk g of the group (tokens tok[n_tok]):
 * positions [first, n_tok - 1) into b. */
static int parse_prompt(const cJSON *j, const int32_t *tok, size_t n_tok, size_t first, struct tk_buf *b, size_t g)
{
	const cJSON *a = prompt_lps(j);

	if (!a || (size_t)cJSON_GetArraySize(a) < n_tok)
		return -1;
	for (size_t p = first; p + 1 < n_tok; p++)
		if (parse_prompt_pos(cJSON_GetArrayItem(a, (int)(p + 1)), tok[p + 1], b, g * b->rows + (p - first)) != 0)
			return -1;
	return 0;
}

/* A next-token reply (llama-server) for a position whose true next token is
 * `next` into row r of b. */
static int parse_next(const cJSON *j, int32_t next, struct tk_buf *b, size_t r)
{
	const cJSON *ch = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "choices"), 0);
	const cJSON *c0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(ch, "logprobs"),
									      "content"), 0);
	const cJSON *e;
	size_t n = 0;

	b->lp_next[r] = NAN;
	if (!c0)
		return -1;
	if (qe_json_num(c0, "id", -1) == (double)next && cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(c0, "logprob")))
		b->lp_next[r] = lp_of(qe_json_num(c0, "logprob", NAN));
	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(c0, "top_logprobs")) {
		double id = qe_json_num(e, "id", -1), lp = qe_json_num(e, "logprob", NAN);
		if (id < 0 || id > INT32_MAX || isnan(lp))
			return -1;
		if (isnan(b->lp_next[r]) && id == (double)next)
			b->lp_next[r] = lp_of(lp);
		put_top(b, r, &n, (int32_t)id, lp);
	}
	b->n[r] = n;
	return n > 0 ? 0 : -1;
}

/* ======================================================================
 * The two forms
 * ====================================================================== */

/* Run n bodies against url, each reply through qe_openai_reply into js[i]
 * (caller cJSON_Deletes). The first failure's status, err naming it. */
static int run_json(struct oa_ctx *c, const char *url, char **bodies, size_t n, cJSON **js, struct qe_err *err)
{
	struct qe_http_req *h = calloc(n, sizeof(*h));
	int rc = h ? 0 : qe_fail(err, QE_ENOMEM, "out of memory");

	for (size_t i = 0; rc == 0 && i < n; i++) {
		if (!bodies[i])
			rc = qe_fail(err, QE_ENOMEM, "out of memory");
		h[i].url = url;
		h[i].body = bodies[i];
	}
	if (rc == 0)
		rc = qe_http_run(c->http, h, n, err);
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = qe_openai_reply(&h[i], &js[i], err);
	for (size_t i = 0; h && i < n; i++)
		qe_http_req_release(&h[i]);
	free(h);
	return rc;
}

/* Chunks [c0, c0 + m) by prompt_logprobs: one request each. */
static int group_prompt(struct oa_ctx *c, const struct qe_topk_req *req, size_t k, size_t c0, size_t m,
			struct tk_buf *b, struct qe_err *err)
{
	char url[600], **bodies = calloc(m, sizeof(char *));
	cJSON **js = calloc(m, sizeof(cJSON *));
	int rc = bodies && js ? 0 : qe_fail(err, QE_ENOMEM, "out of memory");

	snprintf(url, sizeof(url), "%s/completions", c->api);
	for (size_t g = 0; rc == 0 && g < m; g++)
		bodies[g] = body_prompt(c, req->tokens + (c0 + g) * req->n_tok, req->n_tok, k);
	if (rc == 0)
		rc = run_json(c, url, bodies, m, js, err);
	for (size_t g = 0; rc == 0 && g < m; g++)
		if (parse_prompt(js[g], req->tokens + (c0 + g) * req->n_tok, req->n_tok, req->first, b, g) != 0)
			rc = qe_fail(err, QE_EINPUT, "%s: the reply to chunk %zu has no usable prompt_logprobs for its %zu tokens",
				     url, c0 + g, req->n_tok);
	for (size_t g = 0; g < m; g++) {
		free(bodies ? bodies[g] : NULL);
		cJSON_Delete(js ? js[g] : NULL);
	}
	free(bodies);
	free(js);
	return rc;
}

/* Chunks [c0, c0 + m) by next-token requests: one round per position, one
 * request of each chunk in flight per round. */
static int group_next(struct oa_ctx *c, const struct qe_topk_req *req, size_t k, size_t c0, size_t m, struct tk_buf *b,
		      struct qe_err *err)
{
	char url[600], **bodies = calloc(m, sizeof(char *));
	cJSON **js = calloc(m, sizeof(cJSON *));
	int rc = bodies && js ? 0 : qe_fail(err, QE_ENOMEM, "out of memory");

	snprintf(url, sizeof(url), "%s/completions", c->api);
	for (size_t p = req->first; rc == 0 && p + 1 < req->n_tok; p++) {
		for (size_t g = 0; g < m; g++) {
			const int32_t *tk = req->tokens + (c0 + g) * req->n_tok;
			bodies[g] = body_next(c, tk, p + 1, tk[p + 1], k);
		}
		rc = run_json(c, url, bodies, m, js, err);
		for (size_t g = 0; rc == 0 && g < m; g++)
			if (parse_next(js[g], req->tokens[(c0 + g) * req->n_tok + p + 1], b, g * b->rows + (p - req->first)) != 0)
				rc = qe_fail(err, QE_EINPUT, "%s: the reply for chunk %zu position %zu has no top log-probabilities "
					     "with token ids", url, c0 + g, p);
		for (size_t g = 0; g < m; g++) {
			free(bodies[g]);
			bodies[g] = NULL;
			cJSON_Delete(js[g]);
			js[g] = NULL;
		}
	}
	free(bodies);
	free(js);
	return rc;
}

/* Which form the server offers: llama-server (its /props said so) the
 * next-token form, without a probe (which would evaluate a whole chunk into
 * a slot's cache); another server a prompt_logprobs request of the first
 * chunk, kept in b as group row 0 when it answers. */
static int detect(struct oa_ctx *c, const struct qe_topk_req *req, size_t k, struct tk_buf *b, int *got_first,
		  struct qe_err *err)
{
	struct qe_err e = { 0 };
	int rc, retries;

	*got_first = 0;
	if (!strncmp(c->server, "llama-server", 12)) {
		c->topk_route = TK_NEXT;
		return 0;
	}
	retries = qe_http_set_retries(c->http, 1);
	rc = group_prompt(c, req, k, 0, 1, b, &e);
	qe_http_set_retries(c->http, retries);
	if (rc == 0) {
		c->topk_route = TK_PROMPT;
		*got_first = 1;
		return 0;
	}
	if (rc == QE_ERUNTIME && strstr(e.msg, "HTTP") == NULL)
		return qe_fail(err, QE_ERUNTIME, "level '%s': %s", c->level, e.msg);
	return qe_fail(err, QE_ENOTSUP, "level '%s': %s gives neither prompt_logprobs nor llama-server's next-token top "
		       "log-probabilities with token ids (%s)", c->level, c->api, e.msg);
}

/* hand the group's rows over in order */
static int deliver(const struct qe_topk_req *req, const struct tk_buf *b, size_t c0, size_t m, size_t n_vocab)
{
	for (size_t g = 0; g < m; g++)
		for (size_t r = 0; r < b->rows; r++) {
			size_t i = g * b->rows + r;
			struct qe_topk_row row = { .n = b->n[i], .id = b->id + i * b->k1, .lp = b->lp + i * b->k1,
						   .lp_next = b->lp_next[i], .n_vocab = n_vocab };
			int rc = req->row(req->arg, c0 + g, req->first + r, &row);
			if (rc)
				return rc;
		}
	return 0;
}

int qe_openai_chunk_topk(struct qe_runtime *rt, const struct qe_topk_req *req, struct qe_err *err)
{
	struct oa_ctx *c = rt->ctx;
	size_t k = req->k ? req->k : TOPK_DEFAULT, m = (size_t)c->inflight, rows = req->n_tok - 1 - req->first;
	struct tk_buf b = { 0 };
	int rc, have0 = 0;

	if (m > req->n_chunks)
		m = req->n_chunks;
	if (buf_alloc(&b, m, rows, k + 1) != 0) {
		buf_release(&b);
		return qe_fail(err, QE_ENOMEM, "out of memory for %zu x %zu x %zu top entries", m, rows, k + 1);
	}
	rc = c->topk_route == TK_UNKNOWN ? detect(c, req, k, &b, &have0, err) : 0;
	if (have0)
		rc = deliver(req, &b, 0, 1, (size_t)(c->n_vocab > 0 ? c->n_vocab : 0));
	for (size_t c0 = have0; rc == 0 && c0 < req->n_chunks; c0 += m) {
		size_t g = req->n_chunks - c0 < m ? req->n_chunks - c0 : m;
		rc = c->topk_route == TK_PROMPT ? group_prompt(c, req, k, c0, g, &b, err) : group_next(c, req, k, c0, g, &b, err);
		if (rc == 0)
			rc = deliver(req, &b, c0, g, (size_t)(c->n_vocab > 0 ? c->n_vocab : 0));
		else if (rc != QE_ENOMEM)
			qe_err_wrap(err, "level '%s'", c->level);
	}
	buf_release(&b);
	return rc;
}

/* ======================================================================
 * The parsers alone (runtimes/openai.h; tests/fuzz_http.c)
 * ====================================================================== */

int qe_openai_parse_topk(const char *body, size_t len, int prompt_form, const int32_t *tok, size_t n_tok, size_t k,
			 size_t *n_rows, struct qe_err *err)
{
	cJSON *j = cJSON_ParseWithLength(body, len);
	struct tk_buf b = { 0 };
	size_t rows = prompt_form ? (n_tok > 1 ? n_tok - 1 : 0) : 1;
	int rc = 0;

	*n_rows = 0;
	if (!j)
		rc = qe_fail(err, QE_EINPUT, "the top-K reply is not JSON");
	else if (rows == 0 || buf_alloc(&b, 1, rows, k + 1) != 0)
		rc = qe_fail(err, QE_ENOMEM, "out of memory");
	else if (prompt_form ? parse_prompt(j, tok, n_tok, 0, &b, 0) != 0 : parse_next(j, tok[0], &b, 0) != 0)
		rc = qe_fail(err, QE_EINPUT, "the reply has no usable %s", prompt_form ? "prompt_logprobs" : "top log-probabilities");
	for (size_t r = 0; rc == 0 && r < rows; r++) /* what a row hands on */
		for (size_t i = 0; i < b.n[r]; i++)
			if (b.id[r * b.k1 + i] < 0 || isnan(b.lp[r * b.k1 + i]) || b.n[r] > k + 1)
				rc = qe_fail(err, QE_EINPUT, "row %zu entry %zu is not a token id with a log-probability", r, i);
	if (rc == 0)
		*n_rows = rows;
	buf_release(&b);
	cJSON_Delete(j);
	return rc;
}
