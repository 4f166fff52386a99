/* qeval — MPI ranks. See harness/mpi.h. Without QE_MPI (make MPI=1) every
 * function is the single-process one. */
#include "harness/mpi.h"
#include "harness/base/hash.h"
#include "harness/base/sys.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef QE_MPI
#include <mpi.h>
#endif

/* ranks of mpirun (or srun with PMI) as the environment says, 0 when none */
static int launched_ranks(void)
{
	static const char *const vars[] = { "OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", NULL };

	for (int i = 0; vars[i]; i++) {
		const char *v = getenv(vars[i]);
		if (v && atoi(v) > 0)
			return atoi(v);
	}
	return getenv("PMIX_RANK") ? 2 : 0; /* PMIx without a size: assume several */
}

int qe_mpi_built(void)
{
#ifdef QE_MPI
	return 1;
#else
	return 0;
#endif
}

#ifndef QE_MPI

int qe_mpi_start(struct qe_mpi *m, struct qe_err *err)
{
	memset(m, 0, sizeof(*m));
	m->size = 1;
	if (launched_ranks() > 1)
		return qe_fail(err, QE_EINVAL, "started by mpirun with %d ranks, but this qeval was built without MPI: "
			       "build it with 'make MPI=1' (else every rank would run the whole plan)", launched_ranks());
	return 0;
}

void qe_mpi_end(struct qe_mpi *m)
{
	(void)m;
}

int qe_mpi_bcast_int(const struct qe_mpi *m, int v)
{
	(void)m;
	return v;
}

int qe_mpi_max_int(const struct qe_mpi *m, int v)
{
	(void)m;
	return v;
}

void qe_mpi_bcast_ints(const struct qe_mpi *m, int *v, int n)
{
	(void)m;
	(void)v;
	(void)n;
}

void qe_mpi_bcast_double(const struct qe_mpi *m, double *v)
{
	(void)m;
	(void)v;
}

int qe_mpi_gather_dir(const struct qe_mpi *m, const char *dir, const char *to_root, struct qe_err *err)
{
	(void)m;
	(void)dir;
	(void)to_root;
	(void)err;
	return 0;
}

#else /* QE_MPI */

enum { TAG_LIST = 71, TAG_NEED, TAG_DATA };
#define PATH_CAP 1024
#define CHUNK ((size_t)64 << 20) /* bytes per message */

/* CUDA_VISIBLE_DEVICES for local rank lr, k = $QEVAL_GPUS_PER_RANK devices
 * (default 1): devices lr k .. lr k + k - 1 when it is unset, else those
 * entries (modulo their count) of the devices it lists */
static void pick_gpu(int lr)
{
	const char *cv = getenv("CUDA_VISIBLE_DEVICES"), *kv = getenv("QEVAL_GPUS_PER_RANK");
	char buf[256], out[256] = "", *save = NULL, *tok, *list[64];
	int n = 0, k = kv && atoi(kv) > 0 ? atoi(kv) : 1;

	if (cv && *cv) {
		snprintf(buf, sizeof(buf), "%s", cv);
		for (tok = strtok_r(buf, ",", &save); tok && n < 64; tok = strtok_r(NULL, ",", &save))
			list[n++] = tok;
	}
	for (int d = lr * k; d < lr * k + k; d++) {
		size_t l = strlen(out);
		if (n > 0)
			snprintf(out + l, sizeof(out) - l, "%s%s", l ? "," : "", list[d % n]);
		else
			snprintf(out + l, sizeof(out) - l, "%s%d", l ? "," : "", d);
	}
	if (n != 1) /* one device listed: every rank shares it */
		setenv("CUDA_VISIBLE_DEVICES", out, 1);
}

struct fentry {
	char path[PATH_CAP];  /* relative to the shard folder */
	uint64_t size, hash;  /* bytes, FNV-1a 64 of the content */
};

static struct qe_mpi g_world; /* the ranks once started */
static int g_starts;           /* starts not yet ended */

int qe_mpi_start(struct qe_mpi *m, struct qe_err *err)
{
	MPI_Comm node;

	const char *lr = getenv("OMPI_COMM_WORLD_LOCAL_RANK"), *lr2 = getenv("MPI_LOCALRANKID");

	memset(m, 0, sizeof(*m));
	m->size = 1;
	if (launched_ranks() <= 1)
		return 0;
	if (g_starts > 0) {
		g_starts++;
		*m = g_world;
		return 0;
	}
	lr = lr ? lr : lr2 ? lr2 : getenv("SLURM_LOCALID");
	if (lr) /* before MPI_Init: a CUDA-aware MPI may start CUDA there */
		pick_gpu(atoi(lr));
	if (MPI_Init(NULL, NULL) != MPI_SUCCESS)
		return qe_fail(err, QE_ERUNTIME, "MPI_Init failed");
	m->started = 1;
	MPI_Comm_rank(MPI_COMM_WORLD, &m->rank);
	MPI_Comm_size(MPI_COMM_WORLD, &m->size);
	MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, m->rank, MPI_INFO_NULL, &node);
	MPI_Comm_rank(node, &m->local_rank);
	MPI_Comm_free(&node);
	if (m->size > 1 && !lr)
		pick_gpu(m->local_rank);
	g_world = *m;
	g_starts = 1;
	return 0;
}

void qe_mpi_end(struct qe_mpi *m)
{
	if (m->started && --g_starts == 0)
		MPI_Finalize();
	m->started = 0;
}

void qe_mpi_bcast_ints(const struct qe_mpi *m, int *v, int n)
{
	if (m->size > 1 && n > 0)
		MPI_Bcast(v, n, MPI_INT, 0, MPI_COMM_WORLD);
}

void qe_mpi_bcast_double(const struct qe_mpi *m, double *v)
{
	if (m->size > 1)
		MPI_Bcast(v, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD);
}

int qe_mpi_bcast_int(const struct qe_mpi *m, int v)
{
	if (m->size > 1)
		MPI_Bcast(&v, 1, MPI_INT, 0, MPI_COMM_WORLD);
	return v;
}

int qe_mpi_max_int(const struct qe_mpi *m, int v)
{
	int out = v;

	if (m->size > 1)
		MPI_Allreduce(&v, &out, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
	return out;
}

/* size and FNV-1a 64 of a file; -1 when it cannot be read */
static int file_sum(const char *path, uint64_t *size, uint64_t *hash)
{
	static char buf[1 << 20];
	FILE *f = fopen(path, "rb");
	size_t n;

	*size = 0;
	*hash = QE_FNV1A_INIT;
	if (!f)
		return -1;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		*hash = qe_fnv1a(*hash, buf, n);
		*size += n;
	}
	fclose(f);
	return 0;
}

/* 1 for a file the merge needs */
static int wanted(const char *name)
{
	size_t n = strlen(name);

	if (name[0] == '.' || !strcmp(name, "lock") || strstr(name, ".tmp."))
		return 0;
	return !(!strncmp(name, "kld-", 4) && n > 4 && !strcmp(name + n - 4, ".ref"));
}

/* the files under root/rel (recursive) appended to *list */
static void list_files(const char *root, const char *rel, struct fentry **list, size_t *n, size_t *cap)
{
	char path[4400], sub[PATH_CAP];
	struct dirent *de;
	struct stat st;
	DIR *d;

	snprintf(path, sizeof(path), "%s%s%s", root, *rel ? "/" : "", rel);
	if (!(d = opendir(path)))
		return;
	while ((de = readdir(d)) != NULL) {
		if (!wanted(de->d_name))
			continue;
		snprintf(sub, sizeof(sub), "%s%s%s", rel, *rel ? "/" : "", de->d_name);
		snprintf(path, sizeof(path), "%s/%s", root, sub);
		if (stat(path, &st) != 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			list_files(root, sub, list, n, cap);
			continue;
		}
		if (!S_ISREG(st.st_mode))
			continue;
		if (*n == *cap) {
			struct fentry *nl = realloc(*list, (*cap ? *cap * 2 : 64) * sizeof(**list));
			if (!nl)
				break;
			*list = nl;
			*cap = *cap ? *cap * 2 : 64;
		}
		memset(&(*list)[*n], 0, sizeof(**list));
		snprintf((*list)[*n].path, PATH_CAP, "%s", sub);
		if (file_sum(path, &(*list)[*n].size, &(*list)[*n].hash) == 0)
			(*n)++;
	}
	closedir(d);
}

/* a rank other than 0: the list, then the files rank 0 asks for */
static void send_dir(const char *dir)
{
	struct fentry *list = NULL;
	size_t n = 0, cap = 0;
	char *need, *buf = malloc(CHUNK), path[4400];
	int ni;

	list_files(dir, "", &list, &n, &cap);
	ni = buf ? (int)n : 0;
	MPI_Send(&ni, 1, MPI_INT, 0, TAG_LIST, MPI_COMM_WORLD);
	if (ni > 0)
		MPI_Send(list, (int)(n * sizeof(*list)), MPI_BYTE, 0, TAG_LIST, MPI_COMM_WORLD);
	need = calloc(n + 1, 1);
	if (ni > 0)
		MPI_Recv(need, ni, MPI_CHAR, 0, TAG_NEED, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
	for (size_t k = 0; k < (size_t)ni; k++) {
		FILE *f;
		uint64_t left = list[k].size;
		if (!need[k])
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, list[k].path);
		f = fopen(path, "rb");
		while (left > 0) { /* exactly the size announced: zeros if the file shrank */
			size_t c = left < CHUNK ? (size_t)left : CHUNK, got = f ? fread(buf, 1, c, f) : 0;
			memset(buf + got, 0, c - got);
			MPI_Send(buf, (int)c, MPI_BYTE, 0, TAG_DATA, MPI_COMM_WORLD);
			left -= c;
		}
		if (f)
			fclose(f);
	}
	free(need);
	free(list);
	free(buf);
}

/* rank 0: one file of `size` bytes from rank r into path (temporary name,
 * then rename); the messages are received also when it cannot be written */
static int recv_file(int r, const char *path, uint64_t size, char *buf, struct qe_err *err)
{
	char tmp[4500], dir[4400], *slash;
	FILE *f;
	int ok = 1;

	snprintf(dir, sizeof(dir), "%s", path);
	if ((slash = strrchr(dir, '/')) != NULL) {
		*slash = '\0';
		qe_mkdirs(dir, 0755);
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
	f = fopen(tmp, "wb");
	for (uint64_t left = size; left > 0;) {
		size_t c = left < CHUNK ? (size_t)left : CHUNK;
		MPI_Recv(buf, (int)c, MPI_BYTE, r, TAG_DATA, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
		ok &= f && fwrite(buf, 1, c, f) == c;
		left -= c;
	}
	if (f && fclose(f) != 0)
		ok = 0;
	if (ok && rename(tmp, path) == 0)
		return 0;
	unlink(tmp);
	return qe_fail(err, QE_EIO, "cannot write '%s' (from rank %d): %s", path, r, strerror(errno));
}

/* rank 0: rank r's files into to_root/r */
static int recv_dir(int r, const char *to_root, char *buf, struct qe_err *err)
{
	struct fentry *list;
	char path[4400], *need;
	int ni, rc = 0;

	MPI_Recv(&ni, 1, MPI_INT, r, TAG_LIST, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
	if (ni <= 0)
		return 0;
	list = calloc((size_t)ni, sizeof(*list));
	need = calloc((size_t)ni, 1);
	if (!list || !need) /* MPI cannot go on without them */
		MPI_Abort(MPI_COMM_WORLD, 3);
	MPI_Recv(list, (int)((size_t)ni * sizeof(*list)), MPI_BYTE, r, TAG_LIST, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
	for (int k = 0; k < ni; k++) {
		uint64_t size, hash;
		list[k].path[PATH_CAP - 1] = '\0';
		snprintf(path, sizeof(path), "%s/%d/%s", to_root, r, list[k].path);
		need[k] = !strstr(list[k].path, "..") && /* never outside the folder */
			  (file_sum(path, &size, &hash) != 0 || size != list[k].size || hash != list[k].hash);
	}
	MPI_Send(need, ni, MPI_CHAR, r, TAG_NEED, MPI_COMM_WORLD);
	for (int k = 0; k < ni; k++) {
		int frc;
		if (!need[k])
			continue;
		snprintf(path, sizeof(path), "%s/%d/%s", to_root, r, list[k].path);
		frc = recv_file(r, path, list[k].size, buf, rc ? NULL : err);
		rc = rc ? rc : frc;
	}
	free(list);
	free(need);
	return rc;
}

int qe_mpi_gather_dir(const struct qe_mpi *m, const char *dir, const char *to_root, struct qe_err *err)
{
	char *buf;
	int rc = 0;

	if (m->size <= 1)
		return 0;
	if (m->rank != 0) {
		send_dir(dir);
		return 0;
	}
	if (!(buf = malloc(CHUNK)))
		MPI_Abort(MPI_COMM_WORLD, 3);
	for (int r = 1; r < m->size; r++) {
		int rrc = recv_dir(r, to_root, buf, rc ? NULL : err);
		rc = rc ? rc : rrc;
	}
	free(buf);
	return rc;
}

#endif /* QE_MPI */
