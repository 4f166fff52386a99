/* qeval bench: speed alone — `qeval run --tasks speed` with the speed task's
 * options, then a llama-bench-like table from the run's results.json. */
#include "harness/cli/cli.h"
#include "harness/base/opt.h"
#include "harness/run.h"
#include "harness/tasks/speed_keys.h"
#include "harness/tasks/task.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char usage[] =
	"usage: qeval bench --model M.gguf [--levels L1,L2,...] [options]\n"
	"       qeval bench --resume DIR\n"
	"\n"
	"Measures prompt processing and generation speed of every level the way\n"
	"llama-bench does (docs/speed.md): per test a warm-up, then R timed\n"
	"repetitions, each with a fresh context state and random tokens; reports\n"
	"tokens/s as mean ± sample standard deviation. The run directory holds the\n"
	"records and results.json like any `qeval run`.\n"
	"\n"
	"  -m, --model FILE     the reference model (F16/BF16/F32 GGUF)\n"
	"  -l, --levels LIST    default F16,Q8_0,Q4_K_M; a type or NAME=FILE.gguf\n"
	"  -p, --pp LIST        prompt sizes (default 512)\n"
	"  -n, --tg LIST        generation sizes (default 128)\n"
	"      --no-pp-tg       leave out the combined test pp<P>+tg<G> (time to first token)\n"
	"  -r, --reps N         timed repetitions per test (default 5)\n"
	"      --warmup N       untimed runs before each test (default 1)\n"
	"  -t, --threads N      default: the CPUs this process may use;  --threads-batch N\n"
	"  -b, --batch N        tokens per decode call (default 2048)\n"
	"  -u, --ubatch N       tokens per compute graph (default 512)\n"
	"      --ngl N          layers on the GPU (-1 = all)\n"
	"      --cache DIR      quantization cache;  --runtime NAME  default llamacpp\n"
	"  -o, --out DIR        default qeval-runs/bench-<model>-<date>\n"
	"      --resume DIR     finish a killed bench; done repetitions are kept\n"
	"  -q, --quiet          no progress display\n"
	"\n"
	"Exit: as 'qeval run' (0 ok, 2 usage or input error, 3 a level failed).\n";

enum { O_NOPPTG = 256, O_WARMUP, O_TB, O_NGL, O_CACHE, O_RUNTIME, O_RESUME };

/* An argv under construction: pointers into main's argv or into strs. */
struct args {
	char *v[64];
	int n;
};

static void push(struct args *a, const char *s)
{
	if (a->n < (int)(sizeof(a->v) / sizeof(a->v[0])) - 1)
		a->v[a->n++] = (char *)s;
	a->v[a->n] = NULL;
}

static void push2(struct args *a, const char *flag, const char *val)
{
	if (val) {
		push(a, flag);
		push(a, val);
	}
}

/* ---- the table ------------------------------------------------------------ */

static const cJSON *level_entry(const cJSON *res, const char *name)
{
	const cJSON *l;

	cJSON_ArrayForEach(l, cJSON_GetObjectItemCaseSensitive(res, "levels"))
		if (!strcmp(qe_json_str(l, "name", ""), name))
			return l;
	return NULL;
}

static void fmt_size(char *b, size_t cap, double bytes)
{
	if (!(bytes > 0))
		snprintf(b, cap, "-");
	else if (bytes >= 1073741824.0)
		snprintf(b, cap, "%.2f GiB", bytes / 1073741824.0);
	else
		snprintf(b, cap, "%.2f MiB", bytes / 1048576.0);
}

static void fmt_params(char *b, size_t cap, double n)
{
	if (!(n > 0))
		snprintf(b, cap, "-");
	else if (n >= 1e9)
		snprintf(b, cap, "%.2f B", n / 1e9);
	else
		snprintf(b, cap, "%.2f M", n / 1e6);
}

/* printf's widths count bytes: widen by the UTF-8 continuation bytes ("±") */
static int width_for(const char *s, int width)
{
	for (; *s; s++)
		width += ((unsigned char)*s & 0xC0) == 0x80;
	return width;
}

/* llama-bench's markdown table, with the speedup over the reference and, for
 * the combined test, time to first token and per-token latency. */
static void print_table(const char *dir)
{
	char path[4200], size[32], params[32], tps[64], extra[96];
	const cJSON *tasks, *t, *levels, *lv, *x, *m, *eng;
	cJSON *res;

	snprintf(path, sizeof(path), "%s/results.json", dir);
	if (qe_json_read_file(path, &res, NULL) != 0)
		return;
	m = cJSON_GetObjectItemCaseSensitive(res, "machine");
	eng = cJSON_GetObjectItemCaseSensitive(res, "engine");
	printf("\nqeval bench: %s\nmachine: %s, %.0f of %.0f CPUs allowed%s%s; engine: %s\n", dir, qe_json_str(m, "cpu", "?"),
	       qe_json_num(m, "n_cpus_allowed", 0), qe_json_num(m, "n_cpus_online", 0),
	       *qe_json_str(m, "gpu", "") ? ", GPU " : "", qe_json_str(m, "gpu", ""), qe_json_str(eng, "version", "?"));
	tasks = cJSON_GetObjectItemCaseSensitive(res, "tasks");
	cJSON_ArrayForEach(t, tasks) {
		if (strcmp(qe_json_str(t, "task", ""), qe_task_speed.name) != 0)
			continue;
		printf("\n| %-10s | %10s | %9s | %6s | %7s | %4s | %-14s | %20s | %7s | %s\n", "level", "size", "params", "bpw",
		       "threads", "ngl", "test", "t/s", "speedup", "");
		printf("| %.10s | %.10s | %.9s | %.6s | %.7s | %.4s | %.14s | %.20s | %.7s |\n", "-----------",
		       "----------", "---------", "------", "-------", "----", "---------------", "--------------------:",
		       "-------:");
		levels = cJSON_GetObjectItemCaseSensitive(t, "levels");
		cJSON_ArrayForEach(lv, levels) {
			const cJSON *le = level_entry(res, lv->string), *sp = cJSON_GetObjectItemCaseSensitive(lv, QE_SPEED_SPEEDUP);
			if (!cJSON_IsObject(lv)) {
				printf("| %-10s | %s\n", lv->string, qe_json_str(le, "error", "no measurement"));
				continue;
			}
			fmt_size(size, sizeof(size), qe_json_num(lv, QE_SPEED_FILE_BYTES, qe_json_num(le, "file_bytes", NAN)));
			fmt_params(params, sizeof(params), qe_json_num(lv, QE_SPEED_N_PARAMS, qe_json_num(le, "n_params", NAN)));
			cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(lv, QE_SPEED_TESTS)) {
				const char *name = qe_json_str(x, QE_SPEED_NAME, "?");
				double mean = qe_json_num(x, QE_SPEED_TPS_MEAN, NAN), sd = qe_json_num(x, QE_SPEED_TPS_SD, NAN);
				double s = qe_json_num(sp, name, NAN);
				char spd[16] = "";
				if (isnan(mean))
					snprintf(tps, sizeof(tps), "failed (%.0f)", qe_json_num(x, QE_SPEED_N_FAILED, 0));
				else if (isnan(sd))
					snprintf(tps, sizeof(tps), "%.2f", mean);
				else
					snprintf(tps, sizeof(tps), "%.2f ± %.2f", mean, sd);
				if (!isnan(s))
					snprintf(spd, sizeof(spd), "%.2fx", s);
				extra[0] = '\0';
				if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(x, QE_SPEED_TTFT_MEAN)))
					snprintf(extra, sizeof(extra), " first token %.1f ms, then %.2f ms/token",
						 qe_json_num(x, QE_SPEED_TTFT_MEAN, NAN), qe_json_num(x, QE_SPEED_TPOT_MEAN, NAN));
				printf("| %-10s | %10s | %9s | %6.2f | %7.0f | %4.0f | %-14s | %*s | %7s |%s\n", lv->string, size,
				       params, qe_json_num(lv, QE_SPEED_BPW, qe_json_num(le, "bpw", NAN)),
				       qe_json_num(lv, QE_SPEED_THREADS, NAN), qe_json_num(lv, QE_SPEED_N_GPU_LAYERS, NAN), name,
				       width_for(tps, 20), tps, spd, extra);
			}
		}
	}
	cJSON_Delete(res);
}

/* ---- the command ------------------------------------------------------------ */

/* The speed task's options that `qeval run` has no flag for go into a plan
 * file (harness/run.h); returns its path in buf, "" when none is needed. */
static int write_plan(char *buf, size_t cap, int pp_tg, long warmup)
{
	cJSON *plan, *tasks, *t;
	char *text;
	int fd, ok;

	buf[0] = '\0';
	if (pp_tg && warmup < 0)
		return 0;
	snprintf(buf, cap, "%s/qeval-bench-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	fd = mkstemp(buf);
	if (fd < 0)
		return -1;
	plan = cJSON_CreateObject();
	tasks = cJSON_AddArrayToObject(plan, "tasks");
	t = cJSON_CreateObject();
	cJSON_AddStringToObject(t, "task", qe_task_speed.name);
	cJSON_AddStringToObject(t, "name", qe_task_speed.name);
	if (!pp_tg)
		cJSON_AddFalseToObject(t, "pp_tg");
	if (warmup >= 0)
		cJSON_AddNumberToObject(t, "warmup", (double)warmup);
	cJSON_AddItemToArray(tasks, t);
	text = cJSON_Print(plan);
	ok = text && write(fd, text, strlen(text)) == (ssize_t)strlen(text);
	free(text);
	cJSON_Delete(plan);
	close(fd);
	if (!ok) {
		unlink(buf);
		return -1;
	}
	return 0;
}

int cmd_bench(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "model", required_argument, 0, 'm' }, { "levels", required_argument, 0, 'l' },
		{ "pp", required_argument, 0, 'p' }, { "tg", required_argument, 0, 'n' },
		{ "no-pp-tg", no_argument, 0, O_NOPPTG }, { "reps", required_argument, 0, 'r' },
		{ "warmup", required_argument, 0, O_WARMUP }, { "threads", required_argument, 0, 't' },
		{ "threads-batch", required_argument, 0, O_TB }, { "batch", required_argument, 0, 'b' },
		{ "ubatch", required_argument, 0, 'u' }, { "ngl", required_argument, 0, O_NGL },
		{ "cache", required_argument, 0, O_CACHE }, { "runtime", required_argument, 0, O_RUNTIME },
		{ "out", required_argument, 0, 'o' }, { "resume", required_argument, 0, O_RESUME },
		{ "quiet", no_argument, 0, 'q' }, { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 },
	};
	const char *model = NULL, *levels = "F16,Q8_0,Q4_K_M", *pp = NULL, *tg = NULL, *reps = NULL;
	const char *threads = NULL, *tb = NULL, *batch = NULL, *ubatch = NULL, *ngl = NULL, *cache = NULL;
	const char *runtime = NULL, *out = NULL, *resume = NULL;
	char outbuf[4200], planbuf[4200];
	struct qe_err err = { 0 };
	struct args a = { .n = 0 };
	long v, warmup = -1;
	int c, quiet = 0, pp_tg = 1, code;

	optind = 1;
	while ((c = getopt_long(argc, argv, "m:l:p:n:r:t:b:u:o:qh", lo, NULL)) != -1) {
		switch (c) {
		case 'm': model = optarg; break;
		case 'l': levels = optarg; break;
		case 'p': pp = optarg; break;
		case 'n': tg = optarg; break;
		case O_NOPPTG: pp_tg = 0; break;
		case 'r': reps = optarg; break;
		case O_WARMUP:
			if (qe_opt_int(optarg, 0, 100, "--warmup", &warmup, &err))
				return qe_opt_die("bench", &err);
			break;
		case 't': threads = optarg; break;
		case O_TB: tb = optarg; break;
		case 'b': batch = optarg; break;
		case 'u': ubatch = optarg; break;
		case O_NGL: ngl = optarg; break;
		case O_CACHE: cache = optarg; break;
		case O_RUNTIME: runtime = optarg; break;
		case 'o': out = optarg; break;
		case O_RESUME: resume = optarg; break;
		case 'q': quiet = 1; break;
		case 'h': return qe_opt_help(usage);
		default: fputs(usage, stderr); return QE_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "qeval bench: unexpected argument '%s'\n", argv[optind]);
		return QE_EXIT_USAGE;
	}
	/* `qeval run` checks the values of the flags it is handed */
	if (reps && qe_opt_int(reps, 1, 1000, "--reps", &v, &err))
		return qe_opt_die("bench", &err);

	push(&a, "run");
	push(&a, "--no-summary"); /* the table below replaces run's */
	if (resume) {
		push2(&a, "--resume", resume);
		snprintf(outbuf, sizeof(outbuf), "%s", resume);
	} else {
		if (!model) {
			fprintf(stderr, "qeval bench: --model is required (see 'qeval bench --help')\n");
			return QE_EXIT_USAGE;
		}
		if (!out) {
			const char *b = strrchr(model, '/');
			char stem[256], when[32];
			time_t now = time(NULL);
			struct tm tm;
			localtime_r(&now, &tm);
			strftime(when, sizeof(when), "%Y%m%d-%H%M%S", &tm);
			snprintf(stem, sizeof(stem), "%s", b ? b + 1 : model);
			stem[strcspn(stem, ".")] = '\0';
			snprintf(outbuf, sizeof(outbuf), "qeval-runs/bench-%s-%s", stem, when);
			out = outbuf;
		} else {
			snprintf(outbuf, sizeof(outbuf), "%s", out);
		}
		if (write_plan(planbuf, sizeof(planbuf), pp_tg, warmup) != 0) {
			fprintf(stderr, "qeval bench: cannot write a plan file in $TMPDIR\n");
			return QE_EXIT_RUNTIME;
		}
		push2(&a, "--plan", planbuf[0] ? planbuf : NULL);
		push2(&a, "--model", model);
		push2(&a, "--levels", levels);
		push2(&a, "--tasks", qe_task_speed.name);
		push2(&a, "--speed-pp", pp);
		push2(&a, "--speed-tg", tg);
		push2(&a, "--speed-reps", reps);
		push2(&a, "--threads", threads);
		push2(&a, "--threads-batch", tb);
		push2(&a, "--batch", batch);
		push2(&a, "--ubatch", ubatch);
		push2(&a, "--ngl", ngl);
		push2(&a, "--cache", cache);
		push2(&a, "--runtime", runtime);
		push2(&a, "--out", out);
	}
	if (quiet)
		push(&a, "--quiet");

	code = cmd_run(a.n, a.v);
	if (!resume && planbuf[0])
		unlink(planbuf);
	print_table(outbuf);
	return code;
}
