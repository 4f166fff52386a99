/* qeval — jobs: several shards of one run at once on one machine, without
 * MPI (`qeval run --jobs N`, docs/scale-out.md). Each job is a forked
 * process with its share of the CPUs this process may use (its affinity, so
 * the engine's thread counts follow) and, where several GPUs are visible,
 * its own GPU. Not thread-safe: called from the driver's thread before any
 * other thread exists.
 */
#ifndef QE_JOBS_H
#define QE_JOBS_H

#include <stddef.h>

/* Where job j of n runs: the CPUs (of the allowed set, in order) cpus[0 ..
 * *n_cpus) and the CUDA_VISIBLE_DEVICES it sets (gpu = "" to leave it as it
 * is). Allowed CPUs c_0 .. c_{m-1}: with m >= n, job j takes c_k for
 * floor(j m / n) <= k < floor((j + 1) m / n); with m < n, c_{j mod m}.
 * GPUs: the entries of CUDA_VISIBLE_DEVICES, else the NVIDIA driver's
 * devices (/proc/driver/nvidia/gpus, else the /dev/nvidiaN nodes); with
 * g > 1 of them, job j takes entry j mod g (QEVAL_GPUS_PER_RANK = k: k
 * consecutive ones); one or none: all jobs share it. */
struct qe_job_place {
	int cpus[1024];
	int n_cpus;
	char gpu[256];
};
void qe_job_place(int j, int n, struct qe_job_place *p);

/* "0-3,8" for the place's CPUs, into buf. */
void qe_job_cpus_text(const struct qe_job_place *p, char *buf, size_t cap);

/* Run fn(j, ctx) for j = 0 .. n-1 in n forked processes, each placed
 * (qe_job_place) and in its own process group; a SIGINT or SIGTERM to this
 * process is passed on to every job once (each stops after its current
 * item), and a job dies with this process. Returns the largest exit code of
 * the jobs (a job killed by a signal: 128 + the signal), or -1 when a fork
 * failed (the jobs started are waited for). */
int qe_jobs_run(int n, int (*fn)(int j, void *ctx), void *ctx);

#endif
