#include "harness/base/opt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int qe_opt_int(const char *s, long lo, long hi, const char *name, long *out, struct qe_err *err)
{
	char *end;
	long v;

	errno = 0;
	v = s ? strtol(s, &end, 10) : 0;
	if (!s || !*s || *end || errno || v < lo || v > hi)
		return qe_fail(err, QE_EINVAL, "%s wants a whole number in %ld..%ld, not '%s'", name, lo, hi, s ? s : "");
	*out = v;
	return 0;
}

int qe_opt_double(const char *s, const char *name, double *out, struct qe_err *err)
{
	char *end;
	double v;

	errno = 0;
	v = s ? strtod(s, &end) : 0;
	if (!s || !*s || *end || errno)
		return qe_fail(err, QE_EINVAL, "%s wants a number, not '%s'", name, s ? s : "");
	*out = v;
	return 0;
}

size_t qe_opt_split(const char *s, char ***items)
{
	size_t n = 0, len = s ? strlen(s) : 0, cap = 1;
	char **v, *buf;

	for (size_t i = 0; i < len; i++)
		cap += s[i] == ',';
	v = malloc(cap * sizeof(*v) + len + 1);
	if (!v) {
		*items = NULL;
		return 0;
	}
	buf = (char *)(v + cap);
	if (len)
		memcpy(buf, s, len);
	buf[len] = '\0';
	for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
		char *e;
		while (*tok == ' ' || *tok == '\t')
			tok++;
		e = tok + strlen(tok);
		while (e > tok && (e[-1] == ' ' || e[-1] == '\t'))
			*--e = '\0';
		if (*tok)
			v[n++] = tok;
	}
	*items = v;
	return n;
}

int qe_opt_help(const char *text)
{
	fputs(text, stdout);
	return 0;
}

int qe_opt_die(const char *cmd, const struct qe_err *err)
{
	fprintf(stderr, "qeval %s: %s\n", cmd, err->msg[0] ? err->msg : qe_status_name(err->code));
	return qe_exit_code(err->code);
}
