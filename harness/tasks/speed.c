/* qeval — the `speed` task: tokens per second of prompt processing and
 * generation at every level, measured the way llama-bench measures
 * (docs/speed.md), so the two tools' figures compare.
 *
 * Tests, from the options (all optional):
 *   "pp": [512]      prompt sizes: test "pp<P>" decodes a P-token prompt
 *   "tg": [128]      generation sizes: test "tg<G>" decodes G single tokens
 *                    from an empty cache
 *   "pp_tg": true    also "pp<P0>+tg<G0>" for the first sizes of both lists:
 *                    time to first token, then per-token latency
 *   "reps": 5        timed repetitions per test
 *   "warmup": 1      untimed runs before a test's repetitions (llama-bench's
 *                    warm-up: the whole prompt, and one generated token)
 *   "seed": 42       seeds the random token streams
 *
 * Records: one per repetition, id "<test>/<rep>" (rep from 1), appended as
 * it finishes; warm-up runs leave none. A resumed level runs only the
 * repetitions missing from the journal (after a warm-up of its own: a fresh
 * process starts cold).
 *
 * Summary: per test the rate of each repetition (tokens / seconds), their
 * mean and sample standard deviation (metrics/speed.h), the raw samples,
 * time to first token and per-token latency for the combined test, the
 * speedup over the reference level, and the level's load time, peak memory,
 * size and settings (from the driver's level.json where present).
 */
#include "harness/tasks/speed_keys.h"
#include "harness/tasks/task.h"
#include "harness/base/sys.h"
#include "harness/journal.h"
#include "harness/progress.h"
#include "harness/base/json.h"
#include "harness/base/sys.h"
#include "metrics/speed.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SPEED_MAX_SIZES 32
#define SPEED_MAX_TESTS (2 * SPEED_MAX_SIZES + 1)
#define SPEED_MAX_TOKENS (1 << 20)  /* largest prompt or generation size accepted */
#define SPEED_MAX_REPS 1000
#define SPEED_MAX_WARMUP 100

struct speed_test {
	char name[48];   /* "pp512", "tg128", "pp512+tg128" */
	int n_prompt;    /* tokens, 0 = none */
	int n_gen;       /* tokens, 0 = none */
};

struct speed_state {
	int pp[SPEED_MAX_SIZES], tg[SPEED_MAX_SIZES];
	size_t n_pp, n_tg;
	int pp_tg;               /* 1 = the combined test */
	int reps, warmup;
	int depth;               /* tokens in the context before each test (llama-bench -d) */
	uint64_t seed;
	struct speed_test tests[SPEED_MAX_TESTS];
	size_t n_tests;
};

/* ======================================================================
 * Options
 * ====================================================================== */

struct speed_opts {
	const cJSON *pp, *tg;    /* size lists (checked by check_sizes) */
	int pp_tg;
	long reps, warmup, depth;
};

static int add_size(const cJSON *it, const char *key, int *out, size_t *n, struct qe_err *err)
{
	if (!cJSON_IsNumber(it) || it->valuedouble != floor(it->valuedouble) ||
	    it->valuedouble < 1 || it->valuedouble > SPEED_MAX_TOKENS)
		return qe_fail(err, QE_EINVAL, "'%s' sizes must be whole token counts in 1..%d",
			       key, SPEED_MAX_TOKENS);
	if (*n == SPEED_MAX_SIZES)
		return qe_fail(err, QE_EINVAL, "more than %d '%s' sizes", SPEED_MAX_SIZES, key);
	for (size_t i = 0; i < *n; i++)
		if (out[i] == (int)it->valuedouble)
			return qe_fail(err, QE_EINVAL, "'%s' size %d listed twice", key, out[i]);
	out[(*n)++] = (int)it->valuedouble;
	return 0;
}

/* A size list: a number or an array of numbers (possibly empty: no such
 * test), each a whole count in [1, SPEED_MAX_TOKENS], no repeats. */
static int parse_sizes(const cJSON *v, const char *key, int *out, size_t *n, struct qe_err *err)
{
	const cJSON *it;
	int rc;

	*n = 0;
	if (cJSON_IsNumber(v))
		return add_size(v, key, out, n, err);
	if (!cJSON_IsArray(v))
		return qe_fail(err, QE_EINVAL, "'%s' must be a number or a list of numbers", key);
	cJSON_ArrayForEach(it, v)
		if ((rc = add_size(it, key, out, n, err)) != 0)
			return rc;
	return 0;
}

static int check_sizes(const cJSON *v, void *field, struct qe_err *err)
{
	int sizes[SPEED_MAX_SIZES];
	size_t n;

	return parse_sizes(v, v->string ? v->string : "sizes", sizes, &n, err);
}

static const struct qe_optab speed_options[] = {
	{ "pp", QE_OT_JSON, offsetof(struct speed_opts, pp), NULL, 0, 0,
	  "prompt sizes, tokens (default 512; [] = none)", "LIST", 0, NULL, check_sizes },
	{ "tg", QE_OT_JSON, offsetof(struct speed_opts, tg), NULL, 0, 0,
	  "generation sizes, tokens (default 128; [] = none)", "LIST", 0, NULL, check_sizes },
	{ "pp_tg", QE_OT_BOOL, offsetof(struct speed_opts, pp_tg), "true", 0, 0,
	  "also the combined test: the first prompt size then the first generation size", NULL, 0, NULL, NULL },
	{ "reps", QE_OT_INT, offsetof(struct speed_opts, reps), "5", 1, SPEED_MAX_REPS,
	  "repetitions of each test (default 5)", "N", 0, NULL, NULL },
	{ "warmup", QE_OT_INT, offsetof(struct speed_opts, warmup), "1", 0, SPEED_MAX_WARMUP,
	  "untimed runs before each test (default 1)", "N", 0, NULL, NULL },
	{ "depth", QE_OT_INT, offsetof(struct speed_opts, depth), "0", 0, 1 << 20,
	  "tokens already in the context before each test (llama-bench -d)", "N", 0, NULL, NULL },
	{ NULL, 0, 0, NULL, 0, 0, NULL, NULL, 0, NULL, NULL },
};

static void add_test(struct speed_state *s, int n_prompt, int n_gen)
{
	struct speed_test *t = &s->tests[s->n_tests++];

	t->n_prompt = n_prompt;
	t->n_gen = n_gen;
	if (n_prompt && n_gen)
		snprintf(t->name, sizeof(t->name), "pp%d+tg%d", n_prompt, n_gen);
	else if (n_prompt)
		snprintf(t->name, sizeof(t->name), "pp%d", n_prompt);
	else
		snprintf(t->name, sizeof(t->name), "tg%d", n_gen);
	if (s->depth > 0) { /* llama-bench writes "pp512 @ d4096" */
		size_t l = strlen(t->name);
		snprintf(t->name + l, sizeof(t->name) - l, "@d%d", s->depth);
	}
}

static int parse_opts(const struct qe_task_spec *ts, struct speed_state *s, struct qe_err *err)
{
	const struct speed_opts *o = ts->opts;
	int rc;

	s->pp[0] = 512;
	s->n_pp = 1;
	s->tg[0] = 128;
	s->n_tg = 1;
	if (o->pp && (rc = parse_sizes(o->pp, "pp", s->pp, &s->n_pp, err)) != 0)
		return rc;
	if (o->tg && (rc = parse_sizes(o->tg, "tg", s->tg, &s->n_tg, err)) != 0)
		return rc;
	s->pp_tg = o->pp_tg;
	s->reps = (int)o->reps;
	s->warmup = (int)o->warmup;
	s->depth = (int)o->depth;
	s->seed = (uint64_t)ts->seed;
	if (s->n_pp + s->n_tg == 0)
		return qe_fail(err, QE_EINVAL, "speed: no test to run ('pp' and 'tg' are both empty)");
	for (size_t i = 0; i < s->n_pp; i++)
		add_test(s, s->pp[i], 0);
	for (size_t i = 0; i < s->n_tg; i++)
		add_test(s, 0, s->tg[i]);
	if (s->pp_tg && s->n_pp && s->n_tg)
		add_test(s, s->pp[0], s->tg[0]);
	return 0;
}

/* ======================================================================
 * prepare / describe / release
 * ====================================================================== */

static int speed_prepare(const struct qe_task_spec *ts, void **state, size_t *n_items, struct qe_err *err)
{
	struct speed_state *s = calloc(1, sizeof(*s));
	int rc;

	*state = NULL;
	if (!s)
		return qe_fail(err, QE_ENOMEM, "speed: out of memory");
	rc = parse_opts(ts, s, err);
	if (rc) {
		free(s);
		return rc;
	}
	*state = s;
	if (n_items)
		*n_items = s->n_tests * (size_t)s->reps;
	return 0;
}

static cJSON *int_array(const int *v, size_t n)
{
	cJSON *a = cJSON_CreateArray();

	for (size_t i = 0; a && i < n; i++)
		cJSON_AddItemToArray(a, cJSON_CreateNumber(v[i]));
	return a;
}

static void speed_describe(void *state, cJSON *out)
{
	const struct speed_state *s = state;
	cJSON *names;

	cJSON_AddItemToObject(out, "pp", int_array(s->pp, s->n_pp));
	cJSON_AddItemToObject(out, "tg", int_array(s->tg, s->n_tg));
	cJSON_AddNumberToObject(out, "depth", s->depth);
	cJSON_AddBoolToObject(out, "pp_tg", s->pp_tg);
	cJSON_AddNumberToObject(out, "reps", s->reps);
	cJSON_AddNumberToObject(out, "warmup", s->warmup);
	cJSON_AddNumberToObject(out, "seed", (double)s->seed);
	names = cJSON_AddArrayToObject(out, "tests");
	for (size_t i = 0; names && i < s->n_tests; i++)
		cJSON_AddItemToArray(names, cJSON_CreateString(s->tests[i].name));
}

static void speed_release(void *state)
{
	free(state);
}

/* ======================================================================
 * run_level
 * ====================================================================== */

static uint64_t mix64(uint64_t z)
{
	z += 0x9e3779b97f4a7c15ull;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* The token stream of test t, repetition rep (1..R; warm-up runs use
 * rep = 0 - w): independent of the level, so every level sees the same. */
static uint64_t rep_seed(const struct speed_state *s, size_t t, int rep)
{
	uint64_t z = mix64(s->seed ^ mix64((uint64_t)t + 1) ^ mix64((uint64_t)(int64_t)rep << 20));

	return z ? z : 1; /* 0 means "the runtime's default" */
}

/* env: the 1-minute load average after the repetition and the CPU seconds
 * stolen during it (NaN = unknown) */
static int append_record(struct qe_task_level *tl, const struct speed_test *t, int rep,
			 const struct qe_speed_res *res, const struct qe_rt_info *info, const double env[2],
			 const char *error, struct qe_err *err)
{
	cJSON *r = cJSON_CreateObject();
	char id[80], status[QE_ERR_MSG + 16];
	int rc;

	if (!r)
		return qe_fail(err, QE_ENOMEM, "speed: out of memory");
	snprintf(id, sizeof(id), "%s/%d", t->name, rep);
	cJSON_AddStringToObject(r, "id", id);
	cJSON_AddStringToObject(r, "test", t->name);
	cJSON_AddNumberToObject(r, "rep", rep);
	cJSON_AddNumberToObject(r, "n_prompt", t->n_prompt);
	cJSON_AddNumberToObject(r, "n_gen", t->n_gen);
	cJSON_AddNumberToObject(r, "t_prompt_s", error ? 0.0 : res->t_prompt_s);
	cJSON_AddNumberToObject(r, "t_gen_s", error ? 0.0 : res->t_gen_s);
	cJSON_AddNumberToObject(r, "t_first_s", error ? 0.0 : res->t_first_s);
	cJSON_AddNumberToObject(r, "threads", info->n_threads);
	cJSON_AddNumberToObject(r, "threads_batch", info->n_threads_batch);
	cJSON_AddNumberToObject(r, "n_gpu_layers", info->n_gpu_layers);
	qe_json_add_num(r, "load1", env[0]);
	qe_json_add_num(r, "steal_s", env[1]);
	if (!error && res->n_batch) {
		cJSON_AddNumberToObject(r, "n_batch", res->n_batch);
		cJSON_AddNumberToObject(r, "n_ubatch", res->n_ubatch);
	}
	if (error)
		snprintf(status, sizeof(status), "error: %s", error);
	cJSON_AddStringToObject(r, "status", error ? status : "ok");
	rc = qe_journal_append(tl->journal, r, err);
	cJSON_Delete(r);
	return rc;
}

static int speed_run_level(void *state, struct qe_task_level *tl, struct qe_err *err)
{
	const struct speed_state *s = state;
	struct qe_rt_info info;

	qe_runtime_describe(tl->rt, &info);
	qe_progress_label(tl->progress, tl->level ? tl->level->name : "", "speed");
	for (size_t ti = 0; ti < s->n_tests; ti++) {
		const struct speed_test *t = &s->tests[ti];
		char id[80], warm_err[QE_ERR_MSG] = "";
		int todo = 0, rc;

		for (int r = 1; r <= s->reps; r++) {
			snprintf(id, sizeof(id), "%s/%d", t->name, r);
			todo += !qe_journal_has(tl->journal, id);
		}
		qe_progress_skip(tl->progress, (size_t)(s->reps - todo));
		if (todo == 0)
			continue;

		/* warm-up, not recorded: the whole prompt and one generated token */
		for (int w = 0; w < s->warmup && !warm_err[0]; w++) {
			struct qe_speed_req rq = { t->n_prompt, t->n_gen > 0 ? 1 : 0, rep_seed(s, ti, -w), s->depth };
			struct qe_speed_res res;
			struct qe_err e = { 0 };
			if (qe_runtime_speed(tl->rt, &rq, &res, &e) != 0)
				snprintf(warm_err, sizeof(warm_err), "warm-up failed: %s", e.msg);
		}

		for (int r = 1; r <= s->reps; r++) {
			struct qe_speed_req rq = { t->n_prompt, t->n_gen, rep_seed(s, ti, r), s->depth };
			struct qe_speed_res res = { 0 };
			struct qe_err e = { 0 };
			const char *why = NULL;
			double steal, env[2];

			snprintf(id, sizeof(id), "%s/%d", t->name, r);
			if (qe_journal_has(tl->journal, id))
				continue;
			if (qe_stop_signal()) /* SIGINT, SIGTERM: stop after a measurement */
				return qe_journal_sync(tl->journal, err);
			steal = qe_steal_s();
			if (warm_err[0])
				why = warm_err;
			else if (qe_runtime_speed(tl->rt, &rq, &res, &e) != 0)
				why = e.msg;
			/* the machine's state during the repetition: how loaded, how much stolen */
			env[0] = qe_load1();
			env[1] = qe_steal_s() - steal;
			/* a failed measurement is a record, not the end of the level;
			 * a journal that cannot be written is */
			rc = append_record(tl, t, r, &res, &info, env, why, err);
			if (rc)
				return rc;
			qe_progress_add(tl->progress, 1);
		}
		rc = qe_journal_sync(tl->journal, err);
		if (rc)
			return rc;
	}
	return 0;
}

/* ======================================================================
 * summarize
 * ====================================================================== */

static double num_or_nan(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static void add_samples(cJSON *o, const char *key, const double *v, size_t n)
{
	cJSON *a = cJSON_AddArrayToObject(o, key);

	for (size_t i = 0; a && i < n; i++)
		cJSON_AddItemToArray(a, isfinite(v[i]) ? cJSON_CreateNumber(v[i]) : cJSON_CreateNull());
}

/* One repetition's measurement, taken from its record. */
struct rep {
	int rep;
	double t_prompt, t_gen, t_first;
};

static int rep_cmp(const void *a, const void *b)
{
	const struct rep *x = a, *y = b;

	return (x->rep > y->rep) - (x->rep < y->rep);
}

/* The level's summary of one test, from the records whose "test" is name.
 * *mean_out = the tokens/s mean (NaN when none), for speedups. */
/* The machine during test `name`'s successful repetitions: mean load average
 * and seconds stolen; the tokens/s coefficient of variation and whether it
 * marks the test noisy (docs/speed.md, "A loaded machine"). */
static void add_env(const cJSON *records, const char *name, cJSON *out, double mean, double sd)
{
	const cJSON *r;
	double load = 0, steal = 0, cv = mean > 0 ? sd / mean : NAN;
	size_t nl = 0, ns = 0;

	cJSON_ArrayForEach(r, records) {
		double l = num_or_nan(r, "load1"), st = num_or_nan(r, "steal_s");
		if (strcmp(qe_json_str(r, "test", ""), name) != 0 || strcmp(qe_json_str(r, "status", ""), "ok") != 0)
			continue;
		if (!isnan(l))
			load += l, nl++;
		if (!isnan(st))
			steal += st, ns++;
	}
	qe_json_add_num(out, QE_SPEED_LOAD1_MEAN, nl ? load / (double)nl : NAN);
	qe_json_add_num(out, QE_SPEED_STEAL_S, ns ? steal : NAN);
	qe_json_add_num(out, QE_SPEED_TPS_CV, cv);
	cJSON_AddBoolToObject(out, QE_SPEED_NOISY, cv > QE_SPEED_NOISY_CV);
}

static int summarize_test(const cJSON *records, const char *name, cJSON *out, double *mean_out,
			  struct qe_err *err)
{
	const cJSON *r;
	struct rep *reps = NULL;
	double *v = NULL;
	uint64_t *ntok = NULL;
	size_t n = 0, cap = 0, n_failed = 0;
	int n_prompt = -1, n_gen = -1, rc = 0;
	const char *first_error = NULL;
	struct qe_speed_summary sum;

	*mean_out = NAN;
	cJSON_ArrayForEach(r, records) {
		const cJSON *test = cJSON_GetObjectItemCaseSensitive(r, "test");
		const cJSON *st = cJSON_GetObjectItemCaseSensitive(r, "status");
		struct rep x;
		double tp, tg;

		if (!cJSON_IsString(test) || strcmp(test->valuestring, name) != 0)
			continue;
		if (n_prompt < 0) {
			n_prompt = (int)num_or_nan(r, "n_prompt");
			n_gen = (int)num_or_nan(r, "n_gen");
		}
		x.rep = (int)num_or_nan(r, "rep");
		x.t_prompt = tp = num_or_nan(r, "t_prompt_s");
		x.t_gen = tg = num_or_nan(r, "t_gen_s");
		x.t_first = num_or_nan(r, "t_first_s");
		/* a usable repetition: status ok, and a positive time for each part */
		if (!cJSON_IsString(st) || strcmp(st->valuestring, "ok") != 0 ||
		    (n_prompt > 0 && !(tp > 0 && isfinite(tp))) || (n_gen > 0 && !(tg > 0 && isfinite(tg))) ||
		    (n_prompt > 0 && n_gen > 0 && !(x.t_first > 0 && isfinite(x.t_first)))) {
			if (!first_error && cJSON_IsString(st) && strcmp(st->valuestring, "ok") != 0)
				first_error = st->valuestring;
			n_failed++;
			continue;
		}
		if (n == cap) {
			struct rep *nr = realloc(reps, (cap = cap ? 2 * cap : 8) * sizeof(*reps));
			if (!nr) {
				free(reps);
			return qe_fail(err, QE_ENOMEM, "speed: out of memory");
			}
			reps = nr;
		}
		reps[n++] = x;
	}
	if (n_prompt < 0) { /* no record at all */
		free(reps);
		return 1;
	}
	if (n > 1)
		qsort(reps, n, sizeof(*reps), rep_cmp);
	v = malloc((n ? n : 1) * sizeof(*v));
	ntok = malloc((n ? n : 1) * sizeof(*ntok));
	if (!v || !ntok) {
		rc = qe_fail(err, QE_ENOMEM, "speed: out of memory");
		goto done;
	}

	cJSON_AddStringToObject(out, QE_SPEED_NAME, name);
	cJSON_AddNumberToObject(out, QE_SPEED_N_PROMPT, n_prompt);
	cJSON_AddNumberToObject(out, QE_SPEED_N_GEN, n_gen);
	cJSON_AddNumberToObject(out, QE_SPEED_REPS, (double)n);
	cJSON_AddNumberToObject(out, QE_SPEED_N_FAILED, (double)n_failed);
	if (first_error)
		cJSON_AddStringToObject(out, QE_SPEED_ERROR, first_error);
	/* tokens/s per repetition (llama-bench's): the test's tokens over its timed seconds (prompt + generation) */
	for (size_t i = 0; i < n; i++) {
		ntok[i] = (uint64_t)(n_prompt + n_gen);
		v[i] = (n_prompt > 0 ? reps[i].t_prompt : 0.0) + (n_gen > 0 ? reps[i].t_gen : 0.0);
	}
	rc = qe_speed_rate(ntok, v, n, &sum, err);
	if (rc)
		goto done;
	for (size_t i = 0; i < n; i++)
		v[i] = (double)ntok[i] / v[i];
	add_samples(out, QE_SPEED_TPS_SAMPLES, v, n);
	qe_json_add_num(out, QE_SPEED_TPS_MEAN, n ? sum.mean : NAN);
	qe_json_add_num(out, QE_SPEED_TPS_SD, n > 1 ? sum.sd : NAN);
	add_env(records, name, out, n ? sum.mean : NAN, n > 1 ? sum.sd : NAN);
	*mean_out = n ? sum.mean : NAN;

	if (n_prompt > 0 && n_gen > 0) {
		/* time to first token: prompt + the first generated token */
		for (size_t i = 0; i < n; i++)
			v[i] = reps[i].t_first;
		rc = qe_speed_latency(v, n, &sum, err);
		if (rc)
			goto done;
		for (size_t i = 0; i < n; i++)
			v[i] *= 1e3;
		add_samples(out, QE_SPEED_TTFT_SAMPLES, v, n);
		qe_json_add_num(out, QE_SPEED_TTFT_MEAN, n ? sum.mean : NAN);
		qe_json_add_num(out, QE_SPEED_TTFT_SD, n > 1 ? sum.sd : NAN);
		/* per later token: the rest of the generation over n_gen - 1 tokens */
		if (n_gen > 1) {
			for (size_t i = 0; i < n; i++) {
				double later = reps[i].t_prompt + reps[i].t_gen - reps[i].t_first;
				v[i] = (later > 0 ? later : 0.0) / (double)(n_gen - 1);
			}
			rc = qe_speed_latency(v, n, &sum, err);
			if (rc)
				goto done;
			for (size_t i = 0; i < n; i++)
				v[i] *= 1e3;
			add_samples(out, QE_SPEED_TPOT_SAMPLES, v, n);
			qe_json_add_num(out, QE_SPEED_TPOT_MEAN, n ? sum.mean : NAN);
			qe_json_add_num(out, QE_SPEED_TPOT_SD, n > 1 ? sum.sd : NAN);
		} else {
			cJSON_AddNullToObject(out, QE_SPEED_TPOT_MEAN);
			cJSON_AddNullToObject(out, QE_SPEED_TPOT_SD);
		}
	}
done:
	free(reps);
	free(v);
	free(ntok);
	return rc;
}

/* The test names of a level: the plan's, then any other found in records
 * (a run resumed with other sizes), in order of first appearance. */
static size_t test_names(const struct speed_state *s, cJSON *const *records, size_t n_levels,
			 const char **names, size_t cap)
{
	size_t n = 0;

	for (size_t i = 0; i < s->n_tests && n < cap; i++)
		names[n++] = s->tests[i].name;
	for (size_t l = 0; l < n_levels; l++) {
		const cJSON *r;
		cJSON_ArrayForEach(r, records[l]) {
			const cJSON *t = cJSON_GetObjectItemCaseSensitive(r, "test");
			size_t k;
			if (!cJSON_IsString(t))
				continue;
			for (k = 0; k < n && strcmp(names[k], t->valuestring); k++)
				;
			if (k == n && n < cap)
				names[n++] = t->valuestring;
		}
	}
	return n;
}

/* A setting every record of the level agrees on; NaN when the records
 * disagree (*mixed set) or carry none. */
static double record_setting(const cJSON *records, const char *key, int *mixed)
{
	const cJSON *r;
	double v = NAN;

	cJSON_ArrayForEach(r, records) {
		double x = num_or_nan(r, key);
		if (isnan(x))
			continue;
		if (isnan(v))
			v = x;
		else if (v != x) {
			*mixed = 1;
			return NAN;
		}
	}
	return v;
}

static void copy_num(cJSON *out, const char *key, const cJSON *from, const char *from_key)
{
	qe_json_add_num(out, key, from ? num_or_nan(from, from_key) : NAN);
}

static int speed_summarize(void *state, const struct qe_task_levels *lv, cJSON *out, struct qe_err *err)
{
	const struct speed_state *s = state;
	const char *names[SPEED_MAX_TESTS + 64];
	size_t n_names = test_names(s, lv->records, lv->n, names, sizeof(names) / sizeof(names[0]));
	double *means = calloc(lv->n * n_names + 1, sizeof(*means)); /* [level][test] tokens/s */
	char *has = calloc(lv->n * n_names + 1, 1);                   /* [level][test] 1 = records */
	cJSON *levels = out; /* the driver hands the task block's "levels" object */
	const cJSON *ref_json = lv->info && lv->ref < lv->n ? lv->info[lv->ref] : NULL;
	double ref_bytes = ref_json ? num_or_nan(ref_json, "file_bytes") : NAN;
	int rc = 0;

	if (!means || !has || !levels) {
		free(means);
		free(has);
		return qe_fail(err, QE_ENOMEM, "speed: out of memory");
	}
	for (size_t l = 0; l < lv->n * n_names; l++)
		means[l] = NAN;

	/* every level's tests first: speedups need the reference's means */
	for (size_t l = 0; l < lv->n && rc == 0; l++) {
		const char *lname = lv->levels[l].name;
		cJSON *blk, *tests;
		const cJSON *lj;
		int mixed = 0;

		/* a level that failed before recording anything has no figures */
		if (!lv->records[l] || (cJSON_GetArraySize(lv->records[l]) == 0 && !(lv->ok && lv->ok[l]))) {
			cJSON_AddNullToObject(levels, lname);
			continue;
		}
		blk = cJSON_AddObjectToObject(levels, lname);
		tests = cJSON_AddArrayToObject(blk, QE_SPEED_TESTS);
		for (size_t k = 0; k < n_names && rc == 0; k++) {
			cJSON *t = cJSON_CreateObject();
			int r = summarize_test(lv->records[l], names[k], t, &means[l * n_names + k], err);
			if (r == 0) {
				cJSON_AddItemToArray(tests, t);
				has[l * n_names + k] = 1;
			} else {
				cJSON_Delete(t);
			}
			rc = r < 0 ? r : 0;
		}

		lj = lv->info ? lv->info[l] : NULL;
		copy_num(blk, QE_SPEED_LOAD_S, lj, "load_s");
		copy_num(blk, QE_SPEED_PEAK_RSS, lj, "peak_rss_bytes");
		copy_num(blk, QE_SPEED_FILE_BYTES, lj, "file_bytes");
		copy_num(blk, QE_SPEED_N_PARAMS, lj, "n_params");
		copy_num(blk, QE_SPEED_BPW, lj, "bpw");
		qe_json_add_num(blk, QE_SPEED_SIZE_RATIO, lj && l != lv->ref ? ref_bytes / num_or_nan(lj, "file_bytes") : NAN);
		/* settings: what the records say they ran with, else level.json */
		{
			double th = record_setting(lv->records[l], "threads", &mixed);
			double thb = record_setting(lv->records[l], "threads_batch", &mixed);
			double ngl = record_setting(lv->records[l], "n_gpu_layers", &mixed);
			qe_json_add_num(blk, QE_SPEED_THREADS, !isnan(th) || mixed ? th : lj ? num_or_nan(lj, "threads") : NAN);
			qe_json_add_num(blk, QE_SPEED_THREADS_BATCH, !isnan(thb) || mixed ? thb : lj ? num_or_nan(lj, "threads_batch") : NAN);
			int bmixed = 0; /* an encoder's tests each take their whole length */
			double nb = record_setting(lv->records[l], "n_batch", &bmixed);
			double nub = record_setting(lv->records[l], "n_ubatch", &bmixed);
			qe_json_add_num(blk, QE_SPEED_N_BATCH, nb);
			qe_json_add_num(blk, QE_SPEED_N_UBATCH, nub);
			qe_json_add_num(blk, QE_SPEED_N_GPU_LAYERS, !isnan(ngl) || mixed ? ngl : lj ? num_or_nan(lj, "n_gpu_layers") : NAN);
		}
		if (mixed)
			cJSON_AddStringToObject(blk, QE_SPEED_WARNING,
						"repetitions ran with different thread or GPU-layer settings (a resumed run?)");
	}

	/* speedups: this level's tokens/s mean over the reference's, per test */
	for (size_t l = 0; l < lv->n && rc == 0; l++) {
		cJSON *blk = cJSON_GetObjectItemCaseSensitive(levels, lv->levels[l].name);
		cJSON *sp;

		if (!cJSON_IsObject(blk))
			continue;
		if (l == lv->ref || lv->ref >= lv->n) {
			cJSON_AddNullToObject(blk, QE_SPEED_SPEEDUP);
			continue;
		}
		sp = cJSON_AddObjectToObject(blk, QE_SPEED_SPEEDUP);
		for (size_t k = 0; k < n_names; k++) {
			double m = means[l * n_names + k], r = means[lv->ref * n_names + k];
			if (has[l * n_names + k])
				qe_json_add_num(sp, names[k], r > 0 ? m / r : NAN);
		}
	}
	free(means);
	free(has);
	return rc;
}

/* ======================================================================
 * The task
 * ====================================================================== */

const struct qe_task qe_task_speed = {
	.name = "speed",
	.summary = "tokens/s of prompt processing and generation, first-token latency (llama-bench's method)",
	.needs = QE_RT_SPEED,
	.own_process = 1,
	.options = speed_options,
	.options_size = sizeof(struct speed_opts),
	.prepare = speed_prepare,
	.run_level = speed_run_level,
	.summarize = speed_summarize,
	.describe = speed_describe,
	.release = speed_release,
	.view = &qe_view_speed,
};
