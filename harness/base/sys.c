#include "harness/base/sys.h"

#include <errno.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
