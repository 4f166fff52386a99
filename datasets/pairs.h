/* qeval — sentence-pair sets (LCQMC, PAWS-X, STS-B and the like).
 *
 * A set is a list of pairs (two sentences and a label) over a table of
 * distinct sentences: each sentence is stored once (exact byte equality)
 * and pairs refer to it by index, so a runtime embeds every distinct
 * sentence once. Everything a set points to is owned by the set and valid
 * until qe_pair_set_release.
 *
 * Input formats:
 *   tsv / csv  one pair per record (datasets/csv.h: gzip, BOM, CRLF, no
 *              final newline all handled); columns chosen by header name or
 *              0-based index; quoting off by default for tsv (literal '"' is
 *              data: PAWS-X, the original STS Benchmark files), on for csv.
 *   jsonl      one JSON object per line (blank lines skipped); columns are
 *              member names (even when all digits), header is ignored, a
 *              row without the filter's member does not match; the label
 *              may be a number, true/false, or a string holding a number.
 * docs/formats.md ("Datasets") lists the options for each known file.
 *
 * Errors (one line in err, negative status):
 *   QE_ENOENT  the file does not exist
 *   QE_EINVAL  unusable options (a column named when there is no header,
 *              a filter without '=', an unknown format or label kind)
 *   QE_EINPUT  the file holds no pairs (or the filter matched no row);
 *              "<file>:<line>: <what>": too few fields, a label that is not a
 *              number (or not 0/1 for kind BINARY), bad JSON, a missing or
 *              mistyped JSON member, a header without a needed column
 *   QE_EIO, QE_ENOMEM
 * On error the set is left empty (releasing it is safe).
 *
 * Thread-safety: loads share no state; a loaded set is read-only.
 */
#ifndef QE_DATASETS_PAIRS_H
#define QE_DATASETS_PAIRS_H

#include <stddef.h>
#include <stdint.h>

#include "harness/base/err.h"

struct qe_strpool;

enum qe_label_kind {
	QE_LABEL_AUTO,    /* binary when every label is 0 or 1, else graded */
	QE_LABEL_BINARY,  /* 0/1 (paraphrase or not): a label other than 0 or 1 is an error */
	QE_LABEL_GRADED,  /* a similarity score, e.g. 0..5 */
};

struct qe_pairs_opts {
	const char *format;   /* "auto" or NULL (by extension, then contents),
			       * "tsv", "csv", "jsonl" */
	int header;           /* -1 auto, 0 none, 1 the first row names columns */
	int quoting;          /* -1 auto (on for csv, off for tsv), 0 off, 1 on */
	const char *col_s1;   /* a header name (or jsonl member) or a 0-based */
	const char *col_s2;   /* index as text; NULL = defaults: 0, 1, 2 without */
	const char *col_label;/* a header, else the first of sentence1|s1|text1|
			       * text_a|question1, sentence2|s2|text2|text_b|
			       * question2, label|score|similarity|gold_label */
	const char *filter;   /* "column=value": keep only rows whose column
			       * equals value (e.g. "split=test"); NULL = all */
	enum qe_label_kind kind;
	size_t limit;         /* first N pairs (after the filter); 0 = all */
	const char *name;     /* file name in messages; NULL = the path */
};

/* format "auto", header -1, quoting -1, columns NULL, filter NULL,
 * kind AUTO, limit 0, name NULL. */
struct qe_pairs_opts qe_pairs_default_opts(void);

struct qe_pair {
	uint32_t s1, s2;      /* indices into set->sents */
	double label;         /* as in the file: 0/1, or a score */
	uint32_t line;        /* 1-based line of the record in its file */
};

struct qe_pair_set {
	char **sents;         /* [n_sents] distinct sentences, first-seen order */
	size_t n_sents;
	struct qe_pair *pairs;/* [n_pairs] in file order */
	size_t n_pairs;
	enum qe_label_kind kind;       /* BINARY or GRADED (never AUTO after a load) */
	double label_min, label_max;   /* over all pairs (a loaded set has >= 1) */
	const char *format;   /* the format used: "tsv", "csv", "jsonl" */
	struct qe_strpool *pool;       /* private: owns every string */
};

/* Loads the file at path (plain or gzip) into *set (caller's storage,
 * overwritten). o may be NULL for the defaults. Returns 0 or a negative
 * status. */
int qe_pairs_load(const char *path, const struct qe_pairs_opts *o, struct qe_pair_set *set,
		  struct qe_err *err);

/* The same over len bytes in memory (plain text, not gzip); name is used in
 * messages and for format "auto" (its extension). buf is only read. */
int qe_pairs_load_mem(const char *name, const void *buf, size_t len,
		      const struct qe_pairs_opts *o, struct qe_pair_set *set, struct qe_err *err);

/* Frees everything the set owns and zeroes it. Safe on a zeroed set. */
void qe_pair_set_release(struct qe_pair_set *set);

#endif
