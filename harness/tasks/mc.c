/* qeval — the multiple-choice tasks "mmlu" and "ceval": the same scorer and
 * metrics, different loaders and templates (docs/tasks.md).
 *
 * Protocol (lm-evaluation-harness's defaults, so numbers compare with
 * published ones): a prompt is
 *   header(subject) + shot_1 + join + ... + shot_k + join + item(question)
 * where a shot is item(shot) + target_delim + choices[gold], and the score of
 * choice c is log p(target_delim + choices[c] | prompt). The few-shot part is
 * the same for every question of a subject, so the runtime's prefix cache
 * processes it once per subject and level. A prompt longer than the context
 * loses its oldest shots first (counted).
 */
#include "harness/base/sys.h"
#include "harness/journal.h"
#include "harness/progress.h"
#include "harness/base/json.h"
#include "harness/base/sys.h"
#include "harness/tasks/mc_keys.h"
#include "harness/tasks/task.h"
#include "datasets/mc.h"
#include "metrics/mc.h"
#include "metrics/stats.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tmpl {
	const char *header;       /* "{subject}" placeholder */
	const char *item;         /* "{question}", "{A}".."{D}" */
	const char *target_delim; /* between an item and its answer */
	const char *join;         /* between shots */
	const char *choices[4];
};

static const struct tmpl mmlu_tmpl = {
	.header = "The following are multiple choice questions (with answers) about {subject}.\n\n",
	.item = "{question}\nA. {A}\nB. {B}\nC. {C}\nD. {D}\nAnswer:",
	.target_delim = " ",
	.join = "\n\n",
	.choices = { "A", "B", "C", "D" },
};

static const struct tmpl ceval_tmpl = {
	.header = "以下是中国关于{subject}的单项选择题，请选出其中的正确答案。\n\n",
	.item = "{question}\nA. {A}\nB. {B}\nC. {C}\nD. {D}\n答案：",
	.target_delim = " ",
	.join = "\n\n",
	.choices = { "A", "B", "C", "D" },
};

struct mc_state {
	const char *kind;        /* "mmlu" / "ceval" */
	const char *name;        /* the task instance's name (results.json key), borrowed from opts */
	struct qe_mc_set set;
	struct tmpl t;
	int shots;
	size_t batch;            /* requests per runtime call */
	uint64_t seed;
	size_t n_no_gold;
	const char **sorted_ids; /* item ids sorted, for record lookup */
	uint32_t *sorted_idx;
	long limit;              /* first N items per subject, 0 = all */
};

/* ---- text building ----------------------------------------------------- */

struct sbuf {
	char *p;
	size_t n, cap;
};

static int sb_add(struct sbuf *b, const char *s, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		size_t cap = (b->n + n + 1) * 2;
		char *np = realloc(b->p, cap);
		if (!np)
			return -1;
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = '\0';
	return 0;
}

static int sb_str(struct sbuf *b, const char *s)
{
	return sb_add(b, s, strlen(s));
}

/* Python's str.strip() on ASCII whitespace */
static int sb_stripped(struct sbuf *b, const char *s)
{
	const char *e = s + strlen(s);
	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == '\f' || *s == '\v')
		s++;
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r' || e[-1] == '\f' || e[-1] == '\v'))
		e--;
	return sb_add(b, s, (size_t)(e - s));
}

/* Expand {name} placeholders of fmt. */
static int render(struct sbuf *b, const char *fmt, const struct qe_mc_item *it, const char *subject)
{
	while (*fmt) {
		const char *open = strchr(fmt, '{'), *close;
		if (!open)
			return sb_str(b, fmt);
		close = strchr(open, '}');
		if (!close)
			return sb_str(b, fmt);
		if (sb_add(b, fmt, (size_t)(open - fmt)))
			return -1;
		if (!strncmp(open, "{question}", 10) && it) {
			if (sb_stripped(b, it->question))
				return -1;
		} else if (!strncmp(open, "{subject}", 9) && subject) {
			if (sb_str(b, subject))
				return -1;
		} else if (close == open + 2 && open[1] >= 'A' && open[1] <= 'D' && it) {
			if (sb_str(b, it->choices[open[1] - 'A']))
				return -1;
		} else if (sb_add(b, open, (size_t)(close - open) + 1)) {
			return -1;
		}
		fmt = close + 1;
	}
	return 0;
}

/* prompt with the last n_shots shots of the subject... lm-eval takes the
 * first k dev items; truncation drops the oldest (first) of those. *prefix_len
 * = the bytes before the question (header and shots), shared by the subject's
 * questions. */
static int build_prompt(const struct mc_state *s, const struct qe_mc_item *it, int first_shot, int n_shots,
			struct sbuf *b, size_t *prefix_len)
{
	const struct qe_mc_subject *sj = qe_mc_item_subject(&s->set, it);

	b->n = 0;
	if (sb_str(b, "") || render(b, s->t.header, NULL, sj->display))
		return -1;
	for (int k = first_shot; k < first_shot + n_shots; k++) {
		const struct qe_mc_item *sh = &sj->shots[k];
		if (render(b, s->t.item, sh, sj->display) || sb_str(b, s->t.target_delim) ||
		    sb_str(b, s->t.choices[sh->gold >= 0 && sh->gold < 4 ? sh->gold : 0]) || sb_str(b, s->t.join))
			return -1;
	}
	*prefix_len = b->n;
	return render(b, s->t.item, it, sj->display);
}

/* ---- prepare --------------------------------------------------------------- */

static int cmp_ids(const void *a, const void *b, void *ctx)
{
	const char **ids = ctx;
	return strcmp(ids[*(const uint32_t *)a], ids[*(const uint32_t *)b]);
}

/* the options of both tasks (their tables differ in the default split) */
struct mc_opts {
	const char *dir;
	const char *split;
	long shots;
	long batch;
	const char *subjects;
	const cJSON *template;
};

static int check_template(const cJSON *v, void *field, struct qe_err *err)
{
	static const char *const keys[] = { "header", "item", "target_delim", "join", "choices", NULL };
	const cJSON *it, *ch;

	if (!cJSON_IsObject(v))
		return qe_fail(err, QE_EINVAL, "expected an object with header, item, target_delim, join, choices");
	cJSON_ArrayForEach(it, v) {
		const char *const *k = keys;
		for (; *k && strcmp(*k, it->string); k++)
			;
		if (!*k)
			return qe_fail(err, QE_EINVAL, "unknown key '%s' (known: header, item, target_delim, join, choices)",
				       it->string);
		if (strcmp(it->string, "choices") != 0 && !cJSON_IsString(it))
			return qe_fail(err, QE_EINVAL, "'%s' must be a string", it->string);
	}
	ch = cJSON_GetObjectItemCaseSensitive(v, "choices");
	if (ch && (!cJSON_IsArray(ch) || cJSON_GetArraySize(ch) != 4))
		return qe_fail(err, QE_EINVAL, "template.choices must be 4 strings");
	for (int i = 0; ch && i < 4; i++)
		if (!cJSON_IsString(cJSON_GetArrayItem(ch, i)))
			return qe_fail(err, QE_EINVAL, "template.choices[%d] is not a string", i);
	return 0;
}

#define MC_OPTIONS(TASK_, SPLIT_)                                                                                        \
	{ "dir", QE_OT_STR, offsetof(struct mc_opts, dir), NULL, 0, 0,                                                 \
	  "the " TASK_ " folder", "DIR", QE_OF_MAIN | QE_OF_PATH, NULL, NULL },                                     \
	{ "split", QE_OT_STR, offsetof(struct mc_opts, split), SPLIT_, 0, 0,                                            \
	  "the split to score (default " SPLIT_ ")", "S", 0, NULL, NULL },                                              \
	{ "shots", QE_OT_INT, offsetof(struct mc_opts, shots), "5", 0, 64,                                             \
	  "few-shot examples per question (default 5, 0 allowed)", "K", QE_OF_SHARED, NULL, NULL },                    \
	{ "subjects", QE_OT_STR, offsetof(struct mc_opts, subjects), NULL, 0, 0,                                       \
	  "only these subjects (comma list)", "LIST", QE_OF_SHARED, NULL, NULL },                                      \
	{ "batch", QE_OT_INT, offsetof(struct mc_opts, batch), "32", 1, 4096,                                          \
	  "questions per runtime call, scored together; a resumed level restarts at one (default 32)", "N", 0, NULL, NULL }, \
	{ "template", QE_OT_JSON, offsetof(struct mc_opts, template), NULL, 0, 0,                                      \
	  "prompt template: header, item, target_delim, join, choices", NULL, QE_OF_NOFLAG, NULL, check_template },     \
	{ NULL, 0, 0, NULL, 0, 0, NULL, NULL, 0, NULL, NULL }

static const struct qe_optab mmlu_options[] = { MC_OPTIONS("MMLU", "test") };
static const struct qe_optab ceval_options[] = { MC_OPTIONS("C-Eval", "val") };

static int mc_prepare(const char *kind, const struct qe_task_spec *ts, void **state, size_t *n_items, struct qe_err *err)
{
	const struct qe_mc_format *fmt = qe_mc_format_find(kind);
	const struct mc_opts *o = ts->opts;
	struct qe_mc_opts mo = qe_mc_default_opts();
	struct mc_state *s;
	const char *dir = o->dir;
	const cJSON *tj = o->template;
	const char **ids;
	int rc;

	if (!fmt)
		return qe_fail(err, QE_EINVAL, "no loader for '%s'", kind);
	if (!dir)
		return qe_fail(err, QE_EINVAL, "no data folder: give --%s DIR (or \"dir\" in the plan)", kind);
	s = calloc(1, sizeof(*s));
	if (!s)
		return qe_fail(err, QE_ENOMEM, "out of memory");
	s->kind = kind;
	s->name = ts->name;
	s->limit = ts->limit;
	s->t = !strcmp(kind, "ceval") ? ceval_tmpl : mmlu_tmpl;
	if (tj) { /* checked by check_template */
		const cJSON *ch = cJSON_GetObjectItemCaseSensitive(tj, "choices");
		s->t.header = qe_json_str(tj, "header", s->t.header);
		s->t.item = qe_json_str(tj, "item", s->t.item);
		s->t.target_delim = qe_json_str(tj, "target_delim", s->t.target_delim);
		s->t.join = qe_json_str(tj, "join", s->t.join);
		for (int i = 0; ch && i < 4; i++)
			s->t.choices[i] = cJSON_GetArrayItem(ch, i)->valuestring;
	}
	s->shots = (int)o->shots;
	s->batch = (size_t)o->batch;
	s->seed = (uint64_t)ts->seed;
	mo.split = o->split ? o->split : fmt->default_split;
	mo.limit = (size_t)ts->limit;
	mo.subjects = o->subjects;
	rc = fmt->load(dir, &mo, &s->set, err);
	if (rc) {
		free(s);
		return rc;
	}
	for (size_t i = 0; i < s->set.n_items; i++)
		s->n_no_gold += s->set.items[i].gold < 0;
	if (s->set.n_items > 0 && s->n_no_gold == s->set.n_items) {
		int on_default = !strcmp(mo.split, fmt->default_split); /* then the hint would name this split */
		qe_fail(err, QE_EINPUT, "%s split '%s' in '%s' has no answers (e.g. item %s): it cannot be scored; %s%s",
			kind, mo.split, dir, s->set.items[0].id, on_default ? "its files lack the answer column" : "use the split ",
			on_default ? "" : fmt->default_split);
		qe_mc_set_release(&s->set);
		free(s);
		return QE_EINPUT;
	}
	for (size_t j = 0; j < s->set.n_subjects && s->shots > 0; j++)
		if (s->set.subjects[j].n_shots < (size_t)s->shots && s->set.subjects[j].count > 0)
			fprintf(stderr, "qeval: %s: subject '%s' has %zu dev items for %d shots: it gets %zu\n", kind,
				s->set.subjects[j].name, s->set.subjects[j].n_shots, s->shots, s->set.subjects[j].n_shots);
	ids = malloc(s->set.n_items * sizeof(*ids) + 1);
	s->sorted_idx = malloc(s->set.n_items * sizeof(*s->sorted_idx) + 1);
	if (!ids || !s->sorted_idx) {
		free(ids);
		qe_mc_set_release(&s->set);
		free(s->sorted_idx);
		free(s);
		return qe_fail(err, QE_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < s->set.n_items; i++) {
		ids[i] = s->set.items[i].id;
		s->sorted_idx[i] = (uint32_t)i;
	}
	qsort_r(s->sorted_idx, s->set.n_items, sizeof(uint32_t), cmp_ids, ids);
	s->sorted_ids = ids;
	*state = s;
	*n_items = s->set.n_items;
	return 0;
}

static int mmlu_prepare(const struct qe_task_spec *ts, void **st, size_t *n, struct qe_err *e)
{
	return mc_prepare("mmlu", ts, st, n, e);
}

static int ceval_prepare(const struct qe_task_spec *ts, void **st, size_t *n, struct qe_err *e)
{
	return mc_prepare("ceval", ts, st, n, e);
}

static long find_item(const struct mc_state *s, const char *id)
{
	size_t lo = 0, hi = s->set.n_items;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(s->sorted_ids[s->sorted_idx[mid]], id);
		if (c == 0)
			return s->sorted_idx[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* ---- one level ------------------------------------------------------------- */

static cJSON *item_record(const struct mc_state *s, const struct qe_mc_item *it, const char *status)
{
	cJSON *r = cJSON_CreateObject();

	cJSON_AddStringToObject(r, "id", it->id);
	cJSON_AddStringToObject(r, "subject", qe_mc_item_subject(&s->set, it)->name);
	cJSON_AddNumberToObject(r, "gold", it->gold);
	cJSON_AddStringToObject(r, "status", status);
	return r;
}

/* Token counts for fitting a prompt: the prefix's (header and shots) is kept,
 * being the same for every question of a subject, and the question's own
 * text is counted alone. Their sum is within a token or two of the whole
 * prompt's count (the tokenizer may join or split a token at the seam);
 * within FIT_SLACK tokens of the limit the whole prompt is counted, so the
 * shots kept are those a whole count gives. */
#define FIT_SLACK 16

struct fit_memo {
	uint32_t subject;  /* the prefix counted: subject, first shot, shots */
	int first, k;
	int n;             /* its tokens (BOS included), -1 = none counted */
};

static int prompt_tokens(struct qe_runtime *rt, const struct qe_mc_item *it, int first, int k, struct sbuf *pb,
			 size_t prefix_len, int32_t n_ctx, struct fit_memo *memo, struct qe_err *err)
{
	int own, approx;

	if (memo->n < 0 || memo->subject != it->subject || memo->first != first || memo->k != k) {
		char save = pb->p[prefix_len];
		pb->p[prefix_len] = '\0';
		memo->n = qe_runtime_tokenize(rt, pb->p, 1, NULL, 0, err);
		pb->p[prefix_len] = save;
		memo->subject = it->subject;
		memo->first = first;
		memo->k = k;
		if (memo->n < 0)
			return memo->n;
	}
	own = qe_runtime_tokenize(rt, pb->p + prefix_len, 0, NULL, 0, err);
	if (own < 0)
		return own;
	approx = memo->n + own;
	if (approx + 8 + FIT_SLACK <= n_ctx || approx + 8 - FIT_SLACK > n_ctx)
		return approx;
	return qe_runtime_tokenize(rt, pb->p, 1, NULL, 0, err);
}

/* The prompt of item it with at most *k shots that fits a context of n_ctx
 * tokens: the oldest shots are dropped first (*k says how many are left).
 * Split "dev": an item must not be its own shot (build_prompt). */
static int fit_prompt(const struct mc_state *s, struct qe_runtime *rt, const struct qe_mc_item *it, int32_t n_ctx,
		      int *k, struct sbuf *pb, size_t *prefix_len, struct fit_memo *memo, struct qe_err *err)
{
	int first = 0;

	for (;;) {
		if (build_prompt(s, it, first, *k, pb, prefix_len))
			return qe_fail(err, QE_ENOMEM, "out of memory");
		if (*k == 0 || pb->n + 16 < (size_t)n_ctx)
			return 0;
		{
			int ntok = prompt_tokens(rt, it, first, *k, pb, *prefix_len, n_ctx, memo, err);
			if (ntok >= 0 && ntok + 8 <= n_ctx)
				return 0;
		}
		/* drop the oldest shot: keep the most recent ones */
		first++;
		(*k)--;
	}
}

/* The record of one scored item (status st, result rs) into the journal.
 * QE_ERUNTIME (the engine failed: the level cannot go on) is returned and
 * nothing is written. */
static int record_result(const struct mc_state *s, struct qe_task_level *tl, const struct qe_mc_item *it, int st,
			 const struct qe_score_res *rs, int nshots, struct qe_err *err)
{
	const struct qe_mc_subject *sj = qe_mc_item_subject(&s->set, it);
	cJSON *r, *ll;
	int rc;

	if (st == QE_ERUNTIME) /* the level stops here: name the first item it could not do */
		return qe_fail(err, QE_ERUNTIME, "item %s: %s", it->id, rs->error[0] ? rs->error : qe_status_name(st));
	if (st != 0) {
		char msg[QE_ERR_MSG + 16];
		snprintf(msg, sizeof(msg), "error: %s", rs->error[0] ? rs->error : qe_status_name(st));
		r = item_record(s, it, msg);
	} else {
		double lld[4];
		r = item_record(s, it, "ok");
		ll = cJSON_AddArrayToObject(r, "ll");
		for (int c = 0; c < 4; c++) {
			lld[c] = rs->ll[c];
			cJSON_AddItemToArray(ll, cJSON_CreateNumber(rs->ll[c]));
		}
		cJSON_AddNumberToObject(r, "pred", (double)qe_stats_argmax(lld, 4));
		cJSON_AddNumberToObject(r, "n_prompt", rs->n_ctx_tok);
		cJSON_AddNumberToObject(r, "n_eval", rs->n_evaluated);
	}
	cJSON_AddNumberToObject(r, "n_shots", nshots);
	cJSON_AddBoolToObject(r, "truncated", nshots < (s->shots < (int)sj->n_shots ? s->shots : (int)sj->n_shots));
	rc = qe_journal_append(tl->journal, r, err);
	cJSON_Delete(r);
	return rc;
}

/* ---- one level: groups of questions ------------------------------------------ */

/* Groups of questions per runtime call when the runtime overlaps decodes
 * (qe_rt_info.n_score_ctx >= 2): the first decode of a call and the last
 * one's reading are not overlapped, so a call carries several. */
#define MC_CALL_GROUPS 8

/* A level's scoring buffers: one call of up to G groups of up to B
 * questions each (arrays of B * G). */
struct mc_group {
	size_t B, G;
	uint32_t *gid;             /* [B * G] the group of each question, in call order */
	struct qe_score_req *rq;   /* [B] */
	struct qe_score_res *rs;   /* [B] */
	int *st;                   /* [B] */
	struct sbuf *pb;           /* [B] prompts */
	size_t *idx;               /* [B] item indices */
	int *nshots;               /* [B] */
	size_t m;                  /* questions in the call */
	const char *conts[4];
	char cbuf[4][128];
	struct fit_memo memo;
	int32_t n_ctx;             /* the context window, tokens */
	int profile;               /* QEVAL_PROFILE=1: time the phases below (a diagnostic) */
	double t_fit, t_score, t_record; /* seconds */
};

static int group_init(const struct mc_state *s, struct qe_runtime *rt, struct mc_group *g)
{
	struct qe_rt_info info;

	size_t cap;

	memset(g, 0, sizeof(*g));
	qe_runtime_describe(rt, &info);
	g->B = s->batch;
	g->G = info.n_score_ctx >= 2 ? MC_CALL_GROUPS : 1;
	cap = g->B * g->G;
	g->gid = calloc(cap, sizeof(*g->gid));
	g->rq = calloc(cap, sizeof(*g->rq));
	g->rs = calloc(cap, sizeof(*g->rs));
	g->st = calloc(cap, sizeof(*g->st));
	g->pb = calloc(cap, sizeof(*g->pb));
	g->idx = calloc(cap, sizeof(*g->idx));
	g->nshots = calloc(cap, sizeof(*g->nshots));
	for (int c = 0; c < 4; c++) {
		snprintf(g->cbuf[c], sizeof(g->cbuf[c]), "%s%s", s->t.target_delim, s->t.choices[c]);
		g->conts[c] = g->cbuf[c];
	}
	g->memo.n = -1;
	g->profile = getenv("QEVAL_PROFILE") && !strcmp(getenv("QEVAL_PROFILE"), "1");
	g->n_ctx = info.n_ctx;
	return g->gid && g->rq && g->rs && g->st && g->pb && g->idx && g->nshots ? 0 : -1;
}

static void group_release(struct mc_group *g)
{
	for (size_t k = 0; g->pb && k < g->B * g->G; k++)
		free(g->pb[k].p);
	free(g->gid);
	free(g->pb);
	free(g->rq);
	free(g->rs);
	free(g->st);
	free(g->idx);
	free(g->nshots);
}

/* The group that starts at item i, appended to the call (group id gid):
 * the next B questions with an answer of item i's subject, in order (a
 * question without one met on the way is recorded as no_gold, when it is not
 * yet). Groups depend only on the item list, never on what the journal
 * holds, so a resumed level forms the same groups as an uninterrupted one.
 * *next = where the next group starts. */
static int group_next(const struct mc_state *s, struct qe_task_level *tl, size_t i, struct mc_group *g, uint32_t gid,
		      size_t *next, struct qe_err *err)
{
	uint32_t subject = s->set.items[i].subject;
	size_t end = g->m + g->B;
	int rc = 0;

	for (; i < s->set.n_items && g->m < end && s->set.items[i].subject == subject && rc == 0; i++) {
		const struct qe_mc_item *it = &s->set.items[i];
		cJSON *r;
		if (it->gold >= 0) {
			g->gid[g->m] = gid;
			g->idx[g->m++] = i;
			continue;
		}
		if (qe_journal_has(tl->journal, it->id))
			continue;
		r = item_record(s, it, "no_gold");
		rc = qe_journal_append(tl->journal, r, err);
		cJSON_Delete(r);
		qe_progress_add(tl->progress, 1);
	}
	*next = i;
	return rc;
}

/* Questions of the call from index `from` on that have no record yet. */
static size_t call_missing(const struct mc_state *s, struct qe_task_level *tl, const struct mc_group *g, size_t from)
{
	size_t missing = 0;

	for (size_t k = from; k < g->m; k++)
		missing += !qe_journal_has(tl->journal, s->set.items[g->idx[k]].id);
	return missing;
}

/* Score the call's groups (each has a question with no record yet): every
 * question of a group is scored (the runtime's decodes, hence its numbers,
 * depend on the whole group), only the missing records written. */
static int group_score(const struct mc_state *s, struct qe_task_level *tl, struct mc_group *g, struct qe_err *err)
{
	size_t missing = call_missing(s, tl, g, 0);
	int rc = 0;
	double t0 = qe_now(), t1, t2;

	if (missing == 0)
		return 0;
	for (size_t k = 0; k < g->m && rc == 0; k++) {
		const struct qe_mc_item *it = &s->set.items[g->idx[k]];
		const struct qe_mc_subject *sj = qe_mc_item_subject(&s->set, it);
		size_t prefix_len = 0;
		g->nshots[k] = s->shots < (int)sj->n_shots ? s->shots : (int)sj->n_shots;
		rc = fit_prompt(s, tl->rt, it, g->n_ctx, &g->nshots[k], &g->pb[k], &prefix_len, &g->memo, err);
		g->rq[k] = (struct qe_score_req){ .context = g->pb[k].p, .conts = g->conts, .n_conts = 4,
						  .prefix_len = prefix_len, .group = g->gid[k] };
	}
	if (rc)
		return rc;
	t1 = qe_now();
	qe_runtime_score(tl->rt, g->rq, g->m, g->rs, g->st, err);
	t2 = qe_now();
	for (size_t k = 0; k < g->m && rc == 0; k++) {
		const struct qe_mc_item *it = &s->set.items[g->idx[k]];
		if (!qe_journal_has(tl->journal, it->id))
			rc = record_result(s, tl, it, g->st[k], &g->rs[k], g->nshots[k], err);
	}
	qe_progress_add(tl->progress, missing);
	g->t_fit += t1 - t0;
	g->t_score += t2 - t1;
	g->t_record += qe_now() - t2;
	return rc;
}

/* The level's questions group by group (group_next), up to G groups per
 * qe_runtime_score call, each with its own group id: the runtime splits a
 * group into decodes by the group alone, so an item's numbers do not depend
 * on the call it came in, hence not on where a run was interrupted. */
static int mc_run_level(void *state, struct qe_task_level *tl, struct qe_err *err)
{
	struct mc_state *s = state;
	struct mc_group g;
	size_t n = s->set.n_items, n_skip = 0;
	int rc = 0;

	if (group_init(s, tl->rt, &g) != 0) {
		group_release(&g);
		return qe_fail(err, QE_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < n; i++)
		n_skip += qe_journal_has(tl->journal, s->set.items[i].id);
	qe_progress_skip(tl->progress, n_skip);
	/* a stop (SIGINT, SIGTERM) takes effect between calls: every record of
	 * a scored call is written first */
	for (size_t i = 0; i < n && rc == 0 && !qe_stop_signal();) {
		uint32_t n_groups = 0;
		g.m = 0;
		while (i < n && n_groups < g.G && rc == 0) {
			size_t next = i, start = g.m;
			rc = group_next(s, tl, i, &g, n_groups, &next, err);
			if (g.m > start && call_missing(s, tl, &g, start) > 0)
				n_groups++;
			else
				g.m = start; /* recorded whole (or no question): not scored again */
			i = next;
		}
		if (rc == 0 && g.m > 0)
			rc = group_score(s, tl, &g, err);
	}
	if (rc == 0)
		rc = qe_journal_sync(tl->journal, err);
	if (g.profile)
		fprintf(stderr, "qeval profile: mc prompts %.3f s, score calls %.3f s, records %.3f s\n", g.t_fit, g.t_score,
			g.t_record);
	group_release(&g);
	return rc;
}

/* ---- summaries ------------------------------------------------------------- */

struct lvl_arrays {
	int32_t *pred, *gold;
	uint32_t *subject;
	double *ll;
	unsigned char *scored;
	size_t n_failed, n_truncated;
	double prompt_tok, eval_tok;
};

static void arrays_release(struct lvl_arrays *a)
{
	free(a->pred);
	free(a->gold);
	free(a->subject);
	free(a->ll);
	free(a->scored);
}

static int arrays_fill(const struct mc_state *s, const cJSON *recs, struct lvl_arrays *a, struct qe_err *err)
{
	size_t n = s->set.n_items;
	const cJSON *r;

	memset(a, 0, sizeof(*a));
	a->pred = calloc(n + 1, sizeof(int32_t));
	a->gold = calloc(n + 1, sizeof(int32_t));
	a->subject = calloc(n + 1, sizeof(uint32_t));
	a->ll = calloc(4 * n + 1, sizeof(double));
	a->scored = calloc(n + 1, 1);
	if (!a->pred || !a->gold || !a->subject || !a->ll || !a->scored)
		return qe_fail(err, QE_ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		a->gold[i] = s->set.items[i].gold;
		a->subject[i] = s->set.items[i].subject;
		a->pred[i] = -1;
		for (int c = 0; c < 4; c++)
			a->ll[4 * i + (size_t)c] = NAN;
	}
	cJSON_ArrayForEach(r, recs) {
		long i = find_item(s, qe_json_str(r, "id", ""));
		const cJSON *ll = cJSON_GetObjectItemCaseSensitive(r, "ll");
		const char *status = qe_json_str(r, "status", "");
		if (i < 0)
			continue; /* a record of an item no longer selected */
		if (qe_json_bool(r, "truncated", 0))
			a->n_truncated++;
		if (strcmp(status, "ok") != 0) {
			a->n_failed += strncmp(status, "error", 5) == 0;
			continue;
		}
		a->scored[i] = 1;
		a->pred[i] = (int32_t)qe_json_num(r, "pred", -1);
		for (int c = 0; c < 4 && cJSON_GetArraySize(ll) == 4; c++)
			a->ll[4 * (size_t)i + (size_t)c] = cJSON_GetArrayItem(ll, c)->valuedouble;
		a->prompt_tok += qe_json_num(r, "n_prompt", 0);
		a->eval_tok += qe_json_num(r, "n_eval", 0);
	}
	return 0;
}

static cJSON *pair(double a, double b)
{
	cJSON *p = cJSON_CreateArray();
	cJSON_AddItemToArray(p, qe_json_num_or_null(a));
	cJSON_AddItemToArray(p, qe_json_num_or_null(b));
	return p;
}

static double prop_se(size_t k, size_t n)
{
	double p;
	if (n < 2)
		return NAN;
	p = (double)k / (double)n;
	return sqrt(p * (1 - p) / (double)(n - 1));
}

/* category table: distinct category names of the set's subjects */
static uint32_t build_taxonomy(const struct mc_state *s, const char **cats, uint32_t *cat_of)
{
	uint32_t nc = 0;

	for (size_t j = 0; j < s->set.n_subjects; j++) {
		const char *c = s->set.subjects[j].category ? s->set.subjects[j].category : "unknown";
		uint32_t k;
		for (k = 0; k < nc; k++)
			if (!strcmp(cats[k], c))
				break;
		if (k == nc)
			cats[nc++] = c;
		cat_of[j] = k;
	}
	return nc;
}

static int mc_summarize(void *state, const struct qe_task_levels *lv, cJSON *out, struct qe_err *err)
{
	struct mc_state *s = state;
	struct lvl_arrays *A = calloc(lv->n, sizeof(*A));
	const char **cats = calloc(s->set.n_subjects + 1, sizeof(*cats));
	uint32_t *cat_of = calloc(s->set.n_subjects + 1, sizeof(*cat_of)), nc;
	struct qe_mc_taxonomy tx;
	struct qe_boot_params bp = qe_boot_default_params();
	int rc = 0;

	if (!A || !cats || !cat_of) {
		free(A);
		free(cats);
		free(cat_of);
		return qe_fail(err, QE_ENOMEM, "out of memory");
	}
	nc = build_taxonomy(s, cats, cat_of);
	tx.n_subjects = (uint32_t)s->set.n_subjects;
	tx.n_categories = nc;
	tx.category = cat_of;
	bp.seed = s->seed;
	for (size_t l = 0; l < lv->n && rc == 0; l++)
		rc = arrays_fill(s, lv->records[l], &A[l], err);
	for (size_t l = 0; l < lv->n && rc == 0; l++) {
		struct qe_mc_level L = { .n_items = s->set.n_items, .n_choices = 4, .pred = A[l].pred, .gold = A[l].gold,
					 .subject = A[l].subject, .loglik = A[l].ll, .scored = A[l].scored };
		struct qe_mc_level R = { .n_items = s->set.n_items, .n_choices = 4, .pred = A[lv->ref].pred,
					 .gold = A[lv->ref].gold, .subject = A[lv->ref].subject,
					 .loglik = A[lv->ref].ll, .scored = A[lv->ref].scored };
		struct qe_mc_summary sm;
		cJSON *b = cJSON_AddObjectToObject(out, lv->levels[l].name), *o, *th;
		double wall;

		rc = qe_mc_summarize(&L, &tx, &sm, err);
		if (rc)
			break;
		cJSON_AddNumberToObject(b, QE_MC_N, (double)s->set.n_items);
		cJSON_AddNumberToObject(b, QE_MC_N_SCORED, (double)sm.n_scored);
		cJSON_AddNumberToObject(b, QE_MC_N_CHOICES, 4);
		cJSON_AddNumberToObject(b, QE_MC_N_SHOTS, s->shots);
		cJSON_AddNumberToObject(b, QE_MC_N_FAILED, (double)A[l].n_failed);
		cJSON_AddNumberToObject(b, QE_MC_N_NO_GOLD, (double)s->n_no_gold);
		cJSON_AddNumberToObject(b, QE_MC_N_TRUNCATED, (double)A[l].n_truncated);
		qe_json_add_num(b, QE_MC_ACC, sm.acc_micro);
		qe_json_add_num(b, QE_MC_ACC_STDERR, sm.micro.se);
		cJSON_AddItemToObject(b, QE_MC_ACC_CI95, pair(sm.micro.wilson_lo, sm.micro.wilson_hi)); /* Wilson: open at 0 and 1 */
		qe_json_add_num(b, QE_MC_ACC_MACRO, sm.acc_macro);
		o = cJSON_AddObjectToObject(b, QE_MC_CATEGORIES);
		for (uint32_t c = 0; c < nc; c++) {
			cJSON *g = cJSON_AddObjectToObject(o, cats[c]);
			qe_json_add_num(g, QE_MC_ACC, sm.categories[c].acc);
			cJSON_AddNumberToObject(g, QE_MC_N, (double)sm.categories[c].n);
			qe_json_add_num(g, QE_MC_ACC_MACRO, sm.categories[c].acc_macro);
		}
		if (!strcmp(s->kind, "ceval")) {
			size_t k = 0, nn = 0;
			cJSON *g = cJSON_AddObjectToObject(cJSON_AddObjectToObject(b, QE_MC_GROUPS), QE_MC_GROUP_CEVAL_HARD);
			for (size_t j = 0; j < s->set.n_subjects; j++)
				if (s->set.subjects[j].hard) {
					k += sm.subjects[j].n_correct;
					nn += sm.subjects[j].n;
				}
			qe_json_add_num(g, QE_MC_ACC, nn ? (double)k / (double)nn : NAN);
			cJSON_AddNumberToObject(g, QE_MC_N, (double)nn);
		}
		o = cJSON_AddObjectToObject(b, QE_MC_SUBJECTS);
		for (size_t j = 0; j < s->set.n_subjects; j++) {
			cJSON *g;
			if (s->set.subjects[j].count == 0)
				continue;
			g = cJSON_AddObjectToObject(o, s->set.subjects[j].name);
			qe_json_add_num(g, QE_MC_ACC, sm.subjects[j].acc);
			qe_json_add_num(g, QE_MC_ACC_STDERR, prop_se(sm.subjects[j].n_correct, sm.subjects[j].n));
			cJSON_AddNumberToObject(g, QE_MC_N, (double)sm.subjects[j].n);
			cJSON_AddStringToObject(g, QE_MC_CATEGORY, cats[cat_of[j]]);
		}
		if (l == lv->ref || !lv->ok[lv->ref]) {
			cJSON_AddNullToObject(b, QE_MC_VS_REF);
		} else {
			struct qe_mc_compare cmp;
			rc = qe_mc_compare(&L, &R, &bp, &cmp, err);
			if (rc) {
				qe_mc_summary_release(&sm);
				break;
			}
			o = cJSON_AddObjectToObject(b, QE_MC_VS_REF);
			cJSON_AddNumberToObject(o, QE_MC_N_PAIRED, (double)cmp.n_paired);
			qe_json_add_num(o, QE_MC_DELTA_ACC, cmp.delta);
			cJSON_AddItemToObject(o, QE_MC_DELTA_CI95, pair(cmp.delta_lo, cmp.delta_hi));
			cJSON_AddItemToObject(o, QE_MC_DELTA_BOOT_CI95, pair(cmp.boot_lo, cmp.boot_hi));
			qe_json_add_num(o, QE_MC_MCNEMAR_P, cmp.mcnemar_p);
			cJSON_AddNumberToObject(o, QE_MC_LOST, (double)cmp.n_lost);
			cJSON_AddNumberToObject(o, QE_MC_GAINED, (double)cmp.n_gained);
			qe_json_add_num(o, QE_MC_SAME_ANSWER, cmp.same_answer);
			qe_json_add_num(o, QE_MC_KL_MEAN, cmp.kl_mean);
			qe_json_add_num(o, QE_MC_KL_MAX, cmp.kl_max);
			qe_json_add_num(o, QE_MC_TOP_CHANGED, cmp.top_changed);
		}
		th = cJSON_AddObjectToObject(b, QE_MC_THROUGHPUT);
		wall = qe_task_level_wall(lv, l, s->name);
		cJSON_AddNumberToObject(th, QE_MC_PROMPT_TOKENS, A[l].prompt_tok);
		cJSON_AddNumberToObject(th, QE_MC_PROMPT_EVALUATED, A[l].eval_tok);
		cJSON_AddNumberToObject(th, QE_MC_TOKENS_SAVED, A[l].prompt_tok - A[l].eval_tok);
		qe_json_add_num(th, QE_MC_PROMPT_TPS, wall > 0 ? A[l].eval_tok / wall : NAN);
		qe_json_add_num(th, QE_MC_ITEMS_PER_S, wall > 0 ? (double)sm.n_scored / wall : NAN);
		qe_json_add_num(th, QE_MC_WALL_S, wall);
		qe_mc_summary_release(&sm);
	}
	for (size_t l = 0; l < lv->n; l++)
		arrays_release(&A[l]);
	free(A);
	free(cats);
	free(cat_of);
	return rc;
}

static void mc_describe(void *state, cJSON *out)
{
	struct mc_state *s = state;
	cJSON *t = cJSON_CreateObject(), *ch = cJSON_CreateArray();

	cJSON_AddStringToObject(out, "dir", s->set.root ? s->set.root : "");
	cJSON_AddStringToObject(out, "split", s->set.split);
	cJSON_AddNumberToObject(out, "shots", s->shots);
	cJSON_AddNumberToObject(out, "limit", (double)s->limit);
	cJSON_AddNumberToObject(out, "n_subjects", (double)s->set.n_subjects);
	cJSON_AddStringToObject(t, "header", s->t.header);
	cJSON_AddStringToObject(t, "item", s->t.item);
	cJSON_AddStringToObject(t, "target_delim", s->t.target_delim);
	cJSON_AddStringToObject(t, "join", s->t.join);
	for (int c = 0; c < 4; c++)
		cJSON_AddItemToArray(ch, cJSON_CreateString(s->t.choices[c]));
	cJSON_AddItemToObject(t, "choices", ch);
	cJSON_AddItemToObject(out, "template", t);
}

/* ---- scale-out ------------------------------------------------------------- */

/* bytes of an item's question and choices */
static size_t item_bytes(const struct qe_mc_item *it)
{
	size_t n = strlen(it->question);

	for (int c = 0; c < 4; c++)
		n += it->choices[c] ? strlen(it->choices[c]) : 0;
	return n;
}

/* Item k's id and estimated tokens (its text at ~4 bytes a token; a
 * subject's first item adds its shots, the prefix the subject's groups
 * evaluate once and then reuse); 1 when a subject starts at k: a shard
 * boundary there shares no engine call and no cached prefix with the item
 * before, so every record (n_eval included) is the one run of them all
 * writes. */
static int mc_item(void *state, size_t k, char *id, size_t cap, double *tokens)
{
	const struct mc_state *s = state;
	const struct qe_mc_item *it = &s->set.items[k];
	const struct qe_mc_subject *sj = qe_mc_item_subject(&s->set, it);
	int start = k == 0 || s->set.items[k - 1].subject != it->subject;

	snprintf(id, cap, "%s", it->id);
	*tokens = (double)item_bytes(it) / 4.0 + 8.0;
	for (int j = 0; start && j < s->shots && (size_t)j < sj->n_shots; j++)
		*tokens += (double)item_bytes(&sj->shots[j]) / 4.0 + 8.0;
	return start;
}

static void mc_release(void *state)
{
	struct mc_state *s = state;

	qe_mc_set_release(&s->set);
	free(s->sorted_ids);
	free(s->sorted_idx);
	free(s);
}

const struct qe_task qe_task_mmlu = {
	.name = "mmlu",
	.summary = "MMLU multiple choice (lm-eval protocol: 5-shot, log-likelihood of \" A\"..\" D\")",
	.needs = QE_RT_SCORE,
	.options = mmlu_options,
	.options_size = sizeof(struct mc_opts),
	.prepare = mmlu_prepare,
	.run_level = mc_run_level,
	.summarize = mc_summarize,
	.describe = mc_describe,
	.release = mc_release,
	.view = &qe_view_mmlu,
	.item = mc_item,
};

const struct qe_task qe_task_ceval = {
	.name = "ceval",
	.summary = "C-Eval multiple choice (val split, 5-shot, Chinese template)",
	.needs = QE_RT_SCORE,
	.options = ceval_options,
	.options_size = sizeof(struct mc_opts),
	.prepare = ceval_prepare,
	.run_level = mc_run_level,
	.summarize = mc_summarize,
	.describe = mc_describe,
	.release = mc_release,
	.view = &qe_view_ceval,
	.item = mc_item,
};
