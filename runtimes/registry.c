/* qeval — the runtime registry. Adding a runtime: one file + one line here. */
#include "runtimes/runtime_impl.h"

const struct qe_runtime_ops *const qe_runtime_registry[] = {
	&qe_llamacpp_ops,
	&qe_openai_ops,
	&qe_rest_ops,
	NULL,
};
