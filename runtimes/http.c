/* qeval — the HTTP client of the server runtimes (runtimes/http.h).
 *
 * One libcurl multi handle drives up to opts.inflight easy handles. Each
 * request moves WAIT -> ACTIVE -> (WAIT again after a retryable failure,
 * not before its backoff time) -> DONE. Nothing here prints.
 */
#include "runtimes/http.h"
#include "harness/base/sys.h"

#include <cjson/cJSON.h>

#include <curl/curl.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HTTP_BACKOFF_MAX_S 30.0

struct qe_http {
	struct qe_http_opts o;
	char *api_key;               /* owned copy, NULL = none */
	CURLM *multi;
	struct curl_slist *headers;  /* content type and authorization */
};

enum { ST_WAIT, ST_ACTIVE, ST_DONE };

/* what qe_http_run keeps per request */
struct tr {
	int state;
	double next_at;              /* qe_now() after which a WAIT request may start */
	double t0;                   /* qe_now() when the try started */
	CURL *e;
	char *buf;
	size_t len, cap;
	char curl_err[CURL_ERROR_SIZE];
	struct qe_http_req *r;
};

static int curl_ready;

struct qe_http_opts qe_http_default_opts(void)
{
	struct qe_http_opts o = { .timeout_s = 600, .retries = 4, .backoff_s = 0.5, .inflight = 4, .api_key = NULL };
	return o;
}

struct qe_http *qe_http_new(const struct qe_http_opts *opts)
{
	struct qe_http *h = calloc(1, sizeof(*h));
	char auth[1200];

	if (!h)
		return NULL;
	if (!curl_ready && curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK)
		curl_ready = 1;
	h->o = *opts;
	if (h->o.timeout_s <= 0)
		h->o.timeout_s = 600;
	if (h->o.retries < 0)
		h->o.retries = 4;
	if (h->o.backoff_s <= 0)
		h->o.backoff_s = 0.5;
	if (h->o.inflight <= 0)
		h->o.inflight = 4;
	h->o.api_key = NULL;
	h->multi = curl_ready ? curl_multi_init() : NULL;
	h->headers = curl_slist_append(NULL, "Content-Type: application/json");
	if (opts->api_key && *opts->api_key) {
		h->api_key = strdup(opts->api_key);
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", opts->api_key);
		h->headers = h->headers ? curl_slist_append(h->headers, auth) : NULL;
		memset(auth, 0, sizeof(auth));
	}
	if (!h->multi || !h->headers || (opts->api_key && *opts->api_key && !h->api_key)) {
		qe_http_free(h);
		return NULL;
	}
	return h;
}

void qe_http_free(struct qe_http *h)
{
	if (!h)
		return;
	if (h->multi)
		curl_multi_cleanup(h->multi);
	curl_slist_free_all(h->headers);
	if (h->api_key) {
		memset(h->api_key, 0, strlen(h->api_key));
		free(h->api_key);
	}
	free(h);
}

void qe_http_set_inflight(struct qe_http *h, int n)
{
	h->o.inflight = n >= 1 ? n : 1;
}

int qe_http_set_retries(struct qe_http *h, int n)
{
	int old = h->o.retries;

	h->o.retries = n >= 0 ? n : 0;
	return old;
}

void qe_http_req_release(struct qe_http_req *r)
{
	free(r->reply);
	r->reply = NULL;
	r->reply_len = 0;
	r->rc = 0;
	r->status = 0;
	r->tries = 0;
	r->t_s = 0;
	r->t_start = 0;
	r->error[0] = '\0';
}

int qe_http_status_retryable(long status)
{
	return status == 408 || status == 429 || (status >= 500 && status <= 599);
}

static size_t on_write(char *p, size_t size, size_t nmemb, void *arg)
{
	struct tr *t = arg;
	size_t n = size * nmemb;

	if (t->len + n + 1 > t->cap) {
		size_t cap = t->cap ? t->cap : 4096;
		char *nb;
		while (cap < t->len + n + 1)
			cap *= 2;
		nb = realloc(t->buf, cap);
		if (!nb)
			return 0; /* libcurl fails the transfer: CURLE_WRITE_ERROR */
		t->buf = nb;
		t->cap = cap;
	}
	memcpy(t->buf + t->len, p, n);
	t->len += n;
	t->buf[t->len] = '\0';
	if (t->r->on_data)
		t->r->on_data(t->r->arg, p, n, qe_now() - t->t0);
	return n;
}

/* Start one try of t. */
static int try_start(struct qe_http *h, struct tr *t)
{
	CURL *e = curl_easy_init();
	long to_ms = (long)(h->o.timeout_s * 1000);

	if (!e)
		return QE_ENOMEM;
	t->len = 0;
	if (t->buf)
		t->buf[0] = '\0';
	t->curl_err[0] = '\0';
	curl_easy_setopt(e, CURLOPT_URL, t->r->url);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, h->headers);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, to_ms);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, to_ms);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->curl_err);
	curl_easy_setopt(e, CURLOPT_PRIVATE, t);
	if (t->r->body) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, t->r->body);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(t->r->body));
	}
	if (curl_multi_add_handle(h->multi, e) != CURLM_OK) {
		curl_easy_cleanup(e);
		return QE_ERUNTIME;
	}
	t->e = e;
	t->state = ST_ACTIVE;
	t->t0 = qe_now();
	t->r->t_start = t->t0;
	t->r->tries++;
	return 0;
}

/* A finished try: keep the reply, or schedule a retry. */
static void try_end(struct qe_http *h, struct tr *t, CURLcode cc)
{
	struct qe_http_req *r = t->r;
	long status = 0;
	int retry;

	curl_easy_getinfo(t->e, CURLINFO_RESPONSE_CODE, &status);
	curl_multi_remove_handle(h->multi, t->e);
	curl_easy_cleanup(t->e);
	t->e = NULL;
	r->t_s = qe_now() - t->t0;
	r->status = cc == CURLE_OK ? status : 0;
	retry = cc != CURLE_OK ? cc != CURLE_URL_MALFORMAT && cc != CURLE_UNSUPPORTED_PROTOCOL
			       : qe_http_status_retryable(status);
	if (retry && r->tries <= h->o.retries) {
		double wait = h->o.backoff_s * pow(2.0, r->tries - 1);
		t->next_at = qe_now() + (wait < HTTP_BACKOFF_MAX_S ? wait : HTTP_BACKOFF_MAX_S);
		t->state = ST_WAIT;
		return;
	}
	t->state = ST_DONE;
	free(r->reply);
	r->reply = t->buf ? t->buf : strdup("");
	r->reply_len = t->len;
	t->buf = NULL;
	t->len = t->cap = 0;
	if (cc != CURLE_OK) {
		r->rc = QE_ERUNTIME;
		snprintf(r->error, sizeof(r->error), "%s %s: %s after %d tr%s", r->body ? "POST" : "GET", r->url,
			 cc == CURLE_OPERATION_TIMEDOUT ? "timed out" : t->curl_err[0] ? t->curl_err : curl_easy_strerror(cc),
			 r->tries, r->tries == 1 ? "y" : "ies");
	} else if (retry) {
		r->rc = QE_ERUNTIME;
		snprintf(r->error, sizeof(r->error), "%s %s: HTTP %ld after %d tr%s", r->body ? "POST" : "GET", r->url, status,
			 r->tries, r->tries == 1 ? "y" : "ies");
	}
}

/* Start every waiting request that is due, up to the in-flight limit;
 * *next_due = seconds until the next one waiting is due (or 1). */
static int start_due(struct qe_http *h, struct tr *ts, size_t n, size_t *active, double *next_due)
{
	double now = qe_now();
	int rc;

	*next_due = 1.0;
	for (size_t i = 0; i < n; i++) {
		if (ts[i].state != ST_WAIT)
			continue;
		if (ts[i].next_at > now) {
			if (ts[i].next_at - now < *next_due)
				*next_due = ts[i].next_at - now;
			continue;
		}
		if (*active >= (size_t)h->o.inflight)
			continue;
		if ((rc = try_start(h, &ts[i])) != 0)
			return rc;
		(*active)++;
	}
	return 0;
}

static void tr_release(struct qe_http *h, struct tr *ts, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (ts[i].e) {
			curl_multi_remove_handle(h->multi, ts[i].e);
			curl_easy_cleanup(ts[i].e);
		}
		free(ts[i].buf);
	}
	free(ts);
}

int qe_http_run(struct qe_http *h, struct qe_http_req *reqs, size_t n, struct qe_err *err)
{
	struct tr *ts = calloc(n ? n : 1, sizeof(*ts));
	size_t active = 0, done = 0;
	int rc = 0;

	if (!ts)
		return qe_fail(err, QE_ENOMEM, "out of memory for %zu requests", n);
	for (size_t i = 0; i < n; i++) {
		qe_http_req_release(&reqs[i]);
		ts[i].r = &reqs[i];
	}
	while (done < n && rc == 0) {
		double next_due;
		int running, left, ended;
		CURLMsg *m;
		if ((rc = start_due(h, ts, n, &active, &next_due)) != 0)
			break;
		curl_multi_perform(h->multi, &running);
		ended = 0;
		while ((m = curl_multi_info_read(h->multi, &left)) != NULL) {
			struct tr *t = NULL;
			if (m->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&t);
			try_end(h, t, m->data.result);
			active--;
			ended++;
			done += t->state == ST_DONE;
		}
		/* a slot came free: start the next request now, not after the poll */
		if (done < n && !ended)
			curl_multi_poll(h->multi, NULL, 0, (int)(next_due * 1000) + 1, NULL);
	}
	tr_release(h, ts, n);
	if (rc)
		return qe_fail(err, rc, "the HTTP client failed (%s)", rc == QE_ENOMEM ? "out of memory" : "libcurl");
	return 0;
}

int qe_http_url_join(const char *base, const cJSON *opts, const char *level, char *out, size_t cap,
		     struct qe_err *err)
{
	char *frag = cJSON_PrintUnformatted(opts);
	int rc = 0;

	if (!frag)
		rc = qe_fail(err, QE_ENOMEM, "out of memory");
	else if ((size_t)snprintf(out, cap, "%s#%s", base, frag) >= cap)
		rc = qe_fail(err, QE_EINVAL, "level '%s': url and options longer than %zu bytes", level, cap - 1);
	free(frag);
	return rc;
}

int qe_http_url_split(const char *url, char *base, size_t cap, cJSON **opts, struct qe_err *err)
{
	const char *hash = url ? strchr(url, '#') : NULL;
	size_t n = hash ? (size_t)(hash - url) : strlen(url ? url : "");

	*opts = NULL;
	snprintf(base, cap, "%.*s", (int)n, url ? url : "");
	if (!hash || !hash[1])
		return 0;
	*opts = cJSON_Parse(hash + 1);
	if (!cJSON_IsObject(*opts)) {
		cJSON_Delete(*opts);
		*opts = NULL;
		return qe_fail(err, QE_EINVAL, "endpoint '%s': the options after '#' are not a JSON object", base);
	}
	return 0;
}
