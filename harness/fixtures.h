/* qeval — the project's own fixture models (seeded random weights, small
 * vocabularies), written with the gguf API: tiny-llama-{f32,f16}.gguf,
 * tiny-bert-{f32,f16}.gguf (mean pooling), tiny-bert-cls-f32.gguf (CLS
 * pooling). See harness/fixtures.c for their shapes. Not thread-safe. */
#ifndef QE_FIXTURES_H
#define QE_FIXTURES_H

#include "harness/base/err.h"

/* Write the fixture models into dir (created). Deterministic bytes. */
int qe_fixtures_generate(const char *dir, struct qe_err *err);

#endif
