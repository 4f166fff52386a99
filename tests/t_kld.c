/* Tests of the kld task end to end: `qeval run --tasks kld` on the generated
 * fixture model (F16 reference, Q8_0 and Q2_K) over a generated text, its
 * numbers against a direct computation with the engine (each chunk one
 * llama_decode of its own, log-softmax and KL in double over the whole
 * vocabulary), resume at chunk
 * granularity, bad input, and the runtime call's checks. */
#include "tests/tq.h"
#include "tests/tq_kld.h"
#include "tests/tq_exec.h"

#include "harness/base/json.h"
#include "harness/base/sys.h"
#include "harness/base/text.h"
#include "harness/journal.h"
#include "runtimes/runtime.h"

#include <float.h>
#include <unistd.h>

#include <llama.h>

#define CTX 64
#define CHUNKS 3
#define PPL_REL_TOL 1e-6  /* the same decodes: double sums in another order */
#define KLD_ABS_TOL 1e-9  /* beyond the stored reference's bound */

static char g_tmp[256], g_text[400], g_run[400];
static char g_out[16384], g_err[16384];

static int qeval(const char *args)
{
	return tq_qeval(g_tmp, args, g_out, sizeof(g_out), g_err, sizeof(g_err));
}

static cJSON *results(const char *dir)
{
	char path[600];
	cJSON *r = NULL;

	snprintf(path, sizeof(path), "%s/results.json", dir);
	qe_json_read_file(path, &r, NULL);
	return r;
}

/* ---- the independent computation --------------------------------------- */

struct direct {
	double nll_ref, nll, kl; /* sums over the scored positions */
	size_t n, same_top;
};

static int argmax(const double *l, int n)
{
	int b = 0;
	for (int i = 1; i < n; i++)
		b = l[i] > l[b] ? i : b;
	return b;
}

/* every chunk's scored rows of one model, one token per decode: [CHUNKS][CTX/2-1][nv] log-probs */
static double *direct_logprobs(const char *path, int *nv_out)
{
	struct llama_model *m = llama_model_load_from_file(path, llama_model_default_params());
	struct llama_context_params cp = llama_context_default_params();
	struct llama_context *c;
	const struct llama_vocab *v;
	int32_t tok[20000];
	char *text = NULL;
	size_t len;
	double *out;
	int n, nv, rows = CTX - 1 - CTX / 2;

	if (!m || qe_file_read(g_text, &text, &len, NULL) != 0)
		return NULL;
	cp.n_ctx = CTX;
	cp.n_threads = cp.n_threads_batch = 2;
	c = llama_init_from_model(m, cp);
	v = llama_model_get_vocab(m);
	nv = llama_vocab_n_tokens(v);
	n = llama_tokenize(v, text, (int32_t)len, tok, 20000, true, false);
	out = malloc((size_t)CHUNKS * rows * nv * sizeof(*out));
	for (int ch = 0; n >= CHUNKS * CTX && ch < CHUNKS; ch++) {
		struct llama_batch b = llama_batch_init(CTX, 0, 1);
		llama_memory_clear(llama_get_memory(c), true);
		/* the whole chunk, logits from the middle on: llama-perplexity's decode */
		for (int p = 0; p < CTX; p++) {
			b.token[p] = p == 0 ? llama_vocab_bos(v) : tok[ch * CTX + p];
			b.pos[p] = p;
			b.n_seq_id[p] = 1;
			b.seq_id[p][0] = 0;
			b.logits[p] = p >= CTX / 2;
		}
		b.n_tokens = CTX;
		llama_decode(c, b);
		for (int p = CTX / 2; p < CTX - 1; p++)
			tq_log_softmax(llama_get_logits_ith(c, p), nv, out + ((size_t)ch * rows + (p - CTX / 2)) * nv);
		llama_batch_free(b);
	}
	free(text);
	llama_free(c);
	llama_model_free(m);
	*nv_out = nv;
	return out;
}

static void direct(const char *ref_path, const char *lvl_path, struct direct *d)
{
	int nv = 0, nv2 = 0, rows = CTX - 1 - CTX / 2, n;
	double *lr = direct_logprobs(ref_path, &nv), *lq = direct_logprobs(lvl_path, &nv2);
	int32_t tok[20000];
	struct llama_model *m = llama_model_load_from_file(ref_path, llama_model_default_params());
	char *text = NULL;
	size_t len;

	memset(d, 0, sizeof(*d));
	qe_file_read(g_text, &text, &len, NULL);
	n = llama_tokenize(llama_model_get_vocab(m), text, (int32_t)len, tok, 20000, true, false);
	for (int ch = 0; lr && lq && nv == nv2 && n > 0 && ch < CHUNKS; ch++)
		for (int r = 0; r < rows; r++) {
			const double *a = lr + ((size_t)ch * rows + r) * nv, *b = lq + ((size_t)ch * rows + r) * nv;
			int32_t next = tok[ch * CTX + CTX / 2 + r + 1];
			for (int i = 0; i < nv; i++)
				d->kl += exp(a[i]) * (a[i] - b[i]);
			d->nll_ref -= a[next];
			d->nll -= b[next];
			d->same_top += argmax(a, nv) == argmax(b, nv);
			d->n++;
		}
	free(text);
	free(lr);
	free(lq);
	llama_model_free(m);
}

/* ---- tests -------------------------------------------------------------- */

static void test_run_against_direct(void)
{
	char args[2048], path[600];
	cJSON *r, *lj = NULL;
	const cJSON *ref, *lv;
	struct direct d;

	snprintf(g_run, sizeof(g_run), "%s/run", g_tmp);
	snprintf(args, sizeof(args), "run -q --model %s --levels F16,Q8_0,Q2_K --tasks kld --text %s --kld-ctx %d --limit %d "
		 "--threads 2 --out %s", tq_kld_model(), g_text, CTX, CHUNKS, g_run);
	TQ_EQ_INT(qeval(args), 0);
	r = results(g_run);
	ref = tq_block(r, "kld", "F16");
	TQ_CHECK(r && ref);
	if (!r || !ref)
		return;
	TQ_EQ_INT(qe_json_num(ref, "n_chunks", 0), CHUNKS);
	TQ_EQ_INT(qe_json_num(ref, "n_tokens", 0), CHUNKS * (CTX - 1 - CTX / 2));
	for (int k = 0; k < 2; k++) {
		const char *name = k ? "Q2_K" : "Q8_0";
		lv = tq_block(r, "kld", name);
		snprintf(path, sizeof(path), "%s/levels/%02d-%s/level.json", g_run, k + 1, name);
		TQ_EQ_INT(qe_json_read_file(path, &lj, NULL), 0);
		direct(tq_kld_model(), qe_json_str(lj, "path", ""), &d);
		cJSON_Delete(lj);
		TQ_EQ_INT(d.n, CHUNKS * (CTX - 1 - CTX / 2));
		TQ_NEAR(qe_json_num(ref, "ppl", 0), exp(d.nll_ref / d.n), PPL_REL_TOL * exp(d.nll_ref / d.n));
		TQ_NEAR(qe_json_num(lv, "ppl", 0), exp(d.nll / d.n), PPL_REL_TOL * exp(d.nll / d.n));
		TQ_NEAR(qe_json_num(lv, "ln_ppl_ratio", 0), (d.nll - d.nll_ref) / d.n, 2 * PPL_REL_TOL);
		TQ_NEAR(qe_json_num(lv, "kld_mean", 0), d.kl / d.n, qe_json_num(lv, "kld_repr_bound", 1) + KLD_ABS_TOL);
		TQ_CHECK(qe_json_num(lv, "kld_repr_bound", 1) < 0.01 * d.kl / d.n);
		TQ_NEAR(qe_json_num(lv, "same_top", 0), (double)d.same_top / d.n, 1e-12);
		TQ_CHECK(qe_json_num(lv, "kld_p99", 0) >= qe_json_num(lv, "kld_median", 1));
	}
	TQ_CHECK(qe_json_num(tq_block(r, "kld", "Q2_K"), "kld_mean", 0) > qe_json_num(tq_block(r, "kld", "Q8_0"), "kld_mean", 1));
	cJSON_Delete(r);
}

/* Without --limit the chunk count is known only once the reference level
 * has tokenized the text (prepare estimates 4 bytes a token): results.json's
 * n_items and the resume check use the real count, and a resumed complete
 * run runs no level again. */
static void test_items_are_chunks(void)
{
	char args[2048], run[600], lj[700], *before = NULL, *after = NULL;
	size_t n_before = 0, n_after = 0;
	cJSON *r;
	const cJSON *t;
	long est;

	snprintf(run, sizeof(run), "%s/count", g_tmp);
	snprintf(args, sizeof(args), "run -q --model %s --levels F16,Q8_0 --tasks kld --text %s --kld-ctx %d --threads 2 "
		 "--out %s", tq_kld_model(), g_text, CTX, run);
	TQ_EQ_INT(qeval(args), 0);
	r = results(run);
	t = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r, "tasks"), "kld");
	est = (long)(qe_json_num(cJSON_GetObjectItemCaseSensitive(t, "settings"), "text_bytes", 0) / 4 / CTX + 1);
	TQ_CHECK(qe_json_num(tq_block(r, "kld", "F16"), "n_chunks", 0) > 0);
	TQ_CHECK(qe_json_num(tq_block(r, "kld", "F16"), "n_chunks", 0) != (double)est); /* else this test shows nothing */
	TQ_EQ_INT(qe_json_num(t, "n_items", 0), qe_json_num(tq_block(r, "kld", "F16"), "n_chunks", -1));
	TQ_EQ_INT(qe_json_num(tq_block(r, "kld", "Q8_0"), "n_chunks", 0), qe_json_num(tq_block(r, "kld", "F16"), "n_chunks", -1));
	cJSON_Delete(r);
	snprintf(lj, sizeof(lj), "%s/levels/01-Q8_0/level.json", run);
	TQ_EQ_INT(qe_file_read(lj, &before, &n_before, NULL), 0);
	snprintf(args, sizeof(args), "run --resume %s --no-summary", run);
	TQ_EQ_INT(qeval(args), 0);
	TQ_EQ_INT(qe_file_read(lj, &after, &n_after, NULL), 0);
	TQ_CHECK(before && after && n_before == n_after && !memcmp(before, after, n_before)); /* not run again */
	free(before);
	free(after);
}

/* drop the last record of a journal; mark its level unfinished */
static void drop_last_record(const char *level_dir)
{
	char path[700], *s = NULL;
	size_t len;
	cJSON *lj = NULL;

	snprintf(path, sizeof(path), "%s/records-kld.jsonl", level_dir);
	TQ_EQ_INT(qe_file_read(path, &s, &len, NULL), 0);
	if (!s)
		return;
	while (len > 0 && s[len - 1] == '\n')
		len--;
	while (len > 0 && s[len - 1] != '\n')
		len--;
	qe_file_write_atomic(path, s, len, NULL);
	free(s);
	snprintf(path, sizeof(path), "%s/level.json", level_dir);
	if (qe_json_read_file(path, &lj, NULL) == 0) {
		cJSON_ReplaceItemInObject(lj, "status", cJSON_CreateString("running"));
		qe_json_write_file(path, lj, NULL);
		cJSON_Delete(lj);
	}
}

static void strip(cJSON *o)
{
	cJSON *c;

	cJSON_DeleteItemFromObjectCaseSensitive(o, "tokens_per_s");
	cJSON_ArrayForEach(c, o)
		if (cJSON_IsObject(c))
			strip(c);
}

static void test_resume_at_chunk_granularity(void)
{
	char dir[500], args[1200], lvl[600];
	cJSON *a = results(g_run), *b;
	char *sa, *sb;

	snprintf(dir, sizeof(dir), "%s/resumed", g_tmp);
	snprintf(args, sizeof(args), "cp -r %s %s", g_run, dir);
	TQ_EQ_INT(system(args), 0);
	snprintf(lvl, sizeof(lvl), "%s/levels/00-F16", dir);
	drop_last_record(lvl);
	snprintf(lvl, sizeof(lvl), "%s/levels/01-Q8_0", dir);
	drop_last_record(lvl);
	drop_last_record(lvl);
	snprintf(args, sizeof(args), "run -q --resume %s", dir);
	TQ_EQ_INT(qeval(args), 0);
	b = results(dir);
	TQ_CHECK(a && b);
	if (!a || !b)
		return;
	strip(cJSON_GetObjectItemCaseSensitive(a, "tasks"));
	strip(cJSON_GetObjectItemCaseSensitive(b, "tasks"));
	sa = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(a, "tasks"));
	sb = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(b, "tasks"));
	TQ_EQ_STR(sa, sb); /* every number: a chunk is evaluated alone, the same bits */
	cJSON_free(sa);
	cJSON_free(sb);
	cJSON_Delete(a);
	cJSON_Delete(b);
}

static void test_bad_input(void)
{
	char args[1500], path[400];
	FILE *f;

	/* a text shorter than one chunk: exit 2 before any level? no: the
	 * reference level fails naming the file and the count */
	snprintf(path, sizeof(path), "%s/short.txt", g_tmp);
	f = fopen(path, "w");
	fputs("only a few words", f);
	fclose(f);
	snprintf(args, sizeof(args), "run -q --model %s --levels F16,Q8_0 --tasks kld --text %s --out %s/short", tq_kld_model(), path,
		 g_tmp);
	TQ_EQ_INT(qeval(args), 3);
	TQ_CHECK(strstr(g_err, "short.txt") && strstr(g_err, "fewer than one chunk"));
	/* a missing text: usage error, before any level */
	snprintf(args, sizeof(args), "run -q --model %s --levels F16 --tasks kld --text %s/none.txt --out %s/none", tq_kld_model(),
		 g_tmp, g_tmp);
	TQ_EQ_INT(qeval(args), 2);
	TQ_CHECK(strstr(g_err, "none.txt") != NULL);
	/* an empty text */
	snprintf(path, sizeof(path), "%s/empty.txt", g_tmp);
	fclose(fopen(path, "w"));
	snprintf(args, sizeof(args), "run -q --model %s --levels F16 --tasks kld --text %s --out %s/empty", tq_kld_model(), path,
		 g_tmp);
	TQ_EQ_INT(qeval(args), 2);
	TQ_CHECK(strstr(g_err, "empty.txt") && strstr(g_err, "empty"));
	/* the reference file's limit */
	snprintf(args, sizeof(args), "run -q --model %s --levels F16,Q8_0 --tasks kld --text %s --kld-ctx %d --kld-max-gib 0.0001 "
		 "--out %s/big", tq_kld_model(), g_text, CTX, g_tmp);
	TQ_EQ_INT(qeval(args), 3);
	TQ_CHECK(strstr(g_err, "max_gib") != NULL);
}

static int file_has(const char *path, const char *needle)
{
	char *s = NULL;
	size_t len;
	int found;

	if (qe_file_read(path, &s, &len, NULL) != 0)
		return 0;
	found = strstr(s, needle) != NULL;
	free(s);
	return found;
}

/* gates on kld metrics, the report's section and chart, compare, history */
static void test_reports_gate_compare_history(void)
{
	char args[2000], path[600];
	FILE *f;

	snprintf(path, sizeof(path), "%s/gates.json", g_tmp);
	f = fopen(path, "w");
	fputs("{\"rules\": [{\"name\": \"p99\", \"task\": \"kld\", \"metric\": \"kld_p99\", \"op\": \"<=\", \"value\": 0.1, "
	      "\"levels\": [\"Q8_0\"]}]}", f);
	fclose(f);
	snprintf(args, sizeof(args), "gate %s --rules %s", g_run, path);
	TQ_EQ_INT(qeval(args), 0);
	f = fopen(path, "w");
	fputs("{\"rules\": [{\"name\": \"p99\", \"task\": \"kld\", \"metric\": \"kld_p99\", \"op\": \"<=\", \"value\": 0.1}]}", f);
	fclose(f);
	TQ_EQ_INT(qeval(args), 1); /* Q2_K's p99 is far above */
	snprintf(path, sizeof(path), "%s/report.md", g_run);
	TQ_CHECK(file_has(path, "# KL divergence") && file_has(path, "Mean KLD") && file_has(path, "Same top"));
	snprintf(path, sizeof(path), "%s/report.html", g_run);
	TQ_CHECK(file_has(path, "KL divergence: mean KLD") || file_has(path, "mean KLD (nats)"));
	snprintf(args, sizeof(args), "compare %s %s/resumed --out %s/cmp --no-charts", g_run, g_tmp, g_tmp);
	TQ_EQ_INT(qeval(args), 0);
	snprintf(path, sizeof(path), "%s/cmp/compare.md", g_tmp);
	TQ_CHECK(file_has(path, "Mean KLD") && file_has(path, "KLD p99"));
	snprintf(args, sizeof(args), "history add %s/hist.jsonl %s", g_tmp, g_run);
	TQ_EQ_INT(qeval(args), 0);
	snprintf(path, sizeof(path), "%s/hist.jsonl", g_tmp);
	TQ_CHECK(file_has(path, "kld_mean"));
}

static int on_row_count(void *arg, size_t chunk, size_t pos, const float *logits, size_t n_vocab)
{
	size_t *n = arg;
	(*n)++;
	return logits && n_vocab > 0 ? 0 : -1;
}

static void test_runtime_call(void)
{
	struct qe_rt_params p = qe_rt_default_params();
	struct qe_runtime *rt = NULL;
	struct qe_err err = { 0 };
	int32_t tok[2 * 16] = { 1 };
	size_t n = 0;
	struct qe_chunk_req rq = { .tokens = tok, .n_chunks = 2, .n_tok = 16, .first = 8, .row = on_row_count, .arg = &n };

	p.model = tq_kld_model();
	p.n_threads = 2;
	TQ_EQ_INT(qe_runtime_open(&p, &rt, &err), 0);
	if (!rt)
		return;
	TQ_CHECK(qe_runtime_caps(rt) & QE_RT_LOGITS);
	for (int i = 0; i < 32; i++)
		tok[i] = 10 + i;
	TQ_EQ_INT(qe_runtime_chunk_logits(rt, &rq, &err), 0);
	TQ_EQ_INT(n, 2 * (16 - 1 - 8));
	rq.first = 15;
	TQ_EQ_INT(qe_runtime_chunk_logits(rt, &rq, &err), QE_EINVAL);
	qe_runtime_close(rt);
}

int main(void)
{
	char cmd[400];

	snprintf(g_tmp, sizeof(g_tmp), "/tmp/t_kld.XXXXXX");
	if (!mkdtemp(g_tmp))
		return 1;
	snprintf(g_text, sizeof(g_text), "%s/text.txt", g_tmp);
	tq_kld_write_text(g_text);
	if (access(tq_kld_model(), R_OK) != 0) {
		fprintf(stderr, "  SKIP: %s is absent (make fixtures)\n", tq_kld_model());
		printf("t_kld: 0 passed, 0 failed, 1 skipped\n");
		return 0;
	}
	llama_backend_init();
	TQ_RUN(test_runtime_call);
	TQ_RUN(test_run_against_direct);
	TQ_RUN(test_items_are_chunks);
	TQ_RUN(test_resume_at_chunk_granularity);
	TQ_RUN(test_reports_gate_compare_history);
	TQ_RUN(test_bad_input);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", g_tmp);
	if (!tq_failed)
		(void)!system(cmd);
	return tq_done("t_kld");
}
