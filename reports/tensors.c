/* qeval — a level's tensor types by kind and layer. See reports/tensors.h. */
#include "reports/tensors.h"
#include "harness/base/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void qe_tensor_kind(const char *name, char kind[QE_TENSOR_KIND_CAP], int *layer)
{
	const char *rest = name;
	size_t n;

	*layer = -1;
	if (!strncmp(name, "blk.", 4)) {
		char *end;
		long l = strtol(name + 4, &end, 10);
		if (end != name + 4 && *end == '.') {
			*layer = (int)l;
			rest = end + 1;
		}
	}
	snprintf(kind, QE_TENSOR_KIND_CAP, "%s", rest);
	n = strlen(kind);
	if (n > 7 && !strcmp(kind + n - 7, ".weight"))
		kind[n - 7] = '\0';
}

size_t qe_tensor_kinds(const cJSON *types, char (*kinds)[QE_TENSOR_KIND_CAP], size_t cap)
{
	const cJSON *t;
	size_t n = 0;

	cJSON_ArrayForEach(t, types) {
		char k[QE_TENSOR_KIND_CAP];
		size_t i;
		int layer;
		qe_tensor_kind(t->string, k, &layer);
		for (i = 0; i < n && strcmp(kinds[i], k); i++)
			;
		if (i == n && n < cap)
			snprintf(kinds[n++], QE_TENSOR_KIND_CAP, "%s", k);
	}
	return n;
}

static int by_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* layers "0-2,5" of kind at type into out */
static void layers_text(const cJSON *types, const char *kind, const char *type, struct qe_text *out)
{
	int *l = malloc((size_t)cJSON_GetArraySize(types) * sizeof(int) + sizeof(int));
	const cJSON *t;
	size_t n = 0;

	if (!l)
		return;
	cJSON_ArrayForEach(t, types) {
		char k[QE_TENSOR_KIND_CAP];
		int layer;
		qe_tensor_kind(t->string, k, &layer);
		if (!strcmp(k, kind) && cJSON_IsString(t) && !strcmp(t->valuestring, type) && layer >= 0)
			l[n++] = layer;
	}
	qsort(l, n, sizeof(int), by_int);
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j + 1 < n && l[j + 1] == l[j] + 1)
			j++;
		qe_text_printf(out, "%s%d", i ? "," : "", l[i]);
		if (j > i)
			qe_text_printf(out, "-%d", l[j]);
		i = j + 1;
	}
	free(l);
}

void qe_tensor_kind_text(const cJSON *types, const char *kind, struct qe_text *out)
{
	const char *seen[16];
	size_t n = 0;
	const cJSON *t;

	cJSON_ArrayForEach(t, types) {
		char k[QE_TENSOR_KIND_CAP];
		size_t i;
		int layer;
		qe_tensor_kind(t->string, k, &layer);
		if (strcmp(k, kind) || !cJSON_IsString(t))
			continue;
		for (i = 0; i < n && strcmp(seen[i], t->valuestring); i++)
			;
		if (i == n && n < 16)
			seen[n++] = t->valuestring;
	}
	if (n == 1) {
		qe_text_put(out, seen[0]);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		qe_text_printf(out, "%s%s ", i ? " \xc2\xb7 " : "", seen[i]);
		layers_text(types, kind, seen[i], out);
	}
}
