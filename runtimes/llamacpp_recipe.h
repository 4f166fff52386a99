/* qeval — a llamacpp level's recipe: a file type plus what
 * llama_model_quantize_params can say besides it (docs/recipes.md).
 *
 *   type             the file type ("Q4_K_M"): the engine's mix for every
 *                    tensor no other entry names
 *   tensor_types     [pattern, type] pairs, in order: the first pattern found
 *                    in a tensor's name (a regular expression, searched as
 *                    llama.cpp's std::regex_search does) gives its type
 *   output_type      type of output.weight ("" = the engine's choice)
 *   token_embd_type  type of token_embd.weight ("" = the engine's choice)
 *   pure             1 = every quantizable tensor at the file type's base type
 *   imatrix          an importance matrix: a llama-imatrix file (.gguf or the
 *                    legacy .dat) or a calibration text qeval computes one from
 *
 * Text form (a level of --levels; ',' separates levels, so a pattern holds no
 * ',' and no '+': use the plan's object for those):
 *   [NAME=]TYPE+ITEM[+ITEM...]   ITEM: PATTERN:TYPE | imatrix:FILE |
 *                                output_type:TYPE | token_embd_type:TYPE | pure
 * e.g. kn=Q4_K_M+attn_(q|k|v):Q6_K+ffn_:Q4_K+imatrix:calib.txt
 *
 * Private to the llamacpp runtime's files and the tests.
 */
#ifndef QE_LLAMACPP_RECIPE_H
#define QE_LLAMACPP_RECIPE_H

#include <stddef.h>

#include "harness/base/err.h"

struct cJSON;

#define QE_RECIPE_MAX_TT 64

struct qe_recipe_tt {
	char pattern[256];
	char type[16];  /* ggml type name as the engine spells it ("q6_K") */
};

struct qe_recipe {
	char type[16];                        /* file type, one of quant_types ("Q4_K_M") */
	struct qe_recipe_tt tt[QE_RECIPE_MAX_TT];
	int n_tt;
	char output_type[16];                 /* ggml type name, "" = engine's choice */
	char token_embd_type[16];             /* ggml type name, "" = engine's choice */
	int pure;
	char imatrix[4096];                   /* the file as given, "" = none */
};

/* 1 when r says more than its file type (so the level is a recipe). */
int qe_recipe_is_mix(const struct qe_recipe *r);

/* The ggml type named name (any case: "Q6_K", "q6_k", "f16") into out as the
 * engine spells it; QE_EINVAL naming it when there is none. */
int qe_recipe_tensor_type(const char *name, char *out, size_t cap, struct qe_err *err);

/* A text spec "TYPE+ITEM..." (after any "NAME=") into r. Returns 1 when text is
 * a recipe (r filled), 0 when it is not one (no '+' after a known type), or a
 * negative status (QE_EINVAL naming label) for a malformed one. */
int qe_recipe_parse_text(const char *text, const char *label, struct qe_recipe *r, struct qe_err *err);

/* A plan's level object ("type" plus the keys above; "name", "runtime" are
 * the wrapper's) into r; QE_EINVAL naming label for an unknown key or a value
 * of the wrong type, an unknown type, a bad pattern. */
int qe_recipe_from_json(const struct cJSON *obj, const char *label, struct qe_recipe *r, struct qe_err *err);

/* The recipe as JSON, keys in a fixed order (what identity and the cache key
 * are made of); imatrix_sha256 (hex, or NULL) is added when the recipe has an
 * importance matrix. Caller frees with cJSON_Delete. */
struct cJSON *qe_recipe_to_json(const struct qe_recipe *r, const char *imatrix_sha256);

/* The cache key: SHA-256 (hex) of qe_recipe_to_json printed unformatted. The
 * level ops key a recipe with r->imatrix set to the matrix file the quantizer
 * reads: its path is written into the level (quantize.imatrix.file, as
 * llama-quantize does), so it is part of the file's content. */
void qe_recipe_key(const struct qe_recipe *r, const char *imatrix_sha256, char hex[65]);

/* A recipe without an importance matrix that names a type llama.cpp's
 * quantizer refuses without one: QE_EINVAL naming label, the type and why.
 * The engine's own check (at quantization) stays the final word. */
int qe_recipe_check_imatrix(const struct qe_recipe *r, const char *label, struct qe_err *err);

/* A default level name for a recipe: "TYPE+" and the first 8 hex digits of
 * its key (without the importance matrix's content, which is not read here). */
void qe_recipe_default_name(const struct qe_recipe *r, char *name, size_t cap);

#endif
