/* qeval — multiple-choice summaries (MMLU, C-Eval): accuracy of one level and
 * its paired comparison with a reference level on the same items.
 *
 * Pure functions over caller-owned arrays; nothing here touches the engine or
 * the disk. Formulas and edge cases: docs/metrics.md, "Multiple choice".
 * Thread-safe on distinct outputs.
 */
#ifndef QE_METRICS_MC_H
#define QE_METRICS_MC_H

#include <stddef.h>
#include <stdint.h>

#include "harness/base/err.h"
#include "metrics/stats.h"

/* One level's per-item results. All arrays are borrowed, [n_items] unless
 * said otherwise, and only read. */
struct qe_mc_level {
	size_t n_items;
	uint32_t n_choices;          /* choices per item, the same for every item, >= 2 */
	const int32_t *pred;         /* chosen choice 0..n_choices-1; any other value
				      * (e.g. -1, no answer) counts as wrong */
	const int32_t *gold;         /* correct choice 0..n_choices-1 (checked on scored items) */
	const uint32_t *subject;     /* subject index 0..n_subjects-1 (checked on scored items) */
	const double *loglik;        /* [n_items][n_choices] natural-log likelihoods, or NULL
				      * (then the KL and top-choice fields of a comparison are NaN) */
	const unsigned char *scored; /* 1 = scored, 0 = not (skipped, failed); NULL = all scored.
				      * Unscored items are ignored everywhere */
};

/* Subject -> category mapping. */
struct qe_mc_taxonomy {
	uint32_t n_subjects;
	uint32_t n_categories;       /* 0 = no categories */
	const uint32_t *category;    /* [n_subjects] category index 0..n_categories-1, or
				      * NULL when n_categories == 0 */
};

/* A group of items (a subject or a category). */
struct qe_mc_group {
	size_t n;                    /* scored items */
	size_t n_correct;
	double acc;                  /* n_correct / n (micro within the group); NaN when n == 0 */
	double acc_macro;            /* categories: mean of the accuracies of its subjects with
				      * n > 0; subjects: equal to acc. NaN when none */
	uint32_t n_subjects;         /* subjects with n > 0 in the group (1 or 0 for a subject) */
};

struct qe_mc_summary {
	size_t n_items;              /* items given */
	size_t n_scored;             /* items that count */
	size_t n_correct;
	double acc_micro;            /* n_correct / n_scored; NaN when n_scored == 0 */
	double acc_macro;            /* mean over subjects with n > 0 of their accuracy; NaN when none */
	struct qe_prop micro;        /* k = n_correct, n = n_scored at z = QE_Z95: se (n-1 convention),
				      * normal 95% interval (lo, hi) and Wilson interval */
	uint32_t n_subjects;
	uint32_t n_categories;
	struct qe_mc_group *subjects;   /* [n_subjects]; owned, freed by qe_mc_summary_release */
	struct qe_mc_group *categories; /* [n_categories], NULL when 0; same ownership */
};

/* Summarise one level. *out is overwritten; on success release it with
 * qe_mc_summary_release (also safe on a zeroed struct). Returns 0, QE_EINVAL
 * (NULL or inconsistent arguments), QE_EINPUT (a scored item with gold or
 * subject out of range: the message names the item index) or QE_ENOMEM. */
int qe_mc_summarize(const struct qe_mc_level *lv, const struct qe_mc_taxonomy *tx,
		    struct qe_mc_summary *out, struct qe_err *err);

void qe_mc_summary_release(struct qe_mc_summary *s);

/* A level against a reference on the same items, paired by index; an item
 * counts ("paired") when it is scored in both. */
struct qe_mc_compare {
	size_t n_paired;
	double acc_level;            /* micro accuracy over the paired items */
	double acc_ref;
	double delta;                /* acc_level - acc_ref; NaN when n_paired == 0 */
	double delta_lo, delta_hi;   /* 95% Newcombe hybrid score interval of the paired table
				      * (qe_stats_paired_newcombe); NaN when n_paired == 0 */
	double boot_lo, boot_hi;     /* paired bootstrap percentile interval, strata = subjects; it
				      * collapses to [delta, delta] when no item flipped */
	double delta_se;             /* bootstrap standard error */
	double mcnemar_p;            /* exact two-sided, discordant counts n_lost and n_gained */
	size_t n_lost;               /* ref right, level wrong */
	size_t n_gained;             /* ref wrong, level right */
	size_t n_same;               /* pred equal (a valid choice in both) */
	double same_answer;          /* n_same / n_paired; NaN when n_paired == 0 */
	size_t n_ll;                 /* paired items whose two likelihood rows are usable
				      * (no NaN or +inf, at least one finite entry each) */
	double kl_mean;              /* mean over those of KL(softmax(ref) || softmax(level)), nats */
	double kl_max;
	double top_changed;          /* share of those whose argmax (lowest index on ties) differs */
};

/* Compare `lvl` with `ref`. Both must have the same n_items and n_choices,
 * and scored items of both must agree on gold and subject (else QE_EINPUT
 * naming the first item that disagrees). boot = NULL uses
 * qe_boot_default_params(). Returns 0, QE_EINVAL, QE_EINPUT or QE_ENOMEM. */
int qe_mc_compare(const struct qe_mc_level *lvl, const struct qe_mc_level *ref,
		  const struct qe_boot_params *boot, struct qe_mc_compare *out,
		  struct qe_err *err);

#endif
