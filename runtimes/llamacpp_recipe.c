/* qeval — a llamacpp level's recipe: parsing, its canonical JSON and cache
 * key, the importance-matrix check. See runtimes/llamacpp_recipe.h. */
#include "runtimes/llamacpp_recipe.h"
#include "runtimes/runtime_impl.h"
#include "harness/base/json.h"
#include "harness/base/sha256.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ggml.h>

int qe_recipe_is_mix(const struct qe_recipe *r)
{
	return r->n_tt > 0 || r->output_type[0] || r->token_embd_type[0] || r->pure || r->imatrix[0];
}

int qe_recipe_tensor_type(const char *name, char *out, size_t cap, struct qe_err *err)
{
	for (int t = 0; t < GGML_TYPE_COUNT; t++) {
		const char *n = ggml_type_name((enum ggml_type)t);
		/* removed types keep a slot with a placeholder name or none */
		if (n && *n && ggml_type_size((enum ggml_type)t) > 0 && !strcasecmp(n, name)) {
			snprintf(out, cap, "%s", n);
			return 0;
		}
	}
	return qe_fail(err, QE_EINVAL, "unknown tensor type '%s' (a ggml type: q4_K, q6_K, q8_0, f16, iq4_xs, ...)",
		       name);
}

/* a pattern the quantizer can take: not empty, no longer than its field,
 * and a regular expression (checked as POSIX extended: the engine's
 * ECMAScript dialect agrees on what recipes use, groups, alternatives and
 * classes) */
static int check_pattern(const char *pattern, const char *label, struct qe_err *err)
{
	regex_t re;
	int rc;

	if (!*pattern || strlen(pattern) >= sizeof(((struct qe_recipe_tt *)0)->pattern))
		return qe_fail(err, QE_EINVAL, "level '%s': tensor pattern '%.40s' is empty or too long", label, pattern);
	rc = regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB);
	if (rc != 0)
		return qe_fail(err, QE_EINVAL, "level '%s': tensor pattern '%s' is not a regular expression", label,
			       pattern);
	regfree(&re);
	return 0;
}

static int add_tt(struct qe_recipe *r, const char *pattern, const char *type, const char *label, struct qe_err *err)
{
	struct qe_recipe_tt *tt;
	int rc;

	if (r->n_tt >= QE_RECIPE_MAX_TT)
		return qe_fail(err, QE_EINVAL, "level '%s': more than %d tensor types", label, QE_RECIPE_MAX_TT);
	if ((rc = check_pattern(pattern, label, err)) != 0)
		return rc;
	tt = &r->tt[r->n_tt];
	snprintf(tt->pattern, sizeof(tt->pattern), "%s", pattern);
	if ((rc = qe_recipe_tensor_type(type, tt->type, sizeof(tt->type), err)) != 0)
		return qe_err_wrap(err, "level '%s': tensor pattern '%s'", label, pattern);
	r->n_tt++;
	return 0;
}

static int set_type(const char *text, struct qe_recipe *r, const char *label, struct qe_err *err)
{
	const char *t = qe_level_quant_type(&qe_llamacpp_ops, text);

	if (!t)
		return qe_fail(err, QE_EINVAL, "level '%s': unknown %s quantization type '%s' (see 'qeval list')", label,
			       qe_llamacpp_ops.name, text);
	snprintf(r->type, sizeof(r->type), "%s", t);
	return 0;
}

/* one ITEM of the text form */
static int text_item(const char *item, struct qe_recipe *r, const char *label, struct qe_err *err)
{
	const char *colon = strrchr(item, ':');
	char key[256];
	int rc = 0;

	if (!strcmp(item, "pure")) {
		r->pure = 1;
		return 0;
	}
	if (!strncmp(item, "imatrix:", 8)) {
		if (!item[8] || strlen(item + 8) >= sizeof(r->imatrix))
			return qe_fail(err, QE_EINVAL, "level '%s': imatrix: wants a file", label);
		snprintf(r->imatrix, sizeof(r->imatrix), "%s", item + 8);
		return 0;
	}
	if (!colon || colon == item || !colon[1])
		return qe_fail(err, QE_EINVAL,
			       "level '%s': '%s' is not PATTERN:TYPE, imatrix:FILE, output_type:TYPE, token_embd_type:TYPE or pure",
			       label, item);
	snprintf(key, sizeof(key), "%.*s", (int)(colon - item), item);
	if (!strcmp(key, "output_type"))
		rc = qe_recipe_tensor_type(colon + 1, r->output_type, sizeof(r->output_type), err);
	else if (!strcmp(key, "token_embd_type"))
		rc = qe_recipe_tensor_type(colon + 1, r->token_embd_type, sizeof(r->token_embd_type), err);
	else
		return add_tt(r, key, colon + 1, label, err);
	return rc ? qe_err_wrap(err, "level '%s'", label) : 0;
}

int qe_recipe_parse_text(const char *text, const char *label, struct qe_recipe *r, struct qe_err *err)
{
	const char *plus = strchr(text, '+');
	char *copy, *save = NULL, *item;
	char type[64];
	int rc = 0;

	memset(r, 0, sizeof(*r));
	if (!plus || plus - text >= (long)sizeof(type))
		return 0;
	snprintf(type, sizeof(type), "%.*s", (int)(plus - text), text);
	if (!qe_level_quant_type(&qe_llamacpp_ops, type))
		return 0;
	set_type(type, r, label, err);
	if (!(copy = strdup(plus + 1)))
		return qe_fail(err, QE_ENOMEM, "out of memory");
	for (item = strtok_r(copy, "+", &save); item && rc == 0; item = strtok_r(NULL, "+", &save))
		rc = text_item(item, r, label, err);
	free(copy);
	if (rc == 0 && !qe_recipe_is_mix(r))
		rc = qe_fail(err, QE_EINVAL, "level '%s': nothing after '+'", label);
	return rc ? rc : 1;
}

static int json_tt(const cJSON *arr, struct qe_recipe *r, const char *label, struct qe_err *err)
{
	const cJSON *p;
	int i = 0, rc;

	if (!cJSON_IsArray(arr))
		return qe_fail(err, QE_EINVAL, "level '%s': \"tensor_types\" is not an array of [pattern, type]", label);
	cJSON_ArrayForEach(p, arr) {
		const cJSON *a = cJSON_GetArrayItem(p, 0), *b = cJSON_GetArrayItem(p, 1);
		if (!cJSON_IsArray(p) || cJSON_GetArraySize(p) != 2 || !cJSON_IsString(a) || !cJSON_IsString(b))
			return qe_fail(err, QE_EINVAL, "level '%s': tensor_types[%d] is not [pattern, type] (two strings)",
				       label, i);
		if ((rc = add_tt(r, a->valuestring, b->valuestring, label, err)) != 0)
			return rc;
		i++;
	}
	return 0;
}

/* one key of the level object */
static int json_key(const cJSON *k, struct qe_recipe *r, const char *label, struct qe_err *err)
{
	const char *s = cJSON_IsString(k) ? k->valuestring : NULL;
	int rc = 0;

	if (!strcmp(k->string, "tensor_types"))
		return json_tt(k, r, label, err);
	if (!strcmp(k->string, "pure")) {
		if (!cJSON_IsBool(k))
			return qe_fail(err, QE_EINVAL, "level '%s': \"pure\" is not true or false", label);
		r->pure = cJSON_IsTrue(k);
		return 0;
	}
	if (!s || !*s)
		return qe_fail(err, QE_EINVAL, "level '%s': \"%s\" is not a non-empty string", label, k->string);
	if (!strcmp(k->string, "type"))
		return set_type(s, r, label, err);
	if (!strcmp(k->string, "imatrix")) {
		if (strlen(s) >= sizeof(r->imatrix))
			return qe_fail(err, QE_EINVAL, "level '%s': \"imatrix\" is too long", label);
		snprintf(r->imatrix, sizeof(r->imatrix), "%s", s);
	} else if (!strcmp(k->string, "output_type")) {
		rc = qe_recipe_tensor_type(s, r->output_type, sizeof(r->output_type), err);
	} else if (!strcmp(k->string, "token_embd_type")) {
		rc = qe_recipe_tensor_type(s, r->token_embd_type, sizeof(r->token_embd_type), err);
	}
	return rc ? qe_err_wrap(err, "level '%s'", label) : 0;
}

int qe_recipe_from_json(const cJSON *obj, const char *label, struct qe_recipe *r, struct qe_err *err)
{
	static const char *const keys[] = { "name", "runtime", "type", "tensor_types", "imatrix", "output_type",
					    "token_embd_type", "pure", NULL };
	const cJSON *k;
	int rc;

	memset(r, 0, sizeof(*r));
	cJSON_ArrayForEach(k, obj) {
		int known = 0;
		for (const char *const *p = keys; *p && !known; p++)
			known = !strcmp(k->string, *p);
		if (!known)
			return qe_fail(err, QE_EINVAL, "level '%s': unknown key '%s' for runtime '%s'", label, k->string,
				       qe_llamacpp_ops.name);
		if (!strcmp(k->string, "name") || !strcmp(k->string, "runtime"))
			continue;
		if ((rc = json_key(k, r, label, err)) != 0)
			return rc;
	}
	if (!r->type[0])
		return qe_fail(err, QE_EINVAL, "level '%s': a recipe needs \"type\" (the file type, e.g. Q4_K_M)", label);
	return 0;
}

cJSON *qe_recipe_to_json(const struct qe_recipe *r, const char *imatrix_sha256)
{
	cJSON *o = cJSON_CreateObject(), *tt = cJSON_CreateArray();

	cJSON_AddStringToObject(o, "type", r->type);
	for (int i = 0; i < r->n_tt; i++) {
		cJSON *p = cJSON_CreateArray();
		cJSON_AddItemToArray(p, cJSON_CreateString(r->tt[i].pattern));
		cJSON_AddItemToArray(p, cJSON_CreateString(r->tt[i].type));
		cJSON_AddItemToArray(tt, p);
	}
	cJSON_AddItemToObject(o, "tensor_types", tt);
	cJSON_AddStringToObject(o, "output_type", r->output_type);
	cJSON_AddStringToObject(o, "token_embd_type", r->token_embd_type);
	cJSON_AddBoolToObject(o, "pure", r->pure);
	if (r->imatrix[0]) {
		cJSON_AddStringToObject(o, "imatrix", r->imatrix);
		if (imatrix_sha256)
			cJSON_AddStringToObject(o, "imatrix_sha256", imatrix_sha256);
	}
	return o;
}

void qe_recipe_key(const struct qe_recipe *r, const char *imatrix_sha256, char hex[65])
{
	struct qe_sha256 s;
	unsigned char d[32];
	cJSON *o;
	char *text;

	o = qe_recipe_to_json(r, imatrix_sha256);
	text = cJSON_PrintUnformatted(o);
	qe_sha256_init(&s);
	qe_sha256_update(&s, text ? text : "", text ? strlen(text) : 0);
	qe_sha256_final(&s, d);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", d[i]);
	free(text);
	cJSON_Delete(o);
}

void qe_recipe_default_name(const struct qe_recipe *r, char *name, size_t cap)
{
	char hex[65];

	qe_recipe_key(r, NULL, hex);
	snprintf(name, cap, "%s+%.8s", r->type, hex);
}

/* ---- the importance-matrix check ---------------------------------------- */

/* Tensor types llama.cpp's quantizer will not make without an importance
 * matrix (src/llama-quant.cpp, tensor_requires_imatrix, at v0.5.0; except
 * for token_embd and output, which it exempts). */
static const char *const needs_imatrix_types[] = { "iq3_xxs", "iq2_xxs", "iq2_xs", "iq2_s", "iq1_m", "iq1_s", NULL };

/* File types whose mix puts such a type on some tensor (or, Q2_K_S, whose
 * q2_K needs one): with "pure" only the base type counts. */
static const struct {
	const char *ftype, *base;
	int mix;  /* 1 = the engine's mix needs one beyond the base type */
} needs_imatrix_ftypes[] = {
	{ "IQ1_S", "iq1_s", 0 },   { "IQ1_M", "iq1_m", 0 },   { "IQ2_XXS", "iq2_xxs", 0 },
	{ "IQ2_XS", "iq2_xs", 0 }, { "IQ2_S", "iq2_xs", 0 },  { "IQ2_M", "iq2_s", 0 },
	{ "IQ3_XXS", "iq3_xxs", 0 }, { "IQ3_XS", "iq3_s", 1 }, { "Q2_K_S", "q2_K", 2 },
};

static int type_needs_imatrix(const char *ggml_name)
{
	for (const char *const *t = needs_imatrix_types; *t; t++)
		if (!strcmp(*t, ggml_name))
			return 1;
	return 0;
}

int qe_recipe_check_imatrix(const struct qe_recipe *r, const char *label, struct qe_err *err)
{
	if (r->imatrix[0])
		return 0;
	for (size_t i = 0; i < sizeof(needs_imatrix_ftypes) / sizeof(needs_imatrix_ftypes[0]); i++) {
		if (strcmp(needs_imatrix_ftypes[i].ftype, r->type))
			continue;
		if (type_needs_imatrix(needs_imatrix_ftypes[i].base) || needs_imatrix_ftypes[i].mix == 2 ||
		    (needs_imatrix_ftypes[i].mix && !r->pure))
			return qe_fail(err, QE_EINVAL,
				       "level '%s': %s needs an importance matrix (llama.cpp's quantizer refuses %s tensors without one): add \"imatrix\" (a llama-imatrix file or a calibration text)",
				       label, r->type, needs_imatrix_ftypes[i].base);
	}
	for (int i = 0; i < r->n_tt; i++)
		if (type_needs_imatrix(r->tt[i].type))
			return qe_fail(err, QE_EINVAL,
				       "level '%s': tensor type %s (pattern '%s') needs an importance matrix: add \"imatrix\" (a llama-imatrix file or a calibration text)",
				       label, r->tt[i].type, r->tt[i].pattern);
	return 0;
}
