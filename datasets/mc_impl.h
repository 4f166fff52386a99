/* qeval — internals shared by the multiple-choice loaders (mmlu.c, ceval.c).
 * Not for callers outside datasets/: use datasets/mc.h.
 *
 * A loader is a flavour: how rows map to columns and where subject names
 * and categories come from. mc.c does the rest (folders, subject filter,
 * items, shots, ids).
 */
#ifndef QE_DATASETS_MC_IMPL_H
#define QE_DATASETS_MC_IMPL_H

#include <cjson/cJSON.h>

#include "datasets/mc.h"
#include "datasets/subjects.h"

/* What a flavour tells the engine about one subject; strings borrowed (the
 * engine copies them). NULL members get defaults: display = english = name
 * with '_' as ' ', category "unknown". */
struct qe_mc_meta {
	const char *display, *english, *category, *subcategory;
	int hard;
};

struct qe_mc_flavour {
	const char *name;           /* "mmlu" */
	const char *default_split;  /* "test" */
	int header;                 /* 1 = the first row names the columns */
	const char *json_name;      /* description file in the root, NULL = none */
	/* Fill m for subject name from the parsed description (NULL when the
	 * file is absent) and the built-in table. Return 0, or QE_EINPUT after
	 * filling err (naming json_path) for a malformed entry. Required. */
	int (*meta)(const cJSON *json, const char *json_path, const char *name,
		    struct qe_mc_meta *m, struct qe_err *err);
};

/* Loads a set with flavour f: the whole of qe_mmlu_load / qe_ceval_load. */
int qe_mc_load_flavour(const struct qe_mc_flavour *f, const char *dir,
		       const struct qe_mc_opts *o, struct qe_mc_set *set, struct qe_err *err);

#endif
