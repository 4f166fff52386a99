/* Tests of datasets/pairs.h: the shipped samples, generated files with each
 * quirk of the real pair sets, and the real files in ../shared when
 * present. Runs from the repository root. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "datasets/pairs.h"
#include "tests/tq.h"

static char tmpdir[256];

static const char *put(const char *name, const char *text, int gz)
{
	static char path[512];
	size_t len = strlen(text);

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	if (gz) {
		gzFile g = gzopen(path, "wb");

		if (!g || gzwrite(g, text, (unsigned)len) != (int)len || gzclose(g) != Z_OK)
			fprintf(stderr, "cannot write %s\n", path);
	} else {
		FILE *fp = fopen(path, "wb");

		if (!fp || fwrite(text, 1, len, fp) != len || fclose(fp) != 0)
			fprintf(stderr, "cannot write %s\n", path);
	}
	return path;
}

static const char *s1_of(const struct qe_pair_set *s, size_t i)
{
	return i < s->n_pairs ? s->sents[s->pairs[i].s1] : NULL;
}

static const char *s2_of(const struct qe_pair_set *s, size_t i)
{
	return i < s->n_pairs ? s->sents[s->pairs[i].s2] : NULL;
}

/* Indices in range and the sentence table free of duplicates. */
static void check_shape(const struct qe_pair_set *s)
{
	size_t i, j;

	for (i = 0; i < s->n_pairs; i++) {
		TQ_CHECK(s->pairs[i].s1 < s->n_sents);
		TQ_CHECK(s->pairs[i].s2 < s->n_sents);
		TQ_CHECK(s->pairs[i].label >= s->label_min && s->pairs[i].label <= s->label_max);
	}
	if (s->n_sents <= 3000)
		for (i = 0; i < s->n_sents; i++)
			for (j = i + 1; j < s->n_sents; j++)
				if (strcmp(s->sents[i], s->sents[j]) == 0)
					TQ_FAILF("sentence %zu and %zu are the same", i, j);
	TQ_CHECK(s->kind == QE_LABEL_BINARY || s->kind == QE_LABEL_GRADED);
}

#define LOAD_OK(path, opts, set) do { \
	struct qe_err e_ = { 0, "" }; \
	int rc_ = qe_pairs_load(path, opts, set, &e_); \
	TQ_EQ_INT(rc_, 0); \
	if (rc_) fprintf(stderr, "    %s\n", e_.msg); \
	else check_shape(set); \
} while (0)

#define LOAD_FAIL(path, opts, code, part) do { \
	struct qe_pair_set s_; \
	struct qe_err e_ = { 0, "" }; \
	TQ_EQ_INT(qe_pairs_load(path, opts, &s_, &e_), code); \
	if (!strstr(e_.msg, part)) TQ_FAILF("message '%s' lacks '%s'", e_.msg, part); \
	TQ_CHECK(s_.pairs == NULL && s_.n_pairs == 0 && s_.pool == NULL); \
	qe_pair_set_release(&s_); \
} while (0)

/* ---- samples ------------------------------------------------------------------ */

static void test_sample_zh(void)
{
	struct qe_pair_set s;
	size_t i, ones = 0;

	LOAD_OK("datasets/samples/pairs_zh.tsv", NULL, &s);
	TQ_EQ_INT(s.n_pairs, 40);
	TQ_EQ_STR(s.format, "tsv");
	TQ_EQ_INT(s.kind, QE_LABEL_BINARY);
	TQ_NEAR(s.label_min, 0.0, 0.0);
	TQ_NEAR(s.label_max, 1.0, 0.0);
	for (i = 0; i < s.n_pairs; i++)
		ones += s.pairs[i].label == 1.0;
	TQ_EQ_INT(ones, 20);
	/* the first sentences repeat in the negative half: stored once */
	TQ_CHECK(s.n_sents < 80);
	TQ_EQ_INT(s.pairs[20].s1, s.pairs[0].s1);
	/* literal quotes, quoting off */
	TQ_EQ_STR(s1_of(&s, 38), "书名叫\"小王子\"");
	TQ_EQ_STR(s2_of(&s, 38), "\"小王子\"的作者是谁");
	TQ_EQ_INT(s.pairs[38].line, 39);
	qe_pair_set_release(&s);
	TQ_CHECK(s.sents == NULL && s.n_pairs == 0);
}

static void test_sample_en(void)
{
	struct qe_pair_set s;

	LOAD_OK("datasets/samples/pairs_en.tsv", NULL, &s);
	TQ_EQ_INT(s.n_pairs, 40);
	TQ_EQ_INT(s.kind, QE_LABEL_GRADED);
	TQ_NEAR(s.label_min, 0.0, 0.0);
	TQ_NEAR(s.label_max, 5.0, 0.0);
	TQ_EQ_STR(s1_of(&s, 0), "A man is riding a bicycle.");
	TQ_EQ_INT(s.pairs[0].line, 2);
	TQ_EQ_STR(s1_of(&s, 20), "He said \"hello\" to his neighbour.");
	TQ_NEAR(s.pairs[20].label, 4.4, 1e-12);
	qe_pair_set_release(&s);
}

/* ---- generated files --------------------------------------------------------- */

static void test_tsv_plain(void)
{
	struct qe_pair_set s;
	struct qe_pairs_opts o = qe_pairs_default_opts();

	/* LCQMC / STS-B zh shape; CRLF; no final newline; BOM */
	LOAD_OK(put("a.data", "\xEF\xBB\xBFq1\tq2\t1\r\nq1\tq3\t0\r\nq3\t\"q4\t1", 0), NULL, &s);
	TQ_EQ_INT(s.n_pairs, 3);
	TQ_EQ_INT(s.n_sents, 4);
	TQ_EQ_STR(s1_of(&s, 0), "q1");
	TQ_EQ_STR(s2_of(&s, 2), "\"q4");
	TQ_EQ_INT(s.pairs[2].line, 3);
	TQ_EQ_INT(s.kind, QE_LABEL_BINARY);
	qe_pair_set_release(&s);

	/* integer scores: graded */
	LOAD_OK(put("b.data", "x\ty\t3\nx\tz\t0\n", 0), NULL, &s);
	TQ_EQ_INT(s.kind, QE_LABEL_GRADED);
	TQ_NEAR(s.label_max, 3.0, 0.0);
	qe_pair_set_release(&s);

	/* forced kind and limit */
	o.kind = QE_LABEL_GRADED;
	o.limit = 1;
	LOAD_OK(put("c.data", "x\ty\t1\nx\tz\t0\n", 0), &o, &s);
	TQ_EQ_INT(s.n_pairs, 1);
	TQ_EQ_INT(s.n_sents, 2);
	TQ_EQ_INT(s.kind, QE_LABEL_GRADED);
	qe_pair_set_release(&s);
}

static void test_senteval_shape(void)
{
	struct qe_pair_set s;
	struct qe_pairs_opts o = qe_pairs_default_opts();

	/* no header, TAB, 7 fields and some rows with 9, literal quotes */
	const char *p = put("sts-test.csv",
			    "main-captions\tMSRvid\t2012test\t0024\t2.500\tA \"girl\" is here.\tA girl is.\n"
			    "main-news\theadlines\t2015\t0001\t0.000\tOne, two.\tThree.\tsrc1\tsrc2\n", 0);

	o.col_s1 = "5";
	o.col_s2 = "6";
	o.col_label = "4";
	LOAD_OK(p, &o, &s);
	TQ_EQ_STR(s.format, "tsv"); /* .csv name, but TABs in the first line */
	TQ_EQ_INT(s.n_pairs, 2);
	TQ_EQ_STR(s1_of(&s, 0), "A \"girl\" is here.");
	TQ_EQ_STR(s1_of(&s, 1), "One, two.");
	TQ_NEAR(s.pairs[0].label, 2.5, 0.0);
	qe_pair_set_release(&s);
}

static void test_gz_header_filter(void)
{
	struct qe_pair_set s;
	struct qe_pairs_opts o = qe_pairs_default_opts();
	const char *p = put("sts.tsv.gz",
			    "split\tgenre\tdataset\tyear\tsid\tscore\tsentence1\tsentence2\r\n"
			    "train\tg\td\ty\t1\t5.000\tA plane.\tAn air plane.\r\n"
			    "test\tg\td\ty\t2\t2.500\tA \"girl\".\tA girl.\r\n"
			    "test\tg\td\ty\t3\t0.000\tA girl.\tA plane.\r\n", 1);

	o.filter = "split=test";
	LOAD_OK(p, &o, &s);
	TQ_EQ_INT(s.n_pairs, 2);
	TQ_EQ_STR(s1_of(&s, 0), "A \"girl\".");
	TQ_EQ_INT(s.pairs[0].line, 3);
	TQ_EQ_INT(s.n_sents, 3); /* "A girl." appears twice */
	TQ_EQ_INT(s.kind, QE_LABEL_GRADED);
	qe_pair_set_release(&s);
	/* filter by index needs no names */
	o.filter = "0=train";
	LOAD_OK(p, &o, &s);
	TQ_EQ_INT(s.n_pairs, 1);
	qe_pair_set_release(&s);
	o.filter = "split=tset";
	LOAD_FAIL(p, &o, QE_EINPUT, "no row matched filter 'split=tset'");
}

static void test_csv_quoted_header_named(void)
{
	struct qe_pair_set s;
	struct qe_pairs_opts o = qe_pairs_default_opts();
	const char *p = put("p.csv",
			    "id,left,right,gold\n1,\"a, b\",\"c\"\"d\",1\n2,\"multi\nline\",e,0\n3,e,f,1\n", 0);

	o.col_s1 = "left";
	o.col_s2 = "right";
	o.col_label = "gold";
	LOAD_OK(p, &o, &s);
	TQ_EQ_STR(s.format, "csv");
	TQ_EQ_INT(s.n_pairs, 3);
	TQ_EQ_STR(s1_of(&s, 0), "a, b");
	TQ_EQ_STR(s2_of(&s, 0), "c\"d");
	TQ_EQ_STR(s1_of(&s, 1), "multi\nline");
	TQ_EQ_INT(s.pairs[2].line, 5);
	TQ_EQ_INT(s.kind, QE_LABEL_BINARY);
	qe_pair_set_release(&s);

	/* default names in a header, columns in another order */
	LOAD_OK(put("q.tsv", "score\tsentence2\tsentence1\n4.5\tb\ta\n", 0), NULL, &s);
	TQ_EQ_STR(s1_of(&s, 0), "a");
	TQ_EQ_STR(s2_of(&s, 0), "b");
	TQ_NEAR(s.pairs[0].label, 4.5, 0.0);
	qe_pair_set_release(&s);

	/* header forced off: the first row is data */
	o = qe_pairs_default_opts();
	o.header = 0;
	LOAD_OK(put("r.tsv", "x\ty\t1\n", 0), &o, &s);
	TQ_EQ_INT(s.n_pairs, 1);
	qe_pair_set_release(&s);

	/* quoting forced on for a tsv */
	o = qe_pairs_default_opts();
	o.quoting = 1;
	LOAD_OK(put("s.tsv", "\"a\tb\"\tc\t1\n", 0), &o, &s);
	TQ_EQ_STR(s1_of(&s, 0), "a\tb");
	qe_pair_set_release(&s);
}

static void test_jsonl(void)
{
	struct qe_pair_set s;
	struct qe_pairs_opts o = qe_pairs_default_opts();
	const char *p = put("j.jsonl",
			    "{\"sentence1\": \"a\", \"sentence2\": \"b\", \"label\": 1}\r\n"
			    "\n"
			    "{\"sentence1\": \"a\", \"sentence2\": \"c \\\"q\\\"\", \"label\": false, \"split\": \"test\"}\n"
			    "  {\"sentence2\": \"d\", \"sentence1\": \"e\\nf\", \"label\": \"1\"}  \n", 0);

	LOAD_OK(p, NULL, &s);
	TQ_EQ_STR(s.format, "jsonl");
	TQ_EQ_INT(s.n_pairs, 3);
	TQ_EQ_INT(s.n_sents, 5);
	TQ_EQ_STR(s2_of(&s, 1), "c \"q\"");
	TQ_EQ_STR(s1_of(&s, 2), "e\nf");
	TQ_EQ_INT(s.pairs[1].line, 3);
	TQ_EQ_INT(s.pairs[2].line, 4);
	TQ_EQ_INT(s.kind, QE_LABEL_BINARY);
	qe_pair_set_release(&s);

	o.filter = "split=test";
	LOAD_OK(p, &o, &s);
	TQ_EQ_INT(s.n_pairs, 1);
	qe_pair_set_release(&s);

	/* named members, contents sniffed (no extension), gzip */
	o = qe_pairs_default_opts();
	o.col_s1 = "q";
	o.col_s2 = "p";
	o.col_label = "sim";
	LOAD_OK(put("j2", "{\"q\": \"x\", \"p\": \"y\", \"sim\": 3.25}\n", 1), &o, &s);
	TQ_EQ_STR(s.format, "jsonl");
	TQ_NEAR(s.pairs[0].label, 3.25, 0.0);
	TQ_EQ_INT(s.kind, QE_LABEL_GRADED);
	qe_pair_set_release(&s);
}

static void test_jsonl_errors(void)
{
	struct qe_pairs_opts o = qe_pairs_default_opts();

	LOAD_FAIL(put("e1.jsonl", "{\"sentence1\": \"a\", \"sentence2\": \"b\", \"label\": 1}\n{\"sentence1\": \"a\",\n", 0),
		  NULL, QE_EINPUT, "e1.jsonl:2: bad JSON");
	LOAD_FAIL(put("e2.jsonl", "{\"sentence1\": \"a\", \"label\": 1}\n", 0), NULL, QE_EINPUT,
		  "e2.jsonl:1: member 'sentence2|s2|text2|text_b|question2' is missing");
	LOAD_FAIL(put("e3.jsonl", "{\"sentence1\": 5, \"sentence2\": \"b\", \"label\": 1}\n", 0), NULL,
		  QE_EINPUT, "e3.jsonl:1: member 'sentence1|s1|text1|text_a|question1' is not a string");
	LOAD_FAIL(put("e4.jsonl", "{\"sentence1\": \"a\", \"sentence2\": \"b\", \"label\": \"high\"}\n", 0),
		  NULL, QE_EINPUT, "e4.jsonl:1: member 'label|score|similarity|gold_label' is not a number");
	LOAD_FAIL(put("e5.jsonl", "{\"sentence1\": \"a\", \"sentence2\": \"b\", \"label\": 1} x\n", 0), NULL,
		  QE_EINPUT, "e5.jsonl:1: text after the JSON value");
	LOAD_FAIL(put("e6.jsonl", "[1, 2]\n", 0), NULL, QE_EINPUT, "e6.jsonl:1: expected a JSON object");
	o.col_label = "sim";
	LOAD_FAIL(put("e7.jsonl", "{\"sentence1\": \"a\", \"sentence2\": \"b\", \"label\": 1}\n", 0), &o,
		  QE_EINPUT, "e7.jsonl:1: member 'sim' is missing");
}

static void test_errors(void)
{
	struct qe_pairs_opts o = qe_pairs_default_opts();
	char path[512];

	LOAD_FAIL(put("few.data", "a\tb\t1\nc\td\n", 0), NULL, QE_EINPUT,
		  "few.data:2: expected at least 3 fields, got 2");
	LOAD_FAIL(put("nonnum.data", "a\tb\t1\nc\td\tyes\n", 0), NULL, QE_EINPUT,
		  "nonnum.data:2: label 'yes' is not a number");
	LOAD_FAIL(put("nan.data", "a\tb\t1\nc\td\tnan\n", 0), NULL, QE_EINPUT, "nan.data:2: label 'nan'");
	o.kind = QE_LABEL_BINARY;
	LOAD_FAIL(put("bin.data", "a\tb\t1\nc\td\t0.5\n", 0), &o, QE_EINPUT,
		  "bin.data:2: label 0.5 is not 0 or 1");
	o = qe_pairs_default_opts();
	o.header = 0;
	o.col_s1 = "sentence1";
	LOAD_FAIL(put("nohdr.data", "a\tb\t1\n", 0), &o, QE_EINVAL, "names a column but the file has no header");
	o = qe_pairs_default_opts();
	o.filter = "split";
	LOAD_FAIL(put("f.data", "a\tb\t1\n", 0), &o, QE_EINVAL, "filter 'split' is not column=value");
	o = qe_pairs_default_opts();
	o.format = "xml";
	LOAD_FAIL(put("g.data", "a\tb\t1\n", 0), &o, QE_EINVAL, "unknown pairs format 'xml'");
	o = qe_pairs_default_opts();
	o.col_label = "gold";
	LOAD_FAIL(put("h.tsv", "sentence1\tsentence2\tlabel\na\tb\t1\n", 0), &o, QE_EINPUT,
		  "h.tsv:1: no column 'gold' in the header");
	LOAD_FAIL(put("i.tsv", "first\tsecond\tlabel\na\tb\t1\n", 0), NULL, QE_EINPUT,
		  "i.tsv:1: the header has no sentence1|");
	LOAD_FAIL(put("empty.tsv", "\n\n", 0), NULL, QE_EINPUT, "empty.tsv: no pairs");
	LOAD_FAIL(put("quote.csv", "a,\"b\"x,1\n", 0), NULL, QE_EINPUT, "quote.csv:1: malformed quoting");
	snprintf(path, sizeof(path), "%s/missing.tsv", tmpdir);
	LOAD_FAIL(path, NULL, QE_ENOENT, "missing.tsv");
}

static void test_load_mem(void)
{
	static const char text[] = "a\tb\t1\nc\td\t0\n";
	struct qe_pair_set s;
	struct qe_err e = { 0, "" };

	TQ_EQ_INT(qe_pairs_load_mem("mem.tsv", text, sizeof(text) - 1, NULL, &s, &e), 0);
	TQ_EQ_INT(s.n_pairs, 2);
	qe_pair_set_release(&s);
	TQ_EQ_INT(qe_pairs_load_mem("mem.tsv", "a\tb\n", 4, NULL, &s, &e), QE_EINPUT);
	TQ_CHECK(strstr(e.msg, "mem.tsv:1: expected at least 3 fields") != NULL);
}

/* ---- real files ---------------------------------------------------------------------- */

static int real(char *buf, size_t cap, const char *rel)
{
	snprintf(buf, cap, "%s/datasets/%s", tq_shared(), rel);
	return access(buf, R_OK) == 0;
}

static void test_real_sets(void)
{
	static const struct { const char *rel; size_t n; enum qe_label_kind kind; double max; } want[] = {
		{ "lcqmc/LCQMC.test.data", 12500, QE_LABEL_BINARY, 1 },
		{ "pawsx/PAWSX.test.data", 2000, QE_LABEL_BINARY, 1 },
		{ "stsb_zh/STS-B.test.data", 1361, QE_LABEL_GRADED, 5 },
	};
	struct qe_pair_set s;
	char path[1024];
	size_t i, k, quotes;

	if (!real(path, sizeof(path), want[0].rel))
		TQ_SKIP("%s absent", path);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		real(path, sizeof(path), want[i].rel);
		LOAD_OK(path, NULL, &s);
		TQ_EQ_INT(s.n_pairs, want[i].n);
		TQ_EQ_INT(s.kind, want[i].kind);
		TQ_NEAR(s.label_max, want[i].max, 0.0);
		if (i == 1) {
			/* PAWS-X keeps its literal quotes */
			for (k = quotes = 0; k < s.n_sents; k++)
				quotes += strchr(s.sents[k], '"') != NULL;
			TQ_CHECK(quotes > 0);
		}
		qe_pair_set_release(&s);
	}
}

static void test_real_stsb_en(void)
{
	struct qe_pairs_opts o = qe_pairs_default_opts(), oe = qe_pairs_default_opts();
	struct qe_pair_set gz, orig;
	char path[1024];
	size_t i, same = 0;

	if (!real(path, sizeof(path), "stsb_en/stsbenchmark.tsv.gz"))
		TQ_SKIP("%s absent", path);
	o.filter = "split=test";
	LOAD_OK(path, &o, &gz);
	TQ_EQ_INT(gz.n_pairs, 1379);
	real(path, sizeof(path), "stsb_en/original_senteval/sts-test.csv");
	oe.col_s1 = "5";
	oe.col_s2 = "6";
	oe.col_label = "4";
	LOAD_OK(path, &oe, &orig);
	TQ_EQ_INT(orig.n_pairs, 1379);
	/* the two files hold the same test pairs in the same order */
	for (i = 0; i < gz.n_pairs && i < orig.n_pairs; i++)
		same += strcmp(s1_of(&gz, i), s1_of(&orig, i)) == 0 &&
			strcmp(s2_of(&gz, i), s2_of(&orig, i)) == 0 &&
			gz.pairs[i].label == orig.pairs[i].label;
	TQ_EQ_INT(same, 1379);
	qe_pair_set_release(&gz);
	qe_pair_set_release(&orig);
}

int main(void)
{
	char tmpl[] = "/tmp/t_pairs_load.XXXXXX";
	char cmd[600];

	if (!mkdtemp(tmpl)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(tmpdir, sizeof(tmpdir), "%s", tmpl);
	TQ_RUN(test_sample_zh);
	TQ_RUN(test_sample_en);
	TQ_RUN(test_tsv_plain);
	TQ_RUN(test_senteval_shape);
	TQ_RUN(test_gz_header_filter);
	TQ_RUN(test_csv_quoted_header_named);
	TQ_RUN(test_jsonl);
	TQ_RUN(test_jsonl_errors);
	TQ_RUN(test_errors);
	TQ_RUN(test_load_mem);
	TQ_RUN(test_real_sets);
	TQ_RUN(test_real_stsb_en);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "note: could not remove %s\n", tmpdir);
	return tq_done("t_pairs_load");
}
