/* Sentence-pair loader: records come from the CSV reader (tsv/csv, or one
 * line per record for jsonl), columns are resolved on the first record,
 * sentences are interned in a hash table. See datasets/pairs.h. */
#include "datasets/pairs.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "datasets/csv.h"
#include "datasets/strpool.h"

enum fmt { FMT_TSV, FMT_CSV, FMT_JSONL };
enum { C_S1, C_S2, C_LABEL, C_FILTER, N_C };

static const char *const fmt_names[] = { "tsv", "csv", "jsonl" };

/* Default column names, tried in order when a header (or JSON object) is
 * there and the caller named no column. NULL-terminated. */
static const char *const names_s1[] = { "sentence1", "s1", "text1", "text_a", "question1", NULL };
static const char *const names_s2[] = { "sentence2", "s2", "text2", "text_b", "question2", NULL };
static const char *const names_label[] = { "label", "score", "similarity", "gold_label", NULL };
static const char *const *const default_names[3] = { names_s1, names_s2, names_label };

struct loader {
	struct qe_pairs_opts o;
	const char *name;          /* for messages */
	enum fmt fmt;
	struct qe_pair_set *set;
	size_t sents_cap, pairs_cap;

	/* interning: slot = sentence index + 1, 0 = empty */
	uint32_t *slots;
	uint64_t *hashes;          /* [sents_cap] hash of each sentence */
	size_t n_slots;            /* power of two */

	/* columns */
	const char *spec[N_C];     /* the caller's specs; NULL = default */
	const char *filter_value;
	size_t filter_len;
	int resolved;              /* columns known (after the first record) */
	long col[N_C];             /* field index, -1 = unused (filter) */
	size_t need;               /* fields a row must have */
	const char *jname[N_C];    /* jsonl member names (pool), NULL = default group */
};

struct qe_pairs_opts qe_pairs_default_opts(void)
{
	struct qe_pairs_opts o;

	memset(&o, 0, sizeof(o));
	o.format = "auto";
	o.header = -1;
	o.quoting = -1;
	o.kind = QE_LABEL_AUTO;
	return o;
}

void qe_pair_set_release(struct qe_pair_set *set)
{
	if (!set)
		return;
	free(set->sents);
	free(set->pairs);
	qe_strpool_free(set->pool);
	memset(set, 0, sizeof(*set));
}

/* ---- small helpers --------------------------------------------------------- */

/* A non-empty run of digits: a column index. */
static int spec_index(const char *s, long *ix)
{
	const char *p = s;

	if (!s || !*s || strlen(s) > 9)
		return 0;
	for (; *p; p++)
		if (*p < '0' || *p > '9')
			return 0;
	*ix = strtol(s, NULL, 10);
	return 1;
}

/* The number in s[0..len) (surrounding blanks allowed), finite. */
static int number_parse(const char *s, size_t len, double *out)
{
	char buf[64], *end;

	while (len && isspace((unsigned char)s[len - 1]))
		len--;
	while (len && isspace((unsigned char)*s)) {
		s++;
		len--;
	}
	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	*out = strtod(buf, &end);
	if (end != buf + len || !isfinite(*out))
		return -1;
	return 0;
}

static uint64_t hash_bytes(const char *s, size_t len)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ull;
	}
	return h;
}

/* ---- the set ----------------------------------------------------------------- */

static int slots_grow(struct loader *L)
{
	size_t n = L->n_slots ? L->n_slots * 2 : 1024, i, j;
	uint32_t *s = calloc(n, sizeof(*s));

	if (!s)
		return -1;
	for (i = 0; i < L->set->n_sents; i++) {
		j = (size_t)L->hashes[i] & (n - 1);
		while (s[j])
			j = (j + 1) & (n - 1);
		s[j] = (uint32_t)(i + 1);
	}
	free(L->slots);
	L->slots = s;
	L->n_slots = n;
	return 0;
}

/* Index of sentence s[0..len) (no NUL inside), added when new; -1 on ENOMEM. */
static long sent_intern(struct loader *L, const char *s, size_t len)
{
	struct qe_pair_set *set = L->set;
	uint64_t h = hash_bytes(s, len);
	size_t j;
	uint32_t k;

	if ((set->n_sents + 1) * 2 > L->n_slots && slots_grow(L))
		return -1;
	j = (size_t)h & (L->n_slots - 1);
	while ((k = L->slots[j]) != 0) {
		const char *t = set->sents[k - 1];

		if (L->hashes[k - 1] == h && strncmp(t, s, len) == 0 && t[len] == '\0')
			return (long)(k - 1);
		j = (j + 1) & (L->n_slots - 1);
	}
	if (set->n_sents >= UINT32_MAX - 1)
		return -1;
	if (set->n_sents == L->sents_cap) {
		size_t cap = L->sents_cap ? L->sents_cap * 2 : 1024;
		char **v = realloc(set->sents, cap * sizeof(*v));
		uint64_t *hv;

		if (!v)
			return -1;
		set->sents = v;
		hv = realloc(L->hashes, cap * sizeof(*hv));
		if (!hv)
			return -1;
		L->hashes = hv;
		L->sents_cap = cap;
	}
	set->sents[set->n_sents] = qe_strpool_dup(set->pool, s, len);
	if (!set->sents[set->n_sents])
		return -1;
	L->hashes[set->n_sents] = h;
	L->slots[j] = (uint32_t)(set->n_sents + 1);
	return (long)set->n_sents++;
}

/* 1 when the n bytes at s are only white space */
static int blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isspace((unsigned char)s[i]))
			return 0;
	return 1;
}

/* Adds a pair (past the limit: checks it only); returns 0 or a negative
 * status. */
static int pair_add(struct loader *L, const char *s1, size_t l1, const char *s2, size_t l2,
		    double label, uint32_t line, struct qe_err *err)
{
	struct qe_pair_set *set = L->set;
	struct qe_pair *p;
	long a, b;

	if (L->o.kind == QE_LABEL_BINARY && label != 0.0 && label != 1.0)
		return qe_fail(err, QE_EINPUT, "%s:%u: label %g is not 0 or 1 (binary labels)",
			       L->name, (unsigned)line, label);
	if (blank(s1, l1) || blank(s2, l2)) /* its embedding would be any text's: cosine 1 to anything */
		return qe_fail(err, QE_EINPUT, "%s:%u: the %s sentence is empty", L->name, (unsigned)line,
			       blank(s1, l1) ? "first" : "second");
	if (L->o.limit && set->n_pairs >= L->o.limit)
		return 0; /* past --limit: still read to the end, so a damaged file fails a smoke run too */
	if (set->n_pairs == L->pairs_cap) {
		size_t cap = L->pairs_cap ? L->pairs_cap * 2 : 1024;

		p = realloc(set->pairs, cap * sizeof(*p));
		if (!p)
			return qe_fail(err, QE_ENOMEM, "%s:%u: out of memory", L->name, (unsigned)line);
		set->pairs = p;
		L->pairs_cap = cap;
	}
	a = sent_intern(L, s1, l1);
	b = a < 0 ? -1 : sent_intern(L, s2, l2);
	if (b < 0)
		return qe_fail(err, QE_ENOMEM, "%s:%u: out of memory", L->name, (unsigned)line);
	p = &set->pairs[set->n_pairs++];
	p->s1 = (uint32_t)a;
	p->s2 = (uint32_t)b;
	p->label = label;
	p->line = line;
	if (set->n_pairs == 1 || label < set->label_min)
		set->label_min = label;
	if (set->n_pairs == 1 || label > set->label_max)
		set->label_max = label;
	return 0;
}

/* ---- tsv / csv ------------------------------------------------------------------ */

static int field_is(const struct qe_csv_rec *rec, size_t i, const char *name)
{
	return rec->lens[i] == strlen(name) && strncasecmp(rec->fields[i], name, rec->lens[i]) == 0;
}

static long header_find(const struct qe_csv_rec *rec, const char *name)
{
	size_t i;

	for (i = 0; i < rec->n_fields; i++)
		if (field_is(rec, i, name))
			return (long)i;
	return -1;
}

static long header_find_any(const struct qe_csv_rec *rec, const char *const *names)
{
	long ix;

	for (; *names; names++)
		if ((ix = header_find(rec, *names)) >= 0)
			return ix;
	return -1;
}

/* Does the first record look like a header? (opts.header == -1) */
static int header_guess(const struct loader *L, const struct qe_csv_rec *rec)
{
	long ix, label_ix = 2;
	double v;
	int c;

	for (c = 0; c < N_C; c++)
		if (L->spec[c] && !spec_index(L->spec[c], &ix))
			return 1; /* a column is named */
	if ((!L->spec[C_S1] && header_find_any(rec, names_s1) >= 0) ||
	    (!L->spec[C_LABEL] && header_find_any(rec, names_label) >= 0))
		return 1;
	if (L->spec[C_LABEL])
		spec_index(L->spec[C_LABEL], &label_ix);
	if ((size_t)label_ix >= rec->n_fields)
		return 0;
	return number_parse(rec->fields[label_ix], rec->lens[label_ix], &v) != 0;
}

static void names_join(char *buf, size_t cap, const char *const *names)
{
	size_t n = 0;

	buf[0] = '\0';
	for (; *names && n + 1 < cap; names++)
		n += (size_t)snprintf(buf + n, cap - n, "%s%s", n ? "|" : "", *names);
}

/* the options that set each column, as a user gives them (plan key, flag) */
static const char *const col_what[N_C] = { "s1 (--pairs-s1)", "s2 (--pairs-s2)", "label (--pairs-label)", "filter (--pairs-filter)" };

/* Resolves the columns from the first record; *is_header says whether that
 * record is a header (and so carries no pair). */
static int columns_resolve(struct loader *L, const struct qe_csv_rec *rec, int *is_header,
			   struct qe_err *err)
{
	int header = L->o.header < 0 ? header_guess(L, rec) : L->o.header;
	long ix;
	int c;

	for (c = 0; c < N_C; c++) {
		if (c == C_FILTER && !L->spec[c]) {
			L->col[c] = -1;
			continue;
		}
		if (L->spec[c] && spec_index(L->spec[c], &ix)) {
			L->col[c] = ix;
		} else if (L->spec[c]) {
			if (!header)
				return qe_fail(err, QE_EINVAL,
					       "%s: %s '%s' names a column but the file has no header",
					       L->name, col_what[c], L->spec[c]);
			L->col[c] = header_find(rec, L->spec[c]);
			if (L->col[c] < 0)
				return qe_fail(err, QE_EINPUT, "%s:%u: no column '%s' in the header",
					       L->name, (unsigned)rec->line, L->spec[c]);
		} else if (header) {
			L->col[c] = header_find_any(rec, default_names[c]);
			if (L->col[c] < 0) {
				char list[128];

				names_join(list, sizeof(list), default_names[c]);
				return qe_fail(err, QE_EINPUT,
					       "%s:%u: the header has no %s column (set %s)",
					       L->name, (unsigned)rec->line, list, col_what[c]);
			}
		} else {
			L->col[c] = c;
		}
	}
	L->need = 0;
	for (c = 0; c < N_C; c++)
		if (L->col[c] >= 0 && (size_t)L->col[c] + 1 > L->need)
			L->need = (size_t)L->col[c] + 1;
	L->resolved = 1;
	*is_header = header;
	return 0;
}

static int on_record(const struct qe_csv_rec *rec, void *user, struct qe_err *err)
{
	struct loader *L = user;
	size_t i1, i2, il;
	double label;
	int rc, is_header = 0;

	if (!L->resolved) {
		rc = columns_resolve(L, rec, &is_header, err);
		if (rc || is_header)
			return rc;
	}
	if (rec->n_fields < L->need)
		return qe_fail(err, QE_EINPUT, "%s:%u: expected at least %zu fields, got %zu",
			       L->name, (unsigned)rec->line, L->need, rec->n_fields);
	if (L->col[C_FILTER] >= 0) {
		size_t f = (size_t)L->col[C_FILTER];

		if (rec->lens[f] != L->filter_len ||
		    memcmp(rec->fields[f], L->filter_value, L->filter_len) != 0)
			return 0;
	}
	i1 = (size_t)L->col[C_S1];
	i2 = (size_t)L->col[C_S2];
	il = (size_t)L->col[C_LABEL];
	if (number_parse(rec->fields[il], rec->lens[il], &label))
		return qe_fail(err, QE_EINPUT, "%s:%u: label '%.32s' is not a number",
			       L->name, (unsigned)rec->line, rec->fields[il]);
	return pair_add(L, rec->fields[i1], rec->lens[i1], rec->fields[i2], rec->lens[i2], label,
			rec->line, err);
}

/* ---- jsonl ------------------------------------------------------------------------- */

static const cJSON *member_get(const cJSON *obj, const char *name, const char *const *defaults)
{
	const cJSON *v;

	if (name)
		return cJSON_GetObjectItemCaseSensitive(obj, name);
	for (; *defaults; defaults++)
		if ((v = cJSON_GetObjectItemCaseSensitive(obj, *defaults)) != NULL)
			return v;
	return NULL;
}

static int member_fail(const struct loader *L, uint32_t line, int c, const char *what,
		       struct qe_err *err)
{
	char list[128];

	if (L->spec[c])
		snprintf(list, sizeof(list), "%s", L->spec[c]);
	else
		names_join(list, sizeof(list), default_names[c]);
	return qe_fail(err, QE_EINPUT, "%s:%u: member '%s' %s", L->name, (unsigned)line, list, what);
}

static int filter_match(const struct loader *L, const cJSON *v)
{
	double d;

	if (cJSON_IsString(v))
		return strlen(v->valuestring) == L->filter_len &&
		       memcmp(v->valuestring, L->filter_value, L->filter_len) == 0;
	if (cJSON_IsNumber(v))
		return number_parse(L->filter_value, L->filter_len, &d) == 0 && d == v->valuedouble;
	if (cJSON_IsBool(v))
		return (L->filter_len == 4 && memcmp(L->filter_value, "true", 4) == 0 && cJSON_IsTrue(v)) ||
		       (L->filter_len == 5 && memcmp(L->filter_value, "false", 5) == 0 && cJSON_IsFalse(v));
	return 0;
}

static int on_json_line(const struct qe_csv_rec *rec, void *user, struct qe_err *err)
{
	struct loader *L = user;
	const char *text = rec->fields[0], *end = NULL;
	size_t len = rec->lens[0], at;
	const cJSON *s1, *s2, *lab;
	cJSON *obj;
	double label;
	int rc;

	obj = cJSON_ParseWithLengthOpts(text, len, &end, 0);
	if (!obj) {
		at = end && end >= text && end <= text + len ? (size_t)(end - text) : 0;
		return qe_fail(err, QE_EINPUT, "%s:%u: bad JSON near column %zu", L->name,
			       (unsigned)rec->line, at + 1);
	}
	for (at = end ? (size_t)(end - text) : len; at < len; at++)
		if (!isspace((unsigned char)text[at])) {
			cJSON_Delete(obj);
			return qe_fail(err, QE_EINPUT, "%s:%u: text after the JSON value (column %zu)",
				       L->name, (unsigned)rec->line, at + 1);
		}
	if (!cJSON_IsObject(obj)) {
		cJSON_Delete(obj);
		return qe_fail(err, QE_EINPUT, "%s:%u: expected a JSON object", L->name,
			       (unsigned)rec->line);
	}
	if (L->spec[C_FILTER]) {
		const cJSON *fv = cJSON_GetObjectItemCaseSensitive(obj, L->spec[C_FILTER]);

		if (!fv || !filter_match(L, fv)) {
			cJSON_Delete(obj);
			return 0;
		}
	}
	s1 = member_get(obj, L->spec[C_S1], names_s1);
	s2 = member_get(obj, L->spec[C_S2], names_s2);
	lab = member_get(obj, L->spec[C_LABEL], names_label);
	rc = 0;
	if (!s1 || !cJSON_IsString(s1))
		rc = member_fail(L, rec->line, C_S1, s1 ? "is not a string" : "is missing", err);
	else if (!s2 || !cJSON_IsString(s2))
		rc = member_fail(L, rec->line, C_S2, s2 ? "is not a string" : "is missing", err);
	else if (!lab)
		rc = member_fail(L, rec->line, C_LABEL, "is missing", err);
	else if (cJSON_IsNumber(lab) && isfinite(lab->valuedouble))
		label = lab->valuedouble;
	else if (cJSON_IsBool(lab))
		label = cJSON_IsTrue(lab) ? 1.0 : 0.0;
	else if (!(cJSON_IsString(lab) &&
		   number_parse(lab->valuestring, strlen(lab->valuestring), &label) == 0))
		rc = member_fail(L, rec->line, C_LABEL, "is not a number", err);
	if (rc == 0)
		rc = pair_add(L, s1->valuestring, strlen(s1->valuestring), s2->valuestring,
			      strlen(s2->valuestring), label, rec->line, err);
	cJSON_Delete(obj);
	return rc;
}

/* ---- format choice ------------------------------------------------------------------ */

static int ends_with(const char *s, size_t len, const char *suffix)
{
	size_t n = strlen(suffix);

	return len >= n && strncasecmp(s + len - n, suffix, n) == 0;
}

/* From the start of the contents: jsonl, tsv or csv. */
static enum fmt format_sniff(const char *head, size_t len)
{
	size_t i = 0, e;

	if (len >= 3 && memcmp(head, "\xEF\xBB\xBF", 3) == 0)
		i = 3;
	while (i < len && isspace((unsigned char)head[i]))
		i++;
	if (i < len && head[i] == '{')
		return FMT_JSONL;
	for (e = i; e < len && head[e] != '\n'; e++)
		if (head[e] == '\t')
			return FMT_TSV;
	return FMT_CSV;
}

/* Sets L->fmt. head/len: the start of the contents (for sniffing). */
static int format_choose(struct loader *L, const char *name, const char *head, size_t len,
			 struct qe_err *err)
{
	const char *f = L->o.format;
	size_t n = strlen(name);

	if (f && strcmp(f, "auto") != 0) {
		if (strcmp(f, "tsv") == 0)
			L->fmt = FMT_TSV;
		else if (strcmp(f, "csv") == 0)
			L->fmt = FMT_CSV;
		else if (strcmp(f, "jsonl") == 0)
			L->fmt = FMT_JSONL;
		else
			return qe_fail(err, QE_EINVAL, "%s: unknown pairs format '%s' (auto, tsv, csv, jsonl)",
				       L->name, f);
		return 0;
	}
	if (ends_with(name, n, ".gz"))
		n -= 3;
	if (ends_with(name, n, ".jsonl") || ends_with(name, n, ".ndjson") || ends_with(name, n, ".json"))
		L->fmt = FMT_JSONL;
	else if (ends_with(name, n, ".tsv") || ends_with(name, n, ".data"))
		L->fmt = FMT_TSV;
	else
		L->fmt = format_sniff(head, len);
	return 0;
}

/* ---- entry points -------------------------------------------------------------------- */

static int loader_init(struct loader *L, const char *path, const struct qe_pairs_opts *o,
		       struct qe_pair_set *set, struct qe_err *err)
{
	const char *eq;

	memset(set, 0, sizeof(*set));
	memset(L, 0, sizeof(*L));
	L->o = o ? *o : qe_pairs_default_opts();
	L->name = L->o.name ? L->o.name : path;
	L->set = set;
	if (L->o.kind != QE_LABEL_AUTO && L->o.kind != QE_LABEL_BINARY &&
	    L->o.kind != QE_LABEL_GRADED)
		return qe_fail(err, QE_EINVAL, "%s: bad label kind %d", L->name, (int)L->o.kind);
	L->spec[C_S1] = L->o.col_s1 && *L->o.col_s1 ? L->o.col_s1 : NULL;
	L->spec[C_S2] = L->o.col_s2 && *L->o.col_s2 ? L->o.col_s2 : NULL;
	L->spec[C_LABEL] = L->o.col_label && *L->o.col_label ? L->o.col_label : NULL;
	set->pool = qe_strpool_new();
	if (!set->pool)
		return qe_fail(err, QE_ENOMEM, "out of memory");
	if (L->o.filter && *L->o.filter) {
		eq = strchr(L->o.filter, '=');
		if (!eq || eq == L->o.filter)
			return qe_fail(err, QE_EINVAL, "%s: filter '%s' is not column=value",
				       L->name, L->o.filter);
		L->spec[C_FILTER] = qe_strpool_dup(set->pool, L->o.filter, (size_t)(eq - L->o.filter));
		if (!L->spec[C_FILTER])
			return qe_fail(err, QE_ENOMEM, "out of memory");
		L->filter_value = eq + 1;
		L->filter_len = strlen(eq + 1);
	}
	return 0;
}

static int loader_run(struct loader *L, const char *path, const void *buf, size_t len,
		      struct qe_err *err)
{
	struct qe_pairs_opts *o = &L->o;
	struct qe_csv_opts co = qe_csv_default_opts();
	struct qe_pair_set *set = L->set;
	size_t i;
	int rc, binary;

	co.name = L->name;
	co.strip_cr = 1;
	if (L->fmt == FMT_JSONL) {
		co.delim = '\0';
		co.quoting = 0;
	} else {
		co.delim = L->fmt == FMT_TSV ? '\t' : ',';
		co.quoting = o->quoting < 0 ? L->fmt == FMT_CSV : o->quoting != 0;
	}
	if (path)
		rc = qe_csv_read_file(path, &co, L->fmt == FMT_JSONL ? on_json_line : on_record, L, err);
	else
		rc = qe_csv_read_mem(buf, len, &co, L->fmt == FMT_JSONL ? on_json_line : on_record, L,
				     err);
	if (rc)
		return rc;
	if (set->n_pairs == 0)
		return qe_fail(err, QE_EINPUT, "%s: no pairs%s%s%s", L->name,
			       L->spec[C_FILTER] ? " (no row matched filter '" : "",
			       L->spec[C_FILTER] ? o->filter : "", L->spec[C_FILTER] ? "')" : "");
	set->format = fmt_names[L->fmt];
	if (o->kind == QE_LABEL_AUTO) {
		binary = 1;
		for (i = 0; i < set->n_pairs && binary; i++)
			binary = set->pairs[i].label == 0.0 || set->pairs[i].label == 1.0;
		set->kind = binary ? QE_LABEL_BINARY : QE_LABEL_GRADED;
	} else {
		set->kind = o->kind;
	}
	return 0;
}

static int loader_end(struct loader *L, int rc)
{
	free(L->slots);
	free(L->hashes);
	if (rc)
		qe_pair_set_release(L->set);
	return rc;
}

int qe_pairs_load(const char *path, const struct qe_pairs_opts *o, struct qe_pair_set *set,
		  struct qe_err *err)
{
	struct loader L;
	char head[4096];
	long n = 0;
	int rc;

	rc = loader_init(&L, path, o, set, err);
	if (rc == 0 && (!L.o.format || strcmp(L.o.format, "auto") == 0)) {
		n = qe_csv_peek_file(path, head, sizeof(head), err);
		if (n < 0)
			rc = (int)n;
	}
	if (rc == 0)
		rc = format_choose(&L, path, head, n > 0 ? (size_t)n : 0, err);
	if (rc == 0)
		rc = loader_run(&L, path, NULL, 0, err);
	return loader_end(&L, rc);
}

int qe_pairs_load_mem(const char *name, const void *buf, size_t len,
		      const struct qe_pairs_opts *o, struct qe_pair_set *set, struct qe_err *err)
{
	struct loader L;
	int rc;

	if (!name)
		name = "<memory>";
	rc = loader_init(&L, name, o, set, err);
	if (rc == 0)
		rc = format_choose(&L, name, buf, len, err);
	if (rc == 0)
		rc = loader_run(&L, NULL, buf, len, err);
	return loader_end(&L, rc);
}
