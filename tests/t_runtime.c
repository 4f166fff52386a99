/* Tests of the runtime interface and the llamacpp runtime, on the generated
 * fixture models (and on ../shared/models when present). The reference for
 * log-likelihoods is a direct token-by-token computation through libllama. */
#include "tests/tq.h"

#include "harness/base/sha256.h"
#include "harness/base/sys.h"
#include "runtimes/gguf_info.h"
#include "runtimes/runtime.h"

#include <float.h>
#include <unistd.h>

#include <llama.h>

/* Batched decoding vs one token per decode: the engine's kernels change with
 * the batch size (F16 activations, another summation order, the F16 KV
 * cache), which moves a log-likelihood by up to ~5e-3 here. A wrong position,
 * token or offset moves it by far more than this. */
#define LL_TOL 2e-2
#define COS_TOL 1e-5
/* A question decoded with others against the same question decoded alone, per
 * continuation token: rounding only. Its tokens sit elsewhere in the
 * micro-batch and in the KV cache, so the kernels (matrix tiles, flash
 * attention's tiles over the cache, F16 activations and cache) add the same
 * terms in another order. Measured: up to 6.6e-3 on the random-weight fixture
 * (as far as alone is from the token-by-token computation), 1e-6 on
 * stories260K, 1.4e-2 on mc-memorizer (alone vs token-by-token: 1.8e-2).
 * Attending to another question's tokens, or a wrong position, moves a
 * log-likelihood by far more. */
#define BATCH_TOL 2e-2

static char g_tmp[256];

static void fixture(char *buf, size_t cap, const char *name)
{
	snprintf(buf, cap, "%s/%s", tq_fixtures(), name);
}

static struct qe_runtime *open_model(const char *path, int embeddings, int pooling)
{
	struct qe_rt_params p = qe_rt_default_params();
	struct qe_runtime *rt = NULL;
	struct qe_err err = { 0 };

	p.model = path;
	p.level = "test";
	p.embeddings = embeddings;
	p.pooling = pooling;
	if (qe_runtime_open(&p, &rt, &err) != 0)
		fprintf(stderr, "  open failed: %s\n", err.msg);
	return rt;
}

/* ---- the independent computation: one token per llama_decode ---------- */

static double direct_loglik(const char *path, const char *context, const char *cont)
{
	static char cur[512];
	static struct llama_model *m;
	static struct llama_context *c;
	const struct llama_vocab *v;
	int32_t ctx_tok[4096], whole[4096];
	char buf[8192];
	int n_ctx, n_whole, nv;
	double ll = 0.0;

	if (strcmp(cur, path) != 0) {
		struct llama_context_params cp = llama_context_default_params();
		if (c)
			llama_free(c);
		if (m)
			llama_model_free(m);
		m = llama_model_load_from_file(path, llama_model_default_params());
		cp.n_ctx = 1024;
		cp.n_threads = cp.n_threads_batch = qe_cpus_allowed();
		c = llama_init_from_model(m, cp);
		snprintf(cur, sizeof(cur), "%s", path);
	}
	llama_memory_clear(llama_get_memory(c), true);
	v = llama_model_get_vocab(m);
	nv = llama_vocab_n_tokens(v);
	snprintf(buf, sizeof(buf), "%s%s", context, cont);
	n_ctx = llama_tokenize(v, context, (int32_t)strlen(context), ctx_tok, 4096, true, false);
	n_whole = llama_tokenize(v, buf, (int32_t)strlen(buf), whole, 4096, true, false);
	for (int i = 0; i < n_whole - 1; i++) {
		struct llama_batch b = llama_batch_get_one(&whole[i], 1);
		const float *lg;
		double mx = -DBL_MAX, s = 0.0;
		if (llama_decode(c, b) != 0)
			return NAN;
		if (i + 1 < n_ctx)
			continue;
		lg = llama_get_logits_ith(c, -1);
		for (int k = 0; k < nv; k++)
			mx = lg[k] > mx ? lg[k] : mx;
		for (int k = 0; k < nv; k++)
			s += exp((double)lg[k] - mx);
		ll += (double)lg[whole[i + 1]] - mx - log(s);
	}
	return ll;
}

/* ---- scoring ------------------------------------------------------------ */

static const char *const k_contexts[] = {
	"The following are multiple choice questions (with answers) about the time.\n\nWhat is the time?\nA. one\nB. two\nC. three\nD. four\nAnswer:",
	"The following are multiple choice questions (with answers) about the time.\n\nWhich girl was named Lily?\nA. the first\nB. a second\nC. none\nD. all\nAnswer:",
	"Once upon a time, there was a little girl named",
};
static const char *const k_conts[] = { " A", " B", " C", " D" };
static const char *const k_long_conts[] = { " Lily.", " the little girl", " Tom and Tim", "x" };

static void check_against_direct(struct qe_runtime *rt, const char *path, int reset_between)
{
	struct qe_score_res res;
	struct qe_err err = { 0 };
	int st;

	for (size_t i = 0; i < 3; i++) {
		const char *const *conts = i == 2 ? k_long_conts : k_conts;
		struct qe_score_req rq = { .context = k_contexts[i], .conts = conts, .n_conts = 4 };
		if (reset_between)
			qe_runtime_reset(rt);
		TQ_EQ_INT(qe_runtime_score(rt, &rq, 1, &res, &st, &err), 0);
		TQ_EQ_INT(st, 0);
		for (size_t j = 0; j < 4; j++) {
			double want = direct_loglik(path, k_contexts[i], conts[j]);
			TQ_NEAR(res.ll[j], want, LL_TOL);
			TQ_CHECK(res.ll[j] < 0.0);
		}
		if (i == 1 && !reset_between) {
			/* the second question shares the header with the first */
			TQ_CHECK(res.n_reused > 10);
			TQ_CHECK(res.n_reused + res.n_evaluated >= res.n_ctx_tok);
		}
		if (reset_between)
			TQ_EQ_INT(res.n_reused, 0);
	}
}

static void check_fixture_against_direct(const char *file, int reset_between)
{
	char path[512];
	struct qe_runtime *rt;

	fixture(path, sizeof(path), file);
	rt = open_model(path, 0, QE_POOL_MODEL);
	TQ_CHECK(rt);
	if (!rt)
		return;
	check_against_direct(rt, path, reset_between);
	qe_runtime_close(rt);
}

static void test_score_matches_direct_with_reuse(void)
{
	check_fixture_against_direct("tiny-llama-f16.gguf", 0);
}

static void test_score_matches_direct_without_reuse(void)
{
	check_fixture_against_direct("tiny-llama-f32.gguf", 1);
}

static void test_score_same_request_twice_is_identical(void)
{
	char path[512];
	struct qe_runtime *rt;
	struct qe_score_res r[3];
	struct qe_score_req rq[3];
	struct qe_err err = { 0 };
	int st[3];

	fixture(path, sizeof(path), "tiny-llama-f16.gguf");
	rt = open_model(path, 0, QE_POOL_MODEL);
	if (!rt)
		TQ_SKIP("fixture did not open");
	for (int i = 0; i < 3; i++)
		rq[i] = (struct qe_score_req){ .context = k_contexts[i == 2 ? 1 : 0], .conts = k_conts, .n_conts = 4 };
	TQ_EQ_INT(qe_runtime_score(rt, rq, 3, r, st, &err), 0);
	/* request 0 and 1 are the same context: the cache serves all but the last
	 * token, whose logits are needed again */
	for (int j = 0; j < 4; j++)
		TQ_NEAR(r[0].ll[j], r[1].ll[j], LL_TOL);
	TQ_EQ_INT(r[1].n_evaluated, 1);
	TQ_EQ_INT(r[1].n_reused, r[1].n_ctx_tok - 1);
	TQ_CHECK(r[2].n_reused > 10 && r[2].n_reused < r[2].n_ctx_tok - 1);
	qe_runtime_close(rt);
}

/* A declared prefix (the few-shot header) is its own segment: a request's
 * log-likelihoods are the same bits whatever was scored before it, and the
 * header is evaluated once while it repeats. */
static void test_score_declared_prefix_is_history_free(void)
{
	static const char hdr[] = "The following are multiple choice questions (with answers) about the time.\n\n";
	static const char *const q[] = {
		"What is the time?\nA. one\nB. two\nC. three\nD. four\nAnswer:",
		"What is the hour of the day?\nA. the first\nB. a second\nC. none\nD. all\nAnswer:",
	};
	char path[512], x[512], y[512];
	struct qe_runtime *rt;
	struct qe_score_res cold, warm, other;
	struct qe_err err = { 0 };
	int st, n_hdr;

	fixture(path, sizeof(path), "tiny-llama-f16.gguf");
	rt = open_model(path, 0, QE_POOL_MODEL);
	if (!rt)
		TQ_SKIP("fixture did not open");
	snprintf(x, sizeof(x), "%s%s", hdr, q[0]);
	snprintf(y, sizeof(y), "%s%s", hdr, q[1]);
	n_hdr = qe_runtime_tokenize(rt, hdr, 1, NULL, 0, &err);
	TQ_CHECK(n_hdr > 10);
	{
		struct qe_score_req rx = { .context = x, .conts = k_conts, .n_conts = 4, .prefix_len = strlen(hdr) };
		struct qe_score_req ry = { .context = y, .conts = k_conts, .n_conts = 4, .prefix_len = strlen(hdr) };
		struct qe_score_req rz = { .context = k_contexts[2], .conts = k_long_conts, .n_conts = 4 };
		qe_runtime_reset(rt);
		TQ_EQ_INT(qe_runtime_score(rt, &rx, 1, &cold, &st, &err), 0);
		TQ_EQ_INT(cold.n_reused, 0);
		TQ_EQ_INT(cold.n_evaluated, cold.n_ctx_tok);
		/* another context, then a question sharing more than the header
		 * ("What is the"), then x again: only the header is reused */
		TQ_EQ_INT(qe_runtime_score(rt, &rz, 1, &other, &st, &err), 0);
		TQ_EQ_INT(qe_runtime_score(rt, &ry, 1, &other, &st, &err), 0);
		TQ_EQ_INT(other.n_reused, 0); /* the cache held another context */
		TQ_EQ_INT(qe_runtime_score(rt, &rx, 1, &warm, &st, &err), 0);
		TQ_EQ_INT(warm.n_reused, n_hdr);
		TQ_EQ_INT(warm.n_evaluated, warm.n_ctx_tok - n_hdr);
		for (int j = 0; j < 4; j++) {
			TQ_CHECK(memcmp(&cold.ll[j], &warm.ll[j], sizeof(double)) == 0);
			TQ_NEAR(cold.ll[j], direct_loglik(path, x, k_conts[j]), LL_TOL);
		}
		/* a prefix that does not end on a token boundary of the context is
		 * not a segment: scored as without one */
		rx.prefix_len = strlen(hdr) - 1;
		TQ_EQ_INT(qe_runtime_score(rt, &rx, 1, &other, &st, &err), 0);
		for (int j = 0; j < 4; j++)
			TQ_NEAR(other.ll[j], cold.ll[j], LL_TOL);
	}
	qe_runtime_close(rt);
}

/* ---- many questions per decode ------------------------------------------- */

#define N_BATCH_Q 12

/* The few-shot header and the questions of the batching tests: questions of
 * different lengths, every fourth with multi-token continuations. */
static const char k_hdr[] =
	"The following are multiple choice questions (with answers) about the time.\n\n"
	"What is the time?\nA. one\nB. two\nC. three\nD. four\nAnswer: B\n\n"
	"Once upon a time, there was a little girl named Lily. Who was she?\nA. a girl\nB. a dog\nC. a cat\nD. a tree\nAnswer: A\n\n";

static void batch_requests(char q[N_BATCH_Q][512], struct qe_score_req rq[N_BATCH_Q])
{
	static const char *const body[] = {
		"What is the hour?", "Which girl was named Lily in the story of the little girl and the big dog?",
		"Who is Tom?", "Where did Lily go when the sun was up and the birds were singing in the trees?",
		"What did she see?", "Why?",
	};

	for (int i = 0; i < N_BATCH_Q; i++) {
		snprintf(q[i], 512, "%s%s (%d)\nA. one\nB. two\nC. three\nD. four\nAnswer:", k_hdr, body[i % 6], i);
		rq[i] = (struct qe_score_req){ .context = q[i], .conts = i % 4 == 3 ? k_long_conts : k_conts, .n_conts = 4,
					       .prefix_len = strlen(k_hdr) };
	}
}

/* The largest |a - b| per continuation token over the requests' log-likelihoods. */
static double max_ll_diff(const struct qe_score_res *a, const struct qe_score_res *b, int n)
{
	double mx = 0.0;

	for (int i = 0; i < n; i++)
		for (int j = 0; j < 4; j++) {
			double d = fabs(a[i].ll[j] - b[i].ll[j]) / (a[i].n_cont_tok[j] > 0 ? a[i].n_cont_tok[j] : 1);
			mx = d > mx ? d : mx;
		}
	return mx;
}

/* A question scored with others (each in its own sequence, one decode)
 * against the same question alone: within BATCH_TOL; and the same call gives
 * the same bits whatever was scored before it. */
static void check_batch_equals_alone(const char *path, int n_seq)
{
	static char q[N_BATCH_Q][512];
	struct qe_rt_params p = qe_rt_default_params();
	struct qe_runtime *rt = NULL;
	struct qe_score_req rq[N_BATCH_Q];
	static struct qe_score_res all[N_BATCH_Q], again[N_BATCH_Q], alone[N_BATCH_Q];
	struct qe_err err = { 0 };
	int st[N_BATCH_Q], n_hdr;
	double d;

	p.model = path;
	p.level = "test";
	p.n_seq = (uint32_t)n_seq;
	if (qe_runtime_open(&p, &rt, &err) != 0)
		TQ_SKIP("%s did not open: %s", path, err.msg);
	batch_requests(q, rq);
	n_hdr = qe_runtime_tokenize(rt, k_hdr, 1, NULL, 0, &err);
	TQ_EQ_INT(qe_runtime_score(rt, rq, N_BATCH_Q, all, st, &err), 0);
	for (int i = 0; i < N_BATCH_Q; i++) {
		TQ_EQ_INT(st[i], 0);
		/* the first request had the header evaluated; the others reuse it */
		TQ_EQ_INT(all[i].n_reused, i == 0 ? 0 : n_hdr);
		TQ_EQ_INT(all[i].n_evaluated, all[i].n_ctx_tok - all[i].n_reused + all[i].n_cont_tok[0] +
			  all[i].n_cont_tok[1] + all[i].n_cont_tok[2] + all[i].n_cont_tok[3] - 4);
	}
	for (int i = 0; i < N_BATCH_Q; i++) {
		TQ_EQ_INT(qe_runtime_score(rt, &rq[i], 1, &alone[i], &st[0], &err), 0);
		TQ_EQ_INT(alone[i].n_ctx_tok, all[i].n_ctx_tok);
		for (int j = 0; j < 4; j++) {
			TQ_EQ_INT(alone[i].n_cont_tok[j], all[i].n_cont_tok[j]);
			TQ_EQ_INT(alone[i].greedy[j], all[i].greedy[j]);
		}
	}
	d = max_ll_diff(all, alone, N_BATCH_Q);
	printf("  %s, %d per decode: batched vs alone, max |d ll| per token %.3g\n", path, n_seq, d);
	TQ_CHECK(d <= BATCH_TOL);
	for (int i = 0; i < N_BATCH_Q; i += 5)
		for (int j = 0; j < 4; j++)
			TQ_NEAR(all[i].ll[j], direct_loglik(path, rq[i].context, rq[i].conts[j]), LL_TOL);
	/* the same call again, after other calls (the cache holds the header
	 * now), and after a reset: the same bits */
	for (int k = 0; k < 2; k++) {
		if (k == 1)
			qe_runtime_reset(rt);
		TQ_EQ_INT(qe_runtime_score(rt, rq, N_BATCH_Q, again, st, &err), 0);
		for (int i = 0; i < N_BATCH_Q; i++)
			TQ_CHECK(memcmp(again[i].ll, all[i].ll, sizeof(all[i].ll)) == 0);
	}
	qe_runtime_close(rt);
}

static void test_score_batch_equals_alone(void)
{
	char path[512];

	fixture(path, sizeof(path), "tiny-llama-f16.gguf");
	check_batch_equals_alone(path, 0);  /* the CPU default, 8: decodes of 8 and 4 */
	check_batch_equals_alone(path, 5);  /* decodes of 5, 5, 2 */
	check_batch_equals_alone(path, 32); /* every question in one decode */
	snprintf(path, sizeof(path), "%s/models/stories260K-ffn192-f16.gguf", tq_shared());
	if (access(path, R_OK) == 0)
		check_batch_equals_alone(path, 0);
}

/* Runtime opened on path with n_seq requests per decode and n_ctx scoring
 * contexts; NULL when it does not open. */
static struct qe_runtime *open_scoring(const char *path, int n_seq, int n_ctx)
{
	struct qe_rt_params p = qe_rt_default_params();
	struct qe_runtime *rt = NULL;
	struct qe_err err = { 0 };

	p.model = path;
	p.level = "test";
	p.n_seq = (uint32_t)n_seq;
	p.n_score_ctx = (uint32_t)n_ctx;
	if (qe_runtime_open(&p, &rt, &err) != 0)
		fprintf(stderr, "  open failed: %s\n", err.msg);
	return rt;
}

/* Groups in one call: the requests' `group` ids cut the decodes, so a call
 * of three groups gives each group the bits a call of that group alone
 * gives; with two scoring contexts taking the decodes in turn the bits are
 * those of one context; describe says how many contexts there are. */
static void test_score_groups_and_two_contexts(void)
{
	static char q[N_BATCH_Q][512];
	static struct qe_score_res one[N_BATCH_Q], two[N_BATCH_Q], apart[N_BATCH_Q];
	static const int first[] = { 0, 5, 9, N_BATCH_Q }; /* groups of 5, 4, 3 */
	struct qe_score_req rq[N_BATCH_Q];
	struct qe_runtime *rt1, *rt2;
	struct qe_rt_info info;
	struct qe_err err = { 0 };
	int st[N_BATCH_Q];
	char path[512];

	fixture(path, sizeof(path), "tiny-llama-f16.gguf");
	rt1 = open_scoring(path, 4, 1);
	rt2 = open_scoring(path, 4, 2);
	if (!rt1 || !rt2)
		TQ_SKIP("fixture did not open");
	batch_requests(q, rq);
	for (int g = 0; g < 3; g++)
		for (int i = first[g]; i < first[g + 1]; i++)
			rq[i].group = (uint32_t)g;
	TQ_EQ_INT(qe_runtime_score(rt1, rq, N_BATCH_Q, one, st, &err), 0);
	TQ_EQ_INT(qe_runtime_score(rt2, rq, N_BATCH_Q, two, st, &err), 0);
	for (int g = 0; g < 3; g++)
		TQ_EQ_INT(qe_runtime_score(rt1, rq + first[g], (size_t)(first[g + 1] - first[g]), apart + first[g], st, &err),
			  0);
	for (int i = 0; i < N_BATCH_Q; i++) {
		TQ_CHECK(memcmp(one[i].ll, apart[i].ll, sizeof(one[i].ll)) == 0);
		TQ_CHECK(memcmp(one[i].ll, two[i].ll, sizeof(one[i].ll)) == 0);
		TQ_CHECK(memcmp(one[i].greedy, two[i].greedy, sizeof(one[i].greedy)) == 0);
	}
	qe_runtime_describe(rt1, &info);
	TQ_EQ_INT((int)info.n_score_ctx, 1);
	qe_runtime_describe(rt2, &info);
	TQ_EQ_INT((int)info.n_score_ctx, 2);
	qe_runtime_close(rt1);
	qe_runtime_close(rt2);
}

/* A level whose arithmetic gives NaN: each request fails with QE_ENUMERIC
 * and its reason; nothing is scored as if it were a number. */
static void test_score_nonfinite_is_a_numeric_error(void)
{
	char path[512];
	struct qe_runtime *rt;
	struct qe_score_res r[2];
	struct qe_score_req rq[2] = {
		{ .context = k_contexts[0], .conts = k_conts, .n_conts = 4 },
		{ .context = k_contexts[1], .conts = k_conts, .n_conts = 4, .prefix_len = 20 },
	};
	struct qe_err err = { 0 };
	int st[2];

	fixture(path, sizeof(path), "tiny-llama-nan.gguf");
	rt = open_model(path, 0, QE_POOL_MODEL);
	if (!rt)
		TQ_SKIP("fixture did not open");
	TQ_EQ_INT(qe_runtime_score(rt, rq, 2, r, st, &err), QE_ENUMERIC);
	TQ_EQ_INT(st[0], QE_ENUMERIC);
	TQ_EQ_INT(st[1], QE_ENUMERIC);
	TQ_CHECK(strstr(err.msg, "request 0") != NULL);
	TQ_CHECK(strstr(err.msg, "non-finite") != NULL);
	TQ_CHECK(strstr(err.msg, "' A'") != NULL);
	/* each request carries its own reason */
	TQ_CHECK(strstr(r[1].error, "non-finite") != NULL);
	qe_runtime_close(rt);
}

static void test_score_too_long_is_one_failed_request(void)
{
	char path[512], *big;
	struct qe_rt_params p = qe_rt_default_params();
	struct qe_runtime *rt = NULL;
	struct qe_score_res r[2];
	struct qe_score_req rq[2];
	struct qe_err err = { 0 };
	int st[2];

	fixture(path, sizeof(path), "tiny-llama-f16.gguf");
	p.model = path;
	p.n_ctx = 256;
	TQ_EQ_INT(qe_runtime_open(&p, &rt, &err), 0);
	if (!rt)
		return;
	big = malloc(20000);
	memset(big, 'x', 19999);
	big[19999] = '\0';
	memset(big, ' ', 5000); /* spaces and x's: many tokens */
	rq[0] = (struct qe_score_req){ .context = big, .conts = k_conts, .n_conts = 4 };
	rq[1] = (struct qe_score_req){ .context = k_contexts[0], .conts = k_conts, .n_conts = 4 };
	TQ_CHECK(qe_runtime_score(rt, rq, 2, r, st, &err) != 0);
	TQ_EQ_INT(st[0], QE_EINPUT);
	TQ_EQ_INT(st[1], 0);
	TQ_CHECK(strstr(err.msg, "request 0") != NULL);
	TQ_CHECK(strstr(err.msg, "exceeds the context") != NULL);
	TQ_CHECK(strstr(r[0].error, "exceeds the context") != NULL);
	TQ_EQ_STR(r[1].error, "");
	free(big);
	qe_runtime_close(rt);
}

static void test_tokenize_matches_libllama(void)
{
	char path[512];
	struct qe_runtime *rt;
	struct qe_err err = { 0 };
	int32_t a[256], b[256];
	int na, nb;
	struct llama_model *m;

	fixture(path, sizeof(path), "tiny-llama-f16.gguf");
	rt = open_model(path, 0, QE_POOL_MODEL);
	if (!rt)
		TQ_SKIP("fixture did not open");
	na = qe_runtime_tokenize(rt, k_contexts[2], 1, a, 256, &err);
	m = llama_model_load_from_file(path, llama_model_default_params());
	nb = llama_tokenize(llama_model_get_vocab(m), k_contexts[2], (int32_t)strlen(k_contexts[2]), b, 256, true, false);
	TQ_EQ_INT(na, nb);
	TQ_CHECK(na > 0 && memcmp(a, b, (size_t)na * sizeof(int32_t)) == 0);
	/* a too-small buffer: the count comes back, the first cap tokens are written */
	TQ_EQ_INT(qe_runtime_tokenize(rt, k_contexts[2], 1, a, 3, &err), nb);
	TQ_CHECK(memcmp(a, b, 3 * sizeof(int32_t)) == 0);
	llama_model_free(m);
	qe_runtime_close(rt);
}

/* ---- embeddings ---------------------------------------------------------- */

static const char *const k_texts[] = {
	"the man is playing a guitar", "a woman is playing", "我喜欢吃苹果", "你好吗？",
	"the dog", "a cat is in the house", "今天天气很好", "x",
};
#define N_TEXTS 8

static double cosine(const float *a, const float *b, size_t d)
{
	double ab = 0, aa = 0, bb = 0;
	for (size_t i = 0; i < d; i++) {
		ab += (double)a[i] * b[i];
		aa += (double)a[i] * a[i];
		bb += (double)b[i] * b[i];
	}
	return ab / sqrt(aa * bb);
}

static void check_batched_equals_single(const char *file, int pooling)
{
	char path[512];
	struct qe_runtime *rt;
	struct qe_err err = { 0 };
	size_t dim;
	float *all, *one;

	fixture(path, sizeof(path), file);
	rt = open_model(path, 1, pooling);
	TQ_CHECK(rt);
	if (!rt)
		return;
	dim = qe_runtime_embed_dim(rt);
	TQ_EQ_INT(dim, 256);
	all = calloc(N_TEXTS * dim, sizeof(float));
	one = calloc(dim, sizeof(float));
	TQ_EQ_INT(qe_runtime_embed(rt, k_texts, N_TEXTS, 1, all, NULL, &err), 0);
	for (size_t i = 0; i < N_TEXTS; i++) {
		double norm = 0;
		TQ_EQ_INT(qe_runtime_embed(rt, &k_texts[i], 1, 1, one, NULL, &err), 0);
		TQ_NEAR(cosine(all + i * dim, one, dim), 1.0, COS_TOL);
		for (size_t d = 0; d < dim; d++)
			norm += (double)all[i * dim + d] * all[i * dim + d];
		TQ_NEAR(norm, 1.0, 1e-5);
	}
	/* different texts give different embeddings */
	TQ_CHECK(cosine(all, all + dim, dim) < 0.9999);
	free(all);
	free(one);
	qe_runtime_close(rt);
}

static void test_embed_bert_mean_batched_equals_single(void)
{
	check_batched_equals_single("tiny-bert-f32.gguf", QE_POOL_MODEL);
}

static void test_embed_bert_cls_batched_equals_single(void)
{
	check_batched_equals_single("tiny-bert-cls-f32.gguf", QE_POOL_MODEL);
}

static void test_embed_decoder_mean(void)
{
	check_batched_equals_single("tiny-llama-f16.gguf", QE_POOL_MEAN);
}

static void test_embed_pooling_differs(void)
{
	char a[512];
	struct qe_runtime *r1, *r2;
	struct qe_err err = { 0 };
	float e1[256], e2[256];

	fixture(a, sizeof(a), "tiny-bert-f32.gguf");
	r1 = open_model(a, 1, QE_POOL_MEAN);
	r2 = open_model(a, 1, QE_POOL_CLS);
	if (!r1 || !r2)
		TQ_SKIP("fixture did not open");
	TQ_EQ_INT(qe_runtime_embed(r1, k_texts, 1, 1, e1, NULL, &err), 0);
	TQ_EQ_INT(qe_runtime_embed(r2, k_texts, 1, 1, e2, NULL, &err), 0);
	TQ_CHECK(cosine(e1, e2, 256) < 0.999);
	qe_runtime_close(r1);
	qe_runtime_close(r2);
}

static void test_embed_truncates_long_text(void)
{
	char path[512], *big;
	struct qe_runtime *rt;
	struct qe_err err = { 0 };
	const char *t[1];
	float e[256];
	size_t n_trunc = 0;

	fixture(path, sizeof(path), "tiny-bert-f32.gguf");
	rt = open_model(path, 1, QE_POOL_MODEL);
	if (!rt)
		TQ_SKIP("fixture did not open");
	big = malloc(4001);
	for (int i = 0; i < 4000; i++)
		big[i] = (i % 2) ? ' ' : 'a';
	big[4000] = '\0';
	t[0] = big;
	TQ_EQ_INT(qe_runtime_embed(rt, t, 1, 1, e, &n_trunc, &err), 0);
	TQ_EQ_INT(n_trunc, 1);
	free(big);
	qe_runtime_close(rt);
}

static void test_encoder_cannot_score(void)
{
	char path[512];
	struct qe_runtime *rt;
	struct qe_score_res r;
	struct qe_score_req rq = { .context = "a", .conts = k_conts, .n_conts = 4 };
	struct qe_err err = { 0 };
	int st;

	fixture(path, sizeof(path), "tiny-bert-f32.gguf");
	rt = open_model(path, 1, QE_POOL_MODEL);
	if (!rt)
		TQ_SKIP("fixture did not open");
	TQ_EQ_INT(qe_runtime_score(rt, &rq, 1, &r, &st, &err), QE_ENOTSUP);
	TQ_CHECK(strstr(err.msg, "encoder") != NULL);
	qe_runtime_close(rt);
}

/* ---- speed, describe ------------------------------------------------------ */

static void test_speed_measures_positive_times(void)
{
	char path[512];
	struct qe_runtime *rt;
	struct qe_speed_req rq = { .n_prompt = 64, .n_gen = 8, .seed = 1 };
	struct qe_speed_res rs;
	struct qe_err err = { 0 };

	fixture(path, sizeof(path), "tiny-llama-f16.gguf");
	rt = open_model(path, 0, QE_POOL_MODEL);
	if (!rt)
		TQ_SKIP("fixture did not open");
	TQ_EQ_INT(qe_runtime_speed(rt, &rq, &rs, &err), 0);
	TQ_CHECK(rs.t_prompt_s > 0 && rs.t_gen_s > 0);
	TQ_CHECK(rs.t_first_s > rs.t_prompt_s && rs.t_first_s < rs.t_prompt_s + rs.t_gen_s);
	rq.n_depth = 100; /* a context already there: decoded untimed */
	TQ_EQ_INT(qe_runtime_speed(rt, &rq, &rs, &err), 0);
	TQ_CHECK(rs.t_prompt_s > 0 && rs.t_gen_s > 0);
	rq.n_depth = -1;
	TQ_EQ_INT(qe_runtime_speed(rt, &rq, &rs, &err), QE_EINVAL);
	rq.n_depth = 0;
	rq.n_prompt = 0;
	TQ_EQ_INT(qe_runtime_speed(rt, &rq, &rs, &err), 0);
	TQ_CHECK(rs.t_prompt_s == 0 && rs.t_gen_s > 0);
	rq.n_gen = 0;
	TQ_EQ_INT(qe_runtime_speed(rt, &rq, &rs, &err), QE_EINVAL);
	qe_runtime_close(rt);
}

static void test_describe_counts(void)
{
	char path[512];
	struct qe_runtime *rt;
	struct qe_rt_info info;
	uint64_t n = 0;

	fixture(path, sizeof(path), "tiny-llama-f16.gguf");
	rt = open_model(path, 0, QE_POOL_MODEL);
	if (!rt)
		TQ_SKIP("fixture did not open");
	qe_runtime_describe(rt, &info);
	TQ_EQ_STR(info.arch, "llama");
	TQ_EQ_INT(info.n_layer, 2);
	TQ_EQ_INT(info.n_embd, 256);
	TQ_EQ_INT(info.file_bytes, qe_file_size(path));
	for (int i = 0; i < info.n_types; i++)
		n += info.types[i].n_elements;
	TQ_EQ_INT(n, info.n_params);
	TQ_CHECK(info.n_types == 2); /* f16 matrices, f32 norms */
	TQ_NEAR(info.bpw, 16.0, 0.2);
	TQ_CHECK(strstr(info.engine_version, "llama.cpp") != NULL);
	TQ_EQ_INT(info.n_threads, qe_cpus_allowed());
	qe_runtime_close(rt);
}

/* describe names the batch sizes the items really go through, before and
 * after the scoring context exists; speed tests report their own */
static void test_describe_reports_the_scoring_batches(void)
{
	char path[512];
	struct qe_rt_params p = qe_rt_default_params();
	struct qe_runtime *rt = NULL;
	struct qe_rt_info before, after;
	struct qe_score_req rq = { .context = "Once upon a time", .conts = (const char *[]){ " there" }, .n_conts = 1 };
	struct qe_score_res r;
	struct qe_speed_req sq = { .n_prompt = 32, .seed = 1 };
	struct qe_speed_res sr;
	struct qe_err err = { 0 };
	int st;

	fixture(path, sizeof(path), "tiny-llama-f16.gguf");
	p.model = path;
	p.level = "test";
	if (qe_runtime_open(&p, &rt, &err) != 0)
		TQ_SKIP("fixture did not open");
	qe_runtime_describe(rt, &before);
	TQ_CHECK(before.n_ctx > 512);
	/* many questions per decode: four windows (at most 8,192 tokens), a
	 * decode in one micro-batch */
	TQ_EQ_INT(before.n_batch, before.n_ctx * 4 < 8192 ? before.n_ctx * 4 : 8192);
	TQ_EQ_INT(before.n_ubatch, before.n_batch);
	TQ_EQ_INT(qe_runtime_score(rt, &rq, 1, &r, &st, &err), 0);
	qe_runtime_describe(rt, &after);
	TQ_EQ_INT(after.n_batch, before.n_batch);
	TQ_EQ_INT(after.n_ubatch, before.n_ubatch);
	TQ_EQ_INT(qe_runtime_speed(rt, &sq, &sr, &err), 0);
	TQ_EQ_INT(sr.n_batch, 2048); /* llama-bench's defaults */
	TQ_EQ_INT(sr.n_ubatch, 512);
	qe_runtime_close(rt);

	p.n_ubatch = 64;
	TQ_EQ_INT(qe_runtime_open(&p, &rt, &err), 0);
	qe_runtime_describe(rt, &before);
	TQ_EQ_INT(before.n_ubatch, 64);
	TQ_EQ_INT(qe_runtime_score(rt, &rq, 1, &r, &st, &err), 0);
	qe_runtime_describe(rt, &after);
	TQ_EQ_INT(after.n_batch, before.n_ctx * 4 < 8192 ? before.n_ctx * 4 : 8192);
	TQ_EQ_INT(after.n_ubatch, 64);
	TQ_EQ_INT(qe_runtime_speed(rt, &sq, &sr, &err), 0);
	TQ_EQ_INT(sr.n_ubatch, 64);
	qe_runtime_close(rt);
}

/* ---- bad files and levels -------------------------------------------------- */

static void test_open_errors_name_the_file(void)
{
	char path[512], bad[600];
	struct qe_rt_params p = qe_rt_default_params();
	struct qe_runtime *rt = NULL;
	struct qe_err err = { 0 };
	FILE *in, *out;
	char buf[4096];
	size_t n, total = 0;

	p.model = "/nonexistent/model.gguf";
	TQ_EQ_INT(qe_runtime_open(&p, &rt, &err), QE_ENOENT);
	TQ_CHECK(strstr(err.msg, "/nonexistent/model.gguf") != NULL);

	snprintf(bad, sizeof(bad), "%s/not-gguf.gguf", g_tmp);
	out = fopen(bad, "w");
	fputs("question,A,B,C,D,answer\n", out);
	fclose(out);
	p.model = bad;
	TQ_EQ_INT(qe_runtime_open(&p, &rt, &err), QE_EINPUT);
	TQ_CHECK(strstr(err.msg, "not-gguf.gguf") && strstr(err.msg, "not a GGUF"));

	/* the first half of a real model */
	fixture(path, sizeof(path), "tiny-llama-f16.gguf");
	snprintf(bad, sizeof(bad), "%s/truncated.gguf", g_tmp);
	in = fopen(path, "rb");
	out = fopen(bad, "wb");
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0 && total < 1500000) {
		fwrite(buf, 1, n, out);
		total += n;
	}
	fclose(in);
	fclose(out);
	p.model = bad;
	TQ_EQ_INT(qe_runtime_open(&p, &rt, &err), QE_EINPUT);
	TQ_CHECK(strstr(err.msg, "truncated.gguf") && strstr(err.msg, "truncated"));
	TQ_CHECK(rt == NULL);

	/* only a header's first bytes */
	out = fopen(bad, "wb");
	fwrite("GGUF\3\0\0\0", 1, 8, out);
	fclose(out);
	TQ_EQ_INT(qe_runtime_open(&p, &rt, &err), QE_EINPUT);
	TQ_CHECK(strstr(err.msg, "truncated.gguf") != NULL);

	p.model = path;
	p.runtime = "nosuch";
	TQ_EQ_INT(qe_runtime_open(&p, &rt, &err), QE_EINVAL);
	TQ_CHECK(strstr(err.msg, "nosuch") != NULL);
}

static void test_levels_are_made_then_reused(void)
{
	char path[512], cache[512];
	struct qe_level a, b, f;
	struct qe_err err = { 0 };
	struct qe_gguf_info gi;
	char hex[65];

	fixture(path, sizeof(path), "tiny-llama-f32.gguf");
	snprintf(cache, sizeof(cache), "%s/cache", g_tmp);
	TQ_EQ_INT(qe_level_prepare(NULL, path, "q4_k_m", cache, 0, &a, &err), 0);
	TQ_EQ_STR(a.name, "Q4_K_M");
	TQ_EQ_INT(a.reused, 0);
	TQ_EQ_INT(qe_level_prepare(NULL, path, "Q4_K_M", cache, 0, &b, &err), 0);
	TQ_EQ_INT(b.reused, 1);
	TQ_EQ_STR(a.path, b.path);
	/* keyed by the content hash of the source */
	TQ_EQ_INT(qe_sha256_file(path, hex, &err), 0);
	TQ_CHECK(strstr(a.path, hex) != NULL);
	TQ_EQ_INT(qe_gguf_read_info(a.path, &gi, &err), 0);
	{
		int has_q4k = 0;
		for (int i = 0; i < gi.n_types; i++)
			has_q4k |= !strcmp(gi.types[i].type, "q4_K");
		TQ_CHECK(has_q4k); /* widths are multiples of 256: K-quants apply */
	}
	/* the F32 level of an F32 source is the source itself */
	TQ_EQ_INT(qe_level_prepare(NULL, path, "F32", cache, 0, &f, &err), 0);
	TQ_EQ_STR(f.path, path);
	/* a file given as a level */
	TQ_EQ_INT(qe_level_prepare(NULL, path, a.path, cache, 0, &f, &err), 0);
	TQ_EQ_STR(f.name, "Q4_K_M");
	TQ_EQ_INT(qe_level_prepare(NULL, path, "mine=/no/such.gguf", cache, 0, &f, &err), QE_ENOENT);
	TQ_CHECK(strstr(err.msg, "mine") && strstr(err.msg, "/no/such.gguf"));
	TQ_EQ_INT(qe_level_prepare(NULL, path, "Q9_X", cache, 0, &f, &err), QE_EINVAL);
	TQ_CHECK(strstr(err.msg, "Q9_X") != NULL);
	/* a quantized source cannot be quantized again */
	TQ_EQ_INT(qe_level_prepare(NULL, a.path, "Q8_0", cache, 0, &f, &err), QE_EINPUT);
}

static void test_sha256_vectors(void)
{
	struct qe_sha256 s;
	unsigned char d[32];
	char hex[65];
	static const char *abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
	static const char *two = "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1";
	static const char *mil = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
	char *a = malloc(1000000);

	qe_sha256_init(&s);
	qe_sha256_update(&s, "abc", 3);
	qe_sha256_final(&s, d);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", d[i]);
	TQ_EQ_STR(hex, abc);
	qe_sha256_init(&s);
	qe_sha256_update(&s, "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56);
	qe_sha256_final(&s, d);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", d[i]);
	TQ_EQ_STR(hex, two);
	memset(a, 'a', 1000000);
	qe_sha256_init(&s);
	for (int i = 0; i < 1000000; i += 997) /* odd chunk sizes */
		qe_sha256_update(&s, a + i, (size_t)(1000000 - i < 997 ? 1000000 - i : 997));
	qe_sha256_final(&s, d);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", d[i]);
	TQ_EQ_STR(hex, mil);
	free(a);
}

/* ---- the real models, when ../shared is present -------------------------- */

static void test_shared_stories_scores_match_direct(void)
{
	char path[512];
	struct qe_runtime *rt;

	snprintf(path, sizeof(path), "%s/models/stories260K-ffn192-f16.gguf", tq_shared());
	if (access(path, R_OK) != 0)
		TQ_SKIP("%s absent", path);
	rt = open_model(path, 0, QE_POOL_MODEL);
	TQ_CHECK(rt);
	if (!rt)
		return;
	check_against_direct(rt, path, 0);
	qe_runtime_close(rt);
}

static void test_shared_stories_quantizes_to_five_levels(void)
{
	char path[512], cache[512];
	static const char *const lv[] = { "Q8_0", "Q6_K", "Q4_K_M", "Q3_K_M", "Q2_K" };
	struct qe_err err = { 0 };

	snprintf(path, sizeof(path), "%s/models/stories260K-ffn192-f32.gguf", tq_shared());
	if (access(path, R_OK) != 0)
		TQ_SKIP("%s absent", path);
	snprintf(cache, sizeof(cache), "%s/cache", g_tmp);
	for (int i = 0; i < 5; i++) {
		struct qe_level l;
		struct qe_runtime *rt;
		TQ_EQ_INT(qe_level_prepare(NULL, path, lv[i], cache, 0, &l, &err), 0);
		rt = open_model(l.path, 0, QE_POOL_MODEL);
		TQ_CHECK(rt != NULL);
		qe_runtime_close(rt);
	}
}

int main(void)
{
	snprintf(g_tmp, sizeof(g_tmp), "/tmp/qe-t-runtime-XXXXXX");
	if (!mkdtemp(g_tmp)) {
		perror("mkdtemp");
		return 1;
	}
	TQ_RUN(test_sha256_vectors);
	TQ_RUN(test_score_matches_direct_with_reuse);
	TQ_RUN(test_score_matches_direct_without_reuse);
	TQ_RUN(test_score_same_request_twice_is_identical);
	TQ_RUN(test_score_declared_prefix_is_history_free);
	TQ_RUN(test_score_batch_equals_alone);
	TQ_RUN(test_score_groups_and_two_contexts);
	TQ_RUN(test_score_nonfinite_is_a_numeric_error);
	TQ_RUN(test_score_too_long_is_one_failed_request);
	TQ_RUN(test_tokenize_matches_libllama);
	TQ_RUN(test_embed_bert_mean_batched_equals_single);
	TQ_RUN(test_embed_bert_cls_batched_equals_single);
	TQ_RUN(test_embed_decoder_mean);
	TQ_RUN(test_embed_pooling_differs);
	TQ_RUN(test_embed_truncates_long_text);
	TQ_RUN(test_encoder_cannot_score);
	TQ_RUN(test_speed_measures_positive_times);
	TQ_RUN(test_describe_counts);
	TQ_RUN(test_describe_reports_the_scoring_batches);
	TQ_RUN(test_open_errors_name_the_file);
	TQ_RUN(test_levels_are_made_then_reused);
	TQ_RUN(test_shared_stories_scores_match_direct);
	TQ_RUN(test_shared_stories_quantizes_to_five_levels);
	{
		char cmd[300];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_tmp);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", g_tmp);
	}
	return tq_done("t_runtime");
}
