/* Tests of datasets/csv.h: every line-end, quoting and encoding quirk the
 * real dataset files carry, on files generated in a temporary folder. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "datasets/csv.h"
#include "tests/tq.h"

static char tmpdir[256];

/* ---- helpers ------------------------------------------------------------- */

/* Writes len bytes to tmpdir/name (gzip when gz), returns the path
 * (static buffer, one at a time). */
static const char *put(const char *name, const char *data, size_t len, int gz)
{
	static char path[512];

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	if (gz) {
		gzFile g = gzopen(path, "wb");

		if (!g || gzwrite(g, data, (unsigned)len) != (int)len || gzclose(g) != Z_OK)
			fprintf(stderr, "cannot write %s\n", path);
	} else {
		FILE *fp = fopen(path, "wb");

		if (!fp || fwrite(data, 1, len, fp) != len || fclose(fp) != 0)
			fprintf(stderr, "cannot write %s\n", path);
	}
	return path;
}

static const char *puts_(const char *name, const char *text)
{
	return put(name, text, strlen(text), 0);
}

/* Records rendered as "L<line>:f1|f2\n" with CR, LF, '|' and '\\' escaped as
 * \r \n \| \\, so expectations read as one string. */
struct collect {
	char *out;
	size_t len, cap;
	size_t stop_after;   /* QE_CSV_STOP after this many records; 0 = never */
	size_t n;
	uint64_t last_index;
};

static void co_add(struct collect *c, const char *s, size_t n)
{
	if (c->len + n + 1 > c->cap) {
		c->cap = (c->len + n + 1) * 2;
		c->out = realloc(c->out, c->cap);
	}
	memcpy(c->out + c->len, s, n);
	c->len += n;
	c->out[c->len] = '\0';
}

static int co_record(const struct qe_csv_rec *rec, void *user, struct qe_err *err)
{
	struct collect *c = user;
	char head[32];
	size_t i, k;

	(void)err;
	snprintf(head, sizeof(head), "L%u:", (unsigned)rec->line);
	co_add(c, head, strlen(head));
	for (i = 0; i < rec->n_fields; i++) {
		if (i)
			co_add(c, "|", 1);
		for (k = 0; k < rec->lens[i]; k++) {
			char ch = rec->fields[i][k];

			if (ch == '\r')
				co_add(c, "\\r", 2);
			else if (ch == '\n')
				co_add(c, "\\n", 2);
			else if (ch == '|' || ch == '\\') {
				co_add(c, "\\", 1);
				co_add(c, &ch, 1);
			} else
				co_add(c, &ch, 1);
		}
		if (rec->fields[i][rec->lens[i]] != '\0')
			co_add(c, "<no NUL>", 8);
	}
	co_add(c, "\n", 1);
	c->last_index = rec->index;
	c->n++;
	if (c->stop_after && c->n >= c->stop_after)
		return QE_CSV_STOP;
	return 0;
}

/* Reads a file or memory with options; returns the status, *out the rendering
 * (caller frees). */
static int read_file(const char *path, const struct qe_csv_opts *o, char **out,
		     struct qe_err *err)
{
	struct collect c;
	int rc;

	memset(&c, 0, sizeof(c));
	co_add(&c, "", 0);
	rc = qe_csv_read_file(path, o, co_record, &c, err);
	*out = c.out;
	return rc;
}

static int read_mem(const char *text, const struct qe_csv_opts *o, char **out, struct qe_err *err)
{
	struct collect c;
	int rc;

	memset(&c, 0, sizeof(c));
	co_add(&c, "", 0);
	rc = qe_csv_read_mem(text, strlen(text), o, co_record, &c, err);
	*out = c.out;
	return rc;
}

/* The file and the in-memory reading agree and render as want. */
#define EXPECT_READ(name, text, opts, want) do { \
	struct qe_err e_ = { 0, "" }; \
	char *got_ = NULL; \
	int rc_ = read_file(puts_(name, text), opts, &got_, &e_); \
	TQ_EQ_INT(rc_, 0); \
	if (rc_) fprintf(stderr, "    %s\n", e_.msg); \
	TQ_EQ_STR(got_, want); \
	free(got_); \
	rc_ = read_mem(text, opts, &got_, &e_); \
	TQ_EQ_INT(rc_, 0); \
	TQ_EQ_STR(got_, want); \
	free(got_); \
} while (0)

static struct qe_csv_opts tsv_plain(void)
{
	struct qe_csv_opts o = qe_csv_default_opts();

	o.delim = '\t';
	o.quoting = 0;
	return o;
}

/* ---- quoting on (MMLU, C-Eval) --------------------------------------------- */

static void test_lf_crlf_mixed(void)
{
	EXPECT_READ("lf.csv", "a,b,c\nd,e,f\n", NULL, "L1:a|b|c\nL2:d|e|f\n");
	EXPECT_READ("crlf.csv", "a,b,c\r\nd,e,f\r\n", NULL, "L1:a|b|c\nL2:d|e|f\n");
	EXPECT_READ("mixed.csv", "a,b\r\nc,d\ne,f\r\n", NULL, "L1:a|b\nL2:c|d\nL3:e|f\n");
	EXPECT_READ("quoted_crlf_end.csv", "\"a\",\"b\"\r\n\"c\",\"d\"\r\n", NULL, "L1:a|b\nL2:c|d\n");
}

static void test_no_final_newline(void)
{
	EXPECT_READ("nofinal.csv", "a,b\nc,d", NULL, "L1:a|b\nL2:c|d\n");
	EXPECT_READ("nofinal_q.csv", "a,b\n\"c\",\"d\"", NULL, "L1:a|b\nL2:c|d\n");
	EXPECT_READ("nofinal_crlf.csv", "a,b\r\nc,d\r", NULL, "L1:a|b\nL2:c|d\n");
	EXPECT_READ("nofinal_empty_last.csv", "a,b\nc,", NULL, "L1:a|b\nL2:c|\n");
	EXPECT_READ("empty.csv", "", NULL, "");
}

static void test_bom(void)
{
	EXPECT_READ("bom.csv", "\xEF\xBB\xBFid,question\r\n0,q\r\n", NULL, "L1:id|question\nL2:0|q\n");
	/* a BOM later in the file is data */
	EXPECT_READ("bom_mid.csv", "a\n\xEF\xBB\xBF" "b\n", NULL, "L1:a\nL2:\xEF\xBB\xBF" "b\n");
}

static void test_quoted_fields(void)
{
	EXPECT_READ("comma.csv", "\"a, b\",c\n", NULL, "L1:a, b|c\n");
	EXPECT_READ("escaped.csv", "\"say \"\"hi\"\"\",x\n", NULL, "L1:say \"hi\"|x\n");
	EXPECT_READ("empty_fields.csv", ",,\n\"\",x,\n", NULL, "L1:||\nL2:|x|\n");
	/* spaces and tabs are data, never trimmed */
	EXPECT_READ("spaces.csv", " a , b\t,\" c \"\n", NULL, "L1: a | b\t| c \n");
	/* a stray quote inside an unquoted field is data (MMLU val
	 * college_medicine row 6 has one) */
	EXPECT_READ("stray.csv", "Nietzsche's Truth?\",b,c\n", NULL, "L1:Nietzsche's Truth?\"|b|c\n");
	EXPECT_READ("stray2.csv", "a\"b\"c,d\n", NULL, "L1:a\"b\"c|d\n");
}

static void test_quoted_newlines_and_lines(void)
{
	/* the record's line is where it starts; later lines keep counting */
	EXPECT_READ("nl.csv", "q1,a\n\"two\nlines\",b\n\"three\n\nlines\",c\nlast,d\n", NULL,
		    "L1:q1|a\nL2:two\\nlines|b\nL4:three\\n\\nlines|c\nL7:last|d\n");
	/* CRLF inside a quoted field is kept as published by default */
	EXPECT_READ("crlf_in.csv", "\"x\r\ny\",z\r\nw,v\r\n", NULL, "L1:x\\r\\ny|z\nL3:w|v\n");
	/* a lone CR inside a quoted field too */
	EXPECT_READ("cr_in.csv", "\"x\ry\",z\n", NULL, "L1:x\\ry|z\n");
	/* a record that starts with a multi-line field */
	EXPECT_READ("nl_first.csv", "\"a\nb\nc\",d\n\"e\",f\n", NULL, "L1:a\\nb\\nc|d\nL4:e|f\n");
	/* blank lines are skipped but counted */
	EXPECT_READ("blank.csv", "\na,b\n\r\n\nc,d\n\n", NULL, "L2:a|b\nL5:c|d\n");
}

static void test_crlf_to_lf(void)
{
	struct qe_csv_opts o = qe_csv_default_opts();

	o.crlf_to_lf = 1;
	EXPECT_READ("crlf_norm.csv", "\"x\r\ny\",\"p\rq\"\r\n", &o, "L1:x\\ny|p\\rq\n");
}

static void test_strip_cr_off(void)
{
	struct qe_csv_opts o = qe_csv_default_opts();

	o.strip_cr = 0;
	EXPECT_READ("keepcr.csv", "a,b\r\n", &o, "L1:a|b\\r\n");
	o = tsv_plain();
	o.strip_cr = 0;
	EXPECT_READ("keepcr.tsv", "a\tb\r\n", &o, "L1:a|b\\r\n");
}

static void test_tab_delimiter_quoting_on(void)
{
	struct qe_csv_opts o = qe_csv_default_opts();

	o.delim = '\t';
	EXPECT_READ("q.tsv", "\"a\tb\"\tc\n\t\td\n", &o, "L1:a\tb|c\nL2:||d\n");
}

/* ---- quoting off (PAWS-X, STS Benchmark originals) ------------------------- */

static void test_quoting_off(void)
{
	struct qe_csv_opts o = tsv_plain();

	EXPECT_READ("lit.tsv", "\"Hi\" he said\tshe said \"no\tx\"\n", &o,
		    "L1:\"Hi\" he said|she said \"no|x\"\n");
	EXPECT_READ("lit_crlf.tsv", "a\tb\r\n\r\nc\t\"d\r\n", &o, "L1:a|b\nL3:c|\"d\n");
	EXPECT_READ("lit_nofinal.tsv", "a\tb\nc\td", &o, "L1:a|b\nL2:c|d\n");
	EXPECT_READ("lit_bom.tsv", "\xEF\xBB\xBF" "a\tb\n", &o, "L1:a|b\n");
	EXPECT_READ("lit_fields.tsv", "g\tf\ty\t1\t2.5\ts1\ts2\ng\tf\ty\t2\t3.0\ts3\ts4\tx\ty\n", &o,
		    "L1:g|f|y|1|2.5|s1|s2\nL2:g|f|y|2|3.0|s3|s4|x|y\n");
	o.delim = '\0';
	EXPECT_READ("lines.jsonl", "{\"a\": \"x,\ty\"}\r\n\n{}\n", &o, "L1:{\"a\": \"x,\ty\"}\nL3:{}\n");
}

/* ---- gzip ------------------------------------------------------------------------ */

static void test_gzip(void)
{
	static const char text[] = "\xEF\xBB\xBFsplit\tscore\tsentence1\r\ntest\t5.000\tA \"quoted\" one.\r\n"
				   "dev\t1.0\tlast";
	struct qe_csv_opts o = tsv_plain();
	struct qe_err e = { 0, "" };
	char *got = NULL, head[64];
	long n;

	TQ_EQ_INT(read_file(put("t.tsv.gz", text, sizeof(text) - 1, 1), &o, &got, &e), 0);
	TQ_EQ_STR(got, "L1:split|score|sentence1\nL2:test|5.000|A \"quoted\" one.\nL3:dev|1.0|last\n");
	free(got);
	/* a gzip file without .gz in its name is still recognised */
	TQ_EQ_INT(read_file(put("t_noext", text, sizeof(text) - 1, 1), &o, &got, &e), 0);
	TQ_EQ_STR(got, "L1:split|score|sentence1\nL2:test|5.000|A \"quoted\" one.\nL3:dev|1.0|last\n");
	free(got);
	n = qe_csv_peek_file(put("p.gz", text, sizeof(text) - 1, 1), head, sizeof(head), &e);
	TQ_CHECK(n > 10);
	TQ_CHECK(strncmp(head, "split\tscore", 11) == 0);
}

static void test_gzip_corrupt(void)
{
	static const char text[] = "a,b\nc,d\n";
	struct qe_err e = { 0, "" };
	char path[512], *got = NULL, *buf;
	FILE *fp;
	long len;
	int rc;

	/* truncate a gzip file in the middle of its stream */
	snprintf(path, sizeof(path), "%s", put("trunc.csv.gz", text, sizeof(text) - 1, 1));
	fp = fopen(path, "rb");
	fseek(fp, 0, SEEK_END);
	len = ftell(fp);
	rewind(fp);
	buf = malloc((size_t)len);
	TQ_CHECK(fread(buf, 1, (size_t)len, fp) == (size_t)len);
	fclose(fp);
	put("trunc.csv.gz", buf, (size_t)len - 6, 0);
	rc = read_file(path, NULL, &got, &e);
	TQ_EQ_INT(rc, QE_EINPUT);
	TQ_CHECK(strstr(e.msg, "trunc.csv.gz") != NULL);
	free(got);
	/* a flipped byte in the CRC-32 trailer */
	buf[len - 5] ^= 0x55;
	snprintf(path, sizeof(path), "%s", put("flip.csv.gz", buf, (size_t)len, 0));
	rc = read_file(path, NULL, &got, &e);
	TQ_EQ_INT(rc, QE_EINPUT);
	free(got);
	free(buf);
}

/* A file larger than the read chunk, with long lines and quoted newlines
 * crossing chunk boundaries, reads the same from disk and from memory. */
static void test_chunk_boundaries(void)
{
	size_t cap = 700 * 1024, len = 0, i;
	char *text = malloc(cap + 1), *a = NULL, *b = NULL;
	struct qe_err e = { 0, "" };
	unsigned seed = 7;

	for (i = 0; len + 3000 < cap; i++) {
		size_t k, n = 500 + (seed = seed * 1103515245u + 12345u) % 2000;

		text[len++] = '"';
		for (k = 0; k < n; k++)
			text[len++] = (k % 97 == 96) ? '\n' : (k % 89 == 88) ? '\r' : (char)('a' + k % 26);
		len += (size_t)sprintf(text + len, "\",%zu\r\n", i);
	}
	text[len] = '\0';
	TQ_EQ_INT(read_file(put("big.csv", text, len, 0), NULL, &a, &e), 0);
	TQ_EQ_INT(read_mem(text, NULL, &b, &e), 0);
	TQ_CHECK(a && b && strcmp(a, b) == 0);
	TQ_CHECK(a && strlen(a) > cap / 2);
	free(a);
	free(b);
	/* the same through gzip */
	TQ_EQ_INT(read_file(put("big.csv.gz", text, len, 1), NULL, &a, &e), 0);
	TQ_EQ_INT(read_mem(text, NULL, &b, &e), 0);
	TQ_CHECK(a && b && strcmp(a, b) == 0);
	free(a);
	free(b);
	free(text);
}

/* ---- stopping, callback errors ----------------------------------------------------- */

static int fail_on_second(const struct qe_csv_rec *rec, void *user, struct qe_err *err)
{
	(void)user;
	if (rec->index == 1)
		return qe_fail(err, QE_EINPUT, "%s:%u: made-up failure", rec->name, (unsigned)rec->line);
	return 0;
}

static void test_stop_and_callback_error(void)
{
	struct collect c;
	struct qe_err e = { 0, "" };
	const char *p = puts_("stop.csv", "a\nb\nc\nd\n");
	struct qe_csv_opts o = qe_csv_default_opts();

	memset(&c, 0, sizeof(c));
	c.stop_after = 2;
	TQ_EQ_INT(qe_csv_read_file(p, NULL, co_record, &c, &e), 0);
	TQ_EQ_INT(c.n, 2);
	TQ_EQ_INT(c.last_index, 1);
	free(c.out);
	TQ_EQ_INT(qe_csv_read_file(p, NULL, fail_on_second, NULL, &e), QE_EINPUT);
	TQ_CHECK(strstr(e.msg, "stop.csv:2: made-up failure") != NULL);
	o.name = "shown/name.csv";
	TQ_EQ_INT(qe_csv_read_file(p, &o, fail_on_second, NULL, &e), QE_EINPUT);
	TQ_EQ_STR(e.msg, "shown/name.csv:2: made-up failure");
}

/* ---- errors ------------------------------------------------------------------------ */

#define EXPECT_FAIL(name, text, opts, code, msg_part) do { \
	struct qe_err e_ = { 0, "" }; \
	char *got_ = NULL; \
	int rc_ = read_file(puts_(name, text), opts, &got_, &e_); \
	TQ_EQ_INT(rc_, code); \
	if (!strstr(e_.msg, msg_part)) TQ_FAILF("message '%s' lacks '%s'", e_.msg, msg_part); \
	free(got_); \
} while (0)

static void test_errors(void)
{
	struct qe_err e = { 0, "" };
	char path[512], *got = NULL;

	EXPECT_FAIL("after_quote.csv", "a,b\nc,d\n\"q\"x,y\n", NULL, QE_EINPUT,
		    "after_quote.csv:3: malformed quoting");
	EXPECT_FAIL("unterminated.csv", "a,b\nc,d\n\"open,\nstill\n", NULL, QE_EINPUT,
		    "unterminated.csv:3: unterminated quoted field");
	EXPECT_FAIL("unterminated2.csv", "a,\"b", NULL, QE_EINPUT,
		    "unterminated2.csv:1: unterminated quoted field");
	TQ_EQ_INT(read_file(put("nul.csv", "a,b\nc\0d\n", 8, 0), NULL, &got, &e), QE_EINPUT);
	TQ_CHECK(strstr(e.msg, "nul.csv:2: NUL byte") != NULL);
	free(got);
	snprintf(path, sizeof(path), "%s/does_not_exist.csv", tmpdir);
	TQ_EQ_INT(read_file(path, NULL, &got, &e), QE_ENOENT);
	TQ_CHECK(strstr(e.msg, "does_not_exist.csv") != NULL);
	free(got);
	/* a folder is not readable as a file */
	TQ_CHECK(read_file(tmpdir, NULL, &got, &e) < 0);
	free(got);
}

static void test_bad_options(void)
{
	struct qe_csv_opts o = qe_csv_default_opts();
	struct qe_err e = { 0, "" };
	char *got = NULL;

	o.delim = '"';
	TQ_EQ_INT(read_mem("a\n", &o, &got, &e), QE_EINVAL);
	free(got);
	o.delim = '\0'; /* line mode needs quoting off */
	TQ_EQ_INT(read_mem("a\n", &o, &got, &e), QE_EINVAL);
	free(got);
	TQ_EQ_INT(qe_csv_read_mem("a", 1, NULL, NULL, NULL, &e), QE_EINVAL);
}

/* ---- real files ---------------------------------------------------------------------- */

static int count_rec(const struct qe_csv_rec *rec, void *user, struct qe_err *err)
{
	size_t *n = user;

	(void)rec;
	(void)err;
	(*n)++;
	return 0;
}

static void test_real_stsb_gz(void)
{
	char path[1024];
	struct qe_csv_opts o = tsv_plain();
	struct qe_err e = { 0, "" };
	size_t n = 0;

	snprintf(path, sizeof(path), "%s/datasets/stsb_en/stsbenchmark.tsv.gz", tq_shared());
	if (access(path, R_OK) != 0)
		TQ_SKIP("%s absent", path);
	TQ_EQ_INT(qe_csv_read_file(path, &o, count_rec, &n, &e), 0);
	TQ_EQ_INT(n, 8628 + 1); /* rows plus the header */
}

static void test_real_medicine_stray_quote(void)
{
	char path[1024], *got = NULL;
	struct qe_err e = { 0, "" };

	snprintf(path, sizeof(path), "%s/datasets/mmlu/data/val/college_medicine_val.csv", tq_shared());
	if (access(path, R_OK) != 0)
		TQ_SKIP("%s absent", path);
	TQ_EQ_INT(read_file(path, NULL, &got, &e), 0);
	TQ_CHECK(got && strstr(got, "Nietzsche\xE2\x80\x99s Will to Truth?\"|An intrinsic") != NULL);
	free(got);
}

int main(void)
{
	char tmpl[] = "/tmp/t_csv.XXXXXX";
	char cmd[600];

	if (!mkdtemp(tmpl)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(tmpdir, sizeof(tmpdir), "%s", tmpl);
	TQ_RUN(test_lf_crlf_mixed);
	TQ_RUN(test_no_final_newline);
	TQ_RUN(test_bom);
	TQ_RUN(test_quoted_fields);
	TQ_RUN(test_quoted_newlines_and_lines);
	TQ_RUN(test_crlf_to_lf);
	TQ_RUN(test_strip_cr_off);
	TQ_RUN(test_tab_delimiter_quoting_on);
	TQ_RUN(test_quoting_off);
	TQ_RUN(test_gzip);
	TQ_RUN(test_gzip_corrupt);
	TQ_RUN(test_chunk_boundaries);
	TQ_RUN(test_stop_and_callback_error);
	TQ_RUN(test_errors);
	TQ_RUN(test_bad_options);
	TQ_RUN(test_real_stsb_gz);
	TQ_RUN(test_real_medicine_stray_quote);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "note: could not remove %s\n", tmpdir);
	return tq_done("t_csv");
}
