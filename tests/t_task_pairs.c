/* Tests of the `pairs` task (harness/tasks/pairs.c) through the real driver
 * (qe_run_plan: a child process per level, records, results.json) on the
 * generated fixture models: the tiny BERT with mean and with CLS pooling, and
 * the tiny llama decoder (mean pooling). Every metric in results.json is
 * recomputed here from the embedding files the levels wrote, with plain code
 * of this file (no metrics/ function), from the sample files read here too. */
#include "tests/tq.h"
#include "tests/tq_json.h"

#include "harness/journal.h"
#include "harness/run.h"
#include "harness/base/sys.h"

#include <ftw.h>
#include <stdint.h>
#include <sys/resource.h>
#include <unistd.h>

#include <ggml.h>
#include <gguf.h>

/* results.json against the recomputation from the same embedding rows:
 * both sides work in double over the same floats, so only the order of
 * additions differs */
#define TOL 1e-9
/* the same weights through another file or pooling setting: engine
 * differences of batched float computation */
#define ENGINE_TOL 1e-5

static char g_root[256];   /* this binary's temporary folder */
static char g_cache[320];  /* quantization cache shared by the tests */

static const char *const ZH = "datasets/samples/pairs_zh.tsv";
static const char *const EN = "datasets/samples/pairs_en.tsv";

/* ======================================================================
 * Files and plans
 * ====================================================================== */

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
	(void)sb;
	(void)flag;
	(void)f;
	return remove(p);
}

static void rm_rf(const char *dir)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void fixture(char *buf, size_t cap, const char *name)
{
	snprintf(buf, cap, "%s/%s", tq_fixtures(), name);
}

static int have_fixtures(void)
{
	char p[512];
	fixture(p, sizeof(p), "tiny-bert-f32.gguf");
	return qe_file_size(p) > 0;
}

static int copy_gguf(const char *src, const char *dst, int f16_token_types, int wordpiece);

/* The BERT fixture as the tests use it (see wp_models) */
static void bert_model(char *buf, size_t cap, const char *fixture_name)
{
	snprintf(buf, cap, "%s/wp-%s", g_root, fixture_name);
}

/* Copies of the BERT fixtures whose vocabulary llama.cpp's WordPiece
 * tokenizer can use: the generated fixtures' vocabulary lacks the "\u2581"
 * word-start marks llama.cpp's converter writes, so every word becomes
 * [UNK], embeddings depend only on the token count and retrieval is a
 * matter of float rounding among exact ties. (A no-op copy once the
 * generator writes the marks.) */
static int wp_models(void)
{
	static const char *const names[] = { "tiny-bert-f32.gguf", "tiny-bert-cls-f32.gguf" };
	char src[512], dst[512];

	for (int i = 0; i < 2; i++) {
		fixture(src, sizeof(src), names[i]);
		bert_model(dst, sizeof(dst), names[i]);
		if (copy_gguf(src, dst, 0, 1) != 0)
			return -1;
	}
	return 0;
}

/* a fresh output folder under g_root */
static void out_dir(char *buf, size_t cap, const char *name)
{
	snprintf(buf, cap, "%s/%s", g_root, name);
	rm_rf(buf);
}

static cJSON *plan_new(const char *model, const char *const *levels, size_t n, const char *out)
{
	cJSON *p = cJSON_CreateObject(), *l = cJSON_AddArrayToObject(p, "levels");
	cJSON *rt = cJSON_AddObjectToObject(p, "runtime");

	cJSON_AddStringToObject(rt, "name", "llamacpp");
	cJSON_AddNumberToObject(rt, "threads", 1); /* tiny models; steadier on a busy machine */
	cJSON_AddStringToObject(p, "model", model);
	for (size_t i = 0; i < n; i++)
		cJSON_AddItemToArray(l, cJSON_CreateString(levels[i]));
	cJSON_AddStringToObject(p, "cache", g_cache);
	cJSON_AddStringToObject(p, "out", out);
	cJSON_AddBoolToObject(p, "quiet", 1);
	cJSON_AddBoolToObject(p, "isolate", 1);
	cJSON_AddArrayToObject(p, "tasks");
	return p;
}

static cJSON *plan_pairs(cJSON *plan, const char *name, const char *file)
{
	cJSON *t = cJSON_CreateObject();

	cJSON_AddStringToObject(t, "task", "pairs");
	cJSON_AddStringToObject(t, "name", name);
	cJSON_AddStringToObject(t, "file", file);
	cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(plan, "tasks"), t);
	return t;
}

/* run (or resume) the plan, return results.json (NULL on failure) */
static cJSON *run_plan(cJSON *plan, int resume, struct qe_run_status *st)
{
	struct qe_err err = { 0 };
	char path[512];
	cJSON *res = NULL;
	int rc = qe_run_plan(plan, resume, st, &err);

	if (rc != 0) {
		TQ_FAILF("qe_run_plan: %s", err.msg);
		return NULL;
	}
	snprintf(path, sizeof(path), "%s/results.json", qe_json_str(plan, "out", ""));
	if (qe_json_read_file(path, &res, &err) != 0)
		TQ_FAILF("results.json: %s", err.msg);
	return res;
}


static const cJSON *level_entry(const cJSON *res, const char *name)
{
	const cJSON *l;
	cJSON_ArrayForEach(l, cJSON_GetObjectItemCaseSensitive(res, "levels"))
		if (!strcmp(qe_json_str(l, "name", ""), name))
			return l;
	return NULL;
}


/* ======================================================================
 * The sample files, read independently
 * ====================================================================== */

#define MAXS 256
#define MAXP 128

struct tset {
	char *sent[MAXS];
	size_t ns;
	uint32_t s1[MAXP], s2[MAXP];
	double label[MAXP];
	size_t np;
	int graded;
};

static uint32_t intern(struct tset *t, const char *s, size_t n)
{
	for (size_t i = 0; i < t->ns; i++)
		if (strlen(t->sent[i]) == n && !memcmp(t->sent[i], s, n))
			return (uint32_t)i;
	t->sent[t->ns] = strndup(s, n);
	return (uint32_t)t->ns++;
}

/* s1<TAB>s2<TAB>label lines; a first line whose label is not a number is a header */
static void tset_read(const char *path, struct tset *t, size_t limit)
{
	FILE *f = fopen(path, "r");
	char line[4096];

	memset(t, 0, sizeof(*t));
	if (!f)
		return;
	while (fgets(line, sizeof(line), f) && t->np < MAXP && (limit == 0 || t->np < limit)) {
		char *a = line, *b = strchr(a, '\t'), *c = b ? strchr(b + 1, '\t') : NULL, *end;
		double v;
		if (!c)
			continue;
		v = strtod(c + 1, &end);
		if (end == c + 1)
			continue; /* header */
		t->s1[t->np] = intern(t, a, (size_t)(b - a));
		t->s2[t->np] = intern(t, b + 1, (size_t)(c - b - 1));
		t->label[t->np] = v;
		t->graded |= v != 0 && v != 1;
		t->np++;
	}
	fclose(f);
}

static void tset_free(struct tset *t)
{
	for (size_t i = 0; i < t->ns; i++)
		free(t->sent[i]);
}

/* ======================================================================
 * Independent metrics
 * ====================================================================== */

static double dcos(const float *a, const float *b, size_t dim)
{
	double ab = 0, aa = 0, bb = 0;
	for (size_t i = 0; i < dim; i++) {
		ab += (double)a[i] * b[i];
		aa += (double)a[i] * a[i];
		bb += (double)b[i] * b[i];
	}
	return aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : 0;
}

static double mean(const double *x, size_t n)
{
	double s = 0;
	for (size_t i = 0; i < n; i++)
		s += x[i];
	return s / (double)n;
}

static double pearson(const double *x, const double *y, size_t n)
{
	double mx = mean(x, n), my = mean(y, n), sxy = 0, sxx = 0, syy = 0;
	for (size_t i = 0; i < n; i++) {
		sxy += (x[i] - mx) * (y[i] - my);
		sxx += (x[i] - mx) * (x[i] - mx);
		syy += (y[i] - my) * (y[i] - my);
	}
	return sxy / sqrt(sxx * syy);
}

/* average ranks, O(n^2): 1 + (values below) + (ties - 1) / 2 */
static void ranks(const double *x, size_t n, double *r)
{
	for (size_t i = 0; i < n; i++) {
		size_t lt = 0, eq = 0;
		for (size_t j = 0; j < n; j++) {
			lt += x[j] < x[i];
			eq += x[j] == x[i];
		}
		r[i] = 1.0 + (double)lt + (double)(eq - 1) / 2.0;
	}
}

static double spearman(const double *x, const double *y, size_t n)
{
	double rx[MAXP], ry[MAXP];
	ranks(x, n, rx);
	ranks(y, n, ry);
	return pearson(rx, ry, n);
}

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* type 7 over sorted v */
static double pct7(const double *v, size_t n, double q)
{
	double h = (double)(n - 1) * q;
	size_t lo = (size_t)floor(h);
	return lo + 1 < n ? v[lo] + (h - (double)lo) * (v[lo + 1] - v[lo]) : v[n - 1];
}

static int is_pos(const struct tset *t, double l)
{
	return t->graded ? l >= 4.0 : l >= 0.5;
}

static int is_neg(const struct tset *t, double l)
{
	return t->graded ? l <= 1.0 : l < 0.5;
}

/* queries (distinct s1 of positive non-self pairs) and corpus (distinct s2) */
struct retr {
	uint32_t q[MAXP], c[MAXP];
	size_t nq, nc;
};

static int has(const uint32_t *a, size_t n, uint32_t v)
{
	for (size_t i = 0; i < n; i++)
		if (a[i] == v)
			return 1;
	return 0;
}

static void retr_sets(const struct tset *t, struct retr *r)
{
	r->nq = r->nc = 0;
	for (size_t p = 0; p < t->np; p++) {
		if (!has(r->c, r->nc, t->s2[p]))
			r->c[r->nc++] = t->s2[p];
		if (is_pos(t, t->label[p]) && t->s1[p] != t->s2[p] && !has(r->q, r->nq, t->s1[p]))
			r->q[r->nq++] = t->s1[p];
	}
}

/* corpus without q, by cosine descending, ties by lower sentence index;
 * returns how many */
static size_t rank_corpus(const float *E, size_t dim, const struct retr *r, uint32_t q, uint32_t *out)
{
	double sc[MAXP];
	size_t n = 0;

	for (size_t i = 0; i < r->nc; i++)
		if (r->c[i] != q)
			out[n++] = r->c[i];
	for (size_t i = 0; i < n; i++)
		sc[i] = dcos(E + (size_t)q * dim, E + (size_t)out[i] * dim, dim);
	for (size_t i = 1; i < n; i++) /* insertion sort */
		for (size_t j = i; j > 0 && (sc[j] > sc[j - 1] || (sc[j] == sc[j - 1] && out[j] < out[j - 1])); j--) {
			double ts = sc[j];
			uint32_t ti = out[j];
			sc[j] = sc[j - 1];
			out[j] = out[j - 1];
			sc[j - 1] = ts;
			out[j - 1] = ti;
		}
	return n;
}

static const unsigned KS[3] = { 1, 5, 10 };

struct quality {
	double sp, pe, pos, neg, gap, rec[3], ndcg[3], mrr;
	size_t nq, nc;
	double cos[MAXP];
};

static void quality(const float *E, size_t dim, const struct tset *t, struct quality *o)
{
	struct retr r;
	double lab[MAXP], sp = 0, sn = 0;
	size_t npos = 0, nneg = 0;

	memset(o, 0, sizeof(*o));
	for (size_t p = 0; p < t->np; p++) {
		o->cos[p] = dcos(E + (size_t)t->s1[p] * dim, E + (size_t)t->s2[p] * dim, dim);
		lab[p] = t->label[p];
		if (is_pos(t, lab[p])) {
			sp += o->cos[p];
			npos++;
		} else if (is_neg(t, lab[p])) {
			sn += o->cos[p];
			nneg++;
		}
	}
	o->pe = pearson(lab, o->cos, t->np);
	o->sp = spearman(lab, o->cos, t->np);
	o->pos = sp / (double)npos;
	o->neg = sn / (double)nneg;
	o->gap = o->pos - o->neg;
	retr_sets(t, &r);
	o->nq = r.nq;
	o->nc = r.nc;
	for (size_t i = 0; i < r.nq; i++) {
		uint32_t rank[MAXP], rel[MAXP];
		double gain[MAXP], g[MAXP], ideal[MAXP];
		size_t nrel = 0, n = rank_corpus(E, dim, &r, r.q[i], rank);
		/* relevant documents and their gains (largest for a repeated pair) */
		for (size_t p = 0; p < t->np; p++) {
			size_t k;
			if (t->s1[p] != r.q[i] || t->s2[p] == r.q[i] || !is_pos(t, t->label[p]))
				continue;
			for (k = 0; k < nrel && rel[k] != t->s2[p]; k++)
				;
			if (k == nrel) {
				rel[nrel] = t->s2[p];
				gain[nrel++] = t->graded ? t->label[p] : 1.0;
			} else if (t->graded && t->label[p] > gain[k]) {
				gain[k] = t->label[p];
			}
		}
		for (size_t x = 0; x < n; x++) {
			g[x] = 0;
			for (size_t k = 0; k < nrel; k++)
				if (rel[k] == rank[x])
					g[x] = gain[k];
		}
		memcpy(ideal, gain, nrel * sizeof(double));
		qsort(ideal, nrel, sizeof(double), cmp_dbl); /* ascending: read from the end */
		for (int j = 0; j < 3; j++) {
			double hit = 0, dcg = 0, idcg = 0;
			for (size_t x = 0; x < n && x < KS[j]; x++) {
				hit += g[x] > 0;
				dcg += g[x] / log2((double)x + 2);
			}
			for (size_t x = 0; x < nrel && x < KS[j]; x++)
				idcg += ideal[nrel - 1 - x] / log2((double)x + 2);
			o->rec[j] += hit / (double)nrel / (double)r.nq;
			o->ndcg[j] += dcg / idcg / (double)r.nq;
		}
		for (size_t x = 0; x < n && x < 10; x++)
			if (g[x] > 0) {
				o->mrr += 1.0 / (double)(x + 1) / (double)r.nq;
				break;
			}
	}
}

struct drift {
	double cmean, cmin, p5, p1, dist, pmean, p95, pmax, ov[3];
};

static void drift(const float *R, const float *L, size_t ns, size_t dim, const struct tset *t, struct drift *o)
{
	double c[MAXS], d[MAXP], sum = 0, dsum = 0;
	struct retr r;

	for (size_t i = 0; i < ns; i++) {
		c[i] = dcos(R + i * dim, L + i * dim, dim);
		sum += c[i];
		dsum += 1 - c[i];
	}
	o->cmean = sum / (double)ns;
	o->dist = dsum / (double)ns;
	qsort(c, ns, sizeof(double), cmp_dbl);
	o->cmin = c[0];
	o->p5 = pct7(c, ns, 0.05);
	o->p1 = pct7(c, ns, 0.01);
	for (size_t p = 0; p < t->np; p++)
		d[p] = fabs(dcos(R + t->s1[p] * dim, R + t->s2[p] * dim, dim) - dcos(L + t->s1[p] * dim, L + t->s2[p] * dim, dim));
	o->pmean = mean(d, t->np);
	qsort(d, t->np, sizeof(double), cmp_dbl);
	o->pmax = d[t->np - 1];
	o->p95 = pct7(d, t->np, 0.95);
	retr_sets(t, &r);
	for (int j = 0; j < 3; j++) {
		o->ov[j] = 0;
		for (size_t i = 0; i < r.nq; i++) {
			uint32_t a[MAXP], b[MAXP];
			size_t n = rank_corpus(R, dim, &r, r.q[i], a), k = KS[j] < n ? KS[j] : n, hit = 0;
			rank_corpus(L, dim, &r, r.q[i], b);
			for (size_t x = 0; x < k; x++)
				hit += has(b, k, a[x]);
			o->ov[j] += (double)hit / (double)k / (double)r.nq;
		}
	}
}

/* a level's embedding file; caller frees */
static float *load_emb(const char *out, int idx, const char *level, const char *task, size_t *n, size_t *dim)
{
	char p[700];
	cJSON *j = NULL;
	float *v;
	FILE *f;

	snprintf(p, sizeof(p), "%s/levels/%02d-%s/embeddings-%s.json", out, idx, level, task);
	if (qe_json_read_file(p, &j, NULL) != 0)
		return NULL;
	*n = (size_t)qe_json_num(j, "n_sentences", 0);
	*dim = (size_t)qe_json_num(j, "dim", 0);
	cJSON_Delete(j);
	snprintf(p, sizeof(p), "%s/levels/%02d-%s/embeddings-%s.f32", out, idx, level, task);
	f = fopen(p, "rb");
	v = malloc(*n * *dim * sizeof(float) + 1);
	if (!f || fread(v, sizeof(float), *n * *dim, f) != *n * *dim) {
		if (f)
			fclose(f);
		free(v);
		return NULL;
	}
	fclose(f);
	return v;
}

/* ======================================================================
 * Checks on results.json
 * ====================================================================== */

static const char *const quality_keys[] = {
	"n_pairs", "n_sentences", "n_scored", "n_truncated", "sts.spearman", "sts.pearson", "pos_cos_mean",
	"neg_cos_mean", "pos_neg_gap", "retrieval.n_queries", "retrieval.n_corpus", "retrieval.recall@1",
	"retrieval.recall@5", "retrieval.recall@10", "retrieval.ndcg@1", "retrieval.ndcg@5", "retrieval.ndcg@10",
	"retrieval.mrr@10", "throughput.sentences_per_s", "throughput.wall_s", NULL,
};

static const char *const vs_ref_keys[] = {
	"drift.cos_mean", "drift.cos_p5", "drift.cos_p1", "drift.cos_min", "drift.one_minus_cos_mean",
	"drift.pair_sim_drift_mean", "drift.pair_sim_drift_p95", "drift.pair_sim_drift_max", "topk_overlap.@1",
	"topk_overlap.@5", "topk_overlap.@10", "vs_ref.spearman_delta", "vs_ref.pearson_delta",
	"vs_ref.recall@1_delta", "vs_ref.recall@5_delta", "vs_ref.recall@10_delta", "vs_ref.ndcg@1_delta",
	"vs_ref.ndcg@5_delta", "vs_ref.ndcg@10_delta", "vs_ref.mrr@10_delta", "vs_ref.pos_neg_gap_delta", NULL,
};

/* every metric of the task at every level equals its recomputation from the
 * levels' embedding files (levels[0] is the reference); folders[l] = the
 * number of level l's folder (NULL: l) */
static void check_task(const cJSON *res, const char *out, const char *task, const char *file,
		       const char *const *levels, const int *folders, int n_levels)
{
	struct tset t;
	size_t n0 = 0, dim0 = 0;
	float *R;
	const cJSON *rb = tq_block(res, task, levels[0]);
	struct quality rq;

	tset_read(file, &t, 0);
	TQ_CHECK(t.np > 0);
	R = load_emb(out, folders ? folders[0] : 0, levels[0], task, &n0, &dim0);
	TQ_CHECK(R != NULL);
	if (!R || !rb) {
		TQ_FAILF("task %s: no reference embeddings or block", task);
		tset_free(&t);
		free(R);
		return;
	}
	TQ_EQ_INT(n0, t.ns);
	TQ_CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(rb, "drift")));
	TQ_CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(rb, "vs_ref")));
	TQ_CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(rb, "topk_overlap")));
	quality(R, dim0, &t, &rq);
	for (int l = 0; l < n_levels; l++) {
		const cJSON *b = tq_block(res, task, levels[l]), *rec;
		size_t n = 0, dim = 0;
		float *E = l == 0 ? R : load_emb(out, folders ? folders[l] : l, levels[l], task, &n, &dim);
		struct quality q;
		cJSON *recs = NULL;
		char p[700];

		if (!b || !E) {
			TQ_FAILF("task %s level %s: no block or embeddings", task, levels[l]);
			continue;
		}
		for (int k = 0; quality_keys[k]; k++)
			if (isnan(tq_num(b, quality_keys[k])))
				TQ_FAILF("task %s level %s: %s missing", task, levels[l], quality_keys[k]);
		for (int k = 0; l > 0 && vs_ref_keys[k]; k++)
			if (isnan(tq_num(b, vs_ref_keys[k])))
				TQ_FAILF("task %s level %s: %s missing", task, levels[l], vs_ref_keys[k]);
		TQ_EQ_STR(qe_json_str(b, "label_kind", ""), t.graded ? "graded" : "binary");
		TQ_EQ_INT(tq_num(b, "n_pairs"), t.np);
		TQ_EQ_INT(tq_num(b, "n_scored"), t.np);
		TQ_EQ_INT(tq_num(b, "n_sentences"), t.ns);
		quality(E, dim0, &t, &q);
		/* records: one per pair, the pair's cosine */
		snprintf(p, sizeof(p), "%s/levels/%02d-%s/records-%s.jsonl", out, folders ? folders[l] : l, levels[l], task);
		TQ_EQ_INT(qe_journal_load(p, &recs, NULL), 0);
		TQ_EQ_INT(cJSON_GetArraySize(recs), t.np);
		cJSON_ArrayForEach(rec, recs) {
			int id = (int)qe_json_num(rec, "id", -1);
			TQ_CHECK(id >= 0 && (size_t)id < t.np);
			if (id < 0 || (size_t)id >= t.np)
				continue;
			TQ_EQ_STR(qe_json_str(rec, "status", ""), "ok");
			TQ_NEAR(qe_json_num(rec, "cos", NAN), q.cos[id], TOL);
			TQ_NEAR(qe_json_num(rec, "label", NAN), t.label[id], 0);
		}
		cJSON_Delete(recs);
		TQ_NEAR(tq_num(b, "sts.spearman"), q.sp, TOL);
		TQ_NEAR(tq_num(b, "sts.pearson"), q.pe, TOL);
		TQ_NEAR(tq_num(b, "pos_cos_mean"), q.pos, TOL);
		TQ_NEAR(tq_num(b, "neg_cos_mean"), q.neg, TOL);
		TQ_NEAR(tq_num(b, "pos_neg_gap"), q.gap, TOL);
		TQ_EQ_INT(tq_num(b, "retrieval.n_queries"), q.nq);
		TQ_EQ_INT(tq_num(b, "retrieval.n_corpus"), q.nc);
		for (int j = 0; j < 3; j++) {
			char k1[48], k2[48];
			snprintf(k1, sizeof(k1), "retrieval.recall@%u", KS[j]);
			snprintf(k2, sizeof(k2), "retrieval.ndcg@%u", KS[j]);
			TQ_NEAR(tq_num(b, k1), q.rec[j], TOL);
			TQ_NEAR(tq_num(b, k2), q.ndcg[j], TOL);
			if (l > 0) {
				snprintf(k1, sizeof(k1), "vs_ref.recall@%u_delta", KS[j]);
				snprintf(k2, sizeof(k2), "vs_ref.ndcg@%u_delta", KS[j]);
				TQ_NEAR(tq_num(b, k1), q.rec[j] - rq.rec[j], TOL);
				TQ_NEAR(tq_num(b, k2), q.ndcg[j] - rq.ndcg[j], TOL);
			}
		}
		TQ_NEAR(tq_num(b, "retrieval.mrr@10"), q.mrr, TOL);
		if (l > 0) {
			struct drift d;
			TQ_EQ_INT(dim, dim0);
			TQ_NEAR(tq_num(b, "vs_ref.spearman_delta"), q.sp - rq.sp, TOL);
			TQ_NEAR(tq_num(b, "vs_ref.pearson_delta"), q.pe - rq.pe, TOL);
			TQ_NEAR(tq_num(b, "vs_ref.mrr@10_delta"), q.mrr - rq.mrr, TOL);
			TQ_NEAR(tq_num(b, "vs_ref.pos_neg_gap_delta"), q.gap - rq.gap, TOL);
			drift(R, E, t.ns, dim0, &t, &d);
			TQ_NEAR(tq_num(b, "drift.cos_mean"), d.cmean, TOL);
			TQ_NEAR(tq_num(b, "drift.cos_min"), d.cmin, TOL);
			TQ_NEAR(tq_num(b, "drift.cos_p5"), d.p5, TOL);
			TQ_NEAR(tq_num(b, "drift.cos_p1"), d.p1, TOL);
			TQ_NEAR(tq_num(b, "drift.one_minus_cos_mean"), d.dist, TOL);
			TQ_NEAR(tq_num(b, "drift.pair_sim_drift_mean"), d.pmean, TOL);
			TQ_NEAR(tq_num(b, "drift.pair_sim_drift_p95"), d.p95, TOL);
			TQ_NEAR(tq_num(b, "drift.pair_sim_drift_max"), d.pmax, TOL);
			TQ_NEAR(tq_num(b, "topk_overlap.@1"), d.ov[0], TOL);
			TQ_NEAR(tq_num(b, "topk_overlap.@5"), d.ov[1], TOL);
			TQ_NEAR(tq_num(b, "topk_overlap.@10"), d.ov[2], TOL);
			free(E);
		}
	}
	free(R);
	tset_free(&t);
}

/* ======================================================================
 * Tests
 * ====================================================================== */

/* tiny BERT, mean pooling: the reference F32, the same file again under
 * another name, Q8_0 and Q4_K_M; both sample files */
static void test_bert_mean_levels(void)
{
	char out[512], model[512], self[600];
	const char *levels[4] = { "F32", self, "Q8_0", "Q4_K_M" };
	const char *names[4] = { "F32", "self", "Q8_0", "Q4_K_M" };
	struct qe_run_status st;
	cJSON *plan, *res;
	const cJSON *b;

	if (!have_fixtures())
		TQ_SKIP("no fixtures (make fixtures)");
	bert_model(model, sizeof(model), "tiny-bert-f32.gguf");
	snprintf(self, sizeof(self), "self=%s", model);
	out_dir(out, sizeof(out), "bert-mean");
	plan = plan_new(model, levels, 4, out);
	plan_pairs(plan, "zh", ZH);
	plan_pairs(plan, "en", EN);
	res = run_plan(plan, 0, &st);
	if (!res) {
		cJSON_Delete(plan);
		return;
	}
	TQ_EQ_INT(st.n_levels_failed, 0);
	check_task(res, out, "zh", ZH, names, NULL, 4);
	check_task(res, out, "en", EN, names, NULL, 4);
	/* the same weights under another name: no drift at all */
	b = tq_block(res, "zh", "self");
	TQ_NEAR(tq_num(b, "drift.cos_mean"), 1.0, 0);
	TQ_NEAR(tq_num(b, "drift.cos_min"), 1.0, 0);
	TQ_NEAR(tq_num(b, "drift.one_minus_cos_mean"), 0.0, 0);
	TQ_NEAR(tq_num(b, "drift.pair_sim_drift_max"), 0.0, 0);
	TQ_NEAR(tq_num(b, "topk_overlap.@10"), 1.0, 0);
	TQ_NEAR(tq_num(b, "vs_ref.spearman_delta"), 0.0, 0);
	/* more quantization, more drift */
	for (int k = 0; k < 2; k++) {
		const char *task = k ? "en" : "zh";
		double d8 = tq_num(tq_block(res, task, "Q8_0"), "drift.one_minus_cos_mean");
		double d4 = tq_num(tq_block(res, task, "Q4_K_M"), "drift.one_minus_cos_mean");
		TQ_CHECK(d8 > 0 && d4 > d8);
	}
	/* settings say what ran */
	{
		const cJSON *s = cJSON_GetObjectItemCaseSensitive(
			cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(res, "tasks"), "en"), "settings");
		TQ_EQ_STR(qe_json_str(s, "kind", ""), "graded");
		TQ_EQ_STR(qe_json_str(s, "pooling", ""), "model");
		TQ_EQ_INT(qe_json_num(s, "n_pairs", 0), 40);
	}
	cJSON_Delete(res);
	cJSON_Delete(plan);
}

/* tiny BERT with CLS pooling: the model's own pooling, and "pooling":
 * "mean" which must give the mean-pooled model's embeddings (same weights) */
static void test_bert_cls_and_pooling_option(void)
{
	char out[512], model[512], mean_model[512];
	const char *levels[2] = { "F32", "Q8_0" };
	struct qe_run_status st;
	cJSON *plan, *res, *t;
	size_t n1, d1, n2, d2, n3, d3;
	float *cls, *as_mean, *mean_ref;

	if (!have_fixtures())
		TQ_SKIP("no fixtures (make fixtures)");
	bert_model(model, sizeof(model), "tiny-bert-cls-f32.gguf");
	bert_model(mean_model, sizeof(mean_model), "tiny-bert-f32.gguf");
	out_dir(out, sizeof(out), "bert-cls");
	plan = plan_new(model, levels, 2, out);
	plan_pairs(plan, "zh", ZH);
	t = plan_pairs(plan, "zh_mean", ZH);
	cJSON_AddStringToObject(t, "pooling", "mean");
	res = run_plan(plan, 0, &st);
	if (!res) {
		cJSON_Delete(plan);
		return;
	}
	TQ_EQ_INT(st.n_levels_failed, 0);
	check_task(res, out, "zh", ZH, levels, NULL, 2);
	check_task(res, out, "zh_mean", ZH, levels, NULL, 2);
	cls = load_emb(out, 0, "F32", "zh", &n1, &d1);
	as_mean = load_emb(out, 0, "F32", "zh_mean", &n2, &d2);
	/* the mean-pooled fixture through the earlier test's run */
	snprintf(out, sizeof(out), "%s/bert-mean", g_root);
	mean_ref = load_emb(out, 0, "F32", "zh", &n3, &d3);
	TQ_CHECK(cls && as_mean);
	if (cls && as_mean) {
		double lo = 1;
		for (size_t i = 0; i < n1; i++) {
			double c = dcos(cls + i * d1, as_mean + i * d1, d1);
			lo = c < lo ? c : lo;
		}
		TQ_CHECK(lo < 0.999); /* CLS and mean pooling differ */
	}
	if (as_mean && mean_ref) {
		TQ_EQ_INT(n2, n3);
		for (size_t i = 0; i < n2 && i < n3; i++)
			TQ_NEAR(dcos(as_mean + i * d2, mean_ref + i * d2, d2), 1.0, ENGINE_TOL);
	}
	free(cls);
	free(as_mean);
	free(mean_ref);
	cJSON_Delete(res);
	cJSON_Delete(plan);
}

/* the decoder fixture (no pooling metadata: mean pooling) */
static void test_decoder_mean(void)
{
	char out[512], model[512];
	const char *levels[2] = { "F16", "Q8_0" };
	struct qe_run_status st;
	cJSON *plan, *res;

	if (!have_fixtures())
		TQ_SKIP("no fixtures (make fixtures)");
	fixture(model, sizeof(model), "tiny-llama-f16.gguf");
	out_dir(out, sizeof(out), "llama-mean");
	plan = plan_new(model, levels, 2, out);
	plan_pairs(plan, "en", EN);
	res = run_plan(plan, 0, &st);
	if (res) {
		TQ_EQ_INT(st.n_levels_failed, 0);
		check_task(res, out, "en", EN, levels, NULL, 2);
		TQ_EQ_INT(tq_num(tq_block(res, "en", "F16"), "dim"), 256);
	}
	cJSON_Delete(res);
	cJSON_Delete(plan);
}

/* Copies the GGUF src to dst; tensor token_types.weight becomes F16 when
 * f16_token_types (llama.cpp then asserts, aborting, when it embeds); with
 * wordpiece, the vocabulary is rewritten the way llama.cpp's WordPiece
 * tokenizer reads one (a word-initial piece "\u2581x", a continuation "##x"
 * as plain "x") unless it already is. */
static int copy_gguf(const char *src, const char *dst, int f16_token_types, int wordpiece)
{
	struct ggml_context *meta = NULL, *extra;
	struct gguf_init_params ip = { .no_alloc = false, .ctx = &meta };
	struct ggml_init_params ep = { .mem_size = (size_t)16 << 20, .mem_buffer = NULL, .no_alloc = false };
	struct gguf_context *in = gguf_init_from_file(src, ip), *o;
	int ok;

	if (!in)
		return -1;
	extra = ggml_init(ep);
	o = gguf_init_empty();
	gguf_set_kv(o, in);
	if (wordpiece) {
		int64_t k = gguf_find_key(in, "tokenizer.ggml.tokens");
		size_t n = k >= 0 ? gguf_get_arr_n(in, k) : 0;
		const char **tok = calloc(n + 1, sizeof(*tok));
		char **own = calloc(n + 1, sizeof(*own));
		int converted = 0;
		for (size_t i = 0; i < n; i++)
			converted |= !strncmp(gguf_get_arr_str(in, k, i), "\xe2\x96\x81", 3);
		for (size_t i = 0; i < n && !converted; i++) {
			const char *t = gguf_get_arr_str(in, k, i);
			if (t[0] == '[' && t[strlen(t) - 1] == ']')
				tok[i] = t; /* [CLS], [UNK], ... */
			else if (!strncmp(t, "##", 2))
				tok[i] = t + 2;
			else if (asprintf(&own[i], "\xe2\x96\x81%s", t) > 0)
				tok[i] = own[i];
		}
		if (!converted) {
			gguf_remove_key(o, "tokenizer.ggml.tokens");
			gguf_set_arr_str(o, "tokenizer.ggml.tokens", tok, n);
		}
		for (size_t i = 0; i < n; i++)
			free(own[i]);
		free(own);
		free(tok);
	}
	for (int64_t i = 0; i < gguf_get_n_tensors(in); i++) {
		const char *name = gguf_get_tensor_name(in, i);
		struct ggml_tensor *t = ggml_get_tensor(meta, name);
		if (f16_token_types && !strcmp(name, "token_types.weight")) {
			struct ggml_tensor *h = ggml_new_tensor_2d(extra, GGML_TYPE_F16, t->ne[0], t->ne[1]);
			ggml_fp32_to_fp16_row(t->data, h->data, ggml_nelements(t));
			ggml_set_name(h, name);
			t = h;
		}
		gguf_add_tensor(o, t);
	}
	ok = gguf_write_to_file(o, dst, false);
	gguf_free(o);
	gguf_free(in);
	ggml_free(extra);
	ggml_free(meta);
	return ok ? 0 : -1;
}

/* an engine abort costs one level: the others complete, results.json says
 * which failed and why; then a resume after losing the last level's work
 * gives the same figures */
static void test_abort_isolated_then_resume(void)
{
	char out[512], model[512], bad[600], badspec[700], p[800];
	const char *levels[3] = { "F32", badspec, "Q8_0" };
	const char *good[2] = { "F32", "Q8_0" };
	struct qe_run_status st;
	struct rlimit no_core = { 0, 0 };
	cJSON *plan, *res, *res2, *lj = NULL;
	const cJSON *le;

	if (!have_fixtures())
		TQ_SKIP("no fixtures (make fixtures)");
	setrlimit(RLIMIT_CORE, &no_core);
	bert_model(model, sizeof(model), "tiny-bert-f32.gguf");
	snprintf(bad, sizeof(bad), "%s/bad-token-types.gguf", g_root);
	TQ_EQ_INT(copy_gguf(model, bad, 1, 0), 0);
	snprintf(badspec, sizeof(badspec), "bad=%s", bad);
	out_dir(out, sizeof(out), "abort");
	plan = plan_new(model, levels, 3, out);
	plan_pairs(plan, "zh", ZH);
	res = run_plan(plan, 0, &st);
	if (!res) {
		cJSON_Delete(plan);
		return;
	}
	TQ_EQ_INT(st.n_levels_failed, 1);
	le = level_entry(res, "bad");
	TQ_EQ_STR(qe_json_str(le, "status", ""), "failed");
	TQ_CHECK(!strncmp(qe_json_str(le, "error", ""), "engine aborted (signal 6", 24));
	/* why, also without --verbose: the engine's abort message and its last
	 * log lines (here ggml's assert on the F16 token_types) */
	TQ_CHECK(strstr(qe_json_str(le, "error", ""), "binary_op: unsupported types") != NULL);
	TQ_CHECK(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(le, "engine_log")));
	TQ_EQ_STR(qe_json_str(level_entry(res, "F32"), "status", ""), "ok");
	TQ_EQ_STR(qe_json_str(level_entry(res, "Q8_0"), "status", ""), "ok");
	/* the failed level has a block without figures */
	TQ_CHECK(isnan(tq_num(tq_block(res, "zh", "bad"), "sts.spearman")));
	TQ_CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(tq_block(res, "zh", "bad"), "drift")));
	/* the good levels are whole (Q8_0 is in the third level folder) */
	{
		static const int folders[2] = { 0, 2 };
		check_task(res, out, "zh", ZH, good, folders, 2);
	}

	/* lose the last level's work: records, embeddings, its status */
	snprintf(p, sizeof(p), "%s/levels/02-Q8_0/records-zh.jsonl", out);
	TQ_EQ_INT(unlink(p), 0);
	snprintf(p, sizeof(p), "%s/levels/02-Q8_0/embeddings-zh.f32", out);
	TQ_EQ_INT(unlink(p), 0);
	snprintf(p, sizeof(p), "%s/levels/02-Q8_0/embeddings-zh.json", out);
	TQ_EQ_INT(unlink(p), 0);
	snprintf(p, sizeof(p), "%s/levels/02-Q8_0/level.json", out);
	TQ_EQ_INT(qe_json_read_file(p, &lj, NULL), 0);
	cJSON_DeleteItemFromObjectCaseSensitive(lj, "status");
	TQ_EQ_INT(qe_json_write_file(p, lj, NULL), 0);
	cJSON_Delete(lj);
	res2 = run_plan(plan, 1, &st);
	if (res2) {
		static const char *const keys[] = { "drift.cos_mean", "drift.cos_min", "drift.pair_sim_drift_max",
						    "sts.spearman", "sts.pearson", "retrieval.recall@5", "retrieval.ndcg@5",
						    "retrieval.mrr@10", "topk_overlap.@5", "vs_ref.spearman_delta",
						    "pos_neg_gap", NULL };
		for (int k = 0; keys[k]; k++)
			TQ_NEAR(tq_num(tq_block(res2, "zh", "Q8_0"), keys[k]), tq_num(tq_block(res, "zh", "Q8_0"), keys[k]), 0);
		TQ_EQ_INT(tq_num(tq_block(res2, "zh", "Q8_0"), "n_records"), 40);
		TQ_EQ_STR(qe_json_str(level_entry(res2, "Q8_0"), "status", ""), "ok");
	}
	cJSON_Delete(res);
	cJSON_Delete(res2);
	cJSON_Delete(plan);
}

/* an embedding run cut after some rows continues from them */
static void test_resume_partial_embeddings(void)
{
	char out[512], model[512], p[800];
	const char *levels[2] = { "F32", "Q8_0" };
	struct qe_run_status st;
	cJSON *plan, *t, *res, *res2, *j = NULL;
	size_t n, dim, n2, dim2;
	float *before, *after;

	if (!have_fixtures())
		TQ_SKIP("no fixtures (make fixtures)");
	bert_model(model, sizeof(model), "tiny-bert-f32.gguf");
	out_dir(out, sizeof(out), "partial");
	plan = plan_new(model, levels, 2, out);
	t = plan_pairs(plan, "en", EN);
	cJSON_AddNumberToObject(t, "batch", 16); /* checkpoints of 16 rows */
	res = run_plan(plan, 0, &st);
	if (!res) {
		cJSON_Delete(plan);
		return;
	}
	before = load_emb(out, 1, "Q8_0", "en", &n, &dim);
	/* as if the process died after the first two checkpoints, with a torn
	 * third batch in the file */
	snprintf(p, sizeof(p), "%s/levels/01-Q8_0/embeddings-en.json", out);
	TQ_EQ_INT(qe_json_read_file(p, &j, NULL), 0);
	cJSON_ReplaceItemInObjectCaseSensitive(j, "n_done", cJSON_CreateNumber(32));
	cJSON_ReplaceItemInObjectCaseSensitive(j, "complete", cJSON_CreateFalse());
	TQ_EQ_INT(qe_json_write_file(p, j, NULL), 0);
	cJSON_Delete(j);
	snprintf(p, sizeof(p), "%s/levels/01-Q8_0/embeddings-en.f32", out);
	TQ_EQ_INT(truncate(p, (off_t)(40 * dim * sizeof(float))), 0);
	snprintf(p, sizeof(p), "%s/levels/01-Q8_0/records-en.jsonl", out);
	TQ_EQ_INT(unlink(p), 0);
	snprintf(p, sizeof(p), "%s/levels/01-Q8_0/level.json", out);
	TQ_EQ_INT(qe_json_read_file(p, &j, NULL), 0);
	cJSON_ReplaceItemInObjectCaseSensitive(j, "status", cJSON_CreateString("failed"));
	TQ_EQ_INT(qe_json_write_file(p, j, NULL), 0);
	cJSON_Delete(j);
	/* a summary now: the level's embeddings are incomplete, so no figures */
	{
		struct qe_err err = { 0 };
		cJSON *mid = NULL;
		TQ_EQ_INT(qe_run_summarize(out, &err), 0);
		snprintf(p, sizeof(p), "%s/results.json", out);
		TQ_EQ_INT(qe_json_read_file(p, &mid, NULL), 0);
		TQ_CHECK(isnan(tq_num(tq_block(mid, "en", "Q8_0"), "sts.spearman")));
		TQ_CHECK(strstr(qe_json_str(tq_block(mid, "en", "Q8_0"), "error", ""), "incomplete") != NULL);
		cJSON_Delete(mid);
	}
	res2 = run_plan(plan, 1, &st);
	after = load_emb(out, 1, "Q8_0", "en", &n2, &dim2);
	TQ_CHECK(before && after && n == n2 && dim == dim2);
	if (before && after && n == n2 && dim == dim2) {
		/* the kept rows are the same bytes; the rest the same embeddings */
		TQ_CHECK(!memcmp(before, after, 32 * dim * sizeof(float)));
		for (size_t i = 32; i < n; i++)
			TQ_NEAR(dcos(before + i * dim, after + i * dim, dim), 1.0, ENGINE_TOL);
	}
	if (res2) {
		const char *const names[2] = { "F32", "Q8_0" };
		check_task(res2, out, "en", EN, names, NULL, 2);
		TQ_NEAR(tq_num(tq_block(res2, "en", "Q8_0"), "sts.spearman"), tq_num(tq_block(res, "en", "Q8_0"), "sts.spearman"), ENGINE_TOL);
	}
	free(before);
	free(after);
	cJSON_Delete(res);
	cJSON_Delete(res2);
	cJSON_Delete(plan);
}

/* options: inline in the file name, a limit, errors that name the problem */
static void test_options_and_errors(void)
{
	char out[512], model[512], bad[600];
	const char *levels[1] = { "F32" };
	struct qe_run_status st;
	struct qe_err err = { 0 };
	cJSON *plan, *t, *res;
	FILE *f;

	if (!have_fixtures())
		TQ_SKIP("no fixtures (make fixtures)");
	bert_model(model, sizeof(model), "tiny-bert-f32.gguf");

	/* inline options: the first 12 pairs, cut-offs 1, 3 */
	out_dir(out, sizeof(out), "inline");
	plan = plan_new(model, levels, 1, out);
	plan_pairs(plan, "en", "datasets/samples/pairs_en.tsv?limit=12,ks=1/3,mrr_k=5");
	res = run_plan(plan, 0, &st);
	if (res) {
		const cJSON *b = tq_block(res, "en", "F32");
		struct tset ts;
		size_t n, dim;
		float *E = load_emb(out, 0, "F32", "en", &n, &dim);
		struct quality q;
		tset_read(EN, &ts, 12);
		TQ_EQ_INT(tq_num(b, "n_pairs"), 12);
		TQ_EQ_INT(n, ts.ns);
		TQ_CHECK(!isnan(tq_num(b, "retrieval.recall@3")) && !isnan(tq_num(b, "retrieval.mrr@5")));
		TQ_CHECK(isnan(tq_num(b, "retrieval.recall@5")));
		if (E) {
			quality(E, dim, &ts, &q);
			TQ_NEAR(tq_num(b, "sts.spearman"), q.sp, TOL);
			TQ_NEAR(tq_num(b, "retrieval.recall@1"), q.rec[0], TOL);
		}
		free(E);
		tset_free(&ts);
	}
	cJSON_Delete(res);
	cJSON_Delete(plan);

	/* a bad label: the run does not start, the message names file:line */
	snprintf(bad, sizeof(bad), "%s/bad.tsv", g_root);
	f = fopen(bad, "w");
	fputs("a\tb\t1\nc\td\t0\ne\tf\tmaybe\n", f);
	fclose(f);
	out_dir(out, sizeof(out), "badfile");
	plan = plan_new(model, levels, 1, out);
	plan_pairs(plan, "bad", bad);
	TQ_EQ_INT(qe_run_plan(plan, 0, &st, &err), QE_EINPUT);
	TQ_CHECK(strstr(err.msg, "bad.tsv:3") != NULL);
	cJSON_Delete(plan);

	/* an unknown option, a bad pooling, a missing file */
	plan = plan_new(model, levels, 1, out);
	t = plan_pairs(plan, "x", ZH);
	cJSON_AddStringToObject(t, "colum_s1", "0");
	TQ_EQ_INT(qe_run_plan(plan, 0, &st, &err), QE_EINVAL);
	TQ_CHECK(strstr(err.msg, "colum_s1") != NULL);
	cJSON_Delete(plan);
	plan = plan_new(model, levels, 1, out);
	t = plan_pairs(plan, "x", ZH);
	cJSON_AddStringToObject(t, "pooling", "max");
	TQ_EQ_INT(qe_run_plan(plan, 0, &st, &err), QE_EINVAL);
	TQ_CHECK(strstr(err.msg, "max") != NULL);
	cJSON_Delete(plan);
	plan = plan_new(model, levels, 1, out);
	plan_pairs(plan, "x", "no/such/file.tsv");
	TQ_EQ_INT(qe_run_plan(plan, 0, &st, &err), QE_ENOENT);
	TQ_CHECK(strstr(err.msg, "no/such/file.tsv") != NULL);
	cJSON_Delete(plan);
}

int main(void)
{
	/* the abort test: no gdb backtrace from ggml_abort */
	setenv("GGML_NO_BACKTRACE", "1", 1);
	snprintf(g_root, sizeof(g_root), "/tmp/qe-t-task-pairs-XXXXXX");
	if (!mkdtemp(g_root)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(g_cache, sizeof(g_cache), "%s/cache", g_root);
	if (have_fixtures() && wp_models() != 0) {
		fprintf(stderr, "t_task_pairs: cannot write the test models under %s\n", g_root);
		return 1;
	}
	TQ_RUN(test_bert_mean_levels);
	TQ_RUN(test_bert_cls_and_pooling_option);
	TQ_RUN(test_decoder_mean);
	TQ_RUN(test_abort_isolated_then_resume);
	TQ_RUN(test_resume_partial_embeddings);
	TQ_RUN(test_options_and_errors);
	if (!getenv("QE_KEEP_TMP"))
		rm_rf(g_root);
	return tq_done("t_task_pairs");
}
