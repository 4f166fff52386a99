/* CSV/TSV reader: input is cut into lines here, and each line is handed to
 * libcsv (quoting on) or split on the delimiter (quoting off).
 *
 * Line numbers: libcsv does not report positions, so the input goes to
 * csv_parse one line at a time (a line ends at LF, the only record
 * terminator we give libcsv). When a record ends on a line, its LF ended
 * it; when a non-blank line ends without a record ending, a quoted field
 * is still open and the record goes on. So at the start of each line we
 * know whether a record is in progress, and a record that is not in
 * progress starts on this line.
 *
 * CRs: libcsv's "space" test is set to CR only, so (quoting on) CRs at the
 * edges of an unquoted field and after a closing quote are dropped while
 * CRs inside quoted fields are kept; spaces and tabs are never trimmed.
 */
#include "datasets/csv.h"

#include <csv.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

enum { READ_CHUNK = 256 * 1024 };

struct reader {
	struct qe_csv_opts o;
	const char *name;
	qe_csv_record_fn fn;
	void *user;
	struct qe_err *err;

	struct csv_parser p;
	int p_ready;

	/* the record being built: field bytes, each followed by a NUL */
	char *buf;
	size_t buf_len, buf_cap;
	size_t *offs, *lens;
	const char **ptrs;
	size_t n_fields, fields_cap;

	/* the line being read (quoting off: its bytes so far) */
	char *line;
	size_t line_len, line_cap;

	uint32_t line_no;     /* 1-based line being fed */
	uint32_t rec_line;    /* line where the record in progress started */
	uint64_t n_records;
	int in_record;        /* a record was in progress when this line began */
	int line_blank;       /* this line so far holds nothing but CRs */
	int row_ended;        /* a record ended during this line */
	int started;          /* the first bytes (BOM check) were seen */

	int status;           /* first error, 0 while fine */
	int stopped;          /* the record function asked to stop */
};

struct qe_csv_opts qe_csv_default_opts(void)
{
	struct qe_csv_opts o = { ',', 1, 1, 0, NULL };

	return o;
}

/* ---- building a record ------------------------------------------------ */

/* Room for need bytes in a char buffer of *cap bytes. */
static int buf_reserve(char **p, size_t *cap, size_t need)
{
	size_t n = *cap ? *cap : 256;
	char *q;

	if (need <= *cap)
		return 0;
	while (n < need) {
		if (n > ((size_t)-1) / 2)
			return -1;
		n *= 2;
	}
	q = realloc(*p, n);
	if (!q)
		return -1;
	*p = q;
	*cap = n;
	return 0;
}

static int fail_nomem(struct reader *r)
{
	if (!r->status)
		r->status = qe_fail(r->err, QE_ENOMEM, "%s:%u: out of memory",
				    r->name, (unsigned)r->line_no);
	return r->status;
}

/* offs, lens and ptrs share fields_cap. */
static int fields_reserve(struct reader *r, size_t need)
{
	size_t cap;
	void *p;

	if (need <= r->fields_cap)
		return 0;
	cap = r->fields_cap ? r->fields_cap : 16;
	while (cap < need) {
		if (cap > ((size_t)-1) / 2 / sizeof(size_t))
			return -1;
		cap *= 2;
	}
	if (!(p = realloc(r->offs, cap * sizeof(size_t))))
		return -1;
	r->offs = p;
	if (!(p = realloc(r->lens, cap * sizeof(size_t))))
		return -1;
	r->lens = p;
	if (!(p = realloc((void *)r->ptrs, cap * sizeof(char *))))
		return -1;
	r->ptrs = p;
	r->fields_cap = cap;
	return 0;
}

static void field_add(struct reader *r, const char *s, size_t len)
{
	size_t at, i, n;

	if (r->status || r->stopped)
		return;
	if (buf_reserve(&r->buf, &r->buf_cap, r->buf_len + len + 1) ||
	    fields_reserve(r, r->n_fields + 1)) {
		fail_nomem(r);
		return;
	}
	at = r->buf_len;
	n = len;
	if (r->o.crlf_to_lf) {
		n = 0;
		for (i = 0; i < len; i++)
			if (!(s[i] == '\r' && i + 1 < len && s[i + 1] == '\n'))
				r->buf[at + n++] = s[i];
	} else if (len) {
		memcpy(r->buf + at, s, len);
	}
	r->buf[at + n] = '\0';
	r->buf_len = at + n + 1;
	r->offs[r->n_fields++] = at;
}

static void record_end(struct reader *r)
{
	struct qe_csv_rec rec;
	size_t i;
	int rc;

	if (r->status || r->stopped || r->n_fields == 0) {
		r->n_fields = r->buf_len = 0;
		return;
	}
	for (i = 0; i < r->n_fields; i++) {
		r->ptrs[i] = r->buf + r->offs[i];
		r->lens[i] = (i + 1 < r->n_fields ? r->offs[i + 1] : r->buf_len) - r->offs[i] - 1;
	}
	rec.fields = r->ptrs;
	rec.lens = r->lens;
	rec.n_fields = r->n_fields;
	rec.line = r->rec_line;
	rec.index = r->n_records++;
	rec.name = r->name;
	rc = r->fn(&rec, r->user, r->err);
	if (rc < 0)
		r->status = rc;
	else if (rc == QE_CSV_STOP)
		r->stopped = 1;
	r->n_fields = r->buf_len = 0;
}

/* ---- libcsv callbacks --------------------------------------------------- */

static void cb_field(void *s, size_t len, void *data)
{
	struct reader *r = data;

	field_add(r, s, len);
}

static void cb_row(int c, void *data)
{
	struct reader *r = data;

	(void)c;
	r->row_ended = 1;
	record_end(r);
}

static int is_cr(unsigned char c)
{
	return c == '\r';
}

static int is_never(unsigned char c)
{
	(void)c;
	return 0;
}

static int is_lf(unsigned char c)
{
	return c == '\n';
}

/* ---- quoting off: one line is one record -------------------------------- */

static void line_split(struct reader *r)
{
	char *s = r->line, *e;
	size_t len = r->line_len;

	if (r->o.strip_cr)
		while (len && s[len - 1] == '\r')
			len--;
	if (len == 0)
		return; /* blank line */
	r->rec_line = r->line_no;
	if (!r->o.delim) {
		field_add(r, s, len);
	} else {
		while ((e = memchr(s, r->o.delim, len - (size_t)(s - r->line))) != NULL) {
			field_add(r, s, (size_t)(e - s));
			s = e + 1;
		}
		field_add(r, s, len - (size_t)(s - r->line));
	}
	record_end(r);
}

/* ---- feeding ------------------------------------------------------------ */

static void line_begin(struct reader *r)
{
	r->line_blank = 1;
	r->row_ended = 0;
	if (!r->in_record)
		r->rec_line = r->line_no;
	r->line_len = 0;
}

static void line_end(struct reader *r)
{
	if (r->o.quoting) {
		if (r->row_ended)
			r->in_record = 0;
		else if (!(!r->in_record && r->line_blank))
			r->in_record = 1;
	} else {
		line_split(r);
	}
	if (r->line_no < UINT32_MAX)
		r->line_no++;
	line_begin(r);
}

/* Strict libcsv stops at any stray '"'. One inside an unquoted field is
 * data (as in Python's csv; MMLU val college_medicine has one), so it is
 * fed again with strict mode off for that byte; a '"' after the closing
 * quote of a quoted field, or text after it, is an error. */
static void quoted_feed(struct reader *r, const char *s, size_t n)
{
	size_t done = 0;

	while (done < n && !r->status) {
		done += csv_parse(&r->p, s + done, n - done, cb_field, cb_row, r);
		if (done >= n || r->status)
			break;
		if (csv_error(&r->p) == CSV_ENOMEM || csv_error(&r->p) == CSV_ETOOBIG) {
			fail_nomem(r);
		} else if (s[done] == '"' && !r->p.quoted) {
			csv_set_opts(&r->p, CSV_STRICT_FINI);
			done += csv_parse(&r->p, s + done, 1, cb_field, cb_row, r);
			csv_set_opts(&r->p, CSV_STRICT | CSV_STRICT_FINI);
		} else {
			r->status = qe_fail(r->err, QE_EINPUT,
				"%s:%u: malformed quoting: text after the closing quote of a field",
				r->name, (unsigned)r->line_no);
		}
	}
}

/* Feeds one piece of a line (ending at its LF, if it has one). */
static void piece_feed(struct reader *r, const char *s, size_t n)
{
	size_t i;

	if (memchr(s, '\0', n)) {
		r->status = qe_fail(r->err, QE_EINPUT, "%s:%u: NUL byte in input",
				    r->name, (unsigned)r->line_no);
		return;
	}
	if (r->line_blank)
		for (i = 0; i < n; i++)
			if (s[i] != '\r' && s[i] != '\n') {
				r->line_blank = 0;
				break;
			}
	if (r->o.quoting) {
		quoted_feed(r, s, n);
	} else {
		size_t body = n && s[n - 1] == '\n' ? n - 1 : n;

		if (buf_reserve(&r->line, &r->line_cap, r->line_len + body + 1)) {
			fail_nomem(r);
			return;
		}
		memcpy(r->line + r->line_len, s, body);
		r->line_len += body;
	}
}

static int reader_feed(struct reader *r, const char *s, size_t n)
{
	const char *nl;
	size_t k;

	if (!r->started) {
		r->started = 1;
		if (n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) {
			s += 3;
			n -= 3;
		}
	}
	while (n && !r->status && !r->stopped) {
		nl = memchr(s, '\n', n);
		k = nl ? (size_t)(nl - s) + 1 : n;
		piece_feed(r, s, k);
		if (nl && !r->status)
			line_end(r);
		s += k;
		n -= k;
	}
	return r->status;
}

static int reader_finish(struct reader *r)
{
	if (r->status || r->stopped)
		return r->status;
	if (r->o.quoting) {
		if (csv_fini(&r->p, cb_field, cb_row, r) != 0 && !r->status) {
			if (csv_error(&r->p) == CSV_ENOMEM || csv_error(&r->p) == CSV_ETOOBIG)
				return fail_nomem(r);
			return r->status = qe_fail(r->err, QE_EINPUT,
				"%s:%u: unterminated quoted field", r->name, (unsigned)r->rec_line);
		}
	} else if (r->line_len) {
		line_split(r);
	}
	return r->status;
}

static int reader_init(struct reader *r, const struct qe_csv_opts *o, const char *name,
		       qe_csv_record_fn fn, void *user, struct qe_err *err)
{
	memset(r, 0, sizeof(*r));
	r->o = o ? *o : qe_csv_default_opts();
	r->name = r->o.name ? r->o.name : name;
	r->fn = fn;
	r->user = user;
	r->err = err;
	r->line_no = 1;
	line_begin(r);
	if (!fn)
		return qe_fail(err, QE_EINVAL, "%s: no record function", r->name);
	if (r->o.delim == '\n' || r->o.delim == '\r' || r->o.delim == '"' ||
	    (!r->o.delim && r->o.quoting))
		return qe_fail(err, QE_EINVAL, "%s: unusable delimiter for csv reading", r->name);
	if (r->o.quoting) {
		if (csv_init(&r->p, CSV_STRICT | CSV_STRICT_FINI) != 0)
			return qe_fail(err, QE_ENOMEM, "%s: out of memory", r->name);
		r->p_ready = 1;
		csv_set_delim(&r->p, (unsigned char)r->o.delim);
		csv_set_quote(&r->p, '"');
		csv_set_space_func(&r->p, r->o.strip_cr ? is_cr : is_never);
		csv_set_term_func(&r->p, is_lf);
	}
	return 0;
}

static void reader_release(struct reader *r)
{
	if (r->p_ready)
		csv_free(&r->p);
	free(r->buf);
	free(r->offs);
	free(r->lens);
	free((void *)r->ptrs);
	free(r->line);
}

/* ---- entry points -------------------------------------------------------- */

int qe_csv_read_mem(const void *buf, size_t len, const struct qe_csv_opts *o,
		    qe_csv_record_fn fn, void *user, struct qe_err *err)
{
	struct reader r;
	int rc;

	rc = reader_init(&r, o, "<memory>", fn, user, err);
	if (rc == 0)
		rc = reader_feed(&r, buf, len);
	if (rc == 0)
		rc = reader_finish(&r);
	reader_release(&r);
	return rc;
}

static gzFile open_gz(const char *path, const char *name, struct qe_err *err, int *rc)
{
	gzFile gz;

	errno = 0;
	gz = gzopen(path, "rb");
	if (!gz) {
		int e = errno;

		*rc = qe_fail(err, e == ENOENT ? QE_ENOENT : e ? QE_EIO : QE_ENOMEM,
			      "cannot open '%s': %s", name, e ? strerror(e) : "out of memory");
		return NULL;
	}
	gzbuffer(gz, 128 * 1024);
	*rc = 0;
	return gz;
}

static int gz_read_error(gzFile gz, const char *name, struct qe_err *err)
{
	int zerr = Z_OK;
	const char *msg = gzerror(gz, &zerr);

	if (zerr == Z_ERRNO) /* a folder named as a file is a bad input, not an I/O failure */
		return qe_fail(err, errno == EISDIR ? QE_EINPUT : QE_EIO, "cannot read '%s': %s", name,
			       errno == EISDIR ? "a folder, not a file" : strerror(errno));
	if (zerr == Z_MEM_ERROR)
		return qe_fail(err, QE_ENOMEM, "'%s': out of memory", name);
	return qe_fail(err, QE_EINPUT, "'%s': corrupt gzip data: %s", name, msg ? msg : "?");
}

int qe_csv_read_file(const char *path, const struct qe_csv_opts *o,
		     qe_csv_record_fn fn, void *user, struct qe_err *err)
{
	const char *name = o && o->name ? o->name : path;
	struct reader r;
	gzFile gz;
	char *chunk;
	int rc, n;

	gz = open_gz(path, name, err, &rc);
	if (!gz)
		return rc;
	chunk = malloc(READ_CHUNK);
	if (!chunk) {
		gzclose(gz);
		return qe_fail(err, QE_ENOMEM, "'%s': out of memory", name);
	}
	rc = reader_init(&r, o, path, fn, user, err);
	while (rc == 0 && !r.stopped) {
		n = gzread(gz, chunk, READ_CHUNK);
		if (n < 0) {
			rc = gz_read_error(gz, name, err);
			break;
		}
		if (n == 0) {
			/* gzread reports a truncated gzip stream as a plain end */
			int zerr = Z_OK;

			gzerror(gz, &zerr);
			if (zerr != Z_OK && zerr != Z_BUF_ERROR)
				rc = gz_read_error(gz, name, err);
			else if (zerr == Z_BUF_ERROR)
				rc = qe_fail(err, QE_EINPUT, "'%s': truncated gzip data", name);
			else
				rc = reader_finish(&r);
			break;
		}
		rc = reader_feed(&r, chunk, (size_t)n);
	}
	reader_release(&r);
	free(chunk);
	gzclose(gz);
	return rc;
}

long qe_csv_peek_file(const char *path, char *buf, size_t cap, struct qe_err *err)
{
	gzFile gz;
	int rc, n;

	if (!cap)
		return qe_fail(err, QE_EINVAL, "'%s': no room to peek", path);
	gz = open_gz(path, path, err, &rc);
	if (!gz)
		return rc;
	if (cap - 1 > (size_t)READ_CHUNK)
		cap = (size_t)READ_CHUNK + 1;
	n = gzread(gz, buf, (unsigned)(cap - 1));
	if (n < 0) {
		rc = gz_read_error(gz, path, err);
		gzclose(gz);
		return rc;
	}
	gzclose(gz);
	buf[n] = '\0';
	if (n >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0) {
		memmove(buf, buf + 3, (size_t)n - 2);
		n -= 3;
	}
	return n;
}
