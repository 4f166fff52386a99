/* qeval — what a runtime author implements (see docs/extending.md).
 *
 * A runtime is a static const struct qe_runtime_ops plus a private context
 * (rt->ctx). The wrappers in runtimes/runtime.c and runtimes/level.c check
 * capabilities and arguments, so ops may assume valid input. Members marked
 * optional may be NULL: the wrapper then returns QE_ENOTSUP (or a default).
 *
 * Versions. Members are only ever appended: never removed, reordered or
 * retyped; each says which API version added it. A table records the
 * version it was written for (api_version = QE_RUNTIME_API when written).
 * The wrappers read a member added after version 1 only through
 * QE_OPS_MEMBER, which is NULL when the table's version predates the
 * member, so a runtime written for an older version still opens and its
 * missing members mean what NULL means: not supported, or the default.
 * Adding a member: append it with "added in N", set QE_RUNTIME_API to N,
 * define QE_RUNTIME_OPS_END_N as sizeof the struct and turn the previous
 * END into the offsetof of the new member (the first of version N).
 */
#ifndef QE_RUNTIME_IMPL_H
#define QE_RUNTIME_IMPL_H

#include <stddef.h>

#include "runtimes/runtime.h"

#define QE_RUNTIME_API 5

struct qe_runtime_ops {
	/* ---- version 1 ---------------------------------------------------- */
	int api_version;   /* QE_RUNTIME_API of the header the table was written for, >= 1 */
	const char *name;  /* registry name */
	unsigned caps;     /* QE_RT_* bits the ops below provide */

	/* required: set rt->ctx; on failure leave nothing allocated */
	int (*open)(struct qe_runtime *rt, const struct qe_rt_params *p, struct qe_err *err);
	/* required: free rt->ctx */
	void (*close)(struct qe_runtime *rt);

	/* optional (required for QE_RT_SCORE / QE_RT_EMBED) */
	int (*tokenize)(struct qe_runtime *rt, const char *text, int add_special,
			int32_t *tokens, size_t cap, struct qe_err *err);
	/* optional, QE_RT_SCORE */
	int (*score)(struct qe_runtime *rt, const struct qe_score_req *reqs, size_t n,
		     struct qe_score_res *res, int *status, struct qe_err *err);
	/* optional: drop cached context */
	void (*reset)(struct qe_runtime *rt);
	/* optional, QE_RT_EMBED */
	size_t (*embed_dim)(struct qe_runtime *rt);
	int (*embed)(struct qe_runtime *rt, const char *const *texts, size_t n, int normalize,
		     float *out, size_t *n_truncated, struct qe_err *err);
	/* optional, QE_RT_SPEED */
	int (*speed)(struct qe_runtime *rt, const struct qe_speed_req *req,
		     struct qe_speed_res *res, struct qe_err *err);
	/* optional: the engine's version and build, one line, static storage */
	const char *(*version)(void);
	/* required: fill what is known; info is zeroed and runtime[] set before */
	void (*describe)(struct qe_runtime *rt, struct qe_rt_info *info);

	/* optional, QE_RT_QUANT: the type names this runtime can produce
	 * (NULL-terminated) and producing one level file from src into out_path.
	 * The default level ops below use them; a runtime with its own
	 * level_prepare may too. */
	const char *const *quant_types;
	int (*quantize)(const char *src, const char *type, const char *out_path, int n_threads,
			struct qe_err *err);

	/* ---- version 2: levels (read through QE_OPS_MEMBER) --------------- */

	/* optional, added in 2: the name spec gives (before the wrapper applies
	 * an object's "name" and turns '/' and spaces into '_'), validating the
	 * spec: an unknown text, an object key the runtime does not know or of
	 * the wrong type is QE_EINVAL naming the level (qe_level_spec_label).
	 * "name" and "runtime" are checked by the wrapper: accept them.
	 * NULL = qe_level_default_name. */
	int (*level_name)(const struct qe_level_spec *spec, char *name, size_t cap, struct qe_err *err);
	/* optional, added in 2: make or locate the level. out is zeroed but for
	 * name and runtime; fill path (what open takes as params.model), type,
	 * url, reused. cache_dir is never NULL; spec has passed level_name.
	 * NULL = qe_level_default_prepare. */
	int (*level_prepare)(const char *src, const struct qe_level_spec *spec, const char *cache_dir,
			     int n_threads, struct qe_level *out, struct qe_err *err);
	/* optional, added in 2: add to out (an object) what identifies lv's
	 * content, so two runs can tell they used the same level. src is the
	 * reference source, cache_dir never NULL. NULL = QE_ENOTSUP. */
	int (*level_identity)(const char *src, const struct qe_level *lv, const char *cache_dir,
			      struct cJSON *out, struct qe_err *err);
	/* optional, added in 2: check the reference source before any level
	 * runs; one line naming it. NULL = accepted. */
	int (*source_check)(const char *src, struct qe_err *err);
	/* optional, added in 2: add to out what identifies the source's content.
	 * NULL = QE_ENOTSUP. */
	int (*source_identity)(const char *src, const char *cache_dir, struct cJSON *out, struct qe_err *err);

	/* ---- version 3: serving (read through QE_OPS_MEMBER) -------------- */

	/* optional, added in 3, QE_RT_SERVE: a serving run (qe_runtime_serve);
	 * the wrapper has checked req and zeroed out but for t_tok. */
	int (*serve)(struct qe_runtime *rt, const struct qe_serve_req *req, struct qe_serve_one *out,
		     struct qe_err *err);

	/* ---- version 4 (read through QE_OPS_MEMBER) ----------------------- */

	/* optional, added in 4, QE_RT_LOGITS: qe_runtime_chunk_logits (the
	 * request is checked: tokens, n_tok >= 2, first < n_tok - 1, row) */
	int (*chunk_logits)(struct qe_runtime *rt, const struct qe_chunk_req *req, struct qe_err *err);

	/* ---- version 5 (read through QE_OPS_MEMBER) ----------------------- */

	/* optional, added in 5, QE_RT_TOPK: qe_runtime_chunk_topk (the request
	 * is checked as chunk_logits' is) */
	int (*chunk_topk)(struct qe_runtime *rt, const struct qe_topk_req *req, struct qe_err *err);
};

/* Bytes of struct qe_runtime_ops a table written for version N has. */
#define QE_RUNTIME_OPS_END_1 offsetof(struct qe_runtime_ops, level_name)
#define QE_RUNTIME_OPS_END_2 offsetof(struct qe_runtime_ops, serve)
#define QE_RUNTIME_OPS_END_3 offsetof(struct qe_runtime_ops, chunk_logits)
#define QE_RUNTIME_OPS_END_4 offsetof(struct qe_runtime_ops, chunk_topk)
#define QE_RUNTIME_OPS_END_5 sizeof(struct qe_runtime_ops)

/* Bytes of the table a version has: 0 below 1, the whole struct from the
 * current version up (a newer table's extra members are not read). */
size_t qe_runtime_ops_end(int api_version);

/* Member m of ops, or NULL when ops was written for a version without it. */
#define QE_OPS_MEMBER(ops, m) \
	(offsetof(struct qe_runtime_ops, m) < qe_runtime_ops_end((ops)->api_version) ? (ops)->m : NULL)

struct qe_runtime {
	const struct qe_runtime_ops *ops;
	struct qe_rt_params params;  /* copy; strings point into the caller's storage */
	void *ctx;                   /* the runtime's own state */
};

/* The registry: every runtime's ops, NULL-terminated (runtimes/registry.c). */
extern const struct qe_runtime_ops *const qe_runtime_registry[];

/* The registered table named name (NULL or "" = "llamacpp"), NULL when none. */
const struct qe_runtime_ops *qe_runtime_find(const char *name);

/* qe_runtime_find for the wrappers: *ops = a table they can use, else NULL
 * and QE_EINVAL for an unknown name, QE_ERUNTIME for a table without an
 * api_version. */
int qe_runtime_lookup(const char *name, const struct qe_runtime_ops **ops, struct qe_err *err);

/* ---- helpers for the level ops (runtimes/level.c) ----------------------- */

/* What names spec in messages: the text, an object's "name", else the
 * object printed compactly (cut to cap). Returns buf. */
const char *qe_level_spec_label(const struct qe_level_spec *spec, char *buf, size_t cap);

/* Every key of spec->obj (when it is one) is "name", "runtime" or one of
 * keys (NULL-terminated), and a non-empty string; else QE_EINVAL naming the
 * level, the key and runtime. */
int qe_level_spec_check_keys(const char *runtime, const struct qe_level_spec *spec, const char *const *keys,
			     struct qe_err *err);

/* The defaults of level_name / level_prepare, for a runtime whose levels are
 * models it opens as they are, or quantization types it makes with
 * ops->quantize: text "NAME=MODEL" -> MODEL; text naming one of
 * ops->quant_types (any case) -> quantized into the cache by ops->quantize;
 * other text -> the model itself; an object {name, runtime, model, url}
 * (strings) -> model and url. */
int qe_level_default_name(const struct qe_runtime_ops *ops, const struct qe_level_spec *spec, char *name,
			  size_t cap, struct qe_err *err);
int qe_level_default_prepare(const struct qe_runtime_ops *ops, const char *src, const struct qe_level_spec *spec,
			     const char *cache_dir, int n_threads, struct qe_level *out, struct qe_err *err);

/* The type name of ops->quant_types that name is (any case), NULL when none. */
const char *qe_level_quant_type(const struct qe_runtime_ops *ops, const char *name);

/* The cache path of a level made from src: <cache_dir>/quant/<SHA-256 of
 * src's content>/<file>, its folders created. The key is the content, so a
 * renamed or copied source reuses its levels and a changed one never does. */
int qe_level_cache_path(const char *cache_dir, const char *src, const char *file, char *path, size_t cap,
			struct qe_err *err);

/* Make path by make(tmp, arg, err) writing a temporary name beside it, then
 * renaming it into place: an interrupted make leaves nothing that looks
 * finished. The temporary is removed on failure. Processes sharing the cache
 * make a file one at a time (PATH.lock): a second waits for the first and
 * takes its file. */
typedef int (*qe_level_make_fn)(const char *tmp, void *arg, struct qe_err *err);
int qe_level_cache_make(const char *path, qe_level_make_fn make, void *arg, struct qe_err *err);

/* One line for each runtime in runtimes/registry.c */
extern const struct qe_runtime_ops qe_llamacpp_ops;
extern const struct qe_runtime_ops qe_openai_ops;
extern const struct qe_runtime_ops qe_rest_ops;

#endif
