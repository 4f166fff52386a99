/* qeval — the llamacpp runtime's levels: a quantization type made from an
 * F16, BF16 or F32 GGUF source into the cache, or a GGUF file as it is.
 *
 * Specs (docs/extending.md):
 *   text   "Q4_K_M" (any case)          a type made from the source
 *          "NAME=PATH", "x.gguf", "a/b"  a file
 *   object {"type": "Q4_K_M"} or {"path": "x.gguf"}, with "name" and
 *          "runtime" as for every runtime; exactly one of type and path.
 */
#include "runtimes/llamacpp.h"
#include "runtimes/gguf_info.h"
#include "harness/base/json.h"
#include "harness/base/sys.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* general.file_type values of unquantized files (llama_ftype) */
enum { FT_F32 = 0, FT_F16 = 1, FT_BF16 = 32 };

/* What a spec asks for: a type to make or a file to take, and the name it
 * gives (before the wrapper's "name" and clean-up). */
struct ll_spec {
	const char *type;  /* canonical type name, NULL for a file */
	const char *path;  /* the file, NULL for a type */
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

static int parse_text(const char *text, struct ll_spec *s, struct qe_err *err)
{
	const char *eq = strchr(text, '=');

	if (eq) {
		snprintf(s->name, sizeof(s->name), "%.*s", (int)(eq - text), text);
		s->path = eq + 1;
	} else if (is_file_spec(text)) {
		stem(text, s->name, sizeof(s->name));
		s->path = text;
	} else {
		s->type = qe_level_quant_type(&qe_llamacpp_ops, text);
		if (!s->type)
			return qe_fail(err, QE_EINVAL,
				       "unknown level '%s': not a %s quantization type (see 'qeval list') nor a .gguf file",
				       text, qe_llamacpp_ops.name);
		snprintf(s->name, sizeof(s->name), "%s", s->type);
	}
	return 0;
}

static int parse_obj(const struct qe_level_spec *spec, struct ll_spec *s, struct qe_err *err)
{
	const char *type = qe_json_str(spec->obj, "type", NULL);
	char label[128];

	qe_level_spec_label(spec, label, sizeof(label));
	s->path = qe_json_str(spec->obj, "path", NULL);
	if (!type == !s->path)
		return qe_fail(err, QE_EINVAL, "level '%s': give \"type\" (a quantization type) or \"path\" (a .gguf file), one of them",
			       label);
	if (s->path) {
		stem(s->path, s->name, sizeof(s->name));
		return 0;
	}
	s->type = qe_level_quant_type(&qe_llamacpp_ops, type);
	if (!s->type)
		return qe_fail(err, QE_EINVAL, "level '%s': unknown %s quantization type '%s' (see 'qeval list')", label,
			       qe_llamacpp_ops.name, type);
	snprintf(s->name, sizeof(s->name), "%s", s->type);
	return 0;
}

static int parse_spec(const struct qe_level_spec *spec, struct ll_spec *s, struct qe_err *err)
{
	static const char *const keys[] = { "type", "path", NULL };
	int rc;

	memset(s, 0, sizeof(*s));
	if (!spec->obj)
		return parse_text(spec->text, s, err);
	rc = qe_level_spec_check_keys(qe_llamacpp_ops.name, spec, keys, err);
	return rc ? rc : parse_obj(spec, s, err);
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
	const char *src, *type;
	int n_threads;
};

static int quantize_into(const char *tmp, void *arg, struct qe_err *err)
{
	const struct quantize_arg *a = arg;

	return qe_llamacpp_ops.quantize(a->src, a->type, tmp, a->n_threads, err);
}

/* Level `type` of the source: the source itself when it already is that
 * type, else made into the cache (reused when a whole file is there). */
static int make_type(const char *src, const char *type, const char *cache_dir, int n_threads, struct qe_level *out,
		     struct qe_err *err)
{
	struct quantize_arg a = { src, type, n_threads };
	struct qe_gguf_info gi;
	char file[64];
	int rc, ft;

	rc = qe_gguf_read_info(src, &gi, err);
	if (rc)
		return rc;
	ft = gi.file_type;
	if ((ft == FT_F16 && !strcmp(type, "F16")) || (ft == FT_F32 && !strcmp(type, "F32")) ||
	    (ft == FT_BF16 && !strcmp(type, "BF16"))) {
		snprintf(out->path, sizeof(out->path), "%s", src);
		out->reused = 1;
		return 0;
	}
	if (ft != FT_F16 && ft != FT_F32 && ft != FT_BF16 && ft != -1)
		return qe_fail(err, QE_EINPUT,
			       "'%s' is already quantized (file type %d): levels are made from an F16, BF16 or F32 file; give quantized files as levels NAME=PATH",
			       src, ft);
	snprintf(file, sizeof(file), "%s.gguf", type);
	rc = qe_level_cache_path(cache_dir, src, file, out->path, sizeof(out->path), err);
	if (rc)
		return rc;
	if (qe_gguf_read_info(out->path, &gi, NULL) == 0) {
		out->reused = 1;
		return 0;
	}
	return qe_level_cache_make(out->path, quantize_into, &a, err);
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
	snprintf(out->type, sizeof(out->type), "%s", s.type);
	return make_type(src, s.type, cache_dir, n_threads, out, err);
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

int qe_llamacpp_level_identity(const char *src, const struct qe_level *lv, const char *cache_dir, cJSON *out,
			       struct qe_err *err)
{
	char hex[65];
	int rc = add_file_identity(lv->path, lv->type, cache_dir, out, err);

	if (rc)
		return qe_err_wrap(err, "level '%s'", lv->name);
	/* a level made from the source: which source */
	if (lv->type[0] && src && *src) {
		rc = qe_level_source_hash(src, cache_dir, hex, err);
		if (rc)
			return qe_err_wrap(err, "level '%s'", lv->name);
		cJSON_AddStringToObject(out, "source_sha256", hex);
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
