/* qeval — a run directory's identity: what its records depend on, written to
 * DIR/identity.json when the run starts and compared on --resume, so that a
 * resumed run never reuses records it cannot prove are its own (docs/cli.md,
 * "Resume").
 *
 *   { "schema": "qeval-identity", "version": 1,
 *     "runtime": {"name": "llamacpp", "ctx": 0},
 *     "model": {"sha256": "...", "bytes": N, "type": "F16"},  (the runtime's)
 *     "levels": [ {"name": "F16", "spec": "F16"}, ... ],
 *     "tasks": { "mmlu": {"task": "mmlu", "settings": {...},
 *                          "data": {"dir": {"files": N, "bytes": N,
 *                                           "fingerprint": "<sha256>"}}}, ... } }
 *
 * A data fingerprint is the SHA-256 of the list of every regular file under
 * the path (relative name, size, mtime in ns), sorted: an edited, added,
 * removed or replaced file changes it; reading the files is not needed.
 */
#ifndef QE_RUNID_H
#define QE_RUNID_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "harness/base/err.h"

#define QE_RUNID_FILE "identity.json"

/* Fingerprint a file or a folder (recursively; names starting with '.'
 * skipped) into out: "files", "bytes", "fingerprint". QE_ENOENT when path
 * does not exist, QE_EIO when a folder cannot be read. */
int qe_data_fingerprint(const char *path, cJSON *out, struct qe_err *err);

/* Where now differs from was: a JSON path and both values ("tasks.mmlu.
 * settings.shots: 1, the run's: 5") into buf; 0 when equal (numbers
 * compared exactly, keys in any order), 1 when they differ. */
int qe_runid_diff(const cJSON *was, const cJSON *now, char *buf, size_t cap);

#endif
