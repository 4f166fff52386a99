/* tq_httpd — a loopback HTTP server for the server runtimes' tests, in a
 * thread of the test process (no Python: CI is a fresh Debian machine).
 *
 * It replays the reply shapes servers document, computed from a fake
 * "model" whose numbers a test can compute on its own (tq_fake_*):
 *   vLLM     /v1/completions, OpenAI legacy logprobs (tokens, token_logprobs,
 *            top_logprobs as {TOKEN: logprob}, text_offset), next-token and
 *            echo; /v1/models with max_model_len
 *   LmDeploy /v1/completions: the same legacy shape for generated tokens only;
 *            echo is refused with a 400
 *   SGLang   native /generate with return_logprob: meta_info.input_token_logprobs
 *            [[logprob|null, id, text], ...] (a "<s>" token first) and
 *            input_top_logprobs; its /v1/completions here gives no logprobs
 *            and refuses echo, so only /generate can score
 *   vLLM's prompt_logprobs: when a test sets prompt_logprobs (a function that
 *            builds the whole reply from the request; t_kld_http computes it
 *            with the engine), a completion request asking for
 *            "prompt_logprobs" gets its reply
 *   /v1/embeddings (OpenAI shape) and /encode (a custom service:
 *            {"text"} -> {"vector": [...], "dimension": D})
 * and injects faults (enum tq_fault). One connection at a time, each closed
 * after its reply; requests that are slow delay the others. The fake model:
 *   next token after prompt P: " A".." D" get tq_fake_next(P, c), then
 *   "x0".."x9" get -8 - k; echo tokens are single characters (code points),
 *   token k has log-probability tq_fake_echo(k).
 */
#ifndef QE_TQ_HTTPD_H
#define QE_TQ_HTTPD_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cjson/cJSON.h>

enum tq_shape { TQ_VLLM, TQ_LMDEPLOY, TQ_SGLANG };

enum tq_fault {
	TQ_OK = 0,
	TQ_400,          /* every completion: 400 {"error": {"message": "prompt is too long"}} */
	TQ_500,          /* every completion: 500, retried, then fails */
	TQ_503_TWICE,    /* the first two completions (after fault_after) 503, then as TQ_OK */
	TQ_SLOW,         /* completions answer after slow_ms */
	TQ_TRUNCATED,    /* completion replies cut in half (a Content-Length that matches) */
	TQ_NO_LOGPROBS,  /* "logprobs": null */
	TQ_MISSING,      /* the top entries lack " C" */
	TQ_DOWN_AFTER,   /* after down_after completions, stop listening (a dead server) */
};

struct tq_httpd {
	int port;
	int shape, fault;
	int slow_ms, down_after, dim;
	int fault_after;           /* completions answered without the fault first (the probe at open) */
	int ttft_ms, itl_ms;       /* streamed replies: first token after ttft_ms, then one per itl_ms */
	int n_completions;         /* completion requests answered */
	int n_requests;
	char last_auth[256];       /* the last Authorization header seen */
	char model[64];
	cJSON *(*prompt_logprobs)(void *arg, const cJSON *req); /* NULL = not offered */
	void *hook_arg;
	int lfd, stop;
	pthread_t th;
	pthread_mutex_t mu;
};

static inline uint32_t tq_fnv(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* the fake model's log-probability of choice c (0..3) after prompt p */
static inline double tq_fake_next(const char *p, int c)
{
	return -0.25 - 0.5 * (double)((tq_fnv(p) + (uint32_t)c * 7u) % 11u) / 4.0;
}

static inline double tq_fake_echo(size_t k)
{
	return k == 0 ? 0.0 : -0.125 * (double)(1 + k % 5);
}

/* the fake embedding of text: dim numbers from its hash (not unit length) */
static inline void tq_fake_vec(const char *text, int dim, double *v)
{
	uint32_t h = tq_fnv(text);
	for (int i = 0; i < dim; i++) {
		h = h * 1664525u + 1013904223u;
		v[i] = (double)(h >> 8) / (double)(1u << 24) - 0.5;
	}
}

static inline void tq_httpd_reply(int fd, int status, const char *body, size_t len)
{
	char head[256];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
			 status, len);
	if (send(fd, head, (size_t)n, MSG_NOSIGNAL) < 0 || send(fd, body, len, MSG_NOSIGNAL) < 0)
		return;
}

static inline void tq_reply_json(int fd, int status, cJSON *j)
{
	char *s = cJSON_PrintUnformatted(j);
	tq_httpd_reply(fd, status, s, strlen(s));
	free(s);
	cJSON_Delete(j);
}

/* next-token reply, legacy shape */
static inline cJSON *tq_next_reply(const struct tq_httpd *d, const char *prompt)
{
	static const char *const ch[4] = { " A", " B", " C", " D" };
	cJSON *j = cJSON_CreateObject(), *c = cJSON_CreateObject(), *lp, *top, *d0;
	int best = 0;

	cJSON_AddItemToArray(cJSON_AddArrayToObject(j, "choices"), c);
	if (d->fault == TQ_NO_LOGPROBS) {
		cJSON_AddStringToObject(c, "text", " A");
		cJSON_AddNullToObject(c, "logprobs");
		return j;
	}
	lp = cJSON_AddObjectToObject(c, "logprobs");
	top = cJSON_AddArrayToObject(lp, "top_logprobs");
	d0 = cJSON_CreateObject();
	for (int k = 0; k < 4; k++) {
		if (d->fault == TQ_MISSING && k == 2)
			continue;
		cJSON_AddNumberToObject(d0, ch[k], tq_fake_next(prompt, k));
		best = tq_fake_next(prompt, k) > tq_fake_next(prompt, best) ? k : best;
	}
	for (int k = 0; k < 10; k++) {
		char t[8];
		snprintf(t, sizeof(t), "x%d", k);
		cJSON_AddNumberToObject(d0, t, -8.0 - k);
	}
	cJSON_AddItemToArray(top, d0);
	cJSON_AddItemToArray(cJSON_AddArrayToObject(lp, "tokens"), cJSON_CreateString(ch[best]));
	cJSON_AddItemToArray(cJSON_AddArrayToObject(lp, "token_logprobs"), cJSON_CreateNumber(tq_fake_next(prompt, best)));
	cJSON_AddItemToArray(cJSON_AddArrayToObject(lp, "text_offset"), cJSON_CreateNumber(0));
	cJSON_AddStringToObject(c, "text", ch[best]);
	cJSON_AddNumberToObject(cJSON_AddObjectToObject(j, "usage"), "prompt_tokens", (double)strlen(prompt));
	return j;
}

/* echo reply, legacy shape: one token per code point of prompt, then one
 * generated token "x0" */
static inline cJSON *tq_echo_reply(const char *prompt)
{
	cJSON *j = cJSON_CreateObject(), *c = cJSON_CreateObject(), *lp;
	cJSON *tk, *tl, *top, *off;
	size_t k = 0;

	cJSON_AddItemToArray(cJSON_AddArrayToObject(j, "choices"), c);
	cJSON_AddStringToObject(c, "text", "x0");
	lp = cJSON_AddObjectToObject(c, "logprobs");
	tk = cJSON_AddArrayToObject(lp, "tokens");
	tl = cJSON_AddArrayToObject(lp, "token_logprobs");
	top = cJSON_AddArrayToObject(lp, "top_logprobs");
	off = cJSON_AddArrayToObject(lp, "text_offset");
	for (const char *p = prompt; *p; k++) {
		const char *q = p + 1;
		char t[8];
		cJSON *d0 = cJSON_CreateObject();
		while ((*q & 0xC0) == 0x80)
			q++;
		snprintf(t, sizeof(t), "%.*s", (int)(q - p), p);
		cJSON_AddItemToArray(tk, cJSON_CreateString(t));
		cJSON_AddItemToArray(tl, k == 0 ? cJSON_CreateNull() : cJSON_CreateNumber(tq_fake_echo(k)));
		cJSON_AddItemToArray(off, cJSON_CreateNumber((double)k));
		cJSON_AddNumberToObject(d0, t, tq_fake_echo(k));
		cJSON_AddNumberToObject(d0, "zz", k % 3 == 0 ? -0.01 : -9.0); /* token k is greedy unless k % 3 == 0 */
		cJSON_AddItemToArray(top, k == 0 ? (cJSON_Delete(d0), cJSON_CreateNull()) : d0);
		p = q;
	}
	cJSON_AddItemToArray(tk, cJSON_CreateString("x0"));
	cJSON_AddItemToArray(tl, cJSON_CreateNumber(-1));
	cJSON_AddItemToArray(off, cJSON_CreateNumber((double)k));
	cJSON_AddItemToArray(top, cJSON_CreateObject());
	return j;
}

/* a streamed reply (server-sent events): max_tokens events of one token
 * each, the first after ttft_ms, then one per itl_ms; a usage chunk; [DONE] */
static inline void tq_stream(const struct tq_httpd *d, int fd, const cJSON *req)
{
	static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n";
	static const char ev[] = "data: {\"choices\":[{\"index\":0,\"text\":\" x\"}]}\n\n";
	int n = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(req, "max_tokens"));
	char tail[160];
	int k;

	if (send(fd, head, sizeof(head) - 1, MSG_NOSIGNAL) < 0)
		return;
	for (int i = 0; i < n; i++) {
		usleep((useconds_t)(i == 0 ? d->ttft_ms : d->itl_ms) * 1000);
		if (send(fd, ev, sizeof(ev) - 1, MSG_NOSIGNAL) < 0)
			return;
	}
	k = snprintf(tail, sizeof(tail), "data: {\"choices\":[],\"usage\":{\"completion_tokens\":%d}}\n\ndata: [DONE]\n\n", n);
	if (send(fd, tail, (size_t)k, MSG_NOSIGNAL) < 0)
		return;
}

static inline void tq_completions(struct tq_httpd *d, int fd, const cJSON *req)
{
	const char *prompt = cJSON_GetStringValue(cJSON_GetObjectItem(req, "prompt"));
	int echo = cJSON_IsTrue(cJSON_GetObjectItem(req, "echo")), n = ++d->n_completions;
	cJSON *j;

	if (cJSON_IsTrue(cJSON_GetObjectItem(req, "stream"))) {
		tq_stream(d, fd, req);
		return;
	}
	if (d->prompt_logprobs && cJSON_GetObjectItem(req, "prompt_logprobs")) {
		j = d->prompt_logprobs(d->hook_arg, req);
		if (j)
			tq_reply_json(fd, 200, j);
		else
			tq_httpd_reply(fd, 400, "{\"error\":{\"message\":\"bad prompt_logprobs request\"}}", 51);
		return;
	}
	if (!prompt)
		prompt = "";
	if (n <= d->fault_after) {
		tq_reply_json(fd, 200, echo ? tq_echo_reply(prompt) : tq_next_reply(&(struct tq_httpd){ .fault = TQ_OK }, prompt));
		return;
	}
	if (d->fault == TQ_400) {
		tq_httpd_reply(fd, 400, "{\"error\":{\"message\":\"prompt is too long\",\"code\":400}}", 54);
		return;
	}
	if (d->fault == TQ_500 || (d->fault == TQ_503_TWICE && n - d->fault_after <= 2)) {
		tq_httpd_reply(fd, d->fault == TQ_500 ? 500 : 503, "{\"error\":\"overloaded\"}", 22);
		return;
	}
	if (d->fault == TQ_SLOW)
		usleep((useconds_t)d->slow_ms * 1000);
	if (d->shape == TQ_SGLANG && !echo) {
		tq_reply_json(fd, 200, tq_next_reply(&(struct tq_httpd){ .fault = TQ_NO_LOGPROBS }, prompt));
		return;
	}
	if (echo && d->shape != TQ_VLLM) {
		tq_httpd_reply(fd, 400, "{\"error\":{\"message\":\"echo is not supported\"}}", 46);
		return;
	}
	j = echo ? tq_echo_reply(prompt) : tq_next_reply(d, prompt);
	if (d->fault == TQ_TRUNCATED) {
		char *s = cJSON_PrintUnformatted(j);
		tq_httpd_reply(fd, 200, s, strlen(s) / 2);
		free(s);
		cJSON_Delete(j);
		return;
	}
	tq_reply_json(fd, 200, j);
}

/* SGLang's /generate: "<s>" then one token per code point of text, token k
 * (the k-th code point) with tq_fake_echo(k) */
static inline void tq_generate(int fd, const cJSON *req)
{
	const char *text = cJSON_GetStringValue(cJSON_GetObjectItem(req, "text"));
	cJSON *j = cJSON_CreateObject(), *mi, *in, *top, *e, *t0;
	size_t k = 0;

	cJSON_AddStringToObject(j, "text", "x");
	mi = cJSON_AddObjectToObject(j, "meta_info");
	in = cJSON_AddArrayToObject(mi, "input_token_logprobs");
	top = cJSON_AddArrayToObject(mi, "input_top_logprobs");
	e = cJSON_CreateArray();
	cJSON_AddItemToArray(e, cJSON_CreateNull());
	cJSON_AddItemToArray(e, cJSON_CreateNumber(1));
	cJSON_AddItemToArray(e, cJSON_CreateString("<s>"));
	cJSON_AddItemToArray(in, e);
	cJSON_AddItemToArray(top, cJSON_CreateNull());
	for (const char *p = text ? text : ""; *p; k++) {
		const char *q = p + 1;
		char t[8];
		while ((*q & 0xC0) == 0x80)
			q++;
		snprintf(t, sizeof(t), "%.*s", (int)(q - p), p);
		e = cJSON_CreateArray();
		cJSON_AddItemToArray(e, k == 0 ? cJSON_CreateNull() : cJSON_CreateNumber(tq_fake_echo(k)));
		cJSON_AddItemToArray(e, cJSON_CreateNumber(100 + (double)k));
		cJSON_AddItemToArray(e, cJSON_CreateString(t));
		cJSON_AddItemToArray(in, e);
		t0 = cJSON_CreateArray();
		cJSON_AddItemToArray(t0, cJSON_CreateNumber(k % 3 == 0 ? -0.01 : tq_fake_echo(k)));
		cJSON_AddItemToArray(t0, cJSON_CreateNumber(7));
		cJSON_AddItemToArray(t0, cJSON_CreateString(k % 3 == 0 ? "zz" : t));
		e = cJSON_CreateArray();
		cJSON_AddItemToArray(e, t0);
		cJSON_AddItemToArray(top, e);
		p = q;
	}
	cJSON_AddNumberToObject(mi, "prompt_tokens", (double)k + 1);
	tq_reply_json(fd, 200, j);
}

static inline void tq_embeddings(struct tq_httpd *d, int fd, const cJSON *req, int custom)
{
	cJSON *j = cJSON_CreateObject(), *data = custom ? NULL : cJSON_AddArrayToObject(j, "data"), *in;
	const cJSON *t;
	double v[1024];
	int i = 0;

	if (custom) {
		const char *text = cJSON_GetStringValue(cJSON_GetObjectItem(req, "text"));
		tq_fake_vec(text ? text : "", d->dim, v);
		cJSON_AddItemToObject(j, "vector", cJSON_CreateDoubleArray(v, d->dim));
		cJSON_AddNumberToObject(j, "dimension", d->dim);
		tq_reply_json(fd, text ? 200 : 422, j);
		return;
	}
	in = cJSON_GetObjectItem(req, "input");
	cJSON_ArrayForEach(t, in) {
		cJSON *o = cJSON_CreateObject();
		tq_fake_vec(t->valuestring, d->dim, v);
		cJSON_AddStringToObject(o, "object", "embedding");
		cJSON_AddNumberToObject(o, "index", i++);
		cJSON_AddItemToObject(o, "embedding", cJSON_CreateDoubleArray(v, d->dim));
		cJSON_AddItemToArray(data, o);
	}
	tq_reply_json(fd, 200, j);
}

static inline void tq_models(struct tq_httpd *d, int fd)
{
	char b[256];
	int n = snprintf(b, sizeof(b),
			 "{\"object\":\"list\",\"data\":[{\"id\":\"%s\",\"object\":\"model\",\"owned_by\":\"%s\",\"max_model_len\":2048}]}",
			 d->model, d->shape == TQ_VLLM ? "vllm" : d->shape == TQ_SGLANG ? "sglang" : "lmdeploy");
	tq_httpd_reply(fd, 200, b, (size_t)n);
}

/* Read one request (head and Content-Length body) and answer it. */
static inline void tq_httpd_serve(struct tq_httpd *d, int fd)
{
	static char buf[1 << 20];
	size_t len = 0, need = 0;
	char *body = NULL, *a;
	cJSON *req;

	for (;;) {
		ssize_t r = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (r <= 0)
			break;
		len += (size_t)r;
		buf[len] = '\0';
		if (!body && (body = strstr(buf, "\r\n\r\n")) != NULL) {
			const char *cl = strcasestr(buf, "Content-Length:");
			body += 4;
			need = (size_t)(body - buf) + (cl ? (size_t)atol(cl + 15) : 0);
		}
		if (body && len >= need)
			break;
	}
	if (!body)
		return;
	pthread_mutex_lock(&d->mu);
	d->n_requests++;
	a = strcasestr(buf, "Authorization: ");
	if (a)
		snprintf(d->last_auth, sizeof(d->last_auth), "%.*s", (int)strcspn(a + 15, "\r\n"), a + 15);
	pthread_mutex_unlock(&d->mu);
	req = cJSON_Parse(body);
	if (!strncmp(buf, "GET /v1/models", 14))
		tq_models(d, fd);
	else if (!strncmp(buf, "POST /v1/completions", 20))
		tq_completions(d, fd, req);
	else if (!strncmp(buf, "POST /v1/embeddings", 19))
		tq_embeddings(d, fd, req, 0);
	else if (!strncmp(buf, "POST /generate", 14) && d->shape == TQ_SGLANG)
		tq_generate(fd, req);
	else if (!strncmp(buf, "POST /encode", 12))
		tq_embeddings(d, fd, req, 1);
	else
		tq_httpd_reply(fd, 404, "{\"error\":\"not found\"}", 21);
	cJSON_Delete(req);
}

static inline int tq_httpd_listen(struct tq_httpd *d)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)d->port) };
	socklen_t al = sizeof(a);
	int one = 1;

	d->lfd = socket(AF_INET, SOCK_STREAM, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(d->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (d->lfd < 0 || bind(d->lfd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(d->lfd, 64) != 0)
		return -1;
	getsockname(d->lfd, (struct sockaddr *)&a, &al);
	d->port = ntohs(a.sin_port);
	return 0;
}

static inline void *tq_httpd_main(void *arg)
{
	struct tq_httpd *d = arg;

	while (!d->stop) {
		int fd = accept(d->lfd, NULL, NULL);
		if (fd < 0)
			break;
		if (!d->stop)
			tq_httpd_serve(d, fd);
		close(fd);
		if (d->fault == TQ_DOWN_AFTER && d->n_completions >= d->down_after) {
			close(d->lfd); /* connections are refused from now on */
			d->lfd = -1;
			break;
		}
	}
	return NULL;
}

/* Start on 127.0.0.1 (port 0 = a free one; d->port then says which). */
static inline int tq_httpd_start(struct tq_httpd *d)
{
	if (!d->model[0])
		snprintf(d->model, sizeof(d->model), "fake");
	if (!d->dim)
		d->dim = 8;
	d->stop = 0;
	pthread_mutex_init(&d->mu, NULL);
	if (tq_httpd_listen(d) != 0)
		return -1;
	return pthread_create(&d->th, NULL, tq_httpd_main, d);
}

static inline void tq_httpd_stop(struct tq_httpd *d)
{
	int fd;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)d->port) };

	d->stop = 1;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (d->lfd >= 0 && (fd = socket(AF_INET, SOCK_STREAM, 0)) >= 0) { /* wake accept() */
		if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) { /* nothing */ }
		close(fd);
	}
	pthread_join(d->th, NULL);
	if (d->lfd >= 0)
		close(d->lfd);
	d->lfd = -1;
	pthread_mutex_destroy(&d->mu);
}

#endif
