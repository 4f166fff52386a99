/* qeval — importance matrices for the llamacpp runtime. See
 * runtimes/llamacpp_imatrix.h; the facts of llama-imatrix (v0.5.0) it
 * follows are in docs/recipes.md. */
#include "runtimes/llamacpp_imatrix.h"
#include "runtimes/llamacpp.h"
#include "harness/base/sys.h"
#include "harness/base/text.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ggml-backend.h>
#include <ggml.h>
#include <gguf.h>
#include <llama.h>

/* ======================================================================
 * Entries
 * ====================================================================== */

static void entry_release(struct qe_imatrix_entry *e)
{
	free(e->name);
	free(e->sums);
	free(e->counts);
}

void qe_imatrix_release(struct qe_imatrix *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++)
		entry_release(&m->e[i]);
	for (size_t i = 0; i < m->n_datasets; i++)
		free(m->datasets[i]);
	free(m->e);
	free(m->datasets);
	memset(m, 0, sizeof(*m));
}

/* the entry named name, made with n_sums / n_counts zeros when absent
 * (NULL when out of memory); the array is sorted later */
static struct qe_imatrix_entry *entry_get(struct qe_imatrix *m, const char *name, int64_t n_sums, int64_t n_counts)
{
	struct qe_imatrix_entry *e, *grown;

	for (size_t i = 0; i < m->n; i++)
		if (!strcmp(m->e[i].name, name))
			return &m->e[i];
	grown = realloc(m->e, (m->n + 1) * sizeof(*m->e));
	if (!grown)
		return NULL;
	m->e = grown;
	e = &m->e[m->n];
	memset(e, 0, sizeof(*e));
	e->name = strdup(name);
	e->sums = calloc((size_t)n_sums, sizeof(float));
	e->counts = calloc((size_t)n_counts, sizeof(int64_t));
	if (!e->name || !e->sums || !e->counts) {
		entry_release(e);
		return NULL;
	}
	e->n_sums = n_sums;
	e->n_counts = n_counts;
	m->n++;
	return e;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct qe_imatrix_entry *)a)->name, ((const struct qe_imatrix_entry *)b)->name);
}

static int add_dataset(struct qe_imatrix *m, const char *name)
{
	char **grown = realloc(m->datasets, (m->n_datasets + 1) * sizeof(char *));

	if (!grown)
		return -1;
	m->datasets = grown;
	if (!(m->datasets[m->n_datasets] = strdup(name)))
		return -1;
	m->n_datasets++;
	return 0;
}

void qe_imatrix_values(const struct qe_imatrix *m, const struct qe_imatrix_entry *e, float *out)
{
	int64_t n_col = e->n_counts ? e->n_sums / e->n_counts : e->n_sums;

	if (m->legacy) {
		int64_t ncall = e->n_counts ? e->counts[0] : 0;
		for (int64_t i = 0; i < e->n_sums; i++)
			out[i] = ncall > 0 ? e->sums[i] / (float)ncall : e->sums[i];
		return;
	}
	for (int64_t j = 0; j < e->n_counts; j++) {
		float count = (float)e->counts[j];
		for (int64_t i = 0; i < n_col; i++)
			out[j * n_col + i] = count > 0.0f ? e->sums[j * n_col + i] / count : 1.0f;
	}
}

/* ======================================================================
 * Files
 * ====================================================================== */

/* read n bytes or fail */
static int rd(FILE *f, void *p, size_t n)
{
	return fread(p, 1, n, f) == n ? 0 : -1;
}

/* long: one reader of llama-imatrix's legacy layout, field by field, each
 * with its check; splitting it would scatter one file format */
static int load_legacy(const char *path, struct qe_imatrix *m, struct qe_err *err)
{
	FILE *f = fopen(path, "rb");
	int32_t n_entries = 0, len, ncall, nval, n_calls;
	char name[1024];

	if (!f)
		return qe_fail(err, errno == ENOENT ? QE_ENOENT : QE_EIO, "cannot open '%s': %s", path, strerror(errno));
	if (rd(f, &n_entries, 4) || n_entries < 1)
		goto bad;
	for (int32_t i = 0; i < n_entries; i++) {
		struct qe_imatrix_entry *e;
		if (rd(f, &len, 4) || len < 1 || len >= (int32_t)sizeof(name) || rd(f, name, (size_t)len))
			goto bad;
		name[len] = '\0';
		if (rd(f, &ncall, 4) || rd(f, &nval, 4) || nval < 1)
			goto bad;
		if (!(e = entry_get(m, name, nval, 1))) {
			fclose(f);
			return qe_fail(err, QE_ENOMEM, "out of memory reading '%s'", path);
		}
		if (rd(f, e->sums, (size_t)nval * sizeof(float)))
			goto bad;
		e->counts[0] = ncall;
	}
	if (rd(f, &n_calls, 4) == 0) {
		m->chunk_count = n_calls;
		if (rd(f, &len, 4) == 0 && len > 0 && len < (int32_t)sizeof(name) && rd(f, name, (size_t)len) == 0) {
			name[len] = '\0';
			add_dataset(m, name);
		}
	}
	fclose(f);
	m->legacy = 1;
	qsort(m->e, m->n, sizeof(*m->e), by_name);
	return 0;
bad:
	fclose(f);
	qe_imatrix_release(m);
	return qe_fail(err, QE_EINPUT, "'%s' is neither a GGUF nor a legacy (.dat) importance matrix", path);
}

static int ends_with(const char *s, const char *suffix, char *stem, size_t cap)
{
	size_t n = strlen(s), k = strlen(suffix);

	if (n <= k || strcmp(s + n - k, suffix))
		return 0;
	snprintf(stem, cap, "%.*s", (int)(n - k), s);
	return 1;
}

static void gguf_meta(struct gguf_context *g, struct qe_imatrix *m)
{
	int64_t kd = gguf_find_key(g, "imatrix.datasets"), kc = gguf_find_key(g, "imatrix.chunk_count");
	int64_t ks = gguf_find_key(g, "imatrix.chunk_size");

	if (kd >= 0 && gguf_get_kv_type(g, kd) == GGUF_TYPE_ARRAY && gguf_get_arr_type(g, kd) == GGUF_TYPE_STRING)
		for (size_t i = 0; i < gguf_get_arr_n(g, kd); i++)
			add_dataset(m, gguf_get_arr_str(g, kd, i));
	m->has_metadata = kd >= 0 && kc >= 0 && ks >= 0;
	m->chunk_count = kc >= 0 ? (int32_t)gguf_get_val_u32(g, kc) : 0;
	m->chunk_size = ks >= 0 ? (int32_t)gguf_get_val_u32(g, ks) : 0;
}

/* the NAME.in_sum2 / NAME.counts pairs of a GGUF imatrix into m */
static int gguf_entries(struct ggml_context *ctx, const char *path, struct qe_imatrix *m, struct qe_err *err)
{
	char stem[1024], other[1100];

	for (struct ggml_tensor *t = ggml_get_first_tensor(ctx); t; t = ggml_get_next_tensor(ctx, t)) {
		struct ggml_tensor *c;
		struct qe_imatrix_entry *e;
		if (!ends_with(t->name, ".in_sum2", stem, sizeof(stem)))
			continue;
		snprintf(other, sizeof(other), "%s.counts", stem);
		c = ggml_get_tensor(ctx, other);
		if (!c || t->type != GGML_TYPE_F32 || c->type != GGML_TYPE_F32)
			return qe_fail(err, QE_EINPUT, "'%s': %s has no F32 sums and counts", path, stem);
		if (!(e = entry_get(m, stem, ggml_nelements(t), ggml_nelements(c))))
			return qe_fail(err, QE_ENOMEM, "out of memory reading '%s'", path);
		memcpy(e->sums, t->data, (size_t)e->n_sums * sizeof(float));
		for (int64_t j = 0; j < e->n_counts; j++)
			e->counts[j] = lroundf(((const float *)c->data)[j]);
	}
	if (m->n == 0)
		return qe_fail(err, QE_EINPUT, "'%s': no importance matrix entries", path);
	qsort(m->e, m->n, sizeof(*m->e), by_name);
	return 0;
}

int qe_imatrix_load(const char *path, struct qe_imatrix *m, struct qe_err *err)
{
	struct ggml_context *ctx = NULL;
	struct gguf_init_params gp = { .no_alloc = false, .ctx = &ctx };
	struct gguf_context *g;
	unsigned char magic[4] = { 0 };
	FILE *f = fopen(path, "rb");
	int rc;

	memset(m, 0, sizeof(*m));
	if (!f)
		return qe_fail(err, errno == ENOENT ? QE_ENOENT : QE_EIO, "cannot open '%s': %s", path, strerror(errno));
	rc = rd(f, magic, 4);
	fclose(f);
	if (rc || memcmp(magic, "GGUF", 4))
		return load_legacy(path, m, err);
	if (!(g = gguf_init_from_file(path, gp)))
		return qe_fail(err, QE_EINPUT, "'%s' is not a readable GGUF file", path);
	gguf_meta(g, m);
	rc = gguf_entries(ctx, path, m, err);
	gguf_free(g);
	ggml_free(ctx);
	if (rc)
		qe_imatrix_release(m);
	return rc;
}

int qe_imatrix_save(const struct qe_imatrix *m, const char *path, struct qe_err *err)
{
	size_t size = 0;
	struct ggml_context *ctx;
	struct gguf_context *g;
	int ok;

	for (size_t i = 0; i < m->n; i++)
		size += 2 * ggml_tensor_overhead() + sizeof(float) * (size_t)(m->e[i].n_sums + m->e[i].n_counts) + 64;
	ctx = ggml_init((struct ggml_init_params){ .mem_size = size + 1024, .mem_buffer = NULL, .no_alloc = false });
	if (!ctx || !(g = gguf_init_empty())) {
		ggml_free(ctx);
		return qe_fail(err, QE_ENOMEM, "out of memory writing '%s'", path);
	}
	gguf_set_val_str(g, "general.type", "imatrix");
	gguf_set_arr_str(g, "imatrix.datasets", (const char **)m->datasets, m->n_datasets);
	gguf_set_val_u32(g, "imatrix.chunk_count", (uint32_t)m->chunk_count);
	gguf_set_val_u32(g, "imatrix.chunk_size", (uint32_t)m->chunk_size);
	for (size_t i = 0; i < m->n; i++) {
		const struct qe_imatrix_entry *e = &m->e[i];
		struct ggml_tensor *s, *c;
		if (e->n_sums <= 0 || e->n_counts <= 0)
			continue;
		s = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, e->n_sums / e->n_counts, e->n_counts);
		c = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, 1, e->n_counts);
		ggml_format_name(s, "%s.in_sum2", e->name);
		ggml_format_name(c, "%s.counts", e->name);
		memcpy(s->data, e->sums, (size_t)e->n_sums * sizeof(float));
		for (int64_t j = 0; j < e->n_counts; j++)
			((float *)c->data)[j] = (float)e->counts[j];
		gguf_add_tensor(g, s);
		gguf_add_tensor(g, c);
	}
	ok = gguf_write_to_file(g, path, false);
	gguf_free(g);
	ggml_free(ctx);
	return ok ? 0 : qe_fail(err, QE_EIO, "cannot write '%s'", path);
}

/* ======================================================================
 * Computing through the engine
 * ====================================================================== */

struct collect {
	struct qe_imatrix *m;
	char *host;            /* copy of a non-host input */
	size_t host_cap;
	char *ids;             /* copy of a mul_mat_id's expert ids */
	size_t ids_cap;
	int failed;            /* 1 = out of memory or a non-finite sum: stop */
	char why[256];
};

/* "CUDA0#blk.0.attn_k.weight#0" -> "blk.0.attn_k.weight" */
static void weight_name(const char *name, char *out, size_t cap)
{
	const char *p = strchr(name, '#'), *q;

	if (!p) {
		snprintf(out, cap, "%s", name);
		return;
	}
	q = strchr(p + 1, '#');
	snprintf(out, cap, "%.*s", q ? (int)(q - p - 1) : (int)strlen(p + 1), p + 1);
}

/* bytes of t readable on the host: its own data or a copy */
static const char *host_data(const struct ggml_tensor *t, char **buf, size_t *cap)
{
	size_t n = ggml_nbytes(t);

	if (t->buffer && ggml_backend_buffer_is_host(t->buffer))
		return t->data;
	if (n > *cap) {
		char *b = realloc(*buf, n);
		if (!b)
			return NULL;
		*buf = b;
		*cap = n;
	}
	ggml_backend_tensor_get(t, *buf, 0, n);
	return *buf;
}

static int all_finite(const float *v, int64_t n)
{
	for (int64_t i = 0; i < n; i++)
		if (!isfinite(v[i]))
			return 0;
	return 1;
}

/* a mixture-of-experts multiplication: each routed (expert, token) row into
 * that expert's sums and count */
static void collect_id(struct collect *c, const struct ggml_tensor *t, const char *name, const char *data)
{
	const struct ggml_tensor *src0 = t->src[0], *src1 = t->src[1], *ids = t->src[2];
	int64_t n_as = src0->ne[2], ne0 = src1->ne[0];
	const char *idd = host_data(ids, &c->ids, &c->ids_cap);
	struct qe_imatrix_entry *e = entry_get(c->m, name, ne0 * n_as, n_as);

	if (!e || !idd || e->n_sums != ne0 * n_as || e->n_counts != n_as) {
		c->failed = 1;
		snprintf(c->why, sizeof(c->why), "%s: out of memory or inconsistent sizes", name);
		return;
	}
	for (int64_t k = 0; k < ids->ne[0]; k++) {
		for (int64_t row = 0; row < src1->ne[2]; row++) {
			int32_t ex = *(const int32_t *)(idd + row * ids->nb[1] + k * ids->nb[0]);
			const float *x = (const float *)(data + (k % src1->ne[1]) * src1->nb[1] + row * src1->nb[2]);
			float *acc;
			if (ex < 0 || ex >= n_as)
				continue;
			acc = e->sums + ex * ne0;
			e->counts[ex]++;
			for (int64_t j = 0; j < ne0; j++)
				acc[j] += x[j] * x[j];
		}
	}
	if (!all_finite(e->sums, e->n_sums)) {
		c->failed = 1;
		snprintf(c->why, sizeof(c->why), "non-finite activations into %s", name);
	}
}

/* a dense multiplication: every input row into the sums of the matrix it
 * meets (3-D weights: per matrix), one count per row */
static void collect_dense(struct collect *c, const struct ggml_tensor *t, const char *name, const char *data)
{
	const struct ggml_tensor *src0 = t->src[0], *src1 = t->src[1];
	int64_t n_mat = src0->ne[2] * src0->ne[3], ne0 = src1->ne[0];
	struct qe_imatrix_entry *e = entry_get(c->m, name, ne0 * n_mat, 1);

	if (!e || e->n_sums != ne0 * n_mat) {
		c->failed = 1;
		snprintf(c->why, sizeof(c->why), "%s: out of memory or inconsistent sizes", name);
		return;
	}
	for (int64_t i3 = 0; i3 < src1->ne[3]; i3++)
		for (int64_t i2 = 0; i2 < src1->ne[2]; i2++) {
			int64_t mat = (i3 % src0->ne[3]) * src0->ne[2] + (i2 % src0->ne[2]);
			float *acc = e->sums + mat * ne0;
			for (int64_t row = 0; row < src1->ne[1]; row++) {
				const float *x = (const float *)(data + row * src1->nb[1] + i2 * src1->nb[2] +
								 i3 * src1->nb[3]);
				for (int64_t j = 0; j < ne0; j++)
					acc[j] += x[j] * x[j];
			}
		}
	for (int64_t j = 0; j < e->n_counts; j++)
		e->counts[j] += ggml_nrows(src1) / n_mat;
	if (!all_finite(e->sums, e->n_sums)) {
		c->failed = 1;
		snprintf(c->why, sizeof(c->why), "non-finite activations into %s", name);
	}
}

/* the engine's eval callback: ask = does this node interest us */
static bool on_node(struct ggml_tensor *t, bool ask, void *ud)
{
	struct collect *c = ud;
	const struct ggml_tensor *src0 = t->src[0], *src1 = t->src[1];
	char name[256];
	const char *data;

	if (!src0 || !src1)
		return false;
	weight_name(src0->name, name, sizeof(name));
	if (ask) {
		if (t->op == GGML_OP_MUL_MAT_ID)
			return true;
		return t->op == GGML_OP_MUL_MAT && src1->ne[1] >= 16 && src1->type == GGML_TYPE_F32 &&
		       !strncmp(name, "blk.", 4);
	}
	if (c->failed)
		return true;
	if (!(data = host_data(src1, &c->host, &c->host_cap))) {
		c->failed = 1;
		snprintf(c->why, sizeof(c->why), "out of memory");
		return true;
	}
	if (t->op == GGML_OP_MUL_MAT_ID)
		collect_id(c, t, name, data);
	else
		collect_dense(c, t, name, data);
	return true;
}

struct qe_imatrix_params qe_imatrix_default_params(void)
{
	return (struct qe_imatrix_params){ .n_ctx = 512, .n_batch = 2048, .n_ubatch = 512 };
}

/* the text's tokens (model's special tokens added, trailing newline dropped) */
static int text_tokens(const struct llama_vocab *vocab, const char *path, int32_t **tok, int32_t *n,
		       struct qe_err *err)
{
	char *buf = NULL;
	size_t len = 0;
	int32_t k;
	int rc = qe_file_read(path, &buf, &len, err);

	if (rc)
		return rc;
	if (len && buf[len - 1] == '\n')
		len--;
	k = -llama_tokenize(vocab, buf, (int32_t)len, NULL, 0, true, false);
	*tok = malloc(((size_t)(k > 0 ? k : 0) + 1) * sizeof(int32_t));
	if (!*tok) {
		free(buf);
		return qe_fail(err, QE_ENOMEM, "out of memory tokenizing '%s'", path);
	}
	*n = k > 0 ? llama_tokenize(vocab, buf, (int32_t)len, *tok, k, true, false) : 0;
	free(buf);
	return *n < 0 ? qe_fail(err, QE_EINPUT, "'%s' does not tokenize", path) : 0;
}

/* decode the chunks n_seq at a time, each from an empty cache, first token
 * BOS when the model adds one, logits everywhere (llama-imatrix's loop) */
static int decode_chunks(struct llama_context *ctx, const int32_t *tok, int32_t n_chunk, int32_t n_ctx,
			 int32_t n_seq, const struct collect *c, struct qe_err *err)
{
	const struct llama_vocab *vocab = llama_model_get_vocab(llama_get_model(ctx));
	int add_bos = llama_vocab_get_add_bos(vocab);
	struct llama_batch b = llama_batch_init(n_ctx * n_seq, 0, 1);
	int rc = 0;

	for (int32_t i = 0; i < n_chunk && rc == 0; i += n_seq) {
		int32_t ns = n_chunk - i < n_seq ? n_chunk - i : n_seq;
		llama_memory_clear(llama_get_memory(ctx), true);
		b.n_tokens = 0;
		for (int32_t s = 0; s < ns; s++)
			for (int32_t k = 0; k < n_ctx; k++) {
				int32_t at = b.n_tokens++;
				b.token[at] = (add_bos && k == 0) ? llama_vocab_bos(vocab) : tok[(i + s) * n_ctx + k];
				b.pos[at] = k;
				b.n_seq_id[at] = 1;
				b.seq_id[at][0] = s;
				b.logits[at] = 1;
			}
		if (llama_decode(ctx, b) != 0)
			rc = qe_fail(err, QE_ERUNTIME, "the engine failed to decode chunk %d", (int)i);
		else if (c->failed)
			rc = qe_fail(err, QE_ENUMERIC, "importance matrix: %s", c->why);
	}
	llama_batch_free(b);
	return rc;
}

/* the finished matrix: names in order, chunk facts, the dataset */
static void finish(struct qe_imatrix *m, int32_t n_ctx, const char *dataset)
{
	int64_t max = 0;

	qsort(m->e, m->n, sizeof(*m->e), by_name);
	for (size_t i = 0; i < m->n; i++)
		for (int64_t j = 0; j < m->e[i].n_counts; j++)
			if (m->e[i].counts[j] > max)
				max = m->e[i].counts[j];
	m->chunk_size = n_ctx;
	m->chunk_count = (int32_t)(max / n_ctx);
	m->has_metadata = 1;
	add_dataset(m, dataset);
}

static struct llama_context_params imatrix_cparams(const struct qe_imatrix_params *p, int32_t n_seq,
						   struct collect *c)
{
	struct llama_context_params cp = llama_context_default_params();
	int th = p->n_threads > 0 ? p->n_threads : qe_cpus_allowed();

	cp.n_ctx = (uint32_t)(n_seq * p->n_ctx);
	cp.n_seq_max = (uint32_t)n_seq;
	cp.n_batch = (uint32_t)(p->n_batch < n_seq * p->n_ctx ? p->n_batch : n_seq * p->n_ctx);
	cp.n_ubatch = (uint32_t)p->n_ubatch;
	cp.n_threads = cp.n_threads_batch = th;
	cp.cb_eval = on_node;
	cp.cb_eval_user_data = c;
	return cp;
}

int qe_llamacpp_imatrix_compute(const char *model_path, const char *text_path, const struct qe_imatrix_params *pp,
				struct qe_imatrix *m, struct qe_err *err)
{
	struct qe_imatrix_params p = pp ? *pp : qe_imatrix_default_params();
	struct llama_model_params mp;
	struct llama_model *model;
	struct llama_context *ctx = NULL;
	struct collect c = { .m = m };
	int32_t *tok = NULL, n_tok = 0, n_seq, n_chunk;
	int rc;

	memset(m, 0, sizeof(*m));
	p.n_ctx = p.n_ctx > 0 ? p.n_ctx : 512;
	p.n_batch = p.n_batch > 0 ? p.n_batch : 2048;
	p.n_ubatch = p.n_ubatch > 0 ? p.n_ubatch : 512;
	n_seq = p.n_batch / p.n_ctx > 1 ? p.n_batch / p.n_ctx : 1;
	if (p.n_batch < p.n_ctx)
		return qe_fail(err, QE_EINVAL, "importance matrix: a batch (%d) smaller than a chunk (%d) is not supported",
			       (int)p.n_batch, (int)p.n_ctx);
	qe_llamacpp_engine_init();
	mp = llama_model_default_params();
	mp.n_gpu_layers = 0;
	if (!(model = llama_model_load_from_file(model_path, mp)))
		return qe_fail(err, QE_EINPUT, "cannot load '%s' for the importance matrix", model_path);
	rc = text_tokens(llama_model_get_vocab(model), text_path, &tok, &n_tok, err);
	n_chunk = n_tok / p.n_ctx;
	if (rc == 0 && n_chunk < 2)
		rc = qe_fail(err, QE_EINPUT, "'%s': %d tokens, an importance matrix needs at least 2 chunks of %d",
			     text_path, (int)n_tok, (int)p.n_ctx);
	if (rc == 0 && p.n_chunks > 0 && p.n_chunks < n_chunk)
		n_chunk = p.n_chunks;
	if (rc == 0 && !(ctx = llama_init_from_model(model, imatrix_cparams(&p, n_seq, &c))))
		rc = qe_fail(err, QE_ERUNTIME, "cannot make a context of %d tokens for '%s'", (int)(n_seq * p.n_ctx),
			     model_path);
	if (rc == 0)
		rc = decode_chunks(ctx, tok, n_chunk, p.n_ctx, n_seq, &c, err);
	if (rc == 0)
		finish(m, p.n_ctx, p.dataset ? p.dataset : text_path);
	else
		qe_imatrix_release(m);
	llama_free(ctx);
	llama_model_free(model);
	free(tok);
	free(c.host);
	free(c.ids);
	return rc;
}
