/* qeval — what a level really holds against what its name promises: llama.cpp
 * stores a tensor in another type where its rows do not fit the named type's
 * blocks (stories260K's "Q4_K_M" holds no q4_K tensor). The levels table, the
 * verdict and the run summary say so when a level's weights are not mostly
 * its named type. Pure functions of their arguments: thread-safe.
 */
#ifndef QE_REPORTS_FALLBACK_H
#define QE_REPORTS_FALLBACK_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "harness/base/text.h"

/* A level is "mostly" its named type when at least this share of its weight
 * bytes (every tensor type but f32) is stored in that type. */
#define QE_FALLBACK_MOSTLY 0.5

/* The ggml tensor type a llama.cpp file type is named after: "Q4_K_M" ->
 * "q4_K", "Q8_0" -> "q8_0", "IQ2_XXS" -> "iq2_xxs", "IQ3_M" -> "iq3_s",
 * "F16" -> "f16"; into buf (cap bytes). NULL when ftype is not a name it
 * knows (then no claim is made). Also takes llama.cpp's own descriptions,
 * which results.json's "ftype" holds: "Q4_K - Medium" -> "q4_K". */
const char *qe_fallback_main_type(const char *ftype, char *buf, size_t cap);

/* For level lv (an entry of results.json's "levels", with "ftype" and
 * "types"): the share of its weight bytes stored in its named type, in
 * [0, 1], and (others non-NULL) the other weight types, largest first, as
 * "q5_0 ×32, q8_0 ×5" (tensor counts). NaN when the name or the types are
 * unknown. */
double qe_fallback_share(const cJSON *lv, struct qe_text *others);

/* (A recipe level, identity "recipe", has no named type to fall back from:
 * qe_fallback_share is NAN for it.)
 * When lv is not mostly its named type: appends one line to out, "0% q4_K:
 * llama.cpp used q5_0 ×32, q8_0 ×5 (a K-quant's rows must be a multiple of
 * 256 wide)", and returns 1; else 0 and nothing. */
int qe_fallback_text(const cJSON *lv, struct qe_text *out);

#endif
