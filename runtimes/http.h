/* qeval — a small HTTP client for the server runtimes (openai, rest), over
 * libcurl's multi interface: many requests in flight, each with its own
 * timeout, retried with exponential backoff when the server is busy or
 * failing (HTTP 429, 5xx) or cannot be reached (connection refused or reset,
 * a timeout, a reply cut short).
 *
 * Thread-safety: one client is used by one thread at a time. The API key is
 * sent as "Authorization: Bearer KEY" and appears in no message, reply or
 * log this file writes.
 */
#ifndef QE_HTTP_H
#define QE_HTTP_H

#include <stddef.h>

#include "harness/base/err.h"

struct qe_http;

struct qe_http_opts {
	double timeout_s;    /* seconds one try may take, connect to last byte; 0 = 600 */
	int retries;         /* further tries after the first fails retryably; -1 = 4 */
	double backoff_s;    /* wait before the first retry, doubled per retry (at most 30 s); 0 = 0.5 */
	int inflight;        /* requests in flight at once, 0 = 4 */
	const char *api_key; /* NULL or "" = none; copied */
};

struct qe_http_opts qe_http_default_opts(void);

/* One request. Filled by the caller: url, body (NULL = GET, else a JSON POST),
 * on_data (optional: each piece of the reply body as it arrives, with the
 * seconds since the try began; the body is then still collected). Filled by
 * qe_http_run: the rest. */
struct qe_http_req {
	const char *url;
	const char *body;
	void (*on_data)(void *arg, const char *data, size_t n, double t_s);
	void *arg;

	int rc;              /* 0 = an HTTP reply came (any status), else QE_ERUNTIME */
	long status;         /* HTTP status of the last try, 0 = none */
	char *reply;         /* the last try's body, NUL-terminated; owned: qe_http_req_release */
	size_t reply_len;
	int tries;           /* tries made */
	double t_s;          /* seconds of the last try */
	double t_start;      /* qe_now() when the last try began */
	char error[256];     /* rc != 0: why, naming the URL and the tries */
};

/* A client with opts (copied). NULL when out of memory or libcurl fails. */
struct qe_http *qe_http_new(const struct qe_http_opts *opts);
void qe_http_free(struct qe_http *h);

/* Run n requests, at most opts.inflight at a time, each retried as above.
 * A request that gets an HTTP reply (2xx or a status that is not retried)
 * has rc 0 and its status; one that still fails after the last retry has rc
 * QE_ERUNTIME and error set. Returns 0, or QE_ENOMEM / QE_ERUNTIME when the
 * client itself failed (err filled). Re-running a request frees its old reply. */
int qe_http_run(struct qe_http *h, struct qe_http_req *reqs, size_t n, struct qe_err *err);

/* Requests in flight from now on (>= 1): a serving run's concurrency. */
void qe_http_set_inflight(struct qe_http *h, int n);

/* Retries from now on (>= 0); returns the previous number. */
int qe_http_set_retries(struct qe_http *h, int n);

/* Free a request's reply and clear what qe_http_run filled. */
void qe_http_req_release(struct qe_http_req *r);

struct cJSON;

/* Split a level URL "BASE#{JSON}" into the base URL and its options (the
 * fragment, parsed; *opts NULL when none; caller cJSON_Deletes). The server
 * runtimes keep a level's options there: a fragment is never sent. QE_EINVAL
 * naming the URL when the fragment is not a JSON object. */
int qe_http_url_split(const char *url, char *base, size_t cap, struct cJSON **opts, struct qe_err *err);

/* The inverse: "BASE#{JSON of opts}" into out[cap] (level: its name, for
 * the message). QE_EINVAL when it does not fit, QE_ENOMEM. */
int qe_http_url_join(const char *base, const struct cJSON *opts, const char *level, char *out, size_t cap,
		     struct qe_err *err);

/* 1 when status is retried: 408, 429 and 5xx. */
int qe_http_status_retryable(long status);

#endif
