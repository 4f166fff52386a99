/* imatrix_cmp A B: compare two importance matrices entry by entry, as the
 * quantizer sees them (qe_imatrix_values: sums over counts). Prints the
 * entries, the largest relative difference per entry over all and the
 * counts' agreement; exit 0 when every value agrees within the tolerance
 * (QE_IMATRIX_TOL, default 1e-4 relative), 1 when not, 2 on a read error. */
#include "runtimes/llamacpp_imatrix.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double entry_diff(const struct qe_imatrix *ma, const struct qe_imatrix_entry *a, const struct qe_imatrix *mb,
			 const struct qe_imatrix_entry *b)
{
	float *va = malloc((size_t)a->n_sums * sizeof(float)), *vb = malloc((size_t)b->n_sums * sizeof(float));
	double worst = 0;

	qe_imatrix_values(ma, a, va);
	qe_imatrix_values(mb, b, vb);
	for (int64_t i = 0; i < a->n_sums; i++) {
		double d = fabs((double)va[i] - (double)vb[i]), s = fmax(fabs((double)va[i]), fabs((double)vb[i]));
		double rel = s > 0 ? d / s : 0;
		if (rel > worst)
			worst = rel;
	}
	free(va);
	free(vb);
	return worst;
}

int main(int argc, char **argv)
{
	struct qe_imatrix a, b;
	struct qe_err err = { 0 };
	const char *tol_env = getenv("QE_IMATRIX_TOL");
	double tol = tol_env ? atof(tol_env) : 1e-4, worst = 0;
	size_t bad = 0, counts_differ = 0;

	if (argc != 3) {
		fprintf(stderr, "usage: imatrix_cmp A.gguf B.gguf\n");
		return 2;
	}
	if (qe_imatrix_load(argv[1], &a, &err) || qe_imatrix_load(argv[2], &b, &err)) {
		fprintf(stderr, "imatrix_cmp: %s\n", err.msg);
		return 2;
	}
	if (a.n != b.n) {
		printf("entries differ: %zu vs %zu\n", a.n, b.n);
		return 1;
	}
	for (size_t i = 0; i < a.n; i++) {
		double d;
		if (strcmp(a.e[i].name, b.e[i].name) || a.e[i].n_sums != b.e[i].n_sums || a.e[i].n_counts != b.e[i].n_counts) {
			printf("entry %zu differs: %s vs %s\n", i, a.e[i].name, b.e[i].name);
			return 1;
		}
		for (int64_t j = 0; j < a.e[i].n_counts; j++)
			counts_differ += a.e[i].counts[j] != b.e[i].counts[j];
		d = entry_diff(&a, &a.e[i], &b, &b.e[i]);
		bad += d > tol;
		if (d > worst)
			worst = d;
	}
	printf("entries %zu, values %lld, counts equal %s, chunks %d/%d, max relative difference %.3g (tolerance %.0e), entries over it %zu\n",
	       a.n, (long long)(a.n ? a.e[0].n_sums : 0) * (long long)a.n, counts_differ ? "no" : "yes", a.chunk_count,
	       b.chunk_count, worst, tol, bad);
	qe_imatrix_release(&a);
	qe_imatrix_release(&b);
	return bad || counts_differ ? 1 : 0;
}
