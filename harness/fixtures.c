/* qeval — generates the fixture models the core tests and `qeval demo` run on, with seeded
 * random weights and small vocabularies, through the gguf API of libggml-base:
 *
 *   tiny-llama-f32.gguf / -f16.gguf   llama architecture: width 256, 2 layers,
 *       4 heads, FFN 512, context 2048, SentencePiece vocabulary with byte
 *       fallback (every text tokenizes). Widths are multiples of 256, so every
 *       K-quant type applies as named.
 *   tiny-bert-f32.gguf / -f16.gguf    bert architecture: width 256, 2 layers,
 *       4 heads, FFN 512, 128 positions, WordPiece vocabulary (BERT id layout,
 *       ASCII and some CJK characters), mean pooling; token_types stays F32.
 *   tiny-bert-cls-f32.gguf            the same weights with CLS pooling.
 *
 * Deterministic: the same bytes every run.
 */
#include "harness/fixtures.h"
#include "harness/base/sys.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ggml.h>
#include <gguf.h>

/* ---- deterministic random numbers ------------------------------------- */

static uint64_t g_rng;

static uint64_t rng_next(void)
{
	uint64_t z = (g_rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static double rng_normal(void)
{
	double u1 = ((double)(rng_next() >> 11) + 0.5) / 9007199254740992.0;
	double u2 = ((double)(rng_next() >> 11) + 0.5) / 9007199254740992.0;
	return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* ---- model writer ------------------------------------------------------ */

struct writer {
	struct gguf_context *g;
	struct ggml_context *ctx;
	int f16; /* 2-D weights in F16 */
};

static void add_tensor(struct writer *w, const char *name, int64_t ne0, int64_t ne1, double std, double mean)
{
	int two_d = ne1 > 1;
	enum ggml_type t = (w->f16 && two_d && strcmp(name, "token_types.weight")) ? GGML_TYPE_F16 : GGML_TYPE_F32;
	struct ggml_tensor *x = two_d ? ggml_new_tensor_2d(w->ctx, t, ne0, ne1) : ggml_new_tensor_1d(w->ctx, t, ne0);
	int64_t n = ne0 * ne1;
	float *tmp = malloc((size_t)n * sizeof(float));

	for (int64_t i = 0; i < n; i++)
		tmp[i] = (float)(mean + std * rng_normal());
	if (t == GGML_TYPE_F16)
		ggml_fp32_to_fp16_row(tmp, x->data, n);
	else
		memcpy(x->data, tmp, (size_t)n * sizeof(float));
	free(tmp);
	ggml_set_name(x, name);
	gguf_add_tensor(w->g, x);
}

static struct qe_err *g_err;

static int finish(struct writer *w, const char *dir, const char *file)
{
	char path[4096];
	int ok;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	ok = gguf_write_to_file(w->g, path, false);
	gguf_free(w->g);
	ggml_free(w->ctx);
	if (!ok)
		return qe_fail(g_err, QE_EIO, "cannot write '%s'", path);
	return 0;
}

static void writer_init(struct writer *w, int f16)
{
	struct ggml_init_params ip = { .mem_size = (size_t)64 << 20, .mem_buffer = NULL, .no_alloc = false };

	w->g = gguf_init_empty();
	w->ctx = ggml_init(ip);
	w->f16 = f16;
}

/* ---- tiny llama ---------------------------------------------------------- */

enum { L_EMBD = 256, L_HEAD = 4, L_LAYER = 2, L_FF = 512, L_CTX = 2048 };

static const char *const llama_words[] = {
	"▁A", "▁B", "▁C", "▁D", "▁Answer", "Answer", ":", "▁the", "▁of", "▁is", "▁and", "▁a", "▁to",
	"▁in", "▁what", "▁What", "▁which", "▁Which", "▁The", "▁questions", "▁about", "▁multiple",
	"▁choice", "▁following", "▁are", "▁with", "▁answers", ".", ",", "?", "\n", "▁Once", "▁upon",
	"▁time", "▁there", "▁was", "▁little", "▁girl", "▁named", "▁Lily",
};

/* nan = 1: the output norm's weights are NaN, so every logit is (a level
 * whose arithmetic overflowed, made on purpose) */
static int gen_llama(const char *dir, int f16, int nan, const char *file)
{
	struct writer w;
	const char *tokens[700];
	float scores[700];
	int32_t types[700];
	static char bytebuf[256][8], charbuf[128][8];
	int n = 0;
	char name[64];

	g_rng = 20260101;
	writer_init(&w, f16);
	tokens[n] = "<unk>"; scores[n] = 0; types[n++] = 2;
	tokens[n] = "<s>"; scores[n] = 0; types[n++] = 3;
	tokens[n] = "</s>"; scores[n] = 0; types[n++] = 3;
	for (int b = 0; b < 256; b++) {
		snprintf(bytebuf[b], sizeof(bytebuf[b]), "<0x%02X>", b);
		tokens[n] = bytebuf[b]; scores[n] = 0; types[n++] = 6;
	}
	tokens[n] = "▁"; scores[n] = -1.0f; types[n++] = 1;
	for (int ch = 33; ch < 127; ch++) {
		snprintf(charbuf[ch], sizeof(charbuf[ch]), "%c", ch);
		tokens[n] = charbuf[ch]; scores[n] = -2.0f - (float)ch / 1000.0f; types[n++] = 1;
	}
	for (size_t i = 0; i < sizeof(llama_words) / sizeof(llama_words[0]); i++) {
		int dup = 0;
		for (int j = 0; j < n; j++)
			dup |= !strcmp(tokens[j], llama_words[i]);
		if (dup)
			continue;
		tokens[n] = llama_words[i]; scores[n] = -0.5f + (float)strlen(llama_words[i]) * 0.01f; types[n++] = 1;
	}

	gguf_set_val_str(w.g, "general.architecture", "llama");
	gguf_set_val_str(w.g, "general.name", "qeval-tiny-llama");
	gguf_set_val_str(w.g, "general.description", "qeval test fixture: seeded random weights");
	gguf_set_val_u32(w.g, "general.file_type", f16 ? 1 : 0);
	gguf_set_val_u32(w.g, "llama.context_length", L_CTX);
	gguf_set_val_u32(w.g, "llama.embedding_length", L_EMBD);
	gguf_set_val_u32(w.g, "llama.feed_forward_length", L_FF);
	gguf_set_val_u32(w.g, "llama.attention.head_count", L_HEAD);
	gguf_set_val_u32(w.g, "llama.attention.head_count_kv", L_HEAD);
	gguf_set_val_u32(w.g, "llama.block_count", L_LAYER);
	gguf_set_val_u32(w.g, "llama.rope.dimension_count", L_EMBD / L_HEAD);
	gguf_set_val_f32(w.g, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
	gguf_set_val_str(w.g, "tokenizer.ggml.model", "llama");
	gguf_set_arr_str(w.g, "tokenizer.ggml.tokens", tokens, (size_t)n);
	gguf_set_arr_data(w.g, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, scores, (size_t)n);
	gguf_set_arr_data(w.g, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, types, (size_t)n);
	gguf_set_val_u32(w.g, "tokenizer.ggml.unknown_token_id", 0);
	gguf_set_val_u32(w.g, "tokenizer.ggml.bos_token_id", 1);
	gguf_set_val_u32(w.g, "tokenizer.ggml.eos_token_id", 2);
	gguf_set_val_bool(w.g, "tokenizer.ggml.add_bos_token", true);

	add_tensor(&w, "token_embd.weight", L_EMBD, n, 0.5, 0);
	add_tensor(&w, "output_norm.weight", L_EMBD, 1, 0.02, nan ? (double)NAN : 1.0);
	add_tensor(&w, "output.weight", L_EMBD, n, 0.1, 0);
	for (int l = 0; l < L_LAYER; l++) {
#define T(nm, a, b, sd, mu) (snprintf(name, sizeof(name), "blk.%d." nm, l), add_tensor(&w, name, a, b, sd, mu))
		T("attn_norm.weight", L_EMBD, 1, 0.02, 1);
		T("attn_q.weight", L_EMBD, L_EMBD, 0.08, 0);
		T("attn_k.weight", L_EMBD, L_EMBD, 0.08, 0);
		T("attn_v.weight", L_EMBD, L_EMBD, 0.06, 0);
		T("attn_output.weight", L_EMBD, L_EMBD, 0.06, 0);
		T("ffn_norm.weight", L_EMBD, 1, 0.02, 1);
		T("ffn_gate.weight", L_EMBD, L_FF, 0.06, 0);
		T("ffn_up.weight", L_EMBD, L_FF, 0.06, 0);
		T("ffn_down.weight", L_FF, L_EMBD, 0.04, 0);
#undef T
	}
	return finish(&w, dir, file);
}

/* ---- tiny bert ----------------------------------------------------------- */

enum { B_EMBD = 256, B_HEAD = 4, B_LAYER = 2, B_FF = 512, B_CTX = 128 };

/* CJK characters so the Chinese sample sentences tokenize to more than [UNK] */
static const char *const bert_cjk[] = {
	"的", "一", "是", "不", "了", "人", "我", "在", "有", "他", "这", "中", "大", "来", "上", "国",
	"个", "到", "说", "们", "为", "子", "和", "你", "地", "出", "道", "也", "时", "年", "得", "就",
	"那", "要", "下", "以", "生", "会", "自", "着", "去", "之", "过", "家", "学", "对", "可", "她",
	"里", "后", "小", "么", "心", "多", "天", "而", "能", "好", "都", "然", "没", "日", "于", "起",
	"还", "发", "成", "事", "只", "作", "当", "想", "看", "文", "无", "开", "手", "十", "用", "主",
	"行", "方", "又", "如", "前", "所", "本", "见", "经", "头", "面", "公", "同", "三", "已", "老",
	"从", "动", "两", "长", "知", "民", "样", "现", "分", "将", "外", "但", "身", "些", "与", "高",
	"意", "进", "把", "法", "此", "实", "回", "二", "理", "美", "点", "月", "明", "其", "种", "声",
	"全", "工", "己", "话", "儿", "者", "向", "情", "部", "正", "名", "定", "女", "问", "力", "机",
	"吗", "怎", "什", "哪", "买", "吃", "喝", "水", "钱", "手", "机", "电", "脑", "爱", "喜", "欢",
	"？", "，", "。", "！",
};

/* Words and word pieces. llama.cpp's WordPiece vocabulary marks a word's
 * first piece with "▁" and keeps continuation pieces bare (its converter
 * turns BERT's "##x" into "x" and "x" into "▁x"); the lists below are bare
 * and get the mark where they start a word. */
static const char *const bert_words[] = {
	"the", "a", "is", "of", "and", "to", "in", "man", "woman", "dog", "cat", "playing", "guitar",
};
static const char *const bert_suffixes[] = { "s", "ing", "ed" };

static int add_piece(const char **tokens, int32_t *types, int n, const char *piece, int word_start,
		     char (*store)[16], int *n_store)
{
	const char *t;
	if (word_start) {
		snprintf(store[*n_store], 16, "\xe2\x96\x81%s", piece);
		t = store[(*n_store)++];
	} else {
		t = piece;
	}
	for (int j = 0; j < n; j++)
		if (!strcmp(tokens[j], t))
			return n;
	tokens[n] = t;
	types[n] = 1;
	return n + 1;
}

static int gen_bert(const char *dir, int f16, int pooling, const char *file)
{
	struct writer w;
	const char *tokens[900];
	int32_t types[900];
	static char unused[100][16], ascii[128][4], store[600][16];
	int n = 0, n_store = 0;
	char name[64];

	g_rng = 20260202;
	writer_init(&w, f16);
	tokens[n] = "[PAD]"; types[n++] = 3;
	for (int i = 1; i < 100; i++) {
		snprintf(unused[i], sizeof(unused[i]), "[unused%d]", i);
		tokens[n] = unused[i]; types[n++] = 5;
	}
	tokens[n] = "[UNK]"; types[n++] = 2;
	tokens[n] = "[CLS]"; types[n++] = 3;
	tokens[n] = "[SEP]"; types[n++] = 3;
	tokens[n] = "[MASK]"; types[n++] = 3;
	for (int ch = 33; ch < 127; ch++) {
		if (ch >= 'A' && ch <= 'Z')
			continue; /* lower-cased vocabulary */
		snprintf(ascii[ch], sizeof(ascii[ch]), "%c", ch);
		n = add_piece(tokens, types, n, ascii[ch], 1, store, &n_store);
		if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9'))
			n = add_piece(tokens, types, n, ascii[ch], 0, store, &n_store);
	}
	for (size_t i = 0; i < sizeof(bert_words) / sizeof(bert_words[0]); i++)
		n = add_piece(tokens, types, n, bert_words[i], 1, store, &n_store);
	for (size_t i = 0; i < sizeof(bert_suffixes) / sizeof(bert_suffixes[0]); i++)
		n = add_piece(tokens, types, n, bert_suffixes[i], 0, store, &n_store);
	for (size_t i = 0; i < sizeof(bert_cjk) / sizeof(bert_cjk[0]); i++)
		n = add_piece(tokens, types, n, bert_cjk[i], 1, store, &n_store);

	gguf_set_val_str(w.g, "general.architecture", "bert");
	gguf_set_val_str(w.g, "general.name", "qeval-tiny-bert");
	gguf_set_val_u32(w.g, "general.file_type", f16 ? 1 : 0);
	gguf_set_val_u32(w.g, "bert.context_length", B_CTX);
	gguf_set_val_u32(w.g, "bert.embedding_length", B_EMBD);
	gguf_set_val_u32(w.g, "bert.block_count", B_LAYER);
	gguf_set_val_u32(w.g, "bert.feed_forward_length", B_FF);
	gguf_set_val_u32(w.g, "bert.attention.head_count", B_HEAD);
	gguf_set_val_f32(w.g, "bert.attention.layer_norm_epsilon", 1e-12f);
	gguf_set_val_bool(w.g, "bert.attention.causal", false);
	gguf_set_val_u32(w.g, "bert.pooling_type", (uint32_t)pooling);
	gguf_set_val_str(w.g, "tokenizer.ggml.model", "bert");
	gguf_set_val_str(w.g, "tokenizer.ggml.pre", "default");
	gguf_set_arr_str(w.g, "tokenizer.ggml.tokens", tokens, (size_t)n);
	gguf_set_arr_data(w.g, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, types, (size_t)n);
	gguf_set_val_u32(w.g, "tokenizer.ggml.token_type_count", 2);
	gguf_set_val_u32(w.g, "tokenizer.ggml.bos_token_id", 101);
	gguf_set_val_u32(w.g, "tokenizer.ggml.seperator_token_id", 102);
	gguf_set_val_u32(w.g, "tokenizer.ggml.unknown_token_id", 100);
	gguf_set_val_u32(w.g, "tokenizer.ggml.padding_token_id", 0);
	gguf_set_val_u32(w.g, "tokenizer.ggml.mask_token_id", 103);
	gguf_set_val_bool(w.g, "tokenizer.ggml.add_bos_token", true);
	gguf_set_val_bool(w.g, "tokenizer.ggml.add_sep_token", true);
	gguf_set_val_bool(w.g, "tokenizer.ggml.add_eos_token", false);
	gguf_set_val_bool(w.g, "tokenizer.ggml.normalizer.lowercase", true);

	add_tensor(&w, "token_embd.weight", B_EMBD, n, 0.5, 0);
	add_tensor(&w, "position_embd.weight", B_EMBD, B_CTX, 0.1, 0);
	add_tensor(&w, "token_types.weight", B_EMBD, 2, 0.1, 0);
	add_tensor(&w, "token_embd_norm.weight", B_EMBD, 1, 0.02, 1);
	add_tensor(&w, "token_embd_norm.bias", B_EMBD, 1, 0.02, 0);
	for (int l = 0; l < B_LAYER; l++) {
#define T(nm, a, b, sd, mu) (snprintf(name, sizeof(name), "blk.%d." nm, l), add_tensor(&w, name, a, b, sd, mu))
		T("attn_q.weight", B_EMBD, B_EMBD, 0.08, 0);
		T("attn_q.bias", B_EMBD, 1, 0.02, 0);
		T("attn_k.weight", B_EMBD, B_EMBD, 0.08, 0);
		T("attn_k.bias", B_EMBD, 1, 0.02, 0);
		T("attn_v.weight", B_EMBD, B_EMBD, 0.06, 0);
		T("attn_v.bias", B_EMBD, 1, 0.02, 0);
		T("attn_output.weight", B_EMBD, B_EMBD, 0.06, 0);
		T("attn_output.bias", B_EMBD, 1, 0.02, 0);
		T("attn_output_norm.weight", B_EMBD, 1, 0.02, 1);
		T("attn_output_norm.bias", B_EMBD, 1, 0.02, 0);
		T("ffn_up.weight", B_EMBD, B_FF, 0.06, 0);
		T("ffn_up.bias", B_FF, 1, 0.02, 0);
		T("ffn_down.weight", B_FF, B_EMBD, 0.04, 0);
		T("ffn_down.bias", B_EMBD, 1, 0.02, 0);
		T("layer_output_norm.weight", B_EMBD, 1, 0.02, 1);
		T("layer_output_norm.bias", B_EMBD, 1, 0.02, 0);
#undef T
	}
	return finish(&w, dir, file);
}

int qe_fixtures_generate(const char *dir, struct qe_err *err)
{
	int rc = 0;

	if (qe_mkdirs(dir, 0755) != 0)
		return qe_fail(err, QE_EIO, "cannot create '%s'", dir);
	g_err = err;
	rc = rc ? rc : gen_llama(dir, 0, 0, "tiny-llama-f32.gguf");
	rc = rc ? rc : gen_llama(dir, 1, 0, "tiny-llama-f16.gguf");
	rc = rc ? rc : gen_llama(dir, 0, 1, "tiny-llama-nan.gguf");
	rc = rc ? rc : gen_bert(dir, 0, 1, "tiny-bert-f32.gguf");
	rc = rc ? rc : gen_bert(dir, 1, 1, "tiny-bert-f16.gguf");
	rc = rc ? rc : gen_bert(dir, 0, 2, "tiny-bert-cls-f32.gguf");
	g_err = NULL;
	return rc;
}
