/* Tests of the typed plan (harness/plan.h), option tables
 * (harness/base/optab.h) and the flags `qeval run` builds from them. */
#include "tests/tq.h"
#include "tests/tq_exec.h"
#include "harness/base/json.h"
#include "harness/base/optab.h"
#include "harness/plan.h"

#include <stddef.h>
#include <unistd.h>

static char g_tmp[256];
static char g_out[65536], g_errtxt[65536];

/* ---- option tables ------------------------------------------------------------ */

struct t_opts {
	long n;
	double x;
	const char *s, *word;
	int b;
	struct qe_ints ks;
	const cJSON *j;
};

static int check_even(const cJSON *v, void *field, struct qe_err *err)
{
	return *(long *)field % 2 ? qe_fail(err, QE_EINVAL, "must be even") : 0;
}

static const char *const words[] = { "mean", "cls", NULL };

static const struct qe_optab tab[] = {
	{ "n", QE_OT_INT, offsetof(struct t_opts, n), "4", 0, 100, "a count", "N", 0, NULL, check_even },
	{ "x", QE_OT_NUM, offsetof(struct t_opts, x), "0.5", 0, 0, "a number", NULL, 0, NULL, NULL },
	{ "s", QE_OT_STR, offsetof(struct t_opts, s), "test", 0, 0, "a string", NULL, 0, NULL, NULL },
	{ "word", QE_OT_ENUM, offsetof(struct t_opts, word), "mean", 0, 0, "a word", NULL, 0, words, NULL },
	{ "b", QE_OT_BOOL, offsetof(struct t_opts, b), "true", 0, 0, "a switch", NULL, 0, NULL, NULL },
	{ "ks", QE_OT_INTS, offsetof(struct t_opts, ks), "[1,5]", 1, 1000, "cut-offs", NULL, 0, NULL, NULL },
	{ "j", QE_OT_JSON, offsetof(struct t_opts, j), NULL, 0, 0, "anything", NULL, 0, NULL, NULL },
	{ NULL, 0, 0, NULL, 0, 0, NULL, NULL, 0, NULL, NULL },
};

/* read JSON text through tab; the message into msg */
static int read_text(const char *json, struct t_opts *o, char *msg, size_t cap)
{
	struct qe_err err = { 0 };
	cJSON *j = cJSON_Parse(json);
	int rc = qe_optab_read(tab, j, NULL, o, "t", &err);

	snprintf(msg, cap, "%s", err.msg);
	/* strings are borrowed from j: tests look at numbers after this */
	cJSON_Delete(j);
	return rc;
}

static void test_optab_defaults_and_types(void)
{
	struct t_opts o;
	char msg[QE_ERR_MSG];
	struct qe_err err = { 0 };

	TQ_EQ_INT(qe_optab_defaults(tab, &o, &err), 0);
	TQ_EQ_INT(o.n, 4);
	TQ_NEAR(o.x, 0.5, 0);
	TQ_EQ_STR(o.s, "test");
	TQ_EQ_STR(o.word, "mean");
	TQ_EQ_INT(o.b, 1);
	TQ_EQ_INT(o.ks.n, 2);
	TQ_EQ_INT(o.ks.v[1], 5);
	TQ_CHECK(o.j == NULL);

	TQ_EQ_INT(read_text("{\"n\":10,\"x\":-2.5,\"b\":false,\"ks\":\"1,5/10\"}", &o, msg, sizeof(msg)), 0);
	TQ_EQ_INT(o.n, 10);
	TQ_NEAR(o.x, -2.5, 0);
	TQ_EQ_INT(o.b, 0);
	TQ_EQ_INT(o.ks.n, 3);
	TQ_EQ_INT(o.ks.v[2], 10);
	/* null = the default */
	TQ_EQ_INT(read_text("{\"n\":null}", &o, msg, sizeof(msg)), 0);
	TQ_EQ_INT(o.n, 4);
}

static void test_optab_errors_name_the_path(void)
{
	struct t_opts o;
	char msg[QE_ERR_MSG];

	TQ_EQ_INT(read_text("{\"nn\":2}", &o, msg, sizeof(msg)), QE_EINVAL);
	TQ_CHECK(strstr(msg, "t: unknown option 'nn'") && strstr(msg, "did you mean 'n'"));
	TQ_EQ_INT(read_text("{\"zzzz\":2}", &o, msg, sizeof(msg)), QE_EINVAL);
	TQ_CHECK(strstr(msg, "known: n, x, s, word, b, ks, j") != NULL);
	TQ_EQ_INT(read_text("{\"n\":\"two\"}", &o, msg, sizeof(msg)), QE_EINVAL);
	TQ_CHECK(strstr(msg, "t.n: expected a whole number in 0..100, got \"two\"") != NULL);
	TQ_EQ_INT(read_text("{\"n\":2.5}", &o, msg, sizeof(msg)), QE_EINVAL);
	TQ_EQ_INT(read_text("{\"n\":101}", &o, msg, sizeof(msg)), QE_EINVAL);
	TQ_EQ_INT(read_text("{\"n\":3}", &o, msg, sizeof(msg)), QE_EINVAL);
	TQ_CHECK(strstr(msg, "t.n: must be even") != NULL);
	TQ_EQ_INT(read_text("{\"x\":true}", &o, msg, sizeof(msg)), QE_EINVAL);
	TQ_EQ_INT(read_text("{\"s\":5}", &o, msg, sizeof(msg)), QE_EINVAL);
	TQ_EQ_INT(read_text("{\"word\":\"max\"}", &o, msg, sizeof(msg)), QE_EINVAL);
	TQ_CHECK(strstr(msg, "'max' is not one of mean, cls") != NULL);
	TQ_EQ_INT(read_text("{\"b\":1}", &o, msg, sizeof(msg)), QE_EINVAL);
	TQ_EQ_INT(read_text("{\"ks\":[1,0]}", &o, msg, sizeof(msg)), QE_EINVAL);
	TQ_EQ_INT(read_text("{\"ks\":[]}", &o, msg, sizeof(msg)), QE_EINVAL);
	TQ_EQ_INT(read_text("{\"n\":2,\"n\":4}", &o, msg, sizeof(msg)), QE_EINVAL);
	TQ_CHECK(strstr(msg, "t.n: given twice") != NULL);
	TQ_EQ_INT(read_text("[1]", &o, msg, sizeof(msg)), QE_EINVAL);
}

static void test_optab_values_from_text(void)
{
	struct qe_err err = { 0 };
	cJSON *v;

	v = qe_optab_value_from_text(&tab[0], "12", "--n", &err);
	TQ_CHECK(cJSON_IsNumber(v) && v->valuedouble == 12);
	cJSON_Delete(v);
	TQ_CHECK(qe_optab_value_from_text(&tab[0], "12x", "--n", &err) == NULL);
	TQ_CHECK(strstr(err.msg, "--n: '12x' is not a whole number") != NULL);
	v = qe_optab_value_from_text(&tab[5], "1,5,10", "--ks", &err);
	TQ_EQ_INT(cJSON_GetArraySize(v), 3);
	cJSON_Delete(v);
	v = qe_optab_value_from_text(&tab[4], "false", "--b", &err);
	TQ_CHECK(cJSON_IsFalse(v));
	cJSON_Delete(v);
}

static void test_closest_word(void)
{
	static const char *const w[] = { "model", "levels", "threads", "subjects", NULL };

	TQ_EQ_STR(qe_closest_word("modle", w, 4), "model");
	TQ_EQ_STR(qe_closest_word("thread", w, 4), "threads");
	TQ_EQ_STR(qe_closest_word("subject", w, 4), "subjects");
	TQ_CHECK(qe_closest_word("xyz", w, 4) == NULL);
	TQ_CHECK(qe_closest_word("ab", w, 4) == NULL);
}

/* ---- the plan ------------------------------------------------------------------ */

static int plan_text(const char *json, struct qe_plan *p, char *msg, size_t cap)
{
	struct qe_err err = { 0 };
	cJSON *j = cJSON_Parse(json);
	int rc;

	if (!j) {
		snprintf(msg, cap, "bad JSON in the test");
		memset(p, 0, sizeof(*p));
		return -100;
	}
	rc = qe_plan_from_json(p, j, &err);
	snprintf(msg, cap, "%s", err.msg);
	return rc;
}

static void test_plan_typed_values(void)
{
	struct qe_plan p;
	char msg[QE_ERR_MSG];
	const struct qe_task_spec *t;

	TQ_EQ_INT(plan_text("{\"model\":\"m.gguf\",\"levels\":[\"F16\",{\"name\":\"x\"}],\"limit\":3,\"seed\":7,"
			    "\"runtime\":{\"threads\":2,\"ngl\":-1},"
			    "\"tasks\":[{\"task\":\"mmlu\",\"dir\":\"d\"},{\"task\":\"speed\",\"seed\":9,\"reps\":2}]}",
			    &p, msg, sizeof(msg)), 0);
	TQ_EQ_STR(p.model, "m.gguf");
	TQ_EQ_INT(p.limit, 3);
	TQ_EQ_INT(p.seed, 7);
	TQ_EQ_INT(p.isolate, 1);
	TQ_EQ_INT(p.rt.threads, 2);
	TQ_EQ_INT(p.rt.ngl, -1);
	TQ_EQ_INT(p.rt.prefix_reuse, 1);
	TQ_EQ_STR(p.rt.name, "llamacpp");
	TQ_EQ_INT(p.n_tasks, 2);
	t = &p.tasks[0];
	TQ_EQ_STR(t->name, "mmlu");
	TQ_EQ_INT(t->limit, 3);  /* the plan's */
	TQ_EQ_INT(t->seed, 7);
	/* written into the task's object, so plan.json says what it used */
	TQ_EQ_INT(qe_json_num(t->json, "limit", 0), 3);
	TQ_EQ_INT(p.tasks[1].seed, 9); /* its own */
	qe_plan_release(&p);
}

static void test_plan_errors(void)
{
	static const struct {
		const char *json, *want;
	} cases[] = {
		{ "{\"modle\":\"m\"}", "plan: unknown option 'modle' (did you mean 'model'?)" },
		{ "{\"limit\":\"two\"}", "plan.limit: expected a whole number" },
		{ "{\"runtime\":{\"thread\":2}}", "plan.runtime: unknown option 'thread' (did you mean 'threads'?)" },
		{ "{\"runtime\":{\"ngl\":-2}}", "plan.runtime.ngl: expected a whole number in -1..100000" },
		{ "{\"levels\":\"F16\"}", "plan.levels: expected an array" },
		{ "{\"levels\":[\"F16\",3]}", "plan.levels[1]: expected a string" },
		{ "{\"tasks\":{}}", "plan.tasks: expected an array" },
		{ "{\"tasks\":[{\"dir\":\"x\"}]}", "plan.tasks[0]: needs a \"task\" name" },
		{ "{\"tasks\":[{\"task\":\"mmul\"}]}", "plan.tasks[0]: unknown task 'mmul' (did you mean 'mmlu'?)" },
		{ "{\"tasks\":[{\"task\":\"mmlu\",\"shotz\":1}]}", "plan.tasks[0]: unknown option 'shotz' (did you mean 'shots'?)" },
		{ "{\"tasks\":[{\"task\":\"mmlu\",\"shots\":65}]}", "plan.tasks[0].shots: expected a whole number in 0..64" },
		{ "{\"tasks\":[{\"task\":\"mmlu\",\"limit\":-1}]}", "plan.tasks[0].limit: expected a whole number >= 0" },
		{ "{\"tasks\":[{\"task\":\"mmlu\",\"template\":{\"choices\":[1,2]}}]}", "plan.tasks[0].template: template.choices must be 4 strings" },
		{ "{\"tasks\":[{\"task\":\"speed\",\"pp\":[0]}]}", "plan.tasks[0].pp: 'pp' sizes must be whole token counts" },
		{ "{\"tasks\":[{\"task\":\"pairs\",\"kind\":\"ternary\"}]}", "plan.tasks[0].kind: 'ternary' is not one of auto, binary, graded" },
		{ "{\"tasks\":[{\"task\":\"mmlu\"},{\"task\":\"mmlu\"}]}", "two tasks are named 'mmlu'" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct qe_plan p;
		char msg[QE_ERR_MSG];
		int rc = plan_text(cases[i].json, &p, msg, sizeof(msg));
		if (rc != QE_EINVAL || !strstr(msg, cases[i].want))
			TQ_FAILF("%s: rc %d, message '%s', want '%s'", cases[i].json, rc, msg, cases[i].want);
		qe_plan_release(&p);
	}
}

/* ---- flags of `qeval run` -------------------------------------------------------- */

static cJSON *run_plan_json(const char *extra, int *rc)
{
	char args[2048], path[512];
	const char *fx = getenv("QE_FIXTURES");
	cJSON *plan = NULL;
	static int n;

	snprintf(args, sizeof(args),
		 "run -m %s/tiny-llama-f16.gguf -l F16 --limit 1 -q --no-summary -o %s/r%d "
		 "--mmlu datasets/samples/mmlu --ceval datasets/samples/ceval %s",
		 fx ? fx : "build/fixtures", g_tmp, n, extra);
	*rc = tq_qeval(g_tmp, args, g_out, sizeof(g_out), g_errtxt, sizeof(g_errtxt));
	snprintf(path, sizeof(path), "%s/r%d/plan.json", g_tmp, n++);
	if (*rc == 0 && qe_json_read_file(path, &plan, NULL) != 0)
		plan = NULL;
	return plan;
}

static const cJSON *task_of(const cJSON *plan, const char *name)
{
	const cJSON *t;

	cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(plan, "tasks"))
		if (!strcmp(qe_json_str(t, "name", ""), name))
			return t;
	return NULL;
}

static void test_flags_per_task_and_shared(void)
{
	int rc;
	cJSON *p = run_plan_json("--mmlu-shots 3 --ceval-subjects middle_school_geography --mmlu-subjects nutrition", &rc);

	TQ_EQ_INT(rc, 0);
	if (!p) {
		TQ_FAILF("no plan.json: %s", g_errtxt);
		return;
	}
	TQ_EQ_INT(qe_json_num(task_of(p, "mmlu"), "shots", -1), 3);
	TQ_EQ_INT(qe_json_num(task_of(p, "ceval"), "shots", -1), -1); /* not given: the default */
	TQ_EQ_STR(qe_json_str(task_of(p, "mmlu"), "subjects", ""), "nutrition");
	TQ_EQ_STR(qe_json_str(task_of(p, "ceval"), "subjects", ""), "middle_school_geography");
	cJSON_Delete(p);

	p = run_plan_json("--shots 2", &rc);
	TQ_EQ_INT(rc, 0);
	TQ_EQ_INT(qe_json_num(task_of(p, "mmlu"), "shots", -1), 2);
	TQ_EQ_INT(qe_json_num(task_of(p, "ceval"), "shots", -1), 2);
	cJSON_Delete(p);

	/* --subjects means different lists to two tasks: refused, naming the flags to use */
	p = run_plan_json("--subjects nutrition", &rc);
	TQ_EQ_INT(rc, 2);
	TQ_CHECK(strstr(g_errtxt, "--mmlu-subjects") && strstr(g_errtxt, "--ceval-subjects"));
	cJSON_Delete(p);
}

static void test_flag_typos_and_values(void)
{
	char args[256];

	snprintf(args, sizeof(args), "run --modle x.gguf");
	TQ_EQ_INT(tq_qeval(g_tmp, args, g_out, sizeof(g_out), g_errtxt, sizeof(g_errtxt)), 2);
	TQ_CHECK(strstr(g_errtxt, "did you mean '--model'") != NULL);
	TQ_CHECK(strchr(g_errtxt, '\n') == strrchr(g_errtxt, '\n')); /* one line */
	snprintf(args, sizeof(args), "run --mmlu-shots five");
	TQ_EQ_INT(tq_qeval(g_tmp, args, g_out, sizeof(g_out), g_errtxt, sizeof(g_errtxt)), 2);
	TQ_CHECK(strstr(g_errtxt, "--mmlu-shots: 'five' is not a whole number in 0..64") != NULL);
	snprintf(args, sizeof(args), "run --tasks mmul");
	TQ_EQ_INT(tq_qeval(g_tmp, args, g_out, sizeof(g_out), g_errtxt, sizeof(g_errtxt)), 2);
	TQ_CHECK(strstr(g_errtxt, "did you mean 'mmlu'") != NULL);
}

static void test_help_from_the_tables(void)
{
	TQ_EQ_INT(tq_qeval(g_tmp, "run --help", g_out, sizeof(g_out), g_errtxt, sizeof(g_errtxt)), 0);
	/* every task's options, from its table */
	for (const struct qe_task *const *t = qe_task_registry; *t; t++)
		for (const struct qe_optab *o = (*t)->options; o && o->key; o++) {
			char flag[128];
			if (o->flags & QE_OF_NOFLAG)
				continue;
			if (o->flags & QE_OF_MAIN)
				snprintf(flag, sizeof(flag), "--%s ", (*t)->name);
			else
				snprintf(flag, sizeof(flag), "--%s-%s", (*t)->name, o->key);
			for (char *c = flag; *c; c++)
				if (*c == '_')
					*c = '-';
			if (!strstr(g_out, flag))
				TQ_FAILF("--help lacks %s", flag);
		}
	TQ_CHECK(strstr(g_out, "--threads") && strstr(g_out, "--no-isolate"));
}

int main(void)
{
	char cmd[300];

	snprintf(g_tmp, sizeof(g_tmp), "/tmp/qe-t-plan-XXXXXX");
	if (!mkdtemp(g_tmp))
		return 1;
	TQ_RUN(test_optab_defaults_and_types);
	TQ_RUN(test_optab_errors_name_the_path);
	TQ_RUN(test_optab_values_from_text);
	TQ_RUN(test_closest_word);
	TQ_RUN(test_plan_typed_values);
	TQ_RUN(test_plan_errors);
	TQ_RUN(test_flags_per_task_and_shared);
	TQ_RUN(test_flag_typos_and_values);
	TQ_RUN(test_help_from_the_tables);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_tmp);
	if (system(cmd) != 0)
		return 1;
	return tq_done("t_plan");
}
