/* qeval — error status carried up the stack.
 *
 * Library code returns an int status (0 ok, negative QE_E*) or NULL and fills
 * a caller-owned struct qe_err with one lower-case line naming the subject
 * (file and line, item id, runtime and level). Only commands turn a status
 * into an exit code (qe_exit_code). No global "last error": each caller owns
 * its struct, so OpenMP threads never overwrite each other's message.
 */
#ifndef QE_ERR_H
#define QE_ERR_H

#include <stddef.h>

enum qe_status {
	QE_OK       =  0,
	QE_EINVAL   = -1, /* bad argument or option (usage) */
	QE_EINPUT   = -2, /* bad input file or data: names file/line/item */
	QE_ENOENT   = -3, /* a named file or item does not exist */
	QE_EIO      = -4, /* read/write failure */
	QE_ENOMEM   = -5,
	QE_ENOTSUP  = -6, /* the runtime or task lacks this capability */
	QE_ERUNTIME = -7, /* the engine or a server failed */
	QE_ECHECK   = -8, /* a gate or check failed (not an error of the tool) */
	QE_ENUMERIC = -9, /* the engine computed a non-finite number (overflow) */
};

/* Documented exit codes of the qeval command (docs/cli.md). */
enum qe_exit {
	QE_EXIT_OK      = 0,
	QE_EXIT_CHECK   = 1, /* a gate or check failed */
	QE_EXIT_USAGE   = 2, /* usage or input error */
	QE_EXIT_RUNTIME = 3, /* runtime (engine, server, I/O) failure */
};

#define QE_ERR_MSG 512

struct qe_err {
	int  code;            /* last status filled in, QE_OK when clear */
	char msg[QE_ERR_MSG]; /* one line, no trailing newline or full stop */
};

#if defined(__GNUC__)
#define QE_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define QE_PRINTF(a, b)
#endif

/* Fill err (may be NULL) and return code, so callers write
 *   return qe_fail(err, QE_EIO, "cannot open '%s'", path); */
int qe_fail(struct qe_err *err, int code, const char *fmt, ...) QE_PRINTF(3, 4);

/* Prefix the message already in err with "<context>: ", keeping the code. */
int qe_err_wrap(struct qe_err *err, const char *fmt, ...) QE_PRINTF(2, 3);

void qe_err_clear(struct qe_err *err);

/* Name of a status ("input error", ...); static storage. */
const char *qe_status_name(int code);

/* The exit code a command returns for a status. */
int qe_exit_code(int code);

#endif
