/* fuzz_main — what every fuzz target (tests/fuzz_<parser>.c) shares.
 *
 * A target defines FZ_NAME, includes this header, defines
 *   int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
 * checking its invariants with FZ_CHECK, and ends with
 *   FZ_MAIN(seeds)   (seeds: a static array of struct fz_seed, FZ_SEED("..."))
 * Built with -DQE_LIBFUZZER (clang -fsanitize=fuzzer), FZ_CHECK aborts,
 * libFuzzer supplies main and FZ_MAIN only offers the seeds as a starting
 * corpus (see FZ_SEED_DIR below). Otherwise FZ_MAIN is
 * a plain main that runs the target on every seed, then on seeded random
 * mutations of them (fixed seed, at most FZ_ITERATIONS inputs and
 * FZ_SECONDS seconds; both can be set with -D), and prints the tests/tq.h summary line
 * "<FZ_NAME>: P passed, F failed, S skipped".
 * Single-threaded; state is file-static.
 */
#ifndef QE_FUZZ_MAIN_H
#define QE_FUZZ_MAIN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef FZ_NAME
#error "define FZ_NAME before including tests/fuzz_main.h"
#endif

struct fz_seed {
	const char *data;
	size_t len;
};

#define FZ_SEED(s) { s, sizeof(s) - 1 }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fz_failures;

static void fz_fail(const char *what, const char *file, int line)
{
#ifdef QE_LIBFUZZER
	fprintf(stderr, "%s:%d: invariant broken: %s\n", file, line, what);
	abort();
#else
	if (fz_failures++ < 10)
		fprintf(stderr, "  FAIL %s:%d: invariant broken: %s\n", file, line, what);
#endif
}

#define FZ_CHECK(cond) do { if (!(cond)) fz_fail(#cond, __FILE__, __LINE__); } while (0)

#ifdef QE_LIBFUZZER

/* libFuzzer's optional start-up hook: with FZ_SEED_DIR set, the seeds are
 * written there as files, to start a corpus from:
 *   FZ_SEED_DIR=corpus ./fuzz_csv corpus */
int LLVMFuzzerInitialize(int *argc, char ***argv);

static void fz_seeds_write(const struct fz_seed *seeds, size_t n)
{
	const char *dir = getenv("FZ_SEED_DIR");
	char path[4096];
	size_t i;
	FILE *fp;

	for (i = 0; dir && i < n; i++) {
		snprintf(path, sizeof(path), "%s/seed-%zu", dir, i);
		fp = fopen(path, "wb");
		if (fp) {
			fwrite(seeds[i].data, 1, seeds[i].len, fp);
			fclose(fp);
		}
	}
}

#define FZ_MAIN(seeds) \
	int LLVMFuzzerInitialize(int *argc, char ***argv) \
	{ \
		(void)argc; \
		(void)argv; \
		fz_seeds_write(seeds, sizeof(seeds) / sizeof((seeds)[0])); \
		return 0; \
	}

#else

#include <time.h>

#include "tests/tq.h"

/* -DFZ_ITERATIONS=... -DFZ_SECONDS=... for a longer run by hand */
#ifndef FZ_ITERATIONS
#define FZ_ITERATIONS 4000
#endif
#ifndef FZ_SECONDS
#define FZ_SECONDS 4.0
#endif
enum { FZ_MAX_INPUT = 4096 };

static const struct fz_seed *fz_seed_list;
static size_t fz_n_seeds;
static uint64_t fz_rng = 0x9E3779B97F4A7C15ull;

static uint64_t fz_next(void)
{
	/* xorshift64* */
	fz_rng ^= fz_rng >> 12;
	fz_rng ^= fz_rng << 25;
	fz_rng ^= fz_rng >> 27;
	return fz_rng * 2685821657736338717ull;
}

static double fz_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Runs the target on a heap copy, so ASan sees reads past the end. */
static void fz_run(const void *data, size_t len)
{
	uint8_t *copy = malloc(len ? len : 1);

	if (len)
		memcpy(copy, data, len);
	LLVMFuzzerTestOneInput(copy, len);
	free(copy);
}

static void fz_seeds_run(void)
{
	int before = fz_failures;
	size_t i;

	for (i = 0; i < fz_n_seeds; i++)
		fz_run(fz_seed_list[i].data, fz_seed_list[i].len);
	fz_run("", 0);
	TQ_EQ_INT(fz_failures - before, 0);
}

/* Bytes that matter to text parsers, favoured by the mutations. */
static const uint8_t fz_special[] = { '"', ',', '\t', '\r', '\n', '\0', '{', '}', ':', '\\',
				      '[', ']', '=', ' ', 0xEF, 0xBB, 0xBF, 0xFF, '0', '1' };

/* One random edit of buf[0..*len) (capacity FZ_MAX_INPUT). */
static void fz_mutate(uint8_t *buf, size_t *len)
{
	size_t n = *len, at = n ? (size_t)(fz_next() % n) : 0, k;
	uint8_t c = (fz_next() & 1) ? fz_special[fz_next() % sizeof(fz_special)] : (uint8_t)fz_next();

	switch (fz_next() % 6) {
	case 0: /* replace a byte */
		if (n)
			buf[at] = c;
		break;
	case 1: /* insert a byte */
		if (n < FZ_MAX_INPUT) {
			memmove(buf + at + 1, buf + at, n - at);
			buf[at] = c;
			*len = n + 1;
		}
		break;
	case 2: /* delete a run */
		k = n - at ? 1 + (size_t)(fz_next() % (n - at)) % 16 : 0;
		memmove(buf + at, buf + at + k, n - at - k);
		*len = n - k;
		break;
	case 3: /* duplicate a run */
		k = n - at ? 1 + (size_t)(fz_next() % (n - at)) % 64 : 0;
		if (n + k <= FZ_MAX_INPUT) {
			memmove(buf + at + k, buf + at, n - at);
			*len = n + k;
		}
		break;
	case 4: /* flip a bit */
		if (n)
			buf[at] ^= (uint8_t)(1u << (fz_next() % 8));
		break;
	default: /* cut the end */
		*len = at;
		break;
	}
}

static void fz_mutations_run(void)
{
	static uint8_t buf[FZ_MAX_INPUT];
	double t0 = fz_now();
	int before = fz_failures, i, m, edits;
	size_t len;

	for (i = 0; i < FZ_ITERATIONS && fz_now() - t0 < FZ_SECONDS; i++) {
		const struct fz_seed *s = &fz_seed_list[fz_next() % fz_n_seeds];

		len = s->len < FZ_MAX_INPUT ? s->len : FZ_MAX_INPUT;
		memcpy(buf, s->data, len);
		/* mostly one edit, so most inputs stay close to valid */
		edits = 1 + (fz_next() % 4 == 0 ? (int)(fz_next() % 8) : 0);
		for (m = 0; m < edits; m++)
			fz_mutate(buf, &len);
		fz_run(buf, len);
	}
	TQ_EQ_INT(fz_failures - before, 0);
}

#define FZ_MAIN(seeds) \
	int main(void) \
	{ \
		fz_seed_list = seeds; \
		fz_n_seeds = sizeof(seeds) / sizeof((seeds)[0]); \
		TQ_RUN(fz_seeds_run); \
		TQ_RUN(fz_mutations_run); \
		return tq_done(FZ_NAME); \
	}

#endif /* QE_LIBFUZZER */

#endif
