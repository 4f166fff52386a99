/* qeval — writes a llama-architecture GGUF with random weights for speed
 * measurements (tests/bench/speed_vs_llama_bench.sh). The figures of a speed test
 * depend on the shapes and types of the tensors, not on their values, so
 * seeded uniform noise stands in for trained weights; the model's answers
 * are meaningless.
 *
 * Usage: gen_speed_model OUT.gguf [--embd N] [--layers N] [--ff N]
 *                        [--heads N] [--kv-heads N] [--vocab N | --vocab-from FILE.gguf]
 *                        [--ctx N] [--f32]
 * Defaults: width 1024, 8 layers, FFN 2816, 16 heads, 4 KV heads (grouped-query
 * attention, head size 64), vocabulary 32000, context 4096, F16 matrices:
 * about 155 M parameters, 310 MB. `--embd 2048 --layers 22 --ff 5632 --heads 32`
 * gives the shapes of a 1.1 B model (TinyLlama's).
 *
 * The vocabulary is SentencePiece-style ("llama" tokenizer): <unk>, <s>, </s>,
 * the 256 byte tokens, then filler pieces, so any text tokenizes; or, with
 * --vocab-from, another GGUF's whole tokenizer (e.g. the real Llama-2 32k
 * vocabulary of ../shared/models/llama-2-tiny-random.gguf), so prompts have
 * a real model's token counts. Widths
 * should be multiples of 256 for every K-quant type to apply as named.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ggml.h>
#include <gguf.h>

struct shape {
	int embd, layers, ff, heads, kv_heads, vocab, ctx;
	int f32; /* 1 = every tensor F32 */
};

static uint64_t g_state = 0x5eed5eedull;

static uint64_t next_u64(void)
{
	uint64_t z = (g_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* A tensor of uniform values in [mean - half, mean + half]. The data lives
 * in ctx until the file is written. */
static int add_tensor(struct gguf_context *g, struct ggml_context *ctx, const struct shape *s,
		      const char *name, int64_t ne0, int64_t ne1, float half, float mean)
{
	int two_d = ne1 > 1;
	enum ggml_type type = two_d && !s->f32 ? GGML_TYPE_F16 : GGML_TYPE_F32;
	struct ggml_tensor *t = two_d ? ggml_new_tensor_2d(ctx, type, ne0, ne1) : ggml_new_tensor_1d(ctx, type, ne0);
	float *row;

	if (!t)
		return -1;
	row = malloc((size_t)ne0 * sizeof(*row));
	if (!row)
		return -1;
	for (int64_t r = 0; r < ne1; r++) {
		for (int64_t i = 0; i < ne0; i++) {
			double u = (double)(next_u64() >> 11) / 9007199254740992.0; /* [0, 1) */
			row[i] = mean + half * (float)(2.0 * u - 1.0);
		}
		if (type == GGML_TYPE_F16)
			ggml_fp32_to_fp16_row(row, (ggml_fp16_t *)t->data + r * ne0, ne0);
		else
			memcpy((float *)t->data + r * ne0, row, (size_t)ne0 * sizeof(*row));
	}
	free(row);
	ggml_set_name(t, name);
	gguf_add_tensor(g, t);
	return 0;
}

static size_t data_bytes(const struct shape *s)
{
	size_t w = s->f32 ? 4 : 2, e = (size_t)s->embd, kv = e / (size_t)s->heads * (size_t)s->kv_heads;
	size_t per_layer = e * e * 2 + e * kv * 2 + 3 * e * (size_t)s->ff;

	return w * (per_layer * (size_t)s->layers + 2 * e * (size_t)s->vocab) +
	       4 * e * (2 * (size_t)s->layers + 1) + (size_t)(4 * s->layers + 8) * 1024 * 1024;
}

static int parse_int(const char *v, int lo, int hi, int *out)
{
	char *end;
	long x = strtol(v ? v : "", &end, 10);

	if (!v || !*v || *end || x < lo || x > hi)
		return -1;
	*out = (int)x;
	return 0;
}

static const char usage[] =
	"usage: gen_speed_model OUT.gguf [--embd N] [--layers N] [--ff N] [--heads N] [--kv-heads N]\n"
	"                       [--vocab N | --vocab-from FILE.gguf] [--ctx N] [--f32]\n";

/* argv into s (and out, vocab_from); 0, or 2 after a message */
static int parse_args(int argc, char **argv, struct shape *s, const char **out, const char **vocab_from)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		int bad = 0;
		if (!strcmp(a, "--embd")) bad = parse_int(v, 64, 65536, &s->embd), i++;
		else if (!strcmp(a, "--layers")) bad = parse_int(v, 1, 512, &s->layers), i++;
		else if (!strcmp(a, "--ff")) bad = parse_int(v, 64, 1 << 20, &s->ff), i++;
		else if (!strcmp(a, "--heads")) bad = parse_int(v, 1, 1024, &s->heads), i++;
		else if (!strcmp(a, "--kv-heads")) bad = parse_int(v, 1, 1024, &s->kv_heads), i++;
		else if (!strcmp(a, "--vocab")) bad = parse_int(v, 512, 1 << 20, &s->vocab), i++;
		else if (!strcmp(a, "--vocab-from")) bad = !v, *vocab_from = v, i++;
		else if (!strcmp(a, "--ctx")) bad = parse_int(v, 64, 1 << 24, &s->ctx), i++;
		else if (!strcmp(a, "--f32")) s->f32 = 1;
		else if (a[0] != '-' && !*out) *out = a;
		else bad = -1;
		if (bad) {
			fprintf(stderr, "gen_speed_model: bad argument '%s'\n%s", a, usage);
			return 2;
		}
	}
	if (!*out || s->embd % s->heads || s->heads % s->kv_heads) {
		fprintf(stderr, "gen_speed_model: need OUT.gguf; heads must divide the width and kv-heads the heads\n");
		return 2;
	}
	return 0;
}

/* The vocabulary of another GGUF: every tokenizer.* key of it, so prompts
 * tokenize as they do for that model. s->vocab becomes its size. */
static int vocab_from_file(struct gguf_context *g, const char *path, struct shape *s)
{
	struct gguf_init_params p = { .no_alloc = true, .ctx = NULL };
	struct gguf_context *src = gguf_init_from_file(path, p);
	int64_t tok;

	if (!src) {
		fprintf(stderr, "gen_speed_model: cannot read '%s' as GGUF\n", path);
		return 2;
	}
	tok = gguf_find_key(src, "tokenizer.ggml.tokens");
	if (tok < 0 || gguf_get_arr_n(src, tok) < 4) {
		fprintf(stderr, "gen_speed_model: '%s' has no tokenizer.ggml.tokens\n", path);
		gguf_free(src);
		return 2;
	}
	s->vocab = (int)gguf_get_arr_n(src, tok);
	gguf_set_kv(g, src);
	gguf_free(src);
	/* keep only the tokenizer: the rest describes the other model */
	for (int64_t i = gguf_get_n_kv(g) - 1; i >= 0; i--)
		if (strncmp(gguf_get_key(g, i), "tokenizer.", 10) != 0)
			gguf_remove_key(g, gguf_get_key(g, i));
	return 0;
}

/* SentencePiece-style vocabulary: <unk>, <s>, </s>, the 256 byte tokens,
 * then "\u2581p<i>" filler pieces, so any text tokenizes */
static int vocab_generated(struct gguf_context *g, const struct shape *s)
{
	const char **tokens = calloc((size_t)s->vocab, sizeof(*tokens));
	float *scores = calloc((size_t)s->vocab, sizeof(*scores));
	int32_t *types = calloc((size_t)s->vocab, sizeof(*types));
	char (*pieces)[16] = calloc((size_t)s->vocab, sizeof(*pieces));
	int rc = tokens && scores && types && pieces ? 0 : 3;

	for (int i = 0; rc == 0 && i < s->vocab; i++) {
		if (i == 0)
			snprintf(pieces[i], sizeof(pieces[i]), "<unk>"), types[i] = 2;
		else if (i == 1)
			snprintf(pieces[i], sizeof(pieces[i]), "<s>"), types[i] = 3;
		else if (i == 2)
			snprintf(pieces[i], sizeof(pieces[i]), "</s>"), types[i] = 3;
		else if (i < 3 + 256)
			snprintf(pieces[i], sizeof(pieces[i]), "<0x%02X>", i - 3), types[i] = 6;
		else
			snprintf(pieces[i], sizeof(pieces[i]), "\xe2\x96\x81p%d", i), types[i] = 1;
		tokens[i] = pieces[i];
		scores[i] = i < 3 + 256 ? 0.0f : -(float)i / (float)s->vocab;
	}
	if (rc == 0) {
		gguf_set_val_str(g, "tokenizer.ggml.model", "llama");
		gguf_set_arr_str(g, "tokenizer.ggml.tokens", tokens, (size_t)s->vocab);
		gguf_set_arr_data(g, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, scores, (size_t)s->vocab);
		gguf_set_arr_data(g, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, types, (size_t)s->vocab);
		gguf_set_val_u32(g, "tokenizer.ggml.unknown_token_id", 0);
		gguf_set_val_u32(g, "tokenizer.ggml.bos_token_id", 1);
		gguf_set_val_u32(g, "tokenizer.ggml.eos_token_id", 2);
		gguf_set_val_bool(g, "tokenizer.ggml.add_bos_token", true);
	}
	free(tokens);
	free(scores);
	free(types);
	free(pieces);
	return rc;
}

static void hparams(struct gguf_context *g, const struct shape *s)
{
	gguf_set_val_str(g, "general.architecture", "llama");
	gguf_set_val_str(g, "general.name", "qeval-speed-random");
	gguf_set_val_str(g, "general.description", "random weights for speed measurements only");
	gguf_set_val_u32(g, "general.file_type", s->f32 ? 0 : 1);
	gguf_set_val_u32(g, "llama.context_length", (uint32_t)s->ctx);
	gguf_set_val_u32(g, "llama.embedding_length", (uint32_t)s->embd);
	gguf_set_val_u32(g, "llama.feed_forward_length", (uint32_t)s->ff);
	gguf_set_val_u32(g, "llama.attention.head_count", (uint32_t)s->heads);
	gguf_set_val_u32(g, "llama.attention.head_count_kv", (uint32_t)s->kv_heads);
	gguf_set_val_u32(g, "llama.block_count", (uint32_t)s->layers);
	gguf_set_val_u32(g, "llama.rope.dimension_count", (uint32_t)(s->embd / s->heads));
	gguf_set_val_f32(g, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
}

static int weights(struct gguf_context *g, struct ggml_context *ctx, const struct shape *s)
{
	int64_t e = s->embd, kv = (int64_t)s->embd / s->heads * s->kv_heads, f = s->ff;
	char name[64];
	int rc = 0;

	rc |= add_tensor(g, ctx, s, "token_embd.weight", e, s->vocab, 0.05f, 0);
	rc |= add_tensor(g, ctx, s, "output_norm.weight", e, 1, 0.01f, 1);
	rc |= add_tensor(g, ctx, s, "output.weight", e, s->vocab, 0.02f, 0);
	for (int l = 0; l < s->layers && rc == 0; l++) {
#define T(nm, a, b, h, mu) (snprintf(name, sizeof(name), "blk.%d." nm, l), add_tensor(g, ctx, s, name, a, b, h, mu))
		rc |= T("attn_norm.weight", e, 1, 0.01f, 1);
		rc |= T("attn_q.weight", e, e, 0.02f, 0);
		rc |= T("attn_k.weight", e, kv, 0.02f, 0);
		rc |= T("attn_v.weight", e, kv, 0.02f, 0);
		rc |= T("attn_output.weight", e, e, 0.02f, 0);
		rc |= T("ffn_norm.weight", e, 1, 0.01f, 1);
		rc |= T("ffn_gate.weight", e, f, 0.02f, 0);
		rc |= T("ffn_up.weight", e, f, 0.02f, 0);
		rc |= T("ffn_down.weight", f, e, 0.02f, 0);
#undef T
	}
	return rc;
}

int main(int argc, char **argv)
{
	struct shape s = { 1024, 8, 2816, 16, 4, 32000, 4096, 0 };
	const char *out = NULL, *vocab_from = NULL;
	struct ggml_init_params ip;
	struct ggml_context *ctx;
	struct gguf_context *g;
	int rc;

	if ((rc = parse_args(argc, argv, &s, &out, &vocab_from)) != 0)
		return rc;
	g = gguf_init_empty();
	if (!g)
		return 3;
	rc = vocab_from ? vocab_from_file(g, vocab_from, &s) : vocab_generated(g, &s);
	if (rc)
		return rc;
	hparams(g, &s);
	ip.mem_size = data_bytes(&s);
	ip.mem_buffer = NULL;
	ip.no_alloc = false;
	ctx = ggml_init(ip);
	if (!ctx || weights(g, ctx, &s) != 0) {
		fprintf(stderr, "gen_speed_model: out of memory (%zu bytes of tensors)\n", ip.mem_size);
		return 3;
	}
	if (!gguf_write_to_file(g, out, false)) {
		fprintf(stderr, "gen_speed_model: cannot write '%s'\n", out);
		return 3;
	}
	printf("gen_speed_model: %s (width %d, %d layers, FFN %d, %d/%d heads, vocabulary %d%s%s)\n", out, s.embd,
	       s.layers, s.ff, s.heads, s.kv_heads, s.vocab, vocab_from ? " from " : "", vocab_from ? vocab_from : "");
	gguf_free(g);
	ggml_free(ctx);
	return 0;
}
