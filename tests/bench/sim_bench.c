/* sim_bench — times qe_sim_topk on queries x corpus of random unit vectors
 * and compares it with this machine's single-precision FMA peak, measured in
 * the same run by a register-only FMA loop on every OpenMP thread.
 *
 * Usage: build/bench/sim_bench [nq [nc [dim [k [reps]]]]]
 *        defaults 12500 12500 768 10 3; threads from OMP_NUM_THREADS.
 * Prints one "key value" line per figure; GFLOP/s counts 2 nq nc dim flops.
 */
#include "metrics/sim.h"
#include "metrics/stats.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define BENCH_X86 1
#include <immintrin.h>
#else
#define BENCH_X86 0
#endif

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int n_threads(void)
{
#ifdef _OPENMP
	return omp_get_max_threads();
#else
	return 1;
#endif
}

/* n unit vectors of width dim, Gaussian directions from the seeded stream */
static float *random_units(size_t n, size_t dim, uint64_t seed)
{
	float *v = malloc(n * dim * sizeof(*v));
	struct qe_rng rng;

	if (!v)
		return NULL;
	qe_rng_seed(&rng, seed, 0);
	for (size_t i = 0; i < n * dim; i += 2) {
		double u1 = 1.0 - qe_rng_uniform(&rng), u2 = qe_rng_uniform(&rng);
		double r = sqrt(-2.0 * log(u1));

		v[i] = (float)(r * cos(2.0 * M_PI * u2));
		if (i + 1 < n * dim)
			v[i + 1] = (float)(r * sin(2.0 * M_PI * u2));
	}
	qe_sim_normalize_rows(v, n, dim);
	return v;
}

/* ---- peak: independent FMA chains that never touch memory ---------------- */

enum { PEAK_ITERS = 20 * 1000 * 1000, CHAINS = 12 };

static volatile float peak_sink;

/* Twelve named accumulators (an array would live in memory at -O2). */
#define PEAK_BODY(T, SET1, FMA, X, Y)                                              \
	T a0 = SET1(0.f), a1 = SET1(1.f), a2 = SET1(2.f), a3 = SET1(3.f), a4 = SET1(4.f), \
	  a5 = SET1(5.f), a6 = SET1(6.f), a7 = SET1(7.f), a8 = SET1(8.f), a9 = SET1(9.f), \
	  a10 = SET1(10.f), a11 = SET1(11.f);                                         \
	for (long i = 0; i < iters; i++) {                                            \
		a0 = FMA(a0, X, Y); a1 = FMA(a1, X, Y); a2 = FMA(a2, X, Y);            \
		a3 = FMA(a3, X, Y); a4 = FMA(a4, X, Y); a5 = FMA(a5, X, Y);            \
		a6 = FMA(a6, X, Y); a7 = FMA(a7, X, Y); a8 = FMA(a8, X, Y);            \
		a9 = FMA(a9, X, Y); a10 = FMA(a10, X, Y); a11 = FMA(a11, X, Y);        \
	}

#if BENCH_X86
/* flops per thread = 2 * 8 lanes * CHAINS * iters */
__attribute__((target("avx2,fma"))) static void peak_avx2(long iters)
{
	__m256 x = _mm256_set1_ps(0.999999f), y = _mm256_set1_ps(1e-7f);

	PEAK_BODY(__m256, _mm256_set1_ps, _mm256_fmadd_ps, x, y)
	a0 = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
			   _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
	a0 = _mm256_add_ps(a0, _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11)));
	peak_sink = _mm256_cvtss_f32(a0);
}

/* 2 * 16 lanes * CHAINS * iters */
__attribute__((target("avx512f"))) static void peak_avx512(long iters)
{
	__m512 x = _mm512_set1_ps(0.999999f), y = _mm512_set1_ps(1e-7f);

	PEAK_BODY(__m512, _mm512_set1_ps, _mm512_fmadd_ps, x, y)
	a0 = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
			   _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)));
	a0 = _mm512_add_ps(a0, _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)));
	peak_sink = _mm512_reduce_add_ps(a0);
}
#endif

/* Portable fallback: 2 flops * CHAINS * iters (separate multiply and add
 * unless the compiler contracts them) */
#define SCALAR_FMA(a, x, y) ((a) * (x) + (y))
#define SCALAR_SET1(v) (v)
static void peak_scalar(long iters)
{
	float x = 0.999999f, y = 1e-7f;

	PEAK_BODY(float, SCALAR_SET1, SCALAR_FMA, x, y)
	peak_sink = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11;
}

/* GFLOP/s of fn run by every thread at once; lanes = floats per FMA */
static double measure_peak(void (*fn)(long), int lanes)
{
	double t0, t;
	long iters = PEAK_ITERS;

	fn(iters / 10); /* warm up clocks */
	t0 = now_s();
#pragma omp parallel
	fn(iters);
	t = now_s() - t0;
	return 2.0 * lanes * CHAINS * (double)iters * n_threads() / t / 1e9;
}

int main(int argc, char **argv)
{
	size_t nq = argc > 1 ? strtoul(argv[1], NULL, 10) : 12500;
	size_t nc = argc > 2 ? strtoul(argv[2], NULL, 10) : 12500;
	size_t dim = argc > 3 ? strtoul(argv[3], NULL, 10) : 768;
	size_t k = argc > 4 ? strtoul(argv[4], NULL, 10) : 10;
	int reps = argc > 5 ? atoi(argv[5]) : 3;
	float *q = random_units(nq, dim, 1), *c = random_units(nc, dim, 2), *sc;
	uint32_t *ix;
	double best = INFINITY, flops = 2.0 * (double)nq * (double)nc * (double)dim, peak = 0.0;
	const char *peak_kind = "scalar";
	struct qe_err err = { 0 };

	sc = malloc(nq * k * sizeof(*sc));
	ix = malloc(nq * k * sizeof(*ix));
	if (!q || !c || !sc || !ix) {
		fprintf(stderr, "sim_bench: out of memory\n");
		return 3;
	}
	printf("threads %d\nkernel %s\nshape %zu x %zu x %zu, k %zu, reps %d\n", n_threads(),
	       qe_sim_kernel_name(), nq, nc, dim, k, reps < 1 ? 1 : reps);
	for (int r = 0; r < (reps < 1 ? 1 : reps); r++) {
		double t0 = now_s(), t;

		if (qe_sim_topk(q, nq, c, nc, dim, k, NULL, ix, sc, &err) != 0) {
			fprintf(stderr, "sim_bench: %s\n", err.msg);
			return 3;
		}
		t = now_s() - t0;
		printf("rep %d seconds %.3f gflops %.1f\n", r, t, flops / t / 1e9);
		if (t < best)
			best = t;
	}

	peak = measure_peak(peak_scalar, 1);
#if BENCH_X86
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
		double p = measure_peak(peak_avx2, 8);

		if (p > peak) {
			peak = p;
			peak_kind = "avx2-fma";
		}
	}
	if (__builtin_cpu_supports("avx512f")) {
		double p = measure_peak(peak_avx512, 16);

		if (p > peak) {
			peak = p;
			peak_kind = "avx512f";
		}
	}
#endif
	printf("best_seconds %.3f\n", best);
	printf("kernel_gflops %.1f\n", flops / best / 1e9);
	printf("peak_gflops %.1f (%s fma loop, all threads)\n", peak, peak_kind);
	printf("ratio %.3f\n", flops / best / 1e9 / peak);
	printf("check q0 top1 %u score %.6f\n", ix[0], sc[0]);
	free(q);
	free(c);
	free(sc);
	free(ix);
	return 0;
}
