/* qeval — a growable text buffer and whole-file I/O, for every folder.
 *
 * A struct qe_text is caller-owned storage: zero it (or qe_text_init), append,
 * then qe_text_release. Appends never fail visibly: on allocation failure the
 * buffer is marked (oom = 1) and later appends are ignored, so a writer checks
 * once at the end (qe_text_ok). Not thread-safe on one buffer.
 */
#ifndef QE_BASE_TEXT_H
#define QE_BASE_TEXT_H

#include <stddef.h>
#include <stdio.h>

#include "harness/base/err.h"

struct qe_text {
	char *s;     /* NUL-terminated contents, NULL while empty; owned */
	size_t len;  /* bytes, without the NUL */
	size_t cap;  /* bytes allocated */
	int oom;     /* 1 after an allocation failed */
};

void qe_text_init(struct qe_text *t);
void qe_text_release(struct qe_text *t);
/* Contents as a string ("" while empty); valid until the next append or release. */
const char *qe_text_str(const struct qe_text *t);
/* 0, or QE_ENOMEM (filled in err) when an append failed. */
int qe_text_ok(const struct qe_text *t, struct qe_err *err);
/* Take the contents (caller frees with free()); t is left empty. NULL on oom. */
char *qe_text_take(struct qe_text *t);

void qe_text_put(struct qe_text *t, const char *s);
void qe_text_putn(struct qe_text *t, const char *s, size_t n);
void qe_text_putc(struct qe_text *t, char c);
void qe_text_printf(struct qe_text *t, const char *fmt, ...) QE_PRINTF(2, 3);

/* Write the whole buffer to path: a temporary file beside it, fsync, rename,
 * so a reader sees the old file or the new one, never a torn one. */
int qe_text_save(const struct qe_text *t, const char *path, struct qe_err *err);

/* Write len bytes to path the same way (temp + fsync + rename, then fsync
 * of the folder). The temporary name is PATH.tmp.PID: one a killed process
 * leaves is removed by qe_clean_stale_tmp (harness/base/sys.h). */
int qe_file_write_atomic(const char *path, const void *data, size_t len, struct qe_err *err);

/* Copy src to dst the same way, in pieces (a file of any size). QE_ENOENT
 * when src does not exist, QE_EIO naming the file that failed. */
int qe_file_copy(const char *src, const char *dst, struct qe_err *err);

/* Read a whole file into a new NUL-terminated buffer (caller frees); *len may
 * be NULL. QE_ENOENT when it does not exist, QE_EINPUT when it is a folder,
 * QE_EIO when it cannot be read. */
int qe_file_read(const char *path, char **out, size_t *len, struct qe_err *err);

#endif
