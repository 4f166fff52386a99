/* qeval — levels: a quantization type produced into the cache, or a file.
 *
 * Cache layout (docs/formats.md):  <cache>/quant/<sha256 of the source>/<TYPE>.gguf
 * The key is the source file's content, so a renamed or copied source reuses
 * its levels and a changed one never does. Files are written under a
 * temporary name and renamed, so an interrupted quantization leaves nothing
 * that looks finished. Source hashes are memoised in <cache>/hashes.tsv by
 * (absolute path, size, mtime) so a 15 GB file is hashed once.
 */
#include "runtimes/runtime_impl.h"
#include "runtimes/gguf_info.h"
#include "harness/base/sha256.h"
#include "harness/base/sys.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* general.file_type values of unquantized files (llama_ftype) */
enum { FT_F32 = 0, FT_F16 = 1, FT_BF16 = 32 };

int qe_level_source_hash(const char *src, const char *cache_dir, char hex[65], struct qe_err *err)
{
	char cache[4096], memo[4200], abs[PATH_MAX], line[PATH_MAX + 128];
	struct stat st;
	FILE *f;
	int rc;

	if (!realpath(src, abs) || stat(abs, &st) != 0)
		return qe_fail(err, QE_ENOENT, "cannot open '%s': %s", src, strerror(errno));
	qe_cache_dir(cache, sizeof(cache));
	if (cache_dir && *cache_dir)
		snprintf(cache, sizeof(cache), "%s", cache_dir);
	qe_mkdirs(cache, 0755);
	snprintf(memo, sizeof(memo), "%s/hashes.tsv", cache);
	f = fopen(memo, "r");
	if (f) {
		char key[PATH_MAX + 64];
		snprintf(key, sizeof(key), "%s\t%lld\t%lld.%09ld\t", abs, (long long)st.st_size,
			 (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
		while (fgets(line, sizeof(line), f)) {
			size_t kl = strlen(key);
			if (!strncmp(line, key, kl) && strlen(line + kl) >= 64) {
				memcpy(hex, line + kl, 64);
				hex[64] = '\0';
				fclose(f);
				return 0;
			}
		}
		fclose(f);
	}
	rc = qe_sha256_file(abs, hex, err);
	if (rc)
		return rc;
	f = fopen(memo, "a");
	if (f) {
		fprintf(f, "%s\t%lld\t%lld.%09ld\t%s\n", abs, (long long)st.st_size,
			(long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec, hex);
		fclose(f);
	}
	return 0;
}

static const char *canonical_type(const struct qe_runtime_ops *ops, const char *name)
{
	if (!ops->quant_types)
		return NULL;
	for (const char *const *t = ops->quant_types; *t; t++)
		if (!strcasecmp(*t, name))
			return *t;
	return NULL;
}

static int is_file_spec(const char *spec)
{
	size_t n = strlen(spec);
	return strchr(spec, '/') || (n > 5 && !strcasecmp(spec + n - 5, ".gguf"));
}

int qe_level_name(const char *runtime, const char *spec, char *name, size_t cap, struct qe_err *err)
{
	const char *eq = spec ? strchr(spec, '=') : NULL;
	size_t n = spec ? strlen(spec) : 0;

	if (!runtime)
		runtime = "llamacpp";
	if (!n)
		return qe_fail(err, QE_EINVAL, "empty level name");
	if (eq) {
		snprintf(name, cap, "%.*s", (int)(eq - spec), spec);
	} else if (is_file_spec(spec)) {
		const char *base = strrchr(spec, '/');
		snprintf(name, cap, "%s", base ? base + 1 : spec);
		n = strlen(name);
		if (n > 5 && !strcasecmp(name + n - 5, ".gguf"))
			name[n - 5] = '\0';
	} else {
		const struct qe_runtime_ops *ops = qe_runtime_find(runtime);
		const char *t = ops ? canonical_type(ops, spec) : NULL;
		if (t) {
			snprintf(name, cap, "%s", t);
			return 0;
		}
		return qe_fail(err, QE_EINVAL, "unknown level '%s': not a %s quantization type (see 'qeval list') nor a .gguf file",
			       spec, runtime);
	}
	for (char *p = name; *p; p++)
		if (*p == '/' || isspace((unsigned char)*p))
			*p = '_';
	if (!*name)
		return qe_fail(err, QE_EINVAL, "level '%s' has an empty name", spec);
	return 0;
}

int qe_level_prepare(const char *runtime, const char *src, const char *spec, const char *cache_dir,
		     int n_threads, struct qe_level *out, struct qe_err *err)
{
	const struct qe_runtime_ops *ops = qe_runtime_find(runtime);
	struct qe_gguf_info gi;
	const char *type, *eq;
	char cache[4096], dir[4096], hex[65], tmp[4200];
	int rc, src_type;

	memset(out, 0, sizeof(*out));
	if (!ops)
		return qe_fail(err, QE_EINVAL, "unknown runtime '%s'", runtime);
	rc = qe_level_name(ops->name, spec, out->name, sizeof(out->name), err);
	if (rc)
		return rc;

	/* a file the user already has: NAME=PATH, or a path */
	eq = strchr(spec, '=');
	if (eq || is_file_spec(spec)) {
		const char *path = eq ? eq + 1 : spec;
		snprintf(out->path, sizeof(out->path), "%s", path);
		out->reused = 1;
		rc = qe_gguf_read_info(path, &gi, err);
		return rc ? qe_err_wrap(err, "level '%s'", out->name) : 0;
	}
	type = out->name; /* the canonical type name */
	if (!ops->quantize)
		return qe_fail(err, QE_ENOTSUP, "runtime '%s' cannot produce level '%s'", ops->name, type);
	rc = qe_gguf_read_info(src, &gi, err);
	if (rc)
		return rc;
	src_type = gi.file_type;
	/* the source already is this level */
	if ((src_type == FT_F16 && !strcmp(type, "F16")) || (src_type == FT_F32 && !strcmp(type, "F32")) ||
	    (src_type == FT_BF16 && !strcmp(type, "BF16"))) {
		snprintf(out->path, sizeof(out->path), "%s", src);
		out->reused = 1;
		return 0;
	}
	if (src_type != FT_F16 && src_type != FT_F32 && src_type != FT_BF16 && src_type != -1)
		return qe_fail(err, QE_EINPUT,
			       "'%s' is already quantized (file type %d): levels are made from an F16, BF16 or F32 file; give quantized files as levels NAME=PATH",
			       src, src_type);

	qe_cache_dir(cache, sizeof(cache));
	if (cache_dir && *cache_dir)
		snprintf(cache, sizeof(cache), "%s", cache_dir);
	if (qe_mkdirs(cache, 0755) != 0)
		return qe_fail(err, QE_EIO, "cannot create cache folder '%s': %s", cache, strerror(errno));
	rc = qe_level_source_hash(src, cache, hex, err);
	if (rc)
		return rc;
	snprintf(dir, sizeof(dir), "%s/quant/%s", cache, hex);
	if (qe_mkdirs(dir, 0755) != 0)
		return qe_fail(err, QE_EIO, "cannot create cache folder '%s': %s", dir, strerror(errno));
	snprintf(out->path, sizeof(out->path), "%s/%s.gguf", dir, type);
	if (qe_gguf_read_info(out->path, &gi, NULL) == 0) {
		out->reused = 1;
		return 0;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", out->path, (long)getpid());
	rc = ops->quantize(src, type, tmp, n_threads, err);
	if (rc) {
		unlink(tmp);
		return rc;
	}
	if (rename(tmp, out->path) != 0) {
		unlink(tmp);
		return qe_fail(err, QE_EIO, "cannot write '%s': %s", out->path, strerror(errno));
	}
	return 0;
}
