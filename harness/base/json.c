/* qeval — JSON helpers for every folder. See harness/base/json.h. */
#include "harness/base/json.h"
#include "harness/base/text.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


int qe_json_read_file(const char *path, cJSON **out, struct qe_err *err)
{
	char *buf;
	size_t n;
	int rc;

	*out = NULL;
	if ((rc = qe_file_read(path, &buf, &n, err)) != 0)
		return rc;
	rc = qe_json_parse(buf, n, path, out, err);
	free(buf);
	return rc;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* the first key of v's objects (depth first) given twice in one object */
static const char *twice(const cJSON *v)
{
	const char **keys, *dup = NULL;
	const cJSON *c;
	int n = 0, i = 0;

	cJSON_ArrayForEach(c, v)
		n++;
	if (cJSON_IsObject(v) && n > 1 && (keys = malloc((size_t)n * sizeof(*keys))) != NULL) {
		cJSON_ArrayForEach(c, v)
			keys[i++] = c->string ? c->string : "";
		qsort(keys, (size_t)n, sizeof(*keys), by_name);
		for (i = 1; i < n && !dup; i++)
			if (!strcmp(keys[i - 1], keys[i]))
				dup = keys[i];
		free(keys);
	}
	for (c = v ? v->child : NULL; c && !dup; c = c->next)
		dup = twice(c);
	return dup;
}

/* a NUL in the text, raw or as \u0000, would cut a string short where cJSON
 * keeps it: two different keys would become one */
static const char *nul_at(const char *text, size_t len)
{
	const char *p = memchr(text, '\0', len);

	if (p)
		return p;
	for (p = text; (p = strstr(p, "\\u0000")) != NULL; p++) {
		size_t k = 0;
		while (p - k > text && p[-(long)k - 1] == '\\')
			k++;
		if (k % 2 == 0) /* this backslash is not itself escaped */
			return p;
	}
	return NULL;
}

int qe_json_parse(const char *text, size_t len, const char *path, cJSON **out, struct qe_err *err)
{
	const char *end = NULL, *dup, *nul;
	int line = 1, col = 1;

	/* require_null_terminated (the NUL at text[len] included in the length):
	 * nothing but white space may follow the value */
	*out = NULL;
	if ((nul = nul_at(text, len)) != NULL)
		return qe_fail(err, QE_EINPUT, "%s: byte %zu: a NUL character (raw or \\u0000) is not taken in JSON here", path,
			       (size_t)(nul - text));
	*out = cJSON_ParseWithLengthOpts(text, len + 1, &end, 1);
	if (*out && (dup = twice(*out)) != NULL) {
		qe_fail(err, QE_EINPUT, "%s: key '%s' given twice in one object", path, dup);
		cJSON_Delete(*out);
		*out = NULL;
		return QE_EINPUT;
	}
	if (*out)
		return 0;
	for (const char *p = text; end && p < end; p++) {
		if (*p == '\n') {
			line++;
			col = 1;
		} else {
			col++;
		}
	}
	return qe_fail(err, QE_EINPUT, "%s:%d:%d: not valid JSON", path, line, col);
}

int qe_json_write_file(const char *path, const cJSON *v, struct qe_err *err)
{
	char *text = cJSON_Print(v);
	size_t n;
	int rc;

	if (!text)
		return qe_fail(err, QE_ENOMEM, "out of memory writing '%s'", path);
	n = strlen(text);
	text[n] = '\n'; /* cJSON allocates the NUL: room for the newline */
	rc = qe_file_write_atomic(path, text, n + 1, err);
	cJSON_free(text);
	return rc;
}

double qe_json_num(const cJSON *o, const char *key, double def)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsNumber(v) ? v->valuedouble : def;
}

int qe_json_int(const cJSON *o, const char *key, int def)
{
	double v = qe_json_num(o, key, NAN);

	if (isnan(v))
		return def;
	if (v >= (double)INT_MAX)
		return INT_MAX;
	if (v <= (double)INT_MIN)
		return INT_MIN;
	return (int)v;
}

const char *qe_json_str(const cJSON *o, const char *key, const char *def)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsString(v) ? v->valuestring : def;
}

int qe_json_bool(const cJSON *o, const char *key, int def)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsBool(v) ? cJSON_IsTrue(v) : def;
}

cJSON *qe_json_num_or_null(double v)
{
	return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull();
}

void qe_json_add_num(cJSON *o, const char *key, double v)
{
	cJSON_AddItemToObject(o, key, qe_json_num_or_null(v));
}

int qe_json_lines_load(const char *path, const char *key, cJSON **out, struct qe_err *err)
{
	char *text;
	size_t len, pos = 0, line = 0;
	cJSON *arr;
	int rc;

	*out = NULL;
	rc = qe_file_read(path, &text, &len, err);
	if (rc == QE_ENOENT) {
		*out = cJSON_CreateArray();
		return *out ? 0 : qe_fail(err, QE_ENOMEM, "out of memory");
	}
	if (rc)
		return rc;
	if (!(arr = cJSON_CreateArray())) {
		free(text);
		return qe_fail(err, QE_ENOMEM, "out of memory");
	}
	while (pos < len) {
		char *nl = memchr(text + pos, '\n', len - pos);
		cJSON *rec;

		line++;
		if (!nl) /* torn last line: a record never completed */
			break;
		if (nl > text + pos) {
			rec = cJSON_ParseWithLengthOpts(text + pos, (size_t)(nl - text) - pos, NULL, 0);
			if (!cJSON_IsObject(rec) || (key && !cJSON_GetObjectItemCaseSensitive(rec, key))) {
				cJSON_Delete(rec);
				cJSON_Delete(arr);
				free(text);
				return qe_fail(err, QE_EINPUT, "%s:%zu: not a record (a JSON object%s%s%s)", path, line,
					       key ? " with \"" : "", key ? key : "", key ? "\"" : "");
			}
			cJSON_AddItemToArray(arr, rec);
		}
		pos = (size_t)(nl - text) + 1;
	}
	free(text);
	*out = arr;
	return 0;
}
