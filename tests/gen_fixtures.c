/* Writes the fixture models the core tests run on (harness/fixtures.c). */
#include "harness/fixtures.h"

#include <stdio.h>

int main(int argc, char **argv)
{
	struct qe_err err = { 0 };

	if (argc != 2) {
		fprintf(stderr, "usage: gen-fixtures OUTDIR\n");
		return 2;
	}
	if (qe_fixtures_generate(argv[1], &err) != 0) {
		fprintf(stderr, "gen-fixtures: %s\n", err.msg);
		return 3;
	}
	printf("gen-fixtures: fixture models written to %s\n", argv[1]);
	return 0;
}
