/* Tests of the runtime interface itself: the ops table's versions, the level
 * ops and their wrappers (runtimes/level.c), llamacpp's level specs and
 * identities, and the length of the functions in runtimes/.
 *
 * This binary brings its own registry: defining qe_runtime_registry here
 * keeps the linker from taking runtimes/registry.c out of libqeval.a, so the
 * wrappers find, by name, llamacpp and the test's tables below. */
#include "tests/tq.h"

#include "harness/base/json.h"
#include "harness/base/sha256.h"
#include "harness/base/sys.h"
#include "runtimes/gguf_info.h"
#include "runtimes/runtime_impl.h"

#include <ctype.h>
#include <unistd.h>

/* the longest a function in runtimes/ may be (docs/extending.md) */
#define MAX_FUNCTION_LINES 120

static char g_tmp[256];

/* ======================================================================
 * A runtime written for API version 1
 * ====================================================================== */

/* struct qe_runtime_ops as it was at version 1: what a runtime written then
 * was compiled with. */
struct ops_v1 {
	int api_version;
	const char *name;
	unsigned caps;
	int (*open)(struct qe_runtime *rt, const struct qe_rt_params *p, struct qe_err *err);
	void (*close)(struct qe_runtime *rt);
	int (*tokenize)(struct qe_runtime *rt, const char *text, int add_special, int32_t *tokens, size_t cap,
			struct qe_err *err);
	int (*score)(struct qe_runtime *rt, const struct qe_score_req *reqs, size_t n, struct qe_score_res *res,
		     int *status, struct qe_err *err);
	void (*reset)(struct qe_runtime *rt);
	size_t (*embed_dim)(struct qe_runtime *rt);
	int (*embed)(struct qe_runtime *rt, const char *const *texts, size_t n, int normalize, float *out,
		     size_t *n_truncated, struct qe_err *err);
	int (*speed)(struct qe_runtime *rt, const struct qe_speed_req *req, struct qe_speed_res *res,
		     struct qe_err *err);
	const char *(*version)(void);
	void (*describe)(struct qe_runtime *rt, struct qe_rt_info *info);
	const char *const *quant_types;
	int (*quantize)(const char *src, const char *type, const char *out_path, int n_threads, struct qe_err *err);
};

_Static_assert(sizeof(struct ops_v1) == QE_RUNTIME_OPS_END_1, "version 1's members are where they were");

/* Counts calls of what lies past a version 1 table: a wrapper that read a
 * later member there would call this. */
static int g_trapped;

static void trap(void)
{
	g_trapped++;
}

static int g_old_ctx;

static int old_open(struct qe_runtime *rt, const struct qe_rt_params *p, struct qe_err *err)
{
	if (!p->model || !*p->model)
		return qe_fail(err, QE_EINVAL, "no model");
	rt->ctx = &g_old_ctx;
	return 0;
}

static void old_close(struct qe_runtime *rt)
{
	rt->ctx = NULL;
}

static void old_describe(struct qe_runtime *rt, struct qe_rt_info *info)
{
	snprintf(info->arch, sizeof(info->arch), "old");
}

static int old_quantize(const char *src, const char *type, const char *out_path, int n_threads, struct qe_err *err)
{
	FILE *f = fopen(out_path, "w");

	if (!f)
		return qe_fail(err, QE_EIO, "cannot write '%s'", out_path);
	fprintf(f, "%s of %s\n", type, src);
	fclose(f);
	return 0;
}

static const char *const old_types[] = { "Q8", "Q4", NULL };

/* A version 1 table with memory after it that is not part of it. */
static const struct {
	struct ops_v1 ops;
	void (*after[16])(void);
} g_old = {
	.ops = {
		.api_version = 1,
		.name = "old",
		.open = old_open,
		.close = old_close,
		.describe = old_describe,
		.quant_types = old_types,
		.quantize = old_quantize,
	},
	.after = { trap, trap, trap, trap, trap, trap, trap, trap, trap, trap, trap, trap, trap, trap, trap, trap },
};

/* a table that forgot its version */
static const struct qe_runtime_ops g_unversioned = {
	.name = "unversioned",
	.open = old_open,
	.close = old_close,
	.describe = old_describe,
};

const struct qe_runtime_ops *const qe_runtime_registry[] = {
	&qe_llamacpp_ops,
	(const struct qe_runtime_ops *)&g_old,
	&g_unversioned,
	NULL,
};

static void test_ops_end_per_version(void)
{
	const struct qe_runtime_ops *old = qe_runtime_find("old");

	TQ_EQ_INT(qe_runtime_ops_end(0), 0);
	TQ_EQ_INT(qe_runtime_ops_end(1), offsetof(struct qe_runtime_ops, level_name));
	TQ_EQ_INT(qe_runtime_ops_end(2), offsetof(struct qe_runtime_ops, serve));
	TQ_EQ_INT(qe_runtime_ops_end(3), offsetof(struct qe_runtime_ops, chunk_logits));
	TQ_EQ_INT(qe_runtime_ops_end(4), offsetof(struct qe_runtime_ops, chunk_topk));
	TQ_EQ_INT(qe_runtime_ops_end(5), sizeof(struct qe_runtime_ops));
	TQ_EQ_INT(qe_runtime_ops_end(QE_RUNTIME_API + 5), sizeof(struct qe_runtime_ops));
	TQ_CHECK(QE_OPS_MEMBER(&qe_llamacpp_ops, level_name) != NULL);
	TQ_CHECK(old && QE_OPS_MEMBER(old, quantize) == old_quantize); /* version 1 members are there */
	TQ_CHECK(old && QE_OPS_MEMBER(old, level_name) == NULL);
	TQ_CHECK(old && QE_OPS_MEMBER(old, source_identity) == NULL);
	TQ_CHECK(old && QE_OPS_MEMBER(old, serve) == NULL);
	TQ_CHECK(old && QE_OPS_MEMBER(old, chunk_logits) == NULL);
	TQ_CHECK(QE_OPS_MEMBER(&qe_llamacpp_ops, chunk_logits) != NULL);
	TQ_CHECK(old && QE_OPS_MEMBER(old, chunk_topk) == NULL);
	TQ_CHECK(QE_OPS_MEMBER(&qe_llamacpp_ops, chunk_topk) == NULL);
	TQ_CHECK(QE_OPS_MEMBER(&qe_openai_ops, chunk_topk) != NULL);
}

static void test_old_table_opens(void)
{
	struct qe_rt_params p = qe_rt_default_params();
	struct qe_runtime *rt = NULL;
	struct qe_rt_info info;
	struct qe_err err = { 0 };

	g_trapped = 0;
	p.runtime = "old";
	p.model = "m";
	TQ_EQ_INT(qe_runtime_open(&p, &rt, &err), 0);
	if (!rt)
		return;
	TQ_EQ_STR(qe_runtime_name(rt), "old");
	qe_runtime_describe(rt, &info);
	TQ_EQ_STR(info.arch, "old");
	TQ_EQ_INT(qe_runtime_embed_dim(rt), 0);
	TQ_EQ_INT(qe_runtime_tokenize(rt, "x", 1, NULL, 0, &err), QE_ENOTSUP);
	{
		struct qe_topk_req tr = { .tokens = (int32_t[2]){ 1, 2 }, .n_chunks = 1, .n_tok = 2 };
		TQ_EQ_INT(qe_runtime_chunk_topk(rt, &tr, &err), QE_ENOTSUP);
	}
	qe_runtime_close(rt);
	TQ_EQ_INT(g_trapped, 0);

	p.runtime = "unversioned";
	TQ_EQ_INT(qe_runtime_open(&p, &rt, &err), QE_ERUNTIME);
	TQ_CHECK(strstr(err.msg, "unversioned") && strstr(err.msg, "api_version"));
	TQ_EQ_INT(qe_level_name("unversioned", "x", (char[64]){ 0 }, 64, &err), QE_ERUNTIME);
}

/* The members a version 1 table lacks: the defaults, or not supported. */
static void test_old_table_levels_use_the_defaults(void)
{
	char name[64], cache[512];
	struct qe_level lv, again;
	struct qe_err err = { 0 };
	cJSON *ep = cJSON_Parse("{\"name\":\"e/1\",\"runtime\":\"old\",\"model\":\"m1\",\"url\":\"http://127.0.0.1:9/v1\"}");
	cJSON *bad = cJSON_Parse("{\"runtime\":\"old\",\"model\":\"m1\",\"tensor_types\":[\"q4_K\"]}");
	cJSON *id = cJSON_CreateObject();
	struct qe_level_spec s;

	g_trapped = 0;
	snprintf(cache, sizeof(cache), "%s/cache-old", g_tmp);
	TQ_EQ_INT(qe_level_name("old", "q8", name, sizeof(name), &err), 0);
	TQ_EQ_STR(name, "Q8");
	TQ_EQ_INT(qe_level_name("old", "mine=some/model", name, sizeof(name), &err), 0);
	TQ_EQ_STR(name, "mine");
	TQ_EQ_INT(qe_level_name("old", "some/model", name, sizeof(name), &err), 0);
	TQ_EQ_STR(name, "some_model");

	/* an endpoint-like object: the level's runtime comes from the object */
	TQ_EQ_INT(qe_level_spec_from_json(ep, 0, &s, &err), 0);
	TQ_EQ_INT(qe_level_spec_prepare("llamacpp", "src", &s, cache, 0, &lv, &err), 0);
	TQ_EQ_STR(lv.name, "e_1");
	TQ_EQ_STR(lv.runtime, "old");
	TQ_EQ_STR(lv.path, "m1");
	TQ_EQ_STR(lv.url, "http://127.0.0.1:9/v1");
	TQ_EQ_INT(qe_level_identity("src", &lv, cache, id, &err), QE_ENOTSUP);
	TQ_CHECK(strstr(err.msg, "old") != NULL);
	TQ_EQ_INT(cJSON_GetArraySize(id), 0);
	s.obj = bad;
	TQ_EQ_INT(qe_level_spec_name("llamacpp", &s, name, sizeof(name), &err), QE_EINVAL);
	TQ_CHECK(strstr(err.msg, "tensor_types") && strstr(err.msg, "old"));

	TQ_EQ_INT(qe_level_source_check("old", "anything", &err), 0);
	TQ_EQ_INT(qe_level_source_identity("old", "anything", cache, id, &err), QE_ENOTSUP);

	/* a quantization type: made by the table's quantize into the cache, then reused */
	{
		char src[600];
		FILE *f;
		snprintf(src, sizeof(src), "%s/old-source", g_tmp);
		f = fopen(src, "w");
		fputs("weights\n", f);
		fclose(f);
		TQ_EQ_INT(qe_level_prepare("old", src, "q4", cache, 0, &lv, &err), 0);
		TQ_EQ_INT(lv.reused, 0);
		TQ_EQ_STR(lv.type, "Q4");
		TQ_CHECK(strstr(lv.path, "/quant/") && access(lv.path, R_OK) == 0);
		TQ_EQ_INT(qe_level_prepare("old", src, "Q4", cache, 0, &again, &err), 0);
		TQ_EQ_INT(again.reused, 1);
		TQ_EQ_STR(again.path, lv.path);
	}
	TQ_EQ_INT(g_trapped, 0);
	cJSON_Delete(ep);
	cJSON_Delete(bad);
	cJSON_Delete(id);
}

/* ======================================================================
 * llamacpp's level specs and identities
 * ====================================================================== */

static int obj_name(const char *json, char *name, size_t cap, struct qe_err *err)
{
	cJSON *o = cJSON_Parse(json);
	struct qe_level_spec s = { .obj = o };
	int rc = qe_level_spec_name(NULL, &s, name, cap, err);

	cJSON_Delete(o);
	return rc;
}

static void test_llamacpp_object_specs(void)
{
	char name[64];
	struct qe_err err = { 0 };
	struct qe_level_spec s;
	cJSON *num = cJSON_CreateNumber(3);

	TQ_EQ_INT(obj_name("{\"type\":\"q4_k_m\"}", name, sizeof(name), &err), 0);
	TQ_EQ_STR(name, "Q4_K_M");
	TQ_EQ_INT(obj_name("{\"name\":\"mine\",\"runtime\":\"llamacpp\",\"type\":\"Q8_0\"}", name, sizeof(name), &err), 0);
	TQ_EQ_STR(name, "mine");
	TQ_EQ_INT(obj_name("{\"path\":\"/x/y/Q5.gguf\"}", name, sizeof(name), &err), 0);
	TQ_EQ_STR(name, "Q5");
	TQ_EQ_INT(obj_name("{\"type\":\"Q9_X\"}", name, sizeof(name), &err), QE_EINVAL);
	TQ_CHECK(strstr(err.msg, "Q9_X") != NULL);
	TQ_EQ_INT(obj_name("{\"name\":\"t\",\"type\":3}", name, sizeof(name), &err), QE_EINVAL);
	TQ_CHECK(strstr(err.msg, "'t'") && strstr(err.msg, "type"));
	TQ_EQ_INT(obj_name("{\"type\":\"Q8_0\",\"path\":\"a.gguf\"}", name, sizeof(name), &err), QE_EINVAL);
	TQ_EQ_INT(obj_name("{\"name\":\"r\"}", name, sizeof(name), &err), QE_EINVAL);
	/* "imatrix" is a recipe key since issue 15: an unknown one */
	TQ_EQ_INT(obj_name("{\"type\":\"Q8_0\",\"imatrix_file\":\"i.dat\"}", name, sizeof(name), &err), QE_EINVAL);
	TQ_CHECK(strstr(err.msg, "imatrix_file") && strstr(err.msg, "llamacpp"));
	TQ_EQ_INT(obj_name("{\"runtime\":\"nosuch\",\"type\":\"Q8_0\"}", name, sizeof(name), &err), QE_EINVAL);
	TQ_CHECK(strstr(err.msg, "nosuch") != NULL);
	TQ_EQ_INT(obj_name("{\"name\":\"\",\"type\":\"Q8_0\"}", name, sizeof(name), &err), QE_EINVAL);
	TQ_EQ_INT(qe_level_spec_from_json(num, 4, &s, &err), QE_EINVAL);
	TQ_CHECK(strstr(err.msg, "levels[4]") != NULL);
	TQ_EQ_INT(qe_level_name(NULL, "Q9_X", name, sizeof(name), &err), QE_EINVAL);
	TQ_EQ_INT(qe_level_name(NULL, "", name, sizeof(name), &err), QE_EINVAL);
	cJSON_Delete(num);
}

static void sha_of(const char *path, char hex[65])
{
	struct qe_err err = { 0 };

	if (qe_sha256_file(path, hex, &err) != 0)
		hex[0] = '\0';
}

static void test_llamacpp_levels_and_identities(void)
{
	char src[512], cache[512], given[700], hex[65], src_hex[65];
	struct qe_level a, b, f;
	struct qe_err err = { 0 };
	cJSON *o = cJSON_Parse("{\"name\":\"eight\",\"type\":\"q8_0\"}");
	struct qe_level_spec s = { .obj = o };
	cJSON *ida = cJSON_CreateObject(), *idf = cJSON_CreateObject(), *ids = cJSON_CreateObject();

	snprintf(src, sizeof(src), "%s/tiny-llama-f32.gguf", tq_fixtures());
	snprintf(cache, sizeof(cache), "%s/cache", g_tmp);
	TQ_EQ_INT(qe_level_spec_prepare(NULL, src, &s, cache, 0, &a, &err), 0);
	TQ_EQ_STR(a.name, "eight");
	TQ_EQ_STR(a.type, "Q8_0");
	TQ_EQ_STR(a.runtime, "llamacpp");
	TQ_EQ_INT(qe_level_prepare(NULL, src, "Q8_0", cache, 0, &b, &err), 0);
	TQ_EQ_INT(b.reused, 1);
	TQ_EQ_STR(a.path, b.path); /* the cache is keyed by type, not name */

	sha_of(a.path, hex);
	sha_of(src, src_hex);
	TQ_EQ_INT(qe_level_identity(src, &a, cache, ida, &err), 0);
	TQ_EQ_STR(qe_json_str(ida, "sha256", ""), hex);
	TQ_EQ_INT(qe_json_num(ida, "bytes", 0), qe_file_size(a.path));
	TQ_EQ_STR(qe_json_str(ida, "type", ""), "Q8_0");
	TQ_EQ_STR(qe_json_str(ida, "source_sha256", ""), src_hex);

	/* the same file given as a level: its own type, no source */
	snprintf(given, sizeof(given), "mine=%s", a.path);
	TQ_EQ_INT(qe_level_prepare(NULL, src, given, cache, 0, &f, &err), 0);
	TQ_EQ_STR(f.type, "");
	TQ_EQ_INT(qe_level_identity(src, &f, cache, idf, &err), 0);
	TQ_EQ_STR(qe_json_str(idf, "sha256", ""), hex);
	TQ_EQ_STR(qe_json_str(idf, "type", ""), "Q8_0");
	TQ_CHECK(cJSON_GetObjectItemCaseSensitive(idf, "source_sha256") == NULL);

	TQ_EQ_INT(qe_level_source_identity(NULL, src, cache, ids, &err), 0);
	TQ_EQ_STR(qe_json_str(ids, "sha256", ""), src_hex);
	TQ_EQ_STR(qe_json_str(ids, "type", ""), "F32");
	TQ_EQ_INT(qe_json_num(ids, "bytes", 0), qe_file_size(src));

	/* a level the runtime opens as qe_level_rt_params points it */
	{
		struct qe_rt_params p = qe_rt_default_params();
		struct qe_runtime *rt = NULL;
		p.runtime = "old";
		qe_level_rt_params(&a, &p);
		TQ_EQ_STR(p.runtime, "llamacpp");
		TQ_EQ_STR(p.model, a.path);
		TQ_EQ_STR(p.level, "eight");
		TQ_CHECK(p.url == NULL);
		TQ_EQ_INT(qe_runtime_open(&p, &rt, &err), 0);
		qe_runtime_close(rt);
	}
	cJSON_Delete(o);
	cJSON_Delete(ida);
	cJSON_Delete(idf);
	cJSON_Delete(ids);
}

static void test_llamacpp_source_check(void)
{
	char src[512], bad[600];
	struct qe_err err = { 0 };
	FILE *f;

	snprintf(src, sizeof(src), "%s/tiny-llama-f16.gguf", tq_fixtures());
	TQ_EQ_INT(qe_level_source_check(NULL, src, &err), 0);
	TQ_EQ_INT(qe_level_source_check("llamacpp", "/no/such/model.gguf", &err), QE_ENOENT);
	TQ_CHECK(strstr(err.msg, "/no/such/model.gguf") != NULL);
	snprintf(bad, sizeof(bad), "%s/plan.gguf", g_tmp);
	f = fopen(bad, "w");
	fputs("{\"levels\": []}\n", f);
	fclose(f);
	TQ_EQ_INT(qe_level_source_check("llamacpp", bad, &err), QE_EINPUT);
	TQ_CHECK(strstr(err.msg, "plan.gguf") && !strchr(err.msg, '\n'));
	TQ_EQ_INT(qe_level_source_check("nosuch", src, &err), QE_EINVAL);
	TQ_CHECK(strstr(err.msg, "nosuch") != NULL);
}

/* ======================================================================
 * The functions of runtimes/ are short
 * ====================================================================== */

/* Lines of each function of a C file written in the project's style (a
 * body from "{" to "}" in the first column); reports those over max. */
static int long_functions(const char *path, int max)
{
	FILE *f = fopen(path, "r");
	char line[1024], sig[1024] = "";
	int n = 0, start = 0, bad = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		n++;
		if (line[0] != '{' && line[0] != '}' && line[0] != '\n' && !isspace((unsigned char)line[0]) &&
		    !start && strchr(line, '('))
			snprintf(sig, sizeof(sig), "%s", line);
		if (line[0] == '{' && !start)
			start = n;
		if (line[0] == '}' && start) {
			if (n - start + 2 > max) {
				fprintf(stderr, "  %s: %d lines: %s", path, n - start + 2, sig);
				bad++;
			}
			start = 0;
		}
	}
	fclose(f);
	return bad;
}

static void test_runtime_functions_are_short(void)
{
	static const char *const files[] = {
		"runtimes/runtime.c", "runtimes/level.c", "runtimes/llamacpp.c", "runtimes/llamacpp_level.c",
		"runtimes/gguf_info.c", NULL,
	};
	const char *root = getenv("QE_SRC") && *getenv("QE_SRC") ? getenv("QE_SRC") : ".";
	char path[512];

	snprintf(path, sizeof(path), "%s/runtimes/llamacpp.c", root);
	if (access(path, R_OK) != 0)
		TQ_SKIP("no source tree at '%s' (set QE_SRC)", root);
	for (int i = 0; files[i]; i++) {
		snprintf(path, sizeof(path), "%s/%s", root, files[i]);
		TQ_EQ_INT(long_functions(path, MAX_FUNCTION_LINES), 0);
	}
}

int main(void)
{
	snprintf(g_tmp, sizeof(g_tmp), "/tmp/qe-t-runtime-api-XXXXXX");
	if (!mkdtemp(g_tmp)) {
		perror("mkdtemp");
		return 1;
	}
	TQ_RUN(test_ops_end_per_version);
	TQ_RUN(test_old_table_opens);
	TQ_RUN(test_old_table_levels_use_the_defaults);
	TQ_RUN(test_llamacpp_object_specs);
	TQ_RUN(test_llamacpp_levels_and_identities);
	TQ_RUN(test_llamacpp_source_check);
	TQ_RUN(test_runtime_functions_are_short);
	{
		char cmd[300];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_tmp);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", g_tmp);
	}
	return tq_done("t_runtime_api");
}
