#include "harness/journal.h"
#include "harness/base/hash.h"
#include "harness/base/json.h"
#include "harness/base/text.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- a set of strings (open addressing, FNV-1a) ------------------------- */

struct idset {
	char **slot;
	size_t cap, n;
};

static uint64_t fnv1a(const char *s)
{
	return qe_fnv1a(QE_FNV1A_INIT, s, strlen(s));
}

static int idset_has(const struct idset *s, const char *id)
{
	if (!s->cap)
		return 0;
	for (size_t i = fnv1a(id) & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
		if (!s->slot[i])
			return 0;
		if (!strcmp(s->slot[i], id))
			return 1;
	}
}

static int idset_add(struct idset *s, const char *id)
{
	if ((s->n + 1) * 2 > s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 1024;
		char **ns = calloc(ncap, sizeof(*ns));
		if (!ns)
			return -1;
		for (size_t i = 0; i < s->cap; i++) {
			size_t k;
			if (!s->slot[i])
				continue;
			for (k = fnv1a(s->slot[i]) & (ncap - 1); ns[k]; k = (k + 1) & (ncap - 1))
				;
			ns[k] = s->slot[i];
		}
		free(s->slot);
		s->slot = ns;
		s->cap = ncap;
	}
	for (size_t i = fnv1a(id) & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
		if (!s->slot[i]) {
			s->slot[i] = strdup(id);
			if (!s->slot[i])
				return -1;
			s->n++;
			return 0;
		}
		if (!strcmp(s->slot[i], id))
			return 0;
	}
}

static void idset_release(struct idset *s)
{
	for (size_t i = 0; i < s->cap; i++)
		free(s->slot[i]);
	free(s->slot);
	memset(s, 0, sizeof(*s));
}

/* ---- the journal --------------------------------------------------------- */

struct qe_journal {
	int fd;
	char *path;
	struct idset ids;
	struct idset scope;  /* qe_journal_scope's ids */
	int scoped;          /* 1 = ids outside `scope` count as present */
};

static const char *rec_id(const cJSON *rec, char *buf, size_t cap)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(rec, "id");

	if (cJSON_IsString(id))
		return id->valuestring;
	if (cJSON_IsNumber(id)) {
		snprintf(buf, cap, "%.17g", id->valuedouble);
		return buf;
	}
	return NULL;
}

/* Walk whole lines of text; torn tail (no final newline) reported via *keep. */
static int parse_lines(const char *path, char *text, size_t len, cJSON *arr, struct idset *ids,
		       size_t *keep, struct qe_err *err)
{
	size_t pos = 0, line = 0;

	*keep = 0;
	while (pos < len) {
		char *nl = memchr(text + pos, '\n', len - pos);
		const char *end = NULL;
		cJSON *rec;
		char idbuf[64];
		const char *id;

		line++;
		if (!nl) /* torn last line: a record never completed */
			break;
		*nl = '\0';
		if (nl == text + pos) { /* empty line */
			pos = (size_t)(nl - text) + 1;
			*keep = pos;
			continue;
		}
		rec = cJSON_ParseWithLengthOpts(text + pos, (size_t)(nl - text) - pos, &end, 0);
		if (!rec || !cJSON_IsObject(rec) || !(id = rec_id(rec, idbuf, sizeof(idbuf)))) {
			cJSON_Delete(rec);
			return qe_fail(err, QE_EINPUT, "%s:%zu: not a record (a JSON object with an \"id\")", path, line);
		}
		if (ids && idset_add(ids, id) != 0) {
			cJSON_Delete(rec);
			return qe_fail(err, QE_ENOMEM, "out of memory reading '%s'", path);
		}
		if (arr)
			cJSON_AddItemToArray(arr, rec);
		else
			cJSON_Delete(rec);
		pos = (size_t)(nl - text) + 1;
		*keep = pos;
	}
	return 0;
}

int qe_journal_open(const char *path, struct qe_journal **out, struct qe_err *err)
{
	struct qe_journal *j;
	size_t len = 0, keep = 0;
	char *text;
	int rc;

	*out = NULL;
	j = calloc(1, sizeof(*j));
	if (!j || !(j->path = strdup(path))) {
		free(j);
		return qe_fail(err, QE_ENOMEM, "out of memory");
	}
	rc = qe_file_read(path, &text, &len, err);
	if (rc && rc != QE_ENOENT) {
		free(j->path);
		free(j);
		return rc;
	}
	if (rc == 0) {
		rc = parse_lines(path, text, len, NULL, &j->ids, &keep, err);
		free(text);
		if (rc) {
			idset_release(&j->ids);
			free(j->path);
			free(j);
			return rc;
		}
		if (keep < len && truncate(path, (off_t)keep) != 0) {
			idset_release(&j->ids);
			free(j->path);
			free(j);
			return qe_fail(err, QE_EIO, "cannot drop the torn last record of '%s': %s", path, strerror(errno));
		}
	}
	j->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (j->fd < 0) {
		idset_release(&j->ids);
		free(j->path);
		free(j);
		return qe_fail(err, QE_EIO, "cannot open '%s' for writing: %s", path, strerror(errno));
	}
	*out = j;
	return 0;
}

int qe_journal_has(const struct qe_journal *j, const char *id)
{
	return idset_has(&j->ids, id) || (j->scoped && !idset_has(&j->scope, id));
}

int qe_journal_scope(struct qe_journal *j, const char *const *ids, size_t n, struct qe_err *err)
{
	for (size_t i = 0; i < n; i++)
		if (idset_add(&j->scope, ids[i]) != 0)
			return qe_fail(err, QE_ENOMEM, "out of memory");
	j->scoped = 1;
	return 0;
}

size_t qe_journal_count(const struct qe_journal *j)
{
	return j->ids.n;
}

int qe_journal_append(struct qe_journal *j, const cJSON *rec, struct qe_err *err)
{
	char idbuf[64], *text;
	const char *id = rec_id(rec, idbuf, sizeof(idbuf));
	size_t n;
	ssize_t w;

	if (!id)
		return qe_fail(err, QE_EINVAL, "a record without an id for '%s'", j->path);
	if (idset_has(&j->ids, id))
		return qe_fail(err, QE_EINVAL, "record '%s' is already in '%s'", id, j->path);
	if (j->scoped && !idset_has(&j->scope, id))
		return qe_fail(err, QE_EINVAL, "record '%s' is outside the shard '%s' was opened for", id, j->path);
	text = cJSON_PrintUnformatted(rec);
	if (!text)
		return qe_fail(err, QE_ENOMEM, "out of memory");
	n = strlen(text);
	text[n] = '\n'; /* cJSON allocates the NUL: room for the newline */
	w = write(j->fd, text, n + 1);
	cJSON_free(text);
	if (w != (ssize_t)(n + 1))
		return qe_fail(err, QE_EIO, "cannot write to '%s': %s", j->path, w < 0 ? strerror(errno) : "short write");
	if (idset_add(&j->ids, id) != 0)
		return qe_fail(err, QE_ENOMEM, "out of memory");
	return 0;
}

int qe_journal_sync(struct qe_journal *j, struct qe_err *err)
{
	if (fsync(j->fd) != 0)
		return qe_fail(err, QE_EIO, "cannot sync '%s': %s", j->path, strerror(errno));
	return 0;
}

void qe_journal_close(struct qe_journal *j)
{
	if (!j)
		return;
	fsync(j->fd);
	close(j->fd);
	idset_release(&j->ids);
	idset_release(&j->scope);
	free(j->path);
	free(j);
}

int qe_journal_load(const char *path, cJSON **out, struct qe_err *err)
{
	return qe_json_lines_load(path, "id", out, err);
}
