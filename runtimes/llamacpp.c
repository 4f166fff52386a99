/* qeval — the llamacpp runtime: llama.cpp through its C API (libllama).
 * (Its levels, quantization types and GGUF files, are runtimes/llamacpp_level.c.)
 *
 * One handle = one model at one level, with up to three contexts created on
 * first use: the scoring context (logits, KV cache kept between requests so
 * shared prefixes are processed once), the embedding context (pooled
 * embeddings, many sequences per decode) and the speed context (sized like
 * llama-bench's: n_prompt + n_gen cells).
 *
 * Process-wide: the engine is initialised once (pthread_once); its log goes
 * through log_cb, which keeps the last error line for messages.
 */
#include "runtimes/llamacpp.h"
#include "runtimes/llamacpp_imatrix.h"
#include "runtimes/llamacpp_recipe.h"
#include "runtimes/gguf_info.h"
#include "harness/base/sys.h"

#include <dlfcn.h>
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <ggml-backend.h>
#include <llama.h>

#ifndef QE_LLAMA_KIND
#define QE_LLAMA_KIND "unknown build"
#endif

/* ======================================================================
 * Process-wide engine state
 * ====================================================================== */

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static atomic_int g_verbose;
static pthread_mutex_t g_log_mu = PTHREAD_MUTEX_INITIALIZER;
static char g_last_error[384]; /* last ERROR/WARN line of the engine, guarded by g_log_mu */

/* The engine's recent log lines, every level (a ring), written out when the
 * engine aborts the process; guarded by g_log_mu. */
#define RING_LINES 24
#define RING_WIDTH 320
static char g_ring[RING_LINES][RING_WIDTH];
static unsigned g_ring_next;         /* lines written so far */
static char g_line[RING_WIDTH];      /* the line being assembled (the log comes in pieces) */
static char g_crash_log[4096];       /* where on_abort writes, "" = stderr only */

static void ring_put_locked(const char *text)
{
	for (const char *p = text; *p; p++) {
		size_t n = strlen(g_line);
		if (*p == '\n') {
			if (n) {
				snprintf(g_ring[g_ring_next % RING_LINES], RING_WIDTH, "%s", g_line);
				g_ring_next++;
			}
			g_line[0] = '\0';
		} else if (n + 1 < RING_WIDTH) {
			g_line[n] = *p;
			g_line[n + 1] = '\0';
		}
	}
}

static void log_cb(enum ggml_log_level level, const char *text, void *ud)
{
	(void)ud;
	if (atomic_load(&g_verbose))
		fputs(text, stderr);
	pthread_mutex_lock(&g_log_mu);
	ring_put_locked(text);
	if (level == GGML_LOG_LEVEL_ERROR || level == GGML_LOG_LEVEL_WARN) {
		size_t n;
		snprintf(g_last_error, sizeof(g_last_error), "%s", text);
		n = strlen(g_last_error);
		while (n > 0 && (g_last_error[n - 1] == '\n' || g_last_error[n - 1] == ' '))
			g_last_error[--n] = '\0';
	}
	pthread_mutex_unlock(&g_log_mu);
}

/* ggml_abort's callback (the process aborts when it returns): the message and
 * the engine's last log lines to the crash log the driver named, so the level
 * that died says why, also without --verbose; one line to stderr. No lock: the
 * process is ending and a thread holding g_log_mu may be the one aborting. */
static void on_abort(const char *text)
{
	FILE *f = g_crash_log[0] ? fopen(g_crash_log, "a") : NULL;
	unsigned first = g_ring_next > RING_LINES ? g_ring_next - RING_LINES : 0;
	const char *colon = strstr(text, ": "), *base = text;
	char message[1024];
	size_t n;

	/* "/long/build/path/ggml/src/x.cpp:135: what" -> "x.cpp:135: what" */
	for (const char *p = text; colon && p < colon; p++)
		if (*p == '/')
			base = p + 1;
	snprintf(message, sizeof(message), "%s", base);
	n = strlen(message);
	while (n > 0 && (message[n - 1] == '\n' || message[n - 1] == ' '))
		message[--n] = '\0';

	fprintf(stderr, "qeval: the engine aborted: %s\n", message);
	if (!f)
		return;
	fprintf(f, "abort: %s\n", message);
	for (unsigned i = first; i < g_ring_next; i++)
		fprintf(f, "log: %s\n", g_ring[i % RING_LINES]);
	if (g_line[0])
		fprintf(f, "log: %s\n", g_line);
	fclose(f);
}

static void last_error(char *buf, size_t cap)
{
	pthread_mutex_lock(&g_log_mu);
	snprintf(buf, cap, "%s", g_last_error[0] ? g_last_error : "no detail from the engine");
	g_last_error[0] = '\0';
	pthread_mutex_unlock(&g_log_mu);
}

/* The folder libllama was loaded from: the CPU backend variants live there
 * (the prebuilt libraries load them dynamically). */
static void engine_init(void)
{
	Dl_info info;
	const char *env = getenv("QEVAL_LLAMA_LIBDIR");

	llama_log_set(log_cb, NULL);
	ggml_set_abort_callback(on_abort);
	if (env && *env) {
		ggml_backend_load_all_from_path(env);
	} else if (dladdr((void *)llama_backend_init, &info) && info.dli_fname) {
		char dir[4096];
		char *slash;
		snprintf(dir, sizeof(dir), "%s", info.dli_fname);
		slash = strrchr(dir, '/');
		if (slash) {
			*slash = '\0';
			ggml_backend_load_all_from_path(dir);
		} else {
			ggml_backend_load_all_from_path(".");
		}
	}
	llama_backend_init();
}

static const char *ll_version(void);

/* ======================================================================
 * Handle state
 * ====================================================================== */

struct out_row;
struct prefix_tok;
struct lctx;

/* Scoring's phases, timed when QEVAL_PROFILE=1 (docs/benchmarks.md). */
enum { PROF_TOK, PROF_SEGMENT, PROF_PREP, PROF_LAUNCH, PROF_WAIT, PROF_READ, PROF_CALL, PROF_N };
static const char *const prof_names[PROF_N] = {
	"tokenize", "prefix segments", "batch filling", "decode calls", "wait for logits", "read rows",
	"score calls in all"
};
static void score_state_release(struct lctx *c);
struct sslot;
static void slot_free(struct sslot *sl);

/* A scoring context and its state. Every scoring context of a runtime is
 * made alike (same parameters), and a decode's results depend only on what
 * it holds, so a request gets the same numbers in either. */
struct sslot {
	struct llama_context *sctx;
	int32_t *cache_tok;       /* tokens now in seq 0 of sctx's KV cache, [s_window] */
	int32_t n_cache;
	int cache_is_segment;     /* cache_tok is a declared prefix, evaluated alone from an empty cache */
	struct llama_batch s_batch; /* [s_n_batch] tokens of the decode being filled (or made and
				     * not yet read: read_rows) */
	struct out_row *s_rows;   /* [s_n_batch]: what each token of s_batch with logits scores */
	const float **r_lg;       /* [s_n_batch] the logits rows of a decode, in batch order */
	int32_t *r_k;             /* [s_n_batch] their tokens' places in s_batch */
	double *r_lse;            /* [s_n_batch] their log-sum-exp */
	int32_t *r_arg;           /* [s_n_batch] their argmax */
};

struct lctx {
	struct llama_model *model;
	const struct llama_vocab *vocab;
	char path[4096];
	int n_vocab;
	int n_threads, n_threads_batch;
	int encoder_only;         /* encoder without decoder (T5 encoder): llama_encode */
	int non_causal;           /* bidirectional attention (BERT-like): embeddings only */

	/* scoring */
	struct sslot cur;         /* the scoring context in use */
	struct sslot spare;       /* the other one, when n_slots is 2 (slot_swap) */
	int n_slots;              /* scoring contexts: 1, or 2 taking decodes in turn */
	uint32_t s_window;        /* tokens one request may take (context + continuation): the
				   * context window in use, what describe calls n_ctx */
	uint32_t s_n_kv;          /* KV cells: a window (the declared prefix) + a decode's tokens */
	uint32_t s_n_batch;       /* tokens per llama_decode */
	uint32_t s_n_seq;         /* requests per decode, at most */
	uint32_t s_n_seq_max;     /* sequence ids of sctx (seq 0 + requests + continuations) */
	struct prefix_tok *prefixes; /* [PREFIX_CACHE] declared prefixes' tokens, by their bytes */
	uint64_t prefix_clock;    /* LRU stamp of the last prefix used */
	int verify_tokens;        /* QEVAL_VERIFY_TOKENS=1: every request's tokens by parts are
				   * checked against the whole tokenization (a diagnostic) */
	int profile;              /* QEVAL_PROFILE=1: where scoring's time goes, printed to
				   * stderr when the runtime closes (a diagnostic) */
	double prof[PROF_N];      /* seconds per phase, see prof_names */

	/* embeddings */
	struct llama_context *ectx;
	uint32_t e_n_seq, e_seq_tokens, e_n_batch;
	int e_pooling;            /* llama_pooling_type in use */
	int e_req_pooling;        /* rt->params.pooling ectx was made for */

	/* speed */
	struct llama_context *pctx;
	uint32_t p_n_ctx;
	uint32_t p_set_batch, p_set_ubatch; /* what pctx was asked for (llama.cpp caps them at its context) */

	/* full logits over chunks (runtimes/llamacpp_kld.c), NULL until used */
	struct qe_llamacpp_chunks *chunks;
};

static struct lctx *L(struct qe_runtime *rt)
{
	return rt->ctx;
}

struct qe_llamacpp_handle qe_llamacpp_handle(struct qe_runtime *rt)
{
	struct lctx *c = L(rt);
	struct qe_llamacpp_handle h = { c->model, c->path, c->n_threads, c->n_threads_batch, &c->chunks };

	return h;
}

static int threads_or_default(int n)
{
	return n > 0 ? n : qe_cpus_allowed();
}

/* "<arch>.attention.causal" = false marks embedding encoders (BERT and kin) */
static int model_is_causal(const struct llama_model *m)
{
	char arch[64], key[128], val[16];

	if (llama_model_meta_val_str(m, "general.architecture", arch, sizeof(arch)) < 0)
		return 1;
	snprintf(key, sizeof(key), "%s.attention.causal", arch);
	if (llama_model_meta_val_str(m, key, val, sizeof(val)) < 0)
		return 1;
	return strcmp(val, "false") != 0 && strcmp(val, "0") != 0;
}

static int ll_open(struct qe_runtime *rt, const struct qe_rt_params *p, struct qe_err *err)
{
	struct llama_model_params mp;
	struct qe_gguf_info gi;
	struct lctx *c;
	char why[384];
	int rc;

	if (!p->model || !*p->model)
		return qe_fail(err, QE_EINVAL, "no model file given");
	/* Check the file before the engine sees it: llama.cpp aborts the
	 * process on some malformed files, and a clear message beats a crash. */
	rc = qe_gguf_read_info(p->model, &gi, err);
	if (rc != 0)
		return rc;
	/* ggml reads this once, at its first CUDA graph, for the whole process:
	 * set before any compute (a level process is opened once) */
	if (!p->engine_graphs)
		setenv("GGML_CUDA_DISABLE_GRAPHS", "1", 1);
	pthread_once(&g_once, engine_init);
	if (p->verbose)
		atomic_store(&g_verbose, 1);
	pthread_mutex_lock(&g_log_mu);
	snprintf(g_crash_log, sizeof(g_crash_log), "%s", p->crash_log ? p->crash_log : "");
	pthread_mutex_unlock(&g_log_mu);

	c = calloc(1, sizeof(*c));
	if (!c)
		return qe_fail(err, QE_ENOMEM, "out of memory opening '%s'", p->model);
	snprintf(c->path, sizeof(c->path), "%s", p->model);
	c->n_threads = threads_or_default(p->n_threads);
	c->n_threads_batch = p->n_threads_batch > 0 ? p->n_threads_batch : c->n_threads;
	c->profile = getenv("QEVAL_PROFILE") && !strcmp(getenv("QEVAL_PROFILE"), "1");

	mp = llama_model_default_params();
	mp.n_gpu_layers = p->n_gpu_layers;
	c->model = llama_model_load_from_file(p->model, mp);
	if (!c->model) {
		last_error(why, sizeof(why));
		free(c);
		return qe_fail(err, QE_EINPUT, "cannot load model '%s' (level %s): %s", p->model,
			       p->level ? p->level : "?", why);
	}
	c->vocab = llama_model_get_vocab(c->model);
	c->n_vocab = llama_vocab_n_tokens(c->vocab);
	c->encoder_only = llama_model_has_encoder(c->model) && !llama_model_has_decoder(c->model);
	c->non_causal = c->encoder_only || !model_is_causal(c->model);
	rt->ctx = c;
	return 0;
}

static void prof_print(const struct lctx *c)
{
	for (int k = 0; k < PROF_N; k++)
		fprintf(stderr, "qeval profile: %-20s %9.3f s\n", prof_names[k], c->prof[k]);
}

static void ll_close(struct qe_runtime *rt)
{
	struct lctx *c = L(rt);

	if (!c)
		return;
	if (c->profile)
		prof_print(c);
	slot_free(&c->cur);
	slot_free(&c->spare);
	if (c->ectx)
		llama_free(c->ectx);
	if (c->pctx)
		llama_free(c->pctx);
	qe_llamacpp_chunks_free(c->chunks);
	llama_model_free(c->model);
	score_state_release(c);
	free(c);
	rt->ctx = NULL;
}

static struct llama_context_params base_cparams(struct qe_runtime *rt)
{
	struct lctx *c = L(rt);
	struct llama_context_params cp = llama_context_default_params();

	cp.n_threads = c->n_threads;
	cp.n_threads_batch = c->n_threads_batch;
	cp.no_perf = true;
	return cp;
}

static uint32_t default_n_ctx(struct qe_runtime *rt)
{
	struct lctx *c = L(rt);
	int32_t train = llama_model_n_ctx_train(c->model);

	if (rt->params.n_ctx > 0)
		return rt->params.n_ctx;
	if (train <= 0)
		return 4096;
	return train < 4096 ? (uint32_t)train : 4096u;
}

/* Default tokens per scoring decode: room for many questions (each in its own
 * sequence) per llama_decode, at least a window, at most four. */
#define SCORE_BATCH 8192u

/* The scoring context's tokens per decode call and per compute graph. A whole
 * decode in one micro-batch by default: on CUDA, a prompt split into several
 * made its log-likelihoods depend on what earlier prompts had left in the KV
 * cache (docs/benchmarks.md, MMLU acceptance), and big graphs are what a GPU
 * is fast at. */
static void scoring_batches(struct qe_runtime *rt, uint32_t *n_batch, uint32_t *n_ubatch)
{
	uint32_t w = default_n_ctx(rt);
	uint32_t dflt = w >= SCORE_BATCH ? w : (w * 4 < SCORE_BATCH ? w * 4 : SCORE_BATCH);

	*n_batch = rt->params.n_batch ? rt->params.n_batch : dflt;
	*n_ubatch = rt->params.n_ubatch ? rt->params.n_ubatch : *n_batch;
	if (*n_ubatch > *n_batch)
		*n_ubatch = *n_batch;
}

/* Requests per scoring decode, at most (the sequence ids also bound it): 16
 * with layers on a GPU, where a decode of ~3,000 tokens keeps the device busy
 * while the other scoring context's next decode is prepared, and bigger ones
 * cost the host more (the attention mask grows with tokens x cells) than the
 * device saves (measured on an H100: 8, 16, 32; docs/benchmarks.md); 8 on a
 * CPU, where attention over the other requests' cells (masked, but still
 * visited by the kernels) soon costs more than bigger matrix products save
 * (docs/benchmarks.md, "MMLU evaluation speed on the CPU"). */
static uint32_t score_n_seq(struct qe_runtime *rt)
{
	if (rt->params.n_seq)
		return rt->params.n_seq;
	return rt->params.n_gpu_layers != 0 ? 16 : 8;
}

/* Sequences the embedding context holds at once. */
static uint32_t embed_n_seq(struct qe_runtime *rt)
{
	return rt->params.n_seq ? rt->params.n_seq : 32;
}

/* The embedding context's tokens: n_seq sequences of the context each, at
 * most 8,192 (or one sequence), all in one batch and one micro-batch. */
static uint32_t embed_ctx_tokens(struct qe_runtime *rt)
{
	uint32_t per_seq = default_n_ctx(rt);
	uint32_t total = per_seq * embed_n_seq(rt);

	if (total > 8192)
		total = per_seq > 8192 ? per_seq : 8192;
	return total;
}

static int new_context(struct qe_runtime *rt, struct llama_context_params cp,
		       struct llama_context **out, const char *what, struct qe_err *err)
{
	struct lctx *c = L(rt);
	char why[384];

	*out = llama_init_from_model(c->model, cp);
	if (!*out) {
		last_error(why, sizeof(why));
		return qe_fail(err, QE_ERUNTIME, "cannot create the %s context for '%s' (level %s): %s",
			       what, c->path, rt->params.level ? rt->params.level : "?", why);
	}
	return 0;
}

/* ======================================================================
 * Tokenizer
 * ====================================================================== */

static int ll_tokenize(struct qe_runtime *rt, const char *text, int add_special,
		       int32_t *tokens, size_t cap, struct qe_err *err)
{
	struct lctx *c = L(rt);
	size_t len = strlen(text);
	int32_t n, ccap = cap > INT32_MAX ? INT32_MAX : (int32_t)cap;

	if (len > INT32_MAX / 2)
		return qe_fail(err, QE_EINPUT, "text of %zu bytes is too long to tokenize", len);
	n = llama_tokenize(c->vocab, text, (int32_t)len, tokens, ccap, add_special != 0, false);
	if (n == INT32_MIN)
		return qe_fail(err, QE_EINPUT, "text of %zu bytes is too long to tokenize", len);
	if (n >= 0)
		return n;
	if (cap == 0 || !tokens) /* a count: -n tokens needed */
		return -n;
	/* buffer too small: -n tokens needed; return the count, first cap written */
	{
		int32_t need = -n;
		int32_t *tmp = malloc((size_t)need * sizeof(*tmp));
		if (!tmp)
			return qe_fail(err, QE_ENOMEM, "out of memory tokenizing");
		n = llama_tokenize(c->vocab, text, (int32_t)len, tmp, need, add_special != 0, false);
		if (n > 0 && cap > 0 && tokens)
			memcpy(tokens, tmp, (cap < (size_t)n ? cap : (size_t)n) * sizeof(*tmp));
		free(tmp);
		return n < 0 ? qe_fail(err, QE_ERUNTIME, "tokenizer failed") : n;
	}
}

/* tokenize into a malloc'ed array; *n_out tokens. Caller frees. */
static int32_t *tokenize_alloc(struct qe_runtime *rt, const char *text, int add_special,
			       int32_t *n_out, struct qe_err *err)
{
	size_t cap = strlen(text) + 8;
	int32_t *t = malloc(cap * sizeof(*t));
	int n;

	if (!t) {
		qe_fail(err, QE_ENOMEM, "out of memory tokenizing");
		return NULL;
	}
	n = ll_tokenize(rt, text, add_special, t, cap, err);
	if (n < 0) {
		free(t);
		return NULL;
	}
	if ((size_t)n > cap) { /* cannot happen for byte-level vocabularies */
		int32_t *t2 = realloc(t, (size_t)n * sizeof(*t));
		if (!t2) {
			free(t);
			qe_fail(err, QE_ENOMEM, "out of memory tokenizing");
			return NULL;
		}
		t = t2;
		n = ll_tokenize(rt, text, add_special, t, (size_t)n, err);
		if (n < 0) {
			free(t);
			return NULL;
		}
	}
	*n_out = n;
	return t;
}

/* ======================================================================
 * Scoring
 *
 * Requests whose declared prefix (a subject's few-shot header) is a token
 * prefix of their context are scored many per decode. The prefix is
 * tokenized once (kept by its bytes) and evaluated once, alone, into seq 0
 * from an empty cache; each request's own tokens go into a sequence of its
 * own (1..k) that shares the prefix's cells (llama_memory_seq_cp), all in
 * one llama_decode with logits only for each context's last token; the
 * continuations' further tokens follow in one more decode, each in a
 * sequence sharing its request's cells. Which requests share a decode
 * depends only on the requests of the call and the context's sizes
 * (group_end), and every decode starts from the same cache state (the prefix
 * in cells 0..np-1, nothing else), so a call gives the same bits whatever
 * came before it. Other requests, and every request under no_prefix_reuse,
 * are scored one at a time in seq 0 (score_alone).
 * ====================================================================== */

#define PREFIX_CACHE 8     /* declared prefixes whose tokens are kept */
#define ANCHOR_MAX 128     /* bytes, at most, of text tokenized again before a seam */
#define SEQ_LIMIT 256      /* llama.cpp's LLAMA_MAX_SEQ: sequence ids a context may have */

/* What a token of the decode being filled scores, when it has logits. */
struct out_row {
	int32_t item;  /* index into the decode's requests */
	int32_t cont;  /* -1: the context's last token (every continuation's first
			* token); else continuation cont's token k + 1 */
	int32_t k;
};

/* A declared prefix's tokens, kept by its bytes. */
struct prefix_tok {
	char *text;           /* the prefix, NUL-terminated; NULL = a free slot */
	size_t len;           /* bytes */
	int32_t *tok;         /* tokens(text), BOS included */
	int32_t n_tok;
	size_t anchor;        /* text + anchor: the tail tokenized again with a request's own text */
	int32_t *anchor_tok;  /* tokens(text + anchor), no BOS */
	int32_t n_anchor;
	int split;            /* -1 not yet checked; 1 = a request's tokens by parts equal the
			       * whole tokenization's (checked on the first request); 0 = they
			       * did not: requests with this prefix are tokenized whole */
	uint64_t used;        /* LRU stamp */
};

static void prefix_free(struct prefix_tok *p)
{
	free(p->text);
	free(p->tok);
	free(p->anchor_tok);
	memset(p, 0, sizeof(*p));
}

/* Free the scoring state shared by the slots; the pointers are NULL after. */
static void score_state_release(struct lctx *c)
{
	for (size_t i = 0; c->prefixes && i < PREFIX_CACHE; i++)
		prefix_free(&c->prefixes[i]);
	free(c->prefixes);
	c->prefixes = NULL;
}

/* Free a slot, its context included; all zero after. */
static void slot_free(struct sslot *sl)
{
	free(sl->s_rows);
	free(sl->cache_tok);
	free(sl->r_lg);
	free(sl->r_k);
	free(sl->r_lse);
	free(sl->r_arg);
	if (sl->s_batch.token)
		llama_batch_free(sl->s_batch);
	if (sl->sctx)
		llama_free(sl->sctx);
	memset(sl, 0, sizeof(*sl));
}

/* The slot's buffers for a context of c's sizes (sl->sctx made). */
static int slot_alloc(const struct lctx *c, struct sslot *sl)
{
	sl->cache_tok = malloc((size_t)c->s_window * sizeof(*sl->cache_tok));
	sl->r_lg = malloc((size_t)c->s_n_batch * sizeof(*sl->r_lg));
	sl->r_k = malloc((size_t)c->s_n_batch * sizeof(*sl->r_k));
	sl->r_lse = malloc((size_t)c->s_n_batch * sizeof(*sl->r_lse));
	sl->r_arg = malloc((size_t)c->s_n_batch * sizeof(*sl->r_arg));
	sl->s_rows = malloc((size_t)c->s_n_batch * sizeof(*sl->s_rows));
	sl->s_batch = llama_batch_init((int32_t)c->s_n_batch, 0, 1);
	sl->s_batch.n_tokens = 0;
	sl->n_cache = 0;
	sl->cache_is_segment = 0;
	return sl->cache_tok && sl->r_lg && sl->r_k && sl->r_lse && sl->r_arg && sl->s_rows && sl->s_batch.token ? 0 : -1;
}

/* Exchange the slot in use and the spare one. */
static void slot_swap(struct lctx *c)
{
	struct sslot t = c->cur;

	c->cur = c->spare;
	c->spare = t;
}

/* Scoring contexts: the runtime's parameter, else 2 with GPU layers (the
 * host prepares a decode while the device computes another), 1 without. */
static int score_n_slots(const struct qe_runtime *rt)
{
	if (rt->params.n_score_ctx)
		return rt->params.n_score_ctx >= 2 ? 2 : 1;
	return rt->params.n_gpu_layers != 0 ? 2 : 1;
}

/* Sequence ids the scoring context needs for n_seq requests per decode: seq
 * 0, the requests, room for four multi-token continuations each (or one
 * request's QE_MAX_CONTS); group_end keeps every decode within it. */
static uint32_t score_seq_max(uint32_t n_seq)
{
	uint32_t tails = 4 * n_seq > QE_MAX_CONTS ? 4 * n_seq : QE_MAX_CONTS;
	uint64_t want = 1ull + n_seq + tails;

	return want < SEQ_LIMIT ? (uint32_t)want : SEQ_LIMIT;
}

static int ensure_score_ctx(struct qe_runtime *rt, struct qe_err *err)
{
	struct lctx *c = L(rt);
	struct llama_context_params cp;
	const char *verify = getenv("QEVAL_VERIFY_TOKENS");
	int rc;

	if (c->cur.sctx)
		return 0;
	if (c->non_causal)
		return qe_fail(err, QE_ENOTSUP, "model '%s' is an encoder (embeddings only): it cannot score continuations", c->path);
	cp = base_cparams(rt);
	c->s_window = default_n_ctx(rt);
	scoring_batches(rt, &cp.n_batch, &cp.n_ubatch);
	cp.n_ctx = c->s_window + cp.n_batch; /* a prefix of up to a window + one decode */
	c->s_n_seq = score_n_seq(rt);
	cp.n_seq_max = score_seq_max(c->s_n_seq);
	cp.kv_unified = true; /* sequences share the prefix's cells */
	cp.embeddings = false;
	c->n_slots = score_n_slots(rt);
	rc = new_context(rt, cp, &c->cur.sctx, "scoring", err);
	if (rc == 0 && c->n_slots == 2)
		rc = new_context(rt, cp, &c->spare.sctx, "second scoring", err);
	if (rc) {
		slot_free(&c->cur);
		slot_free(&c->spare);
		return rc;
	}
	c->s_n_kv = llama_n_ctx(c->cur.sctx);
	c->s_n_batch = llama_n_batch(c->cur.sctx);
	c->s_n_seq_max = llama_n_seq_max(c->cur.sctx);
	if (c->s_n_seq > c->s_n_seq_max - 1)
		c->s_n_seq = c->s_n_seq_max - 1;
	c->verify_tokens = verify && !strcmp(verify, "1");
	c->prefixes = calloc(PREFIX_CACHE, sizeof(*c->prefixes));
	if (!c->prefixes || slot_alloc(c, &c->cur) != 0 || (c->n_slots == 2 && slot_alloc(c, &c->spare) != 0)) {
		score_state_release(c);
		slot_free(&c->cur); /* the next call tries again */
		slot_free(&c->spare);
		return qe_fail(err, QE_ENOMEM, "out of memory for the scoring context");
	}
	return 0;
}

/* Forget the cache and zero its cells: an overflow can leave inf/NaN in cells
 * that later requests read (masked, but 0 x inf is NaN). */
static void wipe_cache(struct lctx *c)
{
	llama_memory_clear(llama_get_memory(c->cur.sctx), true);
	c->cur.n_cache = 0;
	c->cur.cache_is_segment = 0;
}

static void ll_reset(struct qe_runtime *rt)
{
	struct lctx *c = L(rt);

	if (c->cur.sctx)
		wipe_cache(c);
	if (c->spare.sctx) {
		slot_swap(c);
		wipe_cache(c);
		slot_swap(c);
	}
}

/* The log-sum-exp of a logits row of n_vocab, in double, in index order
 * (the same number whichever thread computes it); *arg = its argmax (the
 * first). A token's log-probability is then (double)logits[tok] - lse. */
static double row_lse(const float *logits, int n_vocab, int32_t *arg)
{
	double mx = -DBL_MAX, sum = 0.0;

	*arg = 0;
	for (int i = 0; i < n_vocab; i++)
		if (logits[i] > mx) {
			mx = logits[i];
			*arg = i;
		}
	for (int i = 0; i < n_vocab; i++)
		sum += exp((double)logits[i] - mx);
	return mx + log(sum);
}

/* Decode tokens[from..n) of seq 0 at positions from.., logits for the last
 * when want_logits (through c->cur.s_batch, which must be empty). */
static int decode_seq0(struct qe_runtime *rt, const int32_t *tokens, int32_t from, int32_t n, int want_logits,
		       struct qe_err *err)
{
	struct lctx *c = L(rt);
	struct llama_batch *b = &c->cur.s_batch;
	int rc = 0;

	for (int32_t i = from; i < n && rc == 0;) {
		int32_t m = n - i < (int32_t)c->s_n_batch ? n - i : (int32_t)c->s_n_batch;
		b->n_tokens = m;
		for (int32_t j = 0; j < m; j++) {
			b->token[j] = tokens[i + j];
			b->pos[j] = i + j;
			b->n_seq_id[j] = 1;
			b->seq_id[j][0] = 0;
			b->logits[j] = want_logits && (i + j == n - 1);
		}
		if (llama_decode(c->cur.sctx, *b) != 0) {
			char why[384];
			last_error(why, sizeof(why));
			rc = qe_fail(err, QE_ERUNTIME, "decode failed at token %d of %d (level %s): %s",
				     i, n, rt->params.level ? rt->params.level : "?", why);
		}
		i += m;
	}
	b->n_tokens = 0;
	return rc;
}

/* ---- a request's tokens ------------------------------------------------ */

/* A request's tokens with lm-evaluation-harness's split: the context's tokens
 * (BOS included) and, for each continuation, tokens(context + cont) past the
 * context's. Owned by the request's scoring; req_tokens_release frees. */
struct req_tokens {
	int32_t *ctx;                 /* [n_ctx] */
	int32_t n_ctx;
	int32_t np;                   /* tokens of the declared prefix at the start of ctx
				       * (np < n_ctx), 0 = none usable */
	int32_t *cont[QE_MAX_CONTS];  /* [n_cont[j]] */
	int32_t n_cont[QE_MAX_CONTS];
	int32_t max_cont;             /* tokens of the longest continuation */
	int32_t n_extra;              /* tokens of every continuation but its first: the tails */
	int32_t n_tails;              /* continuations of more than one token */
};

static void req_tokens_release(struct req_tokens *t)
{
	for (size_t j = 0; j < QE_MAX_CONTS; j++)
		free(t->cont[j]);
	free(t->ctx);
	memset(t, 0, sizeof(*t));
}

/* Continuation j's tokens into t->cont[j] / t->n_cont[j], lm-eval's way on a
 * base text of n_base tokens (add_special as it was tokenized): tokens(base +
 * cont) past the base's, or the continuation alone when it merged into the
 * base's last token. The base is the context (tokens_whole) or its last line
 * (tokens_by_parts). */
static int cont_tokens(struct qe_runtime *rt, const char *base, int32_t n_base, int add_special,
		       const struct qe_score_req *rq, size_t j, struct req_tokens *t, struct qe_err *err)
{
	size_t lc = strlen(base), lk = strlen(rq->conts[j]);
	char *whole = malloc(lc + lk + 1);
	int32_t n_whole = 0, *wt;

	if (!whole)
		return qe_fail(err, QE_ENOMEM, "out of memory");
	memcpy(whole, base, lc);
	memcpy(whole + lc, rq->conts[j], lk + 1);
	wt = tokenize_alloc(rt, whole, add_special, &n_whole, err);
	free(whole);
	if (!wt)
		return err->code;
	if (n_whole > n_base) {
		t->n_cont[j] = n_whole - n_base;
		t->cont[j] = malloc((size_t)t->n_cont[j] * sizeof(int32_t));
		if (t->cont[j])
			memcpy(t->cont[j], wt + n_base, (size_t)t->n_cont[j] * sizeof(int32_t));
		free(wt);
	} else { /* the continuation merged into the context: tokenize it alone */
		free(wt);
		t->cont[j] = tokenize_alloc(rt, rq->conts[j], 0, &t->n_cont[j], err);
		if (!t->cont[j])
			return err->code;
	}
	if (!t->cont[j] || t->n_cont[j] == 0)
		return qe_fail(err, QE_EINPUT, "continuation %zu ('%s') has no tokens", j, rq->conts[j]);
	return 0;
}

/* The whole context and each context + continuation tokenized: the
 * definition (and what requests without a declared prefix get). */
static int tokens_whole(struct qe_runtime *rt, const struct qe_score_req *rq, struct req_tokens *t,
			struct qe_err *err)
{
	int rc = 0;

	t->ctx = tokenize_alloc(rt, rq->context, 1, &t->n_ctx, err);
	if (!t->ctx)
		return err->code;
	for (size_t j = 0; j < rq->n_conts && rc == 0; j++)
		rc = cont_tokens(rt, rq->context, t->n_ctx, 1, rq, j, t, err);
	return rc;
}

/* Where the anchor of s[0..len) starts: the beginning of its last line that
 * holds a non-blank character, at most ANCHOR_MAX bytes back (then after a
 * space, at a UTF-8 character boundary). Tokenizing anchor + what follows and
 * dropping the anchor's tokens gives what follows s in a whole tokenization
 * unless the tokenizer merges across more than the anchor; tokenize_request
 * checks that on a prefix's first request. */
static size_t anchor_start(const char *s, size_t len)
{
	size_t e = len, b;

	while (e > 0 && (s[e - 1] == ' ' || s[e - 1] == '\n' || s[e - 1] == '\t' || s[e - 1] == '\r'))
		e--;
	b = e;
	while (b > 0 && s[b - 1] != '\n')
		b--;
	if (len - b > ANCHOR_MAX) {
		size_t k;
		b = len - ANCHOR_MAX;
		for (k = b; k < e && s[k] != ' '; k++)
			;
		if (k < e)
			b = k + 1;
		while (b < len && ((unsigned char)s[b] & 0xC0) == 0x80)
			b++;
	}
	return b;
}

/* The tokens of prefix + text past those of the prefix's anchor (*out, *n,
 * malloc'ed; caller frees): 0, or 1 when tokens(anchor + text) does not
 * begin with the anchor's (the tokenizer merged across the seam). */
static int tokens_after(struct qe_runtime *rt, const struct prefix_tok *p, const char *text, int32_t **out,
			int32_t *n, struct qe_err *err)
{
	size_t la = p->len - p->anchor, lt = strlen(text);
	char *buf = malloc(la + lt + 1);
	int32_t nt = 0, *tt;

	*out = NULL;
	*n = 0;
	if (!buf)
		return qe_fail(err, QE_ENOMEM, "out of memory");
	memcpy(buf, p->text + p->anchor, la);
	memcpy(buf + la, text, lt + 1);
	tt = tokenize_alloc(rt, buf, 0, &nt, err);
	free(buf);
	if (!tt)
		return err->code;
	if (nt <= p->n_anchor || memcmp(tt, p->anchor_tok, (size_t)p->n_anchor * sizeof(int32_t)) != 0) {
		free(tt);
		return 1;
	}
	*n = nt - p->n_anchor;
	memmove(tt, tt + p->n_anchor, (size_t)*n * sizeof(int32_t));
	*out = tt;
	return 0;
}

/* The request's tokens by parts, tokenizing only its own text: the context's
 * are p's followed by the own text's (tokens_after), each continuation's are
 * lm-eval's split on the context's last line (cont_tokens). 1 when the parts
 * do not join (the caller tokenizes the whole). */
static int tokens_by_parts(struct qe_runtime *rt, const struct qe_score_req *rq, const struct prefix_tok *p,
			   struct req_tokens *t, struct qe_err *err)
{
	size_t len = strlen(rq->context);
	const char *tail = rq->context + anchor_start(rq->context, len);
	int32_t n_own = 0, n_tail = 0, *own, *tt;
	int rc = tokens_after(rt, p, rq->context + p->len, &own, &n_own, err);

	if (rc)
		return rc;
	t->n_ctx = p->n_tok + n_own;
	t->ctx = malloc((size_t)t->n_ctx * sizeof(int32_t));
	if (!t->ctx) {
		free(own);
		return qe_fail(err, QE_ENOMEM, "out of memory");
	}
	memcpy(t->ctx, p->tok, (size_t)p->n_tok * sizeof(int32_t));
	memcpy(t->ctx + p->n_tok, own, (size_t)n_own * sizeof(int32_t));
	free(own);
	t->np = p->n_tok;
	tt = tokenize_alloc(rt, tail, 0, &n_tail, err);
	if (!tt)
		return err->code;
	free(tt);
	for (size_t j = 0; j < rq->n_conts && rc == 0; j++)
		rc = cont_tokens(rt, tail, n_tail, 0, rq, j, t, err);
	return rc;
}

static int tokens_equal(const struct req_tokens *a, const struct req_tokens *b, size_t n_conts)
{
	if (a->n_ctx != b->n_ctx || memcmp(a->ctx, b->ctx, (size_t)a->n_ctx * sizeof(int32_t)) != 0)
		return 0;
	for (size_t j = 0; j < n_conts; j++)
		if (a->n_cont[j] != b->n_cont[j] ||
		    memcmp(a->cont[j], b->cont[j], (size_t)a->n_cont[j] * sizeof(int32_t)) != 0)
			return 0;
	return 1;
}

/* The kept tokens of the request's declared prefix (tokenized now when they
 * are not kept: the least recently used slot is reused); NULL on error. */
static struct prefix_tok *prefix_get(struct qe_runtime *rt, const struct qe_score_req *rq, struct qe_err *err)
{
	struct lctx *c = L(rt);
	struct prefix_tok *p = &c->prefixes[0];

	for (size_t i = 0; i < PREFIX_CACHE; i++) {
		struct prefix_tok *q = &c->prefixes[i];
		if (q->text && q->len == rq->prefix_len && !memcmp(q->text, rq->context, q->len)) {
			q->used = ++c->prefix_clock;
			return q;
		}
		if (!q->text || q->used < p->used)
			p = q;
	}
	prefix_free(p);
	p->text = malloc(rq->prefix_len + 1);
	if (!p->text) {
		qe_fail(err, QE_ENOMEM, "out of memory");
		return NULL;
	}
	memcpy(p->text, rq->context, rq->prefix_len);
	p->text[rq->prefix_len] = '\0';
	p->len = rq->prefix_len;
	p->anchor = anchor_start(p->text, p->len);
	p->tok = tokenize_alloc(rt, p->text, 1, &p->n_tok, err);
	p->anchor_tok = p->tok ? tokenize_alloc(rt, p->text + p->anchor, 0, &p->n_anchor, err) : NULL;
	if (!p->tok || !p->anchor_tok) {
		prefix_free(p);
		return NULL;
	}
	p->split = -1;
	p->used = ++c->prefix_clock;
	return p;
}

/* Tokens of a request with a declared prefix: by parts while they have
 * matched the whole (checked on the prefix's first request, or on every
 * request under QEVAL_VERIFY_TOKENS=1, where a mismatch fails the request),
 * else whole. t->np = the prefix's tokens when they begin the context's. */
static int tokens_with_prefix(struct qe_runtime *rt, const struct qe_score_req *rq, struct prefix_tok *p,
			      struct req_tokens *t, struct qe_err *err)
{
	struct lctx *c = L(rt);
	struct req_tokens w;
	int rc = 1;

	if (p->split != 0) {
		rc = tokens_by_parts(rt, rq, p, t, err);
		if (rc < 0)
			return rc;
		if (rc == 0 && (p->split < 0 || c->verify_tokens)) {
			memset(&w, 0, sizeof(w));
			if ((rc = tokens_whole(rt, rq, &w, err)) != 0) {
				req_tokens_release(&w);
				return rc;
			}
			rc = !tokens_equal(t, &w, rq->n_conts);
			req_tokens_release(&w);
			if (rc && c->verify_tokens)
				return qe_fail(err, QE_EINPUT, "tokens by parts differ from the whole tokenization (prefix of %zu bytes)",
					       rq->prefix_len);
			if (p->split < 0)
				p->split = !rc;
		}
	}
	if (rc == 0)
		return 0;
	req_tokens_release(t);
	if ((rc = tokens_whole(rt, rq, t, err)) != 0)
		return rc;
	if (p->n_tok < t->n_ctx && !memcmp(p->tok, t->ctx, (size_t)p->n_tok * sizeof(int32_t)))
		t->np = p->n_tok;
	return 0;
}

/* Tokenize the request and check that it fits the scoring context. */
/* 1 when the request declares a prefix that is not its whole context. */
static int has_prefix(const struct qe_score_req *rq)
{
	return rq->prefix_len > 0 && rq->prefix_len < strlen(rq->context);
}

/* A request's tokens (p = its declared prefix's, from prefix_get, when
 * has_prefix). Safe on several threads at once for different requests once
 * p->split is decided (p->split >= 0): only the first request of a prefix
 * writes it, alone (tokenize_items). */
static int tokenize_request(struct qe_runtime *rt, const struct qe_score_req *rq, struct prefix_tok *p,
			    struct req_tokens *t, struct qe_err *err)
{
	struct lctx *c = L(rt);
	int rc;

	memset(t, 0, sizeof(*t));
	if (p)
		rc = tokens_with_prefix(rt, rq, p, t, err);
	else
		rc = tokens_whole(rt, rq, t, err);
	if (rc)
		return rc;
	if (t->n_ctx == 0)
		return qe_fail(err, QE_EINPUT, "empty context");
	for (size_t j = 0; j < rq->n_conts; j++) {
		if (t->n_cont[j] > t->max_cont)
			t->max_cont = t->n_cont[j];
		t->n_extra += t->n_cont[j] - 1;
		t->n_tails += t->n_cont[j] > 1;
	}
	if ((uint32_t)(t->n_ctx + t->max_cont) > c->s_window)
		return qe_fail(err, QE_EINPUT, "prompt of %d tokens + continuation of %d exceeds the context of %u tokens",
			       t->n_ctx, t->max_cont, c->s_window);
	if ((uint32_t)t->n_extra > c->s_n_batch)
		return qe_fail(err, QE_EINPUT, "continuations of %d tokens exceed the batch of %u", t->n_extra,
			       c->s_n_batch);
	return 0;
}

/* ---- decodes with logits where a score needs them --------------------- */

/* A request being scored. */
struct item {
	const struct qe_score_req *rq;
	struct qe_score_res *rs;
	struct prefix_tok *p;  /* its declared prefix's tokens (prefix_get), NULL = none */
	struct req_tokens t;
	int status;           /* 0 or QE_E*, the reason in rs->error */
	llama_seq_id seq;     /* the sequence holding its context */
};

/* Score one row's logits (log-sum-exp lse, argmax arg) into its request's
 * result. */
static void read_row(struct item *items, const struct out_row *r, const float *logits, double lse, int32_t arg)
{
	struct item *it = &items[r->item];

	if (r->cont < 0) {
		for (size_t j = 0; j < it->rq->n_conts; j++) {
			it->rs->ll[j] = (double)logits[it->t.cont[j][0]] - lse;
			it->rs->greedy[j] = (it->t.cont[j][0] == arg);
			it->rs->n_cont_tok[j] = it->t.n_cont[j];
		}
	} else {
		int32_t tok = it->t.cont[r->cont][r->k + 1];
		it->rs->ll[r->cont] += (double)logits[tok] - lse;
		if (arg != tok)
			it->rs->greedy[r->cont] = 0;
	}
}

/* The rows of the decode just made into their requests' results: the
 * rows' log-sum-exps (on the runtime's threads when it has two scoring
 * contexts, i.e. a device computes while the host works; each row alone, so
 * the numbers do not depend on the threads), then read in batch order. With
 * one context the host's threads are the engine's: an OpenMP team left
 * spinning beside ggml's own thread pool would slow its next decode. */
static int read_rows(struct qe_runtime *rt, struct item *items, struct qe_err *err)
{
	struct lctx *c = L(rt);
	const struct llama_batch *b = &c->cur.s_batch;
	int n_out = 0;

	for (int32_t k = 0; k < b->n_tokens; k++) {
		if (!b->logits[k])
			continue;
		c->cur.r_lg[n_out] = llama_get_logits_ith(c->cur.sctx, k);
		if (!c->cur.r_lg[n_out])
			return qe_fail(err, QE_ERUNTIME, "no logits for token %d of the decode (level %s)", k,
				       rt->params.level ? rt->params.level : "?");
		c->cur.r_k[n_out++] = k;
	}
#pragma omp parallel for schedule(static) num_threads(c->n_threads_batch) if (n_out >= 4 && c->n_slots == 2)
	for (int o = 0; o < n_out; o++)
		c->cur.r_lse[o] = row_lse(c->cur.r_lg[o], c->n_vocab, &c->cur.r_arg[o]);
	for (int o = 0; o < n_out; o++)
		read_row(items, &c->cur.s_rows[c->cur.r_k[o]], c->cur.r_lg[o], c->cur.r_lse[o], c->cur.r_arg[o]);
	return 0;
}

/* Start the decode of what c->cur.s_batch holds: the engine may compute it
 * while the host goes on (dec_read waits for it). On failure the batch is
 * emptied. */
static int dec_launch(struct qe_runtime *rt, struct qe_err *err)
{
	struct lctx *c = L(rt);
	struct llama_batch *b = &c->cur.s_batch;
	double t0 = c->profile ? qe_now() : 0;
	int rc = 0;

	if (b->n_tokens == 0)
		return 0;
	if (llama_decode(c->cur.sctx, *b) != 0) {
		char why[384];
		last_error(why, sizeof(why));
		rc = qe_fail(err, QE_ERUNTIME, "decode of %d tokens failed (level %s): %s", b->n_tokens,
			     rt->params.level ? rt->params.level : "?", why);
		b->n_tokens = 0;
	}
	if (c->profile)
		c->prof[PROF_LAUNCH] += qe_now() - t0;
	return rc;
}

/* Read the rows of the decode dec_launch started (items[row.item]); the
 * batch is empty after. */
static int dec_read(struct qe_runtime *rt, struct item *items, struct qe_err *err)
{
	struct lctx *c = L(rt);
	double t0 = c->profile ? qe_now() : 0, t1;
	int rc;

	if (c->cur.s_batch.n_tokens == 0)
		return 0;
	if (c->profile) {
		llama_synchronize(c->cur.sctx);
		t1 = qe_now();
		c->prof[PROF_WAIT] += t1 - t0;
		t0 = t1;
	}
	rc = read_rows(rt, items, err);
	if (c->profile)
		c->prof[PROF_READ] += qe_now() - t0;
	c->cur.s_batch.n_tokens = 0;
	return rc;
}

/* Decode what c->cur.s_batch holds and read its rows. */
static int dec_flush(struct qe_runtime *rt, struct item *items, struct qe_err *err)
{
	int rc = dec_launch(rt, err);

	return rc ? rc : dec_read(rt, items, err);
}

/* Add a token to the decode being filled (decoding it first when full);
 * row = what its logits score, NULL = no logits. */
static int dec_push(struct qe_runtime *rt, struct item *items, int32_t tok, llama_pos pos, llama_seq_id seq,
		    const struct out_row *row, struct qe_err *err)
{
	struct lctx *c = L(rt);
	struct llama_batch *b = &c->cur.s_batch;
	int32_t k;
	int rc = 0;

	if (b->n_tokens == (int32_t)c->s_n_batch)
		rc = dec_flush(rt, items, err);
	k = b->n_tokens++;
	b->token[k] = tok;
	b->pos[k] = pos;
	b->n_seq_id[k] = 1;
	b->seq_id[k][0] = seq;
	b->logits[k] = row != NULL;
	if (row)
		c->cur.s_rows[k] = *row;
	return rc;
}

/* The multi-token continuations of items[0..m): every token but the last of
 * each, in a sequence of its own (ids from *next on) sharing its request's
 * cells, in as few decodes as the batch allows; their rows add to the
 * requests' log-likelihoods. */
static int decode_tails(struct qe_runtime *rt, struct item *items, size_t m, llama_seq_id *next,
			struct qe_err *err)
{
	llama_memory_t mem = llama_get_memory(L(rt)->cur.sctx);
	int rc = 0;

	for (size_t i = 0; i < m && rc == 0; i++) {
		const struct req_tokens *t = &items[i].t;
		for (size_t j = 0; j < items[i].rq->n_conts && rc == 0; j++) {
			llama_seq_id s;
			if (t->n_cont[j] < 2)
				continue;
			s = (*next)++;
			llama_memory_seq_cp(mem, items[i].seq, s, -1, -1);
			for (int32_t k = 0; k < t->n_cont[j] - 1 && rc == 0; k++) {
				struct out_row r = { (int32_t)i, (int32_t)j, k };
				rc = dec_push(rt, items, t->cont[j][k], t->n_ctx + k, s, &r, err);
			}
		}
	}
	if (rc == 0)
		rc = dec_flush(rt, items, err);
	L(rt)->cur.s_batch.n_tokens = 0;
	return rc;
}

/* ---- one request at a time, in seq 0 ------------------------------------ */

/* The context after a declared prefix of np tokens, one request at a time
 * (no_prefix_reuse): the prefix evaluated alone from an empty cache (reused
 * while requests repeat it, unless no_prefix_reuse), then the rest from the
 * prefix's end. *common = context tokens taken from the cache. */
static int eval_after_segment(struct qe_runtime *rt, const struct req_tokens *t, int32_t np, int32_t *common,
			      struct qe_err *err)
{
	struct lctx *c = L(rt);
	llama_memory_t mem = llama_get_memory(c->cur.sctx);
	int rc;

	if (!rt->params.no_prefix_reuse && c->cur.cache_is_segment && c->cur.n_cache == np &&
	    !memcmp(c->cur.cache_tok, t->ctx, (size_t)np * sizeof(int32_t)) && llama_memory_seq_rm(mem, 0, np, -1)) {
		*common = np;
	} else {
		llama_memory_clear(mem, false);
		c->cur.n_cache = 0;
		rc = decode_seq0(rt, t->ctx, 0, np, 0, err);
		if (rc)
			return rc;
		memcpy(c->cur.cache_tok, t->ctx, (size_t)np * sizeof(int32_t));
		c->cur.n_cache = np;
		c->cur.cache_is_segment = 1;
	}
	rc = decode_seq0(rt, t->ctx, np, t->n_ctx, 1, err);
	if (rc)
		c->cur.n_cache = 0;
	return rc;
}

/* The context without a declared prefix: reuse the longest common prefix
 * with the cache, always re-evaluating at least the last token (its logits
 * give the first continuation token's probability). */
static int eval_after_common(struct qe_runtime *rt, const struct req_tokens *t, int32_t *common,
			     struct qe_err *err)
{
	struct lctx *c = L(rt);
	llama_memory_t mem = llama_get_memory(c->cur.sctx);
	int32_t n = 0;
	int rc;

	while (!rt->params.no_prefix_reuse && n < c->cur.n_cache && n < t->n_ctx && c->cur.cache_tok[n] == t->ctx[n])
		n++;
	if (n >= t->n_ctx)
		n = t->n_ctx - 1;
	if (!llama_memory_seq_rm(mem, 0, n, -1)) {
		llama_memory_clear(mem, true);
		n = 0;
	}
	*common = n;
	c->cur.n_cache = 0; /* invalid until this decode succeeds */
	rc = decode_seq0(rt, t->ctx, n, t->n_ctx, 1, err);
	if (rc)
		return rc;
	memcpy(c->cur.cache_tok, t->ctx, (size_t)t->n_ctx * sizeof(int32_t));
	c->cur.n_cache = t->n_ctx;
	c->cur.cache_is_segment = 0;
	return 0;
}

/* One attempt at one request in seq 0 (score_alone retries a non-finite
 * result): the context, its last logits, the continuations' tails. */
static int score_alone_try(struct qe_runtime *rt, struct item *it, struct qe_err *err)
{
	struct lctx *c = L(rt);
	const struct out_row first = { 0, -1, 0 };
	const float *lg;
	llama_seq_id next = 1;
	int32_t common = 0;
	int rc;

	memset(it->rs, 0, sizeof(*it->rs));
	rc = it->t.np > 0 ? eval_after_segment(rt, &it->t, it->t.np, &common, err)
			  : eval_after_common(rt, &it->t, &common, err);
	if (rc)
		return rc;
	it->rs->n_ctx_tok = it->t.n_ctx;
	it->rs->n_reused = common;
	it->rs->n_evaluated = it->t.n_ctx - common + it->t.n_extra;
	lg = llama_get_logits_ith(c->cur.sctx, -1);
	if (!lg)
		return qe_fail(err, QE_ERUNTIME, "no logits for the context's last token (level %s)",
			       rt->params.level ? rt->params.level : "?");
	{
		int32_t arg;
		double lse = row_lse(lg, c->n_vocab, &arg);
		read_row(it, &first, lg, lse, arg);
	}
	if (it->t.n_extra == 0)
		return 0;
	it->seq = 0;
	rc = decode_tails(rt, it, 1, &next, err);
	llama_memory_seq_keep(llama_get_memory(c->cur.sctx), 0);
	return rc;
}

/* The first continuation of it whose log-likelihood is not finite, or
 * n_conts when all are. */
static size_t first_nonfinite(const struct item *it)
{
	size_t j = 0;

	while (j < it->rq->n_conts && isfinite(it->rs->ll[j]))
		j++;
	return j;
}

static int nonfinite_fail(struct qe_runtime *rt, const struct item *it, size_t bad, struct qe_err *err)
{
	return qe_fail(err, QE_ENUMERIC,
		       "non-finite log-likelihood (%g) for continuation %zu ('%s'), also from an empty cache: "
		       "the level's arithmetic overflowed (level %s)",
		       it->rs->ll[bad], bad, it->rq->conts[bad], rt->params.level ? rt->params.level : "?");
}

static int score_alone(struct qe_runtime *rt, struct item *it, struct qe_err *err)
{
	int rc = score_alone_try(rt, it, err);
	size_t bad;

	for (int attempt = 0; rc == 0; attempt++) {
		if ((bad = first_nonfinite(it)) == it->rq->n_conts)
			break;
		wipe_cache(L(rt));
		if (attempt == 1)
			return nonfinite_fail(rt, it, bad, err);
		rc = score_alone_try(rt, it, err);
	}
	return rc;
}

/* ---- many requests per decode -------------------------------------------- */

/* The declared prefix of t (its first t->np tokens) into seq 0, alone: kept
 * when seq 0 holds it, else evaluated from an empty cache (*evaluated = 1). */
static int ensure_segment(struct qe_runtime *rt, const struct req_tokens *t, int *evaluated, struct qe_err *err)
{
	struct lctx *c = L(rt);
	llama_memory_t mem = llama_get_memory(c->cur.sctx);
	int rc;

	*evaluated = 0;
	if (c->cur.cache_is_segment && c->cur.n_cache == t->np && !memcmp(c->cur.cache_tok, t->ctx, (size_t)t->np * sizeof(int32_t)) &&
	    llama_memory_seq_rm(mem, 0, t->np, -1))
		return 0;
	llama_memory_clear(mem, false);
	c->cur.n_cache = 0;
	c->cur.cache_is_segment = 0;
	rc = decode_seq0(rt, t->ctx, 0, t->np, 0, err);
	if (rc)
		return rc;
	memcpy(c->cur.cache_tok, t->ctx, (size_t)t->np * sizeof(int32_t));
	c->cur.n_cache = t->np;
	c->cur.cache_is_segment = 1;
	*evaluated = 1;
	return 0;
}

/* The end of the decode that begins at items[a] (of items[0..n), all with
 * the same prefix of np tokens): requests are added in order while the
 * decode's own tokens stay within the batch (one request alone may exceed
 * it: it is then decoded in several calls), its cells within the cache
 * together with the prefix's, its sequences within the context's and the
 * runtime's request count. It depends only on the requests, so the same call
 * gives the same decodes. */
static size_t group_end(const struct lctx *c, const struct item *items, size_t a, size_t n)
{
	uint64_t toks = 0, cells = (uint64_t)items[a].t.np, seqs = 1;
	size_t b;

	for (b = a; b < n; b++) {
		const struct req_tokens *t = &items[b].t;
		uint64_t own = (uint64_t)(t->n_ctx - t->np);
		if (b > a && (b - a == c->s_n_seq || toks + own > c->s_n_batch ||
			      cells + own + (uint64_t)t->n_extra > c->s_n_kv ||
			      seqs + 1 + (uint64_t)t->n_tails > c->s_n_seq_max))
			break;
		toks += own;
		cells += own + (uint64_t)t->n_extra;
		seqs += 1 + (uint64_t)t->n_tails;
	}
	return b;
}

/* The start of one attempt at items[0..m): seq 0 holds their prefix; each
 * context's own tokens in sequence 1 + i sharing the prefix's cells, logits
 * for its last token only; the decode started, not read (group_finish). */
static int group_launch(struct qe_runtime *rt, struct item *items, size_t m, struct qe_err *err)
{
	struct lctx *c = L(rt);
	llama_memory_t mem = llama_get_memory(c->cur.sctx);
	double t0 = qe_now();
	int rc = 0;

	c->cur.s_batch.n_tokens = 0;
	for (size_t i = 0; i < m; i++) {
		items[i].seq = (llama_seq_id)(i + 1);
		llama_memory_seq_cp(mem, 0, items[i].seq, -1, -1);
	}
	for (size_t i = 0; i < m && rc == 0; i++) {
		const struct req_tokens *t = &items[i].t;
		const struct out_row last = { (int32_t)i, -1, 0 };
		for (int32_t p = t->np; p < t->n_ctx && rc == 0; p++)
			rc = dec_push(rt, items, t->ctx[p], p, items[i].seq, p == t->n_ctx - 1 ? &last : NULL, err);
	}
	c->prof[PROF_PREP] += qe_now() - t0;
	if (rc == 0)
		rc = dec_launch(rt, err);
	if (rc)
		c->cur.s_batch.n_tokens = 0;
	return rc;
}

/* The end of group_launch's attempt: its rows read, then the tails; then
 * only seq 0 is kept. */
static int group_finish(struct qe_runtime *rt, struct item *items, size_t m, struct qe_err *err)
{
	struct lctx *c = L(rt);
	llama_seq_id next = (llama_seq_id)(m + 1);
	int rc = dec_read(rt, items, err);

	c->cur.s_batch.n_tokens = 0;
	if (rc == 0)
		rc = decode_tails(rt, items, m, &next, err);
	llama_memory_seq_keep(llama_get_memory(c->cur.sctx), 0);
	return rc;
}

static void item_fail(struct item *it, int code, const char *msg)
{
	it->status = code;
	snprintf(it->rs->error, sizeof(it->rs->error), "%s", msg);
}

/* items[0..m), one decode, in two halves so that another slot's decode can
 * be started between them: attempt_start (results zeroed, the prefix in
 * seq 0, the decode started; *paid = 1 when the prefix was evaluated) and
 * attempt_end (rc = how the start went). A non-finite result zeroes the
 * cache and the whole decode is tried once more (prefix included), so it is
 * again the same computation; what is still not finite fails with
 * QE_ENUMERIC. An engine failure fails every request of the decode. The
 * request that had the prefix evaluated is counted as evaluating it. */
static int attempt_start(struct qe_runtime *rt, struct item *items, size_t m, int *paid, struct qe_err *err)
{
	double t0;
	int rc;

	for (size_t i = 0; i < m; i++)
		memset(items[i].rs, 0, sizeof(*items[i].rs));
	t0 = qe_now();

	*paid = 0;
	rc = ensure_segment(rt, &items[0].t, paid, err);
	L(rt)->prof[PROF_SEGMENT] += qe_now() - t0;
	return rc ? rc : group_launch(rt, items, m, err);
}

/* 1 when the attempt must be made again (attempt 0 gave a non-finite result). */
static int attempt_end(struct qe_runtime *rt, struct item *items, size_t m, int rc, int paid, int attempt,
		       struct qe_err *e)
{
	struct lctx *c = L(rt);
	size_t n_bad = 0;

	if (rc == 0)
		rc = group_finish(rt, items, m, e);
	if (rc) {
		wipe_cache(c);
		for (size_t i = 0; i < m; i++)
			item_fail(&items[i], rc, e->msg);
		return 0;
	}
	for (size_t i = 0; i < m; i++) {
		struct qe_score_res *rs = items[i].rs;
		size_t bad = first_nonfinite(&items[i]);
		rs->n_ctx_tok = items[i].t.n_ctx;
		rs->n_reused = (i == 0 && paid) ? 0 : items[i].t.np;
		rs->n_evaluated = items[i].t.n_ctx - rs->n_reused + items[i].t.n_extra;
		n_bad += bad < items[i].rq->n_conts;
		if (attempt == 1 && bad < items[i].rq->n_conts) {
			nonfinite_fail(rt, &items[i], bad, e);
			item_fail(&items[i], QE_ENUMERIC, e->msg);
		}
	}
	if (n_bad == 0)
		return 0;
	wipe_cache(c);
	return attempt == 0;
}

/* items[0..m), one decode, attempts from `attempt` on, in the slot in use. */
static void score_group(struct qe_runtime *rt, struct item *items, size_t m, int attempt)
{
	for (; attempt < 2; attempt++) {
		struct qe_err e = { 0 };
		int paid = 0, rc = attempt_start(rt, items, m, &paid, &e);
		if (!attempt_end(rt, items, m, rc, paid, attempt, &e))
			return;
	}
}

/* Decodes in flight: with two slots, a decode is started in the free slot
 * before the one in the other slot is read, so the host prepares the next
 * while the device computes (each decode still the same computation). */
struct pipe {
	int have;            /* a decode started in the slot not in use */
	size_t a, m;         /* its items[a..a + m) */
	int rc, paid;        /* how its start went */
	struct qe_err e;
};

static void pipe_finish(struct qe_runtime *rt, struct item *items, struct pipe *pp)
{
	if (attempt_end(rt, items + pp->a, pp->m, pp->rc, pp->paid, 0, &pp->e))
		score_group(rt, items + pp->a, pp->m, 1);
	pp->have = 0;
}

/* Score items[a..e) as one decode: at once with one slot; else started in
 * the free slot, then the decode before it finished in its own slot. */
static void pipe_push(struct qe_runtime *rt, struct item *items, struct pipe *pp, size_t a, size_t e)
{
	struct lctx *c = L(rt);
	struct pipe next = { 1, a, e - a, 0, 0, { 0 } };

	if (c->n_slots < 2) {
		score_group(rt, items + a, e - a, 0);
		return;
	}
	if (pp->have)
		slot_swap(c);
	next.rc = attempt_start(rt, items + a, e - a, &next.paid, &next.e);
	if (pp->have) {
		slot_swap(c);
		pipe_finish(rt, items, pp);
		slot_swap(c);
	}
	*pp = next;
}

/* Finish the decode in flight, if any (it is in the slot in use). */
static void pipe_drain(struct qe_runtime *rt, struct item *items, struct pipe *pp)
{
	if (pp->have)
		pipe_finish(rt, items, pp);
}

/* 1 when the request is scored with others, by its declared prefix. */
static int batched(const struct qe_runtime *rt, const struct item *it)
{
	return it->status == 0 && it->t.np > 0 && !rt->params.no_prefix_reuse;
}

/* 1 when a and b have the same declared prefix tokens. */
static int same_prefix(const struct item *a, const struct item *b)
{
	return a->t.np == b->t.np && !memcmp(a->t.ctx, b->t.ctx, (size_t)a->t.np * sizeof(int32_t));
}

/* Score items[0..n) in order: consecutive requests with the same declared
 * prefix and group decode after decode (group_end), others one at a time. */
static void score_items(struct qe_runtime *rt, struct item *items, size_t n)
{
	struct pipe pp = { 0 };

	for (size_t i = 0; i < n;) {
		size_t j = i + 1;
		if (items[i].status != 0) {
			i++;
			continue;
		}
		if (!batched(rt, &items[i])) {
			struct qe_err e = { 0 };
			pipe_drain(rt, items, &pp);
			if ((items[i].status = score_alone(rt, &items[i], &e)) != 0)
				item_fail(&items[i], items[i].status, e.msg);
			i++;
			continue;
		}
		while (j < n && batched(rt, &items[j]) && same_prefix(&items[i], &items[j]) &&
		       items[j].rq->group == items[i].rq->group)
			j++;
		while (i < j) {
			size_t e = group_end(L(rt), items, i, j);
			pipe_push(rt, items, &pp, i, e);
			i = e;
		}
	}
	pipe_drain(rt, items, &pp);
}

/* Tokenize items[0..n) (status and error set for those that fail): their
 * prefixes looked up in order, the first request of a new prefix tokenized
 * alone (it decides how the prefix's requests tokenize), the others on the
 * runtime's threads when it has two scoring contexts (read_rows says why
 * not with one). The tokens are the same whichever thread makes them. */
/* 1 when items[0..n) declare at most PREFIX_CACHE different prefixes, so
 * that looking them all up evicts none of them from the prefix cache. */
static int few_prefixes(const struct item *items, size_t n)
{
	const struct qe_score_req *seen[PREFIX_CACHE];
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		const struct qe_score_req *rq = items[i].rq;
		size_t j = 0;
		if (!has_prefix(rq))
			continue;
		while (j < k && !(seen[j]->prefix_len == rq->prefix_len && !memcmp(seen[j]->context, rq->context, rq->prefix_len)))
			j++;
		if (j == k) {
			if (k == PREFIX_CACHE)
				return 0;
			seen[k++] = rq;
		}
	}
	return 1;
}

static void tokenize_items(struct qe_runtime *rt, struct item *items, size_t n)
{
	struct lctx *c = L(rt);
	unsigned char *done = few_prefixes(items, n) ? calloc(n ? n : 1, 1) : NULL;

	for (size_t i = 0; i < n; i++) {
		struct qe_err e = { 0 };
		if (has_prefix(items[i].rq) && !(items[i].p = prefix_get(rt, items[i].rq, &e))) {
			items[i].status = e.code ? e.code : QE_ENOMEM;
			item_fail(&items[i], items[i].status, e.msg);
			if (done)
				done[i] = 1;
			continue;
		}
		if (done && !(items[i].p && items[i].p->split < 0))
			continue;
		if ((items[i].status = tokenize_request(rt, items[i].rq, items[i].p, &items[i].t, &e)) != 0)
			item_fail(&items[i], items[i].status, e.msg);
		if (done)
			done[i] = 1;
	}
	if (!done)
		return; /* many prefixes, or out of memory: every request was tokenized above, in order */
#pragma omp parallel for schedule(dynamic, 1) num_threads(c->n_threads_batch) if (n >= 4 && c->n_slots == 2)
	for (size_t i = 0; i < n; i++) {
		struct qe_err e = { 0 };
		if (done[i])
			continue;
		if ((items[i].status = tokenize_request(rt, items[i].rq, items[i].p, &items[i].t, &e)) != 0)
			item_fail(&items[i], items[i].status, e.msg);
	}
	free(done);
}

static int ll_score(struct qe_runtime *rt, const struct qe_score_req *reqs, size_t n,
		    struct qe_score_res *res, int *status, struct qe_err *err)
{
	struct item *items;
	int first = 0, rc = ensure_score_ctx(rt, err);
	double t0 = qe_now(), t1;

	items = rc ? NULL : calloc(n ? n : 1, sizeof(*items));
	if (!rc && !items)
		rc = qe_fail(err, QE_ENOMEM, "out of memory for %zu requests", n);
	if (rc) {
		for (size_t i = 0; i < n; i++) {
			status[i] = rc;
			snprintf(res[i].error, sizeof(res[i].error), "%s", err->msg);
		}
		return rc;
	}
	for (size_t i = 0; i < n; i++) {
		items[i].rq = &reqs[i];
		items[i].rs = &res[i];
		memset(&res[i], 0, sizeof(res[i]));
	}
	tokenize_items(rt, items, n);
	t1 = qe_now();
	score_items(rt, items, n);
	for (size_t i = 0; i < n; i++) {
		status[i] = items[i].status;
		if (status[i] && !first) {
			first = status[i];
			qe_fail(err, first, "request %zu: %s", i, res[i].error);
		}
		req_tokens_release(&items[i].t);
	}
	free(items);
	L(rt)->prof[PROF_TOK] += t1 - t0;
	L(rt)->prof[PROF_CALL] += qe_now() - t0;
	return first;
}

/* ======================================================================
 * Embeddings
 * ====================================================================== */

static int ensure_embed_ctx(struct qe_runtime *rt, struct qe_err *err)
{
	struct lctx *c = L(rt);
	struct llama_context_params cp;
	uint32_t per_seq, total;
	int rc;

	if (c->ectx && c->e_req_pooling == rt->params.pooling)
		return 0;
	if (c->ectx) {
		/* qe_runtime_set_pooling chose another pooling */
		llama_free(c->ectx);
		c->ectx = NULL;
	}
	c->e_req_pooling = rt->params.pooling;
	per_seq = default_n_ctx(rt);
	c->e_n_seq = embed_n_seq(rt);
	total = embed_ctx_tokens(rt);
	cp = base_cparams(rt);
	cp.embeddings = true;
	cp.n_ctx = total;
	cp.n_batch = total;
	cp.n_ubatch = total; /* non-causal encoders need a whole sequence in one ubatch */
	cp.n_seq_max = c->e_n_seq;
	cp.kv_unified = true;
	switch (rt->params.pooling) {
	case QE_POOL_MEAN: cp.pooling_type = LLAMA_POOLING_TYPE_MEAN; break;
	case QE_POOL_CLS:  cp.pooling_type = LLAMA_POOLING_TYPE_CLS; break;
	case QE_POOL_LAST: cp.pooling_type = LLAMA_POOLING_TYPE_LAST; break;
	default:           cp.pooling_type = LLAMA_POOLING_TYPE_UNSPECIFIED; break;
	}
	rc = new_context(rt, cp, &c->ectx, "embedding", err);
	if (rc)
		return rc;
	c->e_pooling = llama_pooling_type(c->ectx);
	if (c->e_pooling == LLAMA_POOLING_TYPE_NONE || c->e_pooling == LLAMA_POOLING_TYPE_UNSPECIFIED) {
		/* a decoder without pooling metadata: mean pooling */
		llama_free(c->ectx);
		cp.pooling_type = LLAMA_POOLING_TYPE_MEAN;
		rc = new_context(rt, cp, &c->ectx, "embedding", err);
		if (rc)
			return rc;
		c->e_pooling = LLAMA_POOLING_TYPE_MEAN;
	}
	c->e_n_batch = llama_n_batch(c->ectx);
	c->e_seq_tokens = per_seq < c->e_n_batch ? per_seq : c->e_n_batch;
	return 0;
}

static size_t ll_embed_dim(struct qe_runtime *rt)
{
	return (size_t)llama_model_n_embd_out(L(rt)->model) > 0 ? (size_t)llama_model_n_embd_out(L(rt)->model)
								  : (size_t)llama_model_n_embd(L(rt)->model);
}

static int run_embed_batch(struct qe_runtime *rt, struct llama_batch *b, int n_seq, size_t first,
			   size_t dim, int normalize, float *out, struct qe_err *err)
{
	struct lctx *c = L(rt);
	llama_memory_t mem = llama_get_memory(c->ectx);
	int r;

	if (mem)
		llama_memory_clear(mem, true);
	r = c->encoder_only ? llama_encode(c->ectx, *b) : llama_decode(c->ectx, *b);
	if (r != 0) {
		char why[384];
		last_error(why, sizeof(why));
		return qe_fail(err, QE_ERUNTIME, "embedding batch of texts %zu..%zu failed (level %s): %s",
			       first, first + (size_t)n_seq - 1, rt->params.level ? rt->params.level : "?", why);
	}
	for (int s = 0; s < n_seq; s++) {
		const float *e = llama_get_embeddings_seq(c->ectx, s);
		float *o = out + (first + (size_t)s) * dim;
		if (!e)
			return qe_fail(err, QE_ERUNTIME, "no pooled embedding for text %zu (level %s)",
				       first + (size_t)s, rt->params.level ? rt->params.level : "?");
		if (normalize) {
			double ss = 0.0;
			for (size_t d = 0; d < dim; d++)
				ss += (double)e[d] * e[d];
			ss = ss > 0 ? 1.0 / sqrt(ss) : 0.0;
			for (size_t d = 0; d < dim; d++)
				o[d] = (float)(e[d] * ss);
		} else {
			memcpy(o, e, dim * sizeof(float));
		}
	}
	return 0;
}

static int ll_embed(struct qe_runtime *rt, const char *const *texts, size_t n, int normalize,
		    float *out, size_t *n_truncated, struct qe_err *err)
{
	struct lctx *c = L(rt);
	struct llama_batch b;
	size_t dim = ll_embed_dim(rt), first = 0;
	int n_seq = 0, rc;

	rc = ensure_embed_ctx(rt, err);
	if (rc)
		return rc;
	b = llama_batch_init((int32_t)c->e_n_batch, 0, 1);
	b.n_tokens = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		int32_t nt = 0, *tok = tokenize_alloc(rt, texts[i], 1, &nt, err);
		if (!tok) {
			rc = qe_err_wrap(err, "text %zu", i);
			break;
		}
		if (nt == 0) {
			/* an empty text with no special tokens: one pad/unk token */
			tok[0] = llama_vocab_bos(c->vocab) >= 0 ? llama_vocab_bos(c->vocab) : 0;
			nt = 1;
		}
		if ((uint32_t)nt > c->e_seq_tokens) {
			nt = (int32_t)c->e_seq_tokens;
			if (n_truncated)
				(*n_truncated)++;
		}
		if (n_seq > 0 && (b.n_tokens + nt > (int32_t)c->e_n_batch || n_seq == (int)c->e_n_seq)) {
			rc = run_embed_batch(rt, &b, n_seq, first, dim, normalize, out, err);
			first += (size_t)n_seq;
			n_seq = 0;
			b.n_tokens = 0;
		}
		for (int32_t t = 0; t < nt && rc == 0; t++) {
			int32_t k = b.n_tokens++;
			b.token[k] = tok[t];
			b.pos[k] = t;
			b.n_seq_id[k] = 1;
			b.seq_id[k][0] = n_seq;
			b.logits[k] = 1;
		}
		n_seq++;
		free(tok);
	}
	if (rc == 0 && n_seq > 0)
		rc = run_embed_batch(rt, &b, n_seq, first, dim, normalize, out, err);
	llama_batch_free(b);
	return rc;
}

/* ======================================================================
 * Speed (llama-bench's method)
 * ====================================================================== */

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static int ll_speed(struct qe_runtime *rt, const struct qe_speed_req *rq, struct qe_speed_res *rs,
		    struct qe_err *err)
{
	struct lctx *c = L(rt);
	uint32_t need = (uint32_t)(rq->n_depth + rq->n_prompt + rq->n_gen);
	int d0 = rq->n_depth;
	struct llama_batch b;
	int32_t n_batch, *tok;
	uint64_t seed = rq->seed ? rq->seed : 42;
	double t0, t1;
	int rc = 0, ntok = rq->n_depth + rq->n_prompt + rq->n_gen;
	char why[384];

	if (!c->pctx || c->p_n_ctx < need) {
		struct llama_context_params cp = base_cparams(rt);
		if (c->pctx)
			llama_free(c->pctx);
		c->pctx = NULL;
		cp.n_ctx = need;
		cp.n_batch = rt->params.n_batch ? rt->params.n_batch : 2048;
		cp.n_ubatch = rt->params.n_ubatch ? rt->params.n_ubatch : 512;
		if (c->non_causal) { /* encoders take a whole sequence per ubatch */
			cp.embeddings = true;
			cp.n_batch = cp.n_ubatch = need;
		}
		rc = new_context(rt, cp, &c->pctx, "speed", err);
		if (rc)
			return rc;
		c->p_n_ctx = need;
		c->p_set_batch = cp.n_batch;
		c->p_set_ubatch = cp.n_ubatch;
	}
	if (c->non_causal && rq->n_gen > 0)
		return qe_fail(err, QE_ENOTSUP, "model '%s' is an encoder: no generation speed", c->path);
	n_batch = (int32_t)llama_n_batch(c->pctx);
	rs->n_batch = c->p_set_batch;
	rs->n_ubatch = c->p_set_ubatch;
	tok = malloc((size_t)(ntok > 0 ? ntok : 1) * sizeof(*tok));
	if (!tok)
		return qe_fail(err, QE_ENOMEM, "out of memory");
	for (int i = 0; i < ntok; i++)
		tok[i] = (int32_t)(splitmix64(&seed) % (uint64_t)c->n_vocab);
	if (rq->n_depth + rq->n_prompt > 0 && llama_vocab_get_add_bos(c->vocab) && llama_vocab_bos(c->vocab) >= 0)
		tok[0] = llama_vocab_bos(c->vocab);
	if (llama_get_memory(c->pctx))
		llama_memory_clear(llama_get_memory(c->pctx), false);
	b = llama_batch_init(n_batch > 1 ? n_batch : 1, 0, 1);

	/* the context already there (untimed) */
	for (int i = 0; i < d0 && rc == 0;) {
		int m = d0 - i < n_batch ? d0 - i : n_batch;
		b.n_tokens = m;
		for (int j = 0; j < m; j++) {
			b.token[j] = tok[i + j];
			b.pos[j] = i + j;
			b.n_seq_id[j] = 1;
			b.seq_id[j][0] = 0;
			b.logits[j] = (i + j == d0 - 1);
		}
		if (llama_decode(c->pctx, b) != 0) {
			last_error(why, sizeof(why));
			rc = qe_fail(err, QE_ERUNTIME, "depth decode failed in the speed test: %s", why);
		}
		i += m;
	}
	llama_synchronize(c->pctx);

	t0 = qe_now();
	for (int i = 0; i < rq->n_prompt && rc == 0;) {
		int m = rq->n_prompt - i < n_batch ? rq->n_prompt - i : n_batch;
		b.n_tokens = m;
		for (int j = 0; j < m; j++) {
			b.token[j] = tok[d0 + i + j];
			b.pos[j] = d0 + i + j;
			b.n_seq_id[j] = 1;
			b.seq_id[j][0] = 0;
			b.logits[j] = c->non_causal || (i + j == rq->n_prompt - 1);
		}
		if ((c->encoder_only ? llama_encode(c->pctx, b) : llama_decode(c->pctx, b)) != 0) {
			last_error(why, sizeof(why));
			rc = qe_fail(err, QE_ERUNTIME, "prompt decode failed in the speed test: %s", why);
		}
		i += m;
	}
	llama_synchronize(c->pctx);
	t1 = qe_now();
	rs->t_prompt_s = rq->n_prompt > 0 ? t1 - t0 : 0.0;
	for (int g = 0; g < rq->n_gen && rc == 0; g++) {
		b.n_tokens = 1;
		b.token[0] = tok[d0 + rq->n_prompt + g];
		b.pos[0] = d0 + rq->n_prompt + g;
		b.n_seq_id[0] = 1;
		b.seq_id[0][0] = 0;
		b.logits[0] = 1;
		if (llama_decode(c->pctx, b) != 0) {
			last_error(why, sizeof(why));
			rc = qe_fail(err, QE_ERUNTIME, "generation decode failed in the speed test: %s", why);
			break;
		}
		llama_synchronize(c->pctx);
		if (g == 0)
			rs->t_first_s = qe_now() - t0;
	}
	rs->t_gen_s = rq->n_gen > 0 ? qe_now() - t1 : 0.0;
	llama_batch_free(b);
	free(tok);
	return rc;
}

/* ======================================================================
 * Describe
 * ====================================================================== */

static void ll_describe(struct qe_runtime *rt, struct qe_rt_info *info)
{
	struct lctx *c = L(rt);
	struct qe_gguf_info gi;
	struct qe_err e = { 0 };
	const char *sys;

	llama_model_meta_val_str(c->model, "general.architecture", info->arch, sizeof(info->arch));
	llama_model_desc(c->model, info->desc, sizeof(info->desc));
	snprintf(info->ftype, sizeof(info->ftype), "%s", llama_ftype_name(llama_model_ftype(c->model)));
	snprintf(info->engine_version, sizeof(info->engine_version), "%s", ll_version());
	sys = llama_print_system_info();
	snprintf(info->engine_build, sizeof(info->engine_build), "%s", sys ? sys : "");
	for (size_t d = 0; d < ggml_backend_dev_count(); d++) {
		ggml_backend_dev_t dev = ggml_backend_dev_get(d);
		size_t used = strlen(info->devices);
		snprintf(info->devices + used, sizeof(info->devices) - used, "%s%s %s", used ? "; " : "",
			 ggml_backend_dev_name(dev), ggml_backend_dev_description(dev));
	}
	info->n_params = llama_model_n_params(c->model);
	info->tensor_bytes = llama_model_size(c->model);
	info->bpw = info->n_params ? 8.0 * (double)info->tensor_bytes / (double)info->n_params : 0.0;
	info->n_ctx_train = llama_model_n_ctx_train(c->model);
	info->n_embd = llama_model_n_embd(c->model);
	info->n_layer = llama_model_n_layer(c->model);
	info->n_head = llama_model_n_head(c->model);
	info->n_vocab = c->n_vocab;
	info->n_ctx = c->cur.sctx ? (int32_t)c->s_window : (int32_t)default_n_ctx(rt);
	info->n_score_ctx = c->non_causal ? 0 : (uint32_t)(c->cur.sctx ? c->n_slots : score_n_slots(rt));
	info->has_encoder = llama_model_has_encoder(c->model);
	info->has_decoder = llama_model_has_decoder(c->model);
	info->n_threads = c->n_threads;
	info->n_threads_batch = c->n_threads_batch;
	info->n_gpu_layers = rt->params.n_gpu_layers;
	if (c->non_causal) {
		info->n_batch = info->n_ubatch = c->ectx ? llama_n_batch(c->ectx) : embed_ctx_tokens(rt);
	} else if (c->cur.sctx) {
		info->n_batch = llama_n_batch(c->cur.sctx);
		info->n_ubatch = llama_n_ubatch(c->cur.sctx);
	} else {
		scoring_batches(rt, &info->n_batch, &info->n_ubatch);
	}
	if (qe_gguf_read_info(c->path, &gi, &e) == 0) {
		info->file_bytes = gi.file_bytes;
		info->n_types = gi.n_types;
		memcpy(info->types, gi.types, sizeof(info->types));
	}
}

/* ======================================================================
 * Quantization
 * ====================================================================== */

static const struct {
	const char *name;
	enum llama_ftype ftype;
} quant_table[] = {
	{ "F32", LLAMA_FTYPE_ALL_F32 },       { "F16", LLAMA_FTYPE_MOSTLY_F16 },
	{ "BF16", LLAMA_FTYPE_MOSTLY_BF16 },  { "Q8_0", LLAMA_FTYPE_MOSTLY_Q8_0 },
	{ "Q6_K", LLAMA_FTYPE_MOSTLY_Q6_K },  { "Q5_K_M", LLAMA_FTYPE_MOSTLY_Q5_K_M },
	{ "Q5_K_S", LLAMA_FTYPE_MOSTLY_Q5_K_S }, { "Q5_1", LLAMA_FTYPE_MOSTLY_Q5_1 },
	{ "Q5_0", LLAMA_FTYPE_MOSTLY_Q5_0 },  { "Q4_K_M", LLAMA_FTYPE_MOSTLY_Q4_K_M },
	{ "Q4_K_S", LLAMA_FTYPE_MOSTLY_Q4_K_S }, { "Q4_1", LLAMA_FTYPE_MOSTLY_Q4_1 },
	{ "Q4_0", LLAMA_FTYPE_MOSTLY_Q4_0 },  { "IQ4_NL", LLAMA_FTYPE_MOSTLY_IQ4_NL },
	{ "IQ4_XS", LLAMA_FTYPE_MOSTLY_IQ4_XS }, { "Q3_K_L", LLAMA_FTYPE_MOSTLY_Q3_K_L },
	{ "Q3_K_M", LLAMA_FTYPE_MOSTLY_Q3_K_M }, { "Q3_K_S", LLAMA_FTYPE_MOSTLY_Q3_K_S },
	{ "Q2_K", LLAMA_FTYPE_MOSTLY_Q2_K },  { "Q2_K_S", LLAMA_FTYPE_MOSTLY_Q2_K_S },
	{ "TQ1_0", LLAMA_FTYPE_MOSTLY_TQ1_0 }, { "TQ2_0", LLAMA_FTYPE_MOSTLY_TQ2_0 },
	{ "IQ3_M", LLAMA_FTYPE_MOSTLY_IQ3_M }, { "IQ3_S", LLAMA_FTYPE_MOSTLY_IQ3_S },
	{ "IQ3_XS", LLAMA_FTYPE_MOSTLY_IQ3_XS }, { "IQ3_XXS", LLAMA_FTYPE_MOSTLY_IQ3_XXS },
	{ "IQ2_M", LLAMA_FTYPE_MOSTLY_IQ2_M }, { "IQ2_S", LLAMA_FTYPE_MOSTLY_IQ2_S },
	{ "IQ2_XS", LLAMA_FTYPE_MOSTLY_IQ2_XS }, { "IQ2_XXS", LLAMA_FTYPE_MOSTLY_IQ2_XXS },
	{ "IQ1_M", LLAMA_FTYPE_MOSTLY_IQ1_M }, { "IQ1_S", LLAMA_FTYPE_MOSTLY_IQ1_S },
};

#define N_QUANT (sizeof(quant_table) / sizeof(quant_table[0]))

static const char *const quant_names[N_QUANT + 1] = {
	"F32", "F16", "BF16", "Q8_0", "Q6_K", "Q5_K_M", "Q5_K_S", "Q5_1", "Q5_0", "Q4_K_M", "Q4_K_S",
	"Q4_1", "Q4_0", "IQ4_NL", "IQ4_XS", "Q3_K_L", "Q3_K_M", "Q3_K_S", "Q2_K", "Q2_K_S", "TQ1_0",
	"TQ2_0", "IQ3_M", "IQ3_S", "IQ3_XS", "IQ3_XXS", "IQ2_M", "IQ2_S", "IQ2_XS", "IQ2_XXS", "IQ1_M", "IQ1_S", NULL,
};

const char *qe_llamacpp_type_name(int32_t file_type)
{
	for (size_t i = 0; i < N_QUANT; i++)
		if ((int32_t)quant_table[i].ftype == file_type)
			return quant_table[i].name;
	return NULL;
}

/* The importance matrix of a recipe as the quantizer takes it, with the
 * metadata llama-quantize writes beside it (quantize.imatrix.file, .dataset,
 * .entries_count, .chunks_count), so a file made here with a matrix is the
 * file llama-quantize makes with it. */
struct qarrays {
	struct qe_imatrix m;
	struct llama_model_imatrix_data *im;   /* [m.n + 1], NULL-terminated */
	float *values;
	struct llama_model_kv_override kv[5];  /* key[0] == 0 ends */
	struct llama_model_tensor_override tt[QE_RECIPE_MAX_TT + 1];
};

static void qarrays_release(struct qarrays *a)
{
	qe_imatrix_release(&a->m);
	free(a->im);
	free(a->values);
}

static void kv_str(struct llama_model_kv_override *o, const char *key, const char *val)
{
	o->tag = LLAMA_KV_OVERRIDE_TYPE_STR;
	snprintf(o->key, sizeof(o->key), "%s", key);
	snprintf(o->val_str, sizeof(o->val_str), "%s", val);
}

static void kv_int(struct llama_model_kv_override *o, const char *key, int64_t val)
{
	o->tag = LLAMA_KV_OVERRIDE_TYPE_INT;
	snprintf(o->key, sizeof(o->key), "%s", key);
	o->val_i64 = val;
}

static int imatrix_arrays(const char *path, struct qarrays *a, struct qe_err *err)
{
	size_t total = 0, off = 0;
	int k = 0, rc = qe_imatrix_load(path, &a->m, err);

	if (rc)
		return rc;
	if (!a->m.legacy && !a->m.has_metadata)
		return qe_fail(err, QE_EINPUT, "'%s': an importance matrix without its metadata (datasets, chunks)", path);
	for (size_t i = 0; i < a->m.n; i++)
		total += (size_t)a->m.e[i].n_sums;
	a->im = calloc(a->m.n + 1, sizeof(*a->im));
	a->values = malloc((total ? total : 1) * sizeof(float));
	if (!a->im || !a->values)
		return qe_fail(err, QE_ENOMEM, "out of memory reading '%s'", path);
	for (size_t i = 0; i < a->m.n; i++) {
		qe_imatrix_values(&a->m, &a->m.e[i], a->values + off);
		a->im[i] = (struct llama_model_imatrix_data){ a->m.e[i].name, a->values + off, (size_t)a->m.e[i].n_sums };
		off += (size_t)a->m.e[i].n_sums;
	}
	kv_str(&a->kv[k++], "quantize.imatrix.file", path);
	if (a->m.n_datasets)
		kv_str(&a->kv[k++], "quantize.imatrix.dataset", a->m.datasets[0]);
	kv_int(&a->kv[k++], "quantize.imatrix.entries_count", (int64_t)a->m.n);
	if (a->m.chunk_count > 0)
		kv_int(&a->kv[k++], "quantize.imatrix.chunks_count", a->m.chunk_count);
	return 0;
}

static enum ggml_type ggml_type_of(const char *name)
{
	for (int t = 0; t < GGML_TYPE_COUNT; t++)
		if (ggml_type_name((enum ggml_type)t) && !strcmp(ggml_type_name((enum ggml_type)t), name))
			return (enum ggml_type)t;
	return GGML_TYPE_COUNT;
}

/* the recipe into qp (pointing into a) */
static int recipe_params(const struct qe_recipe *r, const char *imatrix, struct qarrays *a,
			 struct llama_model_quantize_params *qp, struct qe_err *err)
{
	int rc;

	if (r->output_type[0])
		qp->output_tensor_type = ggml_type_of(r->output_type);
	if (r->token_embd_type[0])
		qp->token_embedding_type = ggml_type_of(r->token_embd_type);
	qp->pure = r->pure != 0;
	for (int i = 0; i < r->n_tt; i++)
		a->tt[i] = (struct llama_model_tensor_override){ r->tt[i].pattern, ggml_type_of(r->tt[i].type) };
	a->tt[r->n_tt] = (struct llama_model_tensor_override){ NULL, GGML_TYPE_COUNT };
	if (r->n_tt)
		qp->tt_overrides = a->tt;
	if (!imatrix || !*imatrix)
		return 0;
	if ((rc = imatrix_arrays(imatrix, a, err)) != 0)
		return rc;
	qp->imatrix = a->im;
	qp->kv_overrides = a->kv;
	return 0;
}

int qe_llamacpp_quantize_recipe(const char *src, const struct qe_recipe *r, const char *imatrix, const char *out_path,
				int n_threads, struct qe_err *err)
{
	struct llama_model_quantize_params qp;
	struct qarrays a;
	size_t i;
	int rc;
	char why[384];

	for (i = 0; i < N_QUANT; i++)
		if (!strcasecmp(quant_table[i].name, r->type))
			break;
	if (i == N_QUANT)
		return qe_fail(err, QE_EINVAL, "unknown quantization level '%s' (see 'qeval list')", r->type);
	pthread_once(&g_once, engine_init);
	memset(&a, 0, sizeof(a));
	qp = llama_model_quantize_default_params();
	qp.ftype = quant_table[i].ftype;
	qp.nthread = threads_or_default(n_threads);
	rc = recipe_params(r, imatrix, &a, &qp, err);
	if (rc == 0 && llama_model_quantize(src, out_path, &qp) != 0) {
		last_error(why, sizeof(why));
		/* the engine's own list of types that need a matrix has the last word */
		rc = (!imatrix || !*imatrix) && (strstr(why, "imatrix") || strstr(why, "importance matrix"))
			     ? qe_fail(err, QE_EINVAL, "%s needs an importance matrix (the engine: %s): add \"imatrix\"",
				       quant_table[i].name, why)
			     : qe_fail(err, QE_ERUNTIME, "quantizing '%s' to %s failed: %s", src, quant_table[i].name, why);
	}
	qarrays_release(&a);
	return rc;
}

static int ll_quantize(const char *src, const char *type, const char *out_path, int n_threads,
		       struct qe_err *err)
{
	struct qe_recipe r;

	memset(&r, 0, sizeof(r));
	snprintf(r.type, sizeof(r.type), "%s", type);
	return qe_llamacpp_quantize_recipe(src, &r, NULL, out_path, n_threads, err);
}

void qe_llamacpp_engine_init(void)
{
	pthread_once(&g_once, engine_init);
}

static char g_version[96];

static void fill_version(void)
{
	snprintf(g_version, sizeof(g_version), "llama.cpp %s (%s)", llama_version(), QE_LLAMA_KIND);
}

static const char *ll_version(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, fill_version);
	return g_version;
}

/* ======================================================================
 * The ops table
 * ====================================================================== */

const struct qe_runtime_ops qe_llamacpp_ops = {
	.api_version = QE_RUNTIME_API,
	.name = "llamacpp",
	.caps = QE_RT_SCORE | QE_RT_EMBED | QE_RT_SPEED | QE_RT_QUANT | QE_RT_LOGITS,
	.open = ll_open,
	.close = ll_close,
	.tokenize = ll_tokenize,
	.score = ll_score,
	.reset = ll_reset,
	.embed_dim = ll_embed_dim,
	.embed = ll_embed,
	.speed = ll_speed,
	.version = ll_version,
	.describe = ll_describe,
	.quant_types = quant_names,
	.quantize = ll_quantize,
	.level_name = qe_llamacpp_level_name,
	.level_prepare = qe_llamacpp_level_prepare,
	.level_identity = qe_llamacpp_level_identity,
	.source_check = qe_llamacpp_source_check,
	.source_identity = qe_llamacpp_source_identity,
	.chunk_logits = qe_llamacpp_chunk_logits,
};
