/* qeval — multiple-choice sets: MMLU and C-Eval in their published layouts.
 *
 * A set holds one split's items of every selected subject, grouped by
 * subject (subjects sorted by name, items in file order), plus each
 * subject's dev items as few-shot examples. Everything a set points to is
 * owned by the set and valid until qe_mc_set_release.
 *
 * Layouts (docs/formats.md, "Datasets", has the details):
 *   MMLU    DIR/data/{dev,val,test}/<subject>_<split>.csv, or DIR holding
 *           {dev,val,test}/ directly. No header; question,A,B,C,D,answer.
 *           Subject categories from DIR/subject_categories.json when present
 *           (DIR/../subject_categories.json when DIR holds the split folders
 *           directly), else the built-in table (datasets/subjects.h).
 *   C-Eval  DIR/{dev,val,test}/<subject>_<split>.csv (DIR/data/... also
 *           accepted). A header row; columns found by name: id, question,
 *           A, B, C, D, answer (dev adds explanation, ignored; test has no
 *           answer, so gold = -1). Names from DIR/subject_mapping.json when
 *           present, else the built-in table.
 * Fields are kept as published: no trimming, CR/CRLF inside quoted fields
 * kept (datasets/csv.h). Duplicate rows are kept (MMLU test has 27); each
 * item still has its own id.
 *
 * Errors (one line in err, negative status):
 *   QE_ENOENT  DIR, the split folder, or a subject named in opts.subjects
 *              does not exist, or the split holds no subject files
 *   QE_EINPUT  "<file>:<line>: <what>": wrong field count, an answer that
 *              is not A-D, a header without a needed column, malformed
 *              quoting, a malformed JSON description
 *   QE_EIO, QE_ENOMEM
 * On error the set is left empty (nothing to release, releasing is safe).
 *
 * Thread-safety: loads share no state; a loaded set is read-only and may be
 * read from many threads.
 */
#ifndef QE_DATASETS_MC_H
#define QE_DATASETS_MC_H

#include <stddef.h>
#include <stdint.h>

#include "harness/base/err.h"

struct qe_strpool;

struct qe_mc_item {
	const char *id;         /* "<subject>/<split>/<n>": n is C-Eval's id
				 * column, MMLU's 0-based row in its file;
				 * unique within a set */
	const char *question;
	const char *choices[4]; /* A..D */
	int gold;               /* 0..3 = A..D; -1 = no answer in the file
				 * (C-Eval test): callers must refuse to score */
	uint32_t subject;       /* index into set->subjects */
	uint32_t line;          /* 1-based line where the record starts */
};

struct qe_mc_subject {
	const char *name;        /* file stem, e.g. "abstract_algebra" */
	const char *display;     /* MMLU: "abstract algebra"; C-Eval: Chinese name */
	const char *english;     /* English name (MMLU: same as display) */
	const char *category;    /* MMLU: STEM, humanities, social sciences,
				  * other; C-Eval: STEM, Social Science,
				  * Humanities, Other; "unknown" when the
				  * subject is in neither JSON nor table */
	const char *subcategory; /* MMLU: "math", ...; NULL when unknown and for C-Eval */
	int hard;                /* 1 = C-Eval Hard subject (8 of them) */
	struct qe_mc_item *shots; /* [n_shots] dev items in file order, as
				   * few-shot examples; NULL/0 when the subject
				   * has no dev file. For split "dev" these are
				   * the very items being asked. */
	size_t n_shots;
	size_t first, count;     /* this subject's items: items[first .. first+count) */
};

struct qe_mc_set {
	const char *name;        /* "mmlu" or "ceval" */
	const char *split;       /* "dev", "val", "test" */
	const char *root;        /* folder holding the split folders */
	struct qe_mc_item *items;       /* [n_items], grouped by subject */
	size_t n_items;
	struct qe_mc_subject *subjects; /* [n_subjects], sorted by name */
	size_t n_subjects;
	struct qe_strpool *pool;        /* private: owns every string */
};

struct qe_mc_opts {
	const char *split;    /* "dev", "val" or "test"; NULL = the format's
			       * default ("test" for MMLU, "val" for C-Eval) */
	size_t limit;         /* first N items per subject; 0 = all */
	const char *subjects; /* comma-separated subject names; NULL or "" = all */
};

/* split NULL, limit 0, subjects NULL. */
struct qe_mc_opts qe_mc_default_opts(void);

/* Load a set from dir into *set (caller's storage, overwritten). o may be
 * NULL for the defaults. Returns 0 or a negative status (see above). */
int qe_mmlu_load(const char *dir, const struct qe_mc_opts *o, struct qe_mc_set *set,
		 struct qe_err *err);
int qe_ceval_load(const char *dir, const struct qe_mc_opts *o, struct qe_mc_set *set,
		  struct qe_err *err);

/* Frees everything the set owns and zeroes it. Safe on a zeroed set. */
void qe_mc_set_release(struct qe_mc_set *set);

/* The subject an item belongs to. */
static inline const struct qe_mc_subject *qe_mc_item_subject(const struct qe_mc_set *set,
							     const struct qe_mc_item *it)
{
	return &set->subjects[it->subject];
}

/* ---- registry: the multiple-choice formats, by name ---------------------- */

struct qe_mc_format {
	const char *name;           /* "mmlu", "ceval" */
	const char *default_split;  /* "test", "val" */
	int (*load)(const char *dir, const struct qe_mc_opts *o, struct qe_mc_set *set,
		    struct qe_err *err);
};

/* The format called name, NULL when unknown. Static storage. */
const struct qe_mc_format *qe_mc_format_find(const char *name);

/* All formats; *n receives the count. Static storage. */
const struct qe_mc_format *qe_mc_formats(size_t *n);

#endif
