/* qeval bench: speed alone — `qeval run --tasks speed` with the speed task's
 * options, then a llama-bench-like table from the run's results.json. */
#include "harness/cli/cli.h"
#include "harness/base/opt.h"
#include "harness/base/json.h"
#include "harness/pipeline.h"
#include "harness/plan.h"
#include "reports/text.h"

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
	"  -O, --output FMT     what stdout gets: md (the table, default), csv, json or\n"
	"                       jsonl, with llama-bench's field names (its -o; here -o\n"
	"                       is --out); the run's other lines then go to stderr\n"
	"\n"
	"Exit: as 'qeval run' (0 ok, 2 usage or input error, 3 a level failed).\n";

enum { O_NOPPTG = 256, O_WARMUP, O_TB, O_NGL, O_CACHE, O_RUNTIME, O_RESUME };

/* the name of the speed task's instance this command runs (results.json key) */
static const char bench_instance[] = "speed";

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
		if (strcmp(t->string, bench_instance) != 0)
			continue;
		printf("\n| %-10s | %10s | %9s | %6s | %7s | %4s | %-14s | %20s | %7s | %s\n", "level", "size", "params", "bpw",
		       "threads", "ngl", "test", "t/s", "speedup", "");
		printf("| %.10s | %.10s | %.9s | %.6s | %.7s | %.4s | %.14s | %.20s | %.7s |\n", "-----------",
		       "----------", "---------", "------", "-------", "----", "---------------", "--------------------:",
		       "-------:");
		levels = cJSON_GetObjectItemCaseSensitive(t, "levels");
		cJSON_ArrayForEach(lv, levels) {
			const cJSON *le = level_entry(res, lv->string), *sp = cJSON_GetObjectItemCaseSensitive(lv, "speedup");
			if (!cJSON_IsObject(lv)) {
				printf("| %-10s | %s\n", lv->string, qe_json_str(le, "error", "no measurement"));
				continue;
			}
			fmt_size(size, sizeof(size), qe_json_num(lv, "file_bytes", qe_json_num(le, "file_bytes", NAN)));
			fmt_params(params, sizeof(params), qe_json_num(lv, "n_params", qe_json_num(le, "n_params", NAN)));
			cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(lv, "tests")) {
				const char *name = qe_json_str(x, "name", "?");
				double mean = qe_json_num(x, "tps_mean", NAN), sd = qe_json_num(x, "tps_sd", NAN);
				double s = qe_json_num(sp, name, NAN);
				char spd[16] = "";
				if (isnan(mean))
					snprintf(tps, sizeof(tps), "failed (%.0f)", qe_json_num(x, "n_failed", 0));
				else if (isnan(sd))
					snprintf(tps, sizeof(tps), "%.2f", mean);
				else
					snprintf(tps, sizeof(tps), "%.2f ± %.2f", mean, sd);
				if (!isnan(s))
					snprintf(spd, sizeof(spd), "%.2fx", s);
				extra[0] = '\0';
				if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(x, "ttft_ms_mean")))
					snprintf(extra, sizeof(extra), " first token %.1f ms, then %.2f ms/token",
						 qe_json_num(x, "ttft_ms_mean", NAN), qe_json_num(x, "tpot_ms_mean", NAN));
				printf("| %-10s | %10s | %9s | %6.2f | %7.0f | %4.0f | %-14s | %*s | %7s |%s\n", lv->string, size,
				       params, qe_json_num(lv, "bpw", qe_json_num(le, "bpw", NAN)),
				       qe_json_num(lv, "threads", NAN), qe_json_num(lv, "n_gpu_layers", NAN), name,
				       width_for(tps, 20), tps, spd, extra);
			}
		}
	}
	cJSON_Delete(res);
}

/* ---- machine-readable output (-O / --output csv|json|jsonl) ------------------- */

/* The fields of one row: llama-bench's names where it has the value, then
 * qeval's own (level, speedup, noisy, load1_mean, steal_s). */
static const char *const row_keys[] = {
	"build_commit", "cpu_info", "gpu_info", "model_filename", "model_type", "model_size", "model_n_params",
	"n_batch", "n_ubatch", "n_threads", "n_gpu_layers", "n_prompt", "n_gen", "avg_ts", "stddev_ts", "samples_ts",
	"level", "speedup", "noisy", "load1_mean", "steal_s", NULL,
};

static void put_num(cJSON *o, const char *key, double v)
{
	if (isnan(v))
		cJSON_AddNullToObject(o, key);
	else
		cJSON_AddNumberToObject(o, key, v);
}

/* One object per level x test of the bench's speed task, in the order of row_keys. */
static cJSON *bench_rows(const cJSON *res)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(res, "machine"), *eng = cJSON_GetObjectItemCaseSensitive(res, "engine");
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(res, "tasks"), bench_instance);
	const cJSON *lv, *x;
	cJSON *rows = cJSON_CreateArray();

	cJSON_ArrayForEach(lv, cJSON_GetObjectItemCaseSensitive(t, "levels")) {
		const cJSON *le = level_entry(res, lv->string), *sp = cJSON_GetObjectItemCaseSensitive(lv, "speedup");
		cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(lv, "tests")) {
			cJSON *o = cJSON_CreateObject();
			const cJSON *samples = cJSON_GetObjectItemCaseSensitive(x, "tps_samples");
			const char *name = qe_json_str(x, "name", "?");
			cJSON_AddStringToObject(o, "build_commit", qe_json_str(eng, "version", ""));
			cJSON_AddStringToObject(o, "cpu_info", qe_json_str(m, "cpu", ""));
			cJSON_AddStringToObject(o, "gpu_info", qe_json_str(m, "gpu", ""));
			cJSON_AddStringToObject(o, "model_filename", qe_json_str(le, "path", ""));
			cJSON_AddStringToObject(o, "model_type", qe_json_str(le, "ftype", ""));
			put_num(o, "model_size", qe_json_num(lv, "file_bytes", qe_json_num(le, "file_bytes", NAN)));
			put_num(o, "model_n_params", qe_json_num(lv, "n_params", qe_json_num(le, "n_params", NAN)));
			put_num(o, "n_batch", qe_json_num(lv, "n_batch", NAN));
			put_num(o, "n_ubatch", qe_json_num(lv, "n_ubatch", NAN));
			put_num(o, "n_threads", qe_json_num(lv, "threads", NAN));
			put_num(o, "n_gpu_layers", qe_json_num(lv, "n_gpu_layers", NAN));
			put_num(o, "n_prompt", qe_json_num(x, "n_prompt", NAN));
			put_num(o, "n_gen", qe_json_num(x, "n_gen", NAN));
			put_num(o, "avg_ts", qe_json_num(x, "tps_mean", NAN));
			put_num(o, "stddev_ts", qe_json_num(x, "tps_sd", NAN));
			cJSON_AddItemToObject(o, "samples_ts", samples ? cJSON_Duplicate(samples, 1) : cJSON_CreateArray());
			cJSON_AddStringToObject(o, "level", lv->string);
			put_num(o, "speedup", qe_json_num(sp, name, NAN));
			cJSON_AddBoolToObject(o, "noisy", qe_json_bool(x, "noisy", 0));
			put_num(o, "load1_mean", qe_json_num(x, "load1_mean", NAN));
			put_num(o, "steal_s", qe_json_num(x, "steal_s", NAN));
			cJSON_AddItemToArray(rows, o);
		}
	}
	return rows;
}

/* A CSV field: RFC 4180 quoting; an array as its numbers joined by spaces
 * (llama-bench's samples_ts). */
static void csv_field(const cJSON *v)
{
	const cJSON *e;
	char b[40];
	int first = 1;

	if (cJSON_IsString(v)) {
		putchar('"');
		for (const char *s = v->valuestring; *s; s++)
			fputs(*s == '"' ? "\"\"" : (char[2]){ *s, 0 }, stdout);
		putchar('"');
	} else if (cJSON_IsNumber(v)) {
		fputs(qe_fmt_num(b, v->valuedouble), stdout);
	} else if (cJSON_IsBool(v)) {
		fputs(cJSON_IsTrue(v) ? "true" : "false", stdout);
	} else if (cJSON_IsArray(v)) {
		putchar('"');
		cJSON_ArrayForEach(e, v) {
			printf("%s%s", first ? "" : " ", qe_fmt_num(b, e->valuedouble));
			first = 0;
		}
		putchar('"');
	}
}

/* results.json's speed rows on stdout as fmt ("csv", "json", "jsonl"). */
static void print_rows(const char *dir, const char *fmt)
{
	char path[4200];
	cJSON *res, *rows;
	const cJSON *r;

	snprintf(path, sizeof(path), "%s/results.json", dir);
	if (qe_json_read_file(path, &res, NULL) != 0)
		return;
	rows = bench_rows(res);
	if (!strcmp(fmt, "json")) {
		char *s = cJSON_Print(rows);
		if (s)
			puts(s);
		free(s);
	} else if (!strcmp(fmt, "jsonl")) {
		cJSON_ArrayForEach(r, rows) {
			char *s = cJSON_PrintUnformatted(r);
			if (s)
				puts(s);
			free(s);
		}
	} else {
		for (size_t k = 0; row_keys[k]; k++)
			printf("%s%s", k ? "," : "", row_keys[k]);
		putchar('\n');
		cJSON_ArrayForEach(r, rows) {
			for (size_t k = 0; row_keys[k]; k++) {
				if (k)
					putchar(',');
				csv_field(cJSON_GetObjectItemCaseSensitive(r, row_keys[k]));
			}
			putchar('\n');
		}
	}
	cJSON_Delete(rows);
	cJSON_Delete(res);
}

/* ---- the command ------------------------------------------------------------ */

/* value of a whole-number flag into obj[key] */
static int put_int(cJSON *obj, const char *key, const char *text, long lo, long hi, const char *flag, struct qe_err *err)
{
	long v;

	if (!text)
		return 0;
	if (qe_opt_int(text, lo, hi, flag, &v, err))
		return err->code;
	qe_plan_json_set(obj, key, cJSON_CreateNumber((double)v));
	return 0;
}

/* a comma list of sizes into obj[key] */
static int put_sizes(cJSON *obj, const char *key, const char *text, const char *flag, struct qe_err *err)
{
	char **items;
	size_t n;
	cJSON *a;
	long v;

	if (!text)
		return 0;
	n = qe_opt_split(text, &items);
	a = cJSON_CreateArray();
	for (size_t i = 0; i < n; i++) {
		if (qe_opt_int(items[i], 1, 1 << 20, flag, &v, err)) {
			free(items);
			cJSON_Delete(a);
			return err->code;
		}
		cJSON_AddItemToArray(a, cJSON_CreateNumber((double)v));
	}
	free(items);
	qe_plan_json_set(obj, key, a);
	return 0;
}

/* What the flags said. */
struct bench_args {
	const char *model, *levels, *pp, *tg, *reps, *threads, *tb, *batch, *ubatch, *ngl, *cache, *runtime, *out,
		*resume;
	long warmup;    /* -1 = the task's default */
	int pp_tg, quiet;
};

/* A new run's plan: the speed task alone over the levels; the run's folder
 * into outbuf. NULL + err on a bad value. */
static cJSON *bench_plan(const struct bench_args *a, char *outbuf, size_t cap, struct qe_err *err)
{
	cJSON *json, *rto, *t;
	char **items;
	size_t n;

	if (!a->out) {
		const char *b = strrchr(a->model, '/');
		char stem[256], when[32];
		time_t now = time(NULL);
		struct tm tm;
		localtime_r(&now, &tm);
		strftime(when, sizeof(when), "%Y%m%d-%H%M%S", &tm);
		snprintf(stem, sizeof(stem), "%s", b ? b + 1 : a->model);
		stem[strcspn(stem, ".")] = '\0';
		snprintf(outbuf, cap, "qeval-runs/bench-%s-%s", stem, when);
	} else {
		snprintf(outbuf, cap, "%s", a->out);
	}
	json = cJSON_CreateObject();
	rto = cJSON_AddObjectToObject(json, "runtime");
	if (a->runtime)
		cJSON_AddStringToObject(rto, "name", a->runtime);
	cJSON_AddStringToObject(json, "model", a->model);
	n = qe_opt_split(a->levels, &items);
	cJSON_AddItemToObject(json, "levels", cJSON_CreateStringArray((const char *const *)items, (int)n));
	free(items);
	if (a->cache)
		cJSON_AddStringToObject(json, "cache", a->cache);
	cJSON_AddStringToObject(json, "out", outbuf);
	t = qe_plan_json_task(json, "speed", bench_instance);
	cJSON_AddNumberToObject(json, "seed", 1234);
	if (!a->pp_tg)
		cJSON_AddFalseToObject(t, "pp_tg");
	if (a->warmup >= 0)
		cJSON_AddNumberToObject(t, "warmup", (double)a->warmup);
	if (put_sizes(t, "pp", a->pp, "--pp", err) || put_sizes(t, "tg", a->tg, "--tg", err) ||
	    put_int(t, "reps", a->reps, 1, 1000, "--reps", err) ||
	    put_int(rto, "threads", a->threads, 1, 4096, "--threads", err) ||
	    put_int(rto, "threads_batch", a->tb, 1, 4096, "--threads-batch", err) ||
	    put_int(rto, "batch", a->batch, 1, 1 << 20, "--batch", err) ||
	    put_int(rto, "ubatch", a->ubatch, 1, 1 << 20, "--ubatch", err) ||
	    put_int(rto, "ngl", a->ngl, -1, 100000, "--ngl", err)) {
		cJSON_Delete(json);
		return NULL;
	}
	return json;
}

/* --resume DIR's plan */
static cJSON *resumed_plan(const char *dir, char *outbuf, size_t cap, struct qe_err *err)
{
	char path[4200];
	cJSON *json = NULL;

	snprintf(path, sizeof(path), "%s/plan.json", dir);
	if (qe_json_read_file(path, &json, err) != 0 || !cJSON_IsObject(json)) {
		if (!err->code)
			qe_fail(err, QE_EINPUT, "%s: a plan is a JSON object", path);
		qe_err_wrap(err, "cannot resume '%s'", dir);
		cJSON_Delete(json);
		return NULL;
	}
	qe_plan_json_set(json, "out", cJSON_CreateString(dir));
	snprintf(outbuf, cap, "%s", dir);
	return json;
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
		{ "quiet", no_argument, 0, 'q' }, { "help", no_argument, 0, 'h' },
		{ "output", required_argument, 0, 'O' }, { 0, 0, 0, 0 },
	};
	struct bench_args a = { .levels = "F16,Q8_0,Q4_K_M", .warmup = -1, .pp_tg = 1 };
	char outbuf[4200];
	struct qe_err err = { 0 };
	struct qe_plan plan;
	struct qe_pipeline_opts po = { 0 };
	cJSON *json;
	const char *fmt = "md";
	int c, code, saved = -1;

	optind = 1;
	while ((c = getopt_long(argc, argv, "m:l:p:n:r:t:b:u:o:O:qh", lo, NULL)) != -1) {
		switch (c) {
		case 'm': a.model = optarg; break;
		case 'l': a.levels = optarg; break;
		case 'p': a.pp = optarg; break;
		case 'n': a.tg = optarg; break;
		case O_NOPPTG: a.pp_tg = 0; break;
		case 'r': a.reps = optarg; break;
		case O_WARMUP:
			if (qe_opt_int(optarg, 0, 100, "--warmup", &a.warmup, &err))
				return qe_opt_die("bench", &err);
			break;
		case 't': a.threads = optarg; break;
		case O_TB: a.tb = optarg; break;
		case 'b': a.batch = optarg; break;
		case 'u': a.ubatch = optarg; break;
		case O_NGL: a.ngl = optarg; break;
		case O_CACHE: a.cache = optarg; break;
		case O_RUNTIME: a.runtime = optarg; break;
		case 'o': a.out = optarg; break;
		case O_RESUME: a.resume = optarg; break;
		case 'q': a.quiet = 1; break;
		case 'O':
			if (strcmp(optarg, "md") && strcmp(optarg, "csv") && strcmp(optarg, "json") && strcmp(optarg, "jsonl")) {
				fprintf(stderr, "qeval bench: --output: '%s' is not one of md, csv, json, jsonl\n", optarg);
				return QE_EXIT_USAGE;
			}
			fmt = optarg;
			break;
		case 'h': return qe_opt_help(usage);
		default: fputs(usage, stderr); return QE_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "qeval bench: unexpected argument '%s'\n", argv[optind]);
		return QE_EXIT_USAGE;
	}
	if (!a.resume && !a.model) {
		fprintf(stderr, "qeval bench: --model is required (see 'qeval bench --help')\n");
		return QE_EXIT_USAGE;
	}
	json = a.resume ? resumed_plan(a.resume, outbuf, sizeof(outbuf), &err) : bench_plan(&a, outbuf, sizeof(outbuf), &err);
	if (!json)
		return qe_opt_die("bench", &err);
	if (a.quiet)
		qe_plan_json_set(json, "quiet", cJSON_CreateTrue());
	if (qe_plan_from_json(&plan, json, &err) != 0) {
		qe_plan_release(&plan);
		return qe_opt_die("bench", &err);
	}
	po.resume = a.resume != NULL;
	po.summary = 0; /* the table below replaces run's */
	po.who = "bench";
	/* a machine-readable stdout holds the rows alone: the run's own lines go to stderr */
	if (strcmp(fmt, "md") != 0) {
		fflush(stdout);
		saved = dup(1);
		dup2(2, 1);
	}
	code = qe_pipeline(&plan, &po, &err);
	qe_plan_release(&plan);
	if (saved >= 0) {
		fflush(stdout);
		dup2(saved, 1);
		close(saved);
		print_rows(outbuf, fmt);
	} else {
		print_table(outbuf);
	}
	return code;
}
