/* qeval — the runtime: one engine (or server) with one model at one level.
 *
 * Callers see an opaque handle. A runtime author implements the ops table in
 * runtimes/runtime_impl.h and adds one line to the registry (runtimes/registry.c).
 * Capabilities a runtime lacks return QE_ENOTSUP.
 *
 * Thread-safety: one handle is used by one thread at a time; the engine may
 * use its own worker threads inside a call.
 */
#ifndef QE_RUNTIME_H
#define QE_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#include "harness/base/err.h"

struct qe_runtime;
struct cJSON; /* <cjson/cJSON.h>; level specs and identities */

/* Capability bits (qe_runtime_caps). */
enum {
	QE_RT_SCORE = 1u << 0, /* log-likelihoods of continuations */
	QE_RT_EMBED = 1u << 1, /* sentence embeddings */
	QE_RT_SPEED = 1u << 2, /* timed prompt processing / generation */
	QE_RT_QUANT = 1u << 3, /* can produce quantization levels of a model */
	QE_RT_SERVE = 1u << 4, /* concurrent streamed requests, timed per token (a server) */
	QE_RT_LOGITS = 1u << 5, /* full next-token logits of every position of token chunks */
	QE_RT_TOPK = 1u << 6,   /* top-K log-probabilities (and the true token's) of every position of token chunks */
};

enum qe_pooling {
	QE_POOL_MODEL = -1, /* the model's own pooling (GGUF metadata) */
	QE_POOL_MEAN  = 1,
	QE_POOL_CLS   = 2,
	QE_POOL_LAST  = 3,
};

struct qe_rt_params {
	const char *runtime;   /* registry name: "llamacpp" (default) */
	const char *model;     /* llamacpp: GGUF path; server runtimes: model name */
	const char *level;     /* label of the level ("Q4_K_M"), for messages and records */
	const char *url;       /* server runtimes: base URL (http://127.0.0.1:8000/v1) */
	int n_threads;         /* generation threads, 0 = CPUs this process may use */
	int n_threads_batch;   /* prompt-processing threads, 0 = n_threads */
	uint32_t n_ctx;        /* tokens, 0 = min(model's training context, 4096) */
	uint32_t n_batch;      /* tokens per decode call, 0 = the runtime's default for the use:
				* llamacpp scoring 4 x n_ctx (at most 8192, at least n_ctx),
				* speed tests 2048 */
	uint32_t n_ubatch;     /* tokens per compute graph, 0 = likewise (scoring n_batch,
				* speed tests 512) */
	uint32_t n_seq;        /* sequences per decode: texts embedded together, requests
				* scored together; 0 = 32 (llamacpp scoring: 16 with GPU
				* layers, 8 without) */
	int n_gpu_layers;      /* layers on the GPU: 0 = none, -1 = all */
	int embeddings;        /* 1 = open for embeddings (pooling below) */
	int pooling;           /* enum qe_pooling, used when embeddings = 1 */
	int verbose;           /* 1 = pass the engine's log to stderr */
	int no_prefix_reuse;   /* 1 = score every context from an empty cache (benchmarks) */
	int engine_graphs;     /* 1 (default) = the engine may capture and replay compute
				* graphs (llamacpp: CUDA graphs, as llama-bench runs);
				* 0 = not, process-wide from the first open: on CUDA,
				* scoring's varying decodes with graphs ended in "an
				* illegal instruction" (docs/tasks.md) */
	const char *crash_log; /* a file the engine's last words are appended to when it
				* aborts the process ("abort: MESSAGE", then "log: LINE"
				* for its recent log lines); NULL = none. Process-wide:
				* the last runtime opened names it. */
	uint32_t n_score_ctx;  /* scoring contexts that take decodes in turn, so that one
				* decode is prepared while another computes: 0 = the
				* runtime's default (llamacpp: 2 with GPU layers, 1 without) */
};

/* Defaults for every field. */
struct qe_rt_params qe_rt_default_params(void);

/* Open p->model with p->runtime. On success *out owns the model and its
 * contexts until qe_runtime_close. Missing, truncated or non-model files
 * fail with QE_ENOENT / QE_EINPUT and a message naming the file. */
int qe_runtime_open(const struct qe_rt_params *p, struct qe_runtime **out, struct qe_err *err);
void qe_runtime_close(struct qe_runtime *rt);

unsigned qe_runtime_caps(const struct qe_runtime *rt);
const char *qe_runtime_name(const struct qe_runtime *rt); /* valid while rt is open */

/* ---- tokenizer --------------------------------------------------------- */

/* Tokenize text (add_special: BOS/CLS as the model wants). Returns the token
 * count n >= 0; when n > cap only the first cap tokens are written, so a caller
 * may call again with a larger buffer. Negative = error. */
int qe_runtime_tokenize(struct qe_runtime *rt, const char *text, int add_special,
			int32_t *tokens, size_t cap, struct qe_err *err);

/* ---- log-likelihood scoring ------------------------------------------- */

/* One request: log p(cont_i | context) for each continuation.
 * Tokenisation follows lm-evaluation-harness: tokens(context + cont_i) minus
 * the tokens of the context, so " A" after "Answer:" scores the token "▁A".
 * The runtime keeps the context's KV cache: a later request whose context
 * begins with the same tokens (the few-shot header, or the same question)
 * processes only the new tokens. */
struct qe_score_req {
	const char *context;       /* UTF-8; the model's BOS is added */
	const char *const *conts;  /* n_conts continuations */
	size_t n_conts;
	uint32_t keep_tokens;      /* when the context exceeds n_ctx, truncation
				    * is the caller's job; 0 here */
	size_t prefix_len;         /* bytes of context that other requests share
				    * (a few-shot header): tokenized once, evaluated
				    * as its own segment and reused while it repeats,
				    * so a request's result does not depend on the
				    * calls before it; 0 = none (the longest common
				    * prefix with the cache is reused) */
	uint32_t group;            /* consecutive requests of one group may share
				    * decodes; a new value starts a new decode */
};

#define QE_MAX_CONTS 16

struct qe_score_res {
	double ll[QE_MAX_CONTS];     /* natural log, sum over continuation tokens */
	int32_t n_cont_tok[QE_MAX_CONTS];
	int greedy[QE_MAX_CONTS];    /* 1 = every continuation token was the argmax */
	int32_t n_ctx_tok;           /* tokens of the context (BOS included) */
	int32_t n_evaluated;         /* tokens this request really processed */
	int32_t n_reused;            /* context tokens taken from the KV cache */
	char error[QE_ERR_MSG];      /* why, when this request failed; "" otherwise */
};

/* Score n requests in order (res[i] for reqs[i]). Requests with different
 * `group` values are never evaluated in one decode: a call of several groups
 * gives each group the results a call of that group alone gives. Requests are processed so
 * that shared prefixes are evaluated once. llamacpp: consecutive requests
 * with the same declared prefix are evaluated many per decode (up to n_seq,
 * n_batch tokens), each in its own sequence sharing the prefix's cells; which
 * requests share a decode depends only on reqs[0..n) and the context's sizes,
 * so the same call gives the same results to the bit whatever came before it
 * (a request differs from itself scored in another call, alone or with
 * others, by rounding only). A request whose context does not
 * fit the context window fails with QE_EINPUT naming its index, one whose
 * log-likelihood is not finite (an overflow; tried twice, the second time from
 * a zeroed cache) with QE_ENUMERIC, and the others still run: per-request status in status[i] (0 ok, negative QE_E*), the first
 * failure's message in err. Returns 0 when every request succeeded. */
int qe_runtime_score(struct qe_runtime *rt, const struct qe_score_req *reqs, size_t n,
		     struct qe_score_res *res, int *status, struct qe_err *err);

/* Forget any cached context (the next request starts from an empty cache). */
void qe_runtime_reset(struct qe_runtime *rt);

/* ---- embeddings -------------------------------------------------------- */

/* Embedding width, 0 when the runtime has no embeddings. */
size_t qe_runtime_embed_dim(struct qe_runtime *rt);

/* Choose the pooling of later qe_runtime_embed calls (enum qe_pooling;
 * QE_POOL_MODEL = the model's own). A runtime that built its embedding state
 * for another pooling rebuilds it at the next call. QE_EINVAL for an unknown
 * value, QE_ENOTSUP without embeddings. */
int qe_runtime_set_pooling(struct qe_runtime *rt, int pooling, struct qe_err *err);

/* n texts -> out[n][dim] floats (caller-owned). normalize = 1 scales each row
 * to unit L2 norm. Many texts go into one decode. Texts longer than the
 * context are truncated to it (counted in *n_truncated when not NULL). */
int qe_runtime_embed(struct qe_runtime *rt, const char *const *texts, size_t n, int normalize,
		     float *out, size_t *n_truncated, struct qe_err *err);

/* ---- speed -------------------------------------------------------------- */

/* One timed measurement, llama-bench's method: a fresh context state, random
 * tokens (seeded) prepared outside the timed region, then
 *   n_prompt > 0: the prompt decoded in n_batch chunks  -> t_prompt_s
 *   n_gen    > 0: n_gen single-token decodes (after the prompt if any, else
 *                 after an empty cache)                  -> t_gen_s
 * t_first_s is the time from start to the first generated token's logits
 * (prompt + 1 token), when both are > 0. With n_depth > 0 that many random
 * tokens are decoded first, outside the timed region. */
struct qe_speed_req {
	int n_prompt;   /* tokens */
	int n_gen;      /* tokens */
	uint64_t seed;  /* token stream */
	int n_depth;    /* tokens already in the context before the test, decoded
			 * untimed first (llama-bench's -d), 0 = an empty context */
};

struct qe_speed_res {
	double t_prompt_s;  /* seconds for the prompt, 0 when n_prompt = 0 */
	double t_gen_s;     /* seconds for all n_gen tokens */
	double t_first_s;   /* seconds to the first generated token's logits */
	uint32_t n_batch;   /* tokens per decode call / per compute graph the speed */
	uint32_t n_ubatch;  /* context was made with (llama-bench's settings; the engine
			     * caps them at the context: a short test runs in one) */
};

int qe_runtime_speed(struct qe_runtime *rt, const struct qe_speed_req *req,
		     struct qe_speed_res *res, struct qe_err *err);

/* ---- serving ----------------------------------------------------------- */

/* A serving run: n_requests streamed completions, `concurrency` of them in
 * flight at once (a new one starts when one ends), each a prompt of n_prompt
 * random tokens (from seed and the request's index: the same at every level)
 * asking for exactly n_gen tokens (end of sequence ignored). The figures of
 * vLLM's `bench serve` come from what each request records. */
struct qe_serve_req {
	int n_prompt;        /* tokens per prompt, >= 1 */
	int n_gen;           /* tokens per reply, >= 1 */
	size_t n_requests;
	int concurrency;     /* requests in flight, >= 1 */
	uint64_t seed;
};

/* One request of a serving run. t_tok is the caller's (n_gen entries, or
 * NULL when token times are not wanted); the rest is filled. */
struct qe_serve_one {
	double start_s;      /* sent, seconds after the run began */
	double ttft_s;       /* first token, seconds after start_s; NaN when none came */
	double e2e_s;        /* the reply's end, seconds after start_s */
	int32_t n_out;       /* tokens the reply carried (the server's count when it gives one) */
	int32_t n_events;    /* token events streamed; t_tok[0..min(n_events, n_gen)) are their times */
	double *t_tok;       /* seconds after start_s of each token event */
	int status;          /* 0 ok, negative QE_E* */
	char error[QE_ERR_MSG];
};

/* Run a serving run; out[req->n_requests] (caller-owned). Per-request
 * failures are in out[i].status; returns non-zero only when the run could
 * not be made (QE_ENOTSUP without QE_RT_SERVE, QE_EINVAL, QE_ENOMEM). */
int qe_runtime_serve(struct qe_runtime *rt, const struct qe_serve_req *req, struct qe_serve_one *out,
		     struct qe_err *err);
/* ---- full next-token logits over token chunks ------------------------- */

/* Chunks of tokens, each evaluated as its own sequence from an empty cache at
 * positions 0 .. n_tok-1 (the tokens are taken as they are: a BOS is the
 * caller's). For chunk c and every position p in [first, n_tok - 1), in order
 * (chunk, then position), row(arg, c, p, logits, n_vocab) gets the engine's
 * next-token logits after tokens 0..p: [n_vocab] floats, natural-log scale,
 * not normalised, valid during the call only. A non-zero return of row stops
 * the call and is returned (its message is the caller's). llamacpp: several
 * chunks per decode (n_batch / n_tok of them; default one on the CPU, 2048 /
 * n_tok with GPU layers), each chunk its own sequence, as llama-perplexity. */
struct qe_chunk_req {
	const int32_t *tokens;  /* [n_chunks][n_tok] */
	size_t n_chunks;
	size_t n_tok;           /* tokens per chunk, >= 2 */
	size_t first;           /* first position whose logits are wanted, < n_tok - 1 */
	int (*row)(void *arg, size_t chunk, size_t pos, const float *logits, size_t n_vocab);
	void *arg;
};

/* QE_ENOTSUP without QE_RT_LOGITS; QE_ERUNTIME when the engine fails. */
int qe_runtime_chunk_logits(struct qe_runtime *rt, const struct qe_chunk_req *req, struct qe_err *err);

/* ---- top-K log-probabilities over token chunks ------------------------- */

/* What a runtime without full logits gives of one position (a server): the
 * K most probable next tokens of the model's own softmax (before any
 * sampling) and the true next token's log-probability. */
struct qe_topk_row {
	size_t n;              /* entries in id / lp (<= the request's k + 1) */
	const int32_t *id;     /* [n] token ids, no repeats */
	const double *lp;      /* [n] natural-log probabilities */
	double lp_next;        /* log p(the chunk's next token), NaN = unknown (the server
				* gave it only among the top entries and it was not there) */
	size_t n_vocab;        /* the level's vocabulary size, 0 = unknown */
};

/* The same chunks as qe_chunk_req (each from an empty context, positions
 * 0 .. n_tok-1, tokens as they are), for runtimes whose server returns
 * log-probabilities only: row(arg, c, p, r) for chunk c and every position p
 * in [first, n_tok - 1), in order (chunk, then position), r valid during the
 * call only; a non-zero return stops the call and is returned. k = 0 means
 * the runtime's own default. openai: llama-server one request a position
 * (the prompt cache keeps each to about one new token), a vLLM-style server
 * one request a chunk (prompt_logprobs); several chunks in flight
 * (docs/runtimes.md, "Top-K log-probabilities"). */
struct qe_topk_req {
	const int32_t *tokens;  /* [n_chunks][n_tok] */
	size_t n_chunks;
	size_t n_tok;           /* tokens per chunk, >= 2 */
	size_t first;           /* first position wanted, < n_tok - 1 */
	size_t k;               /* top entries wanted per position, 0 = the runtime's default */
	int (*row)(void *arg, size_t chunk, size_t pos, const struct qe_topk_row *r);
	void *arg;
};

/* QE_ENOTSUP without QE_RT_TOPK (or when the server offers neither form:
 * one line naming it); QE_ERUNTIME when the server fails, QE_EINPUT for a
 * reply of the wrong shape. */
int qe_runtime_chunk_topk(struct qe_runtime *rt, const struct qe_topk_req *req, struct qe_err *err);

/* ---- description ------------------------------------------------------- */

#define QE_MAX_TYPES 40

struct qe_type_count {
	char type[16];       /* ggml type name: "q4_K", "f32" */
	uint32_t n_tensors;
	uint64_t n_elements;
	uint64_t n_bytes;
};

struct qe_rt_info {
	char runtime[32];
	char arch[48];            /* "llama", "bert" */
	char desc[128];           /* engine's one-line description */
	char ftype[48];           /* the file's declared type ("Q4_K - Medium") */
	char engine_version[64];  /* "llama.cpp v0.5.0 (prebuilt)" */
	char engine_build[768];   /* backends and CPU features */
	char devices[256];        /* compute devices the engine sees: "CPU; CUDA0 NVIDIA H100" */
	uint64_t n_params;        /* parameters */
	uint64_t file_bytes;      /* size of the model file, 0 when unknown */
	uint64_t tensor_bytes;    /* bytes of all weight tensors */
	double bpw;               /* bits per weight: 8 * tensor_bytes / n_params */
	int32_t n_ctx_train, n_embd, n_layer, n_head, n_vocab;
	int32_t n_ctx;            /* context window in use */
	int has_encoder, has_decoder;
	int n_threads, n_threads_batch, n_gpu_layers;
	uint32_t n_score_ctx;     /* scoring contexts taking decodes in turn: with 2 or more a
				   * call of several groups (qe_score_req.group) keeps the
				   * device busy while the host prepares; 0 or 1 = one */
	uint32_t n_batch, n_ubatch; /* tokens per decode call / per compute graph of the
				     * context the level's items go through: scoring
				     * (causal models) or embeddings (encoders); speed
				     * tests report their own (qe_speed_res) */
	struct qe_type_count types[QE_MAX_TYPES]; /* tensor type histogram */
	int n_types;
};

void qe_runtime_describe(struct qe_runtime *rt, struct qe_rt_info *info);

/* ---- levels ------------------------------------------------------------ */

/* What a level is made of, as the plan gives it: a text or an object. The
 * runtime that handles it is the object's "runtime" when it has one, else the
 * run's runtime (the `runtime` argument below; NULL = "llamacpp"). */
struct qe_level_spec {
	const char *text;         /* "Q4_K_M", "NAME=PATH", "x.gguf"; NULL when obj */
	const struct cJSON *obj;  /* the plan's level object, borrowed: "name",
				   * "runtime" and the runtime's own keys
				   * (llamacpp: "type" or "path"); NULL when text */
};

/* A level ready to open: a name and what the runtime opens. Fields after
 * `reused` came with the level ops; zeroed they mean "llamacpp, no type, no
 * URL", so a struct filled by hand with name and path still works. */
struct qe_level {
	char name[64];       /* "Q4_K_M", or the user's label; no '/' or spaces */
	char path[4096];     /* what the runtime opens (params.model): the model
			      * file (llamacpp), a server's model name */
	int reused;          /* 1 = taken from the cache / given by the user */
	char runtime[32];    /* registry name of the runtime that made it and opens it */
	char type[32];       /* quantization type it was made as ("Q4_K_M"); "" for a given file */
	char url[512];       /* server runtimes: the endpoint's base URL; "" otherwise */
};

/* spec from one element of the plan's "levels" array: a string is a text
 * spec, an object an object spec (borrowed: valid while item is); anything
 * else is QE_EINVAL naming levels[index]. */
int qe_level_spec_from_json(const struct cJSON *item, int index, struct qe_level_spec *spec, struct qe_err *err);

/* The level name a spec gives without producing it, validating the spec:
 * llamacpp gives "Q4_K_M" for "q4_k_m" or {"type":"q4_k_m"}, NAME for
 * NAME=PATH, the file's stem for a path; an object's "name" wins. '/' and
 * spaces become '_'. QE_EINVAL naming the level for an unknown runtime or
 * type, an unknown or ill-typed key, or an empty name. */
int qe_level_spec_name(const char *runtime, const struct qe_level_spec *spec, char *name, size_t cap,
		       struct qe_err *err);

/* Make or locate the level spec names, from the model at src (the
 * reference source): llamacpp quantizes a type into cache_dir (reused when
 * there) or takes a file as it is; a server runtime names an endpoint. Fills
 * *out (out->name as qe_level_spec_name gives it, out->runtime). cache_dir
 * NULL = qe_cache_dir(). Errors name the level. */
int qe_level_spec_prepare(const char *runtime, const char *src, const struct qe_level_spec *spec,
			  const char *cache_dir, int n_threads, struct qe_level *out, struct qe_err *err);

/* The same for a text spec: qe_level_spec_name / _prepare of { .text = spec }. */
int qe_level_name(const char *runtime, const char *spec, char *name, size_t cap, struct qe_err *err);
int qe_level_prepare(const char *runtime, const char *src, const char *spec, const char *cache_dir,
		     int n_threads, struct qe_level *out, struct qe_err *err);

/* Add to the object out what identifies lv's content, by lv->runtime:
 * llamacpp "sha256" of the file (memoised, see qe_level_source_hash),
 * "bytes", "type" and, for a level made from src, "source_sha256"; a server
 * runtime its "url" and "model". QE_ENOTSUP when the runtime cannot say
 * (out is then left as it was). cache_dir NULL = qe_cache_dir(). */
int qe_level_identity(const char *src, const struct qe_level *lv, const char *cache_dir, struct cJSON *out,
		      struct qe_err *err);

/* Check the reference source with the run's runtime before any level runs:
 * llamacpp reads the GGUF header and fails with one line naming the file.
 * QE_EINVAL for an unknown runtime; a runtime without a check accepts. */
int qe_level_source_check(const char *runtime, const char *src, struct qe_err *err);

/* Add to out what identifies the source's content (llamacpp: "sha256",
 * memoised, "bytes", "type"); QE_ENOTSUP when the runtime cannot say. */
int qe_level_source_identity(const char *runtime, const char *src, const char *cache_dir, struct cJSON *out,
			     struct qe_err *err);

/* Point p at lv for qe_runtime_open: runtime, model (lv->path), url (when
 * lv has one) and level (lv->name); p's other fields stay. The strings point
 * into lv: keep lv alive while p is used. */
void qe_level_rt_params(const struct qe_level *lv, struct qe_rt_params *p);

/* SHA-256 of a file, memoised in <cache>/hashes.tsv by (absolute path, size,
 * mtime); cache_dir NULL = qe_cache_dir(). Any file (not only a source): the
 * generic helper behind the identities above. */
int qe_level_source_hash(const char *src, const char *cache_dir, char hex[65], struct qe_err *err);

/* ---- registry ---------------------------------------------------------- */

/* Names of the registered runtimes, NULL-terminated; static storage. */
const char *const *qe_runtime_names(void);

/* The engine's version line of a runtime ("llama.cpp v0.5.0 (prebuilt)"),
 * "" when it has none; static storage. */
const char *qe_runtime_version(const char *runtime);

/* The quantization type names a runtime can produce, NULL-terminated, static. */
const char *const *qe_runtime_quant_types(const char *runtime);

#endif
