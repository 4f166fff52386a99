/* tq_kld — what the kld tests (t_kld, t_kld_http) share: the fixture
 * model, the seeded text they measure, and the log-softmax of their
 * independent computation (a level's block: tq_block, tests/tq_json.h). */
#ifndef QE_TQ_KLD_H
#define QE_TQ_KLD_H

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>

#include "tests/tq.h"
#include "tests/tq_json.h"

/* the fixture model both measure: build/fixtures/tiny-llama-f16.gguf */
static inline const char *tq_kld_model(void)
{
	static char p[512];
	snprintf(p, sizeof(p), "%s/tiny-llama-f16.gguf", tq_fixtures());
	return p;
}

/* a text of seeded pseudo-words, a few thousand tokens, into path */
static inline void tq_kld_write_text(const char *path)
{
	static const char *const syl[] = { "ka", "lo", "mi", "the", "an", "ru", "so", "ne", "ti", "qu", "ba", "el" };
	uint32_t s = 12345;
	FILE *f = fopen(path, "w");

	if (!f)
		return;
	for (int w = 0; w < 1500; w++) {
		int n = 1 + (int)((s >> 16) % 3);
		for (int k = 0; k < n; k++) {
			s = s * 1103515245u + 12345u;
			fputs(syl[(s >> 16) % 12], f);
		}
		fputs(w % 17 == 16 ? ".\n" : " ", f);
	}
	fclose(f);
}

/* l[i] = x[i] - log sum_j exp x[j], in double */
static inline void tq_log_softmax(const float *x, int n, double *l)
{
	double mx = -DBL_MAX, s = 0;

	for (int i = 0; i < n; i++)
		mx = fmax(mx, x[i]);
	for (int i = 0; i < n; i++)
		s += exp((double)x[i] - mx);
	for (int i = 0; i < n; i++)
		l[i] = (double)x[i] - mx - log(s);
}

#endif
