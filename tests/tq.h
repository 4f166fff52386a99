/* tq — the tiny test runner every tests/t_<module>.c includes.
 *
 * A test is a void function; TQ_RUN runs it and counts it passed when none
 * of its checks failed. A test calls TQ_SKIP("why") to skip (for example
 * when ../shared is absent). tq_done() prints the binary's summary line
 *   "<name>: P passed, F failed, S skipped"
 * which tests/run.sh adds up. Single-threaded; state is file-static.
 */
#ifndef QE_TQ_H
#define QE_TQ_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tq_passed, tq_failed, tq_skipped;
static int tq_cur_failed, tq_cur_skipped;

#define TQ_FAILF(...) do { \
	tq_cur_failed++; \
	fprintf(stderr, "  FAIL %s:%d: ", __FILE__, __LINE__); \
	fprintf(stderr, __VA_ARGS__); \
	fputc('\n', stderr); \
} while (0)

#define TQ_CHECK(cond) do { \
	if (!(cond)) TQ_FAILF("%s", #cond); \
} while (0)

#define TQ_EQ_INT(a, b) do { \
	long long tq_a_ = (long long)(a), tq_b_ = (long long)(b); \
	if (tq_a_ != tq_b_) TQ_FAILF("%s == %s: %lld != %lld", #a, #b, tq_a_, tq_b_); \
} while (0)

#define TQ_EQ_STR(a, b) do { \
	const char *tq_a_ = (a), *tq_b_ = (b); \
	if (!tq_a_ || !tq_b_ || strcmp(tq_a_, tq_b_) != 0) \
		TQ_FAILF("%s == %s: \"%s\" != \"%s\"", #a, #b, tq_a_ ? tq_a_ : "(null)", tq_b_ ? tq_b_ : "(null)"); \
} while (0)

/* |a - b| <= tol, both finite (or both the same infinity / both NaN) */
#define TQ_NEAR(a, b, tol) do { \
	double tq_a_ = (double)(a), tq_b_ = (double)(b), tq_t_ = (double)(tol); \
	int tq_ok_ = (isnan(tq_a_) && isnan(tq_b_)) || (tq_a_ == tq_b_) || fabs(tq_a_ - tq_b_) <= tq_t_; \
	if (!tq_ok_) TQ_FAILF("%s ~ %s: %.12g vs %.12g (tol %g)", #a, #b, tq_a_, tq_b_, tq_t_); \
} while (0)

#define TQ_SKIP(...) do { \
	tq_cur_skipped = 1; \
	fprintf(stderr, "  SKIP: "); \
	fprintf(stderr, __VA_ARGS__); \
	fputc('\n', stderr); \
	return; \
} while (0)

#define TQ_RUN(fn) do { \
	tq_cur_failed = 0; tq_cur_skipped = 0; \
	fn(); \
	if (tq_cur_failed) { tq_failed++; fprintf(stderr, "FAIL %s\n", #fn); } \
	else if (tq_cur_skipped) { tq_skipped++; fprintf(stderr, "skip %s\n", #fn); } \
	else { tq_passed++; fprintf(stderr, "ok   %s\n", #fn); } \
} while (0)

/* Environment the runner sets: where generated fixtures and ../shared are. */
static inline const char *tq_fixtures(void)
{
	const char *d = getenv("QE_FIXTURES");
	return d && *d ? d : "build/fixtures";
}

static inline const char *tq_shared(void)
{
	const char *d = getenv("QE_SHARED");
	return d && *d ? d : "../shared";
}

/* Print the summary line; exit status 1 when any test failed. */
static inline int tq_done(const char *name)
{
	printf("%s: %d passed, %d failed, %d skipped\n", name, tq_passed, tq_failed, tq_skipped);
	fflush(stdout);
	return tq_failed ? 1 : 0;
}

#endif
