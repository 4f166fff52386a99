#include "reports/gnuplot.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "reports/text.h"

extern char **environ;

const char *qe_gnuplot_program(const char *program)
{
	const char *e;

	if (program && *program)
		return program;
	e = getenv("QE_GNUPLOT");
	return e && *e ? e : "gnuplot";
}

/* Copy src to out from "<svg" on, prefixing ids and the references to them
 * (id='x', href='#x', url(#x)) inside tags. Text outside tags is never
 * touched: gnuplot escapes '<' in text, so a label cannot open a tag. */
static void svg_rewrite(struct qe_text *out, const char *src, const char *prefix)
{
	static const char *const marks[] = { "id='", "id=\"", "href='#", "href=\"#", "url(#" };
	const char *p = strstr(src, "<svg");
	int in_tag = 0;

	if (!p)
		return;
	while (*p) {
		if (*p == '<')
			in_tag = 1;
		else if (*p == '>')
			in_tag = 0;
		if (in_tag && prefix && *prefix) {
			size_t i;
			for (i = 0; i < sizeof(marks) / sizeof(marks[0]); i++) {
				size_t n = strlen(marks[i]);
				if (!strncmp(p, marks[i], n)) {
					qe_text_putn(out, p, n);
					qe_text_put(out, prefix);
					p += n;
					break;
				}
			}
			if (i < sizeof(marks) / sizeof(marks[0]))
				continue;
		}
		qe_text_putc(out, *p++);
	}
}

double qe_gnuplot_timeout(double timeout_s)
{
	const char *e = getenv("QEVAL_GNUPLOT_TIMEOUT");
	char *end;
	double v;

	if (timeout_s > 0)
		return timeout_s;
	if (e && *e && (v = strtod(e, &end)) > 0 && *end == '\0')
		return v;
	return 60;
}

#define SVG_MAX_BYTES (16u << 20)

/* 0 when raw holds one SVG element fit to inline into a page: "<svg" ...
 * "</svg>", nothing active in it; else QE_ERUNTIME saying what is wrong. */
static int svg_check(const char *raw, struct qe_err *err)
{
	static const char *const bad[] = { "<script", "<foreignobject", "<iframe", "<embed", "<object", "javascript:",
					   " onload=", " onclick=", " onmouse", " onerror=", NULL };
	const char *start = strstr(raw, "<svg"), *end = start ? strstr(start, "</svg>") : NULL;

	if (strlen(raw) > SVG_MAX_BYTES)
		return qe_fail(err, QE_ERUNTIME, "gnuplot wrote over %u MiB of SVG", SVG_MAX_BYTES >> 20);
	if (!start || !end)
		return qe_fail(err, QE_ERUNTIME, "gnuplot wrote no whole SVG element%s", start ? " (cut short)" : "");
	for (int k = 0; bad[k]; k++)
		if (strcasestr(start, bad[k]))
			return qe_fail(err, QE_ERUNTIME, "gnuplot's SVG holds '%s': not embedded", bad[k]);
	return 0;
}

/* Wait for pid at most timeout_s seconds; then kill its process group.
 * 0 with *st, or QE_ENOTSUP after a kill. */
static int wait_timed(pid_t pid, double timeout_s, int *st, struct qe_err *err)
{
	for (double waited = 0;; waited += 0.01) {
		pid_t w = waitpid(pid, st, WNOHANG);
		if (w == pid)
			return 0;
		if (w < 0 && errno != EINTR)
			return qe_fail(err, QE_ERUNTIME, "lost gnuplot: %s", strerror(errno));
		if (waited >= timeout_s) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			while (waitpid(pid, st, 0) < 0 && errno == EINTR)
				;
			return qe_fail(err, QE_ENOTSUP, "gnuplot did not finish within %g s: killed "
				       "(QEVAL_GNUPLOT_TIMEOUT sets the limit)", timeout_s);
		}
		usleep(10000);
	}
}

/* The first non-empty line of path, for an error message. */
static void first_line(const char *path, char *buf, size_t cap)
{
	char *text = NULL;
	size_t len;

	buf[0] = '\0';
	if (qe_file_read(path, &text, &len, NULL))
		return;
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		while (*line == ' ' || *line == '\t' || *line == '^')
			line++;
		if (*line) {
			snprintf(buf, cap, "%s", line);
			break;
		}
	}
	free(text);
}

int qe_gnuplot_svg(const struct qe_gnuplot_opts *o, const char *script, char **svg, struct qe_err *err)
{
	const char *prog = qe_gnuplot_program(o ? o->program : NULL);
	int w = o && o->width > 0 ? o->width : 560, h = o && o->height > 0 ? o->height : 440;
	const char *tmp = getenv("TMPDIR");
	char dir[512], in[600], out[600], errp[600], line[300];
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	struct qe_text t = { 0 };
	char *argv[2], *raw = NULL;
	int rc, st = 0;
	pid_t pid;

	*svg = NULL;
	snprintf(dir, sizeof(dir), "%s/qeval-gp-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir))
		return qe_fail(err, QE_EIO, "cannot make a temporary folder for gnuplot: %s", strerror(errno));
	snprintf(in, sizeof(in), "%s/in.gp", dir);
	snprintf(out, sizeof(out), "%s/out.svg", dir);
	snprintf(errp, sizeof(errp), "%s/err.txt", dir);
	qe_text_printf(&t, "set terminal svg size %d,%d dynamic noenhanced font 'sans-serif,17' background '#ffffff'\n"
			   "set encoding utf8\n", w, h);
	qe_text_put(&t, script);
	qe_text_put(&t, "\n");
	rc = qe_text_save(&t, in, err);
	qe_text_release(&t);
	if (rc)
		goto done;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, in, O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	posix_spawn_file_actions_addopen(&fa, 2, errp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	argv[0] = (char *)prog;
	argv[1] = NULL;
	posix_spawnattr_init(&at);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP); /* its own group: a timeout kills all of it */
	posix_spawnattr_setpgroup(&at, 0);
	rc = posix_spawnp(&pid, prog, &fa, &at, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	if (rc) {
		rc = qe_fail(err, QE_ENOTSUP, "cannot run '%s': %s", prog, strerror(rc));
		goto done;
	}
	if ((rc = wait_timed(pid, qe_gnuplot_timeout(o ? o->timeout_s : 0), &st, err)) != 0)
		goto done;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 127) {
		rc = qe_fail(err, QE_ENOTSUP, "cannot run '%s': not found", prog);
		goto done;
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		first_line(errp, line, sizeof(line));
		rc = qe_fail(err, QE_ERUNTIME, "gnuplot failed: %s", line[0] ? line : "no message");
		goto done;
	}
	rc = qe_file_read(out, &raw, NULL, err);
	if (rc)
		goto done;
	if ((rc = svg_check(raw, err)) != 0)
		goto done;
	*strstr(strstr(raw, "<svg"), "</svg>") = '\0'; /* nothing after the element */
	svg_rewrite(&t, raw, o ? o->id_prefix : NULL);
	qe_text_put(&t, "</svg>");
	*svg = qe_text_take(&t);
	rc = *svg ? 0 : qe_fail(err, QE_ENOMEM, "out of memory reading gnuplot's SVG");
done:
	free(raw);
	unlink(in);
	unlink(out);
	unlink(errp);
	rmdir(dir);
	return rc;
}
