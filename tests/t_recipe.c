/* Tests of llamacpp recipes (runtimes/llamacpp_recipe.c, llamacpp_level.c)
 * and importance matrices (runtimes/llamacpp_imatrix.c): parsing, cache keys,
 * override order through the real quantizer, the refusal of types that need
 * a matrix, and the matrix qeval computes against an independent computation
 * of the first layer's attention input on the fixture model. */
#include "tq.h"
#include "tq_exec.h"

#include "harness/base/json.h"
#include "harness/base/sys.h"
#include "harness/base/text.h"
#include "runtimes/gguf_info.h"
#include "runtimes/llamacpp_imatrix.h"
#include "runtimes/llamacpp_recipe.h"
#include "runtimes/runtime.h"

#include <unistd.h>

#include <ggml.h>
#include <gguf.h>
#include <llama.h>

/* relative tolerance of a recomputed sum of squares: the engine's RMS norm
 * and ours round differently (float against double sums) */
#define IMATRIX_REL_TOL 1e-4

static char g_cache[256];

static void fixture(char *buf, size_t cap, const char *name)
{
	snprintf(buf, cap, "%s/%s", tq_fixtures(), name);
}

/* ---- parsing ------------------------------------------------------------ */

static void test_text_spec(void)
{
	struct qe_recipe r;
	struct qe_err err = { 0 };
	struct qe_level_spec spec = { .text = "kn=Q4_K_M+attn_(q|k|v):Q6_K+ffn_:Q4_K+imatrix:calib.txt" };
	char name[64];

	TQ_EQ_INT(qe_recipe_parse_text("q4_k_m+attn_(q|k|v):Q6_K+ffn_:q4_k+output_type:Q8_0+pure+imatrix:c.txt", "t", &r,
				       &err), 1);
	TQ_EQ_STR(r.type, "Q4_K_M");
	TQ_EQ_INT(r.n_tt, 2);
	TQ_EQ_STR(r.tt[0].pattern, "attn_(q|k|v)");
	TQ_EQ_STR(r.tt[0].type, "q6_K");
	TQ_EQ_STR(r.tt[1].pattern, "ffn_");
	TQ_EQ_STR(r.tt[1].type, "q4_K");
	TQ_EQ_STR(r.output_type, "q8_0");
	TQ_EQ_INT(r.pure, 1);
	TQ_EQ_STR(r.imatrix, "c.txt");
	TQ_EQ_INT(qe_recipe_parse_text("Q4_K_M", "t", &r, &err), 0);    /* a plain type */
	TQ_EQ_INT(qe_recipe_parse_text("x+y.gguf", "t", &r, &err), 0);  /* not a type before '+' */
	TQ_EQ_INT(qe_recipe_parse_text("Q4_K_M+ffn_:Q9_K", "t", &r, &err), QE_EINVAL);
	TQ_CHECK(strstr(err.msg, "Q9_K") != NULL);
	TQ_EQ_INT(qe_recipe_parse_text("Q4_K_M+attn_(q:Q6_K", "t", &r, &err), QE_EINVAL);
	TQ_EQ_INT(qe_recipe_parse_text("Q4_K_M+nocolon", "t", &r, &err), QE_EINVAL);
	TQ_EQ_INT(qe_level_spec_name(NULL, &spec, name, sizeof(name), &err), 0);
	TQ_EQ_STR(name, "kn");
	spec.text = "Q4_K_M+ffn_:Q4_K";
	TQ_EQ_INT(qe_level_spec_name(NULL, &spec, name, sizeof(name), &err), 0);
	TQ_CHECK(!strncmp(name, "Q4_K_M+", 7) && strlen(name) == 15);
	spec.text = "old=Q4_K_M"; /* NAME=PATH stays a file */
	TQ_EQ_INT(qe_level_spec_name(NULL, &spec, name, sizeof(name), &err), 0);
	TQ_EQ_STR(name, "old");
}

static int parse_json(const char *text, struct qe_recipe *r, struct qe_err *err)
{
	cJSON *o = cJSON_Parse(text);
	int rc = qe_recipe_from_json(o, "t", r, err);

	cJSON_Delete(o);
	return rc;
}

static void test_json_spec(void)
{
	struct qe_recipe r;
	struct qe_err err = { 0 };

	TQ_EQ_INT(parse_json("{\"name\":\"kn\",\"type\":\"Q4_K_M\",\"tensor_types\":[[\"attn_(q|k|v)\",\"Q6_K\"],"
			     "[\"ffn_\",\"Q4_K\"]],\"imatrix\":\"calib.txt\",\"token_embd_type\":\"q8_0\",\"pure\":false}",
			     &r, &err), 0);
	TQ_EQ_INT(r.n_tt, 2);
	TQ_EQ_STR(r.tt[1].pattern, "ffn_");
	TQ_EQ_STR(r.token_embd_type, "q8_0");
	TQ_EQ_STR(r.imatrix, "calib.txt");
	TQ_EQ_INT(parse_json("{\"type\":\"Q4_K_M\",\"tensor_type\":[]}", &r, &err), QE_EINVAL);
	TQ_CHECK(strstr(err.msg, "tensor_type") != NULL);
	TQ_EQ_INT(parse_json("{\"type\":\"Q4_K_M\",\"tensor_types\":[[\"a\"]]}", &r, &err), QE_EINVAL);
	TQ_EQ_INT(parse_json("{\"type\":\"Q4_K_M\",\"pure\":\"yes\"}", &r, &err), QE_EINVAL);
	TQ_EQ_INT(parse_json("{\"tensor_types\":[]}", &r, &err), QE_EINVAL);
	TQ_EQ_INT(parse_json("{\"type\":\"Q4_K_M\",\"output_type\":\"q7\"}", &r, &err), QE_EINVAL);
}

/* ---- cache keys ---------------------------------------------------------- */

static void key_of(const char *text, const char *im_sha, char hex[65])
{
	struct qe_recipe r;
	struct qe_err err = { 0 };

	hex[0] = '\0';
	if (qe_recipe_parse_text(text, "t", &r, &err) == 1)
		qe_recipe_key(&r, im_sha, hex);
}

static void test_keys(void)
{
	char a[65], b[65], c[65];
	const char *sha1 = "1111111111111111111111111111111111111111111111111111111111111111";
	const char *sha2 = "2222222222222222222222222222222222222222222222222222222222222222";

	key_of("Q4_K_M+attn_:Q6_K+ffn_:Q4_K", NULL, a);
	key_of("q4_k_m+attn_:q6_k+ffn_:q4_k", NULL, b);
	TQ_CHECK(a[0] && !strcmp(a, b));                 /* spelling does not matter */
	key_of("Q4_K_M+ffn_:Q4_K+attn_:Q6_K", NULL, b);
	TQ_CHECK(strcmp(a, b) != 0);                     /* order does */
	key_of("Q4_K_M+attn_:Q6_K+ffn_:Q4_K+pure", NULL, b);
	TQ_CHECK(strcmp(a, b) != 0);
	key_of("Q4_K_M+attn_:Q6_K+ffn_:Q4_K+output_type:q8_0", NULL, b);
	TQ_CHECK(strcmp(a, b) != 0);
	key_of("Q4_K_M+attn_:Q6_K+imatrix:m.gguf", sha1, b);
	key_of("Q4_K_M+attn_:Q6_K+imatrix:m.gguf", sha2, c);
	TQ_CHECK(b[0] && strcmp(b, c) != 0);             /* the matrix's content */
	key_of("Q4_K_M+attn_:Q6_K+imatrix:n.gguf", sha1, c);
	TQ_CHECK(strcmp(b, c) != 0);                     /* and the path the file records */
}

/* ---- refusals ------------------------------------------------------------ */

static void test_refuse_without_imatrix(void)
{
	static const char *const refused[] = { "IQ2_XXS", "iq1_s", "Q2_K_S", "IQ3_XS", "Q4_K_M+ffn_:IQ2_XS", NULL };
	struct qe_level_spec spec = { 0 };
	struct qe_err err = { 0 };
	char name[64];

	for (int i = 0; refused[i]; i++) {
		spec.text = refused[i];
		TQ_EQ_INT(qe_level_spec_name(NULL, &spec, name, sizeof(name), &err), QE_EINVAL);
		TQ_CHECK(strstr(err.msg, "importance matrix") != NULL);
	}
	spec.text = "IQ2_XXS+imatrix:calib.txt";
	TQ_EQ_INT(qe_level_spec_name(NULL, &spec, name, sizeof(name), &err), 0);
	spec.text = "IQ3_XS+pure"; /* pure: only iq3_s, which needs none */
	TQ_EQ_INT(qe_level_spec_name(NULL, &spec, name, sizeof(name), &err), 0);
	spec.text = "IQ4_XS";
	TQ_EQ_INT(qe_level_spec_name(NULL, &spec, name, sizeof(name), &err), 0);
}

/* ---- through the quantizer ---------------------------------------------- */

static const char *type_of(const char *path, const char *tensor, char *buf, size_t cap)
{
	cJSON *o = cJSON_CreateObject();

	buf[0] = '\0';
	if (qe_gguf_tensor_types(path, o, NULL) == 0)
		snprintf(buf, cap, "%s", qe_json_str(o, tensor, ""));
	cJSON_Delete(o);
	return buf;
}

static void test_override_order(void)
{
	char src[512], t[32];
	struct qe_level a, b;
	struct qe_err err = { 0 };

	fixture(src, sizeof(src), "tiny-llama-f32.gguf");
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	TQ_EQ_INT(qe_level_prepare(NULL, src, "a=Q4_K_M+attn_q:Q8_0+attn_:Q5_0+output_type:Q6_K", g_cache, 2, &a, &err), 0);
	TQ_EQ_INT(qe_level_prepare(NULL, src, "b=Q4_K_M+attn_:Q5_0+attn_q:Q8_0", g_cache, 2, &b, &err), 0);
	TQ_EQ_STR(type_of(a.path, "blk.0.attn_q.weight", t, sizeof(t)), "q8_0"); /* first match wins */
	TQ_EQ_STR(type_of(a.path, "blk.1.attn_k.weight", t, sizeof(t)), "q5_0");
	TQ_EQ_STR(type_of(a.path, "output.weight", t, sizeof(t)), "q6_K");
	TQ_EQ_STR(type_of(b.path, "blk.0.attn_q.weight", t, sizeof(t)), "q5_0");
	TQ_EQ_STR(type_of(b.path, "blk.0.attn_output.weight", t, sizeof(t)), "q5_0");
	TQ_CHECK(strcmp(a.path, b.path) != 0);
	/* the same recipe again comes from the cache */
	memset(&b, 0, sizeof(b));
	TQ_EQ_INT(qe_level_prepare(NULL, src, "c=Q4_K_M+attn_q:Q8_0+attn_:Q5_0+output_type:Q6_K", g_cache, 2, &b, &err), 0);
	TQ_EQ_STR(b.path, a.path);
	TQ_EQ_INT(b.reused, 1);
}

static void test_identity_shows_recipe(void)
{
	char src[512];
	struct qe_level lv;
	struct qe_err err = { 0 };
	cJSON *id = cJSON_CreateObject();
	const cJSON *rec;

	fixture(src, sizeof(src), "tiny-llama-f32.gguf");
	memset(&lv, 0, sizeof(lv));
	snprintf(lv.name, sizeof(lv.name), "a");
	TQ_EQ_INT(qe_level_prepare(NULL, src, "a=Q4_K_M+ffn_down:Q8_0", g_cache, 2, &lv, &err), 0);
	TQ_EQ_INT(qe_level_identity(src, &lv, g_cache, id, &err), 0);
	rec = cJSON_GetObjectItemCaseSensitive(id, "recipe");
	TQ_EQ_STR(qe_json_str(rec, "type", ""), "Q4_K_M");
	TQ_EQ_STR(qe_json_str(cJSON_GetObjectItemCaseSensitive(id, "tensor_types"), "blk.1.ffn_down.weight", ""), "q8_0");
	cJSON_Delete(id);
}

/* Two recipes moving different tensors of one shape have the same types'
 * histogram: they are not "the same tensor types" (that note is for
 * llama.cpp's fallback); a third one that differs says nothing either. */
static void test_recipes_not_same_types(void)
{
	static char out[16384], errs[16384];
	char args[2048], path[600];
	cJSON *r = NULL, *l;
	int n = 0;

	snprintf(args, sizeof(args), "run -q -t 2 --model %s/tiny-llama-f16.gguf --levels F16,a=Q4_K_M+blk.0.ffn_up:Q8_0,"
		 "b=Q4_K_M+blk.0.ffn_gate:Q8_0 --mmlu datasets/samples/mmlu --limit 1 --no-summary --out %s/same",
		 tq_fixtures(), g_cache);
	TQ_EQ_INT(tq_qeval(g_cache, args, out, sizeof(out), errs, sizeof(errs)), 0);
	snprintf(path, sizeof(path), "%s/same/results.json", g_cache);
	TQ_EQ_INT(qe_json_read_file(path, &r, NULL), 0);
	cJSON_ArrayForEach(l, cJSON_GetObjectItemCaseSensitive(r, "levels")) {
		TQ_CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(l, "same_types_as")));
		n++;
	}
	TQ_EQ_INT(n, 3);
	cJSON_Delete(r);
}

/* ---- the importance matrix ------------------------------------------------ */

/* a calibration text of about n words the fixture's vocabulary covers */
static void write_text(const char *path, int n)
{
	static const char *const words[] = { "the", "cat", "sat", "on", "a", "mat", "and", "then", "it", "ran" };
	FILE *f = fopen(path, "w");

	for (int i = 0; f && i < n; i++)
		fprintf(f, "%s%s", words[(i * 7 + i / 3) % 10], i % 13 == 12 ? ".\n" : " ");
	if (f)
		fclose(f);
}

/* the text's tokens as the engine makes them (special tokens added) */
static int32_t *tokens_of(const char *model_path, const char *text_path, int32_t *n, int32_t *bos)
{
	struct llama_model_params mp = llama_model_default_params();
	struct llama_model *m = llama_model_load_from_file(model_path, mp);
	char *buf = NULL;
	size_t len = 0;
	int32_t *tok = NULL;

	*n = 0;
	if (!m || qe_file_read(text_path, &buf, &len, NULL) != 0)
		goto out;
	if (len && buf[len - 1] == '\n')
		len--;
	*n = -llama_tokenize(llama_model_get_vocab(m), buf, (int32_t)len, NULL, 0, true, false);
	tok = malloc((size_t)*n * sizeof(int32_t));
	llama_tokenize(llama_model_get_vocab(m), buf, (int32_t)len, tok, *n, true, false);
	*bos = llama_vocab_bos(llama_model_get_vocab(m));
out:
	free(buf);
	if (m)
		llama_model_free(m);
	return tok;
}

/* the first layer's attention input, squared and summed per column, from the
 * weights: RMS-normed token embeddings times attn_norm (independent of the
 * engine's graph) */
static double *direct_sums(const char *model_path, const int32_t *tok, int32_t n_chunk, int32_t n_ctx, int32_t bos,
			   int64_t *n_embd)
{
	struct ggml_context *ctx = NULL;
	struct gguf_init_params gp = { .no_alloc = false, .ctx = &ctx };
	struct gguf_context *g = gguf_init_from_file(model_path, gp);
	struct ggml_tensor *emb = ctx ? ggml_get_tensor(ctx, "token_embd.weight") : NULL;
	struct ggml_tensor *nw = ctx ? ggml_get_tensor(ctx, "blk.0.attn_norm.weight") : NULL;
	double *sums = NULL;

	if (!emb || !nw || emb->type != GGML_TYPE_F32)
		goto out;
	*n_embd = emb->ne[0];
	sums = calloc((size_t)*n_embd, sizeof(double));
	for (int32_t c = 0; c < n_chunk; c++)
		for (int32_t k = 0; k < n_ctx; k++) {
			int32_t t = k == 0 ? bos : tok[c * n_ctx + k];
			const float *x = (const float *)emb->data + (size_t)t * (size_t)*n_embd;
			double ss = 0, scale;
			for (int64_t j = 0; j < *n_embd; j++)
				ss += (double)x[j] * x[j];
			scale = 1.0 / sqrt(ss / (double)*n_embd + 1e-5);
			for (int64_t j = 0; j < *n_embd; j++) {
				double y = x[j] * scale * ((const float *)nw->data)[j];
				sums[j] += y * y;
			}
		}
out:
	if (g)
		gguf_free(g);
	ggml_free(ctx);
	return sums;
}

static const struct qe_imatrix_entry *entry(const struct qe_imatrix *m, const char *name)
{
	for (size_t i = 0; i < m->n; i++)
		if (!strcmp(m->e[i].name, name))
			return &m->e[i];
	return NULL;
}

static void test_imatrix_against_direct(void)
{
	char src[512], text[300], saved[300];
	struct qe_imatrix_params p = qe_imatrix_default_params();
	struct qe_imatrix m, back;
	const struct qe_imatrix_entry *q, *k;
	struct qe_err err = { 0 };
	int32_t n_tok, bos, *tok;
	int64_t n_embd = 0;
	double *want, worst = 0;

	fixture(src, sizeof(src), "tiny-llama-f32.gguf");
	snprintf(text, sizeof(text), "%s/calib.txt", g_cache);
	snprintf(saved, sizeof(saved), "%s/m.gguf", g_cache);
	write_text(text, 400);
	p.n_ctx = 64;
	p.n_batch = 128; /* two chunks per decode, as llama-imatrix's -b over -c */
	p.n_ubatch = 128;
	p.n_threads = 2;
	TQ_EQ_INT(qe_llamacpp_imatrix_compute(src, text, &p, &m, &err), 0);
	tok = tokens_of(src, text, &n_tok, &bos);
	TQ_CHECK(tok && n_tok >= 2 * p.n_ctx);
	if (!tok || m.n == 0)
		TQ_SKIP("no tokens or no matrix: %s", err.msg);
	TQ_EQ_INT(m.n, 14); /* 2 layers x q, k, v, output, gate, up, down */
	TQ_EQ_INT(m.chunk_count, n_tok / p.n_ctx);
	TQ_EQ_INT(m.chunk_size, 64);
	q = entry(&m, "blk.0.attn_q.weight");
	k = entry(&m, "blk.0.attn_k.weight");
	want = direct_sums(src, tok, m.chunk_count, p.n_ctx, bos, &n_embd);
	TQ_CHECK(q && k && want && q->n_sums == n_embd);
	if (!q || !k || !want)
		TQ_SKIP("missing entries");
	TQ_EQ_INT(q->counts[0], (int64_t)m.chunk_count * p.n_ctx);
	for (int64_t j = 0; j < n_embd; j++) {
		double rel = fabs(q->sums[j] - want[j]) / fmax(fabs(want[j]), 1e-30);
		worst = fmax(worst, rel);
		TQ_CHECK(q->sums[j] == k->sums[j]); /* one input, three matrices */
	}
	fprintf(stderr, "  imatrix blk.0.attn_q vs direct: max relative difference %.3g\n", worst);
	TQ_CHECK(worst <= IMATRIX_REL_TOL);
	/* written as llama-imatrix writes it and read back */
	TQ_EQ_INT(qe_imatrix_save(&m, saved, &err), 0);
	TQ_EQ_INT(qe_imatrix_load(saved, &back, &err), 0);
	TQ_EQ_INT(back.n, m.n);
	TQ_EQ_INT(back.has_metadata, 1);
	TQ_EQ_STR(back.n_datasets ? back.datasets[0] : "", text);
	TQ_CHECK(back.n == m.n && !memcmp(back.e[3].sums, m.e[3].sums, (size_t)m.e[3].n_sums * sizeof(float)));
	qe_imatrix_release(&back);
	qe_imatrix_release(&m);
	free(want);
	free(tok);
}

/* a recipe with a calibration text makes the matrix into the cache and a
 * type that needs one then quantizes */
static void test_recipe_with_text(void)
{
	char src[512], spec[700], text[300], t[32];
	struct qe_level lv;
	struct qe_err err = { 0 };

	fixture(src, sizeof(src), "tiny-llama-f32.gguf");
	snprintf(text, sizeof(text), "%s/long.txt", g_cache);
	write_text(text, 2600); /* the engine's default chunk is 512 tokens */
	snprintf(spec, sizeof(spec), "iq=IQ2_XS+imatrix:%s", text);
	memset(&lv, 0, sizeof(lv));
	TQ_EQ_INT(qe_level_prepare(NULL, src, spec, g_cache, 2, &lv, &err), 0);
	if (err.code)
		fprintf(stderr, "  %s\n", err.msg);
	TQ_EQ_STR(type_of(lv.path, "blk.0.ffn_up.weight", t, sizeof(t)), "iq2_xs");
}

int main(void)
{
	char cmd[300];

	snprintf(g_cache, sizeof(g_cache), "/tmp/qe-t-recipe.%ld", (long)getpid());
	qe_mkdirs(g_cache, 0755);
	TQ_RUN(test_text_spec);
	TQ_RUN(test_json_spec);
	TQ_RUN(test_keys);
	TQ_RUN(test_refuse_without_imatrix);
	TQ_RUN(test_override_order);
	TQ_RUN(test_identity_shows_recipe);
	TQ_RUN(test_recipes_not_same_types);
	TQ_RUN(test_imatrix_against_direct);
	TQ_RUN(test_recipe_with_text);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_cache);
	if (system(cmd) != 0)
		fprintf(stderr, "t_recipe: could not remove %s\n", g_cache);
	return tq_done("t_recipe");
}
