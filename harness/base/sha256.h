/* qeval — SHA-256 (FIPS 180-4), for content-addressed caches. */
#ifndef QE_SHA256_H
#define QE_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "harness/base/err.h"

struct qe_sha256 {
	uint32_t h[8];
	uint64_t n_bytes;
	unsigned char buf[64];
	size_t n_buf;
};

void qe_sha256_init(struct qe_sha256 *s);
void qe_sha256_update(struct qe_sha256 *s, const void *data, size_t n);
/* Writes 32 bytes to out. */
void qe_sha256_final(struct qe_sha256 *s, unsigned char out[32]);

/* Whether the x86 SHA extensions compute the blocks: want 1 = where the CPU
 * has them (the default), 0 = the portable code (tests compare the two),
 * -1 = only ask. Returns 1 when they are used. Not thread-safe when it
 * changes the choice. */
int qe_sha256_accel(int want);

/* Hex digest (64 chars + NUL) of a whole file; QE_ENOENT / QE_EIO naming it. */
int qe_sha256_file(const char *path, char hex[65], struct qe_err *err);

#endif
