/* Tests of the speed task (harness/tasks/speed.c): options, the statistics of
 * its summary against samples worked out by hand, the repetition handling
 * (R records per test, warm-up not recorded, resume) on a scripted runtime,
 * speedups against the reference, and one short run on the fixture model.
 * No assertion depends on how fast anything ran. */
#include "tests/tq.h"
#include "harness/run.h"

#include "harness/journal.h"
#include "harness/tasks/task.h"
#include "metrics/speed.h"
#include "runtimes/runtime_impl.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* Rates are ratios of short decimals: exact up to rounding. */
#define RATE_TOL 1e-9
/* sample standard deviations, worked out to 13 digits */
#define SD_TOL 1e-9

static char g_tmp[256];

static const struct qe_task *speed(void)
{
	return qe_task_find("speed");
}

static cJSON *parse(const char *json)
{
	cJSON *j = cJSON_Parse(json);

	if (!j)
		fprintf(stderr, "  bad JSON in the test: %s\n", json);
	return j;
}

/* prepare with opts given as JSON text; NULL opts for "none" */
static int prepare(const char *json, void **state, size_t *n_items, struct qe_err *err)
{
	cJSON *o = json ? parse(json) : cJSON_CreateObject();
	struct qe_task_spec ts;
	int rc;

	*state = NULL;
	if (!cJSON_IsObject(o)) {
		cJSON_Delete(o);
		return qe_fail(err, QE_EINVAL, "speed: options must be a JSON object");
	}
	cJSON_AddStringToObject(o, "task", "speed");
	rc = qe_task_spec_read(o, "speed", &ts, err);
	if (rc == 0)
		rc = speed()->prepare(&ts, state, n_items, err);
	qe_task_spec_release(&ts);
	cJSON_Delete(o);
	return rc;
}

/* ---- metrics/speed.h: the statistics the summary uses --------------------- */

static void test_metrics_rate(void)
{
	static const uint64_t tok[] = { 512, 512, 512 };
	static const double sec[] = { 0.5, 0.25, 1.0 };
	struct qe_speed_summary s;
	struct qe_err err = { 0 };

	/* 1024, 2048, 512 t/s: the mean of rates, not 1536 / 1.75 */
	TQ_EQ_INT(qe_speed_rate(tok, sec, 3, &s, &err), 0);
	TQ_EQ_INT(s.n, 3);
	TQ_NEAR(s.mean, 1194.6666666666667, RATE_TOL);
	TQ_NEAR(s.sd, 782.0929186057967, SD_TOL);
	TQ_NEAR(s.min, 512.0, RATE_TOL);
	TQ_NEAR(s.max, 2048.0, RATE_TOL);
	/* one repetition: a mean, no sd */
	TQ_EQ_INT(qe_speed_rate(tok, sec, 1, &s, &err), 0);
	TQ_NEAR(s.mean, 1024.0, RATE_TOL);
	TQ_CHECK(isnan(s.sd));
	TQ_EQ_INT(qe_speed_rate(tok, sec, 0, &s, &err), 0);
	TQ_CHECK(isnan(s.mean));
}

static void test_metrics_rate_errors(void)
{
	static const uint64_t tok[] = { 8, 8 };
	static const double zero[] = { 0.5, 0.0 }, nan2[] = { NAN, 0.5 };
	struct qe_speed_summary s;
	struct qe_err err = { 0 };

	TQ_EQ_INT(qe_speed_rate(tok, zero, 2, &s, &err), QE_EINPUT);
	TQ_EQ_INT(qe_speed_rate(tok, nan2, 2, &s, &err), QE_EINPUT);
	TQ_EQ_INT(qe_speed_rate(NULL, zero, 2, &s, &err), QE_EINVAL);
}

static void test_metrics_latency(void)
{
	static const double sec[] = { 0.25, 0.35 }, neg[] = { 0.1, -0.1 }, zero[] = { 0.0 };
	struct qe_speed_summary s;
	struct qe_err err = { 0 };

	TQ_EQ_INT(qe_speed_latency(sec, 2, &s, &err), 0);
	TQ_NEAR(s.mean, 300.0, RATE_TOL); /* milliseconds */
	TQ_NEAR(s.sd, 70.71067811865476, SD_TOL);
	TQ_EQ_INT(qe_speed_latency(neg, 2, &s, &err), QE_EINPUT);
	TQ_EQ_INT(qe_speed_latency(zero, 1, &s, &err), 0);
	TQ_NEAR(s.mean, 0.0, RATE_TOL);
}

/* ---- options ----------------------------------------------------------- */

static void test_registered(void)
{
	TQ_CHECK(speed() != NULL);
	if (!speed())
		return;
	TQ_EQ_STR(speed()->name, "speed");
	TQ_CHECK(speed()->needs & QE_RT_SPEED);
}

static void test_options_default(void)
{
	void *st = NULL;
	size_t n = 0;
	struct qe_err err = { 0 };
	cJSON *d = cJSON_CreateObject(), *tests;

	TQ_EQ_INT(prepare(NULL, &st, &n, &err), 0);
	TQ_EQ_INT(n, 3 * 5); /* pp512, tg128, pp512+tg128; 5 repetitions */
	speed()->describe(st, d);
	tests = cJSON_GetObjectItem(d, "tests");
	TQ_EQ_INT(cJSON_GetArraySize(tests), 3);
	TQ_EQ_STR(cJSON_GetArrayItem(tests, 0)->valuestring, "pp512");
	TQ_EQ_STR(cJSON_GetArrayItem(tests, 1)->valuestring, "tg128");
	TQ_EQ_STR(cJSON_GetArrayItem(tests, 2)->valuestring, "pp512+tg128");
	TQ_EQ_INT(cJSON_GetObjectItem(d, "reps")->valuedouble, 5);
	TQ_EQ_INT(cJSON_GetObjectItem(d, "warmup")->valuedouble, 1);
	cJSON_Delete(d);
	speed()->release(st);
}

static void test_options_custom(void)
{
	void *st = NULL;
	size_t n = 0;
	struct qe_err err = { 0 };
	cJSON *d = cJSON_CreateObject(), *tests;

	/* the plan's own keys (task, name, limit) are accepted and ignored */
	TQ_EQ_INT(prepare("{\"task\":\"speed\",\"name\":\"sp\",\"limit\":3,\"seed\":1234,"
			  "\"pp\":[128,512,2048],\"tg\":64,\"reps\":2,\"warmup\":0}", &st, &n, &err), 0);
	TQ_EQ_INT(n, 5 * 2);
	speed()->describe(st, d);
	tests = cJSON_GetObjectItem(d, "tests");
	TQ_EQ_INT(cJSON_GetArraySize(tests), 5);
	TQ_EQ_STR(cJSON_GetArrayItem(tests, 2)->valuestring, "pp2048");
	TQ_EQ_STR(cJSON_GetArrayItem(tests, 3)->valuestring, "tg64");
	TQ_EQ_STR(cJSON_GetArrayItem(tests, 4)->valuestring, "pp128+tg64"); /* the first sizes */
	cJSON_Delete(d);
	speed()->release(st);

	TQ_EQ_INT(prepare("{\"pp\":[], \"tg\":[16], \"pp_tg\":true}", &st, &n, &err), 0);
	TQ_EQ_INT(n, 5); /* no prompt size: no combined test */
	speed()->release(st);
	TQ_EQ_INT(prepare("{\"pp_tg\":false}", &st, &n, &err), 0);
	TQ_EQ_INT(n, 10);
	speed()->release(st);
}

static void test_options_bad(void)
{
	static const char *const bad[] = {
		"{\"pp\":[512,512]}",       /* the same test twice */
		"{\"pp\":[0]}",             /* not a size */
		"{\"pp\":[12.5]}",
		"{\"pp\":\"512\"}",
		"{\"tg\":[-1]}",
		"{\"reps\":0}",
		"{\"warmup\":-1}",
		"{\"pp_tg\":1}",
		"{\"repeats\":5}",          /* misspelt option */
		"{\"pp\":[],\"tg\":[]}",    /* nothing to run */
		"[1,2]",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		void *st = NULL;
		size_t n = 0;
		struct qe_err err = { 0 };
		int rc = prepare(bad[i], &st, &n, &err);
		if (rc != QE_EINVAL)
			TQ_FAILF("options %s: rc %d, want QE_EINVAL", bad[i], rc);
		TQ_CHECK(st == NULL);
		TQ_CHECK(strncmp(err.msg, "speed", 5) == 0); /* the option path or the task names it */
	}
}

/* ---- summary statistics from records ------------------------------------ */

/* A summary over records given as JSON arrays, one per level (NULL = the
 * level has none); dirs may be NULL. Returns the levels object. */
static cJSON *summarize(void *st, const char *const *recs_json, size_t n, size_t ref,
			const char *const *dirs, const int *ok)
{
	cJSON *recs[8] = { 0 }, *info[8] = { 0 }, *out = cJSON_CreateObject();
	struct qe_level lvs[8];
	int ok_all[8];
	struct qe_task_levels lv;
	struct qe_err err = { 0 };
	static const char *const names[] = { "F16", "Q8_0", "Q4_K_M", "Q2_K" };

	memset(lvs, 0, sizeof(lvs));
	for (size_t i = 0; i < n; i++) {
		snprintf(lvs[i].name, sizeof(lvs[i].name), "%s", names[i]);
		recs[i] = recs_json[i] ? parse(recs_json[i]) : NULL;
		ok_all[i] = ok ? ok[i] : 1;
		if (dirs) { /* the driver hands each level's level.json */
			char p[600];
			snprintf(p, sizeof(p), "%s/level.json", dirs[i]);
			if (qe_json_read_file(p, &info[i], NULL) != 0)
				info[i] = NULL;
		}
	}
	lv.n = n;
	lv.ref = ref;
	lv.levels = lvs;
	lv.dirs = dirs;
	lv.records = recs;
	lv.ok = ok_all;
	lv.info = (const cJSON *const *)info;
	if (speed()->summarize(st, &lv, out, &err) != 0)
		TQ_FAILF("summarize: %s", err.msg);
	for (size_t i = 0; i < n; i++) {
		cJSON_Delete(recs[i]);
		cJSON_Delete(info[i]);
	}
	return out;
}

static const cJSON *find_test(const cJSON *level, const char *name)
{
	const cJSON *t;

	cJSON_ArrayForEach(t, cJSON_GetObjectItem(level, "tests"))
		if (!strcmp(cJSON_GetObjectItem(t, "name")->valuestring, name))
			return t;
	return NULL;
}

static double num(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItem(o, key);

	return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static int is_null(const cJSON *o, const char *key)
{
	return cJSON_IsNull(cJSON_GetObjectItem(o, key));
}

static void test_stats_known_samples(void)
{
	void *st = NULL;
	size_t n;
	struct qe_err err = { 0 };
	/* pp512: 0.5 s, 0.25 s, 1.0 s -> 1024, 2048, 512 t/s (rep order, not
	 * record order); one failed repetition that must not count.
	 * tg128: 1.6, 1.28, 2.0, 1.0 s -> 80, 100, 64, 128 t/s. */
	static const char *const recs[] = {
		"["
		"{\"id\":\"pp512/2\",\"test\":\"pp512\",\"rep\":2,\"n_prompt\":512,\"n_gen\":0,"
		"\"t_prompt_s\":0.25,\"t_gen_s\":0,\"t_first_s\":0,\"threads\":2,\"load1\":2.0,\"steal_s\":0.2,\"status\":\"ok\"},"
		"{\"id\":\"pp512/1\",\"test\":\"pp512\",\"rep\":1,\"n_prompt\":512,\"n_gen\":0,"
		"\"t_prompt_s\":0.5,\"t_gen_s\":0,\"t_first_s\":0,\"threads\":2,\"load1\":1.0,\"steal_s\":0.1,\"status\":\"ok\"},"
		"{\"id\":\"pp512/3\",\"test\":\"pp512\",\"rep\":3,\"n_prompt\":512,\"n_gen\":0,"
		"\"t_prompt_s\":1.0,\"t_gen_s\":0,\"t_first_s\":0,\"threads\":2,\"load1\":6.0,\"steal_s\":0,\"status\":\"ok\"},"
		"{\"id\":\"pp512/4\",\"test\":\"pp512\",\"rep\":4,\"n_prompt\":512,\"n_gen\":0,"
		"\"t_prompt_s\":0,\"t_gen_s\":0,\"t_first_s\":0,\"threads\":2,\"load1\":9.0,\"status\":\"error: decode failed\"},"
		"{\"id\":\"tg128/1\",\"test\":\"tg128\",\"rep\":1,\"n_prompt\":0,\"n_gen\":128,"
		"\"t_prompt_s\":0,\"t_gen_s\":1.6,\"t_first_s\":0,\"threads\":2,\"status\":\"ok\"},"
		"{\"id\":\"tg128/2\",\"test\":\"tg128\",\"rep\":2,\"n_prompt\":0,\"n_gen\":128,"
		"\"t_prompt_s\":0,\"t_gen_s\":1.28,\"t_first_s\":0,\"threads\":2,\"status\":\"ok\"},"
		"{\"id\":\"tg128/3\",\"test\":\"tg128\",\"rep\":3,\"n_prompt\":0,\"n_gen\":128,"
		"\"t_prompt_s\":0,\"t_gen_s\":2.0,\"t_first_s\":0,\"threads\":2,\"status\":\"ok\"},"
		"{\"id\":\"tg128/4\",\"test\":\"tg128\",\"rep\":4,\"n_prompt\":0,\"n_gen\":128,"
		"\"t_prompt_s\":0,\"t_gen_s\":1.0,\"t_first_s\":0,\"threads\":2,\"status\":\"ok\"},"
		/* combined: 100-token prompt in 0.2 s, 11 tokens in 1.0 s, the first
		 * token's logits at 0.25 s: 111 / 1.2 t/s, ttft 250 ms, the 10 later
		 * tokens (1.2 - 0.25) / 10 = 95 ms each */
		"{\"id\":\"pp100+tg11/1\",\"test\":\"pp100+tg11\",\"rep\":1,\"n_prompt\":100,\"n_gen\":11,"
		"\"t_prompt_s\":0.2,\"t_gen_s\":1.0,\"t_first_s\":0.25,\"threads\":2,\"status\":\"ok\"}"
		"]",
	};
	cJSON *out, *lvl;
	const cJSON *t, *samples;

	TQ_EQ_INT(prepare("{\"pp\":[512],\"tg\":[128],\"pp_tg\":false}", &st, &n, &err), 0);
	out = summarize(st, recs, 1, 0, NULL, NULL);
	lvl = cJSON_GetObjectItem(out, "F16");
	TQ_CHECK(cJSON_IsObject(lvl));

	t = find_test(lvl, "pp512");
	TQ_CHECK(t != NULL);
	if (t) {
		TQ_EQ_INT(num(t, "reps"), 3);
		TQ_EQ_INT(num(t, "n_failed"), 1);
		TQ_EQ_STR(cJSON_GetObjectItem(t, "error")->valuestring, "error: decode failed");
		samples = cJSON_GetObjectItem(t, "tps_samples");
		TQ_EQ_INT(cJSON_GetArraySize(samples), 3);
		TQ_NEAR(cJSON_GetArrayItem(samples, 0)->valuedouble, 1024.0, RATE_TOL);
		TQ_NEAR(cJSON_GetArrayItem(samples, 1)->valuedouble, 2048.0, RATE_TOL);
		TQ_NEAR(cJSON_GetArrayItem(samples, 2)->valuedouble, 512.0, RATE_TOL);
		TQ_NEAR(num(t, "tps_mean"), 1194.6666666666667, RATE_TOL);
		TQ_NEAR(num(t, "tps_sd"), 782.0929186057967, SD_TOL);
		/* the machine during the test: load averages 2, 1, 6 of the usable
		 * repetitions (the failed one's 9 left out), 0.3 s stolen; sd / mean
		 * 0.65 > 0.10: noisy */
		TQ_NEAR(num(t, "load1_mean"), 3.0, 1e-12);
		TQ_NEAR(num(t, "steal_s"), 0.3, 1e-12);
		TQ_NEAR(num(t, "tps_cv"), 782.0929186057967 / 1194.6666666666667, 1e-9);
		TQ_CHECK(cJSON_IsTrue(cJSON_GetObjectItem(t, "noisy")));
	}
	t = find_test(lvl, "tg128");
	TQ_CHECK(t != NULL);
	if (t) {
		TQ_EQ_INT(num(t, "reps"), 4);
		TQ_EQ_INT(num(t, "n_failed"), 0);
		TQ_NEAR(num(t, "tps_mean"), 93.0, RATE_TOL);
		TQ_NEAR(num(t, "tps_sd"), 27.5922694487665, SD_TOL);
	}
	/* a test in the records but not in the options is still summarised */
	t = find_test(lvl, "pp100+tg11");
	TQ_CHECK(t != NULL);
	if (t) {
		TQ_EQ_INT(num(t, "reps"), 1);
		TQ_NEAR(num(t, "tps_mean"), 111.0 / 1.2, RATE_TOL);
		TQ_CHECK(is_null(t, "tps_sd")); /* one repetition: no sd (null, not 0) */
		TQ_CHECK(cJSON_IsFalse(cJSON_GetObjectItem(t, "noisy"))); /* nothing to call noisy */
		TQ_CHECK(is_null(t, "load1_mean")); /* records without the machine's state */
		TQ_NEAR(num(t, "ttft_ms_mean"), 250.0, RATE_TOL);
		TQ_NEAR(num(t, "tpot_ms_mean"), 95.0, RATE_TOL);
		TQ_CHECK(is_null(t, "ttft_ms_sd"));
	}
	TQ_EQ_INT(num(lvl, "threads"), 2);
	TQ_CHECK(is_null(lvl, "speedup")); /* the reference */
	TQ_CHECK(is_null(lvl, "load_s"));  /* no level.json */
	cJSON_Delete(out);
	speed()->release(st);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f) {
		TQ_FAILF("cannot write %s", path);
		return;
	}
	fputs(text, f);
	fclose(f);
}

static void test_speedup_vs_reference(void)
{
	void *st = NULL;
	size_t n;
	struct qe_err err = { 0 };
	char d0[300], d1[300], d2[300], p[400];
	const char *dirs[3] = { d0, d1, d2 };
	int ok[3] = { 1, 1, 0 };
	/* reference (level 1): pp8 at 8 and 16 t/s (mean 12); level 0: 24 and
	 * 48 t/s (mean 36: 3x); tg4 only at level 0 (no speedup for it) */
	static const char *const recs[] = {
		"[{\"id\":\"pp8/1\",\"test\":\"pp8\",\"rep\":1,\"n_prompt\":8,\"n_gen\":0,\"t_prompt_s\":0.3333333333333333,"
		"\"t_gen_s\":0,\"t_first_s\":0,\"status\":\"ok\"},"
		"{\"id\":\"pp8/2\",\"test\":\"pp8\",\"rep\":2,\"n_prompt\":8,\"n_gen\":0,\"t_prompt_s\":0.16666666666666666,"
		"\"t_gen_s\":0,\"t_first_s\":0,\"status\":\"ok\"},"
		"{\"id\":\"tg4/1\",\"test\":\"tg4\",\"rep\":1,\"n_prompt\":0,\"n_gen\":4,\"t_prompt_s\":0,"
		"\"t_gen_s\":0.5,\"t_first_s\":0,\"status\":\"ok\"}]",
		"[{\"id\":\"pp8/1\",\"test\":\"pp8\",\"rep\":1,\"n_prompt\":8,\"n_gen\":0,\"t_prompt_s\":1.0,"
		"\"t_gen_s\":0,\"t_first_s\":0,\"status\":\"ok\"},"
		"{\"id\":\"pp8/2\",\"test\":\"pp8\",\"rep\":2,\"n_prompt\":8,\"n_gen\":0,\"t_prompt_s\":0.5,"
		"\"t_gen_s\":0,\"t_first_s\":0,\"status\":\"ok\"}]",
		"[]", /* a level that failed before any record */
	};
	cJSON *out, *l0, *l1, *sp;

	snprintf(g_tmp, sizeof(g_tmp), "/tmp/t_speed.XXXXXX");
	TQ_CHECK(mkdtemp(g_tmp) != NULL);
	snprintf(d0, sizeof(d0), "%s/00-Q4", g_tmp);
	snprintf(d1, sizeof(d1), "%s/01-F16", g_tmp);
	snprintf(d2, sizeof(d2), "%s/02-X", g_tmp);
	mkdir(d0, 0700);
	mkdir(d1, 0700);
	mkdir(d2, 0700);
	snprintf(p, sizeof(p), "%s/level.json", d0);
	write_file(p, "{\"file_bytes\": 250, \"load_s\": 0.5, \"peak_rss_bytes\": 1000, \"n_params\": 100,"
		      " \"bpw\": 4.5, \"threads\": 3, \"n_gpu_layers\": 0}");
	snprintf(p, sizeof(p), "%s/level.json", d1);
	write_file(p, "{\"file_bytes\": 1000, \"load_s\": 0.25}");

	TQ_EQ_INT(prepare("{\"pp\":[8],\"tg\":[4]}", &st, &n, &err), 0);
	out = summarize(st, recs, 3, 1, dirs, ok);
	l0 = cJSON_GetObjectItem(out, "F16");  /* names by index: level 0 is "F16" here */
	l1 = cJSON_GetObjectItem(out, "Q8_0");
	TQ_CHECK(cJSON_IsObject(l0) && cJSON_IsObject(l1));
	TQ_CHECK(cJSON_IsNull(cJSON_GetObjectItem(out, "Q4_K_M")));
	TQ_NEAR(num(find_test(l0, "pp8"), "tps_mean"), 36.0, RATE_TOL);
	TQ_NEAR(num(find_test(l1, "pp8"), "tps_mean"), 12.0, RATE_TOL);
	sp = cJSON_GetObjectItem(l0, "speedup");
	TQ_NEAR(num(sp, "pp8"), 3.0, RATE_TOL);
	TQ_CHECK(is_null(sp, "tg4")); /* the reference has no tg4 */
	TQ_CHECK(is_null(l1, "speedup"));
	TQ_NEAR(num(l0, "size_ratio"), 4.0, RATE_TOL);
	TQ_NEAR(num(l0, "load_s"), 0.5, RATE_TOL);
	TQ_NEAR(num(l0, "peak_rss_bytes"), 1000, RATE_TOL);
	TQ_NEAR(num(l0, "bpw"), 4.5, RATE_TOL);
	TQ_EQ_INT(num(l0, "threads"), 3); /* records say nothing: level.json does */
	TQ_CHECK(is_null(l1, "size_ratio"));
	TQ_NEAR(num(l1, "load_s"), 0.25, RATE_TOL);
	cJSON_Delete(out);
	speed()->release(st);
	snprintf(p, sizeof(p), "rm -rf '%s'", g_tmp);
	TQ_CHECK(system(p) == 0);
}

/* ---- repetition handling on a scripted runtime --------------------------- */

#define FAKE_MAX_CALLS 256

struct fake {
	struct qe_speed_req calls[FAKE_MAX_CALLS];
	int n_calls;
	int fail_gen;  /* 1 = requests with n_gen > 0 fail */
};

static int fake_speed(struct qe_runtime *rt, const struct qe_speed_req *rq, struct qe_speed_res *rs,
		      struct qe_err *err)
{
	struct fake *f = rt->ctx;

	if (f->n_calls < FAKE_MAX_CALLS)
		f->calls[f->n_calls] = *rq;
	f->n_calls++;
	if (f->fail_gen && rq->n_gen > 0)
		return qe_fail(err, QE_ENOTSUP, "fake: no generation");
	/* 1 ms per prompt token, 10 ms per generated token */
	rs->t_prompt_s = rq->n_prompt * 1e-3;
	rs->t_gen_s = rq->n_gen * 1e-2;
	rs->t_first_s = rq->n_prompt && rq->n_gen ? rs->t_prompt_s + 1e-2 : 0.0;
	return 0;
}

static void fake_describe(struct qe_runtime *rt, struct qe_rt_info *info)
{
	(void)rt;
	info->n_threads = 7;
	info->n_threads_batch = 7;
	info->n_gpu_layers = 0;
}

static void fake_close(struct qe_runtime *rt)
{
	(void)rt;
}

static const struct qe_runtime_ops fake_ops = {
	.api_version = QE_RUNTIME_API,
	.name = "fake",
	.caps = QE_RT_SPEED,
	.close = fake_close,
	.speed = fake_speed,
	.describe = fake_describe,
};

/* run_level of state st with a fresh journal handle on path */
static int run_fake(void *st, struct fake *f, const char *path, struct qe_err *err)
{
	struct qe_runtime rt = { .ops = &fake_ops, .ctx = f };
	struct qe_level lv = { .name = "F16" };
	struct qe_task_level tl;
	struct qe_journal *j = NULL;
	int rc;

	memset(&tl, 0, sizeof(tl));
	if (qe_journal_open(path, &j, err) != 0)
		return -100;
	tl.rt = &rt;
	tl.level = &lv;
	tl.journal = j;
	tl.dir = g_tmp;
	rc = speed()->run_level(st, &tl, err);
	qe_journal_close(j);
	return rc;
}

static int count_id(const cJSON *recs, const char *id)
{
	const cJSON *r;
	int n = 0;

	cJSON_ArrayForEach(r, recs)
		n += !strcmp(cJSON_GetObjectItem(r, "id")->valuestring, id);
	return n;
}

static void test_repetitions_and_warmup(void)
{
	void *st = NULL;
	size_t n;
	struct qe_err err = { 0 };
	struct fake f = { 0 };
	char path[300], id[64];
	cJSON *recs = NULL;
	static const char *const tests[] = { "pp16", "tg4", "pp16+tg4" };

	snprintf(g_tmp, sizeof(g_tmp), "/tmp/t_speed.XXXXXX");
	TQ_CHECK(mkdtemp(g_tmp) != NULL);
	snprintf(path, sizeof(path), "%s/records-speed.jsonl", g_tmp);
	TQ_EQ_INT(prepare("{\"pp\":[16],\"tg\":[4],\"reps\":3,\"warmup\":2}", &st, &n, &err), 0);
	TQ_EQ_INT(run_fake(st, &f, path, &err), 0);

	/* 3 tests x (2 warm-ups + 3 repetitions) calls, 3 x 3 records */
	TQ_EQ_INT(f.n_calls, 3 * (2 + 3));
	/* warm-up: the whole prompt and one generated token, first in each test */
	TQ_EQ_INT(f.calls[0].n_prompt, 16);
	TQ_EQ_INT(f.calls[0].n_gen, 0);
	TQ_EQ_INT(f.calls[5].n_prompt, 0);
	TQ_EQ_INT(f.calls[5].n_gen, 1);
	TQ_EQ_INT(f.calls[7].n_gen, 4);       /* first timed tg4 repetition */
	TQ_EQ_INT(f.calls[10].n_prompt, 16);  /* combined warm-up */
	TQ_EQ_INT(f.calls[10].n_gen, 1);
	TQ_EQ_INT(f.calls[12].n_gen, 4);
	/* every repetition its own token stream, never the runtime's default 0 */
	TQ_CHECK(f.calls[2].seed != f.calls[3].seed && f.calls[3].seed != f.calls[4].seed);
	for (int i = 0; i < f.n_calls; i++)
		TQ_CHECK(f.calls[i].seed != 0);

	TQ_EQ_INT(qe_journal_load(path, &recs, &err), 0);
	TQ_EQ_INT(cJSON_GetArraySize(recs), 9);
	for (int t = 0; t < 3; t++)
		for (int r = 1; r <= 3; r++) {
			snprintf(id, sizeof(id), "%s/%d", tests[t], r);
			TQ_EQ_INT(count_id(recs, id), 1);
		}
	{
		const cJSON *r0 = cJSON_GetArrayItem(recs, 0);
		TQ_EQ_STR(cJSON_GetObjectItem(r0, "status")->valuestring, "ok");
		TQ_EQ_STR(cJSON_GetObjectItem(r0, "test")->valuestring, "pp16");
		TQ_EQ_INT(num(r0, "rep"), 1);
		TQ_NEAR(num(r0, "t_prompt_s"), 0.016, 1e-12);
		TQ_EQ_INT(num(r0, "threads"), 7);
	}
	cJSON_Delete(recs);
	recs = NULL;

	/* resume after all is done: nothing runs, nothing is added */
	f.n_calls = 0;
	TQ_EQ_INT(run_fake(st, &f, path, &err), 0);
	TQ_EQ_INT(f.n_calls, 0);
	TQ_EQ_INT(qe_journal_load(path, &recs, &err), 0);
	TQ_EQ_INT(cJSON_GetArraySize(recs), 9);
	cJSON_Delete(recs);
	speed()->release(st);

	/* resume with more repetitions: only the missing ones run (after a
	 * warm-up), the first ones keep their records */
	TQ_EQ_INT(prepare("{\"pp\":[16],\"tg\":[4],\"reps\":5,\"warmup\":1}", &st, &n, &err), 0);
	f.n_calls = 0;
	TQ_EQ_INT(run_fake(st, &f, path, &err), 0);
	TQ_EQ_INT(f.n_calls, 3 * (1 + 2));
	TQ_EQ_INT(qe_journal_load(path, &recs, &err), 0);
	TQ_EQ_INT(cJSON_GetArraySize(recs), 15);
	for (int t = 0; t < 3; t++)
		for (int r = 1; r <= 5; r++) {
			snprintf(id, sizeof(id), "%s/%d", tests[t], r);
			TQ_EQ_INT(count_id(recs, id), 1);
		}
	cJSON_Delete(recs);
	speed()->release(st);
	snprintf(path, sizeof(path), "rm -rf '%s'", g_tmp);
	TQ_CHECK(system(path) == 0);
}

static void test_partial_journal_resume(void)
{
	void *st = NULL;
	size_t n;
	struct qe_err err = { 0 };
	struct fake f = { 0 };
	char path[300];
	cJSON *recs = NULL;
	FILE *fp;

	snprintf(g_tmp, sizeof(g_tmp), "/tmp/t_speed.XXXXXX");
	TQ_CHECK(mkdtemp(g_tmp) != NULL);
	snprintf(path, sizeof(path), "%s/records-speed.jsonl", g_tmp);
	/* a run killed after two repetitions of pp8, mid-way through a third line */
	fp = fopen(path, "w");
	TQ_CHECK(fp != NULL);
	if (!fp)
		return;
	fputs("{\"id\":\"pp8/1\",\"test\":\"pp8\",\"rep\":1,\"n_prompt\":8,\"n_gen\":0,\"t_prompt_s\":0.5,"
	      "\"t_gen_s\":0,\"t_first_s\":0,\"status\":\"ok\"}\n"
	      "{\"id\":\"pp8/2\",\"test\":\"pp8\",\"rep\":2,\"n_prompt\":8,\"n_gen\":0,\"t_prompt_s\":0.5,"
	      "\"t_gen_s\":0,\"t_first_s\":0,\"status\":\"ok\"}\n"
	      "{\"id\":\"pp8/3\",\"test\":\"pp8\",\"re", fp);
	fclose(fp);
	TQ_EQ_INT(prepare("{\"pp\":[8],\"tg\":[],\"reps\":4}", &st, &n, &err), 0);
	TQ_EQ_INT(run_fake(st, &f, path, &err), 0);
	TQ_EQ_INT(f.n_calls, 1 + 2); /* warm-up + reps 3 and 4 */
	TQ_EQ_INT(qe_journal_load(path, &recs, &err), 0);
	TQ_EQ_INT(cJSON_GetArraySize(recs), 4);
	TQ_EQ_INT(count_id(recs, "pp8/1"), 1);
	TQ_EQ_INT(count_id(recs, "pp8/3"), 1);
	/* the kept records are the old ones (0.5 s), the new ones the fake's */
	TQ_NEAR(num(cJSON_GetArrayItem(recs, 0), "t_prompt_s"), 0.5, 1e-12);
	TQ_NEAR(num(cJSON_GetArrayItem(recs, 3), "t_prompt_s"), 0.008, 1e-12);
	cJSON_Delete(recs);
	speed()->release(st);
	snprintf(path, sizeof(path), "rm -rf '%s'", g_tmp);
	TQ_CHECK(system(path) == 0);
}

static void test_failures_are_records(void)
{
	void *st = NULL;
	size_t n;
	struct qe_err err = { 0 };
	struct fake f = { .fail_gen = 1 };
	char path[300];
	cJSON *recs = NULL, *out;
	const char *json;
	const cJSON *t;

	snprintf(g_tmp, sizeof(g_tmp), "/tmp/t_speed.XXXXXX");
	TQ_CHECK(mkdtemp(g_tmp) != NULL);
	snprintf(path, sizeof(path), "%s/records-speed.jsonl", g_tmp);
	TQ_EQ_INT(prepare("{\"pp\":[8],\"tg\":[2],\"reps\":2}", &st, &n, &err), 0);
	TQ_EQ_INT(run_fake(st, &f, path, &err), 0); /* the level goes on */
	/* pp8: warm-up + 2; tg2 and pp8+tg2: the warm-up fails, no timed call */
	TQ_EQ_INT(f.n_calls, 3 + 1 + 1);
	TQ_EQ_INT(qe_journal_load(path, &recs, &err), 0);
	TQ_EQ_INT(cJSON_GetArraySize(recs), 6);
	TQ_CHECK(strstr(cJSON_GetObjectItem(cJSON_GetArrayItem(recs, 2), "status")->valuestring,
			"warm-up failed: fake: no generation") != NULL);
	json = cJSON_PrintUnformatted(recs);
	out = summarize(st, &json, 1, 0, NULL, NULL);
	t = find_test(cJSON_GetObjectItem(out, "F16"), "tg2");
	TQ_CHECK(t != NULL);
	if (t) {
		TQ_EQ_INT(num(t, "reps"), 0);
		TQ_EQ_INT(num(t, "n_failed"), 2);
		TQ_CHECK(is_null(t, "tps_mean"));
		TQ_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(t, "tps_samples")), 0);
	}
	TQ_EQ_INT(num(find_test(cJSON_GetObjectItem(out, "F16"), "pp8"), "reps"), 2);
	cJSON_Delete(out);
	free((void *)json);
	cJSON_Delete(recs);
	speed()->release(st);
	snprintf(path, sizeof(path), "rm -rf '%s'", g_tmp);
	TQ_CHECK(system(path) == 0);
}

/* ---- the real engine on the fixture model -------------------------------- */

static void test_fixture_model(void)
{
	char model[512], path[300];
	struct qe_rt_params p = qe_rt_default_params();
	struct qe_runtime *rt = NULL;
	struct qe_level lv = { .name = "F16" };
	struct qe_task_level tl;
	struct qe_journal *j = NULL;
	struct qe_err err = { 0 };
	void *st = NULL;
	size_t n;
	cJSON *recs = NULL, *out;
	const char *json;
	const cJSON *t, *r;

	snprintf(model, sizeof(model), "%s/tiny-llama-f16.gguf", tq_fixtures());
	if (access(model, R_OK) != 0)
		TQ_SKIP("no %s (make fixtures)", model);
	p.model = model;
	p.level = "F16";
	p.n_threads = 1; /* a busy machine slows spinning OpenMP teams of 2 a lot */
	if (qe_runtime_open(&p, &rt, &err) != 0) {
		TQ_FAILF("open: %s", err.msg);
		return;
	}
	snprintf(g_tmp, sizeof(g_tmp), "/tmp/t_speed.XXXXXX");
	TQ_CHECK(mkdtemp(g_tmp) != NULL);
	snprintf(path, sizeof(path), "%s/records-speed.jsonl", g_tmp);
	TQ_EQ_INT(prepare("{\"pp\":[32],\"tg\":[8],\"reps\":2}", &st, &n, &err), 0);
	TQ_EQ_INT(qe_journal_open(path, &j, &err), 0);
	memset(&tl, 0, sizeof(tl));
	tl.rt = rt;
	tl.level = &lv;
	tl.journal = j;
	tl.dir = g_tmp;
	TQ_EQ_INT(speed()->run_level(st, &tl, &err), 0);
	qe_journal_close(j);
	qe_runtime_close(rt);

	TQ_EQ_INT(qe_journal_load(path, &recs, &err), 0);
	TQ_EQ_INT(cJSON_GetArraySize(recs), 3 * 2);
	cJSON_ArrayForEach(r, recs) {
		const char *test = cJSON_GetObjectItem(r, "test")->valuestring;
		TQ_EQ_STR(cJSON_GetObjectItem(r, "status")->valuestring, "ok");
		if (strchr(test, '+')) {
			TQ_CHECK(num(r, "t_first_s") > num(r, "t_prompt_s"));
			TQ_CHECK(num(r, "t_first_s") <= num(r, "t_prompt_s") + num(r, "t_gen_s"));
		} else if (test[0] == 'p') {
			TQ_CHECK(num(r, "t_prompt_s") > 0);
		} else {
			TQ_CHECK(num(r, "t_gen_s") > 0);
		}
		TQ_EQ_INT(num(r, "threads"), 1);
	}
	json = cJSON_PrintUnformatted(recs);
	out = summarize(st, &json, 1, 0, NULL, NULL);
	cJSON_ArrayForEach(t, cJSON_GetObjectItem(cJSON_GetObjectItem(out, "F16"), "tests")) {
		TQ_EQ_INT(num(t, "reps"), 2);
		TQ_CHECK(num(t, "tps_mean") > 0);
		TQ_CHECK(num(t, "tps_sd") >= 0);
	}
	cJSON_Delete(out);
	free((void *)json);
	cJSON_Delete(recs);
	speed()->release(st);
	snprintf(path, sizeof(path), "rm -rf '%s'", g_tmp);
	TQ_CHECK(system(path) == 0);
}

int main(void)
{
	TQ_RUN(test_metrics_rate);
	TQ_RUN(test_metrics_rate_errors);
	TQ_RUN(test_metrics_latency);
	TQ_RUN(test_registered);
	if (!speed())
		return tq_done("t_speed");
	TQ_RUN(test_options_default);
	TQ_RUN(test_options_custom);
	TQ_RUN(test_options_bad);
	TQ_RUN(test_stats_known_samples);
	TQ_RUN(test_speedup_vs_reference);
	TQ_RUN(test_repetitions_and_warmup);
	TQ_RUN(test_partial_journal_resume);
	TQ_RUN(test_failures_are_records);
	TQ_RUN(test_fixture_model);
	return tq_done("t_speed");
}
