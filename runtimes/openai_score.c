/* qeval — the openai runtime's work: scoring continuations by the route the
 * server offers, embeddings, the tokenizer and timed streamed completions
 * (docs/runtimes.md).
 *
 * Reply shapes read (facts of the servers' formats):
 *   next-token, llama-server: choices[0].logprobs.content[0] = {token, logprob,
 *       top_logprobs: [{token, logprob}, ...]}
 *   next-token and echo, OpenAI legacy completions (vLLM, SGLang's and
 *       LmDeploy's /v1/completions): choices[0].logprobs = {tokens: [...],
 *       token_logprobs: [...], top_logprobs: [{TOKEN: logprob}, ...],
 *       text_offset: [...]}; echo puts the prompt's tokens first, the first
 *       one's log-probability null; offsets count characters (code points).
 */
#include "runtimes/openai.h"
#include "harness/base/json.h"
#include "harness/base/sys.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OA_EMBED_CHUNK 32    /* texts per /v1/embeddings request */
#define OA_GREEDY_EPS 1e-9   /* a token is the argmax when no top entry beats it by more */
#define OA_TOP_WIDE 32768    /* most top entries a widened retry asks for */
#define OA_WIDEN 1           /* internal status: ask again with more top entries */

/* ======================================================================
 * Reply parsing
 * ====================================================================== */

/* The next token's top entries of a completion reply: n entries (texts and
 * log-probabilities, borrowed from j), 0 when the reply has none. */
struct top_list {
	const char *tok[OA_TOP_WIDE];
	double lp[OA_TOP_WIDE];
	int n;
};

static void top_entries(const cJSON *j, struct top_list *t)
{
	const cJSON *ch = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "choices"), 0);
	const cJSON *lp = cJSON_GetObjectItemCaseSensitive(ch, "logprobs"), *e, *d;

	t->n = 0;
	e = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(lp, "content"), 0);
	if (e) { /* llama-server */
		cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(e, "top_logprobs"))
			if (t->n < OA_TOP_WIDE && qe_json_str(d, "token", NULL) && cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(d, "logprob"))) {
				t->tok[t->n] = qe_json_str(d, "token", "");
				t->lp[t->n++] = qe_json_num(d, "logprob", NAN);
			}
		return;
	}
	d = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(lp, "top_logprobs"), 0);
	cJSON_ArrayForEach(e, d) /* legacy: {TOKEN: logprob} */
		if (t->n < OA_TOP_WIDE && cJSON_IsNumber(e)) {
			t->tok[t->n] = e->string;
			t->lp[t->n++] = e->valuedouble;
		}
}

/* UTF-8 code points in the first n bytes of s */
static size_t code_points(const char *s, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		k += ((unsigned char)s[i] & 0xC0) != 0x80;
	return k;
}

static double top_max(const cJSON *d)
{
	const cJSON *e;
	double m = -INFINITY;

	cJSON_ArrayForEach(e, d)
		if (cJSON_IsNumber(e) && e->valuedouble > m)
			m = e->valuedouble;
	return m;
}

/* An echo reply: the log-likelihood of the prompt's characters from
 * ctx_cp to end_cp (code points): the tokens that end past ctx_cp and start
 * before end_cp (a token across the seam counts as the continuation's). */
static int echo_ll(const cJSON *j, size_t ctx_cp, size_t end_cp, double *ll, int32_t *n_tok, int *greedy,
		   int32_t *n_ctx_tok)
{
	const cJSON *ch = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "choices"), 0);
	const cJSON *lp = cJSON_GetObjectItemCaseSensitive(ch, "logprobs");
	const cJSON *off = cJSON_GetObjectItemCaseSensitive(lp, "text_offset");
	const cJSON *tl = cJSON_GetObjectItemCaseSensitive(lp, "token_logprobs");
	const cJSON *top = cJSON_GetObjectItemCaseSensitive(lp, "top_logprobs");
	int n = cJSON_GetArraySize(off);

	*ll = 0;
	*n_tok = 0;
	*greedy = 1;
	*n_ctx_tok = 0;
	if (n == 0 || cJSON_GetArraySize(tl) != n)
		return -1;
	for (int k = 0; k < n; k++) {
		double o = cJSON_GetArrayItem(off, k)->valuedouble;
		double next = k + 1 < n ? cJSON_GetArrayItem(off, k + 1)->valuedouble : (double)end_cp + 1;
		const cJSON *v = cJSON_GetArrayItem(tl, k);
		if (next <= (double)ctx_cp) {
			(*n_ctx_tok)++;
			continue;
		}
		if (o >= (double)end_cp)
			break;
		if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
			return -1;
		*ll += v->valuedouble;
		(*n_tok)++;
		if (v->valuedouble < top_max(cJSON_GetArrayItem(top, k)) - OA_GREEDY_EPS)
			*greedy = 0;
	}
	return *n_tok > 0 ? 0 : -1;
}

/* ======================================================================
 * Request bodies
 * ====================================================================== */

/* next-token: one generated token and the top log-probabilities before
 * sampling (llama-server: n_probs, post_sampling_probs off; others: logprobs) */
static char *body_next(const struct oa_ctx *c, const char *prompt, int top)
{
	cJSON *b = cJSON_CreateObject();
	char *s;

	cJSON_AddStringToObject(b, "model", c->model);
	cJSON_AddStringToObject(b, "prompt", prompt);
	cJSON_AddNumberToObject(b, "max_tokens", 1);
	cJSON_AddNumberToObject(b, "temperature", 0);
	cJSON_AddNumberToObject(b, "logprobs", top);
	cJSON_AddNumberToObject(b, "n_probs", top);
	cJSON_AddFalseToObject(b, "post_sampling_probs");
	cJSON_AddFalseToObject(b, "cache_prompt");
	s = cJSON_PrintUnformatted(b);
	cJSON_Delete(b);
	return s;
}

/* echo: the prompt's own log-probabilities (and the top one of each) */
static char *body_echo(const struct oa_ctx *c, const char *ctx, const char *cont)
{
	cJSON *b = cJSON_CreateObject();
	size_t n = strlen(ctx) + strlen(cont) + 1;
	char *p = malloc(n), *s = NULL;

	if (p) {
		snprintf(p, n, "%s%s", ctx, cont);
		cJSON_AddStringToObject(b, "model", c->model);
		cJSON_AddStringToObject(b, "prompt", p);
		cJSON_AddNumberToObject(b, "max_tokens", 1);
		cJSON_AddNumberToObject(b, "temperature", 0);
		cJSON_AddTrueToObject(b, "echo");
		cJSON_AddNumberToObject(b, "logprobs", 1);
		s = cJSON_PrintUnformatted(b);
	}
	free(p);
	cJSON_Delete(b);
	return s;
}

/* SGLang's /generate: the prompt's log-probabilities with each token's text */
static char *body_generate(const struct oa_ctx *c, const char *ctx, const char *cont)
{
	cJSON *b = cJSON_CreateObject(), *sp;
	size_t n = strlen(ctx) + strlen(cont) + 1;
	char *p = malloc(n), *s = NULL;

	if (p) {
		snprintf(p, n, "%s%s", ctx, cont);
		cJSON_AddStringToObject(b, "model", c->model);
		cJSON_AddStringToObject(b, "text", p);
		sp = cJSON_AddObjectToObject(b, "sampling_params");
		cJSON_AddNumberToObject(sp, "max_new_tokens", 1);
		cJSON_AddNumberToObject(sp, "temperature", 0);
		cJSON_AddTrueToObject(b, "return_logprob");
		cJSON_AddNumberToObject(b, "logprob_start_len", 0);
		cJSON_AddNumberToObject(b, "top_logprobs_num", 1);
		cJSON_AddTrueToObject(b, "return_text_in_logprobs");
		s = cJSON_PrintUnformatted(b);
	}
	free(p);
	cJSON_Delete(b);
	return s;
}

/* A /generate reply: meta_info.input_token_logprobs = [[logprob|null, id,
 * text], ...], input_top_logprobs = [null | [[logprob, id, text], ...]].
 * The continuation is the prompt's last cont_bytes bytes: its tokens are
 * found from the end by their texts (a token across the seam counts as the
 * continuation's), so tokens the server adds at the start (BOS) do not shift
 * it. */
static int generate_ll(const cJSON *j, size_t cont_bytes, double *ll, int32_t *n_tok, int *greedy, int32_t *n_ctx_tok)
{
	const cJSON *mi = cJSON_GetObjectItemCaseSensitive(j, "meta_info");
	const cJSON *in = cJSON_GetObjectItemCaseSensitive(mi, "input_token_logprobs");
	const cJSON *top = cJSON_GetObjectItemCaseSensitive(mi, "input_top_logprobs");
	int n = cJSON_GetArraySize(in), k;
	size_t got = 0;

	*ll = 0;
	*n_tok = 0;
	*greedy = 1;
	for (k = n - 1; k >= 0 && got < cont_bytes; k--) {
		const cJSON *e = cJSON_GetArrayItem(in, k), *lp = cJSON_GetArrayItem(e, 0), *tx = cJSON_GetArrayItem(e, 2);
		const cJSON *t0 = cJSON_GetArrayItem(cJSON_GetArrayItem(top, k), 0);
		if (!cJSON_IsNumber(lp) || !isfinite(lp->valuedouble) || !cJSON_IsString(tx))
			return -1;
		*ll += lp->valuedouble;
		(*n_tok)++;
		got += strlen(tx->valuestring);
		if (cJSON_IsNumber(cJSON_GetArrayItem(t0, 0)) && lp->valuedouble < cJSON_GetArrayItem(t0, 0)->valuedouble - OA_GREEDY_EPS)
			*greedy = 0;
	}
	*n_ctx_tok = n - *n_tok;
	return *n_tok > 0 && got >= cont_bytes ? 0 : -1;
}

/* ======================================================================
 * The route, probed at open
 * ====================================================================== */

/* 1 = the echo reply j has the prompt's tokens with offsets */
static int echo_shape(const cJSON *j)
{
	const cJSON *ch = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "choices"), 0);
	const cJSON *lp = cJSON_GetObjectItemCaseSensitive(ch, "logprobs");

	return cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(lp, "text_offset")) >= 2 &&
	       cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(lp, "token_logprobs")) >= 2;
}

/* One probe request: *fatal = 1 when the server could not be reached. */
static int probe_call(struct oa_ctx *c, const char *url, const char *body, cJSON **j, struct qe_err *e, int *fatal)
{
	struct qe_http_req r = { .url = url, .body = body };
	int rc = qe_http_run(c->http, &r, 1, e);

	*fatal = rc != 0 || (r.rc != 0 && r.status == 0);
	if (rc == 0)
		rc = qe_openai_reply(&r, j, e);
	qe_http_req_release(&r);
	return rc;
}

/* SGLang's /generate at the server's root: sets generate_ok (and echo_ok) */
static void probe_generate(struct oa_ctx *c, char *why, size_t cap, int *fatal, struct qe_err *e)
{
	char url[600], *b = body_generate(c, "The", " cat");
	double ll;
	int32_t nt, nc;
	int g, r;
	cJSON *j = NULL;

	snprintf(url, sizeof(url), "%s/generate", c->root);
	r = b ? probe_call(c, url, b, &j, e, fatal) : QE_ENOMEM;
	c->generate_ok = r == 0 && generate_ll(j, 4, &ll, &nt, &g, &nc) == 0;
	c->echo_ok |= c->generate_ok;
	snprintf(why, cap, "%s", r ? e->msg : c->generate_ok ? "" : "no input_token_logprobs in the reply");
	cJSON_Delete(j);
	free(b);
}

int qe_openai_probe(struct oa_ctx *c, struct qe_err *err)
{
	char url[600], why_next[200] = "", why_echo[200] = "", why_gen[200] = "";
	struct qe_err e = { 0 };
	struct top_list *t = malloc(sizeof(*t));
	char *b1 = body_next(c, "The", c->top), *b2 = body_echo(c, "The", " cat");
	cJSON *j = NULL;
	int rc = 0, r2, next_ok = 0, fatal = 0, retries;

	snprintf(url, sizeof(url), "%s/completions", c->api);
	if (!t || !b1 || !b2)
		rc = qe_fail(err, QE_ENOMEM, "out of memory");
	retries = qe_http_set_retries(c->http, 1); /* a route the server lacks may answer 5xx (llama-server --embeddings) */
	if (rc == 0 && c->want != OA_ROUTE_ECHO && c->want != OA_ROUTE_GENERATE) {
		r2 = probe_call(c, url, b1, &j, &e, &fatal);
		if (r2 == 0)
			top_entries(j, t);
		next_ok = r2 == 0 && t->n > 0;
		snprintf(why_next, sizeof(why_next), "%s", r2 ? e.msg : next_ok ? "" : "no top log-probabilities in the reply");
		cJSON_Delete(j);
		j = NULL;
	}
	if (rc == 0 && !fatal && c->want != OA_ROUTE_NEXT && c->want != OA_ROUTE_GENERATE) {
		r2 = probe_call(c, url, b2, &j, &e, &fatal);
		c->echo_ok = r2 == 0 && echo_shape(j);
		snprintf(why_echo, sizeof(why_echo), "%s", r2 ? e.msg : c->echo_ok ? "" : "no prompt log-probabilities in the reply");
		cJSON_Delete(j);
		j = NULL;
	}
	if (rc == 0 && !fatal && !c->echo_ok && c->want != OA_ROUTE_NEXT && c->want != OA_ROUTE_ECHO)
		probe_generate(c, why_gen, sizeof(why_gen), &fatal, &e);
	qe_http_set_retries(c->http, retries);
	if (rc == 0 && fatal)
		rc = qe_fail(err, QE_ERUNTIME, "level '%s': %s", c->level, e.msg);
	c->route = next_ok ? OA_ROUTE_NEXT : c->generate_ok ? OA_ROUTE_GENERATE : c->echo_ok ? OA_ROUTE_ECHO : OA_ROUTE_NONE;
	snprintf(c->route_why, sizeof(c->route_why), "next-token: %s; echo: %s; /generate: %s",
		 why_next[0] ? why_next : "not tried", why_echo[0] ? why_echo : "not tried", why_gen[0] ? why_gen : "not tried");
	free(t);
	free(b1);
	free(b2);
	return rc;
}

/* ======================================================================
 * Scoring
 * ====================================================================== */

/* One (request, continuation) pair still to be scored by echo. */
struct pair { size_t i, k; };

/* How many top entries a widened retry asks for: the whole vocabulary when
 * the server says its size (llama-server), capped. */
static int wide_top(const struct oa_ctx *c)
{
	int w = c->n_vocab > 0 ? c->n_vocab : 1000;

	return w > OA_TOP_WIDE ? OA_TOP_WIDE : w;
}

/* The next-token reply of request i into res[i]; continuations missing from
 * the top entries are listed in todo (echo fallback), or ask for a widened
 * retry (status OA_WIDEN, when widen), or fail the request. */
static void next_result(const struct oa_ctx *c, const struct qe_score_req *rq, const struct qe_http_req *h,
			struct top_list *t, struct qe_score_res *res, int *status, struct pair *todo, size_t *n_todo,
			size_t i, int widen)
{
	struct qe_err e = { 0 };
	cJSON *j = NULL;
	int best = 0;

	t->n = 0;
	status[i] = qe_openai_reply(h, &j, &e);
	if (status[i] == 0) {
		const cJSON *u = cJSON_GetObjectItemCaseSensitive(j, "usage");
		top_entries(j, t);
		int cached = qe_json_int(cJSON_GetObjectItemCaseSensitive(u, "prompt_tokens_details"), "cached_tokens", 0);
		res->n_ctx_tok = qe_json_int(u, "prompt_tokens", 0);
		if (res->n_ctx_tok < 0)
			res->n_ctx_tok = 0;
		/* a server's counts are not trusted: 0 <= cached <= prompt tokens */
		res->n_evaluated = res->n_ctx_tok - (cached < 0 ? 0 : cached > res->n_ctx_tok ? res->n_ctx_tok : cached);
		if (t->n == 0)
			status[i] = qe_fail(&e, QE_ERUNTIME, "%s: no log-probabilities in the reply to request %zu (the server gave them at open)",
					    c->api, i);
	}
	for (int k = 1; k < t->n; k++)
		best = t->lp[k] > t->lp[best] ? k : best;
	for (size_t k = 0; status[i] == 0 && k < rq->n_conts; k++) {
		int f = -1;
		for (int m = 0; m < t->n && f < 0; m++)
			f = strcmp(t->tok[m], rq->conts[k]) ? -1 : m;
		res->n_cont_tok[k] = 1;
		if (f >= 0 && !isfinite(t->lp[f])) {
			status[i] = qe_fail(&e, QE_ENUMERIC, "%s: choice %zu ('%s') has log-probability %g", c->api, k,
					    rq->conts[k], t->lp[f]);
		} else if (f >= 0) {
			res->ll[k] = t->lp[f];
			res->greedy[k] = t->lp[f] >= t->lp[best] - OA_GREEDY_EPS;
		} else if (c->echo_ok) {
			todo[(*n_todo)++] = (struct pair){ i, k };
		} else if (widen && t->n < wide_top(c)) {
			status[i] = OA_WIDEN;
		} else {
			status[i] = qe_fail(&e, QE_EINPUT, "choice %zu ('%s') is not among the %d top log-probabilities %s returned, and it offers no echo: raise \"top_logprobs\" (vLLM: --max-logprobs)",
					    k, rq->conts[k], t->n, c->api);
		}
	}
	if (status[i] && status[i] != OA_WIDEN)
		snprintf(res->error, sizeof(res->error), "%s", e.msg);
	cJSON_Delete(j);
}

/* Run bodies[0..n) against url; each request's reply goes to fn. */
static int run_bodies(struct oa_ctx *c, const char *url, char **bodies, size_t n, struct qe_http_req **out,
		      struct qe_err *err)
{
	struct qe_http_req *h = calloc(n ? n : 1, sizeof(*h));

	*out = h;
	if (!h)
		return qe_fail(err, QE_ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		if (!bodies[i])
			return qe_fail(err, QE_ENOMEM, "out of memory");
		h[i].url = url;
		h[i].body = bodies[i];
	}
	return qe_http_run(c->http, h, n, err);
}

static void free_run(char **bodies, struct qe_http_req *h, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(bodies[i]);
		if (h)
			qe_http_req_release(&h[i]);
	}
	free(bodies);
	free(h);
}

/* The echo requests of todo[0..n): each pair's log-likelihood into res. */
static int score_echo(struct oa_ctx *c, const struct qe_score_req *reqs, const struct pair *todo, size_t n,
		      struct qe_score_res *res, int *status, struct qe_err *err)
{
	char url[600], **bodies = calloc(n ? n : 1, sizeof(char *));
	struct qe_http_req *h = NULL;
	int rc;

	if (c->generate_ok)
		snprintf(url, sizeof(url), "%s/generate", c->root);
	else
		snprintf(url, sizeof(url), "%s/completions", c->api);
	if (!bodies)
		return qe_fail(err, QE_ENOMEM, "out of memory");
	for (size_t p = 0; p < n; p++)
		bodies[p] = (c->generate_ok ? body_generate : body_echo)(c, reqs[todo[p].i].context, reqs[todo[p].i].conts[todo[p].k]);
	rc = run_bodies(c, url, bodies, n, &h, err);
	for (size_t p = 0; rc == 0 && p < n; p++) {
		const struct qe_score_req *rq = &reqs[todo[p].i];
		struct qe_score_res *rs = &res[todo[p].i];
		size_t cl = strlen(rq->context), k = todo[p].k;
		struct qe_err e = { 0 };
		cJSON *j = NULL;
		int st;
		if (status[todo[p].i])
			continue;
		st = qe_openai_reply(&h[p], &j, &e);
		if (st == 0 && (c->generate_ok ? generate_ll(j, strlen(rq->conts[k]), &rs->ll[k], &rs->n_cont_tok[k], &rs->greedy[k],
							     &rs->n_ctx_tok)
					       : echo_ll(j, code_points(rq->context, cl), code_points(rq->context, cl) +
								 code_points(rq->conts[k], strlen(rq->conts[k])), &rs->ll[k],
							 &rs->n_cont_tok[k], &rs->greedy[k], &rs->n_ctx_tok)) != 0)
			st = qe_fail(&e, QE_ERUNTIME, "%s: the reply for choice %zu has no prompt log-probabilities", url, k);
		if (st) {
			status[todo[p].i] = st;
			snprintf(rs->error, sizeof(rs->error), "%s", e.msg);
		}
		rs->n_evaluated = rs->n_ctx_tok;
		cJSON_Delete(j);
	}
	free_run(bodies, h, n);
	return rc;
}

/* One pass of next-token requests over idx[0..m): bodies with top entries. */
static int next_pass(struct oa_ctx *c, const struct qe_score_req *reqs, const size_t *idx, size_t m, int top,
		     struct qe_score_res *res, int *status, struct pair *todo, size_t *n_todo, struct top_list *t,
		     struct qe_err *err)
{
	char url[600], **bodies = calloc(m ? m : 1, sizeof(char *));
	struct qe_http_req *h = NULL;
	int rc;

	snprintf(url, sizeof(url), "%s/completions", c->api);
	if (!bodies)
		return qe_fail(err, QE_ENOMEM, "out of memory");
	for (size_t p = 0; p < m; p++)
		bodies[p] = body_next(c, reqs[idx[p]].context, top);
	rc = run_bodies(c, url, bodies, m, &h, err);
	for (size_t p = 0; rc == 0 && p < m; p++)
		next_result(c, &reqs[idx[p]], &h[p], t, &res[idx[p]], status, todo, n_todo, idx[p], top == c->top);
	free_run(bodies, h, m);
	return rc;
}

/* Every request by next-token; those with a choice outside the top entries
 * once more with the widened top (llama-server gives the whole vocabulary;
 * a server that refuses so many fails the item with its answer). */
static int score_next(struct oa_ctx *c, const struct qe_score_req *reqs, size_t n, struct qe_score_res *res,
		      int *status, struct pair *todo, size_t *n_todo, struct qe_err *err)
{
	struct top_list *t = malloc(sizeof(*t));
	size_t *idx = calloc(n ? n : 1, sizeof(size_t)), m = 0;
	int rc = t && idx ? 0 : qe_fail(err, QE_ENOMEM, "out of memory");

	for (size_t i = 0; rc == 0 && i < n; i++)
		idx[i] = i;
	if (rc == 0)
		rc = next_pass(c, reqs, idx, n, c->top, res, status, todo, n_todo, t, err);
	for (size_t i = 0; rc == 0 && i < n; i++)
		if (status[i] == OA_WIDEN) {
			status[i] = 0;
			idx[m++] = i;
		}
	if (rc == 0 && m)
		rc = next_pass(c, reqs, idx, m, wide_top(c), res, status, todo, n_todo, t, err);
	free(idx);
	free(t);
	return rc;
}

int qe_openai_score(struct qe_runtime *rt, const struct qe_score_req *reqs, size_t n, struct qe_score_res *res,
		    int *status, struct qe_err *err)
{
	struct oa_ctx *c = rt->ctx;
	struct pair *todo = calloc(n * QE_MAX_CONTS + 1, sizeof(*todo));
	size_t n_todo = 0;
	int rc = 0, first = 0;

	if (!todo)
		return qe_fail(err, QE_ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		memset(&res[i], 0, sizeof(res[i]));
		status[i] = 0;
	}
	if (c->route == OA_ROUTE_NONE) {
		for (size_t i = 0; i < n; i++) {
			status[i] = QE_ERUNTIME;
			snprintf(res[i].error, sizeof(res[i].error), "%s offers no log-probabilities qeval can score with (%s)",
				 c->api, c->route_why);
		}
	} else if (c->route == OA_ROUTE_NEXT) {
		rc = score_next(c, reqs, n, res, status, todo, &n_todo, err);
	} else {
		for (size_t i = 0; i < n; i++)
			for (size_t k = 0; k < reqs[i].n_conts; k++)
				todo[n_todo++] = (struct pair){ i, k };
	}
	if (rc == 0 && n_todo)
		rc = score_echo(c, reqs, todo, n_todo, res, status, err);
	free(todo);
	for (size_t i = 0; rc == 0 && i < n; i++)
		if (status[i] && !first++)
			rc = qe_fail(err, status[i], "level '%s': request %zu: %s", c->level, i, res[i].error);
	if (rc && !first)
		for (size_t i = 0; i < n; i++)
			if (!status[i]) {
				status[i] = rc;
				snprintf(res[i].error, sizeof(res[i].error), "%s", err->msg);
			}
	return rc;
}

/* ======================================================================
 * Tokenizer: llama-server's and vLLM's /tokenize (at the server's root)
 * ====================================================================== */

int qe_openai_tokenize(struct qe_runtime *rt, const char *text, int add_special, int32_t *tokens, size_t cap,
		       struct qe_err *err)
{
	struct oa_ctx *c = rt->ctx;
	cJSON *b = cJSON_CreateObject(), *j = NULL;
	const cJSON *tk;
	char url[600], *body;
	int rc, n = 0;

	cJSON_AddStringToObject(b, "model", c->model);
	cJSON_AddStringToObject(b, "content", text);
	cJSON_AddStringToObject(b, "prompt", text);
	cJSON_AddBoolToObject(b, "add_special", add_special);
	cJSON_AddBoolToObject(b, "add_special_tokens", add_special);
	body = cJSON_PrintUnformatted(b);
	cJSON_Delete(b);
	snprintf(url, sizeof(url), "%s/tokenize", c->root);
	rc = body ? qe_openai_call(c, url, body, &j, err) : qe_fail(err, QE_ENOMEM, "out of memory");
	free(body);
	if (rc)
		return rc == QE_ERUNTIME ? rc : qe_fail(err, QE_ENOTSUP, "%s", err->msg);
	tk = cJSON_GetObjectItemCaseSensitive(j, "tokens");
	if (!cJSON_IsArray(tk))
		rc = qe_fail(err, QE_ENOTSUP, "%s: no \"tokens\" in the reply", url);
	cJSON_ArrayForEach(b, tk) {
		if (tokens && (size_t)n < cap)
			tokens[n] = (int32_t)(cJSON_IsNumber(b) ? b->valuedouble : qe_json_num(b, "id", -1));
		n++;
	}
	cJSON_Delete(j);
	return rc ? rc : n;
}

/* ======================================================================
 * Embeddings: /v1/embeddings, OA_EMBED_CHUNK texts per request
 * ====================================================================== */

static char *body_embed(const struct oa_ctx *c, const char *const *texts, size_t n)
{
	cJSON *b = cJSON_CreateObject(), *in = cJSON_AddArrayToObject(b, "input");
	char *s;

	cJSON_AddStringToObject(b, "model", c->model);
	cJSON_AddStringToObject(b, "encoding_format", "float");
	for (size_t i = 0; i < n; i++)
		cJSON_AddItemToArray(in, cJSON_CreateString(texts[i]));
	s = cJSON_PrintUnformatted(b);
	cJSON_Delete(b);
	return s;
}

/* One reply's rows into out[first..first+n): data[k] = {index, embedding}. */
static int embed_rows(struct oa_ctx *c, const cJSON *j, size_t first, size_t n, int normalize, float *out,
		      struct qe_err *err)
{
	const cJSON *d;
	size_t seen = 0;

	cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(j, "data")) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(d, "embedding"), *x;
		double idx = qe_json_num(d, "index", (double)seen), norm = 0;
		size_t m = (size_t)cJSON_GetArraySize(v), k = 0;
		float *row;
		if (c->dim == 0)
			c->dim = m;
		if (idx < 0 || idx >= (double)n || m == 0 || m != c->dim || !out)
			return out && m == c->dim ? qe_fail(err, QE_EINPUT, "%s/embeddings: a row with index %g of %zu", c->api, idx, n)
						  : out ? qe_fail(err, QE_EINPUT, "%s/embeddings: a row of width %zu, not %zu", c->api, m, c->dim) : 0;
		row = out + (first + (size_t)idx) * c->dim;
		cJSON_ArrayForEach(x, v) {
			row[k] = (float)x->valuedouble;
			norm += x->valuedouble * x->valuedouble;
			k++;
		}
		for (k = 0; normalize && norm > 0 && k < m; k++)
			row[k] = (float)(row[k] / sqrt(norm));
		seen++;
	}
	return seen == n || !out ? 0 : qe_fail(err, QE_EINPUT, "%s/embeddings: %zu rows for %zu texts", c->api, seen, n);
}

int qe_openai_embed(struct qe_runtime *rt, const char *const *texts, size_t n, int normalize, float *out,
		    size_t *n_truncated, struct qe_err *err)
{
	struct oa_ctx *c = rt->ctx;
	size_t nb = (n + OA_EMBED_CHUNK - 1) / OA_EMBED_CHUNK;
	char url[600], **bodies = calloc(nb ? nb : 1, sizeof(char *));
	struct qe_http_req *h = NULL;
	int rc;

	snprintf(url, sizeof(url), "%s/embeddings", c->api);
	if (!bodies)
		return qe_fail(err, QE_ENOMEM, "out of memory");
	for (size_t b = 0; b < nb; b++)
		bodies[b] = body_embed(c, texts + b * OA_EMBED_CHUNK, n - b * OA_EMBED_CHUNK < OA_EMBED_CHUNK ? n - b * OA_EMBED_CHUNK : OA_EMBED_CHUNK);
	rc = run_bodies(c, url, bodies, nb, &h, err);
	for (size_t b = 0; rc == 0 && b < nb; b++) {
		size_t m = n - b * OA_EMBED_CHUNK < OA_EMBED_CHUNK ? n - b * OA_EMBED_CHUNK : OA_EMBED_CHUNK;
		cJSON *j = NULL;
		rc = qe_openai_reply(&h[b], &j, err);
		if (rc == 0)
			rc = embed_rows(c, j, b * OA_EMBED_CHUNK, m, normalize, out, err);
		cJSON_Delete(j);
	}
	free_run(bodies, h, nb);
	return rc ? qe_err_wrap(err, "level '%s'", c->level) : 0;
}

size_t qe_openai_embed_dim(struct qe_runtime *rt)
{
	struct oa_ctx *c = rt->ctx;
	const char *probe = "dimension";

	if (c->dim == 0)
		qe_openai_embed(rt, &probe, 1, 0, NULL, NULL, NULL);
	return c->dim;
}

/* ======================================================================
 * Speed: one streamed completion (server-sent events), timed per token
 * ====================================================================== */

struct stream {
	char line[65536];
	size_t len;
	int n_events;        /* events that carried text */
	double t_first, t_last;
	double *t_tok;       /* NULL, or cap entries: each event's time */
	int cap;
	int usage_out;       /* usage.completion_tokens of the last chunk, 0 = none */
};

static void stream_line(struct stream *s, double t)
{
	const char *p = s->line;
	cJSON *j;
	const char *txt;

	if (strncmp(p, "data:", 5) != 0)
		return;
	p += 5;
	while (*p == ' ')
		p++;
	j = cJSON_Parse(p);
	txt = qe_json_str(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "choices"), 0), "text", NULL);
	if (txt && *txt) { /* llama-server ends with an event of empty text */
		if (s->t_tok && s->n_events < s->cap)
			s->t_tok[s->n_events] = t;
		if (s->n_events++ == 0)
			s->t_first = t;
		s->t_last = t;
	}
	if (qe_json_num(cJSON_GetObjectItemCaseSensitive(j, "usage"), "completion_tokens", 0) > 0)
		s->usage_out = qe_json_int(cJSON_GetObjectItemCaseSensitive(j, "usage"), "completion_tokens", 0);
	cJSON_Delete(j);
}

static void on_stream(void *arg, const char *data, size_t n, double t)
{
	struct stream *s = arg;

	for (size_t i = 0; i < n; i++) {
		if (data[i] == '\n') {
			s->line[s->len] = '\0';
			stream_line(s, t);
			s->len = 0;
		} else if (s->len + 1 < sizeof(s->line)) {
			s->line[s->len++] = data[i];
		}
	}
}

static char *body_stream(const struct oa_ctx *c, const struct qe_speed_req *req)
{
	cJSON *b = cJSON_CreateObject(), *p = cJSON_AddArrayToObject(b, "prompt");
	uint64_t z = req->seed ? req->seed : 42;
	int32_t vocab = c->n_vocab > 16 ? c->n_vocab : 1000;
	char *s;

	for (int i = 0; i < (req->n_prompt > 0 ? req->n_prompt : 1); i++) {
		z = z * 6364136223846793005ull + 1442695040888963407ull;
		cJSON_AddItemToArray(p, cJSON_CreateNumber((double)(1 + (z >> 33) % (uint64_t)(vocab - 1))));
	}
	cJSON_AddStringToObject(b, "model", c->model);
	cJSON_AddNumberToObject(b, "max_tokens", req->n_gen > 0 ? req->n_gen : 1);
	cJSON_AddNumberToObject(b, "temperature", 0);
	cJSON_AddTrueToObject(b, "stream");
	cJSON_AddTrueToObject(b, "ignore_eos");
	cJSON_AddTrueToObject(cJSON_AddObjectToObject(b, "stream_options"), "include_usage");
	cJSON_AddFalseToObject(b, "cache_prompt");
	s = cJSON_PrintUnformatted(b);
	cJSON_Delete(b);
	return s;
}

/* t_first_s = time to the first streamed token (TTFT), t_prompt_s = TTFT
 * too (a server does not say when the prompt ended), t_gen_s = first to
 * last token, so t_prompt + t_gen = end to end and (t_gen)/(n_gen - 1) is
 * the time per later token. With no prompt (a one-token one is sent),
 * t_gen_s runs from the request to the last token. */
int qe_openai_speed(struct qe_runtime *rt, const struct qe_speed_req *req, struct qe_speed_res *res,
		    struct qe_err *err)
{
	struct oa_ctx *c = rt->ctx;
	struct stream *s = calloc(1, sizeof(*s));
	char url[600], *body = body_stream(c, req);
	struct qe_http_req h = { .url = url, .body = body, .on_data = on_stream, .arg = s };
	cJSON *j = NULL;
	int rc;

	snprintf(url, sizeof(url), "%s/completions", c->api);
	if (!s || !body) {
		free(s);
		free(body);
		return qe_fail(err, QE_ENOMEM, "out of memory");
	}
	rc = qe_http_run(c->http, &h, 1, err);
	if (rc == 0 && (h.rc || h.status < 200 || h.status > 299))
		rc = qe_openai_reply(&h, &j, err);
	if (rc == 0 && s->n_events == 0)
		rc = qe_fail(err, QE_ERUNTIME, "%s: the streamed reply carried no tokens", url);
	if (rc == 0) {
		res->t_first_s = s->t_first;
		res->t_prompt_s = req->n_prompt > 0 ? s->t_first : 0;
		res->t_gen_s = req->n_prompt > 0 ? s->t_last - s->t_first : s->t_last;
	}
	cJSON_Delete(j);
	qe_http_req_release(&h);
	free(body);
	free(s);
	return rc ? qe_err_wrap(err, "level '%s'", c->level) : 0;
}

/* ======================================================================
 * Serving runs: many streamed completions, `concurrency` in flight
 * ====================================================================== */

static uint64_t serve_seed(uint64_t seed, size_t k)
{
	uint64_t z = seed + 0x9e3779b97f4a7c15ull * (k + 1);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return (z ^ (z >> 31)) | 1;
}

/* request k's figures from its stream and reply */
static void serve_one(const struct qe_http_req *h, const struct stream *s, double t0, struct qe_serve_one *o)
{
	struct qe_err e = { 0 };
	cJSON *j = NULL;

	o->start_s = h->t_start - t0;
	o->e2e_s = h->t_s;
	o->n_events = s->n_events;
	if (h->rc || h->status < 200 || h->status > 299)
		o->status = qe_openai_reply(h, &j, &e);
	else if (s->n_events == 0)
		o->status = qe_fail(&e, QE_ERUNTIME, "%s: the streamed reply carried no tokens", h->url);
	if (o->status) {
		snprintf(o->error, sizeof(o->error), "%s", e.msg);
	} else {
		o->ttft_s = s->t_first;
		o->n_out = s->usage_out > 0 ? s->usage_out : s->n_events;
	}
	cJSON_Delete(j);
}

int qe_openai_serve(struct qe_runtime *rt, const struct qe_serve_req *req, struct qe_serve_one *out,
		    struct qe_err *err)
{
	struct oa_ctx *c = rt->ctx;
	size_t n = req->n_requests;
	struct stream *s = calloc(n, sizeof(*s));
	struct qe_http_req *h = calloc(n, sizeof(*h));
	char url[600], **bodies = calloc(n, sizeof(char *));
	int rc = s && h && bodies ? 0 : qe_fail(err, QE_ENOMEM, "out of memory for %zu requests", n);
	double t0;

	snprintf(url, sizeof(url), "%s/completions", c->api);
	for (size_t k = 0; rc == 0 && k < n; k++) {
		struct qe_speed_req r = { .n_prompt = req->n_prompt, .n_gen = req->n_gen, .seed = serve_seed(req->seed, k) };
		s[k].t_tok = out[k].t_tok;
		s[k].cap = out[k].t_tok ? req->n_gen : 0;
		bodies[k] = body_stream(c, &r);
		h[k] = (struct qe_http_req){ .url = url, .body = bodies[k], .on_data = on_stream, .arg = &s[k] };
		if (!bodies[k])
			rc = qe_fail(err, QE_ENOMEM, "out of memory");
	}
	qe_http_set_inflight(c->http, req->concurrency);
	t0 = qe_now();
	if (rc == 0)
		rc = qe_http_run(c->http, h, n, err);
	qe_http_set_inflight(c->http, c->inflight);
	for (size_t k = 0; rc == 0 && k < n; k++)
		serve_one(&h[k], &s[k], t0, &out[k]);
	for (size_t k = 0; h && bodies && k < n; k++) {
		qe_http_req_release(&h[k]);
		free(bodies[k]);
	}
	free(h);
	free(bodies);
	free(s);
	return rc;
}

/* ======================================================================
 * The parsers alone (runtimes/openai.h; tests/fuzz_http.c)
 * ====================================================================== */

int qe_openai_parse_next(const char *body, size_t len, const struct qe_score_req *rq, struct qe_score_res *res,
			 struct qe_err *err)
{
	struct oa_ctx c = { .top = 20, .api = "reply" };
	struct qe_http_req h = { .url = "reply", .body = "", .status = 200, .reply = (char *)body, .reply_len = len };
	struct top_list *t = malloc(sizeof(*t));
	struct pair todo[QE_MAX_CONTS];
	size_t n_todo = 0;
	int st = 0;

	memset(res, 0, sizeof(*res));
	if (!t)
		return qe_fail(err, QE_ENOMEM, "out of memory");
	next_result(&c, rq, &h, t, res, &st, todo, &n_todo, 0, 0);
	free(t);
	return st ? qe_fail(err, st, "%s", res->error) : 0;
}

int qe_openai_parse_echo(const char *body, size_t len, const char *context, const char *cont, double *ll,
			 int32_t *n_tok, int *greedy, struct qe_err *err)
{
	cJSON *j = cJSON_ParseWithLength(body, len);
	size_t cp = code_points(context, strlen(context));
	int32_t n_ctx = 0;
	int rc = 0;

	if (!j)
		rc = qe_fail(err, QE_EINPUT, "the echo reply is not JSON");
	else if (echo_ll(j, cp, cp + code_points(cont, strlen(cont)), ll, n_tok, greedy, &n_ctx) != 0)
		rc = qe_fail(err, QE_ERUNTIME, "the echo reply has no prompt log-probabilities for the continuation");
	cJSON_Delete(j);
	return rc;
}

int qe_openai_parse_generate(const char *body, size_t len, const char *cont, double *ll, int32_t *n_tok, int *greedy,
			     struct qe_err *err)
{
	cJSON *j = cJSON_ParseWithLength(body, len);
	int32_t n_ctx = 0;
	int rc = 0;

	if (!j)
		rc = qe_fail(err, QE_EINPUT, "the /generate reply is not JSON");
	else if (generate_ll(j, strlen(cont), ll, n_tok, greedy, &n_ctx) != 0)
		rc = qe_fail(err, QE_ERUNTIME, "the /generate reply has no prompt log-probabilities for the continuation");
	cJSON_Delete(j);
	return rc;
}

void qe_openai_parse_stream(const char *data, size_t len, int32_t *n_events, int32_t *usage_out, double *t_first,
			    double *t_last)
{
	struct stream *s = calloc(1, sizeof(*s));

	*n_events = *usage_out = 0;
	*t_first = *t_last = NAN;
	if (!s)
		return;
	for (size_t i = 0; i < len; i++)
		on_stream(s, data + i, 1, (double)i);
	*n_events = s->n_events;
	*usage_out = s->usage_out > 0 ? s->usage_out : 0;
	*t_first = s->t_first;
	*t_last = s->t_last;
	free(s);
}
