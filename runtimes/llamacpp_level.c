/* qeval — the llamacpp runtime's levels: a quantization type made from an
 * F16, BF16 or F32 GGUF source into the cache, or a GGUF file as it is.
 *
 * Specs (docs/extending.md):
 *   text   "Q4_K_M" (any case)          a type made from the source
 *          "NAME=PATH", "x.gguf", "a/b"  a file
 *          "[NAME=]TYPE+ITEM+..."         a recipe (runtimes/llamacpp_recipe.h)
 *   object {"type": "Q4_K_M"} or {"path": "x.gguf"}, with "name" and
 *          "runtime" as for every runtime; exactly one of type and path;
 *          with "type", the recipe keys "tensor_types", "imatrix",
 *          "output_type", "token_embd_type", "pure" (docs/recipes.md).
 *
 * A recipe's file is <cache>/quant/<source sha256>/<TYPE>-<key>.gguf, key the
 * SHA-256 of the recipe with its importance matrix (the file the quantizer
 * reads, whose path the level records, and its SHA-256);
 * <file>.recipe.json beside it says what it was made of (level_identity reads
 * it). An importance matrix computed from a calibration text is
 * imatrix-<text sha256>-c<chunk>.gguf in the same folder.
 */
#include "runtimes/llamacpp.h"
#include "runtimes/gguf_info.h"
#include "runtimes/llamacpp_imatrix.h"
#include "runtimes/llamacpp_recipe.h"
#include "harness/base/json.h"
#include "harness/base/sys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* general.file_type values of unquantized files (llama_ftype) */
enum { FT_F32 = 0, FT_F16 = 1, FT_BF16 = 32 };

/* What a spec asks for: a type or recipe to make, or a file to take, and
 * the name it gives (before the wrapper's "name" and clean-up). */
struct ll_spec {
	const char *path;   /* the file, NULL for a type */
	struct qe_recipe r; /* r.type[0] when made */
	int mix;            /* 1 = a recipe: more than the type */
	char name[256];
};

static int is_file_spec(const char *spec)
{
	size_t n = strlen(spec);
	return strchr(spec, '/') || (n > 5 && !strcasecmp(spec + n - 5, ".gguf"));
}

/* a file's stem: "a/b/Q4.gguf" -> "Q4" */
static void stem(const char *path, char *name, size_t cap)
{
	const char *base = strrchr(path, '/');
	size_t n;

	snprintf(name, cap, "%s", base ? base + 1 : path);
	n = strlen(name);
	if (n > 5 && !strcasecmp(name + n - 5, ".gguf"))
		name[n - 5] = '\0';
}

/* a made level's name (unless the text or object gives one) and checks */
static int made(struct ll_spec *s, const char *label, struct qe_err *err)
{
	s->mix = qe_recipe_is_mix(&s->r);
	if (!s->name[0]) {
		if (s->mix)
			qe_recipe_default_name(&s->r, s->name, sizeof(s->name));
		else
			snprintf(s->name, sizeof(s->name), "%s", s->r.type);
	}
	return qe_recipe_check_imatrix(&s->r, label, err);
}

static int parse_text(const char *text, struct ll_spec *s, struct qe_err *err)
{
	const char *eq = strchr(text, '='), *plus = strchr(text, '+'), *body = text, *type;
	int rc;

	if (eq && plus && eq > plus)
		eq = NULL; /* an '=' inside the recipe's items */
	if (eq) {
		snprintf(s->name, sizeof(s->name), "%.*s", (int)(eq - text), text);
		body = eq + 1;
	}
	rc = qe_recipe_parse_text(body, text, &s->r, err);
	if (rc < 0)
		return rc;
	if (rc == 1)
		return made(s, text, err);
	if (eq || is_file_spec(text)) {
		if (!eq)
			stem(text, s->name, sizeof(s->name));
		s->path = body;
		return 0;
	}
	type = qe_level_quant_type(&qe_llamacpp_ops, text);
	if (!type)
		return qe_fail(err, QE_EINVAL,
			       "unknown level '%s': not a %s quantization type (see 'qeval list'), a recipe TYPE+... nor a .gguf file",
			       text, qe_llamacpp_ops.name);
	snprintf(s->r.type, sizeof(s->r.type), "%s", type);
	return made(s, text, err);
}

static int parse_obj(const struct qe_level_spec *spec, struct ll_spec *s, struct qe_err *err)
{
	static const char *const file_keys[] = { "path", NULL };
	char label[128];
	int rc;

	qe_level_spec_label(spec, label, sizeof(label));
	s->path = qe_json_str(spec->obj, "path", NULL);
	if (s->path || !cJSON_GetObjectItemCaseSensitive(spec->obj, "type")) {
		/* neither: a misspelt key says more than "give one of them" */
		struct qe_err e = { 0 };
		if (!s->path && qe_recipe_from_json(spec->obj, label, &s->r, &e) != 0 && strstr(e.msg, "unknown key"))
			return qe_fail(err, e.code, "%s", e.msg);
		if (!s->path || cJSON_GetObjectItemCaseSensitive(spec->obj, "type"))
			return qe_fail(err, QE_EINVAL,
				       "level '%s': give \"type\" (a quantization type) or \"path\" (a .gguf file), one of them",
				       label);
		rc = qe_level_spec_check_keys(qe_llamacpp_ops.name, spec, file_keys, err);
		if (rc == 0)
			stem(s->path, s->name, sizeof(s->name));
		return rc;
	}
	rc = qe_recipe_from_json(spec->obj, label, &s->r, err);
	return rc ? rc : made(s, label, err);
}

static int parse_spec(const struct qe_level_spec *spec, struct ll_spec *s, struct qe_err *err)
{
	memset(s, 0, sizeof(*s));
	return spec->obj ? parse_obj(spec, s, err) : parse_text(spec->text, s, err);
}

int qe_llamacpp_level_name(const struct qe_level_spec *spec, char *name, size_t cap, struct qe_err *err)
{
	struct ll_spec s;
	int rc = parse_spec(spec, &s, err);

	if (rc == 0)
		snprintf(name, cap, "%s", s.name);
	return rc;
}

struct quantize_arg {
	const char *src;
	const struct qe_recipe *r;
	const char *imatrix;  /* the matrix file, "" = none */
	int n_threads;
};

static int quantize_into(const char *tmp, void *arg, struct qe_err *err)
{
	const struct quantize_arg *a = arg;

	return qe_llamacpp_quantize_recipe(a->src, a->r, a->imatrix, tmp, a->n_threads, err);
}

struct imatrix_arg {
	const char *src, *text;
	int n_threads;
};

static int imatrix_into(const char *tmp, void *arg, struct qe_err *err)
{
	const struct imatrix_arg *a = arg;
	struct qe_imatrix_params p = qe_imatrix_default_params();
	struct qe_imatrix m;
	int rc;

	p.n_threads = a->n_threads;
	p.dataset = a->text;
	rc = qe_llamacpp_imatrix_compute(a->src, a->text, &p, &m, err);
	if (rc == 0)
		rc = qe_imatrix_save(&m, tmp, err);
	qe_imatrix_release(&m);
	return rc;
}

/* 1 when path is a llama-imatrix file (GGUF magic, or named .dat) rather than
 * a calibration text */
static int is_imatrix_file(const char *path)
{
	unsigned char magic[4] = { 0 };
	size_t n = strlen(path);
	FILE *f;
	int gguf;

	if (n > 4 && !strcasecmp(path + n - 4, ".dat"))
		return 1;
	if (!(f = fopen(path, "rb")))
		return n > 5 && !strcasecmp(path + n - 5, ".gguf");
	gguf = fread(magic, 1, 4, f) == 4 && !memcmp(magic, "GGUF", 4);
	fclose(f);
	return gguf;
}

/* The recipe's importance matrix file into path: the one given, or the one
 * computed from the calibration text given (made into the cache once). */
static int imatrix_path(const char *src, const char *given, const char *cache_dir, int n_threads, char *path,
			size_t cap, struct qe_err *err)
{
	struct imatrix_arg a = { src, given, n_threads };
	struct qe_imatrix_params p = qe_imatrix_default_params();
	struct qe_imatrix m;
	char hex[65], file[128];
	int rc;

	if ((rc = qe_level_source_hash(given, cache_dir, hex, err)) != 0)
		return qe_err_wrap(err, "importance matrix");
	if (is_imatrix_file(given)) {
		snprintf(path, cap, "%s", given);
		return 0;
	}
	snprintf(file, sizeof(file), "imatrix-%.16s-c%d.gguf", hex, (int)p.n_ctx);
	if ((rc = qe_level_cache_path(cache_dir, src, file, path, cap, err)) != 0)
		return rc;
	if (qe_imatrix_load(path, &m, NULL) == 0) {
		qe_imatrix_release(&m);
		return 0;
	}
	return qe_level_cache_make(path, imatrix_into, &a, err);
}

/* <level file>.recipe.json: what a recipe level was made of */
static void recipe_note(const char *level_path, const struct qe_recipe *r, const char *imatrix, const char *im_hex)
{
	char path[4200];
	cJSON *o = cJSON_CreateObject();

	snprintf(path, sizeof(path), "%s.recipe.json", level_path);
	cJSON_AddItemToObject(o, "recipe", qe_recipe_to_json(r, im_hex));
	if (imatrix[0])
		cJSON_AddStringToObject(o, "imatrix_file", imatrix);
	qe_json_write_file(path, o, NULL);
	cJSON_Delete(o);
}

/* the cache file name of s: "TYPE.gguf", or "TYPE-KEY.gguf" for a recipe
 * (after its importance matrix is found or made into im) */
static int level_file(const char *src, const struct ll_spec *s, const char *cache_dir, int n_threads, char *im,
		      char im_hex[65], char *file, size_t cap, struct qe_err *err)
{
	struct qe_recipe k;
	char key[65];
	int rc;

	im[0] = im_hex[0] = '\0';
	if (!s->mix) {
		snprintf(file, cap, "%s.gguf", s->r.type);
		return 0;
	}
	if (s->r.imatrix[0]) {
		if ((rc = imatrix_path(src, s->r.imatrix, cache_dir, n_threads, im, 4096, err)) != 0)
			return rc;
		if ((rc = qe_level_source_hash(im, cache_dir, im_hex, err)) != 0)
			return rc;
	}
	k = s->r;
	snprintf(k.imatrix, sizeof(k.imatrix), "%s", im);
	qe_recipe_key(&k, im_hex[0] ? im_hex : NULL, key);
	snprintf(file, cap, "%s-%.16s.gguf", s->r.type, key);
	return 0;
}

/* Level s of the source: the source itself when it already is that type,
 * else made into the cache (reused when a whole file is there). */
static int make_type(const char *src, const struct ll_spec *s, const char *cache_dir, int n_threads,
		     struct qe_level *out, struct qe_err *err)
{
	struct qe_gguf_info gi;
	char file[96], im[4096], im_hex[65];
	struct quantize_arg a = { src, &s->r, im, n_threads };
	const char *type = s->r.type;
	int rc, ft;

	rc = qe_gguf_read_info(src, &gi, err);
	if (rc)
		return rc;
	ft = gi.file_type;
	if (!s->mix && ((ft == FT_F16 && !strcmp(type, "F16")) || (ft == FT_F32 && !strcmp(type, "F32")) ||
			(ft == FT_BF16 && !strcmp(type, "BF16")))) {
		snprintf(out->path, sizeof(out->path), "%s", src);
		out->reused = 1;
		return 0;
	}
	if (ft != FT_F16 && ft != FT_F32 && ft != FT_BF16 && ft != -1)
		return qe_fail(err, QE_EINPUT,
			       "'%s' is already quantized (file type %d): levels are made from an F16, BF16 or F32 file; give quantized files as levels NAME=PATH",
			       src, ft);
	if ((rc = level_file(src, s, cache_dir, n_threads, im, im_hex, file, sizeof(file), err)) != 0 ||
	    (rc = qe_level_cache_path(cache_dir, src, file, out->path, sizeof(out->path), err)) != 0)
		return qe_err_wrap(err, "level '%s'", out->name);
	if (qe_gguf_read_info(out->path, &gi, NULL) == 0)
		out->reused = 1;
	else if ((rc = qe_level_cache_make(out->path, quantize_into, &a, err)) != 0)
		return qe_err_wrap(err, "level '%s'", out->name);
	if (s->mix)
		recipe_note(out->path, &s->r, im, im_hex[0] ? im_hex : NULL);
	return 0;
}

int qe_llamacpp_level_prepare(const char *src, const struct qe_level_spec *spec, const char *cache_dir,
			      int n_threads, struct qe_level *out, struct qe_err *err)
{
	struct qe_gguf_info gi;
	struct ll_spec s;
	int rc = parse_spec(spec, &s, err);

	if (rc)
		return rc;
	if (s.path) {
		snprintf(out->path, sizeof(out->path), "%s", s.path);
		out->reused = 1;
		rc = qe_gguf_read_info(s.path, &gi, err);
		return rc ? qe_err_wrap(err, "level '%s'", out->name) : 0;
	}
	snprintf(out->type, sizeof(out->type), "%s", s.r.type);
	return make_type(src, &s, cache_dir, n_threads, out, err);
}

/* "sha256" (memoised), "bytes" and "type" of a GGUF file into out; type is
 * the given one, else the file's own (null when it is none of ours). */
static int add_file_identity(const char *path, const char *type, const char *cache_dir, cJSON *out,
			     struct qe_err *err)
{
	struct qe_gguf_info gi;
	char hex[65];
	int rc = qe_gguf_read_info(path, &gi, err);

	if (rc == 0)
		rc = qe_level_source_hash(path, cache_dir, hex, err);
	if (rc)
		return rc;
	if (!type || !*type)
		type = qe_llamacpp_type_name(gi.file_type);
	cJSON_AddStringToObject(out, "sha256", hex);
	cJSON_AddNumberToObject(out, "bytes", (double)gi.file_bytes);
	if (type)
		cJSON_AddStringToObject(out, "type", type);
	else
		cJSON_AddNullToObject(out, "type");
	return 0;
}

/* a recipe level's recipe (its .recipe.json) and every tensor's type */
static void add_made_identity(const struct qe_level *lv, cJSON *out)
{
	char path[4200];
	cJSON *note = NULL, *tensors = cJSON_CreateObject();

	snprintf(path, sizeof(path), "%s.recipe.json", lv->path);
	if (qe_json_read_file(path, &note, NULL) == 0) {
		cJSON *r = cJSON_DetachItemFromObjectCaseSensitive(note, "recipe");
		if (r)
			cJSON_AddItemToObject(out, "recipe", r);
		cJSON_Delete(note);
	}
	if (qe_gguf_tensor_types(lv->path, tensors, NULL) == 0)
		cJSON_AddItemToObject(out, "tensor_types", tensors);
	else
		cJSON_Delete(tensors);
}

int qe_llamacpp_level_identity(const char *src, const struct qe_level *lv, const char *cache_dir, cJSON *out,
			       struct qe_err *err)
{
	char hex[65];
	int rc = add_file_identity(lv->path, lv->type, cache_dir, out, err);

	if (rc)
		return qe_err_wrap(err, "level '%s'", lv->name);
	/* a level made from the source: which source, which recipe */
	if (lv->type[0] && src && *src) {
		rc = qe_level_source_hash(src, cache_dir, hex, err);
		if (rc)
			return qe_err_wrap(err, "level '%s'", lv->name);
		cJSON_AddStringToObject(out, "source_sha256", hex);
		add_made_identity(lv, out);
	}
	return 0;
}

int qe_llamacpp_source_check(const char *src, struct qe_err *err)
{
	struct qe_gguf_info gi;

	if (!src || !*src)
		return qe_fail(err, QE_EINVAL, "no model file given");
	return qe_gguf_read_info(src, &gi, err);
}

int qe_llamacpp_source_identity(const char *src, const char *cache_dir, cJSON *out, struct qe_err *err)
{
	if (!src || !*src)
		return qe_fail(err, QE_EINVAL, "no model file given");
	return add_file_identity(src, NULL, cache_dir, out, err);
}
