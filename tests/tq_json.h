/* tq_json — reading and comparing results.json in tests. */
#ifndef QE_TQ_JSON_H
#define QE_TQ_JSON_H

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

/* The per-level block of a task: results.json tasks.<task>.levels.<level>. */
static inline const cJSON *tq_block(const cJSON *res, const char *task, const char *level)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(res, "tasks"), task);
	return cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(t, "levels"), level);
}

/* The number at a dotted path ("drift.cos_mean"); NaN when absent or null. */
static inline double tq_num(const cJSON *o, const char *path)
{
	char key[64];
	const char *dot;

	while ((dot = strchr(path, '.')) != NULL) {
		snprintf(key, sizeof(key), "%.*s", (int)(dot - path), path);
		o = cJSON_GetObjectItemCaseSensitive(o, key);
		path = dot + 1;
	}
	o = cJSON_GetObjectItemCaseSensitive(o, path);
	return cJSON_IsNumber(o) ? o->valuedouble : NAN;
}

/* tq_json_diff's settings and count */
struct tq_jdiff {
	int (*ignored)(const char *key); /* keys left out of the comparison; NULL = none */
	double rel_tol;                  /* numbers are equal within this relative difference */
	int max;                         /* no more differences are looked for after this many */
	int quiet;                       /* 1 = count them only */
	int n;                           /* the differences found */
};

static inline void tq_jdiff_say(struct tq_jdiff *d, const char *path, const char *what)
{
	if (!d->quiet)
		fprintf(stderr, "  differs: %s: %s\n", path, what);
	d->n++;
}

/* Compare a with b key for key and item for item (the keys d->ignored names
 * aside), counting each difference into d->n and, unless quiet, saying it
 * on stderr with its path. */
static inline void tq_json_diff(struct tq_jdiff *d, const cJSON *a, const cJSON *b, const char *path)
{
	char sub[1024], what[200];
	const cJSON *x, *y;

	if (d->n > d->max)
		return;
	if ((a->type & 0xFF) != (b->type & 0xFF)) {
		tq_jdiff_say(d, path, "types differ");
	} else if (cJSON_IsObject(a)) {
		cJSON_ArrayForEach(x, a) {
			if (d->ignored && d->ignored(x->string))
				continue;
			snprintf(sub, sizeof(sub), "%s.%s", path, x->string);
			if (!(y = cJSON_GetObjectItemCaseSensitive(b, x->string)))
				tq_jdiff_say(d, sub, "only in the first");
			else
				tq_json_diff(d, x, y, sub);
		}
		cJSON_ArrayForEach(y, b)
			if (!(d->ignored && d->ignored(y->string)) && !cJSON_GetObjectItemCaseSensitive(a, y->string)) {
				snprintf(sub, sizeof(sub), "%s.%s", path, y->string);
				tq_jdiff_say(d, sub, "only in the second");
			}
	} else if (cJSON_IsArray(a)) {
		int n = cJSON_GetArraySize(a);
		if (n != cJSON_GetArraySize(b)) {
			snprintf(what, sizeof(what), "%d items, %d items", n, cJSON_GetArraySize(b));
			tq_jdiff_say(d, path, what);
			return;
		}
		for (int i = 0; i < n; i++) {
			snprintf(sub, sizeof(sub), "%s[%d]", path, i);
			tq_json_diff(d, cJSON_GetArrayItem(a, i), cJSON_GetArrayItem(b, i), sub);
		}
	} else if (cJSON_IsNumber(a)) {
		double u = a->valuedouble, v = b->valuedouble;
		if (u != v && fabs(u - v) > d->rel_tol * fmax(fabs(u), fabs(v))) {
			snprintf(what, sizeof(what), "%.17g, %.17g", u, v);
			tq_jdiff_say(d, path, what);
		}
	} else if (cJSON_IsString(a) && strcmp(a->valuestring, b->valuestring) != 0) {
		snprintf(what, sizeof(what), "\"%.80s\", \"%.80s\"", a->valuestring, b->valuestring);
		tq_jdiff_say(d, path, what);
	} else if (cJSON_IsBool(a) && cJSON_IsTrue(a) != cJSON_IsTrue(b)) {
		tq_jdiff_say(d, path, "booleans differ");
	}
}

/* 1 when s ends with suffix */
static inline int tq_ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && !strcmp(s + n - m, suffix);
}

#endif
