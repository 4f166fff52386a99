/* t_rt_openai — the openai runtime against the loopback server of
 * tests/tq_httpd.h: the reply shapes of vLLM and LmDeploy, each fault with
 * its own one-line message, retries, concurrency, embeddings, the API key.
 * The expected numbers come from the fake model's formulas, not from qeval. */
#include "tq.h"
#include "tq_httpd.h"

#include "runtimes/runtime.h"
#include "harness/base/json.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LL_TOL 1e-12   /* log-probabilities travel as JSON numbers: exact for these */
#define EMB_TOL 1e-6   /* embeddings travel as float32 */

static const char *const conts[4] = { " A", " B", " C", " D" };

/* Open the level {url, model, extra...} against d. extra: JSON members
 * without braces ("" = none). */
static int open_level(struct tq_httpd *d, const char *extra, struct qe_runtime **rt, struct qe_err *err)
{
	char spec[1024];
	struct qe_level lv;
	struct qe_level_spec ls = { 0 };
	struct qe_rt_params p = qe_rt_default_params();
	cJSON *o;
	int rc;

	snprintf(spec, sizeof(spec), "{\"name\":\"ep\",\"runtime\":\"openai\",\"url\":\"http://127.0.0.1:%d/v1\",\"model\":\"%s\"%s%s}",
		 d->port, d->model, *extra ? "," : "", extra);
	o = cJSON_Parse(spec);
	ls.obj = o;
	rc = qe_level_spec_prepare(NULL, NULL, &ls, "/tmp", 1, &lv, err);
	if (rc == 0) {
		qe_level_rt_params(&lv, &p);
		rc = qe_runtime_open(&p, rt, err);
	}
	cJSON_Delete(o);
	return rc;
}

static int start(struct tq_httpd *d, int shape, int fault)
{
	memset(d, 0, sizeof(*d));
	d->shape = shape;
	d->fault = fault;
	d->slow_ms = 1500;
	return tq_httpd_start(d);
}

/* score n prompts of 4 choices */
static int score(struct qe_runtime *rt, const char *const *ctx, size_t n, struct qe_score_res *res, int *st,
		 struct qe_err *err)
{
	struct qe_score_req rq[8];

	for (size_t i = 0; i < n; i++)
		rq[i] = (struct qe_score_req){ .context = ctx[i], .conts = conts, .n_conts = 4 };
	return qe_runtime_score(rt, rq, n, res, st, err);
}

static const char *const prompts[3] = { "Q: one\nAnswer:", "Q: two\nAnswer:", "问题：三\n答案：" };

static void test_vllm_next(void)
{
	struct tq_httpd d;
	struct qe_runtime *rt = NULL;
	struct qe_err err = { 0 };
	struct qe_score_res res[3];
	struct qe_rt_info info;
	int st[3];

	TQ_CHECK(start(&d, TQ_VLLM, TQ_OK) == 0);
	TQ_EQ_INT(open_level(&d, "\"label\":\"AWQ 4-bit, g128\",\"bits\":4.25", &rt, &err), 0);
	if (!rt) {
		fprintf(stderr, "  %s\n", err.msg);
		tq_httpd_stop(&d);
		return;
	}
	qe_runtime_describe(rt, &info);
	TQ_CHECK(strstr(info.desc, "next-token") != NULL);
	TQ_CHECK(strstr(info.desc, "echo fallback") != NULL);
	TQ_EQ_STR(info.ftype, "AWQ 4-bit, g128");
	TQ_NEAR(info.bpw, 4.25, 0);
	TQ_EQ_INT(info.n_ctx, 2048);
	TQ_EQ_INT(score(rt, prompts, 3, res, st, &err), 0);
	for (int i = 0; i < 3; i++)
		for (int c = 0; c < 4; c++) {
			TQ_EQ_INT(st[i], 0);
			TQ_NEAR(res[i].ll[c], tq_fake_next(prompts[i], c), LL_TOL);
			TQ_EQ_INT(res[i].n_cont_tok[c], 1);
		}
	qe_runtime_close(rt);
	tq_httpd_stop(&d);
}

/* the three prompts' scores from character log-probabilities (the fake
 * server's echo, two per continuation; offsets in code points: the third
 * prompt is Chinese); ctx = 1: also the context's token count, cp + 1 */
static void check_echo_scores(const struct qe_score_res *res, int ctx)
{
	for (int i = 0; i < 3; i++) {
		size_t cp = 0;
		for (const char *p = prompts[i]; *p; p++)
			cp += ((unsigned char)*p & 0xC0) != 0x80;
		for (int c = 0; c < 4; c++) {
			TQ_NEAR(res[i].ll[c], tq_fake_echo(cp) + tq_fake_echo(cp + 1), LL_TOL);
			TQ_EQ_INT(res[i].n_cont_tok[c], 2);
			TQ_EQ_INT(res[i].greedy[c], cp % 3 != 0 && (cp + 1) % 3 != 0);
			if (ctx)
				TQ_EQ_INT(res[i].n_ctx_tok, (int)cp + 1);
		}
	}
}

/* the echo route: the continuation's characters' log-probabilities, offsets
 * in code points (the third prompt is Chinese) */
static void test_vllm_echo(void)
{
	struct tq_httpd d;
	struct qe_runtime *rt = NULL;
	struct qe_err err = { 0 };
	struct qe_score_res res[3];
	int st[3];

	TQ_CHECK(start(&d, TQ_VLLM, TQ_OK) == 0);
	TQ_EQ_INT(open_level(&d, "\"route\":\"echo\"", &rt, &err), 0);
	if (rt && score(rt, prompts, 3, res, st, &err) == 0) {
		check_echo_scores(res, 0);
	} else {
		TQ_FAILF("%s", err.msg);
	}
	qe_runtime_close(rt);
	tq_httpd_stop(&d);
}

/* SGLang: no next-token log-probabilities, no echo: the route is found at
 * open to be /generate, whose token texts place the continuation (after
 * a "<s>" the server adds) */
static void test_sglang_generate(void)
{
	struct tq_httpd d;
	struct qe_runtime *rt = NULL;
	struct qe_err err = { 0 };
	struct qe_score_res res[3];
	struct qe_rt_info info;
	int st[3];

	TQ_CHECK(start(&d, TQ_SGLANG, TQ_OK) == 0);
	TQ_EQ_INT(open_level(&d, "", &rt, &err), 0);
	if (rt) {
		qe_runtime_describe(rt, &info);
		TQ_CHECK(strstr(info.desc, "prompt log-probabilities from /generate") != NULL);
		TQ_EQ_INT(score(rt, prompts, 3, res, st, &err), 0);
		check_echo_scores(res, 1);
	}
	qe_runtime_close(rt);
	tq_httpd_stop(&d);
}

/* a choice missing from the top entries: echo when the server has it
 * (vLLM), else the item fails with that reason (LmDeploy) */
static void test_missing_choice(void)
{
	struct tq_httpd d;
	struct qe_runtime *rt = NULL;
	struct qe_err err = { 0 };
	struct qe_score_res res[1];
	int st[1];
	size_t cp = strlen(prompts[0]);

	TQ_CHECK(start(&d, TQ_VLLM, TQ_MISSING) == 0);
	TQ_EQ_INT(open_level(&d, "", &rt, &err), 0);
	TQ_EQ_INT(rt ? score(rt, prompts, 1, res, st, &err) : -1, 0);
	TQ_NEAR(res[0].ll[1], tq_fake_next(prompts[0], 1), LL_TOL);
	TQ_NEAR(res[0].ll[2], tq_fake_echo(cp) + tq_fake_echo(cp + 1), LL_TOL);
	qe_runtime_close(rt);
	tq_httpd_stop(&d);

	rt = NULL;
	TQ_CHECK(start(&d, TQ_LMDEPLOY, TQ_MISSING) == 0);
	TQ_EQ_INT(open_level(&d, "", &rt, &err), 0);
	TQ_EQ_INT(rt ? score(rt, prompts, 1, res, st, &err) : -1, QE_EINPUT);
	TQ_EQ_INT(st[0], QE_EINPUT);
	TQ_CHECK(strstr(res[0].error, "choice 2 (' C') is not among the 13 top log-probabilities") != NULL);
	fprintf(stderr, "  missing choice: %s\n", res[0].error);
	qe_runtime_close(rt);
	tq_httpd_stop(&d);
}

/* One fault: open, score one prompt, the status and a message holding want. */
static void fault_case(int fault, int after, const char *extra, int want_open, int want_st, const char *want)
{
	struct tq_httpd d;
	struct qe_runtime *rt = NULL;
	struct qe_err err = { 0 };
	struct qe_score_res res[2];
	int st[2] = { 0, 0 }, rc;

	TQ_CHECK(start(&d, TQ_VLLM, fault) == 0);
	d.fault_after = after;
	rc = open_level(&d, extra, &rt, &err);
	TQ_EQ_INT(rc, want_open);
	if (rc == 0) {
		score(rt, prompts, 2, res, st, &err);
		TQ_EQ_INT(st[0], want_st);
		TQ_EQ_INT(st[1], want_st);
	}
	TQ_CHECK(strstr(err.msg, want) != NULL);
	TQ_CHECK(strchr(err.msg, '\n') == NULL);
	fprintf(stderr, "  fault %d: %s\n", fault, err.msg);
	qe_runtime_close(rt);
	tq_httpd_stop(&d);
}

static void test_faults(void)
{
	/* 400: the item fails with the server's message; not retried */
	fault_case(TQ_400, 1, "\"route\":\"next\"", 0, QE_EINPUT, "HTTP 400: prompt is too long");
	/* slow: the per-request timeout, retried, then a clear error at open */
	fault_case(TQ_SLOW, 0, "\"route\":\"next\",\"retries\":1,\"timeout_s\":0.3", QE_ERUNTIME, 0, "timed out after 2 tries");
	/* truncated JSON */
	fault_case(TQ_TRUNCATED, 1, "\"route\":\"next\"", 0, QE_EINPUT, "the reply is not JSON");
	/* no log-probabilities: the level stops at the first request, saying so */
	fault_case(TQ_NO_LOGPROBS, 0, "\"route\":\"next\"", 0, QE_ERUNTIME,
		   "offers no log-probabilities qeval can score with (next-token: no top log-probabilities in the reply; echo: not tried; /generate: not tried)");
}

/* 500 on every try: the probe at open (one retry) finds no route, and the
 * first item stops the level saying why; 500 after the probe: retried, then
 * the level cannot go on; two 503s: retried into success. An unknown key is
 * refused before anything is sent. */
static void test_5xx(void)
{
	struct tq_httpd d;
	struct qe_runtime *rt = NULL;
	struct qe_err err = { 0 };
	struct qe_score_res res[1];
	int st[1];

	TQ_CHECK(start(&d, TQ_VLLM, TQ_500) == 0);
	TQ_EQ_INT(open_level(&d, "\"route\":\"next\",\"retries\":2,\"backoff_s\":0.01", &rt, &err), QE_EINVAL);
	TQ_CHECK(strstr(err.msg, "unknown key 'backoff_s'") != NULL);
	TQ_EQ_INT(open_level(&d, "\"route\":\"next\",\"retries\":2", &rt, &err), 0);
	TQ_EQ_INT(d.n_completions, 2);
	TQ_EQ_INT(rt ? score(rt, prompts, 1, res, st, &err) : -1, QE_ERUNTIME);
	TQ_CHECK(strstr(err.msg, "offers no log-probabilities") && strstr(err.msg, "HTTP 500 after 2 tries"));
	fprintf(stderr, "  5xx at open: %s\n", err.msg);
	qe_runtime_close(rt);
	tq_httpd_stop(&d);

	rt = NULL;
	TQ_CHECK(start(&d, TQ_VLLM, TQ_500) == 0);
	d.fault_after = 1;
	TQ_EQ_INT(open_level(&d, "\"route\":\"next\",\"retries\":2", &rt, &err), 0);
	TQ_EQ_INT(rt ? score(rt, prompts, 1, res, st, &err) : -1, QE_ERUNTIME);
	TQ_CHECK(strstr(err.msg, "HTTP 500 after 3 tries") != NULL);
	TQ_EQ_INT(d.n_completions, 1 + 3);
	fprintf(stderr, "  5xx: %s\n", err.msg);
	qe_runtime_close(rt);
	tq_httpd_stop(&d);

	rt = NULL;
	TQ_CHECK(start(&d, TQ_VLLM, TQ_503_TWICE) == 0);
	d.fault_after = 1;
	TQ_EQ_INT(open_level(&d, "\"route\":\"next\"", &rt, &err), 0);
	TQ_EQ_INT(rt ? score(rt, prompts, 1, res, st, &err) : -1, 0);
	TQ_NEAR(res[0].ll[3], tq_fake_next(prompts[0], 3), LL_TOL);
	TQ_EQ_INT(d.n_completions, 1 + 3);
	qe_runtime_close(rt);
	tq_httpd_stop(&d);
}

/* the same numbers with 1 and 8 requests in flight */
static void test_concurrency(void)
{
	const char *many[8] = { "a", "bb", "ccc", "dddd", "Q: 5", "Q: 6", "七", "八八" };
	struct tq_httpd d;
	struct qe_runtime *r1 = NULL, *r8 = NULL;
	struct qe_err err = { 0 };
	struct qe_score_res a[8], b[8];
	int sa[8], sb[8];

	TQ_CHECK(start(&d, TQ_VLLM, TQ_OK) == 0);
	TQ_EQ_INT(open_level(&d, "\"concurrency\":1", &r1, &err), 0);
	TQ_EQ_INT(open_level(&d, "\"concurrency\":8", &r8, &err), 0);
	if (r1 && r8) {
		TQ_EQ_INT(score(r1, many, 8, a, sa, &err), 0);
		TQ_EQ_INT(score(r8, many, 8, b, sb, &err), 0);
		for (int i = 0; i < 8; i++)
			for (int c = 0; c < 4; c++) {
				TQ_CHECK(a[i].ll[c] == b[i].ll[c]);
				TQ_NEAR(a[i].ll[c], tq_fake_next(many[i], c), LL_TOL);
			}
	}
	qe_runtime_close(r1);
	qe_runtime_close(r8);
	tq_httpd_stop(&d);
}

static void test_embeddings(void)
{
	const char *texts[40];
	char buf[40][16];
	struct tq_httpd d;
	struct qe_runtime *rt = NULL;
	struct qe_err err = { 0 };
	float out[40 * 8];
	double v[8];

	for (int i = 0; i < 40; i++) {
		snprintf(buf[i], sizeof(buf[i]), "句子 %d", i);
		texts[i] = buf[i];
	}
	TQ_CHECK(start(&d, TQ_VLLM, TQ_OK) == 0);
	TQ_EQ_INT(open_level(&d, "", &rt, &err), 0);
	TQ_EQ_INT(rt ? qe_runtime_embed_dim(rt) : 0, 8);
	TQ_EQ_INT(rt ? qe_runtime_embed(rt, texts, 40, 1, out, NULL, &err) : -1, 0);
	for (int i = 0; i < 40; i++) {
		double n = 0;
		tq_fake_vec(texts[i], 8, v);
		for (int k = 0; k < 8; k++)
			n += v[k] * v[k];
		for (int k = 0; k < 8; k++)
			TQ_NEAR(out[i * 8 + k], v[k] / sqrt(n), EMB_TOL);
	}
	qe_runtime_close(rt);
	tq_httpd_stop(&d);
}

/* the key goes to the server as a bearer token, and into nothing qeval says */
static void test_api_key(void)
{
	struct tq_httpd d;
	struct qe_runtime *rt = NULL;
	struct qe_err err = { 0 };
	struct qe_rt_info info;
	struct qe_level lv;
	struct qe_level_spec ls = { 0 };
	cJSON *o, *id = cJSON_CreateObject();
	char *idtext;

	setenv("QE_TEST_KEY", "sk-test-0123456789", 1);
	unsetenv("QE_TEST_UNSET");
	TQ_CHECK(start(&d, TQ_VLLM, TQ_OK) == 0);
	TQ_EQ_INT(open_level(&d, "\"api_key_env\":\"QE_TEST_UNSET\"", &rt, &err), QE_EINVAL);
	TQ_CHECK(strstr(err.msg, "QE_TEST_UNSET (api_key_env) is not set") != NULL);
	TQ_EQ_INT(open_level(&d, "\"api_key_env\":\"QE_TEST_KEY\",\"retries\":0", &rt, &err), 0);
	TQ_EQ_STR(d.last_auth, "Bearer sk-test-0123456789");
	if (rt) {
		struct qe_score_res res[1];
		int st[1];
		score(rt, prompts, 1, res, st, &err);
		qe_runtime_describe(rt, &info);
		TQ_CHECK(!strstr(err.msg, "sk-test") && !strstr(res[0].error, "sk-test"));
		TQ_CHECK(!strstr(info.desc, "sk-test") && !strstr(info.engine_build, "sk-test"));
	}
	o = cJSON_Parse("{\"runtime\":\"openai\",\"url\":\"http://h/v1\",\"model\":\"m\",\"api_key_env\":\"QE_TEST_KEY\"}");
	ls.obj = o;
	TQ_EQ_INT(qe_level_spec_prepare(NULL, NULL, &ls, "/tmp", 1, &lv, &err), 0);
	TQ_EQ_INT(qe_level_identity(NULL, &lv, "/tmp", id, &err), 0);
	idtext = cJSON_PrintUnformatted(id);
	TQ_CHECK(!strstr(lv.url, "sk-test") && !strstr(lv.path, "sk-test") && !strstr(idtext, "sk-test"));
	TQ_EQ_STR(qe_json_str(id, "url", ""), "http://h/v1");
	free(idtext);
	cJSON_Delete(id);
	cJSON_Delete(o);
	qe_runtime_close(rt);
	tq_httpd_stop(&d);
}

/* level specs: names, keys, errors naming the level */
static void test_specs(void)
{
	static const struct { const char *spec; int rc; const char *want; } cases[] = {
		{ "{\"runtime\":\"openai\",\"url\":\"http://h/v1\",\"model\":\"org/m-AWQ\"}", 0, "org_m-AWQ" },
		{ "{\"runtime\":\"openai\",\"name\":\"awq\",\"url\":\"http://h/v1\",\"model\":\"m\"}", 0, "awq" },
		{ "{\"runtime\":\"openai\",\"name\":\"x\",\"model\":\"m\"}", QE_EINVAL, "level 'x': runtime 'openai' needs \"url\" and \"model\"" },
		{ "{\"runtime\":\"openai\",\"name\":\"x\",\"url\":\"u\",\"model\":\"m\",\"bitz\":4}", QE_EINVAL, "unknown key 'bitz'" },
		{ "{\"runtime\":\"openai\",\"name\":\"x\",\"url\":\"u\",\"model\":\"m\",\"bits\":\"4\"}", QE_EINVAL, "\"bits\" is not a number" },
		{ "{\"runtime\":\"openai\",\"name\":\"x\",\"url\":\"u\",\"model\":\"m\",\"route\":\"prompt\"}", QE_EINVAL, "\"route\" is \"auto\"" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cJSON *o = cJSON_Parse(cases[i].spec);
		struct qe_level_spec ls = { .obj = o };
		struct qe_err err = { 0 };
		char name[64] = "";
		int rc = qe_level_spec_name("llamacpp", &ls, name, sizeof(name), &err);
		TQ_EQ_INT(rc, cases[i].rc);
		TQ_CHECK(strstr(rc ? err.msg : name, cases[i].want) != NULL);
		cJSON_Delete(o);
	}
}

int main(void)
{
	TQ_RUN(test_specs);
	TQ_RUN(test_vllm_next);
	TQ_RUN(test_vllm_echo);
	TQ_RUN(test_sglang_generate);
	TQ_RUN(test_missing_choice);
	TQ_RUN(test_faults);
	TQ_RUN(test_5xx);
	TQ_RUN(test_concurrency);
	TQ_RUN(test_embeddings);
	TQ_RUN(test_api_key);
	return tq_done("t_rt_openai");
}
