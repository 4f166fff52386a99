/* qeval — streaming CSV/TSV reader (libcsv underneath).
 *
 * Calls a function once per record, in file order, with the record's fields
 * and the 1-based line on which the record starts. What it accepts:
 *   - gzip input, read transparently (zlib detects the magic bytes);
 *   - a UTF-8 byte order mark at the start, skipped;
 *   - LF or CRLF line ends, mixed in one file; a missing final newline;
 *   - with quoting on: RFC 4180 quoting ("" inside a quoted field is one ");
 *     newlines inside quoted fields. A CR or CRLF inside a quoted field is
 *     data and kept as published (Python's csv module, which lm-eval reads
 *     with, keeps it too) unless crlf_to_lf is set. A '"' inside an unquoted
 *     field is data, as in Python's csv (MMLU val college_medicine has one);
 *   - with quoting off: '"' is an ordinary character (PAWS-X, the original
 *     STS Benchmark files) and a record is exactly one line.
 * What it does not do: fields are not trimmed (spaces are data); records
 * end at LF only (a lone CR is data, apart from strip_cr below); blank lines
 * (empty, or only CRs with strip_cr) are skipped and produce no record.
 *
 * Errors fill err with one line and return a negative status:
 *   QE_ENOENT  "cannot open '<path>': ..." the file does not exist
 *   QE_EIO     it cannot be read
 *   QE_EINPUT  "<name>:<line>: <what>": text or a '"' after the closing quote
 *              of a field, an unterminated quoted field at end of input
 *              (line = where its record starts), a NUL byte;
 *              "'<name>': ..." corrupt or truncated gzip data
 *   QE_ENOMEM
 * or whatever negative status the record function returned.
 *
 * Thread-safety: no global state; distinct calls may run in parallel.
 */
#ifndef QE_DATASETS_CSV_H
#define QE_DATASETS_CSV_H

#include <stddef.h>
#include <stdint.h>

#include "harness/base/err.h"

struct qe_csv_opts {
	char delim;         /* ',' or '\t'; '\0' = no splitting: each line is one
			     * field (quoting must then be off) */
	int quoting;        /* 1 = RFC 4180 quotes, 0 = '"' is data */
	int strip_cr;       /* 1 = CRLF files read like LF files: quoting off,
			     * CRs ending a line are dropped; quoting on, CRs
			     * at either end of an unquoted field and after a
			     * closing quote are dropped (CRs inside quotes
			     * stay). 0 = a CR is data everywhere */
	int crlf_to_lf;     /* 1 = CRLF inside a field becomes LF; 0 = kept */
	const char *name;   /* file name in messages; NULL = the path given
			     * (qe_csv_read_mem: "<memory>") */
};

/* delim ',', quoting on, strip_cr on, crlf_to_lf off, name NULL. */
struct qe_csv_opts qe_csv_default_opts(void);

/* One record, borrowed: every pointer is valid only during the call. */
struct qe_csv_rec {
	const char *const *fields; /* [n_fields], each NUL-terminated (fields
				    * never contain NUL: that is an error) */
	const size_t *lens;        /* [n_fields], bytes without the NUL */
	size_t n_fields;           /* >= 1 */
	uint32_t line;             /* 1-based line where the record starts
				    * (a BOM does not count; blank lines do) */
	uint64_t index;            /* 0-based record number in the file */
	const char *name;          /* the file name used in messages */
};

/* Returned by a record function to stop reading early, without error. */
#define QE_CSV_STOP 1

/* Called per record. Return 0 to go on, QE_CSV_STOP to stop (the read
 * returns 0), or a negative status after filling err (the read returns it).
 * err is the one passed to the read call. */
typedef int (*qe_csv_record_fn)(const struct qe_csv_rec *rec, void *user,
				struct qe_err *err);

/* Reads the file at path (plain or gzip) and calls fn per record.
 * o may be NULL for the defaults. Returns 0 or a negative status. */
int qe_csv_read_file(const char *path, const struct qe_csv_opts *o,
		     qe_csv_record_fn fn, void *user, struct qe_err *err);

/* The same over len bytes in memory (not gzip: memory input is read as is).
 * buf is only read. */
int qe_csv_read_mem(const void *buf, size_t len, const struct qe_csv_opts *o,
		    qe_csv_record_fn fn, void *user, struct qe_err *err);

/* Reads at most cap-1 bytes of the start of a file (through gzip, BOM
 * skipped) into buf, NUL-terminated, for sniffing a format. Returns the
 * number of bytes or a negative status (QE_ENOENT, QE_EIO, QE_EINPUT). */
long qe_csv_peek_file(const char *path, char *buf, size_t cap, struct qe_err *err);

#endif
