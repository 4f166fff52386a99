/* qeval — the `serve` task: serving speed of a level behind a server, the
 * figures of vLLM's `bench serve` (docs/tasks.md, docs/metrics.md "Serving"):
 * time to first token, time per output token, inter-token latency and
 * end-to-end latency (mean, median, p90, p99), output tokens/s and
 * requests/s, at each concurrency.
 *
 * Why a task of its own and not a mode of `speed`: speed times one request
 * at a time, llama-bench's way (mean and sd of repetitions); serving runs many
 * requests at once and reads distributions over requests.
 *
 * Options: "concurrency": [1, 4, 16]; "requests": per concurrency (0 = 4 x
 * the concurrency, at least 8); "prompt": 128 and "gen": 64 tokens per
 * request (random prompt tokens, end of sequence ignored); "warmup": 1
 * request before each concurrency, not recorded.
 *
 * Records: one per request, id "c<C>/<k>" (k from 0), with its start, TTFT,
 * end-to-end time, output tokens and the gaps between its token events,
 * appended when the concurrency's run is done. A resumed level runs again
 * each concurrency with a missing record, writing only the missing ones.
 * Needs QE_RT_SERVE (the openai runtime); other levels skip it.
 */
#include "harness/tasks/serve_keys.h"
#include "harness/tasks/task.h"
#include "harness/journal.h"
#include "harness/progress.h"
#include "harness/base/json.h"
#include "metrics/serve.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SERVE_MAX_TOKENS (1 << 20)
#define SERVE_MAX_C 1024
#define SERVE_MAX_REQUESTS 100000

struct serve_opts {
	struct qe_ints conc;
	long requests, prompt, gen, warmup;
};

struct serve_state {
	struct serve_opts o;
	uint64_t seed;
};

static const struct qe_optab serve_options[] = {
	{ "concurrency", QE_OT_INTS, offsetof(struct serve_opts, conc), "[1, 4, 16]", 1, SERVE_MAX_C,
	  "requests in flight, one run each (default 1,4,16)", "LIST", QE_OF_MAIN, NULL, NULL },
	{ "requests", QE_OT_INT, offsetof(struct serve_opts, requests), "0", 0, SERVE_MAX_REQUESTS,
	  "requests per concurrency (default 0 = 4 x the concurrency, at least 8)", "N", 0, NULL, NULL },
	{ "prompt", QE_OT_INT, offsetof(struct serve_opts, prompt), "128", 1, SERVE_MAX_TOKENS,
	  "prompt tokens per request (default 128)", "N", 0, NULL, NULL },
	{ "gen", QE_OT_INT, offsetof(struct serve_opts, gen), "64", 1, SERVE_MAX_TOKENS,
	  "tokens generated per request (default 64)", "N", 0, NULL, NULL },
	{ "warmup", QE_OT_INT, offsetof(struct serve_opts, warmup), "1", 0, 100,
	  "requests before each concurrency, not recorded (default 1)", "N", 0, NULL, NULL },
	{ NULL, 0, 0, NULL, 0, 0, NULL, NULL, 0, NULL, NULL },
};

static size_t n_requests(const struct serve_state *s, long c)
{
	long n = s->o.requests > 0 ? s->o.requests : 4 * c;

	return (size_t)(n < 8 && s->o.requests == 0 ? 8 : n);
}

static int serve_prepare(const struct qe_task_spec *ts, void **state, size_t *n_items, struct qe_err *err)
{
	struct serve_state *s = calloc(1, sizeof(*s));

	*state = NULL;
	if (!s)
		return qe_fail(err, QE_ENOMEM, "serve: out of memory");
	s->o = *(const struct serve_opts *)ts->opts;
	s->seed = (uint64_t)ts->seed;
	for (size_t i = 0; i < s->o.conc.n; i++)
		for (size_t j = 0; j < i; j++)
			if (s->o.conc.v[i] == s->o.conc.v[j]) {
				long c = s->o.conc.v[i];
				free(s);
				return qe_fail(err, QE_EINVAL, "serve: concurrency %ld listed twice", c);
			}
	*n_items = 0;
	for (size_t i = 0; i < s->o.conc.n; i++)
		*n_items += n_requests(s, s->o.conc.v[i]);
	*state = s;
	return 0;
}

static void serve_describe(void *state, cJSON *out)
{
	const struct serve_state *s = state;
	cJSON *c = cJSON_AddArrayToObject(out, "concurrency");

	for (size_t i = 0; i < s->o.conc.n; i++)
		cJSON_AddItemToArray(c, cJSON_CreateNumber((double)s->o.conc.v[i]));
	cJSON_AddNumberToObject(out, "requests", (double)s->o.requests);
	cJSON_AddNumberToObject(out, "prompt", (double)s->o.prompt);
	cJSON_AddNumberToObject(out, "gen", (double)s->o.gen);
	cJSON_AddNumberToObject(out, "warmup", (double)s->o.warmup);
	cJSON_AddNumberToObject(out, "seed", (double)s->seed);
}

static void serve_release(void *state)
{
	free(state);
}

/* ======================================================================
 * run_level
 * ====================================================================== */

/* request k's record; o->t_tok holds gen entries at most */
static int append_one(struct qe_task_level *tl, long c, size_t k, int32_t gen, const struct qe_serve_one *o,
		      struct qe_err *err)
{
	cJSON *r = cJSON_CreateObject(), *itl;
	char id[64], st[QE_ERR_MSG + 16];
	int rc;

	snprintf(id, sizeof(id), "c%ld/%zu", c, k);
	cJSON_AddStringToObject(r, "id", id);
	cJSON_AddNumberToObject(r, "c", (double)c);
	cJSON_AddNumberToObject(r, "start_s", o->start_s);
	qe_json_add_num(r, "ttft_s", o->status ? NAN : o->ttft_s);
	cJSON_AddNumberToObject(r, "e2e_s", o->e2e_s);
	cJSON_AddNumberToObject(r, "n_out", o->n_out);
	itl = cJSON_AddArrayToObject(r, "itl_s");
	for (int32_t j = 1; !o->status && o->t_tok && j < o->n_events && j < gen; j++)
		cJSON_AddItemToArray(itl, cJSON_CreateNumber(o->t_tok[j] - o->t_tok[j - 1]));
	snprintf(st, sizeof(st), "error: %s", o->error);
	cJSON_AddStringToObject(r, "status", o->status ? st : "ok");
	rc = qe_journal_append(tl->journal, r, err);
	cJSON_Delete(r);
	return rc;
}

/* One concurrency's run, when a record of it is missing. */
static int run_conc(const struct serve_state *s, struct qe_task_level *tl, long c, struct qe_err *err)
{
	size_t n = n_requests(s, c), missing = 0;
	struct qe_serve_req rq = { (int)s->o.prompt, (int)s->o.gen, n, (int)c, s->seed };
	struct qe_serve_one *out = calloc(n, sizeof(*out));
	double *tt = malloc(n * (size_t)s->o.gen * sizeof(double));
	char id[64];
	int rc = out && tt ? 0 : qe_fail(err, QE_ENOMEM, "serve: out of memory");

	for (size_t k = 0; rc == 0 && k < n; k++) {
		snprintf(id, sizeof(id), "c%ld/%zu", c, k);
		missing += !qe_journal_has(tl->journal, id);
		out[k].t_tok = tt + k * (size_t)s->o.gen;
	}
	qe_progress_add(tl->progress, n - missing);
	if (rc == 0 && missing && s->o.warmup > 0) {
		struct qe_serve_req w = { (int)s->o.prompt, (int)s->o.gen, (size_t)s->o.warmup < n ? (size_t)s->o.warmup : n, 1,
					  s->seed ^ 0x5eedull };
		rc = qe_runtime_serve(tl->rt, &w, out, err);
	}
	if (rc == 0 && missing)
		rc = qe_runtime_serve(tl->rt, &rq, out, err);
	for (size_t k = 0; rc == 0 && missing && k < n; k++) {
		snprintf(id, sizeof(id), "c%ld/%zu", c, k);
		if (!qe_journal_has(tl->journal, id))
			rc = append_one(tl, c, k, (int32_t)s->o.gen, &out[k], err);
	}
	if (rc == 0 && missing)
		rc = qe_journal_sync(tl->journal, err);
	qe_progress_add(tl->progress, missing);
	free(out);
	free(tt);
	return rc;
}

static int serve_run_level(void *state, struct qe_task_level *tl, struct qe_err *err)
{
	const struct serve_state *s = state;
	int rc = 0;

	qe_progress_label(tl->progress, tl->level ? tl->level->name : "", "serve");
	for (size_t i = 0; i < s->o.conc.n && rc == 0; i++)
		rc = run_conc(s, tl, s->o.conc.v[i], err);
	return rc;
}

/* ======================================================================
 * summarize
 * ====================================================================== */

static void add_dist(cJSON *o, const char *key, const struct qe_serve_dist *d)
{
	cJSON *x = cJSON_AddObjectToObject(o, key);

	qe_json_add_num(x, QE_SERVE_MEAN, d->mean);
	qe_json_add_num(x, QE_SERVE_MEDIAN, d->median);
	qe_json_add_num(x, QE_SERVE_P90, d->p90);
	qe_json_add_num(x, QE_SERVE_P99, d->p99);
}

/* The records of concurrency c into times (borrowing itl arrays in gaps). */
static size_t gather(const cJSON *recs, long c, struct qe_serve_times *t, double *gaps, size_t cap_gaps,
		     const char **first_error)
{
	const cJSON *r, *g;
	size_t n = 0, ng = 0;

	cJSON_ArrayForEach(r, recs) {
		if ((long)qe_json_num(r, "c", -1) != c)
			continue;
		t[n] = (struct qe_serve_times){ .ok = !strcmp(qe_json_str(r, "status", ""), "ok"),
						.start_s = qe_json_num(r, "start_s", NAN),
						.ttft_s = qe_json_num(r, "ttft_s", NAN),
						.e2e_s = qe_json_num(r, "e2e_s", NAN),
						.n_out = (int32_t)qe_json_num(r, "n_out", 0),
						.itl_s = gaps + ng };
		cJSON_ArrayForEach(g, cJSON_GetObjectItemCaseSensitive(r, "itl_s"))
			if (ng < cap_gaps && cJSON_IsNumber(g)) {
				gaps[ng++] = g->valuedouble;
				t[n].n_itl++;
			}
		if (!t[n].ok && !*first_error)
			*first_error = qe_json_str(r, "status", "error");
		n++;
	}
	return n;
}

static int conc_block(const struct serve_state *s, const cJSON *recs, long c, cJSON *arr, struct qe_err *err)
{
	size_t cap = (size_t)cJSON_GetArraySize(recs) + 1, cap_gaps = cap * (size_t)s->o.gen + 1, n;
	struct qe_serve_times *t = calloc(cap, sizeof(*t));
	double *gaps = malloc(cap_gaps * sizeof(double));
	const char *first_error = NULL;
	struct qe_serve_summary sum;
	char name[32];
	cJSON *o;
	int rc = t && gaps ? 0 : qe_fail(err, QE_ENOMEM, "serve: out of memory");

	n = rc ? 0 : gather(recs, c, t, gaps, cap_gaps, &first_error);
	if (rc == 0 && n > 0 && (rc = qe_serve_summarize(t, n, &sum, err)) == 0) {
		o = cJSON_CreateObject();
		snprintf(name, sizeof(name), "c%ld", c);
		cJSON_AddStringToObject(o, QE_SERVE_NAME, name);
		cJSON_AddNumberToObject(o, QE_SERVE_C, (double)c);
		cJSON_AddNumberToObject(o, QE_SERVE_N, (double)n);
		cJSON_AddNumberToObject(o, QE_SERVE_N_FAILED, (double)(n - sum.n_ok));
		if (first_error)
			cJSON_AddStringToObject(o, QE_SERVE_ERROR, first_error);
		qe_json_add_num(o, QE_SERVE_DURATION, sum.duration_s);
		cJSON_AddNumberToObject(o, QE_SERVE_OUT_TOKENS, (double)sum.out_tokens);
		qe_json_add_num(o, QE_SERVE_OUT_TPS, sum.output_tps);
		qe_json_add_num(o, QE_SERVE_REQ_RPS, sum.request_rps);
		add_dist(o, QE_SERVE_TTFT, &sum.ttft);
		add_dist(o, QE_SERVE_TPOT, &sum.tpot);
		add_dist(o, QE_SERVE_ITL, &sum.itl);
		add_dist(o, QE_SERVE_E2E, &sum.e2e);
		cJSON_AddItemToArray(arr, o);
	}
	free(t);
	free(gaps);
	return rc;
}

static int serve_summarize(void *state, const struct qe_task_levels *lv, cJSON *out, struct qe_err *err)
{
	const struct serve_state *s = state;
	int rc = 0;

	for (size_t i = 0; i < lv->n && rc == 0; i++) {
		cJSON *blk, *arr;
		if (!lv->records[i] || cJSON_GetArraySize(lv->records[i]) == 0)
			continue;
		blk = cJSON_AddObjectToObject(out, lv->levels[i].name);
		arr = cJSON_AddArrayToObject(blk, QE_SERVE_RUNS);
		for (size_t k = 0; k < s->o.conc.n && rc == 0; k++)
			rc = conc_block(s, lv->records[i], s->o.conc.v[k], arr, err);
	}
	return rc;
}

const struct qe_task qe_task_serve = {
	.name = "serve",
	.summary = "serving speed through a server: TTFT, TPOT, ITL, end-to-end (mean/median/p90/p99), output tokens/s per concurrency",
	.needs = QE_RT_SERVE,
	.options = serve_options,
	.options_size = sizeof(struct serve_opts),
	.prepare = serve_prepare,
	.run_level = serve_run_level,
	.summarize = serve_summarize,
	.describe = serve_describe,
	.release = serve_release,
	.view = &qe_view_serve,
};
