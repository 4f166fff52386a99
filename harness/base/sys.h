/* qeval — facts about the machine and the process. Thread-safe. */
#ifndef QE_SYS_H
#define QE_SYS_H

#include <stddef.h>
#include <stdint.h>

/* CPUs this process may run on (sched_getaffinity), >= 1. */
int qe_cpus_allowed(void);

/* Monotonic clock, seconds. */
double qe_now(void);

/* The 1-minute load average (/proc/loadavg): runnable and waiting tasks,
 * averaged; NaN when unknown. */
double qe_load1(void);

/* CPU time stolen from this machine by its hypervisor since boot, summed over
 * every CPU (/proc/stat, the "cpu" line's steal column, over USER_HZ), in
 * seconds; NaN when unknown. The difference over an interval is the time the
 * guest's CPUs were ready but not running. */
double qe_steal_s(void);

/* Peak resident set size of this process so far, bytes (getrusage). */
uint64_t qe_peak_rss(void);

struct qe_machine {
	char cpu[128];        /* "model name" from /proc/cpuinfo */
	char host[64];
	char os[128];         /* uname: sysname release machine */
	int n_cpus_online;
	int n_cpus_allowed;
	uint64_t mem_bytes;   /* MemTotal */
};

void qe_machine_get(struct qe_machine *m);

/* The user's cache folder for qeval: $QEVAL_CACHE, else $XDG_CACHE_HOME/qeval,
 * else $HOME/.cache/qeval. Written into buf (cap bytes); returns buf. */
char *qe_cache_dir(char *buf, size_t cap);

/* mkdir -p; 0 or -1 with errno. */
int qe_mkdirs(const char *path, unsigned mode);

/* Size of a file in bytes, -1 when it cannot be stat'ed. */
int64_t qe_file_size(const char *path);

#endif
