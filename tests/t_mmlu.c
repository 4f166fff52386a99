/* Tests of datasets/mc.h (MMLU and C-Eval loaders) and datasets/subjects.h:
 * the shipped samples, generated quirk folders, and the real sets in
 * ../shared when present. Runs from the repository root. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "datasets/mc.h"
#include "datasets/subjects.h"
#include "tests/tq.h"

#define SAMPLES_MMLU  "datasets/samples/mmlu"
#define SAMPLES_CEVAL "datasets/samples/ceval"

static char tmpdir[256];

/* ---- helpers ---------------------------------------------------------------- */

/* Writes text to tmpdir/<rel>, creating folders on the way. */
static void put(const char *rel, const char *text)
{
	char path[768], *p;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
	for (p = path + strlen(tmpdir) + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		mkdir(path, 0755);
		*p = '/';
	}
	fp = fopen(path, "wb");
	if (!fp || fputs(text, fp) < 0 || fclose(fp) != 0)
		fprintf(stderr, "cannot write %s\n", path);
}

static const char *tmp_path(const char *rel)
{
	static char path[768];

	snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
	return path;
}

static const struct qe_mc_subject *subject(const struct qe_mc_set *s, const char *name)
{
	size_t i;

	for (i = 0; i < s->n_subjects; i++)
		if (strcmp(s->subjects[i].name, name) == 0)
			return &s->subjects[i];
	return NULL;
}

static const struct qe_mc_item *item(const struct qe_mc_set *s, const char *id)
{
	size_t i;

	for (i = 0; i < s->n_items; i++)
		if (strcmp(s->items[i].id, id) == 0)
			return &s->items[i];
	return NULL;
}

/* Every item id is distinct, subjects are sorted and their ranges tile items. */
static void check_shape(const struct qe_mc_set *s)
{
	size_t i, j, next = 0;

	for (i = 0; i < s->n_subjects; i++) {
		TQ_EQ_INT(s->subjects[i].first, next);
		next += s->subjects[i].count;
		if (i)
			TQ_CHECK(strcmp(s->subjects[i - 1].name, s->subjects[i].name) < 0);
		for (j = s->subjects[i].first; j < s->subjects[i].first + s->subjects[i].count; j++)
			TQ_EQ_INT(s->items[j].subject, i);
	}
	TQ_EQ_INT(next, s->n_items);
	if (s->n_items < 2000) {
		for (i = 0; i < s->n_items; i++)
			for (j = i + 1; j < s->n_items; j++)
				if (strcmp(s->items[i].id, s->items[j].id) == 0)
					TQ_FAILF("duplicate id %s", s->items[i].id);
	}
}

static int cmp_cstr(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void check_ids_unique_sorted(const struct qe_mc_set *s)
{
	const char **ids = malloc(s->n_items * sizeof(*ids));
	size_t i, dup = 0;

	for (i = 0; i < s->n_items; i++)
		ids[i] = s->items[i].id;
	qsort(ids, s->n_items, sizeof(*ids), cmp_cstr);
	for (i = 1; i < s->n_items; i++)
		dup += strcmp(ids[i - 1], ids[i]) == 0;
	TQ_EQ_INT(dup, 0);
	free(ids);
}

/* ---- built-in tables ---------------------------------------------------------- */

static void test_subject_tables(void)
{
	size_t n, i, k, nc, per[4] = { 0, 0, 0, 0 }, hard = 0;
	const struct qe_subject_info *t = qe_mmlu_subjects(&n);
	const char *const *cats = qe_mmlu_categories(&nc);

	TQ_EQ_INT(n, 57);
	TQ_EQ_INT(nc, 4);
	for (i = 0; i < n; i++) {
		if (i)
			TQ_CHECK(strcmp(t[i - 1].name, t[i].name) < 0);
		for (k = 0; k < nc; k++)
			if (strcmp(t[i].category, cats[k]) == 0)
				per[k]++;
		TQ_CHECK(qe_subject_find(t, n, t[i].name) == &t[i]);
	}
	/* STEM 18, humanities 13, social sciences 12, other 14 */
	TQ_EQ_INT(per[0], 18);
	TQ_EQ_INT(per[1], 13);
	TQ_EQ_INT(per[2], 12);
	TQ_EQ_INT(per[3], 14);
	TQ_EQ_STR(qe_subject_find(t, n, "abstract_algebra")->english, "abstract algebra");
	TQ_CHECK(qe_subject_find(t, n, "no_such_subject") == NULL);

	t = qe_ceval_subjects(&n);
	cats = qe_ceval_categories(&nc);
	TQ_EQ_INT(n, 52);
	memset(per, 0, sizeof(per));
	for (i = 0; i < n; i++) {
		if (i)
			TQ_CHECK(strcmp(t[i - 1].name, t[i].name) < 0);
		for (k = 0; k < nc; k++)
			if (strcmp(t[i].category, cats[k]) == 0)
				per[k]++;
		hard += t[i].hard;
	}
	/* STEM 20, Social Science 10, Humanities 11, Other 11 */
	TQ_EQ_INT(per[0], 20);
	TQ_EQ_INT(per[1], 10);
	TQ_EQ_INT(per[2], 11);
	TQ_EQ_INT(per[3], 11);
	TQ_EQ_INT(hard, 8);
	TQ_CHECK(qe_subject_find(t, n, "discrete_mathematics")->hard);
	TQ_EQ_STR(qe_subject_find(t, n, "advanced_mathematics")->chinese, "高等数学");
}

static void test_registry(void)
{
	size_t n;

	qe_mc_formats(&n);
	TQ_EQ_INT(n, 2);
	TQ_CHECK(qe_mc_format_find("mmlu") && qe_mc_format_find("mmlu")->load == qe_mmlu_load);
	TQ_EQ_STR(qe_mc_format_find("ceval")->default_split, "val");
	TQ_CHECK(qe_mc_format_find("nope") == NULL);
	TQ_CHECK(qe_mc_format_find(NULL) == NULL);
}

/* ---- samples --------------------------------------------------------------------- */

static void test_sample_mmlu(void)
{
	struct qe_mc_set s;
	struct qe_err e = { 0, "" };
	const struct qe_mc_subject *geo, *nut;
	const struct qe_mc_item *it;

	TQ_EQ_INT(qe_mmlu_load(SAMPLES_MMLU, NULL, &s, &e), 0);
	if (e.code)
		fprintf(stderr, "    %s\n", e.msg);
	TQ_EQ_STR(s.name, "mmlu");
	TQ_EQ_STR(s.split, "test");
	TQ_EQ_INT(s.n_subjects, 3);
	TQ_EQ_INT(s.n_items, 8 + 9 + 8);
	check_shape(&s);
	TQ_EQ_STR(s.subjects[0].name, "elementary_mathematics");
	TQ_EQ_STR(s.subjects[0].category, "STEM");
	geo = subject(&s, "high_school_geography");
	nut = subject(&s, "nutrition");
	TQ_CHECK(geo && nut);
	if (!geo || !nut) {
		qe_mc_set_release(&s);
		return;
	}
	TQ_EQ_STR(geo->display, "high school geography");
	TQ_EQ_STR(geo->category, "social sciences");
	TQ_EQ_STR(geo->subcategory, "geography");
	TQ_EQ_STR(nut->category, "other");
	TQ_EQ_INT(geo->n_shots, 5);
	TQ_EQ_INT(nut->n_shots, 5); /* its dev file lacks a final newline */
	TQ_EQ_STR(nut->shots[4].id, "nutrition/dev/4");
	TQ_EQ_INT(nut->shots[4].gold, 0);
	TQ_EQ_STR(nut->shots[3].choices[3], "Vitamin C");

	/* a quoted comma */
	it = item(&s, "elementary_mathematics/test/1");
	TQ_CHECK(it && strstr(it->question, "24 rolls, and") != NULL);
	/* quoted newlines in a CRLF file; the next record's line follows */
	it = item(&s, "high_school_geography/test/6");
	TQ_CHECK(it && strstr(it->question, "clue:\nThis city") != NULL);
	TQ_EQ_INT(it ? it->line : 0, 7);
	TQ_EQ_INT(it ? it->gold : -9, 1);
	it = item(&s, "high_school_geography/test/7");
	TQ_EQ_INT(it ? it->line : 0, 10);
	TQ_EQ_STR(it ? it->choices[2] : NULL, "Africa");
	/* "" inside a quoted field */
	it = item(&s, "high_school_geography/test/8");
	TQ_EQ_STR(it ? it->question : NULL, "The \"Big Apple\" is a nickname for which city?");
	TQ_EQ_INT(it ? it->gold : -9, 1);
	it = item(&s, "nutrition/test/7");
	TQ_EQ_STR(it ? it->question : NULL, "Both foods in the list below belong to which food group?\n1. cheese\n2. yogurt");
	TQ_EQ_INT(it ? it->gold : -9, 3);
	TQ_EQ_INT(qe_mc_item_subject(&s, it)->n_shots, 5);
	qe_mc_set_release(&s);
	TQ_CHECK(s.items == NULL && s.n_items == 0);
	qe_mc_set_release(&s); /* twice is fine */
}

static void test_sample_mmlu_data_dir_and_opts(void)
{
	struct qe_mc_set s;
	struct qe_err e = { 0, "" };
	struct qe_mc_opts o = qe_mc_default_opts();

	/* DIR may be the folder holding dev/ and test/ */
	TQ_EQ_INT(qe_mmlu_load(SAMPLES_MMLU "/data", NULL, &s, &e), 0);
	TQ_EQ_INT(s.n_items, 25);
	qe_mc_set_release(&s);

	o.limit = 3;
	o.subjects = " nutrition ,elementary_mathematics";
	TQ_EQ_INT(qe_mmlu_load(SAMPLES_MMLU, &o, &s, &e), 0);
	TQ_EQ_INT(s.n_subjects, 2);
	TQ_EQ_INT(s.n_items, 6);
	TQ_EQ_STR(s.subjects[0].name, "elementary_mathematics");
	TQ_EQ_STR(s.subjects[1].name, "nutrition");
	TQ_EQ_INT(s.subjects[1].first, 3);
	TQ_EQ_INT(s.subjects[1].n_shots, 5); /* the limit is not applied to shots */
	TQ_EQ_STR(s.items[5].id, "nutrition/test/2");
	check_shape(&s);
	qe_mc_set_release(&s);

	o = qe_mc_default_opts();
	o.split = "dev";
	TQ_EQ_INT(qe_mmlu_load(SAMPLES_MMLU, &o, &s, &e), 0);
	TQ_EQ_INT(s.n_items, 15);
	TQ_EQ_STR(s.items[0].id, "elementary_mathematics/dev/0");
	qe_mc_set_release(&s);
}

static void test_sample_ceval(void)
{
	struct qe_mc_set s;
	struct qe_err e = { 0, "" };
	struct qe_mc_opts o = qe_mc_default_opts();
	const struct qe_mc_item *it;
	size_t i;

	TQ_EQ_INT(qe_ceval_load(SAMPLES_CEVAL, NULL, &s, &e), 0);
	if (e.code)
		fprintf(stderr, "    %s\n", e.msg);
	TQ_EQ_STR(s.split, "val");
	TQ_EQ_INT(s.n_subjects, 2);
	TQ_EQ_INT(s.n_items, 12);
	check_shape(&s);
	TQ_EQ_STR(s.subjects[0].name, "middle_school_geography");
	TQ_EQ_STR(s.subjects[0].display, "初中地理");
	TQ_EQ_STR(s.subjects[0].english, "Middle School Geography");
	TQ_EQ_STR(s.subjects[0].category, "Social Science");
	TQ_EQ_STR(s.subjects[1].category, "STEM");
	TQ_EQ_INT(s.subjects[1].hard, 0);
	TQ_EQ_INT(s.subjects[0].n_shots, 5);
	TQ_EQ_STR(s.subjects[0].shots[3].choices[3], "东海");
	TQ_EQ_INT(s.subjects[0].shots[3].gold, 3);
	/* CRLF inside a quoted field is kept as published */
	it = item(&s, "middle_school_geography/val/5");
	TQ_CHECK(it && strstr(it->question, "描述：\r\n这个国家") != NULL);
	TQ_EQ_INT(it ? it->gold : -9, 2);
	TQ_EQ_INT(it ? it->line : 0, 7);
	it = item(&s, "middle_school_mathematics/val/5");
	TQ_EQ_STR(it ? it->question : NULL, "计算：\r\n(2 + 3) × 4 = ____");
	TQ_EQ_INT(it ? it->gold : -9, 1);
	qe_mc_set_release(&s);

	/* test: no answer column, so gold is -1 everywhere */
	o.split = "test";
	TQ_EQ_INT(qe_ceval_load(SAMPLES_CEVAL, &o, &s, &e), 0);
	TQ_EQ_INT(s.n_items, 4);
	for (i = 0; i < s.n_items; i++)
		TQ_EQ_INT(s.items[i].gold, -1);
	TQ_EQ_STR(s.items[1].question, "\"世界屋脊\"指的是____。");
	TQ_EQ_INT(s.subjects[1].n_shots, 5);
	qe_mc_set_release(&s);
}

/* ---- generated quirk folders ---------------------------------------------------------- */

static void test_mmlu_quirks(void)
{
	struct qe_mc_set s;
	struct qe_err e = { 0, "" };

	put("q1/data/test/anatomy_test.csv",
	    "\xEF\xBB\xBFq one,a,b,c,d,A\r\n\"q\r\ntwo\",a,b,c,d,B\r\nq three,a,b,c,d, C \r\n"
	    "q three,a,b,c,d, C \r\n\"q, four\",a,b,c,\"d\"\"\",D");
	put("q1/data/dev/anatomy_dev.csv", "s,a,b,c,d,C\n");
	put("q1/data/test/my_own_subject_test.csv", "x,a,b,c,d,A\n");
	TQ_EQ_INT(qe_mmlu_load(tmp_path("q1"), NULL, &s, &e), 0);
	if (e.code)
		fprintf(stderr, "    %s\n", e.msg);
	TQ_EQ_INT(s.n_subjects, 2);
	TQ_EQ_INT(s.n_items, 6);
	check_shape(&s);
	TQ_EQ_STR(s.items[0].question, "q one");
	TQ_EQ_STR(s.items[1].question, "q\r\ntwo");
	TQ_EQ_INT(s.items[2].line, 4);
	TQ_EQ_INT(s.items[2].gold, 2);
	/* a duplicate row is kept, with its own id */
	TQ_EQ_STR(s.items[3].question, "q three");
	TQ_EQ_STR(s.items[3].id, "anatomy/test/3");
	TQ_EQ_STR(s.items[4].question, "q, four");
	TQ_EQ_STR(s.items[4].choices[3], "d\"");
	TQ_EQ_INT(s.items[4].gold, 3);
	TQ_EQ_STR(s.subjects[0].category, "other");
	/* a subject in no table */
	TQ_EQ_STR(s.subjects[1].category, "unknown");
	TQ_EQ_STR(s.subjects[1].display, "my own subject");
	TQ_CHECK(s.subjects[1].shots == NULL && s.subjects[1].n_shots == 0);
	qe_mc_set_release(&s);

	/* subject_categories.json overrides the table; the long "other"
	 * category is shortened */
	put("q1/subject_categories.json",
	    "{\"anatomy\": {\"subcategory\": \"bones\", \"category\": \"other (business, health, misc.)\"},"
	    " \"my_own_subject\": {\"subcategory\": \"x\", \"category\": \"humanities\"}}");
	TQ_EQ_INT(qe_mmlu_load(tmp_path("q1"), NULL, &s, &e), 0);
	TQ_EQ_STR(s.subjects[0].category, "other");
	TQ_EQ_STR(s.subjects[0].subcategory, "bones");
	TQ_EQ_STR(s.subjects[1].category, "humanities");
	qe_mc_set_release(&s);
	/* found next to data/ when DIR is the data folder */
	TQ_EQ_INT(qe_mmlu_load(tmp_path("q1/data"), NULL, &s, &e), 0);
	TQ_EQ_STR(s.subjects[1].category, "humanities");
	qe_mc_set_release(&s);

	put("q1/subject_categories.json", "{\"anatomy\": {\"subcategory\": \"bones\",");
	TQ_EQ_INT(qe_mmlu_load(tmp_path("q1"), NULL, &s, &e), QE_EINPUT);
	TQ_CHECK(strstr(e.msg, "subject_categories.json: malformed JSON") != NULL);
	TQ_CHECK(s.items == NULL && s.subjects == NULL);
	put("q1/subject_categories.json", "{\"anatomy\": [\"health\"]}");
	TQ_EQ_INT(qe_mmlu_load(tmp_path("q1"), NULL, &s, &e), QE_EINPUT);
	TQ_CHECK(strstr(e.msg, "entry 'anatomy'") != NULL);
}

static void test_ceval_quirks(void)
{
	struct qe_mc_set s;
	struct qe_err e = { 0, "" };

	/* columns found by name in any order; BOM before the header */
	put("c1/val/law_val.csv", "\xEF\xBB\xBF" "answer,D,C,B,A,question,id\r\nB,d,c,b,a,\"q\r\n?\",17\r\n");
	put("c1/subject_mapping.json", "{\"law\": [\"Law\", \"法学\", \"Humanities\"]}");
	TQ_EQ_INT(qe_ceval_load(tmp_path("c1"), NULL, &s, &e), 0);
	if (e.code)
		fprintf(stderr, "    %s\n", e.msg);
	TQ_EQ_INT(s.n_items, 1);
	TQ_EQ_STR(s.items[0].id, "law/val/17");
	TQ_EQ_STR(s.items[0].question, "q\r\n?");
	TQ_EQ_STR(s.items[0].choices[0], "a");
	TQ_EQ_STR(s.items[0].choices[3], "d");
	TQ_EQ_INT(s.items[0].gold, 1);
	TQ_EQ_STR(s.subjects[0].display, "法学");
	TQ_EQ_STR(s.subjects[0].category, "Humanities");
	qe_mc_set_release(&s);

	put("c1/subject_mapping.json", "{\"law\": [\"Law\", 3, \"Humanities\"]}");
	TQ_EQ_INT(qe_ceval_load(tmp_path("c1"), NULL, &s, &e), QE_EINPUT);
	TQ_CHECK(strstr(e.msg, "subject_mapping.json: entry 'law'") != NULL);

	put("c2/val/law_val.csv", "id,question,A,B,C\r\n0,q,a,b,c\r\n");
	TQ_EQ_INT(qe_ceval_load(tmp_path("c2"), NULL, &s, &e), QE_EINPUT);
	TQ_CHECK(strstr(e.msg, "law_val.csv:1: header has no 'D' column") != NULL);
}

#define EXPECT_LOAD_FAIL(fn, dir, opts, code, part) do { \
	struct qe_mc_set s_; \
	struct qe_err e_ = { 0, "" }; \
	TQ_EQ_INT(fn(dir, opts, &s_, &e_), code); \
	if (!strstr(e_.msg, part)) TQ_FAILF("message '%s' lacks '%s'", e_.msg, part); \
	TQ_CHECK(s_.items == NULL && s_.n_items == 0 && s_.pool == NULL); \
	qe_mc_set_release(&s_); \
} while (0)

static void test_errors(void)
{
	struct qe_mc_opts o = qe_mc_default_opts();

	put("e1/test/x_test.csv", "q,a,b,c,d,A\nq,a,b,c,d,E\n");
	EXPECT_LOAD_FAIL(qe_mmlu_load, tmp_path("e1"), NULL, QE_EINPUT,
			 "e1/test/x_test.csv:2: bad answer 'E'");
	put("e2/test/x_test.csv", "q,a,b,c,d,A\n\"q\nq\",a,b,c,d,A\nq,a,b,c,A\n");
	EXPECT_LOAD_FAIL(qe_mmlu_load, tmp_path("e2"), NULL, QE_EINPUT,
			 "e2/test/x_test.csv:4: expected 6 fields, got 5");
	put("e3/test/x_test.csv", "q,a,b,c,d,\n");
	EXPECT_LOAD_FAIL(qe_mmlu_load, tmp_path("e3"), NULL, QE_EINPUT, "x_test.csv:1: bad answer ''");
	put("e4/test/x_test.csv", "q,a,b,c,d,A\n\"q,a,b,c,d,A\n");
	EXPECT_LOAD_FAIL(qe_mmlu_load, tmp_path("e4"), NULL, QE_EINPUT,
			 "x_test.csv:2: unterminated quoted field");
	/* a bad dev file fails the load too */
	put("e5/test/x_test.csv", "q,a,b,c,d,A\n");
	put("e5/dev/x_dev.csv", "q,a,b,c,d,a\n");
	EXPECT_LOAD_FAIL(qe_mmlu_load, tmp_path("e5"), NULL, QE_EINPUT, "x_dev.csv:1: bad answer 'a'");
	put("e6/val/x_val.csv", "id,question,A,B,C,D,answer\r\n0,q,a,b,c,d,A,extra\r\n");
	EXPECT_LOAD_FAIL(qe_ceval_load, tmp_path("e6"), NULL, QE_EINPUT,
			 "x_val.csv:2: expected 7 fields, got 8");

	EXPECT_LOAD_FAIL(qe_mmlu_load, tmp_path("no_such_dir"), NULL, QE_ENOENT, "no_such_dir");
	/* a file where the folder should be */
	EXPECT_LOAD_FAIL(qe_mmlu_load, tmp_path("e1/test/x_test.csv"), NULL, QE_ENOENT, "no folder");
	o.split = "val";
	EXPECT_LOAD_FAIL(qe_mmlu_load, tmp_path("e1"), &o, QE_ENOENT, "has no 'val' split");
	o.split = "../x";
	EXPECT_LOAD_FAIL(qe_mmlu_load, tmp_path("e1"), &o, QE_EINVAL, "bad split");
	o = qe_mc_default_opts();
	o.subjects = "nutrition,astrology";
	EXPECT_LOAD_FAIL(qe_mmlu_load, SAMPLES_MMLU, &o, QE_ENOENT, "no subject 'astrology'");
	put("e7/test/readme.txt", "nothing here\n");
	EXPECT_LOAD_FAIL(qe_mmlu_load, tmp_path("e7"), NULL, QE_ENOENT, "no *_test.csv files");
	EXPECT_LOAD_FAIL(qe_ceval_load, SAMPLES_MMLU, NULL, QE_ENOENT, "no 'val' split");
}

/* ---- real data ----------------------------------------------------------------------- */

static int real_dir(char *buf, size_t cap, const char *set)
{
	struct stat st;

	snprintf(buf, cap, "%s/datasets/%s", tq_shared(), set);
	return stat(buf, &st) == 0 && S_ISDIR(st.st_mode);
}

static void test_real_mmlu(void)
{
	static const char *const splits[] = { "dev", "val", "test" };
	static const size_t want[] = { 285, 1531, 14042 };
	struct qe_mc_opts o = qe_mc_default_opts();
	struct qe_err e = { 0, "" };
	struct qe_mc_set s;
	char dir[1024];
	const struct qe_mc_item *it;
	size_t i, k;

	if (!real_dir(dir, sizeof(dir), "mmlu"))
		TQ_SKIP("%s absent", dir);
	for (i = 0; i < 3; i++) {
		o.split = splits[i];
		TQ_EQ_INT(qe_mmlu_load(dir, &o, &s, &e), 0);
		if (e.code)
			fprintf(stderr, "    %s\n", e.msg);
		TQ_EQ_INT(s.n_items, want[i]);
		TQ_EQ_INT(s.n_subjects, 57);
		check_shape(&s);
		check_ids_unique_sorted(&s);
		if (i == 0) {
			/* a quoted field with CRLF inside (dev college_mathematics row 2) */
			it = item(&s, "college_mathematics/dev/2");
			TQ_CHECK(it && strstr(it->question, "must be true?\r\nI. ") != NULL);
			TQ_EQ_INT(it ? it->gold : -9, 1);
		}
		if (i == 2) {
			for (k = 0; k < s.n_subjects; k++)
				TQ_EQ_INT(s.subjects[k].n_shots, 5);
			TQ_EQ_STR(subject(&s, "high_school_us_history")->category, "humanities");
			TQ_EQ_STR(subject(&s, "anatomy")->category, "other");
			TQ_EQ_STR(subject(&s, "anatomy")->subcategory, "health");
		}
		qe_mc_set_release(&s);
	}
}

static void test_real_ceval(void)
{
	static const char *const splits[] = { "dev", "val", "test" };
	static const size_t want[] = { 260, 1346, 12342 };
	struct qe_mc_opts o = qe_mc_default_opts();
	struct qe_err e = { 0, "" };
	struct qe_mc_set s;
	char dir[1024];
	size_t i, k, gold_missing, hard;

	if (!real_dir(dir, sizeof(dir), "ceval"))
		TQ_SKIP("%s absent", dir);
	for (i = 0; i < 3; i++) {
		o.split = splits[i];
		TQ_EQ_INT(qe_ceval_load(dir, &o, &s, &e), 0);
		if (e.code)
			fprintf(stderr, "    %s\n", e.msg);
		TQ_EQ_INT(s.n_items, want[i]);
		TQ_EQ_INT(s.n_subjects, 52);
		check_shape(&s);
		check_ids_unique_sorted(&s);
		for (k = gold_missing = 0; k < s.n_items; k++)
			gold_missing += s.items[k].gold < 0;
		TQ_EQ_INT(gold_missing, i == 2 ? s.n_items : 0);
		for (k = hard = 0; k < s.n_subjects; k++)
			hard += s.subjects[k].hard;
		TQ_EQ_INT(hard, 8);
		TQ_EQ_STR(subject(&s, "college_physics")->display, "大学物理");
		TQ_EQ_STR(subject(&s, "college_physics")->category, "STEM");
		qe_mc_set_release(&s);
	}
}

int main(void)
{
	char tmpl[] = "/tmp/t_mmlu.XXXXXX";
	char cmd[600];

	if (!mkdtemp(tmpl)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(tmpdir, sizeof(tmpdir), "%s", tmpl);
	TQ_RUN(test_subject_tables);
	TQ_RUN(test_registry);
	TQ_RUN(test_sample_mmlu);
	TQ_RUN(test_sample_mmlu_data_dir_and_opts);
	TQ_RUN(test_sample_ceval);
	TQ_RUN(test_mmlu_quirks);
	TQ_RUN(test_ceval_quirks);
	TQ_RUN(test_errors);
	TQ_RUN(test_real_mmlu);
	TQ_RUN(test_real_ceval);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "note: could not remove %s\n", tmpdir);
	return tq_done("t_mmlu");
}
