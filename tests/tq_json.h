/* tq_json — reading results.json in tests. */
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

#endif
