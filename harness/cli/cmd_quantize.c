/* qeval quantize: produce levels of a model into the cache (reused later). */
#include "harness/cli/cli.h"
#include "harness/base/opt.h"
#include "harness/base/sys.h"
#include "runtimes/gguf_info.h"
#include "runtimes/runtime.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
	"usage: qeval quantize --model FILE.gguf --levels L1,L2,... [options]\n"
	"\n"
	"Produces each level of an F16/BF16/F32 GGUF model with llama.cpp's quantizer\n"
	"into the cache (keyed by the source's content hash and the type) and reuses\n"
	"levels already there. Prints what each level really contains.\n"
	"\n"
	"  -m, --model FILE     the source model (F16, BF16 or F32 GGUF)\n"
	"  -l, --levels LIST    quantization types (see 'qeval list levels') or NAME=FILE.gguf\n"
	"      --cache DIR      cache folder (default $QEVAL_CACHE, else ~/.cache/qeval)\n"
	"  -t, --threads N      quantizer threads (default: the CPUs this process may use)\n"
	"      --runtime NAME   runtime whose quantizer to use (default llamacpp)\n"
	"\n"
	"Exit: 0 all levels ready, 2 a bad file or level (the others are still made), 3 engine failure.\n";

static void print_level(const struct qe_level *lv, double secs)
{
	struct qe_gguf_info gi;
	struct qe_err e = { 0 };

	if (qe_gguf_read_info(lv->path, &gi, &e) != 0) {
		printf("%-8s %s\n", lv->name, e.msg);
		return;
	}
	printf("%-8s %s %s\n", lv->name, lv->reused ? "cached " : "made   ", lv->path);
	printf("         %.2f MiB, %.3f bits/weight%s", (double)gi.file_bytes / 1048576.0,
	       gi.n_elements ? 8.0 * (double)gi.tensor_bytes / (double)gi.n_elements : 0.0,
	       lv->reused ? "" : "");
	if (!lv->reused)
		printf(", %.2f s", secs);
	printf("; tensors:");
	for (int i = 0; i < gi.n_types; i++)
		printf(" %s×%u", gi.types[i].type, gi.types[i].n_tensors);
	printf("\n");
}

int cmd_quantize(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "model", required_argument, 0, 'm' }, { "levels", required_argument, 0, 'l' },
		{ "cache", required_argument, 0, 'C' }, { "threads", required_argument, 0, 't' },
		{ "runtime", required_argument, 0, 'R' }, { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 },
	};
	const char *model = NULL, *levels = NULL, *cache = NULL, *runtime = "llamacpp";
	struct qe_err err = { 0 };
	long threads = 0;
	char **items;
	size_t n;
	int c, worst = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "m:l:t:h", lo, NULL)) != -1) {
		switch (c) {
		case 'm': model = optarg; break;
		case 'l': levels = optarg; break;
		case 'C': cache = optarg; break;
		case 'R': runtime = optarg; break;
		case 't':
			if (qe_opt_int(optarg, 1, 4096, "--threads", &threads, &err))
				return qe_opt_die("quantize", &err);
			break;
		case 'h': return qe_opt_help(usage);
		default: fputs(usage, stderr); return QE_EXIT_USAGE;
		}
	}
	if (!model || !levels) {
		fprintf(stderr, "qeval quantize: --model and --levels are required (see 'qeval quantize --help')\n");
		return QE_EXIT_USAGE;
	}
	n = qe_opt_split(levels, &items);
	for (size_t i = 0; i < n; i++) {
		struct qe_level lv;
		double t0 = qe_now();
		int rc;
		qe_err_clear(&err);
		rc = qe_level_prepare(runtime, model, items[i], cache, (int)threads, &lv, &err);
		if (rc) {
			fprintf(stderr, "qeval quantize: %s\n", err.msg);
			if (qe_exit_code(rc) > worst)
				worst = qe_exit_code(rc);
			/* the source itself is bad: no other level can be made */
			if (rc == QE_ENOENT && !strchr(items[i], '=') && !strstr(items[i], ".gguf"))
				break;
			continue;
		}
		print_level(&lv, qe_now() - t0);
		fflush(stdout);
	}
	free(items);
	return worst;
}
