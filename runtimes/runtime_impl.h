/* qeval — what a runtime author implements (see docs/extending.md).
 *
 * A runtime is a static const struct qe_runtime_ops plus a private context
 * (rt->ctx). The wrappers in runtimes/runtime.c check capabilities and
 * arguments, so ops may assume valid input. Members marked optional may be
 * NULL: the wrapper then returns QE_ENOTSUP (or a default).
 */
#ifndef QE_RUNTIME_IMPL_H
#define QE_RUNTIME_IMPL_H

#include "runtimes/runtime.h"

#define QE_RUNTIME_API 1

struct qe_runtime_ops {
	int api_version;   /* QE_RUNTIME_API */
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
	 * (NULL-terminated) and producing one level file from src into out_path */
	const char *const *quant_types;
	int (*quantize)(const char *src, const char *type, const char *out_path, int n_threads,
			struct qe_err *err);
};

struct qe_runtime {
	const struct qe_runtime_ops *ops;
	struct qe_rt_params params;  /* copy; strings point into the caller's storage */
	void *ctx;                   /* the runtime's own state */
};

/* The registry: every runtime's ops, NULL-terminated (runtimes/registry.c). */
extern const struct qe_runtime_ops *const qe_runtime_registry[];

const struct qe_runtime_ops *qe_runtime_find(const char *name);

/* One line for each runtime in runtimes/registry.c */
extern const struct qe_runtime_ops qe_llamacpp_ops;

#endif
