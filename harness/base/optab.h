/* qeval — option tables: a set of options declared once, from which come the
 * plan's validation (unknown keys and wrong types rejected with their JSON
 * path), the typed values a task or the driver reads, the command-line flags
 * and their help.
 *
 *   struct my_opts { long shots; const char *split; };
 *   static const struct qe_optab my_tab[] = {
 *       { "shots", QE_OT_INT, offsetof(struct my_opts, shots), "5", 0, 64,
 *         "few-shot examples per question", "K", QE_OF_SHARED },
 *       { "split", QE_OT_STR, offsetof(struct my_opts, split), "test", 0, 0, "the split", "S", 0 },
 *       { NULL },
 *   };
 *
 * Values are stored at `off` in the caller's struct by type:
 *   QE_OT_INT   long          whole number in [lo, hi]
 *   QE_OT_NUM   double        finite number in [lo, hi] (lo = hi = 0: any)
 *   QE_OT_STR   const char *  string (borrowed from the JSON object: valid while it lives)
 *   QE_OT_BOOL  int           true / false
 *   QE_OT_INTS  struct qe_ints  1..QE_INTS_MAX whole numbers in [lo, hi]: an array, a
 *                             number, or text with them separated by ',' or '/'
 *   QE_OT_JSON  const cJSON * any JSON value, checked by `check` (borrowed)
 *   QE_OT_ENUM  const char *  one of `choices`
 * `check` (optional, any type) validates further after the type check: it gets
 * the JSON value and the stored field and fills err (its message is prefixed
 * with the key's path).
 */
#ifndef QE_BASE_OPTAB_H
#define QE_BASE_OPTAB_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "harness/base/err.h"
#include "harness/base/text.h"

enum qe_opt_type { QE_OT_INT, QE_OT_NUM, QE_OT_STR, QE_OT_BOOL, QE_OT_INTS, QE_OT_JSON, QE_OT_ENUM };

/* flags of one option */
enum {
	QE_OF_MAIN     = 1u << 0, /* the task's own flag: --TASK VALUE (its data) */
	QE_OF_SHARED   = 1u << 1, /* also --KEY, for every selected task that has KEY */
	QE_OF_NOFLAG   = 1u << 2, /* plan only: no command-line flag */
	QE_OF_INSTANCE = 1u << 3, /* with MAIN: each --TASK NAME=VALUE is a new instance */
	QE_OF_PATH     = 1u << 4, /* a file or folder: made absolute in the plan */
	QE_OF_REQUIRED = 1u << 5, /* the plan must give it */
};

#define QE_INTS_MAX 16

struct qe_ints {
	long v[QE_INTS_MAX];
	size_t n;
};

struct qe_optab {
	const char *key;      /* plan key ("shots"); NULL ends a table */
	int type;             /* enum qe_opt_type */
	size_t off;           /* where the value lives in the caller's struct */
	const char *def;      /* default as JSON text ("5", "\"test\"", "[512]"), NULL = none
			       * (zero / NULL) */
	double lo, hi;        /* range of INT, NUM and INTS items */
	const char *help;     /* one line, for --help and docs */
	const char *meta;     /* the value's name in help ("N", "DIR"); NULL = from type */
	unsigned flags;       /* QE_OF_* */
	const char *const *choices; /* ENUM: the words, NULL-terminated */
	int (*check)(const cJSON *v, void *field, struct qe_err *err); /* optional */
};

/* Every option's default into the struct at base. QE_EINVAL when a default
 * does not parse (a table bug). */
int qe_optab_defaults(const struct qe_optab *tab, void *base, struct qe_err *err);

/* Read obj's keys into the struct at base (defaults first). Keys in `skip`
 * (NULL-terminated, may be NULL) are left alone; any other key not in the
 * table is QE_EINVAL "PATH.KEY: unknown option (known: ...)" with a
 * suggestion when one is close; a value of the wrong type or range is
 * QE_EINVAL "PATH.KEY: expected ..., got ...". path names obj in messages
 * ("plan.tasks[0]"). Strings and JSON values are borrowed from obj. */
int qe_optab_read(const struct qe_optab *tab, const cJSON *obj, const char *const *skip, void *base,
		  const char *path, struct qe_err *err);

/* The option of tab with this key, NULL when none. */
const struct qe_optab *qe_optab_find(const struct qe_optab *tab, const char *key);

/* A command-line value (text) as the JSON value the plan holds for option o:
 * INT/NUM -> number (checked), INTS -> array, BOOL -> true/false, JSON ->
 * parsed text, others -> string. flag names the flag in messages. Caller
 * frees. NULL + err on a bad value. */
cJSON *qe_optab_value_from_text(const struct qe_optab *o, const char *text, const char *flag, struct qe_err *err);

/* The closest of n words to w (edit distance <= 2, or a prefix), NULL when
 * none is close: for "did you mean". */
const char *qe_closest_word(const char *w, const char *const *words, size_t n);

/* qe_closest_word, else the word equal to w when case and the characters
 * "_-. " are ignored ("Q4KM" -> "Q4_K_M", "q8-0" -> "Q8_0"); NULL when none.
 * For names (levels, quantization types, subjects). */
const char *qe_closest_name(const char *w, const char *const *words, size_t n);

/* The value name in help: o->meta, else from the type ("N", "X", "S", "LIST"). */
const char *qe_optab_meta(const struct qe_optab *o);

#endif
