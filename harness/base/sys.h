/* qeval — facts about the machine and the process. Thread-safe. */
#ifndef QE_SYS_H
#define QE_SYS_H

#include <stddef.h>
#include <stdint.h>

#include "harness/base/err.h"

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

/* ---- stopping on SIGINT / SIGTERM ----------------------------------------
 * qe_stop_install sets handlers for SIGINT and SIGTERM that only record the
 * signal (async-signal-safe); long loops poll qe_stop_signal() between items
 * and stop cleanly. second_ends = 1: a second signal while a stop is pending
 * ends the process at once (status 128 + signal); 0: it is ignored (a level
 * process that gets both the terminal's SIGINT and its driver's SIGTERM).
 * Process-wide state: the flag is a sig_atomic_t, read and written from any
 * thread. */
void qe_stop_install(int second_ends);
/* The signal that asked the process to stop, 0 when none. */
int qe_stop_signal(void);
/* Ask for a stop as if signal sig had come (tests, a parent forwarding). */
void qe_stop_request(int sig);

/* In a freshly forked child: die with signal sig when the parent process
 * (parent_pid) dies (PR_SET_PDEATHSIG); if it is already gone, the signal
 * is raised at once. */
void qe_die_with_parent(int sig, long parent_pid);

/* Remove the files of dir named "*.tmp.PID" (the temporary names of atomic
 * writes and quantizations) whose process PID is no longer running: what a
 * killed process left. Not recursive. Returns how many were removed. */
int qe_clean_stale_tmp(const char *dir);

/* ---- one process per folder ----------------------------------------------
 * A lock file DIR/NAME holding the owner's pid, held with flock(2): the
 * kernel drops the lock when every process holding it (the owner and the
 * children it forked) has exited, so a lock left by a killed run is stale
 * and is taken over; a lock held by a live process is refused. */
struct qe_lock {
	int fd;          /* -1 when not held */
	long stale_pid;  /* the pid a stale lock named (0 = none): for a note */
};

/* Take the lock; QE_EINVAL "'DIR' is in use by process PID (DIR/NAME)" when
 * another process holds it, QE_EIO when the file cannot be made. */
int qe_lock_take(struct qe_lock *l, const char *dir, const char *name, struct qe_err *err);
/* Release: the file stays, emptied (a later run takes it; a pid still in
 * it then names a process that died holding it, l->stale_pid). */
void qe_lock_release(struct qe_lock *l);

#endif
