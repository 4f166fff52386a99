/* qeval — levels: the wrappers of the level ops, their defaults, and the
 * cache helpers every runtime may use.
 *
 * The wrappers pick the runtime of a level (its object's "runtime", else the
 * run's), check what is common to every spec (a text or an object; "name"
 * and "runtime" strings), call the runtime's member or the default, and
 * finish the name ('/' and spaces become '_': names are folder names).
 *
 * Cache layout (docs/formats.md):  <cache>/quant/<sha256 of the source>/<file>
 * The key is the source file's content, so a renamed or copied source reuses
 * its levels and a changed one never does. Files are written under a
 * temporary name and renamed, so an interrupted quantization leaves nothing
 * that looks finished. File hashes are memoised in <cache>/hashes.tsv by
 * (absolute path, size, mtime) so a 15 GB file is hashed once.
 */
#include "runtimes/runtime_impl.h"
#include "harness/base/json.h"
#include "harness/base/sha256.h"
#include "harness/base/sys.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* ======================================================================
 * The cache
 * ====================================================================== */

/* cache_dir, or qe_cache_dir() when it is NULL or "". */
static void cache_of(const char *cache_dir, char *buf, size_t cap)
{
	if (cache_dir && *cache_dir)
		snprintf(buf, cap, "%s", cache_dir);
	else
		qe_cache_dir(buf, cap);
}

int qe_level_source_hash(const char *src, const char *cache_dir, char hex[65], struct qe_err *err)
{
	char cache[4096], memo[4200], abs[PATH_MAX], line[PATH_MAX + 128];
	struct stat st;
	FILE *f;
	int rc;

	if (!realpath(src, abs) || stat(abs, &st) != 0)
		return qe_fail(err, QE_ENOENT, "cannot open '%s': %s", src, strerror(errno));
	cache_of(cache_dir, cache, sizeof(cache));
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

int qe_level_cache_path(const char *cache_dir, const char *src, const char *file, char *path, size_t cap,
			struct qe_err *err)
{
	char cache[4096], dir[4200], hex[65];
	int rc;

	cache_of(cache_dir, cache, sizeof(cache));
	if (qe_mkdirs(cache, 0755) != 0)
		return qe_fail(err, QE_EIO, "cannot create cache folder '%s': %s", cache, strerror(errno));
	rc = qe_level_source_hash(src, cache, hex, err);
	if (rc)
		return rc;
	snprintf(dir, sizeof(dir), "%s/quant/%s", cache, hex);
	if (qe_mkdirs(dir, 0755) != 0)
		return qe_fail(err, QE_EIO, "cannot create cache folder '%s': %s", dir, strerror(errno));
	snprintf(path, cap, "%s/%s", dir, file);
	return 0;
}

/* One maker of a cache file at a time: processes sharing the cache (the
 * shards of a run, the ranks of mpirun) wait on PATH.lock (flock) for the
 * first, then find its file. Returns the held descriptor, -1 without a
 * lock (it could not be made, or a stop interrupted the wait). */
static int cache_lock(const char *path)
{
	char lk[4200];
	int fd;

	snprintf(lk, sizeof(lk), "%s.lock", path);
	if ((fd = open(lk, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0)
		return -1;
	while (flock(fd, LOCK_EX) != 0)
		if (errno != EINTR || qe_stop_signal()) {
			close(fd);
			return -1;
		}
	return fd;
}

int qe_level_cache_make(const char *path, qe_level_make_fn make, void *arg, struct qe_err *err)
{
	char tmp[4200];
	int rc, lock = cache_lock(path);

	if (lock >= 0 && access(path, F_OK) == 0) { /* another process made it meanwhile */
		close(lock);
		return 0;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
	rc = make(tmp, arg, err);
	if (rc) {
		unlink(tmp);
	} else if (rename(tmp, path) != 0) {
		unlink(tmp);
		rc = qe_fail(err, QE_EIO, "cannot write '%s': %s", path, strerror(errno));
	}
	if (lock >= 0)
		close(lock); /* releases the lock */
	return rc;
}

/* ======================================================================
 * Specs
 * ====================================================================== */

const char *qe_level_spec_label(const struct qe_level_spec *spec, char *buf, size_t cap)
{
	const char *name = spec->obj ? qe_json_str(spec->obj, "name", NULL) : NULL;
	char *printed;

	if (spec->text || name) {
		snprintf(buf, cap, "%s", spec->text ? spec->text : name);
		return buf;
	}
	printed = spec->obj ? cJSON_PrintUnformatted(spec->obj) : NULL;
	snprintf(buf, cap, "%s", printed ? printed : "?");
	free(printed);
	return buf;
}

int qe_level_spec_from_json(const cJSON *item, int index, struct qe_level_spec *spec, struct qe_err *err)
{
	memset(spec, 0, sizeof(*spec));
	if (cJSON_IsString(item))
		spec->text = item->valuestring;
	else if (cJSON_IsObject(item))
		spec->obj = item;
	else
		return qe_fail(err, QE_EINVAL, "plan: levels[%d] is neither a string nor an object", index);
	return 0;
}

const char *qe_level_quant_type(const struct qe_runtime_ops *ops, const char *name)
{
	if (!ops->quant_types || !name)
		return NULL;
	for (const char *const *t = ops->quant_types; *t; t++)
		if (!strcasecmp(*t, name))
			return *t;
	return NULL;
}

int qe_level_spec_check_keys(const char *runtime, const struct qe_level_spec *spec, const char *const *keys,
			     struct qe_err *err)
{
	const cJSON *k;
	char label[128];

	cJSON_ArrayForEach(k, spec->obj) {
		int known = !strcmp(k->string, "name") || !strcmp(k->string, "runtime");
		for (const char *const *p = keys; *p && !known; p++)
			known = !strcmp(k->string, *p);
		if (!known)
			return qe_fail(err, QE_EINVAL, "level '%s': unknown key '%s' for runtime '%s'",
				       qe_level_spec_label(spec, label, sizeof(label)), k->string, runtime);
		if (!cJSON_IsString(k) || !*k->valuestring)
			return qe_fail(err, QE_EINVAL, "level '%s': \"%s\" is not a non-empty string",
				       qe_level_spec_label(spec, label, sizeof(label)), k->string);
	}
	return 0;
}

/* The runtime of a level: spec->obj's "runtime", else runtime. Checks
 * what every spec must be. */
static int spec_ops(const char *runtime, const struct qe_level_spec *spec, const struct qe_runtime_ops **ops,
		    struct qe_err *err)
{
	const cJSON *r, *n;
	char label[128];
	int rc;

	*ops = NULL;
	if (!spec || (!spec->text && !spec->obj) || (spec->text && !*spec->text))
		return qe_fail(err, QE_EINVAL, "empty level name");
	if (spec->text && spec->obj)
		return qe_fail(err, QE_EINVAL, "level '%s' is given as a text and as an object", spec->text);
	if (spec->obj) {
		qe_level_spec_label(spec, label, sizeof(label));
		if (!cJSON_IsObject(spec->obj))
			return qe_fail(err, QE_EINVAL, "level '%s' is not an object", label);
		r = cJSON_GetObjectItemCaseSensitive(spec->obj, "runtime");
		n = cJSON_GetObjectItemCaseSensitive(spec->obj, "name");
		if (r && (!cJSON_IsString(r) || !*r->valuestring))
			return qe_fail(err, QE_EINVAL, "level '%s': \"runtime\" is not a runtime name", label);
		if (n && (!cJSON_IsString(n) || !*n->valuestring))
			return qe_fail(err, QE_EINVAL, "level '%s': \"name\" is not a non-empty string", label);
		if (r)
			runtime = r->valuestring;
	}
	rc = qe_runtime_lookup(runtime, ops, err);
	return rc ? qe_err_wrap(err, "level '%s'", qe_level_spec_label(spec, label, sizeof(label))) : 0;
}

/* ======================================================================
 * Defaults: a level is a model the runtime opens as it is, or one of its
 * quantization types made by ops->quantize
 * ====================================================================== */

int qe_level_default_name(const struct qe_runtime_ops *ops, const struct qe_level_spec *spec, char *name,
			  size_t cap, struct qe_err *err)
{
	static const char *const keys[] = { "model", "url", NULL };
	const char *eq, *t;
	char label[128];
	int rc;

	if (spec->obj) {
		rc = qe_level_spec_check_keys(ops->name, spec, keys, err);
		if (rc)
			return rc;
		t = qe_json_str(spec->obj, "model", NULL);
		if (!t)
			return qe_fail(err, QE_EINVAL, "level '%s' names no \"model\" for runtime '%s'",
				       qe_level_spec_label(spec, label, sizeof(label)), ops->name);
		snprintf(name, cap, "%s", t);
		return 0;
	}
	eq = strchr(spec->text, '=');
	t = qe_level_quant_type(ops, spec->text);
	if (eq)
		snprintf(name, cap, "%.*s", (int)(eq - spec->text), spec->text);
	else
		snprintf(name, cap, "%s", t ? t : spec->text);
	return 0;
}

struct quantize_arg {
	const struct qe_runtime_ops *ops;
	const char *src, *type;
	int n_threads;
};

static int quantize_into(const char *tmp, void *arg, struct qe_err *err)
{
	const struct quantize_arg *a = arg;

	return a->ops->quantize(a->src, a->type, tmp, a->n_threads, err);
}

int qe_level_default_prepare(const struct qe_runtime_ops *ops, const char *src, const struct qe_level_spec *spec,
			     const char *cache_dir, int n_threads, struct qe_level *out, struct qe_err *err)
{
	const char *eq = spec->text ? strchr(spec->text, '=') : NULL;
	const char *t = spec->text ? qe_level_quant_type(ops, spec->text) : NULL;
	struct quantize_arg a = { ops, src, t, n_threads };
	int rc;

	out->reused = 1;
	if (spec->obj) {
		snprintf(out->path, sizeof(out->path), "%s", qe_json_str(spec->obj, "model", ""));
		snprintf(out->url, sizeof(out->url), "%s", qe_json_str(spec->obj, "url", ""));
		return 0;
	}
	if (eq || !t) {
		snprintf(out->path, sizeof(out->path), "%s", eq ? eq + 1 : spec->text);
		return 0;
	}
	if (!ops->quantize)
		return qe_fail(err, QE_ENOTSUP, "runtime '%s' cannot produce level '%s'", ops->name, t);
	snprintf(out->type, sizeof(out->type), "%s", t);
	rc = qe_level_cache_path(cache_dir, src, t, out->path, sizeof(out->path), err);
	if (rc || access(out->path, F_OK) == 0)
		return rc;
	out->reused = 0;
	return qe_level_cache_make(out->path, quantize_into, &a, err);
}

/* ======================================================================
 * The wrappers
 * ====================================================================== */

/* The level's name by ops (member or default), the object's "name" winning;
 * a folder name: '/' and spaces become '_'. */
static int spec_name(const struct qe_runtime_ops *ops, const struct qe_level_spec *spec, char *name, size_t cap,
		     struct qe_err *err)
{
	int (*fn)(const struct qe_level_spec *, char *, size_t, struct qe_err *) = QE_OPS_MEMBER(ops, level_name);
	const char *given = spec->obj ? qe_json_str(spec->obj, "name", NULL) : NULL;
	char label[128];
	int rc;

	rc = fn ? fn(spec, name, cap, err) : qe_level_default_name(ops, spec, name, cap, err);
	if (rc)
		return rc;
	if (given)
		snprintf(name, cap, "%s", given);
	for (char *p = name; *p; p++)
		if (*p == '/' || isspace((unsigned char)*p))
			*p = '_';
	if (!*name)
		return qe_fail(err, QE_EINVAL, "level '%s' has an empty name",
			       qe_level_spec_label(spec, label, sizeof(label)));
	return 0;
}

int qe_level_spec_name(const char *runtime, const struct qe_level_spec *spec, char *name, size_t cap,
		       struct qe_err *err)
{
	const struct qe_runtime_ops *ops;
	int rc = spec_ops(runtime, spec, &ops, err);

	return rc ? rc : spec_name(ops, spec, name, cap, err);
}

int qe_level_spec_prepare(const char *runtime, const char *src, const struct qe_level_spec *spec,
			  const char *cache_dir, int n_threads, struct qe_level *out, struct qe_err *err)
{
	int (*fn)(const char *, const struct qe_level_spec *, const char *, int, struct qe_level *, struct qe_err *);
	const struct qe_runtime_ops *ops;
	char cache[4096];
	int rc;

	memset(out, 0, sizeof(*out));
	rc = spec_ops(runtime, spec, &ops, err);
	if (rc == 0)
		rc = spec_name(ops, spec, out->name, sizeof(out->name), err);
	if (rc)
		return rc;
	snprintf(out->runtime, sizeof(out->runtime), "%s", ops->name);
	cache_of(cache_dir, cache, sizeof(cache));
	fn = QE_OPS_MEMBER(ops, level_prepare);
	if (fn)
		return fn(src, spec, cache, n_threads, out, err);
	return qe_level_default_prepare(ops, src, spec, cache, n_threads, out, err);
}

int qe_level_name(const char *runtime, const char *spec, char *name, size_t cap, struct qe_err *err)
{
	struct qe_level_spec s = { .text = spec };

	return qe_level_spec_name(runtime, &s, name, cap, err);
}

int qe_level_prepare(const char *runtime, const char *src, const char *spec, const char *cache_dir,
		     int n_threads, struct qe_level *out, struct qe_err *err)
{
	struct qe_level_spec s = { .text = spec };

	return qe_level_spec_prepare(runtime, src, &s, cache_dir, n_threads, out, err);
}

int qe_level_identity(const char *src, const struct qe_level *lv, const char *cache_dir, cJSON *out,
		      struct qe_err *err)
{
	int (*fn)(const char *, const struct qe_level *, const char *, cJSON *, struct qe_err *);
	const struct qe_runtime_ops *ops;
	char cache[4096];
	int rc = qe_runtime_lookup(lv->runtime, &ops, err);

	if (rc)
		return rc;
	fn = QE_OPS_MEMBER(ops, level_identity);
	if (!fn)
		return qe_fail(err, QE_ENOTSUP, "runtime '%s' cannot say what level '%s' is made of", ops->name, lv->name);
	cache_of(cache_dir, cache, sizeof(cache));
	return fn(src, lv, cache, out, err);
}

int qe_level_source_check(const char *runtime, const char *src, struct qe_err *err)
{
	int (*fn)(const char *, struct qe_err *);
	const struct qe_runtime_ops *ops;
	int rc = qe_runtime_lookup(runtime, &ops, err);

	if (rc)
		return rc;
	fn = QE_OPS_MEMBER(ops, source_check);
	return fn ? fn(src, err) : 0;
}

int qe_level_source_identity(const char *runtime, const char *src, const char *cache_dir, cJSON *out,
			     struct qe_err *err)
{
	int (*fn)(const char *, const char *, cJSON *, struct qe_err *);
	const struct qe_runtime_ops *ops;
	char cache[4096];
	int rc = qe_runtime_lookup(runtime, &ops, err);

	if (rc)
		return rc;
	fn = QE_OPS_MEMBER(ops, source_identity);
	if (!fn)
		return qe_fail(err, QE_ENOTSUP, "runtime '%s' cannot say what '%s' is made of", ops->name,
			       src ? src : "?");
	cache_of(cache_dir, cache, sizeof(cache));
	return fn(src, cache, out, err);
}

void qe_level_rt_params(const struct qe_level *lv, struct qe_rt_params *p)
{
	if (lv->runtime[0])
		p->runtime = lv->runtime;
	p->model = lv->path;
	if (lv->url[0])
		p->url = lv->url;
	p->level = lv->name;
}
