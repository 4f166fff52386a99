#include "harness/base/sys.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

int qe_cpus_allowed(void)
{
	cpu_set_t set;
	long n;

	CPU_ZERO(&set);
	if (sched_getaffinity(0, sizeof(set), &set) == 0) {
		int c = CPU_COUNT(&set);
		if (c > 0)
			return c;
	}
	n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n : 1;
}

double qe_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double qe_load1(void)
{
	FILE *f = fopen("/proc/loadavg", "r");
	double l = NAN;

	if (!f)
		return NAN;
	if (fscanf(f, "%lf", &l) != 1)
		l = NAN;
	fclose(f);
	return l;
}

double qe_steal_s(void)
{
	FILE *f = fopen("/proc/stat", "r");
	unsigned long long v[8];
	long hz = sysconf(_SC_CLK_TCK);
	int n;

	if (!f)
		return NAN;
	/* cpu  user nice system idle iowait irq softirq steal ... */
	n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6],
		   &v[7]);
	fclose(f);
	return n == 8 && hz > 0 ? (double)v[7] / (double)hz : NAN;
}

uint64_t qe_peak_rss(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	return (uint64_t)ru.ru_maxrss * 1024u; /* Linux reports KiB */
}

void qe_machine_get(struct qe_machine *m)
{
	struct utsname u;
	char line[512];
	FILE *f;

	memset(m, 0, sizeof(*m));
	snprintf(m->cpu, sizeof(m->cpu), "unknown");
	f = fopen("/proc/cpuinfo", "r");
	if (f) {
		while (fgets(line, sizeof(line), f)) {
			char *colon = strchr(line, ':');
			if (!strncmp(line, "model name", 10) && colon) {
				colon++;
				while (*colon == ' ' || *colon == '\t')
					colon++;
				colon[strcspn(colon, "\n")] = '\0';
				snprintf(m->cpu, sizeof(m->cpu), "%s", colon);
				break;
			}
		}
		fclose(f);
	}
	f = fopen("/proc/meminfo", "r");
	if (f) {
		unsigned long long kb;
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "MemTotal: %llu kB", &kb) == 1) {
				m->mem_bytes = (uint64_t)kb * 1024u;
				break;
			}
		fclose(f);
	}
	if (gethostname(m->host, sizeof(m->host)) != 0)
		snprintf(m->host, sizeof(m->host), "unknown");
	m->host[sizeof(m->host) - 1] = '\0';
	if (uname(&u) == 0)
		snprintf(m->os, sizeof(m->os), "%s %s %s", u.sysname, u.release, u.machine);
	m->n_cpus_online = (int)sysconf(_SC_NPROCESSORS_ONLN);
	m->n_cpus_allowed = qe_cpus_allowed();
}

char *qe_cache_dir(char *buf, size_t cap)
{
	const char *e = getenv("QEVAL_CACHE");

	if (e && *e)
		snprintf(buf, cap, "%s", e);
	else if ((e = getenv("XDG_CACHE_HOME")) && *e)
		snprintf(buf, cap, "%s/qeval", e);
	else if ((e = getenv("HOME")) && *e)
		snprintf(buf, cap, "%s/.cache/qeval", e);
	else
		snprintf(buf, cap, ".qeval-cache");
	return buf;
}

int qe_mkdirs(const char *path, unsigned mode)
{
	char tmp[4096];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(tmp, path, len + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, mode) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(tmp, mode) != 0 && errno != EEXIST)
		return -1;
	return 0;
}

int64_t qe_file_size(const char *path)
{
	struct stat st;

	if (stat(path, &st) != 0)
		return -1;
	return (int64_t)st.st_size;
}

/* ---- stopping on SIGINT / SIGTERM ---------------------------------------- */

static volatile sig_atomic_t g_stop_sig, g_second_ends;

static void on_stop_signal(int sig)
{
	if (g_stop_sig && g_second_ends) /* a second one: the user means it */
		_exit(128 + sig);
	if (!g_stop_sig)
		g_stop_sig = sig;
}

void qe_stop_install(int second_ends)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	g_second_ends = second_ends;
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

int qe_stop_signal(void)
{
	return (int)g_stop_sig;
}

void qe_stop_request(int sig)
{
	g_stop_sig = sig;
}

void qe_die_with_parent(int sig, long parent_pid)
{
	prctl(PR_SET_PDEATHSIG, sig);
	if ((long)getppid() != parent_pid) /* it died before prctl took effect */
		raise(sig);
}

/* 1 when process pid has exited but was not reaped (state Z): dead */
static int is_zombie(long pid)
{
	char path[64], buf[512];
	const char *rp;
	FILE *f;
	int z = 0;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if (!(f = fopen(path, "r")))
		return 0;
	if (fgets(buf, sizeof(buf), f) && (rp = strrchr(buf, ')')) != NULL)
		z = rp[1] == ' ' && rp[2] == 'Z';
	fclose(f);
	return z;
}

int qe_clean_stale_tmp(const char *dir)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d)) != NULL) {
		const char *t = strstr(de->d_name, ".tmp.");
		char path[4200], *end;
		long pid;
		int alive;

		if (!t || strstr(t + 5, ".tmp."))
			continue;
		pid = strtol(t + 5, &end, 10);
		if (end == t + 5 || *end || pid <= 0 || pid == (long)getpid())
			continue;
		/* EPERM: another user's process, alive */
		alive = kill((pid_t)pid, 0) == 0 ? !is_zombie(pid) : errno != ESRCH;
		if (alive)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		n += unlink(path) == 0;
	}
	closedir(d);
	return n;
}

/* ---- one process per folder ---------------------------------------------- */

int qe_lock_take(struct qe_lock *l, const char *dir, const char *name, struct qe_err *err)
{
	char path[4200], buf[32];
	ssize_t n;
	int fd;

	l->fd = -1;
	l->stale_pid = 0;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return qe_fail(err, QE_EIO, "cannot create the lock '%s': %s", path, strerror(errno));
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	buf[n > 0 ? n : 0] = '\0';
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int e = errno;
		close(fd);
		if (e == EWOULDBLOCK && strtol(buf, NULL, 10) > 0)
			return qe_fail(err, QE_EINVAL, "'%s' is in use by process %ld (%s): wait for it or stop it", dir,
				       strtol(buf, NULL, 10), path);
		if (e == EWOULDBLOCK)
			return qe_fail(err, QE_EINVAL, "'%s' is in use by another process (%s): wait for it or stop it", dir,
				       path);
		return qe_fail(err, QE_EIO, "cannot lock '%s': %s", path, strerror(e));
	}
	l->stale_pid = strtol(buf, NULL, 10);
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, (size_t)n, 0) != n) {
		int e = errno;
		close(fd);
		return qe_fail(err, QE_EIO, "cannot write the lock '%s': %s", path, strerror(e));
	}
	l->fd = fd;
	return 0;
}

void qe_lock_release(struct qe_lock *l)
{
	if (l->fd >= 0) {
		/* empty = released in order: a pid found later is a stale lock's */
		if (ftruncate(l->fd, 0) != 0)
			(void)0;
		flock(l->fd, LOCK_UN);
		close(l->fd);
	}
	l->fd = -1;
}
