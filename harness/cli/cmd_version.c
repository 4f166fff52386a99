/* qeval version: qeval's and the engine's versions. */
#include "harness/cli/cli.h"
#include "harness/mpi.h"
#include "runtimes/runtime.h"

#include <stdio.h>

int cmd_version(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("qeval %s (git %s)\n", QE_VERSION, QE_GIT);
	for (const char *const *r = qe_runtime_names(); *r; r++) {
		const char *v = qe_runtime_version(*r);
		if (v && *v)
			printf("runtime %s: %s\n", *r, v);
	}
	printf("mpi: %s\n", qe_mpi_built() ? "yes (mpirun -np N qeval run ...)" : "no (build with make MPI=1)");
	return 0;
}
