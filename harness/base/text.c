/* qeval — the text buffer and whole-file I/O. See harness/base/text.h. */
#include "harness/base/text.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void qe_text_init(struct qe_text *t)
{
	memset(t, 0, sizeof(*t));
}

void qe_text_release(struct qe_text *t)
{
	free(t->s);
	memset(t, 0, sizeof(*t));
}

const char *qe_text_str(const struct qe_text *t)
{
	return t->s ? t->s : "";
}

int qe_text_ok(const struct qe_text *t, struct qe_err *err)
{
	return t->oom ? qe_fail(err, QE_ENOMEM, "out of memory building a report") : 0;
}

char *qe_text_take(struct qe_text *t)
{
	char *s;

	if (t->oom) {
		qe_text_release(t);
		return NULL;
	}
	s = t->s ? t->s : strdup("");
	memset(t, 0, sizeof(*t));
	return s;
}

/* Make room for n more bytes plus the NUL; 0 or -1 (oom set). */
static int grow(struct qe_text *t, size_t n)
{
	size_t want, cap;
	char *p;

	if (t->oom)
		return -1;
	want = t->len + n + 1;
	if (want <= t->cap)
		return 0;
	cap = t->cap ? t->cap : 256;
	while (cap < want)
		cap *= 2;
	p = realloc(t->s, cap);
	if (!p) {
		t->oom = 1;
		return -1;
	}
	t->s = p;
	t->cap = cap;
	return 0;
}

void qe_text_putn(struct qe_text *t, const char *s, size_t n)
{
	if (!n || grow(t, n))
		return;
	memcpy(t->s + t->len, s, n);
	t->len += n;
	t->s[t->len] = '\0';
}

void qe_text_put(struct qe_text *t, const char *s)
{
	if (s)
		qe_text_putn(t, s, strlen(s));
}

void qe_text_putc(struct qe_text *t, char c)
{
	qe_text_putn(t, &c, 1);
}

void qe_text_printf(struct qe_text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n <= 0 || grow(t, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(t->s + t->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	t->len += (size_t)n;
}

int qe_text_save(const struct qe_text *t, const char *path, struct qe_err *err)
{
	if (t->oom)
		return qe_fail(err, QE_ENOMEM, "out of memory building '%s'", path);
	return qe_file_write_atomic(path, t->s ? t->s : "", t->len, err);
}

/* fsync the folder holding path, so the rename itself survives a crash
 * (best effort: some file systems refuse it) */
static void sync_dir(const char *path)
{
	char dir[4200];
	const char *slash = strrchr(path, '/');
	int fd;

	snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - path) + (slash == path) : 1, slash ? path : ".");
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

/* PATH.tmp.PID (the name qe_clean_stale_tmp knows) opened for writing into
 * *f and tmp; 0, or an error naming path */
static int tmp_open(const char *path, char *tmp, size_t cap, FILE **f, struct qe_err *err)
{
	if (snprintf(tmp, cap, "%s.tmp.%ld", path, (long)getpid()) >= (int)cap)
		return qe_fail(err, QE_EINVAL, "path too long: '%s'", path);
	if (!(*f = fopen(tmp, "wb")))
		return qe_fail(err, QE_EIO, "cannot write '%s': %s", path, strerror(errno));
	return 0;
}

/* flush, fsync and close f (the file tmp), then rename it to path and sync
 * the folder; bad = an earlier write failed. Errors name what (static text
 * of the caller: "write 'PATH'"), the temporary file is removed. */
static int tmp_commit(FILE *f, const char *tmp, const char *path, int bad, const char *what, struct qe_err *err)
{
	bad |= fflush(f) != 0;
	bad |= fsync(fileno(f)) != 0;
	bad |= fclose(f) != 0;
	if (bad || rename(tmp, path) != 0) {
		int e = errno;
		unlink(tmp);
		return qe_fail(err, QE_EIO, "cannot %s: %s", what, strerror(e));
	}
	sync_dir(path);
	return 0;
}

int qe_file_write_atomic(const char *path, const void *data, size_t len, struct qe_err *err)
{
	char tmp[4200], what[4300];
	FILE *f;
	int rc = tmp_open(path, tmp, sizeof(tmp), &f, err);

	if (rc)
		return rc;
	snprintf(what, sizeof(what), "write '%s'", path);
	return tmp_commit(f, tmp, path, len && fwrite(data, 1, len, f) != len, what, err);
}

int qe_file_copy(const char *src, const char *dst, struct qe_err *err)
{
	char tmp[4200], what[8500], buf[1 << 16];
	FILE *in, *out;
	size_t n;
	int bad = 0, rc;

	if (!(in = fopen(src, "rb")))
		return qe_fail(err, errno == ENOENT ? QE_ENOENT : QE_EIO, "cannot read '%s': %s", src, strerror(errno));
	if ((rc = tmp_open(dst, tmp, sizeof(tmp), &out, err)) != 0) {
		fclose(in);
		return rc;
	}
	while (!bad && (n = fread(buf, 1, sizeof(buf), in)) > 0)
		bad = fwrite(buf, 1, n, out) != n;
	bad |= ferror(in);
	fclose(in);
	snprintf(what, sizeof(what), "copy '%s' to '%s'", src, dst);
	return tmp_commit(out, tmp, dst, bad, what, err);
}

int qe_file_read(const char *path, char **out, size_t *len, struct qe_err *err)
{
	struct qe_text t = { 0 };
	char chunk[65536];
	size_t n;
	FILE *f;

	*out = NULL;
	f = fopen(path, "rb");
	if (!f)
		return qe_fail(err, errno == ENOENT ? QE_ENOENT : QE_EIO, "cannot read '%s': %s", path,
			       strerror(errno));
	{
		struct stat st;
		if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) { /* a bad input, not an I/O failure */
			fclose(f);
			return qe_fail(err, QE_EINPUT, "cannot read '%s': a folder, not a file", path);
		}
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		qe_text_putn(&t, chunk, n);
	if (ferror(f)) {
		fclose(f);
		qe_text_release(&t);
		return qe_fail(err, QE_EIO, "cannot read '%s'", path);
	}
	fclose(f);
	if (len)
		*len = t.len;
	*out = qe_text_take(&t);
	return *out ? 0 : qe_fail(err, QE_ENOMEM, "out of memory reading '%s'", path);
}
