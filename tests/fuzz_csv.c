/* Fuzz target: the CSV/TSV reader (datasets/csv.h) over memory input.
 *
 * The first input byte picks the options (delimiter, quoting, CR handling,
 * stopping early); the rest is the text. Invariants: the reader returns 0
 * or an input error with a "<memory>:<line>: " message; every record has
 * at least one NUL-terminated field without NULs inside; records come in
 * order with non-decreasing start lines inside the input; fields never hold
 * more bytes than the input; with quoting off, there is exactly one record
 * per non-blank line, split at every delimiter.
 */
#define FZ_NAME "fuzz_csv"
#include "tests/fuzz_main.h"

#include "datasets/csv.h"

struct fz_state {
	const uint8_t *text;
	size_t len;
	uint32_t n_lines;      /* LF count + 1 */
	uint32_t last_line;
	uint64_t n_records;
	size_t field_bytes;
	size_t stop_after;     /* 0 = never */
	int quoting;
	char delim;
	size_t n_delims;       /* quoting off: delimiters seen in fields (must stay 0) */
	size_t n_fields;
};

static int fz_record(const struct qe_csv_rec *rec, void *user, struct qe_err *err)
{
	struct fz_state *st = user;
	size_t i;

	(void)err;
	FZ_CHECK(rec->n_fields >= 1);
	FZ_CHECK(rec->index == st->n_records);
	FZ_CHECK(rec->line >= 1 && rec->line <= st->n_lines);
	FZ_CHECK(rec->line >= st->last_line);
	FZ_CHECK(rec->name && strcmp(rec->name, "<memory>") == 0);
	for (i = 0; i < rec->n_fields; i++) {
		FZ_CHECK(rec->fields[i] != NULL);
		FZ_CHECK(rec->fields[i][rec->lens[i]] == '\0');
		FZ_CHECK(memchr(rec->fields[i], '\0', rec->lens[i]) == NULL);
		FZ_CHECK(memchr(rec->fields[i], '\n', rec->lens[i]) == NULL || st->quoting);
		if (!st->quoting && st->delim)
			st->n_delims += memchr(rec->fields[i], st->delim, rec->lens[i]) != NULL;
		st->field_bytes += rec->lens[i];
	}
	st->n_fields += rec->n_fields;
	st->last_line = rec->line;
	st->n_records++;
	if (st->stop_after && st->n_records >= st->stop_after)
		return QE_CSV_STOP;
	return 0;
}

/* Quoting off: the records and fields the input must give. */
static void fz_expect_plain(const uint8_t *s, size_t len, int strip_cr, char delim,
			    uint64_t *records, size_t *fields)
{
	size_t i = 0, e, end, k;

	*records = 0;
	*fields = 0;
	if (len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
		i = 3;
	while (i < len) {
		for (e = i; e < len && s[e] != '\n'; e++)
			;
		end = e;
		if (strip_cr)
			while (end > i && s[end - 1] == '\r')
				end--;
		if (end > i) {
			(*records)++;
			(*fields)++;
			for (k = i; k < end && delim; k++)
				*fields += s[k] == (uint8_t)delim;
		}
		i = e + 1;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char delims[4] = { ',', '\t', ';', '\0' };
	struct qe_csv_opts o = qe_csv_default_opts();
	struct qe_err err = { 0, "" };
	struct fz_state st;
	uint8_t flags = size ? data[0] : 0;
	uint64_t want_records;
	size_t want_fields, i;
	int rc;

	memset(&st, 0, sizeof(st));
	st.text = size ? data + 1 : data;
	st.len = size ? size - 1 : 0;
	o.delim = delims[flags & 3];
	o.quoting = (flags >> 2) & 1;
	o.strip_cr = (flags >> 3) & 1;
	o.crlf_to_lf = (flags >> 4) & 1;
	st.stop_after = (flags >> 5) & 7;
	st.quoting = o.quoting;
	st.delim = o.delim;
	st.n_lines = 1;
	for (i = 0; i < st.len; i++)
		st.n_lines += st.text[i] == '\n';

	rc = qe_csv_read_mem(st.text, st.len, &o, fz_record, &st, &err);
	if (!o.delim && o.quoting) {
		FZ_CHECK(rc == QE_EINVAL);
		return 0;
	}
	FZ_CHECK(rc == 0 || rc == QE_EINPUT);
	FZ_CHECK(st.field_bytes <= st.len);
	if (rc) {
		FZ_CHECK(strncmp(err.msg, "<memory>:", 9) == 0);
		FZ_CHECK(strlen(err.msg) < sizeof(err.msg));
		FZ_CHECK(memchr(st.text, '\0', st.len) != NULL || st.quoting);
	}
	if (!o.quoting && rc == 0 && !st.stop_after) {
		fz_expect_plain(st.text, st.len, o.strip_cr, o.delim, &want_records, &want_fields);
		FZ_CHECK(st.n_records == want_records);
		FZ_CHECK(st.n_fields == want_fields);
		FZ_CHECK(st.n_delims == 0);
	}
	return 0;
}

/* First byte: bits 0-1 delimiter (, TAB ; none), bit 2 quoting, bit 3
 * strip_cr, bit 4 crlf_to_lf, bits 5-7 stop after N records. */
static const struct fz_seed seeds[] = {
	FZ_SEED("\x0c" "question,A,B,C,D,answer\nq,a,b,c,d,A\n"),
	FZ_SEED("\x0c" "\"What, if\",\"say \"\"hi\"\"\",b,c,d,B\r\n\"multi\r\nline\",a,b,c,d,C\r\n"),
	FZ_SEED("\x1c" "\xEF\xBB\xBFid,question,A,B,C,D,answer\r\n0,\"q\r\n?\",a,b,c,d,D"),
	FZ_SEED("\x0c" "Nietzsche's Will to Truth?\",a,b,c,d,A\n\n\r\nlast,a,b,c,d,B"),
	FZ_SEED("\x0c" "a,\"unterminated\nstill going\n"),
	FZ_SEED("\x0c" "\"closed\"junk,b\n"),
	FZ_SEED("\x09" "s1\ts2\t1\r\nA \"quoted\" one\tanother\t0\r\n\r\nno final\tnl\t1"),
	FZ_SEED("\x0d" "\"tab\tinside\"\tb\t1\n"),
	FZ_SEED("\x01" "main-captions\tMSRvid\t2012test\t0024\t2.500\tA girl.\tA girl is.\tx\ty\n"),
	FZ_SEED("\x0b" "{\"sentence1\": \"a\", \"label\": 1}\r\n\n{}\n"),
	FZ_SEED("\x4c" "a,b\nc,d\ne,f\n"),
	FZ_SEED("\x00" "a,b\r\rc\r\n"),
	FZ_SEED("\x0e" "x;y;\"z;w\"\n;;\n"),
	FZ_SEED("\x0c" "a\0b,c\n"),
};

FZ_MAIN(seeds)
