/* qeval — JSON helpers for every folder: whole files in and out, JSON lines,
 * accessors with defaults, and results.json's null-for-NaN convention. */
#ifndef QE_BASE_JSON_H
#define QE_BASE_JSON_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "harness/base/err.h"

/* Read a whole JSON file (plan, results, level.json): caller frees with
 * cJSON_Delete. QE_ENOENT, QE_EIO, or QE_EINPUT "file:line:col: not valid
 * JSON" on a syntax error. */
int qe_json_read_file(const char *path, cJSON **out, struct qe_err *err);

/* Parse len bytes of text (text[len] must be its NUL); nothing but white
 * space may follow the value. path names it in the message. Caller frees *out. */
int qe_json_parse(const char *text, size_t len, const char *path, cJSON **out, struct qe_err *err);

/* Write a JSON value to path atomically (temp file + fsync + rename). */
int qe_json_write_file(const char *path, const cJSON *v, struct qe_err *err);

/* Every whole line of a JSON-lines file as a new array of objects (caller
 * frees). A torn last line (no newline: a write that never finished) is left
 * out; a missing file gives an empty array. key != NULL: each object must
 * have it. Another bad line is QE_EINPUT naming path:line. */
int qe_json_lines_load(const char *path, const char *key, cJSON **out, struct qe_err *err);

/* Small accessors with defaults (o may be NULL). */
double qe_json_num(const cJSON *o, const char *key, double def);
/* A number as an int, truncated toward zero and clamped to int's range (a
 * server's 1e117 is INT_MAX, not undefined behaviour); def when the key is
 * missing, not a number or NaN. */
int qe_json_int(const cJSON *o, const char *key, int def);
const char *qe_json_str(const cJSON *o, const char *key, const char *def);
int qe_json_bool(const cJSON *o, const char *key, int def);

/* A finite number as a number, anything else (NaN: not computable) as null,
 * the convention of results.json (docs/results-schema.md). */
cJSON *qe_json_num_or_null(double v);
void qe_json_add_num(cJSON *o, const char *key, double v);

#endif
