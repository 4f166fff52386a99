/* qeval — option tables. See harness/base/optab.h. */
#include "harness/base/optab.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <ctype.h>
#include <string.h>

static const char *type_word(const struct qe_optab *o)
{
	switch (o->type) {
	case QE_OT_INT: return "a whole number";
	case QE_OT_NUM: return "a number";
	case QE_OT_STR: return "a string";
	case QE_OT_BOOL: return "true or false";
	case QE_OT_INTS: return "a list of whole numbers";
	case QE_OT_ENUM: return "one of the listed words";
	default: return "a JSON value";
	}
}

const char *qe_optab_meta(const struct qe_optab *o)
{
	if (o->meta)
		return o->meta;
	switch (o->type) {
	case QE_OT_INT: return "N";
	case QE_OT_NUM: return "X";
	case QE_OT_INTS: return "LIST";
	case QE_OT_JSON: return "JSON";
	case QE_OT_BOOL: return "BOOL";
	default: return "S";
	}
}

/* what a JSON value is, for messages: "\"two\"", "12.5", "an object" */
static const char *got(const cJSON *v, char *buf, size_t cap)
{
	if (cJSON_IsString(v))
		snprintf(buf, cap, "\"%.40s\"", v->valuestring);
	else if (cJSON_IsNumber(v))
		snprintf(buf, cap, "%.17g", v->valuedouble);
	else if (cJSON_IsBool(v))
		snprintf(buf, cap, "%s", cJSON_IsTrue(v) ? "true" : "false");
	else if (cJSON_IsNull(v))
		snprintf(buf, cap, "null");
	else if (cJSON_IsArray(v))
		snprintf(buf, cap, "an array");
	else
		snprintf(buf, cap, "an object");
	return buf;
}

static int whole_in(double x, double lo, double hi)
{
	return isfinite(x) && x == floor(x) && x >= lo && x <= hi;
}

static int read_ints(const struct qe_optab *o, const cJSON *v, struct qe_ints *out, const char *path,
		     struct qe_err *err)
{
	double k[QE_INTS_MAX + 1];
	size_t n = 0;
	const cJSON *x;

	if (cJSON_IsNumber(v)) {
		k[n++] = v->valuedouble;
	} else if (cJSON_IsString(v)) {
		for (const char *p = v->valuestring; *p;) {
			char *end;
			if (*p == ',' || *p == '/' || *p == ' ') {
				p++;
				continue;
			}
			if (n > QE_INTS_MAX)
				break;
			k[n++] = strtod(p, &end);
			if (end == p)
				return qe_fail(err, QE_EINVAL, "%s.%s: expected whole numbers separated by ',' or '/', got \"%.40s\"",
					       path, o->key, v->valuestring);
			p = end;
		}
	} else if (cJSON_IsArray(v)) {
		cJSON_ArrayForEach(x, v) {
			char b[64];
			if (!cJSON_IsNumber(x))
				return qe_fail(err, QE_EINVAL, "%s.%s: expected whole numbers, got %s in the list", path, o->key,
					       got(x, b, sizeof(b)));
			if (n > QE_INTS_MAX)
				break;
			k[n++] = x->valuedouble;
		}
	} else {
		char b[64];
		return qe_fail(err, QE_EINVAL, "%s.%s: expected %s, got %s", path, o->key, type_word(o), got(v, b, sizeof(b)));
	}
	if (n == 0 || n > QE_INTS_MAX)
		return qe_fail(err, QE_EINVAL, "%s.%s: expected 1 to %d whole numbers", path, o->key, QE_INTS_MAX);
	for (size_t i = 0; i < n; i++) {
		if (!whole_in(k[i], o->lo, o->hi))
			return qe_fail(err, QE_EINVAL, "%s.%s: %g is not a whole number in %.0f..%.0f", path, o->key, k[i],
				       o->lo, o->hi);
		out->v[i] = (long)k[i];
	}
	out->n = n;
	return 0;
}

/* one value into its field; path.key in messages */
static int read_one(const struct qe_optab *o, const cJSON *v, void *base, const char *path, struct qe_err *err)
{
	char *field = (char *)base + o->off, b[64];
	int rc;

	switch (o->type) {
	case QE_OT_INT:
		if (!cJSON_IsNumber(v) || !whole_in(v->valuedouble, o->lo, o->hi))
			return qe_fail(err, QE_EINVAL, "%s.%s: expected a whole number in %.0f..%.0f, got %s", path, o->key,
				       o->lo, o->hi, got(v, b, sizeof(b)));
		*(long *)field = (long)v->valuedouble;
		break;
	case QE_OT_NUM:
		if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) ||
		    ((o->lo != 0 || o->hi != 0) && (v->valuedouble < o->lo || v->valuedouble > o->hi)))
			return qe_fail(err, QE_EINVAL, "%s.%s: expected a number%s, got %s", path, o->key,
				       o->lo != 0 || o->hi != 0 ? " in range" : "", got(v, b, sizeof(b)));
		*(double *)field = v->valuedouble;
		break;
	case QE_OT_STR:
		if (!cJSON_IsString(v))
			return qe_fail(err, QE_EINVAL, "%s.%s: expected a string, got %s", path, o->key, got(v, b, sizeof(b)));
		*(const char **)field = v->valuestring;
		break;
	case QE_OT_ENUM: {
		const char *const *c = o->choices;
		if (!cJSON_IsString(v))
			return qe_fail(err, QE_EINVAL, "%s.%s: expected a string, got %s", path, o->key, got(v, b, sizeof(b)));
		for (; c && *c; c++)
			if (!strcmp(*c, v->valuestring))
				break;
		if (!c || !*c) {
			struct qe_text t = { 0 };
			for (c = o->choices; c && *c; c++)
				qe_text_printf(&t, "%s%s", c == o->choices ? "" : ", ", *c);
			rc = qe_fail(err, QE_EINVAL, "%s.%s: '%.40s' is not one of %s", path, o->key, v->valuestring,
				     qe_text_str(&t));
			qe_text_release(&t);
			return rc;
		}
		*(const char **)field = v->valuestring;
		break;
	}
	case QE_OT_BOOL:
		if (!cJSON_IsBool(v))
			return qe_fail(err, QE_EINVAL, "%s.%s: expected true or false, got %s", path, o->key, got(v, b, sizeof(b)));
		*(int *)field = cJSON_IsTrue(v);
		break;
	case QE_OT_INTS:
		if ((rc = read_ints(o, v, (struct qe_ints *)field, path, err)) != 0)
			return rc;
		break;
	default:
		*(const cJSON **)field = v;
		break;
	}
	if (o->check && (rc = o->check(v, field, err)) != 0)
		return qe_err_wrap(err, "%s.%s", path, o->key);
	return 0;
}

int qe_optab_defaults(const struct qe_optab *tab, void *base, struct qe_err *err)
{
	for (const struct qe_optab *o = tab; o->key; o++) {
		char *field = (char *)base + o->off;
		cJSON *v;
		int rc;

		switch (o->type) {
		case QE_OT_INT: *(long *)field = 0; break;
		case QE_OT_NUM: *(double *)field = 0; break;
		case QE_OT_BOOL: *(int *)field = 0; break;
		case QE_OT_INTS: memset(field, 0, sizeof(struct qe_ints)); break;
		default: *(void **)field = NULL; break;
		}
		if (!o->def)
			continue;
		/* string defaults are static text: no JSON value to borrow from */
		if (o->type == QE_OT_STR || o->type == QE_OT_ENUM) {
			*(const char **)field = o->def;
			continue;
		}
		if (!(v = cJSON_Parse(o->def)))
			return qe_fail(err, QE_EINVAL, "option '%s': bad default '%s'", o->key, o->def);
		rc = o->type == QE_OT_JSON ? 0 : read_one(o, v, base, "default", err);
		cJSON_Delete(v);
		if (rc)
			return rc;
	}
	return 0;
}

const struct qe_optab *qe_optab_find(const struct qe_optab *tab, const char *key)
{
	for (const struct qe_optab *o = tab; o && o->key; o++)
		if (!strcmp(o->key, key))
			return o;
	return NULL;
}

static int skipped(const char *const *skip, const char *key)
{
	for (; skip && *skip; skip++)
		if (!strcmp(*skip, key))
			return 1;
	return 0;
}

static int unknown_key(const struct qe_optab *tab, const char *const *skip, const char *key, const char *path,
		       struct qe_err *err)
{
	const char *words[128] = { NULL };
	size_t n = 0;
	const char *near;
	struct qe_text t = { 0 };
	int rc;

	for (const struct qe_optab *o = tab; o->key && n < 120; o++)
		words[n++] = o->key;
	for (; skip && *skip && n < 127; skip++)
		words[n++] = *skip;
	near = qe_closest_word(key, words, n);
	for (size_t i = 0; i < n; i++)
		qe_text_printf(&t, "%s%s", i ? ", " : "", words[i]);
	if (near)
		rc = qe_fail(err, QE_EINVAL, "%s: unknown option '%s' (did you mean '%s'?)", path, key, near);
	else
		rc = qe_fail(err, QE_EINVAL, "%s: unknown option '%s' (known: %s)", path, key, qe_text_str(&t));
	qe_text_release(&t);
	return rc;
}

int qe_optab_read(const struct qe_optab *tab, const cJSON *obj, const char *const *skip, void *base,
		  const char *path, struct qe_err *err)
{
	const cJSON *it;
	int rc;

	if ((rc = qe_optab_defaults(tab, base, err)) != 0)
		return rc;
	if (obj && !cJSON_IsObject(obj))
		return qe_fail(err, QE_EINVAL, "%s: expected an object", path);
	cJSON_ArrayForEach(it, obj) {
		const struct qe_optab *o;
		const cJSON *dup;
		if (skipped(skip, it->string))
			continue;
		if (!(o = qe_optab_find(tab, it->string)))
			return unknown_key(tab, skip, it->string, path, err);
		for (dup = obj->child; dup != it; dup = dup->next)
			if (!strcmp(dup->string, it->string))
				return qe_fail(err, QE_EINVAL, "%s.%s: given twice", path, it->string);
		if (cJSON_IsNull(it) && !(o->flags & QE_OF_REQUIRED))
			continue; /* null = the default */
		if ((rc = read_one(o, it, base, path, err)) != 0)
			return rc;
	}
	for (const struct qe_optab *o = tab; o->key; o++)
		if ((o->flags & QE_OF_REQUIRED) && !cJSON_GetObjectItemCaseSensitive(obj, o->key))
			return qe_fail(err, QE_EINVAL, "%s: '%s' is required (%s)", path, o->key, o->help ? o->help : "");
	return 0;
}

cJSON *qe_optab_value_from_text(const struct qe_optab *o, const char *text, const char *flag, struct qe_err *err)
{
	cJSON *v = NULL;
	char *end;
	double x;

	switch (o->type) {
	case QE_OT_INT:
	case QE_OT_NUM:
		x = strtod(text, &end);
		if (end == text || *end || !isfinite(x) ||
		    (o->type == QE_OT_INT && !whole_in(x, o->lo, o->hi))) {
			if (o->type == QE_OT_INT)
				qe_fail(err, QE_EINVAL, "%s: '%s' is not a whole number in %.0f..%.0f", flag, text, o->lo, o->hi);
			else
				qe_fail(err, QE_EINVAL, "%s: '%s' is not a number", flag, text);
			return NULL;
		}
		v = cJSON_CreateNumber(x);
		break;
	case QE_OT_BOOL:
		if (!strcmp(text, "true") || !strcmp(text, "1") || !strcmp(text, "yes"))
			v = cJSON_CreateTrue();
		else if (!strcmp(text, "false") || !strcmp(text, "0") || !strcmp(text, "no"))
			v = cJSON_CreateFalse();
		else
			qe_fail(err, QE_EINVAL, "%s: '%s' is not true or false", flag, text);
		return v;
	case QE_OT_INTS: {
		struct qe_ints ints;
		cJSON *s = cJSON_CreateString(text);
		struct qe_optab one = *o;
		one.off = 0;
		if (!s || read_ints(&one, s, &ints, flag, err) != 0) {
			cJSON_Delete(s);
			/* the message names "FLAG.key": say the flag alone */
			return NULL;
		}
		cJSON_Delete(s);
		v = cJSON_CreateArray();
		for (size_t i = 0; v && i < ints.n; i++)
			cJSON_AddItemToArray(v, cJSON_CreateNumber((double)ints.v[i]));
		break;
	}
	case QE_OT_JSON:
		/* the whole text or nothing: "128,lots" is not the JSON 128 */
		v = cJSON_ParseWithOpts(text, NULL, 1);
		if (!v)
			v = cJSON_CreateString(text); /* plain text: the option's check decides */
		break;
	default:
		v = cJSON_CreateString(text);
		break;
	}
	if (!v && err && !err->code)
		qe_fail(err, QE_ENOMEM, "out of memory");
	return v;
}

/* Edit distance with adjacent transpositions (optimal string alignment),
 * capped at 9: "mmul" is 1 from "mmlu" */
static int edit_distance(const char *a, const char *b)
{
	size_t n = strlen(a), m = strlen(b);
	int d[64][64];

	if (n > 62 || m > 62)
		return 9;
	for (size_t i = 0; i <= n; i++)
		d[i][0] = (int)i;
	for (size_t j = 0; j <= m; j++)
		d[0][j] = (int)j;
	for (size_t i = 1; i <= n; i++)
		for (size_t j = 1; j <= m; j++) {
			int best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
			if (d[i - 1][j] + 1 < best)
				best = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < best)
				best = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < best)
				best = d[i - 2][j - 2] + 1;
			d[i][j] = best;
		}
	return d[n][m] > 9 ? 9 : d[n][m];
}

const char *qe_closest_word(const char *w, const char *const *words, size_t n)
{
	const char *best = NULL;
	int best_d = 3;
	size_t wl = strlen(w);

	for (size_t i = 0; i < n; i++) {
		int d = edit_distance(w, words[i]);
		/* a distance of 2 only for words long enough that it is a typo */
		if (d < best_d && (d < 2 || wl >= 5)) {
			best = words[i];
			best_d = d;
		}
	}
	if (!best && wl >= 3)
		for (size_t i = 0; i < n; i++)
			if (!strncmp(words[i], w, wl))
				return words[i];
	return best;
}

/* s without case and the characters "_-. ", into buf (cap bytes) */
static const char *name_key(const char *s, char *buf, size_t cap)
{
	size_t k = 0;

	for (; *s && k + 1 < cap; s++)
		if (!strchr("_-. ", *s))
			buf[k++] = (char)tolower((unsigned char)*s);
	buf[k] = 0;
	return buf;
}

const char *qe_closest_name(const char *w, const char *const *words, size_t n)
{
	const char *near = qe_closest_word(w, words, n);
	char a[128], b[128];

	if (near)
		return near;
	name_key(w, a, sizeof(a));
	for (size_t i = 0; i < n && *a; i++)
		if (!strcmp(a, name_key(words[i], b, sizeof(b))))
			return words[i];
	return NULL;
}
