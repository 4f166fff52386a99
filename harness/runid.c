/* qeval — a run directory's identity. See harness/runid.h. */
#include "harness/runid.h"
#include "harness/base/sha256.h"
#include "harness/base/text.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- data fingerprints ----------------------------------------------------- */

#define FP_MAX_DEPTH 8

struct fp_walk {
	char **lines;   /* "relname\tsize\tmtime_ns" */
	size_t n, cap;
	long long bytes;
};

static int fp_add(struct fp_walk *w, const char *rel, const struct stat *st)
{
	char line[4400];

	if (w->n == w->cap) {
		size_t nc = w->cap ? w->cap * 2 : 64;
		char **nl = realloc(w->lines, nc * sizeof(*nl));
		if (!nl)
			return -1;
		w->lines = nl;
		w->cap = nc;
	}
	snprintf(line, sizeof(line), "%s\t%lld\t%lld.%09ld", rel, (long long)st->st_size, (long long)st->st_mtim.tv_sec,
		 st->st_mtim.tv_nsec);
	if (!(w->lines[w->n] = strdup(line)))
		return -1;
	w->n++;
	w->bytes += (long long)st->st_size;
	return 0;
}

/* Every regular file under root/rel into w. */
static int fp_dir(struct fp_walk *w, const char *root, const char *rel, int depth, struct qe_err *err)
{
	char path[4200], sub[4200];
	struct dirent *de;
	struct stat st;
	DIR *d;
	int rc = 0;

	snprintf(path, sizeof(path), "%s%s%s", root, rel[0] ? "/" : "", rel);
	if (!(d = opendir(path)))
		return qe_fail(err, QE_EIO, "cannot read the folder '%s': %s", path, strerror(errno));
	while (rc == 0 && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof(sub), "%s%s%s", rel, rel[0] ? "/" : "", de->d_name);
		snprintf(path, sizeof(path), "%s/%s", root, sub);
		if (stat(path, &st) != 0)
			continue; /* a dangling link is no data */
		if (S_ISDIR(st.st_mode) && depth < FP_MAX_DEPTH)
			rc = fp_dir(w, root, sub, depth + 1, err);
		else if (S_ISREG(st.st_mode) && fp_add(w, sub, &st) != 0)
			rc = qe_fail(err, QE_ENOMEM, "out of memory");
	}
	closedir(d);
	return rc;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int qe_data_fingerprint(const char *path, cJSON *out, struct qe_err *err)
{
	struct fp_walk w = { 0 };
	struct qe_sha256 sh;
	unsigned char dg[32];
	char hex[65];
	struct stat st;
	int rc = 0;

	if (stat(path, &st) != 0)
		return qe_fail(err, errno == ENOENT ? QE_ENOENT : QE_EIO, "cannot read '%s': %s", path, strerror(errno));
	if (S_ISDIR(st.st_mode))
		rc = fp_dir(&w, path, "", 0, err);
	else if (fp_add(&w, "", &st) != 0)
		rc = qe_fail(err, QE_ENOMEM, "out of memory");
	if (rc == 0) {
		qsort(w.lines, w.n, sizeof(*w.lines), cmp_str);
		qe_sha256_init(&sh);
		for (size_t i = 0; i < w.n; i++) {
			qe_sha256_update(&sh, w.lines[i], strlen(w.lines[i]));
			qe_sha256_update(&sh, "\n", 1);
		}
		qe_sha256_final(&sh, dg);
		for (int i = 0; i < 32; i++)
			snprintf(hex + 2 * i, 3, "%02x", dg[i]);
		cJSON_AddNumberToObject(out, "files", (double)w.n);
		cJSON_AddNumberToObject(out, "bytes", (double)w.bytes);
		cJSON_AddStringToObject(out, "fingerprint", hex);
	}
	for (size_t i = 0; i < w.n; i++)
		free(w.lines[i]);
	free(w.lines);
	return rc;
}

/* ---- comparing ------------------------------------------------------------- */

/* v as short text for a message ("(none)" when absent) */
static void short_text(const cJSON *v, char *buf, size_t cap)
{
	char *t = v ? cJSON_PrintUnformatted(v) : NULL;

	if (!t) {
		snprintf(buf, cap, "(none)");
		return;
	}
	if (strlen(t) > 80)
		snprintf(buf, cap, "%.77s...", t);
	else
		snprintf(buf, cap, "%s", t);
	cJSON_free(t);
}

static int differ_at(const char *path, const cJSON *was, const cJSON *now, char *buf, size_t cap)
{
	char a[96], b[96];

	short_text(now, a, sizeof(a));
	short_text(was, b, sizeof(b));
	snprintf(buf, cap, "%s: %s, the run's: %s", path[0] ? path : "(the whole)", a, b);
	return 1;
}

static int diff_at(const char *path, const cJSON *was, const cJSON *now, char *buf, size_t cap)
{
	char sub[512];
	const cJSON *c;
	int i = 0;

	if (!was || !now || (was->type & 0xff) != (now->type & 0xff))
		return differ_at(path, was, now, buf, cap);
	if (cJSON_IsObject(now)) {
		cJSON_ArrayForEach(c, now) {
			snprintf(sub, sizeof(sub), "%s%s%s", path, path[0] ? "." : "", c->string);
			if (diff_at(sub, cJSON_GetObjectItemCaseSensitive(was, c->string), c, buf, cap))
				return 1;
		}
		cJSON_ArrayForEach(c, was) {
			snprintf(sub, sizeof(sub), "%s%s%s", path, path[0] ? "." : "", c->string);
			if (!cJSON_GetObjectItemCaseSensitive(now, c->string))
				return differ_at(sub, c, NULL, buf, cap);
		}
		return 0;
	}
	if (cJSON_IsArray(now)) {
		if (cJSON_GetArraySize(now) != cJSON_GetArraySize(was))
			return differ_at(path, was, now, buf, cap);
		cJSON_ArrayForEach(c, now) {
			snprintf(sub, sizeof(sub), "%s[%d]", path, i);
			if (diff_at(sub, cJSON_GetArrayItem(was, i), c, buf, cap))
				return 1;
			i++;
		}
		return 0;
	}
	return cJSON_Compare(was, now, 1) ? 0 : differ_at(path, was, now, buf, cap);
}

int qe_runid_diff(const cJSON *was, const cJSON *now, char *buf, size_t cap)
{
	buf[0] = '\0';
	return diff_at("", was, now, buf, cap);
}
