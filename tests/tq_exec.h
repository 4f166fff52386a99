/* tq_exec — tests that run the built qeval binary ($QE_QEVAL, set by
 * tests/run.sh) in a scratch folder and look at its output and exit code. */
#ifndef QE_TQ_EXEC_H
#define QE_TQ_EXEC_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

/* Run `qeval ARGS` (shell words) with the cache in tmp/cache; stdout and
 * stderr land in out/err (NUL-terminated, cut at their capacity). Returns
 * the exit status, or 128 + the signal. */
static inline int tq_qeval(const char *tmp, const char *args, char *out, size_t out_cap, char *err,
			   size_t err_cap)
{
	char cmd[8192], path[512];
	const char *bin = getenv("QE_QEVAL");
	char *bufs[2] = { out, err };
	size_t caps[2] = { out_cap, err_cap };
	const char *names[2] = { "out", "err" };
	int st;

	snprintf(cmd, sizeof(cmd), "QEVAL_CACHE=%s/cache %s %s >%s/out 2>%s/err", tmp, bin ? bin : "./qeval", args, tmp,
		 tmp);
	st = system(cmd);
	for (int i = 0; i < 2; i++) {
		FILE *f;
		size_t n;
		snprintf(path, sizeof(path), "%s/%s", tmp, names[i]);
		f = fopen(path, "r");
		n = f ? fread(bufs[i], 1, caps[i] - 1, f) : 0;
		bufs[i][n] = '\0';
		if (f)
			fclose(f);
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* tq_qeval with the arguments made by printf from fmt. */
static inline int tq_qevalf(const char *tmp, char *out, size_t out_cap, char *err, size_t err_cap, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
static inline int tq_qevalf(const char *tmp, char *out, size_t out_cap, char *err, size_t err_cap, const char *fmt, ...)
{
	char args[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	return tq_qeval(tmp, args, out, out_cap, err, err_cap);
}

/* Run `mpirun -np 2 --oversubscribe qeval ARGS` with the cache in tmp/cache,
 * its output into the file log; the exit status. Root may run it (the CI
 * machine's user). */
static inline int tq_mpirun(const char *tmp, const char *args, const char *log)
{
	char cmd[8192];
	const char *bin = getenv("QE_QEVAL");
	int st;

	snprintf(cmd, sizeof(cmd), "QEVAL_CACHE=%s/cache OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 "
		 "mpirun -np 2 --oversubscribe %s %s >%s 2>&1", tmp, bin ? bin : "./qeval", args, log);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Why `mpirun qeval` cannot be tested here (for TQ_SKIP), NULL when it can. */
static inline const char *tq_no_mpi(const char *tmp)
{
	char out[4096], err[4096];

	if (system("command -v mpirun >/dev/null 2>&1") != 0)
		return "mpirun is not on PATH (apt-get install openmpi-bin)";
	if (tq_qeval(tmp, "version", out, sizeof(out), err, sizeof(err)) != 0 || !strstr(out, "mpi: yes"))
		return "qeval was built without MPI (make MPI=1)";
	return NULL;
}

#endif
