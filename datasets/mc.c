/* The multiple-choice loading engine shared by MMLU and C-Eval, plus the
 * format registry. See datasets/mc.h for the contract. */
#include "datasets/mc_impl.h"
#include "harness/base/optab.h"
#include "harness/base/text.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "datasets/csv.h"
#include "datasets/strpool.h"

/* ---- registry ------------------------------------------------------------ */

static const struct qe_mc_format mc_formats[] = {
	{ "mmlu",  "test", qe_mmlu_load },
	{ "ceval", "val",  qe_ceval_load },
};

const struct qe_mc_format *qe_mc_formats(size_t *n)
{
	*n = sizeof(mc_formats) / sizeof(mc_formats[0]);
	return mc_formats;
}

const struct qe_mc_format *qe_mc_format_find(const char *name)
{
	size_t i, n;
	const struct qe_mc_format *f = qe_mc_formats(&n);

	for (i = 0; name && i < n; i++)
		if (strcmp(f[i].name, name) == 0)
			return &f[i];
	return NULL;
}

struct qe_mc_opts qe_mc_default_opts(void)
{
	struct qe_mc_opts o = { NULL, 0, NULL };

	return o;
}

void qe_mc_set_release(struct qe_mc_set *set)
{
	if (!set)
		return;
	free(set->items);
	free(set->subjects);
	qe_strpool_free(set->pool);
	memset(set, 0, sizeof(*set));
}

/* ---- small helpers --------------------------------------------------------- */

static int is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int is_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* "a" + "/" + "b" into the pool; NULL when out of memory. */
static char *path_join(struct qe_strpool *pool, const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *s = qe_strpool_alloc(pool, la + lb + 2);

	if (!s)
		return NULL;
	memcpy(s, a, la);
	s[la] = '/';
	memcpy(s + la + 1, b, lb + 1);
	return s;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* ---- subjects in a split folder ------------------------------------------- */

/* Sorted stems of DIR/<stem>_<split>.csv into a malloc'd array of pool
 * strings. */
static int subjects_list(struct qe_strpool *pool, const char *dir, const char *split,
			 char ***out, size_t *n_out, struct qe_err *err)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **names = NULL, **nn, suffix[64];
	size_t n = 0, cap = 0, len, ls;

	if (!d)
		return qe_fail(err, errno == ENOENT ? QE_ENOENT : QE_EIO, "cannot open '%s': %s",
			       dir, strerror(errno));
	snprintf(suffix, sizeof(suffix), "_%s.csv", split);
	ls = strlen(suffix);
	while ((de = readdir(d)) != NULL) {
		len = strlen(de->d_name);
		if (len <= ls || strcmp(de->d_name + len - ls, suffix) != 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			nn = realloc(names, cap * sizeof(*names));
			if (!nn)
				goto nomem;
			names = nn;
		}
		if (!(names[n] = qe_strpool_dup(pool, de->d_name, len - ls)))
			goto nomem;
		n++;
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), cmp_str);
	*out = names;
	*n_out = n;
	return 0;
nomem:
	closedir(d);
	free(names);
	return qe_fail(err, QE_ENOMEM, "'%s': out of memory", dir);
}

/* Keeps the names listed in filter (comma-separated, spaces around names
 * ignored), in sorted order; an unknown name is QE_ENOENT. */
static int subjects_filter(const char *set_name, const char *dir, const char *filter,
			   char **names, size_t *n, struct qe_err *err)
{
	unsigned char *keep;
	const char *p = filter, *e;
	size_t i, k, len;
	int found;

	if (!filter || !*filter)
		return 0;
	keep = calloc(*n ? *n : 1, 1);
	if (!keep)
		return qe_fail(err, QE_ENOMEM, "out of memory");
	while (*p) {
		while (*p == ' ' || *p == ',')
			p++;
		if (!*p)
			break;
		e = p;
		while (*e && *e != ',')
			e++;
		len = (size_t)(e - p);
		while (len && p[len - 1] == ' ')
			len--;
		found = 0;
		for (i = 0; i < *n; i++)
			if (strlen(names[i]) == len && memcmp(names[i], p, len) == 0) {
				keep[i] = 1;
				found = 1;
			}
		if (!found) {
			char want[256];
			const char *near;
			snprintf(want, sizeof(want), "%.*s", (int)len, p);
			near = qe_closest_name(want, (const char *const *)names, *n);
			free(keep);
			return qe_fail(err, QE_ENOENT, "%s: no subject '%s' in '%s'%s%s%s", set_name, want, dir,
				       near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "");
		}
		p = e;
	}
	for (i = k = 0; i < *n; i++)
		if (keep[i])
			names[k++] = names[i];
	*n = k;
	free(keep);
	return 0;
}

/* ---- reading one subject file ------------------------------------------------ */

enum { COL_ID, COL_Q, COL_A, COL_B, COL_C, COL_D, COL_ANS, N_COLS };

static const char *const col_names[N_COLS] = { "id", "question", "A", "B", "C", "D", "answer" };

struct item_vec {
	struct qe_mc_item *v;
	size_t n, cap;
};

struct subject_read {
	const struct qe_mc_flavour *f;
	struct qe_strpool *pool;
	struct item_vec *out;
	const char *subject, *split;
	uint32_t subject_ix;
	size_t limit;           /* 0 = all */
	int cols[N_COLS];       /* field index, -1 = absent */
	size_t n_fields;        /* fields every data row must have */
	int header_pending;
	uint64_t row;           /* 0-based data row */
};

static int header_map(struct subject_read *sr, const struct qe_csv_rec *rec, struct qe_err *err)
{
	size_t i, k, len;
	const char *s;

	for (k = 0; k < N_COLS; k++)
		sr->cols[k] = -1;
	for (i = 0; i < rec->n_fields; i++) {
		s = rec->fields[i];
		len = rec->lens[i];
		while (len && (s[len - 1] == ' ' || s[len - 1] == '\r'))
			len--;
		while (len && *s == ' ') {
			s++;
			len--;
		}
		for (k = 0; k < N_COLS; k++)
			if (sr->cols[k] < 0 && strlen(col_names[k]) == len &&
			    strncasecmp(s, col_names[k], len) == 0)
				sr->cols[k] = (int)i;
	}
	for (k = COL_Q; k <= COL_D; k++)
		if (sr->cols[k] < 0)
			return qe_fail(err, QE_EINPUT, "%s:%u: header has no '%s' column",
				       rec->name, (unsigned)rec->line, col_names[k]);
	sr->n_fields = rec->n_fields;
	return 0;
}

/* 'A'..'D' (spaces around allowed) -> 0..3, else -1. */
static int answer_parse(const char *s, size_t len)
{
	while (len && s[len - 1] == ' ')
		len--;
	while (len && *s == ' ') {
		s++;
		len--;
	}
	if (len != 1 || *s < 'A' || *s > 'D')
		return -1;
	return *s - 'A';
}

static int on_row(const struct qe_csv_rec *rec, void *user, struct qe_err *err)
{
	struct subject_read *sr = user;
	struct qe_mc_item *it;
	char num[32], *id;
	const char *idtext;
	size_t k, idlen;
	int gold = -1;

	if (sr->header_pending) {
		sr->header_pending = 0;
		return header_map(sr, rec, err);
	}
	if (rec->n_fields != sr->n_fields)
		return qe_fail(err, QE_EINPUT, "%s:%u: expected %zu fields, got %zu",
			       rec->name, (unsigned)rec->line, sr->n_fields, rec->n_fields);
	if (sr->cols[COL_ANS] >= 0) {
		k = (size_t)sr->cols[COL_ANS];
		gold = answer_parse(rec->fields[k], rec->lens[k]);
		if (gold < 0)
			return qe_fail(err, QE_EINPUT, "%s:%u: bad answer '%.20s' (expected A, B, C or D)",
				       rec->name, (unsigned)rec->line, rec->fields[k]);
	}
	if (sr->limit && sr->row >= sr->limit)
		return 0; /* past --limit: still read to the end, so a damaged file fails a smoke run too */
	if (sr->out->n == sr->out->cap) {
		size_t cap = sr->out->cap ? sr->out->cap * 2 : 256;
		struct qe_mc_item *v = realloc(sr->out->v, cap * sizeof(*v));

		if (!v)
			return qe_fail(err, QE_ENOMEM, "%s:%u: out of memory", rec->name,
				       (unsigned)rec->line);
		sr->out->v = v;
		sr->out->cap = cap;
	}
	it = &sr->out->v[sr->out->n];
	if (sr->cols[COL_ID] >= 0) {
		idtext = rec->fields[sr->cols[COL_ID]];
		idlen = rec->lens[sr->cols[COL_ID]];
	} else {
		snprintf(num, sizeof(num), "%llu", (unsigned long long)sr->row);
		idtext = num;
		idlen = strlen(num);
	}
	idlen += strlen(sr->subject) + strlen(sr->split) + 2;
	id = qe_strpool_alloc(sr->pool, idlen + 1);
	if (!id)
		return qe_fail(err, QE_ENOMEM, "%s:%u: out of memory", rec->name, (unsigned)rec->line);
	snprintf(id, idlen + 1, "%s/%s/%s", sr->subject, sr->split, idtext);
	it->id = id;
	it->question = qe_strpool_dup(sr->pool, rec->fields[sr->cols[COL_Q]],
				      rec->lens[sr->cols[COL_Q]]);
	for (k = 0; k < 4; k++)
		it->choices[k] = qe_strpool_dup(sr->pool, rec->fields[sr->cols[COL_A + k]],
						rec->lens[sr->cols[COL_A + k]]);
	if (!it->question || !it->choices[0] || !it->choices[1] || !it->choices[2] ||
	    !it->choices[3])
		return qe_fail(err, QE_ENOMEM, "%s:%u: out of memory", rec->name, (unsigned)rec->line);
	it->gold = gold;
	it->subject = sr->subject_ix;
	it->line = rec->line;
	sr->out->n++;
	sr->row++;
	return 0;
}

static int subject_read(struct subject_read *sr, const char *path, struct qe_err *err)
{
	struct qe_csv_opts co = qe_csv_default_opts();
	int rc;

	sr->row = 0;
	sr->header_pending = sr->f->header;
	if (!sr->f->header) {
		int k;

		sr->cols[COL_ID] = -1;
		for (k = COL_Q; k < N_COLS; k++)
			sr->cols[k] = k - COL_Q;
		sr->n_fields = 6;
	}
	rc = qe_csv_read_file(path, &co, on_row, sr, err);
	if (rc == 0 && sr->header_pending)
		sr->n_fields = 0; /* an empty file: no rows */
	return rc;
}

/* ---- subject descriptions ------------------------------------------------------ */

static int json_load(const char *path, cJSON **out, struct qe_err *err)
{
	const char *end = NULL;
	char *buf = NULL;
	size_t len = 0;
	int rc;

	*out = NULL;
	if (!is_file(path))
		return 0;
	rc = qe_file_read(path, &buf, &len, err);
	if (rc)
		return rc;
	*out = cJSON_ParseWithLengthOpts(buf, len, &end, 0);
	if (!*out) {
		size_t at = end && end >= buf && end <= buf + len ? (size_t)(end - buf) : 0;

		free(buf);
		return qe_fail(err, QE_EINPUT, "%s: malformed JSON near byte %zu", path, at);
	}
	free(buf);
	if (!cJSON_IsObject(*out)) {
		cJSON_Delete(*out);
		*out = NULL;
		return qe_fail(err, QE_EINPUT, "%s: expected a JSON object", path);
	}
	return 0;
}

static char *underscores_to_spaces(struct qe_strpool *pool, const char *name)
{
	char *s = qe_strpool_str(pool, name), *p;

	for (p = s; p && *p; p++)
		if (*p == '_')
			*p = ' ';
	return s;
}

static int subject_fill(const struct qe_mc_flavour *f, const cJSON *json, const char *json_path,
			struct qe_strpool *pool, const char *name, struct qe_mc_subject *s,
			struct qe_err *err)
{
	struct qe_mc_meta m;
	int rc;

	memset(&m, 0, sizeof(m));
	rc = f->meta(json, json_path, name, &m, err);
	if (rc)
		return rc;
	s->name = name;
	s->english = m.english ? qe_strpool_str(pool, m.english) : underscores_to_spaces(pool, name);
	s->display = m.display ? qe_strpool_str(pool, m.display) : s->english;
	if (!m.category)
		m.category = "unknown";
	/* "other (business, health, misc.)" -> "other" */
	s->category = qe_strpool_dup(pool, m.category, strcspn(m.category, "("));
	if (s->category) {
		char *c = (char *)s->category, *e = c + strlen(c);

		while (e > c && e[-1] == ' ')
			*--e = '\0';
	}
	s->subcategory = m.subcategory ? qe_strpool_str(pool, m.subcategory) : NULL;
	s->hard = m.hard;
	if (!s->english || !s->display || !s->category || (m.subcategory && !s->subcategory))
		return qe_fail(err, QE_ENOMEM, "out of memory");
	return 0;
}

/* ---- the engine ------------------------------------------------------------------ */

static int set_fail(struct qe_mc_set *set, int rc)
{
	qe_mc_set_release(set);
	return rc;
}

static int cmp_item_id(const void *a, const void *b)
{
	const struct qe_mc_item *const *x = a, *const *y = b;
	return strcmp((*x)->id, (*y)->id);
}

/* QE_EINPUT naming path:line when two of the n items share an id (their
 * records would be taken for one another: a resume would skip the second) */
static int ids_unique(const struct qe_mc_item *v, size_t n, const char *path, struct qe_err *err)
{
	const struct qe_mc_item **p = malloc((n ? n : 1) * sizeof(*p));
	int rc = 0;

	if (!p)
		return qe_fail(err, QE_ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++)
		p[i] = &v[i];
	qsort(p, n, sizeof(*p), cmp_item_id);
	for (size_t i = 1; i < n && rc == 0; i++)
		if (!strcmp(p[i - 1]->id, p[i]->id)) {
			const struct qe_mc_item *a = p[i - 1]->line < p[i]->line ? p[i - 1] : p[i];
			const struct qe_mc_item *b = a == p[i] ? p[i - 1] : p[i];
			rc = qe_fail(err, QE_EINPUT, "%s:%u: id '%s' is already on line %u (ids must be unique)", path,
				     (unsigned)b->line, strrchr(b->id, '/') + 1, (unsigned)a->line);
		}
	free(p);
	return rc;
}

/* Subject `name` (number ix): its items of the split (appended to items,
 * at most limit, 0 = all) and its dev items as shots (through the scratch
 * vector shots) into s. */
static int subject_items(const struct qe_mc_flavour *f, struct qe_strpool *pool, const char *base, const char *split_dir,
			 const char *split, const char *name, uint32_t ix, size_t limit, struct item_vec *items,
			 struct item_vec *shots, struct qe_mc_subject *s, struct qe_err *err)
{
	struct subject_read sr;
	char file[512], *path;
	int rc;

	memset(&sr, 0, sizeof(sr));
	sr.f = f;
	sr.pool = pool;
	sr.subject = name;
	sr.subject_ix = ix;

	/* the split's items */
	snprintf(file, sizeof(file), "%s_%s.csv", name, split);
	if (!(path = path_join(pool, split_dir, file)))
		return qe_fail(err, QE_ENOMEM, "out of memory");
	sr.out = items;
	sr.split = split;
	sr.limit = limit;
	s->first = items->n;
	if ((rc = subject_read(&sr, path, err)) != 0)
		return rc;
	s->count = items->n - s->first;
	if (s->count == 0) /* silently dropped, it would shrink the exam unseen */
		return qe_fail(err, QE_EINPUT, "%s: no questions in it (an empty subject file)", path);
	if ((rc = ids_unique(items->v + s->first, s->count, path, err)) != 0)
		return rc;

	/* the dev items as shots */
	snprintf(file, sizeof(file), "dev/%s_dev.csv", name);
	if (!(path = path_join(pool, base, file)))
		return qe_fail(err, QE_ENOMEM, "out of memory");
	if (!is_file(path))
		return 0;
	shots->n = 0;
	sr.out = shots;
	sr.split = "dev";
	sr.limit = 0;
	if ((rc = subject_read(&sr, path, err)) != 0)
		return rc;
	if (shots->n) {
		s->shots = qe_strpool_alloc(pool, shots->n * sizeof(*s->shots));
		if (!s->shots)
			return qe_fail(err, QE_ENOMEM, "out of memory");
		memcpy(s->shots, shots->v, shots->n * sizeof(*s->shots));
		s->n_shots = shots->n;
	}
	return 0;
}

int qe_mc_load_flavour(const struct qe_mc_flavour *f, const char *dir,
		       const struct qe_mc_opts *o, struct qe_mc_set *set, struct qe_err *err)
{
	struct qe_mc_opts opts = o ? *o : qe_mc_default_opts();
	struct qe_strpool *pool;
	struct item_vec items = { NULL, 0, 0 }, shots = { NULL, 0, 0 };
	const char *base, *meta_dir;
	char *split_dir, *json_path = NULL;
	char **names = NULL;
	size_t n_names = 0, i;
	cJSON *json = NULL;
	const char *split;
	int rc;

	memset(set, 0, sizeof(*set));
	split = opts.split && *opts.split ? opts.split : f->default_split;
	if (!dir || !*dir)
		return qe_fail(err, QE_EINVAL, "%s: no data folder given", f->name);
	if (strchr(split, '/') || strlen(split) > 32)
		return qe_fail(err, QE_EINVAL, "%s: bad split name '%s'", f->name, split);
	if (!is_dir(dir))
		return qe_fail(err, QE_ENOENT, "%s: no folder '%s'", f->name, dir);
	pool = qe_strpool_new();
	if (!pool)
		return qe_fail(err, QE_ENOMEM, "out of memory");
	set->pool = pool;
	set->name = f->name;
	set->split = qe_strpool_str(pool, split);

	/* DIR/data/<split> or DIR/<split>; the description sits in DIR, or
	 * above DIR when DIR is the data folder itself */
	base = path_join(pool, dir, "data");
	split_dir = base ? path_join(pool, base, split) : NULL;
	if (!set->split || !split_dir)
		return set_fail(set, qe_fail(err, QE_ENOMEM, "out of memory"));
	meta_dir = dir;
	if (!is_dir(split_dir)) {
		base = dir;
		split_dir = path_join(pool, base, split);
		if (!split_dir)
			return set_fail(set, qe_fail(err, QE_ENOMEM, "out of memory"));
		if (!is_dir(split_dir))
			return set_fail(set, qe_fail(err, QE_ENOENT,
				"%s: '%s' has no '%s' split (looked for %s/data/%s/ and %s/%s/)",
				f->name, dir, split, dir, split, dir, split));
	}
	set->root = base == dir ? qe_strpool_str(pool, dir) : base;
	if (!set->root)
		return set_fail(set, qe_fail(err, QE_ENOMEM, "out of memory"));
	if (f->json_name) {
		json_path = path_join(pool, meta_dir, f->json_name);
		if (json_path && !is_file(json_path) && base == dir) {
			meta_dir = path_join(pool, dir, "..");
			json_path = meta_dir ? path_join(pool, meta_dir, f->json_name) : NULL;
		}
		if (!json_path)
			return set_fail(set, qe_fail(err, QE_ENOMEM, "out of memory"));
		rc = json_load(json_path, &json, err);
		if (rc)
			return set_fail(set, rc);
	}

	rc = subjects_list(pool, split_dir, split, &names, &n_names, err);
	if (rc == 0 && n_names == 0)
		rc = qe_fail(err, QE_ENOENT, "%s: no *_%s.csv files in '%s'", f->name, split,
			     split_dir);
	if (rc == 0)
		rc = subjects_filter(f->name, split_dir, opts.subjects, names, &n_names, err);
	if (rc == 0 && n_names > UINT32_MAX)
		rc = qe_fail(err, QE_EINPUT, "%s: too many subjects", f->name);
	if (rc == 0) {
		set->subjects = calloc(n_names ? n_names : 1, sizeof(*set->subjects));
		if (!set->subjects)
			rc = qe_fail(err, QE_ENOMEM, "out of memory");
	}
	for (i = 0; rc == 0 && i < n_names; i++) {
		struct qe_mc_subject *s = &set->subjects[i];

		set->n_subjects = i + 1;
		rc = subject_fill(f, json, json_path, pool, names[i], s, err);
		if (rc)
			break;
		rc = subject_items(f, pool, base, split_dir, set->split, names[i], (uint32_t)i, opts.limit, &items, &shots, s,
				   err);
		if (rc)
			break;
	}
	cJSON_Delete(json);
	free(names);
	free(shots.v);
	if (rc) {
		free(items.v);
		return set_fail(set, rc);
	}
	set->items = items.v;
	set->n_items = items.n;
	return 0;
}
