/* qeval — jobs. See harness/jobs.h. */
#include "harness/jobs.h"
#include "harness/base/sys.h"

#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* the GPUs a job may be given: CUDA_VISIBLE_DEVICES's entries, else the
 * driver's devices (/proc/driver/nvidia/gpus, else /dev/nvidiaN) as
 * 0 .. g-1; their count */
static int gpu_list(char list[][32], int cap)
{
	const char *cv = getenv("CUDA_VISIBLE_DEVICES");
	char buf[1024], *save = NULL, *tok;
	struct dirent *de;
	DIR *d;
	int n = 0;

	if (cv) {
		snprintf(buf, sizeof(buf), "%s", cv);
		for (tok = strtok_r(buf, ",", &save); tok && n < cap; tok = strtok_r(NULL, ",", &save))
			snprintf(list[n++], 32, "%s", tok);
		return n;
	}
	if ((d = opendir("/proc/driver/nvidia/gpus")) != NULL) {
		while ((de = readdir(d)) != NULL)
			n += de->d_name[0] != '.';
		closedir(d);
	} else if ((d = opendir("/dev")) != NULL) { /* a container without /proc/driver: its device nodes */
		while ((de = readdir(d)) != NULL)
			n += !strncmp(de->d_name, "nvidia", 6) && de->d_name[6] >= '0' && de->d_name[6] <= '9';
		closedir(d);
	}
	n = n < cap ? n : cap;
	for (int i = 0; i < n; i++)
		snprintf(list[i], 32, "%d", i);
	return n;
}

void qe_job_place(int j, int n, struct qe_job_place *p)
{
	static char gpus[64][32];
	const char *kv = getenv("QEVAL_GPUS_PER_RANK");
	int all[1024], m = 0, g, k = kv && atoi(kv) > 0 ? atoi(kv) : 1;
	cpu_set_t set;

	memset(p, 0, sizeof(*p));
	CPU_ZERO(&set);
	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		for (int c = 0; c < CPU_SETSIZE && m < 1024; c++)
			if (CPU_ISSET(c, &set))
				all[m++] = c;
	if (m >= n) {
		for (int c = (int)((long)j * m / n); c < (int)((long)(j + 1) * m / n); c++)
			p->cpus[p->n_cpus++] = all[c];
	} else if (m > 0) {
		p->cpus[p->n_cpus++] = all[j % m];
	}
	if ((g = gpu_list(gpus, 64)) > 1)
		for (int d = j * k; d < j * k + k; d++) {
			size_t l = strlen(p->gpu);
			snprintf(p->gpu + l, sizeof(p->gpu) - l, "%s%s", l ? "," : "", gpus[d % g]);
		}
}

void qe_job_cpus_text(const struct qe_job_place *p, char *buf, size_t cap)
{
	size_t l = 0;

	buf[0] = '\0';
	for (int i = 0; i < p->n_cpus && l < cap; i++) {
		int a = p->cpus[i], b = a;
		while (i + 1 < p->n_cpus && p->cpus[i + 1] == b + 1)
			b = p->cpus[++i];
		l += (size_t)snprintf(buf + l, cap - l, a == b ? "%s%d" : "%s%d-%d", l ? "," : "", a, b);
	}
}

/* in the forked job j: its CPUs, its GPU, its own process group, death with
 * the parent; then fn */
static void job_main(int j, int n, pid_t parent, int (*fn)(int, void *), void *ctx)
{
	struct qe_job_place p;
	cpu_set_t set;
	int code;

	qe_job_place(j, n, &p);
	CPU_ZERO(&set);
	for (int i = 0; i < p.n_cpus; i++)
		CPU_SET(p.cpus[i], &set);
	if (p.n_cpus > 0)
		sched_setaffinity(0, sizeof(set), &set);
	if (p.gpu[0])
		setenv("CUDA_VISIBLE_DEVICES", p.gpu, 1);
	setpgid(0, 0); /* the terminal's SIGINT reaches the parent only: it passes it on once */
	qe_die_with_parent(SIGTERM, (long)parent);
	code = fn(j, ctx);
	fflush(stdout);
	fflush(stderr);
	_exit(code & 0xFF);
}

int qe_jobs_run(int n, int (*fn)(int j, void *ctx), void *ctx)
{
	pid_t *pids = calloc((size_t)n, sizeof(*pids)), parent = getpid();
	int left = 0, worst = 0, passed_on = 0, started = 0;

	if (!pids)
		return -1;
	fflush(stdout);
	fflush(stderr);
	qe_stop_install(1);
	for (int j = 0; j < n; j++) {
		pid_t pid = fork();
		if (pid == 0)
			job_main(j, n, parent, fn, ctx);
		if (pid < 0) {
			worst = -1;
			qe_stop_request(SIGTERM); /* the others stop after their current item */
			break;
		}
		pids[j] = pid;
		started++;
		left++;
	}
	while (left > 0) {
		for (int j = 0; j < started; j++) {
			int st = 0;
			pid_t w;
			if (!pids[j] || (w = waitpid(pids[j], &st, WNOHANG)) == 0 || (w < 0 && errno == EINTR))
				continue;
			pids[j] = 0;
			left--;
			if (w == -1)
				continue;
			st = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
			if (worst >= 0 && st > worst)
				worst = st;
		}
		if (qe_stop_signal() && !passed_on) {
			for (int j = 0; j < started; j++)
				if (pids[j])
					kill(pids[j], SIGTERM);
			passed_on = 1;
		}
		if (left > 0)
			usleep(20000);
	}
	free(pids);
	return worst;
}
