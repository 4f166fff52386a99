/* qeval — the record journal: per-item records of one task at one level, as
 * JSON lines appended while the level runs. Records are the source of truth:
 * results.json and every report are recomputed from them.
 *
 * Crash safety: a record is one write() of one line; qe_journal_open drops a
 * torn last line (a kill -9 mid-write) and remembers the ids present, so a
 * resumed run neither redoes nor duplicates an item. Not thread-safe: one
 * journal is written by one thread.
 */
#ifndef QE_JOURNAL_H
#define QE_JOURNAL_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "harness/base/err.h"

struct qe_journal;

/* Open (create) path for appending; reads the ids already there. */
int qe_journal_open(const char *path, struct qe_journal **out, struct qe_err *err);

/* 1 when a record with this id is already in the journal (or, in a scoped
 * journal, when the id is outside its scope). */
int qe_journal_has(const struct qe_journal *j, const char *id);

/* Limit the journal to the work items `ids` (n of them, copied): from now
 * on qe_journal_has answers 1 for any other id (another shard does it,
 * harness/scale.h), so a task skips it as it skips a done item, and
 * qe_journal_append refuses it. */
int qe_journal_scope(struct qe_journal *j, const char *const *ids, size_t n, struct qe_err *err);

/* Records in the journal (read at open + appended since). */
size_t qe_journal_count(const struct qe_journal *j);

/* Append rec (an object with a string "id") as one line. The id must be new. */
int qe_journal_append(struct qe_journal *j, const cJSON *rec, struct qe_err *err);

/* fsync the file (the driver calls it at checkpoints, not per record). */
int qe_journal_sync(struct qe_journal *j, struct qe_err *err);

void qe_journal_close(struct qe_journal *j);

/* Read every whole record of path into a new cJSON array (caller frees with
 * cJSON_Delete). A missing file gives an empty array. A line that is not
 * JSON, other than a torn last line, is QE_EINPUT naming path:line. */
int qe_journal_load(const char *path, cJSON **out, struct qe_err *err);

#endif
