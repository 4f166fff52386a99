/* qeval — built-in subject tables of MMLU and C-Eval.
 *
 * Static, read-only data: thread-safe. Tables are sorted by name (strcmp).
 * The loaders (datasets/mc.h) prefer a data folder's own JSON description
 * and fall back to these.
 */
#ifndef QE_DATASETS_SUBJECTS_H
#define QE_DATASETS_SUBJECTS_H

#include <stddef.h>

struct qe_subject_info {
	const char *name;        /* file stem, e.g. "abstract_algebra" */
	const char *english;     /* MMLU: "abstract algebra"; C-Eval: "Advanced Mathematics" */
	const char *chinese;     /* C-Eval: "高等数学"; MMLU: NULL */
	const char *subcategory; /* MMLU: "math", "health", ...; C-Eval: NULL */
	const char *category;    /* MMLU: STEM, humanities, social sciences, other;
				  * C-Eval: STEM, Social Science, Humanities, Other */
	int hard;                /* 1 = member of C-Eval Hard (8 subjects) */
};

/* The 57 MMLU / 52 C-Eval subjects; *n receives the count. Static storage. */
const struct qe_subject_info *qe_mmlu_subjects(size_t *n);
const struct qe_subject_info *qe_ceval_subjects(size_t *n);

/* The categories in their usual report order; static storage. */
const char *const *qe_mmlu_categories(size_t *n);
const char *const *qe_ceval_categories(size_t *n);

/* The entry called name in a sorted table, NULL when absent. */
const struct qe_subject_info *qe_subject_find(const struct qe_subject_info *tab, size_t n,
					      const char *name);

#endif
