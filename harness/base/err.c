#include "harness/base/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int qe_fail(struct qe_err *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return code;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return code;
}

int qe_err_wrap(struct qe_err *err, const char *fmt, ...)
{
	char head[QE_ERR_MSG], old[QE_ERR_MSG];
	va_list ap;

	if (!err)
		return QE_EINVAL;
	memcpy(old, err->msg, sizeof(old));
	va_start(ap, fmt);
	vsnprintf(head, sizeof(head), fmt, ap);
	va_end(ap);
	snprintf(err->msg, sizeof(err->msg), "%s: %.*s", head,
		 (int)(sizeof(err->msg) / 2), old);
	return err->code;
}

void qe_err_clear(struct qe_err *err)
{
	if (!err)
		return;
	err->code = QE_OK;
	err->msg[0] = '\0';
}

const char *qe_status_name(int code)
{
	switch (code) {
	case QE_OK:       return "ok";
	case QE_EINVAL:   return "usage error";
	case QE_EINPUT:   return "input error";
	case QE_ENOENT:   return "not found";
	case QE_EIO:      return "i/o error";
	case QE_ENOMEM:   return "out of memory";
	case QE_ENOTSUP:  return "not supported";
	case QE_ERUNTIME: return "runtime error";
	case QE_ECHECK:   return "check failed";
	case QE_ENUMERIC: return "numeric error";
	}
	return "unknown error";
}

int qe_exit_code(int code)
{
	switch (code) {
	case QE_OK:
		return QE_EXIT_OK;
	case QE_ECHECK:
		return QE_EXIT_CHECK;
	case QE_EINVAL:
	case QE_EINPUT:
	case QE_ENOENT:
		return QE_EXIT_USAGE;
	}
	return QE_EXIT_RUNTIME;
}
