#include "reports/results.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reports/text.h"

int qe_results_parse(const char *text, size_t len, const char *path, cJSON **out, struct qe_err *err)
{
	const cJSON *schema, *version;
	cJSON *root;
	int rc;

	*out = NULL;
	/* "file:line:col: not valid JSON"; a key given twice or a NUL refused:
	 * reports, gates and history would each read whichever value cJSON kept */
	if ((rc = qe_json_parse(text, len, path, &root, err)) != 0)
		return rc;
	schema = cJSON_GetObjectItemCaseSensitive(root, "schema");
	version = cJSON_GetObjectItemCaseSensitive(root, "version");
	if (!cJSON_IsObject(root) || !cJSON_IsString(schema) || strcmp(schema->valuestring, "qeval-results") != 0) {
		cJSON_Delete(root);
		return qe_fail(err, QE_EINPUT, "'%s' is not a qeval results file (no \"schema\": \"qeval-results\")", path);
	}
	if (!cJSON_IsNumber(version) || version->valuedouble != QE_RESULTS_VERSION) {
		double v = cJSON_IsNumber(version) ? version->valuedouble : 0.0;
		cJSON_Delete(root);
		return qe_fail(err, QE_EINPUT, "'%s' has results version %g; this qeval reads version %d", path, v,
			       QE_RESULTS_VERSION);
	}
	if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(root, "levels")) ||
	    !cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(root, "tasks"))) {
		cJSON_Delete(root);
		return qe_fail(err, QE_EINPUT, "'%s' lacks a \"levels\" array or a \"tasks\" object", path);
	}
	*out = root;
	return 0;
}

int qe_results_load(const char *run_dir, cJSON **out, struct qe_err *err)
{
	char path[4096];
	size_t len;
	char *text;
	int rc;

	*out = NULL;
	snprintf(path, sizeof(path), "%s/results.json", run_dir);
	rc = qe_file_read(path, &text, &len, err);
	if (rc == QE_ENOENT)
		return qe_fail(err, QE_ENOENT, "'%s' has no results.json (not a finished qeval run directory?)", run_dir);
	if (rc)
		return rc;
	rc = qe_results_parse(text, len, path, out, err);
	free(text);
	return rc;
}

const cJSON *qe_results_levels(const cJSON *res)
{
	return cJSON_GetObjectItemCaseSensitive(res, "levels");
}

const cJSON *qe_results_level(const cJSON *res, const char *name)
{
	const cJSON *lv;

	if (!name)
		return NULL;
	cJSON_ArrayForEach(lv, qe_results_levels(res)) {
		const char *n = qe_json_str(lv, "name", NULL);
		if (n && !strcmp(n, name))
			return lv;
	}
	return NULL;
}

const char *qe_results_ref(const cJSON *res)
{
	return qe_json_str(res, "reference", NULL);
}

const cJSON *qe_results_block(const cJSON *res, const char *task, const char *level)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(res, "tasks"), task);
	const cJSON *b = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(t, "levels"), level);

	return cJSON_IsObject(b) ? b : NULL;
}

const char *qe_results_task_type(const cJSON *task)
{
	return qe_json_str(task, "task", "");
}

const char *qe_results_level_name(const cJSON *lv)
{
	return qe_json_str(lv, "name", "?");
}

const char *qe_results_level_status(const cJSON *lv)
{
	return qe_json_str(lv, "status", "pending");
}

int qe_results_level_is_ref(const cJSON *res, const cJSON *lv)
{
	const char *ref = qe_results_ref(res);
	return (ref && !strcmp(ref, qe_results_level_name(lv))) || qe_json_bool(lv, "reference", 0);
}

const cJSON *qe_results_first_block(const cJSON *task)
{
	const cJSON *blk;

	cJSON_ArrayForEach(blk, cJSON_GetObjectItemCaseSensitive(task, "levels"))
		if (cJSON_IsObject(blk))
			return blk;
	return NULL;
}

/* a [lo, hi] pair: each NaN unless a has exactly two elements and that one is a number */
static void pair_of(const cJSON *a, double *lo, double *hi)
{
	*lo = *hi = NAN;
	if (cJSON_GetArraySize(a) == 2) {
		const cJSON *x = cJSON_GetArrayItem(a, 0), *y = cJSON_GetArrayItem(a, 1);
		if (cJSON_IsNumber(x))
			*lo = x->valuedouble;
		if (cJSON_IsNumber(y))
			*hi = y->valuedouble;
	}
}

void qe_results_pair(const cJSON *obj, const char *key, double *lo, double *hi)
{
	pair_of(cJSON_GetObjectItemCaseSensitive(obj, key), lo, hi);
}

size_t qe_results_union_keys(const cJSON *task, const char *key, const char *const *skip, const char **out, size_t cap)
{
	const cJSON *blk;
	size_t n = 0;

	cJSON_ArrayForEach(blk, cJSON_GetObjectItemCaseSensitive(task, "levels")) {
		const cJSON *it;
		cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(blk, key)) {
			size_t k;
			int skipped = 0;
			for (const char *const *s = skip; s && *s; s++)
				skipped |= !strcmp(*s, it->string);
			if (skipped)
				continue;
			for (k = 0; k < n && strcmp(out[k], it->string); k++)
				;
			if (k == n && n < cap)
				out[n++] = it->string;
		}
	}
	return n;
}

/* ---- metric paths ---- */

int qe_metric_path_check(const char *path, struct qe_err *err)
{
	const char *p = path;

	if (!path || !*path)
		return qe_fail(err, QE_EINVAL, "empty metric path");
	if (!strncmp(p, "level.", 6))
		p += 6;
	for (;;) {
		size_t key = strcspn(p, ".[]");
		if (!key)
			return qe_fail(err, QE_EINVAL, "metric path '%s': empty key at offset %zu", path, (size_t)(p - path));
		p += key;
		while (*p == '[') {
			size_t digits = strspn(p + 1, "0123456789");
			if (!digits || p[1 + digits] != ']')
				return qe_fail(err, QE_EINVAL, "metric path '%s': '[' wants a whole number and ']'", path);
			p += digits + 2;
		}
		if (!*p)
			return 0;
		if (*p != '.')
			return qe_fail(err, QE_EINVAL, "metric path '%s': unexpected '%c' at offset %zu", path, *p,
				       (size_t)(p - path));
		p++;
	}
}

/* Walk path from node; NULL when a step is missing. */
static const cJSON *walk(const cJSON *node, const char *path)
{
	const char *p = path;
	char key[256];

	while (node && *p) {
		size_t n = strcspn(p, ".[]");
		if (cJSON_IsNull(node))
			return node; /* null part-way: the whole metric is null */
		if (n >= sizeof(key))
			return NULL;
		memcpy(key, p, n);
		key[n] = '\0';
		p += n;
		if (cJSON_IsObject(node)) {
			node = cJSON_GetObjectItemCaseSensitive(node, key);
		} else if (cJSON_IsArray(node)) {
			const cJSON *e, *hit = NULL;
			cJSON_ArrayForEach(e, node) {
				const char *nm = qe_json_str(e, "name", NULL);
				if (nm && !strcmp(nm, key)) {
					hit = e;
					break;
				}
			}
			node = hit;
		} else {
			return NULL;
		}
		while (node && !cJSON_IsNull(node) && *p == '[') {
			long idx = strtol(p + 1, NULL, 10);
			node = cJSON_IsArray(node) ? cJSON_GetArrayItem(node, (int)idx) : NULL;
			p = strchr(p, ']') + 1;
		}
		if (*p == '.')
			p++;
	}
	return node;
}

static int leaf(const cJSON *v, double *out)
{
	if (!v)
		return QE_METRIC_ABSENT;
	if (cJSON_IsNull(v))
		return QE_METRIC_NULL;
	if (!cJSON_IsNumber(v))
		return QE_METRIC_ABSENT;
	*out = v->valuedouble;
	return QE_METRIC_OK;
}

int qe_metric_get(const cJSON *res, const char *task, const char *level, const char *path, double *out)
{
	const cJSON *tasks = cJSON_GetObjectItemCaseSensitive(res, "tasks");
	const cJSON *lv = qe_results_level(res, level), *t, *blk;

	if (!lv)
		return QE_METRIC_NO_LEVEL;
	if (!strncmp(path, "level.", 6))
		return leaf(walk(lv, path + 6), out);
	t = task ? cJSON_GetObjectItemCaseSensitive(tasks, task) : NULL;
	if (!cJSON_IsObject(t))
		return QE_METRIC_NO_TASK;
	blk = qe_results_block(res, task, level);
	if (!blk)
		return QE_METRIC_NO_BLOCK;
	if (!strcmp(path, QE_METRIC_FLIP_RATE)) {
		const cJSON *vs = cJSON_GetObjectItemCaseSensitive(blk, "vs_ref");
		double a = qe_json_num(vs, "ref_right_level_wrong", NAN), b = qe_json_num(vs, "ref_wrong_level_right", NAN);
		double n = qe_json_num(vs, "n_paired", NAN);
		if (!vs)
			return QE_METRIC_ABSENT;
		if (cJSON_IsNull(vs) || isnan(a) || isnan(b) || !(n > 0))
			return QE_METRIC_NULL;
		*out = (a + b) / n;
		return QE_METRIC_OK;
	}
	if (!strcmp(path, QE_METRIC_PCT_OF_REF)) {
		const char *ref = qe_results_ref(res);
		const cJSON *rb = ref ? qe_results_block(res, task, ref) : NULL;
		double a = qe_json_num(blk, "acc", NAN), r = qe_json_num(rb, "acc", NAN);
		if (!cJSON_GetObjectItemCaseSensitive(blk, "acc"))
			return QE_METRIC_ABSENT;
		if (isnan(a) || isnan(r) || r == 0)
			return QE_METRIC_NULL;
		*out = a / r;
		return QE_METRIC_OK;
	}
	return leaf(walk(blk, path), out);
}

int qe_metric_pair(const cJSON *res, const char *task, const char *level, const char *path, double *lo, double *hi)
{
	const cJSON *blk = qe_results_block(res, task, level), *a;

	*lo = *hi = NAN;
	if (!qe_results_level(res, level))
		return QE_METRIC_NO_LEVEL;
	if (!blk)
		return QE_METRIC_NO_BLOCK;
	a = walk(blk, path);
	if (!a)
		return QE_METRIC_ABSENT;
	pair_of(a, lo, hi);
	return 0;
}

const char *qe_metric_status_text(int status)
{
	switch (status) {
	case QE_METRIC_OK: return "ok";
	case QE_METRIC_NULL: return "not computed (null)";
	case QE_METRIC_ABSENT: return "not in the task's block";
	case QE_METRIC_NO_BLOCK: return "no results for this level (failed or not run)";
	case QE_METRIC_NO_TASK: return "no such task in the run";
	case QE_METRIC_NO_LEVEL: return "no such level in the run";
	}
	return "unknown";
}
