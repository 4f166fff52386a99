#include "harness/base/sha256.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define QE_SHA_NI 1
#endif

static const uint32_t K[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static uint32_t ror(uint32_t x, int n)
{
	return (x >> n) | (x << (32 - n));
}

static void block(struct qe_sha256 *s, const unsigned char *p)
{
	uint32_t w[64], a, b, c, d, e, f, g, h;

	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (int i = 16; i < 64; i++) {
		uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
		uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
	a = s->h[0]; b = s->h[1]; c = s->h[2]; d = s->h[3];
	e = s->h[4]; f = s->h[5]; g = s->h[6]; h = s->h[7];
	for (int i = 0; i < 64; i++) {
		uint32_t t1 = h + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
		uint32_t t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
		h = g; g = f; f = e; e = d + t1;
		d = c; c = b; b = a; a = t1 + t2;
	}
	s->h[0] += a; s->h[1] += b; s->h[2] += c; s->h[3] += d;
	s->h[4] += e; s->h[5] += f; s->h[6] += g; s->h[7] += h;
}

#ifdef QE_SHA_NI
/* n blocks with the x86 SHA extensions (SHA-NI), about 8x the portable
 * code. The state is held as two vectors, (F, E, B, A) and (H, G, D, C) from
 * lane 0 up, the order sha256rnds2 takes; each step of 4 rounds first makes
 * the schedule's next 4 words, W[t] = s1(W[t-2]) + W[t-7] + s0(W[t-15]) +
 * W[t-16]: msg1 adds s0(W[t-15]) to W[t-16], alignr picks W[t-7], msg2 adds
 * s1(W[t-2]) word by word. */
__attribute__((target("sha,sse4.1"))) static void blocks_ni(uint32_t h[8], const unsigned char *p, size_t n)
{
	const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
	__m128i abcd = _mm_loadu_si128((const __m128i *)&h[0]), efgh = _mm_loadu_si128((const __m128i *)&h[4]);
	__m128i st0, st1, badc, hgfe;

	badc = _mm_shuffle_epi32(abcd, 0xB1);          /* (B, A, D, C) */
	hgfe = _mm_shuffle_epi32(efgh, 0x1B);          /* (H, G, F, E) */
	st0 = _mm_alignr_epi8(badc, hgfe, 8);          /* (F, E, B, A) */
	st1 = _mm_blend_epi16(hgfe, badc, 0xF0);       /* (H, G, D, C) */
	for (; n > 0; n--, p += 64) {
		__m128i save0 = st0, save1 = st1, m[4];
		for (int j = 0; j < 16; j++) {
			__m128i x, k;
			if (j < 4) {
				x = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * j)), bswap);
			} else {
				x = _mm_sha256msg1_epu32(m[j & 3], m[(j - 3) & 3]);
				x = _mm_add_epi32(x, _mm_alignr_epi8(m[(j - 1) & 3], m[(j - 2) & 3], 4));
				x = _mm_sha256msg2_epu32(x, m[(j - 1) & 3]);
			}
			m[j & 3] = x;
			k = _mm_add_epi32(x, _mm_loadu_si128((const __m128i *)&K[4 * j]));
			st1 = _mm_sha256rnds2_epu32(st1, st0, k); /* rounds 4j, 4j+1: the new (F, E, B, A) */
			st0 = _mm_sha256rnds2_epu32(st0, st1, _mm_shuffle_epi32(k, 0x0E)); /* 4j+2, 4j+3 */
		}
		st0 = _mm_add_epi32(st0, save0);
		st1 = _mm_add_epi32(st1, save1);
	}
	st0 = _mm_shuffle_epi32(st0, 0x1B);            /* (A, B, E, F) */
	st1 = _mm_shuffle_epi32(st1, 0xB1);            /* (G, H, C, D) */
	_mm_storeu_si128((__m128i *)&h[0], _mm_blend_epi16(st0, st1, 0xF0)); /* (A, B, C, D) */
	_mm_storeu_si128((__m128i *)&h[4], _mm_alignr_epi8(st1, st0, 8));    /* (E, F, G, H) */
}
#endif

/* -1 not decided yet, 0 the portable code, 1 SHA-NI (read and written
 * atomically: threads hashing at once may both decide, the same way) */
static int g_accel = -1;

int qe_sha256_accel(int want)
{
	int v = __atomic_load_n(&g_accel, __ATOMIC_RELAXED);

#ifdef QE_SHA_NI
	if (want >= 0 || v < 0) {
		__builtin_cpu_init();
		v = want != 0 && __builtin_cpu_supports("sha") && __builtin_cpu_supports("sse4.1");
		__atomic_store_n(&g_accel, v, __ATOMIC_RELAXED);
	}
#else
	(void)want;
	v = 0;
#endif
	return v;
}

/* n whole blocks at p */
static void blocks(struct qe_sha256 *s, const unsigned char *p, size_t n)
{
#ifdef QE_SHA_NI
	int a = __atomic_load_n(&g_accel, __ATOMIC_RELAXED);
	if (a < 0)
		a = qe_sha256_accel(-1);
	if (a == 1) {
		blocks_ni(s->h, p, n);
		return;
	}
#endif
	for (; n > 0; n--, p += 64)
		block(s, p);
}

void qe_sha256_init(struct qe_sha256 *s)
{
	static const uint32_t h0[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
					0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };
	memcpy(s->h, h0, sizeof(h0));
	s->n_bytes = 0;
	s->n_buf = 0;
}

void qe_sha256_update(struct qe_sha256 *s, const void *data, size_t n)
{
	const unsigned char *p = data;

	s->n_bytes += n;
	if (s->n_buf) {
		size_t take = 64 - s->n_buf < n ? 64 - s->n_buf : n;
		memcpy(s->buf + s->n_buf, p, take);
		s->n_buf += take;
		p += take;
		n -= take;
		if (s->n_buf < 64)
			return;
		blocks(s, s->buf, 1);
		s->n_buf = 0;
	}
	blocks(s, p, n / 64);
	p += n / 64 * 64;
	n %= 64;
	memcpy(s->buf, p, n);
	s->n_buf = n;
}

void qe_sha256_final(struct qe_sha256 *s, unsigned char out[32])
{
	uint64_t bits = s->n_bytes * 8;
	unsigned char pad = 0x80, zero = 0, len[8];

	qe_sha256_update(s, &pad, 1);
	while (s->n_buf != 56)
		qe_sha256_update(s, &zero, 1);
	for (int i = 0; i < 8; i++)
		len[i] = (unsigned char)(bits >> (56 - 8 * i));
	qe_sha256_update(s, len, 8);
	for (int i = 0; i < 8; i++) {
		out[4 * i] = (unsigned char)(s->h[i] >> 24);
		out[4 * i + 1] = (unsigned char)(s->h[i] >> 16);
		out[4 * i + 2] = (unsigned char)(s->h[i] >> 8);
		out[4 * i + 3] = (unsigned char)s->h[i];
	}
}

int qe_sha256_file(const char *path, char hex[65], struct qe_err *err)
{
	struct qe_sha256 s;
	unsigned char dig[32];
	size_t n, cap = 1u << 20;
	unsigned char *buf;
	FILE *f = fopen(path, "rb");

	if (!f)
		return qe_fail(err, errno == ENOENT ? QE_ENOENT : QE_EIO, "cannot open '%s': %s", path, strerror(errno));
	buf = malloc(cap);
	if (!buf) {
		fclose(f);
		return qe_fail(err, QE_ENOMEM, "out of memory hashing '%s'", path);
	}
	qe_sha256_init(&s);
	while ((n = fread(buf, 1, cap, f)) > 0)
		qe_sha256_update(&s, buf, n);
	if (ferror(f)) {
		free(buf);
		fclose(f);
		return qe_fail(err, QE_EIO, "read error in '%s'", path);
	}
	free(buf);
	fclose(f);
	qe_sha256_final(&s, dig);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", dig[i]);
	return 0;
}
