/* qeval — FNV-1a 64, the one non-cryptographic hash of the project (hash
 * tables, fingerprints of sentence sets). Content identity uses SHA-256
 * (harness/base/sha256.h). */
#ifndef QE_BASE_HASH_H
#define QE_BASE_HASH_H

#include <stddef.h>
#include <stdint.h>

#define QE_FNV1A_INIT 0xcbf29ce484222325ULL

/* Continue hash h over n bytes at p; start with QE_FNV1A_INIT. */
static inline uint64_t qe_fnv1a(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

#endif
