/* qeval — the `kld` task: whole-vocabulary drift of every level against the
 * reference over a text, llama-perplexity's --kl-divergence protocol
 * (docs/tasks.md "kld", docs/metrics.md "Whole-vocabulary drift").
 *
 * Options (docs/tasks.md): text (required), ctx 512, stride (0 = ctx),
 * chunks (0 = all; --limit N also caps), window 16 nats, max_gib 64.
 *
 * The text is read whole in prepare. At the reference level (the driver runs
 * it first) it is tokenized once, with the model's BOS; chunk c is tokens
 * [c stride, c stride + ctx) with its first token replaced by the BOS (when
 * the model adds one), and each chunk is evaluated from an empty cache. The
 * first half (first = ctx / 2 positions) is context only: positions
 * first .. ctx-2 are scored, each predicting the next token.
 *
 * Files, in the reference level's folder:
 *   kld-<task>.ref   the head (64 bytes, below), the chunks' tokens
 *                    [n_chunks][ctx] int32, then per chunk its rows
 *                    [ctx-1-first][QE_KLD_ROW_BYTES(n_vocab)] (metrics/kld.h),
 *                    little-endian. Size printed before the run:
 *                    64 + 4 n_chunks ctx + n_chunks (ctx-1-first) (24 + 2 n_vocab).
 * Records, one per chunk ("id": the chunk number as text), appended after the
 * chunk's rows are written and synced, so a resumed level goes on at the
 * first chunk without a record (chunk granularity):
 *   reference  {"id", "chunk", "n", "nll": [n], "status": "ok"}
 *   others     the same + "kld": [n], "bound": [n], "top": "0110..." (same
 *              top token per position), read against the reference's rows.
 * Summary, in the parent: each level's chunks paired with the reference's by
 * chunk, the statistics of metrics/kld.h over all positions.
 */
#include "harness/journal.h"
#include "harness/progress.h"
#include "harness/base/hash.h"
#include "harness/base/json.h"
#include "harness/base/text.h"
#include "harness/tasks/kld_keys.h"
#include "harness/tasks/task.h"
#include "metrics/kld.h"
#include "metrics/stats.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "kld-<task>.ref is written in the host's byte order, documented as little-endian"
#endif

#define KLD_MAGIC "QEKLDv1"
#define KLD_MAX_CTX (1 << 20)

struct kld_opts {
	const char *text;
	long ctx, stride, chunks, topk;
	double window, max_gib;
};

struct kld_state {
	const struct kld_opts *o;
	const char *name;            /* task instance: file names */
	char *text;                  /* the file's bytes, NUL-terminated; owned */
	size_t len;
	uint64_t fnv;                /* FNV-1a 64 of the text */
	size_t ctx, first, stride, rows; /* rows = ctx - 1 - first scored per chunk */
	size_t max_chunks;           /* 0 = all */
	size_t n_est;                /* prepare's estimate of the chunks (kld_recount) */
};

/* The reference file's head: 64 bytes. */
struct ref_head {
	char magic[8];
	uint32_t n_vocab, ctx, first, stride, n_chunks, reserved;
	double window;
	uint64_t text_fnv;
	uint64_t reserved2[2];
};
_Static_assert(sizeof(struct ref_head) == 64, "the reference file's head is 64 bytes");

/* ======================================================================
 * Options, prepare
 * ====================================================================== */

static const struct qe_optab kld_options[] = {
	{ "text", QE_OT_STR, offsetof(struct kld_opts, text), NULL, 0, 0, "the text file (UTF-8), read whole", "FILE",
	  QE_OF_MAIN | QE_OF_SHARED | QE_OF_PATH | QE_OF_REQUIRED, NULL, NULL },
	{ "ctx", QE_OT_INT, offsetof(struct kld_opts, ctx), "512", 4, KLD_MAX_CTX,
	  "tokens per chunk; its first half is context only (default 512)", "N", 0, NULL, NULL },
	{ "stride", QE_OT_INT, offsetof(struct kld_opts, stride), "0", 0, KLD_MAX_CTX,
	  "tokens between chunk starts, 0 = ctx (chunks side by side)", "N", 0, NULL, NULL },
	{ "chunks", QE_OT_INT, offsetof(struct kld_opts, chunks), "0", 0, 1e9, "chunks to score at most, 0 = all",
	  "N", 0, NULL, NULL },
	{ "window", QE_OT_NUM, offsetof(struct kld_opts, window), "24", 1, 64,
	  "nats below the reference's most probable token stored token by token (default 24)", "NATS", 0, NULL, NULL },
	{ "topk", QE_OT_INT, offsetof(struct kld_opts, topk), "100", 1, 1e7,
	  "top entries per position asked of a level without full logits (a server): KL is then a lower bound "
	  "(default 100)", "K", 0, NULL, NULL },
	{ "max_gib", QE_OT_NUM, offsetof(struct kld_opts, max_gib), "64", 0.0001, 1e6,
	  "the largest reference file allowed, GiB (default 64)", "GIB", 0, NULL, NULL },
	{ NULL, 0, 0, NULL, 0, 0, NULL, NULL, 0, NULL, NULL },
};

static void kld_release(void *state)
{
	struct kld_state *s = state;

	if (!s)
		return;
	free(s->text);
	free(s);
}

static int kld_prepare(const struct qe_task_spec *ts, void **state, size_t *n_items, struct qe_err *err)
{
	const struct kld_opts *o = ts->opts;
	struct kld_state *s = calloc(1, sizeof(*s));
	int rc;

	*state = s;
	if (!s)
		return qe_fail(err, QE_ENOMEM, "out of memory");
	s->o = o;
	s->name = ts->name;
	if (!o->text || !*o->text)
		return qe_fail(err, QE_EINVAL, "the kld task needs a text file (--text FILE)");
	if ((rc = qe_file_read(o->text, &s->text, &s->len, err)) != 0)
		return rc;
	if (s->len == 0)
		return qe_fail(err, QE_EINPUT, "'%s': the text is empty", o->text);
	if (strlen(s->text) != s->len)
		return qe_fail(err, QE_EINPUT, "'%s': byte %zu is NUL: not a text file", o->text, strlen(s->text));
	s->fnv = qe_fnv1a(QE_FNV1A_INIT, s->text, s->len);
	s->ctx = (size_t)o->ctx;
	s->first = s->ctx / 2;
	s->rows = s->ctx - 1 - s->first;
	s->stride = o->stride ? (size_t)o->stride : s->ctx;
	s->max_chunks = (size_t)o->chunks;
	if (ts->limit > 0 && (!s->max_chunks || (size_t)ts->limit < s->max_chunks))
		s->max_chunks = (size_t)ts->limit;
	/* the count is known once the reference level has tokenized the text:
	 * here an estimate for the progress display (4 bytes a token) */
	*n_items = s->len / 4 / s->stride + 1;
	if (s->max_chunks && *n_items > s->max_chunks)
		*n_items = s->max_chunks;
	s->n_est = *n_items;
	return 0;
}

static void kld_describe(void *state, cJSON *out)
{
	const struct kld_state *s = state;

	cJSON_AddStringToObject(out, "text", s->o->text);
	cJSON_AddNumberToObject(out, "text_bytes", (double)s->len);
	{
		char h[17];
		snprintf(h, sizeof(h), "%016llx", (unsigned long long)s->fnv);
		cJSON_AddStringToObject(out, "text_fnv1a64", h);
	}
	cJSON_AddNumberToObject(out, "ctx", (double)s->ctx);
	cJSON_AddNumberToObject(out, "stride", (double)s->stride);
	cJSON_AddNumberToObject(out, "first", (double)s->first);
	cJSON_AddNumberToObject(out, "chunks", (double)s->max_chunks);
	cJSON_AddNumberToObject(out, "window", s->o->window);
	cJSON_AddNumberToObject(out, "topk", (double)s->o->topk);
	cJSON_AddStringToObject(out, "ref_bytes", "64 + 4 n_chunks ctx + n_chunks (ctx - 1 - first) (24 + 2 n_vocab)");
}

/* ======================================================================
 * Tokens and the reference file
 * ====================================================================== */

/* The chunks' tokens, [*n_chunks][ctx], BOS first; caller frees. */
static int chunk_tokens(const struct kld_state *s, struct qe_runtime *rt, int32_t **out, size_t *n_chunks,
			struct qe_err *err)
{
	int32_t bos = -1, *tok, *ch;
	int n = qe_runtime_tokenize(rt, s->text, 1, NULL, 0, err), nb;
	size_t nc;

	*out = NULL;
	if (n < 0)
		return n;
	if ((size_t)n < s->ctx)
		return qe_fail(err, QE_EINPUT, "'%s' is %d tokens: fewer than one chunk of %zu (ctx)", s->o->text, n, s->ctx);
	if (!(tok = malloc((size_t)n * sizeof(*tok))))
		return qe_fail(err, QE_ENOMEM, "out of memory");
	if ((n = qe_runtime_tokenize(rt, s->text, 1, tok, (size_t)n, err)) < 0 ||
	    (nb = qe_runtime_tokenize(rt, "", 1, &bos, 1, err)) < 0) {
		free(tok);
		return n < 0 ? n : QE_ERUNTIME;
	}
	nc = ((size_t)n - s->ctx) / s->stride + 1;
	if (s->max_chunks && nc > s->max_chunks)
		nc = s->max_chunks;
	if (!(ch = malloc(nc * s->ctx * sizeof(*ch)))) {
		free(tok);
		return qe_fail(err, QE_ENOMEM, "out of memory");
	}
	for (size_t c = 0; c < nc; c++) {
		memcpy(ch + c * s->ctx, tok + c * s->stride, s->ctx * sizeof(*ch));
		if (nb == 1) /* the model adds a BOS: each chunk starts with it (llama-perplexity) */
			ch[c * s->ctx] = bos;
	}
	free(tok);
	*out = ch;
	*n_chunks = nc;
	return 0;
}

static void ref_path(const struct kld_state *s, const char *dir, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s/kld-%s.ref", dir, s->name);
}

static off_t rows_offset(const struct ref_head *h, size_t chunk)
{
	return (off_t)(sizeof(*h) + 4ull * h->n_chunks * h->ctx +
		       (uint64_t)chunk * (h->ctx - 1 - h->first) * QE_KLD_ROW_BYTES(h->n_vocab));
}

static int read_full(int fd, void *buf, size_t n, off_t off, const char *path, struct qe_err *err)
{
	for (size_t done = 0; done < n;) {
		ssize_t r = pread(fd, (char *)buf + done, n - done, off + (off_t)done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return qe_fail(err, QE_EIO, "'%s': cannot read %zu bytes at %lld: %s", path, n, (long long)off,
				       r < 0 ? strerror(errno) : "the file is short");
		done += (size_t)r;
	}
	return 0;
}

static int write_full(int fd, const void *buf, size_t n, off_t off, const char *path, struct qe_err *err)
{
	for (size_t done = 0; done < n;) {
		ssize_t r = pwrite(fd, (const char *)buf + done, n - done, off + (off_t)done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return qe_fail(err, QE_EIO, "'%s': cannot write: %s", path, strerror(errno));
		done += (size_t)r;
	}
	return 0;
}

/* what the reference file must say for this run (n_vocab, n_chunks: of the level) */
static void head_expect(const struct kld_state *s, uint32_t n_vocab, uint32_t n_chunks, struct ref_head *h)
{
	memset(h, 0, sizeof(*h));
	memcpy(h->magic, KLD_MAGIC, sizeof(KLD_MAGIC));
	h->n_vocab = n_vocab;
	h->ctx = (uint32_t)s->ctx;
	h->first = (uint32_t)s->first;
	h->stride = (uint32_t)s->stride;
	h->n_chunks = n_chunks;
	h->window = s->o->window;
	h->text_fnv = s->fnv;
}

/* the head of an existing reference file, checked against this run */
static int head_check(const struct kld_state *s, int fd, const char *path, struct ref_head *h, struct qe_err *err)
{
	struct ref_head want;
	int rc = read_full(fd, h, sizeof(*h), 0, path, err);

	if (rc)
		return rc;
	head_expect(s, h->n_vocab, h->n_chunks, &want);
	if (memcmp(h, &want, sizeof(want)) != 0)
		return qe_fail(err, QE_EINPUT, "'%s' was made for another text, ctx, stride or window: remove it (and the "
			       "reference's records-%s.jsonl) to start over", path, s->name);
	return 0;
}

/* ======================================================================
 * A level's chunks
 * ====================================================================== */

struct job {
	const struct kld_state *s;
	struct qe_task_level *tl;
	struct qe_err *err;
	const char *path;            /* the reference file */
	int fd;
	struct ref_head h;
	const int32_t *tokens;       /* [n_chunks][ctx] */
	size_t from;                 /* the first chunk of this call */
	size_t row_bytes;
	int threads;                 /* for the rows of a chunk: the runtime's */
	float *logits;               /* [rows][n_vocab]: the chunk being received */
	unsigned char *ref;          /* [rows][row_bytes] */
	double *nll, *kld, *bound;   /* [rows] */
	char *top;                   /* [rows + 1] '0' / '1' */
	/* a level of top-K entries (qe_runtime_chunk_topk) instead of logits */
	size_t k1;                   /* entries kept per position: topk + 1 */
	int32_t *tk_id;              /* [rows][k1] */
	double *tk_lp;               /* [rows][k1] */
	size_t *tk_n;                /* [rows] */
	double *tk_next;             /* [rows]: log p(true token), NaN = unknown */
};

static void job_release(struct job *j)
{
	free(j->logits);
	free(j->ref);
	free(j->nll);
	free(j->kld);
	free(j->bound);
	free(j->top);
	free(j->tk_id);
	free(j->tk_lp);
	free(j->tk_n);
	free(j->tk_next);
	if (j->fd >= 0)
		close(j->fd);
}

static int job_alloc(struct job *j)
{
	size_t r = j->s->rows;

	j->row_bytes = QE_KLD_ROW_BYTES(j->h.n_vocab);
	if (j->k1) {
		j->tk_id = malloc(r * j->k1 * sizeof(*j->tk_id));
		j->tk_lp = malloc(r * j->k1 * sizeof(*j->tk_lp));
		j->tk_n = calloc(r, sizeof(*j->tk_n));
		j->tk_next = malloc(r * sizeof(*j->tk_next));
		if (!j->tk_id || !j->tk_lp || !j->tk_n || !j->tk_next)
			return QE_ENOMEM;
	}
	j->logits = malloc((j->k1 ? 1 : r * j->h.n_vocab) * sizeof(float));
	j->ref = malloc(r * j->row_bytes);
	j->nll = malloc(r * sizeof(double));
	j->kld = malloc(r * sizeof(double));
	j->bound = malloc(r * sizeof(double));
	j->top = calloc(r + 1, 1);
	return j->logits && j->ref && j->nll && j->kld && j->bound && j->top ? 0 : QE_ENOMEM;
}

/* "[v,v,...]" with %.*g; NaN as null (an unknown log-likelihood of a top-K
 * level), other non-finite values as 0 */
static cJSON *num_array(const double *v, size_t n, int digits)
{
	struct qe_text t = { 0 };
	cJSON *a;

	qe_text_putc(&t, '[');
	for (size_t i = 0; i < n; i++)
		if (isnan(v[i]))
			qe_text_printf(&t, "%snull", i ? "," : "");
		else
			qe_text_printf(&t, "%s%.*g", i ? "," : "", digits, isfinite(v[i]) ? v[i] : 0.0);
	qe_text_putc(&t, ']');
	a = t.oom ? NULL : cJSON_CreateRaw(qe_text_str(&t));
	qe_text_release(&t);
	return a;
}

static int append_record(struct job *j, size_t chunk, struct qe_err *err)
{
	cJSON *rec = cJSON_CreateObject();
	char id[32];
	int rc;

	snprintf(id, sizeof(id), "%zu", chunk);
	cJSON_AddStringToObject(rec, "id", id);
	cJSON_AddNumberToObject(rec, "chunk", (double)chunk);
	cJSON_AddNumberToObject(rec, "n", (double)j->s->rows);
	cJSON_AddItemToObject(rec, "nll", num_array(j->nll, j->s->rows, 9));
	if (!j->tl->is_reference) {
		cJSON_AddItemToObject(rec, "kld", num_array(j->kld, j->s->rows, 7));
		cJSON_AddItemToObject(rec, "bound", num_array(j->bound, j->s->rows, 3));
		cJSON_AddStringToObject(rec, "top", j->top);
	}
	if (j->k1) { /* a top-K level: the fewest top entries a position had (a
		      * vLLM-style reply adds the true token beyond the top K) */
		size_t k = (size_t)j->s->o->topk;
		for (size_t r = 0; r < j->s->rows; r++)
			k = j->tk_n[r] < k ? j->tk_n[r] : k;
		cJSON_AddNumberToObject(rec, "k", (double)k);
	}
	cJSON_AddStringToObject(rec, "status", "ok");
	rc = qe_journal_append(j->tl->journal, rec, err);
	cJSON_Delete(rec);
	return rc;
}

/* the reference's chunk: encode, write, sync */
static int finish_reference(struct job *j, size_t chunk, struct qe_err *err)
{
	const struct kld_state *s = j->s;
	const int32_t *tk = j->tokens + chunk * s->ctx;
	int rc;

#pragma omp parallel for schedule(static) num_threads(j->threads)
	for (size_t r = 0; r < s->rows; r++)
		j->nll[r] = qe_kld_encode(j->logits + r * j->h.n_vocab, j->h.n_vocab, tk[s->first + r + 1], s->o->window,
					  j->ref + r * j->row_bytes);
	rc = write_full(j->fd, j->ref, s->rows * j->row_bytes, rows_offset(&j->h, chunk), j->path, err);
	if (rc == 0 && fdatasync(j->fd) != 0)
		rc = qe_fail(err, QE_EIO, "'%s': cannot sync: %s", j->path, strerror(errno));
	return rc ? rc : append_record(j, chunk, err);
}

/* the reference's rows of chunk into j->ref */
static int read_ref_rows(struct job *j, size_t chunk, struct qe_err *err)
{
	return read_full(j->fd, j->ref, j->s->rows * j->row_bytes, rows_offset(&j->h, chunk), j->path, err);
}

/* position r's comparison into the record's arrays */
static void keep_pos(struct job *j, size_t r, const struct qe_kld_pos *p)
{
	j->nll[r] = p->nll;
	j->kld[r] = p->kld;
	j->bound[r] = p->bound;
	j->top[r] = p->same_top ? '1' : '0';
}

/* another level's chunk against the reference's rows */
static int finish_level(struct job *j, size_t chunk, struct qe_err *err)
{
	const struct kld_state *s = j->s;
	const int32_t *tk = j->tokens + chunk * s->ctx;
	int rc = read_ref_rows(j, chunk, err);

	if (rc)
		return rc;
#pragma omp parallel for schedule(static) num_threads(j->threads)
	for (size_t r = 0; r < s->rows; r++) {
		struct qe_kld_pos p;
		qe_kld_compare(j->logits + r * j->h.n_vocab, j->h.n_vocab, tk[s->first + r + 1], j->ref + r * j->row_bytes, &p);
		keep_pos(j, r, &p);
	}
	return append_record(j, chunk, err);
}

/* qe_chunk_req's row: keep the chunk's logits; at its last row, finish it */
static int on_row(void *arg, size_t chunk, size_t pos, const float *logits, size_t n_vocab)
{
	struct job *j = arg;
	size_t c = j->from + chunk;
	int rc;

	if (n_vocab != j->h.n_vocab)
		return qe_fail(j->err, QE_EINPUT, "level %s has %zu tokens in its vocabulary, the reference %u",
			       j->tl->level->name, n_vocab, j->h.n_vocab);
	memcpy(j->logits + (pos - j->s->first) * n_vocab, logits, n_vocab * sizeof(float));
	if (pos + 2 < j->s->ctx)
		return 0;
	rc = j->tl->is_reference ? finish_reference(j, c, j->err) : finish_level(j, c, j->err);
	if (rc == 0)
		qe_progress_add(j->tl->progress, 1);
	return rc;
}

/* the first of chunks [0, n) without a record (those before it counted done) */
static size_t first_missing(struct job *j, size_t n)
{
	char id[32];
	size_t from = 0;

	for (; from < n; from++) {
		snprintf(id, sizeof(id), "%zu", from);
		if (!qe_journal_has(j->tl->journal, id))
			break;
	}
	qe_progress_add(j->tl->progress, from);
	return from;
}

/* chunks [from, n) of the job's tokens, those without a record */
static int run_chunks(struct job *j, size_t n, struct qe_err *err)
{
	struct qe_chunk_req rq;
	struct qe_rt_info info;
	size_t from;

	qe_runtime_describe(j->tl->rt, &info);
	j->threads = info.n_threads_batch > 0 ? info.n_threads_batch : info.n_threads > 0 ? info.n_threads : 1;

	from = first_missing(j, n);
	if (from == n)
		return 0;
	if (job_alloc(j) != 0)
		return qe_fail(err, QE_ENOMEM, "out of memory for chunks of %zu x %u logits", j->s->rows, j->h.n_vocab);
	j->from = from;
	j->err = err;
	memset(&rq, 0, sizeof(rq));
	rq.tokens = j->tokens + from * j->s->ctx;
	rq.n_chunks = n - from;
	rq.n_tok = j->s->ctx;
	rq.first = j->s->first;
	rq.row = on_row;
	rq.arg = j;
	return qe_runtime_chunk_logits(j->tl->rt, &rq, err);
}

/* ---- a level of top-K entries (a server without full logits) ---- */

/* another level's chunk of top-K rows against the reference's rows: the KL
 * lower bound (docs/metrics.md, "Top-K levels") */
static int finish_topk(struct job *j, size_t chunk, struct qe_err *err)
{
	const struct kld_state *s = j->s;
	int rc = read_ref_rows(j, chunk, err);

	if (rc)
		return rc;
#pragma omp parallel for schedule(static) num_threads(j->threads)
	for (size_t r = 0; r < s->rows; r++) {
		struct qe_kld_pos p;
		qe_kld_compare_topk(j->tk_id + r * j->k1, j->tk_lp + r * j->k1, j->tk_n[r], j->h.n_vocab, j->tk_next[r],
				    j->ref + r * j->row_bytes, &p);
		keep_pos(j, r, &p);
	}
	return append_record(j, chunk, err);
}

/* qe_topk_req's row: keep the position's entries; at the chunk's last, finish it */
static int on_topk_row(void *arg, size_t chunk, size_t pos, const struct qe_topk_row *tr)
{
	struct job *j = arg;
	size_t r = pos - j->s->first, n = tr->n < j->k1 ? tr->n : j->k1;
	int rc;

	if (tr->n_vocab && tr->n_vocab != j->h.n_vocab)
		return qe_fail(j->err, QE_EINPUT, "level %s has %zu tokens in its vocabulary, the reference %u: the kld task "
			       "compares only the same vocabulary", j->tl->level->name, tr->n_vocab, j->h.n_vocab);
	for (size_t i = 0; i < n; i++)
		if (tr->id[i] < 0 || (uint32_t)tr->id[i] >= j->h.n_vocab)
			return qe_fail(j->err, QE_EINPUT, "level %s answered token id %d, outside the reference's vocabulary "
				       "of %u: the kld task compares only the same vocabulary", j->tl->level->name,
				       (int)tr->id[i], j->h.n_vocab);
	memcpy(j->tk_id + r * j->k1, tr->id, n * sizeof(*tr->id));
	memcpy(j->tk_lp + r * j->k1, tr->lp, n * sizeof(*tr->lp));
	j->tk_n[r] = n;
	j->tk_next[r] = tr->lp_next;
	if (pos + 2 < j->s->ctx)
		return 0;
	if ((rc = finish_topk(j, j->from + chunk, j->err)) == 0)
		qe_progress_add(j->tl->progress, 1);
	return rc;
}

/* chunks [from, n) of the job's tokens without a record, by top-K entries */
static int run_chunks_topk(struct job *j, size_t n, struct qe_err *err)
{
	struct qe_topk_req rq;
	size_t from;

	j->threads = 1;
	from = first_missing(j, n);
	if (from == n)
		return 0;
	j->k1 = (size_t)j->s->o->topk + 1;
	if (job_alloc(j) != 0)
		return qe_fail(err, QE_ENOMEM, "out of memory for chunks of %zu x %zu top entries", j->s->rows, j->k1);
	j->from = from;
	j->err = err;
	memset(&rq, 0, sizeof(rq));
	rq.tokens = j->tokens + from * j->s->ctx;
	rq.n_chunks = n - from;
	rq.n_tok = j->s->ctx;
	rq.first = j->s->first;
	rq.k = (size_t)j->s->o->topk;
	rq.row = on_topk_row;
	rq.arg = j;
	return qe_runtime_chunk_topk(j->tl->rt, &rq, err);
}

/* the file's tokens, created or checked */
static int reference_file(struct job *j, const int32_t *tok, size_t nc, uint32_t n_vocab, struct qe_err *err)
{
	size_t tb = nc * j->s->ctx * sizeof(int32_t);
	int32_t *old;
	int rc;

	head_expect(j->s, n_vocab, (uint32_t)nc, &j->h);
	if (qe_journal_count(j->tl->journal) == 0) {
		if (ftruncate(j->fd, 0) != 0)
			return qe_fail(err, QE_EIO, "'%s': cannot truncate: %s", j->path, strerror(errno));
		rc = write_full(j->fd, &j->h, sizeof(j->h), 0, j->path, err);
		return rc ? rc : write_full(j->fd, tok, tb, sizeof(j->h), j->path, err);
	}
	if ((rc = head_check(j->s, j->fd, j->path, &j->h, err)) != 0)
		return rc;
	if (j->h.n_chunks != nc || j->h.n_vocab != n_vocab)
		return qe_fail(err, QE_EINPUT, "'%s' holds %u chunks of a %u-token vocabulary, this run %zu of %u: remove it",
			       j->path, j->h.n_chunks, j->h.n_vocab, nc, n_vocab);
	if (!(old = malloc(tb)))
		return qe_fail(err, QE_ENOMEM, "out of memory");
	rc = read_full(j->fd, old, tb, sizeof(j->h), j->path, err);
	if (rc == 0 && memcmp(old, tok, tb) != 0)
		rc = qe_fail(err, QE_EINPUT, "'%s': the text tokenizes differently now: remove it", j->path);
	free(old);
	return rc;
}

static int run_reference(const struct kld_state *s, struct qe_task_level *tl, struct qe_err *err)
{
	struct job j = { .s = s, .tl = tl, .fd = -1 };
	struct qe_rt_info info;
	char path[4400];
	int32_t *tok = NULL;
	size_t nc = 0;
	double bytes;
	int rc;

	if (!(qe_runtime_caps(tl->rt) & QE_RT_LOGITS))
		return qe_fail(err, QE_EINVAL, "the kld task's reference level %s gives no full logits (runtime '%s'): make "
			       "the reference a GGUF level", tl->level->name, qe_runtime_name(tl->rt));
	qe_runtime_describe(tl->rt, &info);
	if ((rc = chunk_tokens(s, tl->rt, &tok, &nc, err)) != 0)
		return rc;
	bytes = 64.0 + 4.0 * (double)nc * (double)s->ctx + (double)nc * (double)s->rows * (double)QE_KLD_ROW_BYTES(info.n_vocab);
	fprintf(stderr, "qeval run: %s: the reference's distributions: 64 + 4 x %zu chunks x %zu + %zu chunks x %zu positions x "
		"(24 + 2 x %d vocabulary) bytes = %.1f MiB\n", s->name, nc, s->ctx, nc, s->rows, info.n_vocab, bytes / 1048576.0);
	if (bytes > s->o->max_gib * 1073741824.0) {
		free(tok);
		return qe_fail(err, QE_EINVAL, "the reference's distributions would take %.2f GiB, over max_gib %.2f: "
			       "fewer chunks (--limit N) or a larger --kld-max-gib", bytes / 1073741824.0, s->o->max_gib);
	}
	ref_path(s, tl->dir, path, sizeof(path));
	j.path = path;
	j.tokens = tok;
	if ((j.fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0)
		rc = qe_fail(err, QE_EIO, "cannot open '%s': %s", path, strerror(errno));
	qe_progress_recount(tl->progress, s->n_est, nc); /* the estimate was prepare's */
	if (rc == 0)
		rc = reference_file(&j, tok, nc, (uint32_t)info.n_vocab, err);
	if (rc == 0)
		rc = run_chunks(&j, nc, err);
	job_release(&j);
	free(tok);
	return rc;
}

/* chunks the reference has records of (0 .. n-1 without a gap) */
static int reference_done(const struct kld_state *s, const char *ref_dir, size_t *n, struct qe_err *err)
{
	char path[4400];
	cJSON *recs;
	size_t k = 0;
	int rc;

	snprintf(path, sizeof(path), "%s/records-%s.jsonl", ref_dir, s->name);
	if ((rc = qe_journal_load(path, &recs, err)) != 0)
		return rc;
	for (;; k++) {
		const cJSON *r;
		int found = 0;
		cJSON_ArrayForEach(r, recs)
			found |= qe_json_num(r, "chunk", -1) == (double)k;
		if (!found)
			break;
	}
	cJSON_Delete(recs);
	*n = k;
	return 0;
}

/* The chunks the reference file says this run has (qe_task.recount). */
static int kld_recount(void *state, const char *ref_dir, size_t *n_items)
{
	const struct kld_state *s = state;
	struct ref_head h;
	char path[4400];
	int fd, rc;

	ref_path(s, ref_dir, path, sizeof(path));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	rc = head_check(s, fd, path, &h, NULL);
	close(fd);
	if (rc)
		return rc;
	*n_items = h.n_chunks;
	return 0;
}

static int run_other(const struct kld_state *s, struct qe_task_level *tl, struct qe_err *err)
{
	struct job j = { .s = s, .tl = tl, .fd = -1 };
	char path[4400];
	int32_t *tok = NULL;
	size_t done = 0, tb;
	int rc;

	if (!tl->ref_dir)
		return qe_fail(err, QE_EINVAL, "no reference level to compare with");
	ref_path(s, tl->ref_dir, path, sizeof(path));
	j.path = path;
	if ((j.fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return qe_fail(err, QE_ENOENT, "cannot open the reference's distributions '%s' (did the reference level fail?): %s",
			       path, strerror(errno));
	rc = head_check(s, j.fd, path, &j.h, err);
	if (rc == 0)
		rc = reference_done(s, tl->ref_dir, &done, err);
	if (rc == 0 && done < j.h.n_chunks)
		rc = qe_fail(err, QE_EINPUT, "the reference level finished %zu of %u chunks: resume the run to complete it",
			     done, j.h.n_chunks);
	tb = (size_t)j.h.n_chunks * s->ctx * sizeof(int32_t);
	if (rc == 0 && !(tok = malloc(tb ? tb : 1)))
		rc = qe_fail(err, QE_ENOMEM, "out of memory");
	if (rc == 0)
		rc = read_full(j.fd, tok, tb, sizeof(j.h), path, err);
	j.tokens = tok;
	if (rc == 0 && (qe_runtime_caps(tl->rt) & QE_RT_LOGITS))
		rc = run_chunks(&j, j.h.n_chunks, err);
	else if (rc == 0)
		rc = run_chunks_topk(&j, j.h.n_chunks, err);
	job_release(&j);
	free(tok);
	return rc;
}

static int kld_run_level(void *state, struct qe_task_level *tl, struct qe_err *err)
{
	const struct kld_state *s = state;

	return tl->is_reference ? run_reference(s, tl, err) : run_other(s, tl, err);
}

/* ======================================================================
 * Summary
 * ====================================================================== */

/* a record's array `key` of n numbers into out; 0 or -1 */
static int rec_nums(const cJSON *rec, const char *key, size_t n, double *out)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(rec, key), *v;
	size_t i = 0;

	if (!cJSON_IsArray(a) || (size_t)cJSON_GetArraySize(a) != n)
		return -1;
	cJSON_ArrayForEach(v, a) {
		if (!cJSON_IsNumber(v) && !cJSON_IsNull(v))
			return -1;
		out[i++] = cJSON_IsNumber(v) ? v->valuedouble : NAN; /* null: unknown (a top-K level) */
	}
	return 0;
}

/* record of `chunk` in recs, NULL when none or not ok */
static const cJSON *rec_of(const cJSON *recs, size_t chunk, const cJSON **hint)
{
	const cJSON *r = *hint ? *hint : (recs ? recs->child : NULL);

	/* records come in chunk order: try the next first */
	if (r && qe_json_num(r, "chunk", -1) == (double)chunk && !strcmp(qe_json_str(r, "status", ""), "ok")) {
		*hint = r->next;
		return r;
	}
	cJSON_ArrayForEach(r, recs)
		if (qe_json_num(r, "chunk", -1) == (double)chunk && !strcmp(qe_json_str(r, "status", ""), "ok")) {
			*hint = r->next;
			return r;
		}
	return NULL;
}

struct series {
	double *nll, *nll_ref, *kld, *bound;
	unsigned char *top;
	size_t n, n_chunks;
	size_t k_min;                /* a top-K level: the fewest entries of a position, else 0 */
};

static void series_release(struct series *v)
{
	free(v->nll);
	free(v->nll_ref);
	free(v->kld);
	free(v->bound);
	free(v->top);
}

/* one chunk of a level paired with the reference's: appended to v */
static int series_add(struct series *v, const cJSON *rec, const cJSON *ref, int is_ref)
{
	size_t n = (size_t)qe_json_num(rec, "n", 0), at = v->n;
	const char *top = qe_json_str(rec, "top", NULL);

	if (n == 0 || qe_json_num(ref, "n", 0) != (double)n)
		return -1;
	if (rec_nums(rec, "nll", n, v->nll + at) || rec_nums(ref, "nll", n, v->nll_ref + at))
		return -1;
	if (!is_ref && (rec_nums(rec, "kld", n, v->kld + at) || rec_nums(rec, "bound", n, v->bound + at) || !top ||
			strlen(top) != n))
		return -1;
	for (size_t i = 0; !is_ref && i < n; i++)
		v->top[at + i] = top[i] == '1';
	if (cJSON_GetObjectItemCaseSensitive(rec, "k")) {
		size_t k = (size_t)qe_json_num(rec, "k", 0);
		v->k_min = v->k_min && v->k_min < k ? v->k_min : k ? k : 1;
	}
	v->n += n;
	v->n_chunks++;
	return 0;
}

static int series_of(const cJSON *recs, const cJSON *ref_recs, int is_ref, struct series *v, size_t *n_failed)
{
	size_t cap = 0, n_ref = (size_t)cJSON_GetArraySize(ref_recs);
	const cJSON *r, *h1 = NULL, *h2 = NULL;

	memset(v, 0, sizeof(*v));
	*n_failed = 0;
	cJSON_ArrayForEach(r, ref_recs)
		cap += (size_t)qe_json_num(r, "n", 0);
	v->nll = malloc((cap + 1) * sizeof(double));
	v->nll_ref = malloc((cap + 1) * sizeof(double));
	v->kld = malloc((cap + 1) * sizeof(double));
	v->bound = malloc((cap + 1) * sizeof(double));
	v->top = malloc(cap + 1);
	if (!v->nll || !v->nll_ref || !v->kld || !v->bound || !v->top)
		return QE_ENOMEM;
	for (size_t c = 0; c < n_ref; c++) {
		const cJSON *ref = rec_of(ref_recs, c, &h1), *rec = ref ? rec_of(recs, c, &h2) : NULL;
		if (!ref)
			break;
		if (!rec || v->n + (size_t)qe_json_num(rec, "n", 0) > cap || series_add(v, rec, ref, is_ref) != 0)
			(*n_failed)++;
	}
	return 0;
}

static void put_num(cJSON *o, const char *k, double v)
{
	cJSON_AddItemToObject(o, k, qe_json_num_or_null(v));
}

static void put_ci(cJSON *o, const char *k, double m, double se)
{
	cJSON *a = cJSON_AddArrayToObject(o, k);

	cJSON_AddItemToArray(a, qe_json_num_or_null(m - QE_Z95 * se));
	cJSON_AddItemToArray(a, qe_json_num_or_null(m + QE_Z95 * se));
}

static void emit_vs_ref(cJSON *b, const struct qe_kld_summary *m)
{
	put_num(b, QE_KLD_PPL_REF, m->ppl_ref);
	put_num(b, QE_KLD_LN_RATIO, m->ln_ratio);
	put_num(b, QE_KLD_LN_RATIO_SE, m->ln_ratio_se);
	put_num(b, QE_KLD_PPL_RATIO, m->ppl_ratio);
	put_num(b, QE_KLD_PPL_RATIO_SE, m->ppl_ratio_se);
	put_num(b, QE_KLD_NLL_COR, m->nll_cor);
	put_num(b, QE_KLD_MEAN, m->kld.mean);
	put_num(b, QE_KLD_SE, m->kld.se);
	put_ci(b, QE_KLD_CI, m->kld.mean, m->kld.se);
	put_num(b, QE_KLD_MEDIAN, m->kld.median);
	put_num(b, QE_KLD_P90, m->kld.p90);
	put_num(b, QE_KLD_P95, m->kld.p95);
	put_num(b, QE_KLD_P99, m->kld.p99);
	put_num(b, QE_KLD_P999, m->kld.p999);
	put_num(b, QE_KLD_MAX, m->kld.max);
	put_num(b, QE_KLD_BOUND, m->bound_mean);
	put_num(b, QE_KLD_SAME_TOP, m->same_top);
	put_num(b, QE_KLD_SAME_TOP_SE, m->same_top_se);
	put_ci(b, QE_KLD_SAME_TOP_CI, m->same_top, m->same_top_se);
	put_num(b, QE_KLD_DP_MEAN, m->dp_mean);
	put_num(b, QE_KLD_DP_SE, m->dp_se);
	put_num(b, QE_KLD_DP_RMS, m->dp_rms);
	put_num(b, QE_KLD_DP_RMS_SE, m->dp_rms_se);
	put_num(b, QE_KLD_DP_MIN, m->dp_min);
	put_num(b, QE_KLD_DP_P01, m->dp_p01);
	put_num(b, QE_KLD_DP_P05, m->dp_p05);
	put_num(b, QE_KLD_DP_P50, m->dp_p50);
	put_num(b, QE_KLD_DP_P95, m->dp_p95);
	put_num(b, QE_KLD_DP_P99, m->dp_p99);
	put_num(b, QE_KLD_DP_MAX, m->dp_max);
}

/* A top-K level: PPL, its ratio and delta-p over the positions whose true
 * token's log-probability is known (all of them when the server gives it),
 * the KL bound and same top over all; *n_unknown the others. */
static int summarize_topk(const struct series *v, struct qe_kld_summary *m, size_t *n_unknown, struct qe_err *err)
{
	double *a = malloc((v->n + 1) * sizeof(double)), *r = malloc((v->n + 1) * sizeof(double));
	struct qe_kld_summary all;
	size_t k = 0;
	int rc = a && r ? 0 : QE_ENOMEM;

	for (size_t i = 0; rc == 0 && i < v->n; i++)
		if (!isnan(v->nll[i])) {
			a[k] = v->nll[i];
			r[k++] = v->nll_ref[i];
		}
	*n_unknown = v->n - k;
	if (rc == 0)
		rc = qe_kld_summarize(a, r, NULL, NULL, NULL, k, m, err);
	if (rc == 0)
		rc = qe_kld_summarize(v->nll, NULL, v->kld, v->top, v->bound, v->n, &all, err);
	if (rc == 0) {
		m->kld = all.kld;
		m->same_top = all.same_top;
		m->same_top_se = all.same_top_se;
		m->bound_mean = all.bound_mean;
	}
	free(a);
	free(r);
	return rc;
}

static void emit_topk(cJSON *b, const struct series *v, size_t n_unknown)
{
	char mark[64];

	snprintf(mark, sizeof(mark), "top-k lower bound (K=%zu)", v->k_min);
	cJSON_AddStringToObject(b, QE_KLD_ESTIMATE, mark);
	put_num(b, QE_KLD_TOPK, (double)v->k_min);
	put_num(b, QE_KLD_N_NLL_UNKNOWN, (double)n_unknown);
	put_num(b, QE_KLD_NLL_UNKNOWN_FRAC, v->n ? (double)n_unknown / (double)v->n : NAN);
}

static int level_block(const struct kld_state *s, const struct qe_task_levels *lv, size_t i, cJSON *b,
		       struct qe_err *err)
{
	struct series v;
	struct qe_kld_summary m;
	size_t n_failed;
	int is_ref = i == lv->ref, rc;
	double wall = qe_task_level_wall(lv, i, s->name);
	size_t n_unknown = 0;

	rc = series_of(lv->records[i], lv->records[lv->ref], is_ref, &v, &n_failed);
	if (rc == 0 && !is_ref && v.k_min)
		rc = summarize_topk(&v, &m, &n_unknown, err);
	else if (rc == 0)
		rc = qe_kld_summarize(v.nll, is_ref ? NULL : v.nll_ref, is_ref ? NULL : v.kld, is_ref ? NULL : v.top,
				      is_ref ? NULL : v.bound, v.n, &m, err);
	if (rc == 0 && !is_ref && v.k_min)
		emit_topk(b, &v, n_unknown);
	if (rc == 0) {
		put_num(b, QE_KLD_N_CHUNKS, (double)v.n_chunks);
		put_num(b, QE_KLD_N_TOKENS, (double)v.n);
		put_num(b, QE_KLD_N_FAILED, (double)n_failed);
		put_num(b, QE_KLD_PPL, v.n ? m.ppl : NAN);
		put_num(b, QE_KLD_PPL_SE, m.ppl_se);
		if (!is_ref && v.n)
			emit_vs_ref(b, &m);
		put_num(b, QE_KLD_TOKENS_PER_S, wall > 0 ? (double)v.n_chunks * (double)s->ctx / wall : NAN);
	}
	series_release(&v);
	return rc == QE_ENOMEM ? qe_fail(err, QE_ENOMEM, "out of memory") : rc;
}

static int kld_summarize(void *state, const struct qe_task_levels *lv, cJSON *out, struct qe_err *err)
{
	const struct kld_state *s = state;

	for (size_t i = 0; i < lv->n; i++) {
		cJSON *b;
		int rc;
		if (!lv->records[i] || !cJSON_GetArraySize(lv->records[i]))
			continue;
		b = cJSON_AddObjectToObject(out, lv->levels[i].name);
		if (!lv->records[lv->ref] || !cJSON_GetArraySize(lv->records[lv->ref])) {
			cJSON_AddStringToObject(b, QE_KLD_ERROR, "the reference level has no records");
			continue;
		}
		if ((rc = level_block(s, lv, i, b, err)) != 0)
			return rc;
	}
	return 0;
}

/* tokens a level evaluates: the text's (~4 bytes a token) once per stride,
 * each with its full-vocabulary row handled (counted as a token again) */
static double kld_cost(void *state)
{
	const struct kld_state *s = state;
	double tok = (double)s->len / 4.0;

	if (s->max_chunks > 0 && (double)(s->max_chunks * s->stride) < tok)
		tok = (double)(s->max_chunks * s->stride);
	return 2.0 * tok * (double)s->ctx / (double)(s->stride ? s->stride : s->ctx);
}

const struct qe_task qe_task_kld = {
	.name = "kld",
	.summary = "whole-vocabulary KL divergence, perplexity ratio, same top token and delta-p over a text, against the reference",
	.needs_any = QE_RT_LOGITS | QE_RT_TOPK,
	.options = kld_options,
	.options_size = sizeof(struct kld_opts),
	.prepare = kld_prepare,
	.run_level = kld_run_level,
	.summarize = kld_summarize,
	.describe = kld_describe,
	.release = kld_release,
	.view = &qe_view_kld,
	.recount = kld_recount,
	.cost = kld_cost,
	.needs_reference = 1,
};
