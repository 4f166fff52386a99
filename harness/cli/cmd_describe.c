/* qeval describe: what a model file (or a level of it) really contains. */
#include "harness/cli/cli.h"
#include "harness/base/opt.h"
#include "harness/base/sys.h"
#include "harness/base/json.h"
#include "reports/tensors.h"
#include "runtimes/gguf_info.h"
#include "runtimes/runtime.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static const char usage[] =
	"usage: qeval describe --model FILE.gguf [--level LEVEL] [options]\n"
	"\n"
	"Loads the model through the runtime and prints its architecture, parameter\n"
	"count, file size, bits per weight, tensor-type histogram, what each tensor\n"
	"really is and the engine build. With --level, describes that level of the\n"
	"model (made or taken from the cache): a type, a recipe (TYPE+PATTERN:TYPE+...,\n"
	"docs/recipes.md) or NAME=FILE.gguf.\n"
	"\n"
	"  -m, --model FILE     model file (or the source of --level)\n"
	"      --level L        a quantization type, a recipe or NAME=FILE.gguf\n"
	"      --cache DIR      cache folder for levels\n"
	"  -t, --threads N      threads (default: the CPUs this process may use)\n"
	"      --tensors        every tensor's type (default: by kind and layer)\n"
	"      --runtime NAME   default llamacpp\n";

/* each kind of tensor with its types by layer, or (all) every tensor */
static void print_tensors(const char *path, int all)
{
	char kinds[128][QE_TENSOR_KIND_CAP];
	cJSON *types = cJSON_CreateObject(), *t;
	struct qe_text line = { 0 };
	size_t n;

	if (qe_gguf_tensor_types(path, types, NULL) != 0) {
		cJSON_Delete(types);
		return;
	}
	if (all) {
		cJSON_ArrayForEach(t, types)
			printf("  %-40s %s\n", t->string, t->valuestring);
	} else {
		n = qe_tensor_kinds(types, kinds, 128);
		for (size_t i = 0; i < n; i++) {
			qe_text_release(&line);
			qe_tensor_kind_text(types, kinds[i], &line);
			printf("  %-20s %s\n", kinds[i], qe_text_str(&line));
		}
	}
	qe_text_release(&line);
	cJSON_Delete(types);
}

int cmd_describe(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "model", required_argument, 0, 'm' }, { "level", required_argument, 0, 'L' },
		{ "cache", required_argument, 0, 'C' }, { "threads", required_argument, 0, 't' },
		{ "runtime", required_argument, 0, 'R' }, { "tensors", no_argument, 0, 'T' },
		{ "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 },
	};
	struct qe_rt_params p = qe_rt_default_params();
	const char *level = NULL, *cache = NULL;
	struct qe_err err = { 0 };
	struct qe_runtime *rt;
	struct qe_rt_info info;
	struct qe_level lv;
	long threads = 0;
	double t0;
	int c, all = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "m:t:h", lo, NULL)) != -1) {
		switch (c) {
		case 'm': p.model = optarg; break;
		case 'L': level = optarg; break;
		case 'C': cache = optarg; break;
		case 'R': p.runtime = optarg; break;
		case 'T': all = 1; break;
		case 't':
			if (qe_opt_int(optarg, 1, 4096, "--threads", &threads, &err))
				return qe_opt_die("describe", &err);
			break;
		case 'h': return qe_opt_help(usage);
		default: fputs(usage, stderr); return QE_EXIT_USAGE;
		}
	}
	if (!p.model && optind < argc)
		p.model = argv[optind];
	if (!p.model) {
		fprintf(stderr, "qeval describe: --model is required\n");
		return QE_EXIT_USAGE;
	}
	p.n_threads = (int)threads;
	if (level) {
		if (qe_level_prepare(p.runtime, p.model, level, cache, (int)threads, &lv, &err))
			return qe_opt_die("describe", &err);
		p.model = lv.path;
		p.level = lv.name;
	}
	t0 = qe_now();
	if (qe_runtime_open(&p, &rt, &err))
		return qe_opt_die("describe", &err);
	qe_runtime_describe(rt, &info);
	printf("file          %s\n", p.model);
	printf("architecture  %s (%s)\n", info.arch, info.desc);
	printf("file type     %s\n", info.ftype);
	printf("parameters    %llu\n", (unsigned long long)info.n_params);
	printf("file size     %llu bytes (%.2f MiB)\n", (unsigned long long)info.file_bytes,
	       (double)info.file_bytes / 1048576.0);
	printf("weights       %llu bytes, %.3f bits/weight\n", (unsigned long long)info.tensor_bytes, info.bpw);
	printf("shape         %d layers, width %d, %d heads, vocab %d, trained context %d\n", info.n_layer,
	       info.n_embd, info.n_head, info.n_vocab, info.n_ctx_train);
	printf("tensor types ");
	for (int i = 0; i < info.n_types; i++)
		printf(" %s×%u (%.1f%% of bytes)", info.types[i].type, info.types[i].n_tensors,
		       100.0 * (double)info.types[i].n_bytes / (double)(info.tensor_bytes ? info.tensor_bytes : 1));
	printf("\ntensors (by kind; layers after each type when they differ)\n");
	print_tensors(p.model, all);
	printf("engine        %s, load %.3f s, threads %d/%d\n", info.engine_version, qe_now() - t0,
	       info.n_threads, info.n_threads_batch);
	printf("engine build  %s\n", info.engine_build);
	qe_runtime_close(rt);
	return 0;
}
