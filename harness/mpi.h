/* qeval — MPI ranks (built with `make MPI=1`; docs/scale-out.md).
 *
 * Under `mpirun -np N qeval run ...` every rank runs its shard of the plan
 * (harness/scale.h) into OUT/ranks/R; the shards' files are gathered on
 * rank 0 (sent over MPI where rank 0 does not already see them: a file
 * system that is not shared), which merges them into OUT (harness/merge.h)
 * and writes results and reports. MPI is started only when the process was
 * launched by mpirun (its environment says so): the same binary runs alone
 * as the plain one does. Not thread-safe: called from the driver's thread.
 */
#ifndef QE_MPI_H
#define QE_MPI_H

#include "harness/base/err.h"

struct qe_mpi {
	int rank, size;   /* this rank of size; size 1 = not under mpirun */
	int local_rank;   /* the rank on this host (the GPU it takes) */
	int started;      /* 1 = MPI_Init was called */
};

/* 1 when this binary was built with MPI (make MPI=1). */
int qe_mpi_built(void);

/* Start MPI when launched by mpirun with more than one rank (else size 1).
 * A rank of several takes the GPU of its local rank before MPI_Init and
 * before any level process starts: CUDA_VISIBLE_DEVICES unset becomes the
 * local rank; a list becomes its local-rank-th entry (modulo its length);
 * QEVAL_GPUS_PER_RANK=k gives each rank k consecutive devices (a model too
 * large for one GPU). QE_EINVAL when launched by mpirun with several
 * ranks but built without MPI (each rank would run the whole plan). */
int qe_mpi_start(struct qe_mpi *m, struct qe_err *err);

/* Finish MPI (every rank calls it once, after the last collective). A
 * command may start MPI before the pipeline does (to agree on something
 * first): starting again gives the same ranks, and MPI finishes at the
 * last qe_mpi_end of as many as there were starts. */
void qe_mpi_end(struct qe_mpi *m);

/* Rank 0's v, on every rank. */
int qe_mpi_bcast_int(const struct qe_mpi *m, int v);

/* Rank 0's v[0 .. n), on every rank (in place). */
void qe_mpi_bcast_ints(const struct qe_mpi *m, int *v, int n);

/* Rank 0's *v, on every rank (in place). */
void qe_mpi_bcast_double(const struct qe_mpi *m, double *v);

/* The largest v of every rank, on every rank. */
int qe_mpi_max_int(const struct qe_mpi *m, int v);

/* Every rank's folder `dir` (its shard: plan.json, identity.json,
 * shard.json, levels/ without the kld reference's distributions) into rank
 * 0's folder to_root/RANK: a file rank 0 already sees with the same size
 * and content is not sent. Collective; rank 0 returns its first write
 * error, the others 0. */
int qe_mpi_gather_dir(const struct qe_mpi *m, const char *dir, const char *to_root, struct qe_err *err);

#endif
