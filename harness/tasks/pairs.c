/* qeval — the `pairs` task: a sentence-pair set (LCQMC, PAWS-X, STS-B, ...)
 * through each level's sentence embeddings: drift against the reference,
 * STS correlation, positive / negative separation, retrieval and agreement
 * with the reference's neighbours (docs/tasks.md "pairs", docs/metrics.md
 * "Sentence pairs").
 *
 * Options, from the plan's task object (docs/tasks.md lists them):
 *   file                       the pairs file (required); "FILE?k=v,k=v"
 *                              carries options inline when FILE?... is not
 *                              itself a file (so one --pairs flag can say
 *                              "filter=split=test")
 *   format header quoting s1 s2 label filter kind limit   the loader's
 *                              (datasets/pairs.h)
 *   ks [1,5,10]  mrr_k 10  pos_threshold 4  neg_threshold 1   the metrics'
 *   pooling "model"            model | mean | cls | last
 *   batch 256                  texts per embedding call = checkpoint size
 *
 * Per level, in the level's process (run_level):
 *   <level dir>/embeddings-<task>.f32   [n_sentences][dim] float32,
 *       little-endian, L2-normalised, in the loader's sentence order
 *   <level dir>/embeddings-<task>.json  {"n_sentences", "dim", "n_done",
 *       "complete", "sentences_fnv1a64", "pooling", "n_truncated",
 *       "embed_s", "failed": [{"sentence": i, "error": "..."}]}
 *   records: one per pair {"id": pair index, "line", "label", "cos",
 *       "status": "ok" | "error: ..."}, written once the embeddings are done.
 * Rows are appended `batch` at a time (flushed and synced), then the .json
 * says how many rows are valid, so an abort loses at most one batch and a
 * resumed level continues after the last one; a complete file made for the
 * same sentences and pooling is reused as it is. A sentence the runtime
 * cannot embed (or whose embedding is not finite) gets a zero row and is
 * listed under "failed"; its pairs get an error record and leave the metrics.
 *
 * Summary, in the parent: every level's embedding file is read back (the
 * reference's kept, the others one at a time) and the metrics of
 * metrics/pairs.h computed from the rows; the per-level block follows
 * docs/results-schema.md ("Per-level block of a pairs task").
 */
#include "harness/journal.h"
#include "harness/progress.h"
#include "harness/base/json.h"
#include "harness/base/sys.h"
#include "harness/base/hash.h"
#include "harness/tasks/pairs_keys.h"
#include "harness/tasks/task.h"
#include "datasets/pairs.h"
#include "metrics/pairs.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "embeddings-<task>.f32 is written in the host's byte order, documented as little-endian"
#endif

#define PAIRS_DEFAULT_BATCH 256
#define PAIRS_MAX_BATCH 1000000
#define PAIRS_MAX_K 100000

struct pairs_state {
	cJSON *opts;                 /* owned: the plan's object with inline options merged */
	const char *name;            /* task instance name: file names, results key */
	const char *file;            /* the data file, without inline options */
	struct qe_pairs_opts lo;     /* loader options; strings point into opts / col */
	char col[3][24];             /* columns given as numbers, as text */
	struct qe_pair_set set;
	struct qe_pairs_params mp;   /* metric parameters, kind resolved by the load */
	int pooling;                 /* enum qe_pooling */
	const char *pooling_name;    /* "model", "mean", "cls", "last" */
	size_t batch;                /* texts per embedding call */
	char hash[17];               /* FNV-1a 64 of the sentences, hex */
};

/* ======================================================================
 * Options
 * ====================================================================== */

static const struct {
	const char *name;
	int value;
} poolings[] = {
	{ "model", QE_POOL_MODEL }, { "mean", QE_POOL_MEAN }, { "cls", QE_POOL_CLS }, { "last", QE_POOL_LAST },
};

/* "k=v,k=v" -> members of o (replacing): true/false, numbers, else strings */
static int merge_inline(cJSON *o, const char *spec, const char *file, struct qe_err *err)
{
	char *buf = strdup(spec), *save = NULL;

	if (!buf)
		return qe_fail(err, QE_ENOMEM, "out of memory");
	for (char *kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '='), *end;
		cJSON *v;
		double d;
		if (!eq || eq == kv) {
			qe_fail(err, QE_EINVAL, "'%s': inline option '%s' is not key=value", file, kv);
			free(buf);
			return QE_EINVAL;
		}
		*eq++ = '\0';
		if (!strcmp(kv, "task") || !strcmp(kv, "name") || !strcmp(kv, "file")) {
			qe_fail(err, QE_EINVAL, "'%s': '%s' cannot be given inline", file, kv);
			free(buf);
			return QE_EINVAL;
		}
		d = strtod(eq, &end);
		if (!strcmp(eq, "true") || !strcmp(eq, "false"))
			v = cJSON_CreateBool(!strcmp(eq, "true"));
		else if (*eq && !*end && strcmp(kv, "filter") != 0)
			v = cJSON_CreateNumber(d);
		else
			v = cJSON_CreateString(eq);
		cJSON_DeleteItemFromObjectCaseSensitive(o, kv);
		cJSON_AddItemToObject(o, kv, v);
	}
	free(buf);
	return 0;
}

/* -1 auto (absent, null, "auto"), 0, 1 */
static int opt_tristate(const struct pairs_state *s, const char *k, int *out, struct qe_err *err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(s->opts, k);

	*out = -1;
	if (!v || cJSON_IsNull(v))
		return 0;
	if (cJSON_IsBool(v)) {
		*out = cJSON_IsTrue(v);
		return 0;
	}
	if (cJSON_IsNumber(v) && (v->valuedouble == 0 || v->valuedouble == 1 || v->valuedouble == -1)) {
		*out = (int)v->valuedouble;
		return 0;
	}
	if (cJSON_IsString(v)) {
		static const char *const no[] = { "none", "off", "no", "0", NULL }, *const yes[] = { "first", "on", "yes", "1", NULL };
		if (!strcmp(v->valuestring, "auto"))
			return 0;
		for (int i = 0; no[i]; i++)
			if (!strcmp(v->valuestring, no[i]))
				return *out = 0, 0;
		for (int i = 0; yes[i]; i++)
			if (!strcmp(v->valuestring, yes[i]))
				return *out = 1, 0;
	}
	return qe_fail(err, QE_EINVAL, "option '%s' must be true, false or \"auto\"", k);
}

/* a column: a header name, or a 0-based index (number or text) */
static int opt_col(struct pairs_state *s, const char *k, int slot, const char **out, struct qe_err *err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(s->opts, k);

	*out = NULL;
	if (!v || cJSON_IsNull(v))
		return 0;
	if (cJSON_IsString(v) && *v->valuestring) {
		*out = v->valuestring;
		return 0;
	}
	if (cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble < 1e6 && v->valuedouble == floor(v->valuedouble)) {
		snprintf(s->col[slot], sizeof(s->col[slot]), "%d", (int)v->valuedouble);
		*out = s->col[slot];
		return 0;
	}
	return qe_fail(err, QE_EINVAL, "column '%s' must be a header name or a 0-based index", k);
}

/* a whole number in [lo, hi]; def when absent */
static int opt_int(const struct pairs_state *s, const char *k, double lo, double hi, double def, double *out,
		   struct qe_err *err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(s->opts, k);

	*out = def;
	if (!v || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < lo || v->valuedouble > hi)
		return qe_fail(err, QE_EINVAL, "option '%s' must be a whole number in %.0f..%.0f", k, lo, hi);
	*out = v->valuedouble;
	return 0;
}

static int opt_real(const struct pairs_state *s, const char *k, double def, double *out, struct qe_err *err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(s->opts, k);

	*out = def;
	if (!v || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
		return qe_fail(err, QE_EINVAL, "option '%s' must be a number", k);
	*out = v->valuedouble;
	return 0;
}

static int opt_string(const struct pairs_state *s, const char *k, const char *def, const char **out, struct qe_err *err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(s->opts, k);

	*out = def;
	if (!v || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsString(v))
		return qe_fail(err, QE_EINVAL, "option '%s' must be a string", k);
	*out = v->valuestring;
	return 0;
}

/* ks: an array of cut-offs, or text with them separated by anything but
 * digits ("1/5/10": the inline form, where ',' separates options) */
static int opt_ks(struct pairs_state *s, struct qe_err *err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(s->opts, "ks"), *x;
	double k[QE_PAIRS_MAX_KS + 1];
	size_t n = 0;

	if (!v || cJSON_IsNull(v))
		return 0;
	if (cJSON_IsNumber(v)) {
		k[n++] = v->valuedouble;
	} else if (cJSON_IsString(v)) {
		for (const char *p = v->valuestring; *p && n <= QE_PAIRS_MAX_KS;) {
			char *end;
			if (*p < '0' || *p > '9') {
				p++;
				continue;
			}
			k[n++] = strtod(p, &end);
			p = end;
		}
	} else if (cJSON_IsArray(v)) {
		cJSON_ArrayForEach(x, v) {
			if (!cJSON_IsNumber(x) || n > QE_PAIRS_MAX_KS)
				return qe_fail(err, QE_EINVAL, "\"ks\" must be 1 to %d whole numbers >= 1",
					       QE_PAIRS_MAX_KS);
			k[n++] = x->valuedouble;
		}
	}
	if (n == 0 || n > QE_PAIRS_MAX_KS)
		return qe_fail(err, QE_EINVAL, "\"ks\" must be 1 to %d whole numbers >= 1", QE_PAIRS_MAX_KS);
	for (size_t i = 0; i < n; i++) {
		if (k[i] < 1 || k[i] > PAIRS_MAX_K || k[i] != floor(k[i]))
			return qe_fail(err, QE_EINVAL, "cut-off %g in \"ks\" is not a whole number in 1..%d",
				       k[i], PAIRS_MAX_K);
		for (size_t j = 0; j < i; j++)
			if (k[j] == k[i])
				return qe_fail(err, QE_EINVAL, "cut-off %g is twice in \"ks\"", k[i]);
		s->mp.ks[i] = (uint32_t)k[i];
	}
	s->mp.n_ks = n;
	return 0;
}

static int parse_opts(struct pairs_state *s, struct qe_err *err)
{
	const char *kind = NULL, *pool = NULL;
	double d;
	int rc;

	s->lo = qe_pairs_default_opts();
	s->mp = qe_pairs_default_params();
	if ((rc = opt_string(s, "format", "auto", &s->lo.format, err)) || (rc = opt_tristate(s, "header", &s->lo.header, err)) ||
	    (rc = opt_tristate(s, "quoting", &s->lo.quoting, err)) || (rc = opt_col(s, "s1", 0, &s->lo.col_s1, err)) ||
	    (rc = opt_col(s, "s2", 1, &s->lo.col_s2, err)) || (rc = opt_col(s, "label", 2, &s->lo.col_label, err)) ||
	    (rc = opt_string(s, "filter", NULL, &s->lo.filter, err)) || (rc = opt_string(s, "kind", "auto", &kind, err)) ||
	    (rc = opt_string(s, "pooling", "model", &pool, err)))
		return rc;
	if ((rc = opt_int(s, "limit", 0, 1e12, 0, &d, err)))
		return rc;
	s->lo.limit = (size_t)d;
	if ((rc = opt_int(s, "batch", 1, PAIRS_MAX_BATCH, PAIRS_DEFAULT_BATCH, &d, err)))
		return rc;
	s->batch = (size_t)d;
	if ((rc = opt_int(s, "mrr_k", 1, PAIRS_MAX_K, 10, &d, err)))
		return rc;
	s->mp.mrr_k = (uint32_t)d;
	if ((rc = opt_real(s, "pos_threshold", 4.0, &s->mp.pos_threshold, err)) ||
	    (rc = opt_real(s, "neg_threshold", 1.0, &s->mp.neg_threshold, err)) || (rc = opt_ks(s, err)))
		return rc;
	if (!(s->mp.neg_threshold < s->mp.pos_threshold))
		return qe_fail(err, QE_EINVAL, "neg_threshold %g must be below pos_threshold %g",
			       s->mp.neg_threshold, s->mp.pos_threshold);
	if (!strcmp(kind, "auto"))
		s->lo.kind = QE_LABEL_AUTO;
	else if (!strcmp(kind, "binary"))
		s->lo.kind = QE_LABEL_BINARY;
	else if (!strcmp(kind, "graded"))
		s->lo.kind = QE_LABEL_GRADED;
	else
		return qe_fail(err, QE_EINVAL, "kind '%s' is not auto, binary or graded", kind);
	s->pooling_name = NULL;
	for (size_t i = 0; i < sizeof(poolings) / sizeof(poolings[0]); i++)
		if (!strcmp(pool, poolings[i].name)) {
			s->pooling = poolings[i].value;
			s->pooling_name = poolings[i].name;
		}
	if (!s->pooling_name)
		return qe_fail(err, QE_EINVAL, "pooling '%s' is not model, mean, cls or last", pool);
	/* top-k overlap is reported at every cut-off of ks: one search at the largest */
	s->mp.overlap_k = 1;
	for (size_t i = 0; i < s->mp.n_ks; i++)
		if (s->mp.ks[i] > s->mp.overlap_k)
			s->mp.overlap_k = s->mp.ks[i];
	return 0;
}

/* The option table: plan keys, types, flags and help. Values are read by
 * parse_opts from the task's object (after inline FILE?k=v options are
 * merged into it), so the polymorphic ones (tristates, columns, cut-offs) are
 * JSON values checked here by the same helpers. */
struct pairs_opts {
	const char *file, *format, *filter, *kind, *pooling;
	const cJSON *header, *quoting, *s1, *s2, *label, *ks;
	long batch, mrr_k;
	double pos_threshold, neg_threshold;
};

static int check_value(const char *key, const cJSON *v, struct qe_err *err)
{
	struct pairs_state tmp;
	const char *col;
	int rc, tri;

	memset(&tmp, 0, sizeof(tmp));
	tmp.opts = cJSON_CreateObject();
	if (!tmp.opts)
		return qe_fail(err, QE_ENOMEM, "out of memory");
	cJSON_AddItemReferenceToObject(tmp.opts, key, (cJSON *)v);
	if (!strcmp(key, "ks"))
		rc = opt_ks(&tmp, err);
	else if (!strcmp(key, "header") || !strcmp(key, "quoting"))
		rc = opt_tristate(&tmp, key, &tri, err);
	else
		rc = opt_col(&tmp, key, 0, &col, err);
	cJSON_Delete(tmp.opts);
	return rc;
}

static int check_ks(const cJSON *v, void *f, struct qe_err *err) { return check_value("ks", v, err); }
static int check_header(const cJSON *v, void *f, struct qe_err *err) { return check_value("header", v, err); }
static int check_quoting(const cJSON *v, void *f, struct qe_err *err) { return check_value("quoting", v, err); }
static int check_col(const cJSON *v, void *f, struct qe_err *err) { return check_value(v->string ? v->string : "s1", v, err); }

static const char *const kinds[] = { "auto", "binary", "graded", NULL };
static const char *const pooling_words[] = { "model", "mean", "cls", "last", NULL };

#define PO(f) offsetof(struct pairs_opts, f)
static const struct qe_optab pairs_options[] = {
	{ "file", QE_OT_STR, PO(file), NULL, 0, 0, "a sentence-pair file (TSV, CSV, JSONL, .gz); FILE?k=v,... sets options inline",
	  "NAME=FILE", QE_OF_MAIN | QE_OF_INSTANCE | QE_OF_PATH, NULL, NULL },
	{ "format", QE_OT_STR, PO(format), "auto", 0, 0, "auto, tsv, csv or jsonl", "F", 0, NULL, NULL },
	{ "header", QE_OT_JSON, PO(header), NULL, 0, 0, "the first line is a header: true, false or auto", "B", 0, NULL, check_header },
	{ "quoting", QE_OT_JSON, PO(quoting), NULL, 0, 0, "quoted fields: true, false or auto", "B", 0, NULL, check_quoting },
	{ "s1", QE_OT_JSON, PO(s1), NULL, 0, 0, "first sentence's column: header name or 0-based index", "COL", 0, NULL, check_col },
	{ "s2", QE_OT_JSON, PO(s2), NULL, 0, 0, "second sentence's column", "COL", 0, NULL, check_col },
	{ "label", QE_OT_JSON, PO(label), NULL, 0, 0, "label column", "COL", 0, NULL, check_col },
	{ "filter", QE_OT_STR, PO(filter), NULL, 0, 0, "keep rows whose COLUMN=VALUE", "COL=V", 0, NULL, NULL },
	{ "kind", QE_OT_ENUM, PO(kind), "auto", 0, 0, "labels: auto, binary or graded", "K", 0, kinds, NULL },
	{ "pooling", QE_OT_ENUM, PO(pooling), "model", 0, 0, "model, mean, cls or last", "P", 0, pooling_words, NULL },
	{ "ks", QE_OT_JSON, PO(ks), NULL, 0, 0, "retrieval cut-offs (default 1,5,10)", "LIST", 0, NULL, check_ks },
	{ "mrr_k", QE_OT_INT, PO(mrr_k), "10", 1, PAIRS_MAX_K, "MRR cut-off (default 10)", "N", 0, NULL, NULL },
	{ "pos_threshold", QE_OT_NUM, PO(pos_threshold), "4", 0, 0, "graded labels >= this are positives (default 4)", "X", 0, NULL, NULL },
	{ "neg_threshold", QE_OT_NUM, PO(neg_threshold), "1", 0, 0, "graded labels <= this are negatives (default 1)", "X", 0, NULL, NULL },
	{ "batch", QE_OT_INT, PO(batch), "256", 1, PAIRS_MAX_BATCH, "texts per embedding call (default 256)", "N", 0, NULL, NULL },
	{ NULL, 0, 0, NULL, 0, 0, NULL, NULL, 0, NULL, NULL },
};
#undef PO

/* ======================================================================
 * prepare / describe / release
 * ====================================================================== */

static void pairs_release(void *state)
{
	struct pairs_state *s = state;

	if (!s)
		return;
	qe_pair_set_release(&s->set);
	cJSON_Delete(s->opts);
	free(s);
}


static int pairs_prepare(const struct qe_task_spec *ts, void **state, size_t *n_items, struct qe_err *err)
{
	struct pairs_state *s = calloc(1, sizeof(*s));
	const cJSON *opts = ts->json;
	struct pairs_opts po;
	const char *file;
	uint64_t h = 0xcbf29ce484222325ull;
	int rc;

	if (!s)
		return qe_fail(err, QE_ENOMEM, "out of memory");
	s->opts = opts ? cJSON_Duplicate(opts, 1) : cJSON_CreateObject();
	if (!s->opts) {
		free(s);
		return qe_fail(err, QE_ENOMEM, "out of memory");
	}
	s->name = qe_json_str(s->opts, "name", "pairs");
	file = qe_json_str(s->opts, "file", NULL);
	if (!file || !*file) {
		rc = qe_fail(err, QE_EINVAL, "no data file: give --pairs NAME=FILE (or \"file\" in the plan)");
		goto fail;
	}
	if (qe_file_size(file) < 0 && strchr(file, '?')) {
		/* FILE?k=v,k=v */
		char *path = strdup(file), *q;
		if (!path) {
			rc = qe_fail(err, QE_ENOMEM, "out of memory");
			goto fail;
		}
		q = strrchr(path, '?');
		*q = '\0';
		rc = merge_inline(s->opts, q + 1, path, err);
		if (rc == 0) {
			cJSON_DeleteItemFromObjectCaseSensitive(s->opts, "file");
			cJSON_AddStringToObject(s->opts, "file", path);
			/* the inline options pass the same checks as the plan's */
			rc = qe_optab_read(pairs_options, s->opts, qe_task_common_keys, &po, path, err);
		}
		free(path);
		if (rc)
			goto fail;
	}
	s->file = qe_json_str(s->opts, "file", "");
	if ((rc = parse_opts(s, err)))
		goto fail;
	if ((rc = qe_pairs_load(s->file, &s->lo, &s->set, err)))
		goto fail;
	s->mp.kind = s->set.kind;
	for (size_t i = 0; i < s->set.n_sents; i++)
		h = qe_fnv1a(h, s->set.sents[i], strlen(s->set.sents[i]) + 1);
	snprintf(s->hash, sizeof(s->hash), "%016llx", (unsigned long long)h);
	*state = s;
	*n_items = s->set.n_pairs;
	return 0;
fail:
	pairs_release(s);
	return rc;
}

static const char *kind_name(enum qe_label_kind k)
{
	return k == QE_LABEL_BINARY ? "binary" : k == QE_LABEL_GRADED ? "graded" : "auto";
}

static void add_tristate(cJSON *o, const char *k, int v)
{
	if (v < 0)
		cJSON_AddStringToObject(o, k, "auto");
	else
		cJSON_AddBoolToObject(o, k, v);
}

static void pairs_describe(void *state, cJSON *out)
{
	struct pairs_state *s = state;
	cJSON *ks = cJSON_CreateArray();

	cJSON_AddStringToObject(out, "file", s->file);
	cJSON_AddStringToObject(out, "format", s->set.format ? s->set.format : s->lo.format);
	add_tristate(out, "header", s->lo.header);
	add_tristate(out, "quoting", s->lo.quoting);
	if (s->lo.col_s1)
		cJSON_AddStringToObject(out, "s1", s->lo.col_s1);
	if (s->lo.col_s2)
		cJSON_AddStringToObject(out, "s2", s->lo.col_s2);
	if (s->lo.col_label)
		cJSON_AddStringToObject(out, "label", s->lo.col_label);
	if (s->lo.filter)
		cJSON_AddStringToObject(out, "filter", s->lo.filter);
	cJSON_AddStringToObject(out, "kind", kind_name(s->set.kind));
	cJSON_AddNumberToObject(out, "limit", (double)s->lo.limit);
	cJSON_AddNumberToObject(out, "n_pairs", (double)s->set.n_pairs);
	cJSON_AddNumberToObject(out, "n_sentences", (double)s->set.n_sents);
	cJSON_AddNumberToObject(out, "label_min", s->set.label_min);
	cJSON_AddNumberToObject(out, "label_max", s->set.label_max);
	for (size_t i = 0; i < s->mp.n_ks; i++)
		cJSON_AddItemToArray(ks, cJSON_CreateNumber(s->mp.ks[i]));
	cJSON_AddItemToObject(out, "ks", ks);
	cJSON_AddNumberToObject(out, "mrr_k", s->mp.mrr_k);
	if (s->set.kind == QE_LABEL_GRADED) {
		cJSON_AddNumberToObject(out, "pos_threshold", s->mp.pos_threshold);
		cJSON_AddNumberToObject(out, "neg_threshold", s->mp.neg_threshold);
	}
	cJSON_AddStringToObject(out, "pooling", s->pooling_name);
	cJSON_AddBoolToObject(out, "normalize", 1);
	cJSON_AddNumberToObject(out, "batch", (double)s->batch);
	cJSON_AddStringToObject(out, "sim_kernel", qe_sim_kernel_name());
}

/* ======================================================================
 * Embedding files
 * ====================================================================== */

static void emb_paths(const struct pairs_state *s, const char *dir, char *f32, char *json, size_t cap)
{
	snprintf(f32, cap, "%s/embeddings-%s.f32", dir, s->name);
	snprintf(json, cap, "%s/embeddings-%s.json", dir, s->name);
}

/* The .json of an embedding file: 1 when it was made for these sentences
 * and this pooling (and dim, when dim > 0). */
static int emb_meta_matches(const struct pairs_state *s, const cJSON *j, size_t dim)
{
	return j && (size_t)qe_json_num(j, "n_sentences", -1) == s->set.n_sents &&
	       (dim == 0 || (size_t)qe_json_num(j, "dim", -1) == dim) && qe_json_num(j, "dim", 0) >= 1 &&
	       !strcmp(qe_json_str(j, "sentences_fnv1a64", ""), s->hash) &&
	       !strcmp(qe_json_str(j, "pooling", ""), s->pooling_name);
}

/* one embedding run's bookkeeping (the .json) */
struct emb_meta {
	size_t dim, n_done, n_truncated;
	double embed_s;
	cJSON *failed;   /* [{"sentence": i, "error": msg}] owned */
};

static int emb_meta_write(const struct pairs_state *s, const char *path, const struct emb_meta *m, struct qe_err *err)
{
	cJSON *j = cJSON_CreateObject();
	int rc;

	cJSON_AddNumberToObject(j, "n_sentences", (double)s->set.n_sents);
	cJSON_AddNumberToObject(j, "dim", (double)m->dim);
	cJSON_AddNumberToObject(j, "n_done", (double)m->n_done);
	cJSON_AddBoolToObject(j, "complete", m->n_done == s->set.n_sents);
	cJSON_AddStringToObject(j, "dtype", "f32le");
	cJSON_AddBoolToObject(j, "normalized", 1);
	cJSON_AddStringToObject(j, "sentences_fnv1a64", s->hash);
	cJSON_AddStringToObject(j, "pooling", s->pooling_name);
	cJSON_AddNumberToObject(j, "n_truncated", (double)m->n_truncated);
	cJSON_AddNumberToObject(j, "embed_s", m->embed_s);
	cJSON_AddItemToObject(j, "failed", cJSON_Duplicate(m->failed, 1));
	rc = qe_json_write_file(path, j, err);
	cJSON_Delete(j);
	return rc;
}

/* Rows of a previous run of this level that can be kept: fills emb[0..n_done)
 * and m, returns n_done (0 = start over). */
static size_t emb_resume(const struct pairs_state *s, const char *f32, const char *json, size_t dim, float *emb,
			 struct emb_meta *m)
{
	cJSON *j = NULL;
	size_t done;
	FILE *f;

	if (qe_json_read_file(json, &j, NULL) != 0)
		return 0;
	done = (size_t)qe_json_num(j, "n_done", 0);
	if (!emb_meta_matches(s, j, dim) || done > s->set.n_sents ||
	    qe_file_size(f32) < (int64_t)(done * dim * sizeof(float)) || !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(j, "failed"))) {
		cJSON_Delete(j);
		return 0;
	}
	f = fopen(f32, "rb");
	if (!f || fread(emb, sizeof(float), done * dim, f) != done * dim) {
		if (f)
			fclose(f);
		cJSON_Delete(j);
		return 0;
	}
	fclose(f);
	m->n_done = done;
	m->n_truncated = (size_t)qe_json_num(j, "n_truncated", 0);
	m->embed_s = qe_json_num(j, "embed_s", 0);
	cJSON_Delete(m->failed);
	m->failed = cJSON_DetachItemFromObjectCaseSensitive(j, "failed");
	cJSON_Delete(j);
	return done;
}

static int row_finite(const float *v, size_t dim)
{
	for (size_t d = 0; d < dim; d++)
		if (!isfinite(v[d]))
			return 0;
	return 1;
}

static void add_failed(struct emb_meta *m, size_t i, const char *msg)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "sentence", (double)i);
	cJSON_AddStringToObject(o, "error", msg);
	cJSON_AddItemToArray(m->failed, o);
}

/* Embeds sentences [i, i + m) into emb rows; a text that fails alone (or
 * gives a non-finite row) becomes a zero row listed in m->failed. Returns
 * non-zero only when the engine itself failed (the level cannot go on). */
static int embed_chunk(const struct pairs_state *s, struct qe_runtime *rt, size_t i, size_t n, float *emb,
		       size_t dim, struct emb_meta *m, struct qe_err *err)
{
	const char *const *texts = (const char *const *)s->set.sents + i;
	size_t ntr = 0;
	int rc = qe_runtime_embed(rt, texts, n, 1, emb + i * dim, &ntr, err);

	if (rc == QE_ERUNTIME)
		return rc;
	if (rc != 0) {
		/* find the text(s) at fault: one at a time */
		ntr = 0;
		for (size_t k = 0; k < n; k++) {
			struct qe_err e1 = { 0 };
			size_t t1 = 0;
			float *row = emb + (i + k) * dim;
			rc = qe_runtime_embed(rt, &texts[k], 1, 1, row, &t1, &e1);
			if (rc == QE_ERUNTIME) {
				*err = e1;
				return rc;
			}
			if (rc != 0) {
				memset(row, 0, dim * sizeof(*row));
				add_failed(m, i + k, e1.msg);
			}
			ntr += t1;
		}
	}
	for (size_t k = 0; k < n; k++) {
		float *row = emb + (i + k) * dim;
		if (!row_finite(row, dim)) {
			int listed = 0;
			const cJSON *x;
			cJSON_ArrayForEach(x, m->failed)
				listed |= (size_t)qe_json_num(x, "sentence", -1) == i + k;
			memset(row, 0, dim * sizeof(*row));
			if (!listed)
				add_failed(m, i + k, "the embedding is not finite (NaN or infinity)");
		}
	}
	m->n_truncated += ntr;
	return 0;
}

/* sentence index -> 1 when listed as failed; caller frees */
static unsigned char *failed_mask(const cJSON *failed, size_t n)
{
	unsigned char *bad = calloc(n + 1, 1);
	const cJSON *x;

	if (!bad)
		return NULL;
	cJSON_ArrayForEach(x, failed) {
		double i = qe_json_num(x, "sentence", -1);
		if (i >= 0 && (size_t)i < n)
			bad[(size_t)i] = 1;
	}
	return bad;
}

static const char *failed_msg(const cJSON *failed, size_t i)
{
	const cJSON *x;

	cJSON_ArrayForEach(x, failed)
		if ((size_t)qe_json_num(x, "sentence", -1) == i)
			return qe_json_str(x, "error", "failed");
	return "failed";
}

/* ======================================================================
 * One level
 * ====================================================================== */

static int pairs_run_level(void *state, struct qe_task_level *tl, struct qe_err *err)
{
	struct pairs_state *s = state;
	size_t n = s->set.n_sents, np = s->set.n_pairs, dim, shown = 0;
	struct emb_meta m = { 0 };
	char f32[4400], json[4400];
	float *emb = NULL;
	unsigned char *bad = NULL;
	FILE *f = NULL;
	int rc;

	if (s->pooling != QE_POOL_MODEL && (rc = qe_runtime_set_pooling(tl->rt, s->pooling, err)) != 0)
		return rc;
	dim = qe_runtime_embed_dim(tl->rt);
	if (dim == 0)
		return qe_fail(err, QE_ENOTSUP, "level %s gives no sentence embeddings", tl->level->name);
	emb_paths(s, tl->dir, f32, json, sizeof(f32));
	emb = malloc((n ? n : 1) * dim * sizeof(*emb));
	m.dim = dim;
	m.failed = cJSON_CreateArray();
	if (!emb || !m.failed) {
		rc = qe_fail(err, QE_ENOMEM, "out of memory for %zu x %zu embeddings", n, dim);
		goto out;
	}

	/* embeddings: keep what a previous run of this level finished */
	m.n_done = emb_resume(s, f32, json, dim, emb, &m);
	if (m.n_done < n) {
		f = fopen(f32, m.n_done ? "r+b" : "wb");
		if (!f || (m.n_done && (ftruncate(fileno(f), (off_t)(m.n_done * dim * sizeof(float))) != 0 ||
					fseek(f, 0, SEEK_END) != 0))) {
			rc = qe_fail(err, QE_EIO, "cannot write '%s': %s", f32, strerror(errno));
			goto out;
		}
		if (m.n_done == 0 && (rc = emb_meta_write(s, json, &m, err)) != 0)
			goto out;
	}
	shown = np && n ? m.n_done * np / n : 0;
	qe_progress_add(tl->progress, shown);
	while (m.n_done < n && !qe_stop_signal()) {
		size_t i = m.n_done, c = n - i < s->batch ? n - i : s->batch, target;
		double t0 = qe_now();

		rc = embed_chunk(s, tl->rt, i, c, emb, dim, &m, err);
		if (rc) {
			qe_err_wrap(err, "sentences %zu..%zu", i, i + c - 1);
			goto out;
		}
		m.embed_s += qe_now() - t0;
		if (fwrite(emb + i * dim, sizeof(float), c * dim, f) != c * dim || fflush(f) != 0 || fsync(fileno(f)) != 0) {
			rc = qe_fail(err, QE_EIO, "cannot write '%s': %s", f32, strerror(errno));
			goto out;
		}
		m.n_done = i + c;
		if ((rc = emb_meta_write(s, json, &m, err)) != 0)
			goto out;
		target = m.n_done * np / n;
		qe_progress_add(tl->progress, target - shown);
		shown = target;
	}
	if (f) {
		fclose(f);
		f = NULL;
	}
	if (m.n_done < n) /* stopped (SIGINT, SIGTERM): the records wait for every embedding */
		goto out;

	/* records */
	bad = failed_mask(m.failed, n);
	if (!bad) {
		rc = qe_fail(err, QE_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t p = 0; p < np; p++) {
		const struct qe_pair *pr = &s->set.pairs[p];
		char id[32];
		cJSON *r;

		snprintf(id, sizeof(id), "%zu", p);
		if (qe_journal_has(tl->journal, id))
			continue;
		r = cJSON_CreateObject();
		cJSON_AddNumberToObject(r, "id", (double)p);
		cJSON_AddNumberToObject(r, "line", pr->line);
		cJSON_AddNumberToObject(r, "label", pr->label);
		if (bad[pr->s1] || bad[pr->s2]) {
			char msg[QE_ERR_MSG + 48];
			uint32_t which = bad[pr->s1] ? pr->s1 : pr->s2;
			snprintf(msg, sizeof(msg), "error: sentence %u: %s", which, failed_msg(m.failed, which));
			cJSON_AddStringToObject(r, "status", msg);
		} else {
			cJSON_AddNumberToObject(r, "cos", qe_pairs_cosine(emb + (size_t)pr->s1 * dim, emb + (size_t)pr->s2 * dim, dim));
			cJSON_AddStringToObject(r, "status", "ok");
		}
		rc = qe_journal_append(tl->journal, r, err);
		cJSON_Delete(r);
		if (rc)
			goto out;
	}
	qe_progress_add(tl->progress, np - shown);
	rc = qe_journal_sync(tl->journal, err);
out:
	if (f)
		fclose(f);
	free(emb);
	free(bad);
	cJSON_Delete(m.failed);
	return rc;
}

/* ======================================================================
 * Summary
 * ====================================================================== */

/* One level's embeddings as read back. */
struct lvl_emb {
	float *v;                    /* [n][dim], NULL when unavailable */
	size_t dim;
	unsigned char *bad;          /* [n] 1 = failed sentence (zero row) */
	size_t n_bad, n_truncated;
	double embed_s;
	char why[256];               /* why v is NULL */
};

static void lvl_emb_release(struct lvl_emb *e)
{
	free(e->v);
	free(e->bad);
	memset(e, 0, sizeof(*e));
}

/* 0 = loaded; otherwise e->why says why not (not an error of the summary) */
static int lvl_emb_load(const struct pairs_state *s, const char *dir, struct lvl_emb *e)
{
	char f32[4400], json[4400];
	cJSON *j = NULL;
	size_t n = s->set.n_sents;
	FILE *f;

	memset(e, 0, sizeof(*e));
	emb_paths(s, dir, f32, json, sizeof(f32));
	if (qe_json_read_file(json, &j, NULL) != 0) {
		snprintf(e->why, sizeof(e->why), "no embeddings");
		return -1;
	}
	if (!emb_meta_matches(s, j, 0) || !qe_json_bool(j, "complete", 0)) {
		snprintf(e->why, sizeof(e->why), "%s", emb_meta_matches(s, j, 0) ? "embeddings incomplete"
										    : "embeddings made for other sentences or pooling");
		cJSON_Delete(j);
		return -1;
	}
	e->dim = (size_t)qe_json_num(j, "dim", 0);
	e->n_truncated = (size_t)qe_json_num(j, "n_truncated", 0);
	e->embed_s = qe_json_num(j, "embed_s", NAN);
	e->bad = failed_mask(cJSON_GetObjectItemCaseSensitive(j, "failed"), n);
	cJSON_Delete(j);
	e->v = malloc((n ? n : 1) * e->dim * sizeof(float));
	if (!e->bad || !e->v) {
		lvl_emb_release(e);
		snprintf(e->why, sizeof(e->why), "out of memory");
		return -1;
	}
	f = fopen(f32, "rb");
	if (!f || qe_file_size(f32) != (int64_t)(n * e->dim * sizeof(float)) ||
	    fread(e->v, sizeof(float), n * e->dim, f) != n * e->dim) {
		size_t dim = e->dim;
		if (f)
			fclose(f);
		lvl_emb_release(e);
		snprintf(e->why, sizeof(e->why), "'%s' does not hold %zu x %zu floats", f32, n, dim);
		return -1;
	}
	fclose(f);
	for (size_t i = 0; i < n; i++) {
		if (!e->bad[i] && !row_finite(e->v + i * e->dim, e->dim)) {
			e->bad[i] = 1;
			memset(e->v + i * e->dim, 0, e->dim * sizeof(float));
		}
		e->n_bad += e->bad[i];
	}
	return 0;
}

/* The pairs whose sentences are usable in a (and b, when given), with the
 * rows of those sentences: a view on the inputs when nothing failed, a
 * compacted copy otherwise. */
struct view {
	struct qe_emb a, b;
	const struct qe_pair *pairs;
	size_t n_pairs;
	float *va, *vb;              /* owned copies, or NULL */
	struct qe_pair *own_pairs;
};

static void view_release(struct view *v)
{
	free(v->va);
	free(v->vb);
	free(v->own_pairs);
	memset(v, 0, sizeof(*v));
}

static int view_make(const struct pairs_state *s, const struct lvl_emb *a, const struct lvl_emb *b, struct view *v,
		     struct qe_err *err)
{
	size_t n = s->set.n_sents, dim = a->dim, k = 0, np = 0;
	uint32_t *map;

	memset(v, 0, sizeof(*v));
	if (a->n_bad == 0 && (!b || b->n_bad == 0)) {
		v->a = (struct qe_emb){ .v = a->v, .n = n, .dim = dim, .normalized = 0 };
		if (b)
			v->b = (struct qe_emb){ .v = b->v, .n = n, .dim = b->dim, .normalized = 0 };
		v->pairs = s->set.pairs;
		v->n_pairs = s->set.n_pairs;
		return 0;
	}
	map = malloc((n ? n : 1) * sizeof(*map));
	v->va = malloc((n ? n : 1) * dim * sizeof(float));
	v->vb = b ? malloc((n ? n : 1) * dim * sizeof(float)) : NULL;
	v->own_pairs = malloc((s->set.n_pairs ? s->set.n_pairs : 1) * sizeof(*v->own_pairs));
	if (!map || !v->va || (b && !v->vb) || !v->own_pairs) {
		free(map);
		view_release(v);
		return qe_fail(err, QE_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		if (a->bad[i] || (b && b->bad[i])) {
			map[i] = UINT32_MAX;
			continue;
		}
		memcpy(v->va + k * dim, a->v + i * dim, dim * sizeof(float));
		if (b)
			memcpy(v->vb + k * dim, b->v + i * dim, dim * sizeof(float));
		map[i] = (uint32_t)k++;
	}
	for (size_t p = 0; p < s->set.n_pairs; p++) {
		struct qe_pair q = s->set.pairs[p];
		if (map[q.s1] == UINT32_MAX || map[q.s2] == UINT32_MAX)
			continue;
		q.s1 = map[q.s1];
		q.s2 = map[q.s2];
		v->own_pairs[np++] = q;
	}
	free(map);
	v->a = (struct qe_emb){ .v = v->va, .n = k, .dim = dim, .normalized = 0 };
	if (b)
		v->b = (struct qe_emb){ .v = v->vb, .n = k, .dim = dim, .normalized = 0 };
	v->pairs = v->own_pairs;
	v->n_pairs = np;
	return 0;
}

/* what one level's block is made from */
struct lvl_result {
	int have_q, have_d;
	struct qe_pairs_quality q;
	struct qe_pairs_drift d;
	size_t n_scored;             /* pairs in the quality metrics */
	char why[QE_ERR_MSG];        /* why metrics are missing */
};

static void emit_block(const struct pairs_state *s, cJSON *b, const struct lvl_emb *e, const struct lvl_result *r,
		       const struct lvl_result *ref, const cJSON *recs, double wall)
{
	const struct qe_pairs_quality *q = r->have_q ? &r->q : NULL, *rq = ref && ref->have_q ? &ref->q : NULL;
	const struct qe_pairs_drift *d = r->have_d ? &r->d : NULL;
	size_t n_ok = 0, n_err = 0;
	const cJSON *x;
	cJSON *o;
	char key[48];

	cJSON_ArrayForEach(x, recs) {
		const char *st = qe_json_str(x, "status", "");
		n_ok += !strcmp(st, "ok");
		n_err += !strncmp(st, "error", 5);
	}
	cJSON_AddNumberToObject(b, QE_PAIRS_N_PAIRS, (double)s->set.n_pairs);
	cJSON_AddNumberToObject(b, QE_PAIRS_N_SENTENCES, (double)s->set.n_sents);
	cJSON_AddStringToObject(b, QE_PAIRS_LABEL_KIND, kind_name(s->set.kind));
	cJSON_AddItemToObject(b, QE_PAIRS_N_SCORED, q ? cJSON_CreateNumber((double)r->n_scored) : cJSON_CreateNull());
	cJSON_AddItemToObject(b, QE_PAIRS_N_FAILED, e->v ? cJSON_CreateNumber((double)(s->set.n_pairs - r->n_scored)) : cJSON_CreateNull());
	cJSON_AddItemToObject(b, QE_PAIRS_N_FAILED_SENTENCES, e->v ? cJSON_CreateNumber((double)e->n_bad) : cJSON_CreateNull());
	cJSON_AddItemToObject(b, QE_PAIRS_N_TRUNCATED, e->v ? cJSON_CreateNumber((double)e->n_truncated) : cJSON_CreateNull());
	cJSON_AddNumberToObject(b, QE_PAIRS_N_RECORDS, (double)(n_ok + n_err));
	cJSON_AddItemToObject(b, QE_PAIRS_DIM, e->v ? cJSON_CreateNumber((double)e->dim) : cJSON_CreateNull());
	if (r->why[0])
		cJSON_AddStringToObject(b, QE_PAIRS_ERROR, r->why);

	if (d) {
		o = cJSON_AddObjectToObject(b, QE_PAIRS_DRIFT);
		qe_json_add_num(o, QE_PAIRS_COS_MEAN, d->cos_mean);
		qe_json_add_num(o, QE_PAIRS_COS_P5, d->cos_p5);
		qe_json_add_num(o, QE_PAIRS_COS_P1, d->cos_p1);
		qe_json_add_num(o, QE_PAIRS_COS_MIN, d->cos_min);
		qe_json_add_num(o, QE_PAIRS_ONE_MINUS_COS_MEAN, d->dist_mean);
		qe_json_add_num(o, QE_PAIRS_SIM_DRIFT_MEAN, d->pair_mean);
		qe_json_add_num(o, QE_PAIRS_SIM_DRIFT_P95, d->pair_p95);
		qe_json_add_num(o, QE_PAIRS_SIM_DRIFT_MAX, d->pair_max);
		cJSON_AddNumberToObject(o, QE_PAIRS_N_SENTENCES, (double)d->n_sent);
	} else {
		cJSON_AddNullToObject(b, QE_PAIRS_DRIFT);
	}

	o = cJSON_AddObjectToObject(b, QE_PAIRS_STS);
	qe_json_add_num(o, QE_PAIRS_SPEARMAN, q ? q->spearman : NAN);
	qe_json_add_num(o, QE_PAIRS_PEARSON, q ? q->pearson : NAN);
	qe_json_add_num(b, QE_PAIRS_POS_COS_MEAN, q ? q->pos_mean : NAN);
	qe_json_add_num(b, QE_PAIRS_NEG_COS_MEAN, q ? q->neg_mean : NAN);
	qe_json_add_num(b, QE_PAIRS_POS_NEG_GAP, q ? q->gap : NAN);
	cJSON_AddItemToObject(b, QE_PAIRS_N_POS, q ? cJSON_CreateNumber((double)q->n_pos) : cJSON_CreateNull());
	cJSON_AddItemToObject(b, QE_PAIRS_N_NEG, q ? cJSON_CreateNumber((double)q->n_neg) : cJSON_CreateNull());

	o = cJSON_AddObjectToObject(b, QE_PAIRS_RETRIEVAL);
	cJSON_AddItemToObject(o, QE_PAIRS_N_QUERIES, q ? cJSON_CreateNumber((double)q->n_queries) : cJSON_CreateNull());
	cJSON_AddItemToObject(o, QE_PAIRS_N_CORPUS, q ? cJSON_CreateNumber((double)q->n_corpus) : cJSON_CreateNull());
	for (size_t j = 0; j < s->mp.n_ks; j++) {
		snprintf(key, sizeof(key), "%s%u", QE_PAIRS_RECALL_AT, s->mp.ks[j]);
		qe_json_add_num(o, key, q ? q->recall[j] : NAN);
	}
	for (size_t j = 0; j < s->mp.n_ks; j++) {
		snprintf(key, sizeof(key), "%s%u", QE_PAIRS_NDCG_AT, s->mp.ks[j]);
		qe_json_add_num(o, key, q ? q->ndcg[j] : NAN);
	}
	snprintf(key, sizeof(key), "%s%u", QE_PAIRS_MRR_AT, s->mp.mrr_k);
	qe_json_add_num(o, key, q ? q->mrr : NAN);

	if (d) {
		o = cJSON_AddObjectToObject(b, QE_PAIRS_TOPK_OVERLAP);
		for (size_t j = 0; j < s->mp.n_ks; j++) {
			snprintf(key, sizeof(key), "%s%u", QE_PAIRS_OVERLAP_AT, s->mp.ks[j]);
			qe_json_add_num(o, key, d->overlap_at[j]);
		}
	} else {
		cJSON_AddNullToObject(b, QE_PAIRS_TOPK_OVERLAP);
	}

	if (q && rq && ref != r) {
		o = cJSON_AddObjectToObject(b, QE_PAIRS_VS_REF);
		qe_json_add_num(o, QE_PAIRS_SPEARMAN QE_PAIRS_DELTA, q->spearman - rq->spearman);
		qe_json_add_num(o, QE_PAIRS_PEARSON QE_PAIRS_DELTA, q->pearson - rq->pearson);
		for (size_t j = 0; j < s->mp.n_ks; j++) {
			snprintf(key, sizeof(key), "%s%u%s", QE_PAIRS_RECALL_AT, s->mp.ks[j], QE_PAIRS_DELTA);
			qe_json_add_num(o, key, q->recall[j] - rq->recall[j]);
		}
		for (size_t j = 0; j < s->mp.n_ks; j++) {
			snprintf(key, sizeof(key), "%s%u%s", QE_PAIRS_NDCG_AT, s->mp.ks[j], QE_PAIRS_DELTA);
			qe_json_add_num(o, key, q->ndcg[j] - rq->ndcg[j]);
		}
		snprintf(key, sizeof(key), "%s%u%s", QE_PAIRS_MRR_AT, s->mp.mrr_k, QE_PAIRS_DELTA);
		qe_json_add_num(o, key, q->mrr - rq->mrr);
		qe_json_add_num(o, QE_PAIRS_POS_NEG_GAP QE_PAIRS_DELTA, q->gap - rq->gap);
	} else {
		cJSON_AddNullToObject(b, QE_PAIRS_VS_REF);
	}

	o = cJSON_AddObjectToObject(b, QE_PAIRS_THROUGHPUT);
	qe_json_add_num(o, QE_PAIRS_SENTENCES_PER_S, e->v && wall > 0 ? (double)s->set.n_sents / wall : NAN);
	qe_json_add_num(o, QE_PAIRS_WALL_S, wall);
	qe_json_add_num(o, QE_PAIRS_EMBED_S, e->v ? e->embed_s : NAN);
}

/* quality (and drift against ref when given) of level e */
static int level_metrics(const struct pairs_state *s, const struct lvl_emb *e, const struct lvl_emb *ref,
			 struct lvl_result *r, struct qe_err *err)
{
	struct view v;
	struct qe_err e1 = { 0 };
	int rc;

	if (!e->v) {
		snprintf(r->why, sizeof(r->why), "%s", e->why);
		return 0;
	}
	if ((rc = view_make(s, e, NULL, &v, err)) != 0)
		return rc;
	r->n_scored = v.n_pairs;
	rc = qe_pairs_quality(&v.a, v.pairs, v.n_pairs, &s->mp, &r->q, &e1);
	view_release(&v);
	if (rc == QE_ENOMEM)
		return qe_fail(err, rc, "%s", e1.msg);
	if (rc != 0) {
		snprintf(r->why, sizeof(r->why), "%s", e1.msg);
		return 0;
	}
	r->have_q = 1;
	if (!ref || !ref->v)
		return 0;
	if (ref->dim != e->dim) {
		snprintf(r->why, sizeof(r->why), "embedding width %zu differs from the reference's %zu: no drift", e->dim, ref->dim);
		return 0;
	}
	if ((rc = view_make(s, ref, e, &v, err)) != 0)
		return rc;
	rc = qe_pairs_drift(&v.a, &v.b, v.pairs, v.n_pairs, &s->mp, &r->d, &e1);
	view_release(&v);
	if (rc == QE_ENOMEM)
		return qe_fail(err, rc, "%s", e1.msg);
	if (rc != 0) {
		snprintf(r->why, sizeof(r->why), "%s", e1.msg);
		return 0;
	}
	r->have_d = 1;
	return 0;
}

static int pairs_summarize(void *state, const struct qe_task_levels *lv, cJSON *out, struct qe_err *err)
{
	struct pairs_state *s = state;
	struct lvl_emb ref, e;
	struct lvl_result *res = calloc(lv->n + 1, sizeof(*res));
	int rc = 0;

	if (!res)
		return qe_fail(err, QE_ENOMEM, "out of memory");
	lvl_emb_load(s, lv->dirs[lv->ref], &ref);
	rc = level_metrics(s, &ref, NULL, &res[lv->ref], err);
	for (size_t l = 0; l < lv->n && rc == 0; l++) {
		const struct lvl_emb *el = &ref;
		if (l != lv->ref) {
			lvl_emb_load(s, lv->dirs[l], &e);
			el = &e;
			rc = level_metrics(s, &e, &ref, &res[l], err);
		}
		if (rc == 0)
			emit_block(s, cJSON_AddObjectToObject(out, lv->levels[l].name), el, &res[l], &res[lv->ref],
				   lv->records[l], qe_task_level_wall(lv, l, s->name));
		if (l != lv->ref)
			lvl_emb_release(&e);
	}
	lvl_emb_release(&ref);
	free(res);
	return rc;
}

const struct qe_task qe_task_pairs = {
	.name = "pairs",
	.summary = "sentence pairs (LCQMC, PAWS-X, STS-B, ...): embedding drift, STS correlation, Recall/NDCG/MRR",
	.needs = QE_RT_EMBED,
	.options = pairs_options,
	.options_size = sizeof(struct pairs_opts),
	.prepare = pairs_prepare,
	.run_level = pairs_run_level,
	.summarize = pairs_summarize,
	.describe = pairs_describe,
	.release = pairs_release,
	.view = &qe_view_pairs,
};
