/* Fuzz target: the JSON qeval reads that steers what it runs or reports —
 * plan files (harness/plan.h), a run's gate outcome (gate.json, read by the
 * reports and history), history files (the dashboard) and run identities
 * (harness/runid.h, compared on --resume).
 *
 * The first input byte picks the reader; the rest is the file's text.
 * Invariants: a plan is read or refused with a message naming its JSON path
 * or the file; a plan that is read has its tasks, each with a name that is
 * safe in a file name; a gate outcome that loads never passes with failed
 * checks; a history renders or is refused, its page written only on success;
 * any JSON value is the same identity as itself and differs from a changed
 * copy, naming where.
 */
#define FZ_NAME "fuzz_plan"
#include "tests/fuzz_main.h"

#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness/base/json.h"
#include "harness/base/sys.h"
#include "harness/base/text.h"
#include "harness/plan.h"
#include "harness/runid.h"
#include "reports/gate.h"
#include "reports/history.h"

static char fz_dir[64];

static void fz_cleanup(void)
{
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fz_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", fz_dir);
}

static const char *fz_write(const uint8_t *data, size_t size, const char *name)
{
	static char path[128];

	if (!fz_dir[0]) {
		snprintf(fz_dir, sizeof(fz_dir), "/tmp/qe-fuzz-plan-XXXXXX");
		if (!mkdtemp(fz_dir))
			return NULL;
		atexit(fz_cleanup);
	}
	snprintf(path, sizeof(path), "%s/%s", fz_dir, name);
	return qe_file_write_atomic(path, data, size, NULL) == 0 ? path : NULL;
}

static int name_safe(const char *s)
{
	return s && *s && *s != '.' && !strchr(s, '/') && strlen(s) <= 48;
}

static void fz_plan(const uint8_t *data, size_t size)
{
	struct qe_err err = { 0 };
	struct qe_plan p;
	const char *path = fz_write(data, size, "plan.json");

	if (!path)
		return;
	if (qe_plan_read_file(&p, path, &err) == 0) {
		for (size_t i = 0; i < p.n_tasks; i++)
			FZ_CHECK(p.tasks[i].task && name_safe(p.tasks[i].name));
		FZ_CHECK(p.limit >= 0 && p.seed >= 0);
	} else {
		FZ_CHECK(err.code < 0 && (strstr(err.msg, "plan") != NULL));
	}
	qe_plan_release(&p);
}

static void fz_gate_outcome(const uint8_t *data, size_t size)
{
	struct qe_err err = { 0 };
	cJSON *g = NULL;

	if (!fz_write(data, size, "gate.json"))
		return;
	if (qe_gate_outcome_load(fz_dir, &g, &err) == 0) {
		FZ_CHECK(g != NULL); /* the file exists: an outcome or an error, never "none" */
		if (qe_json_bool(g, "passed", 0))
			FZ_CHECK(qe_json_num(g, "n_failed", NAN) == 0);
	} else {
		FZ_CHECK(err.code == QE_EINPUT && strstr(err.msg, "gate.json") != NULL);
	}
	cJSON_Delete(g);
}

static void fz_history(const uint8_t *data, size_t size)
{
	struct qe_history_render_opts o = { 0, NULL };
	struct qe_err err = { 0 };
	char out[128], page[160];
	const char *path = fz_write(data, size, "history.jsonl");
	int n = 0;

	if (!path)
		return;
	snprintf(out, sizeof(out), "%s/dash", fz_dir);
	snprintf(page, sizeof(page), "%s/index.html", out);
	unlink(page);
	if (qe_history_render(path, out, &o, &n, &err) == 0)
		FZ_CHECK(qe_file_size(page) > 0 && n > 0);
	else
		FZ_CHECK(err.code < 0 && err.msg[0]);
}

static void fz_identity(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), where[600];
	cJSON *a = NULL, *b;

	if (!text)
		return;
	memcpy(text, data, size);
	text[size] = '\0';
	if (qe_json_parse(text, size, "identity.json", &a, NULL) == 0) {
		FZ_CHECK(qe_runid_diff(a, a, where, sizeof(where)) == 0);
		b = cJSON_Duplicate(a, 1);
		if (cJSON_IsObject(b)) {
			cJSON_AddStringToObject(b, "fz-extra", "x"); /* one key more: a difference, named */
			FZ_CHECK(qe_runid_diff(a, b, where, sizeof(where)) == 1 && strstr(where, "fz-extra"));
		}
		cJSON_Delete(b);
	}
	cJSON_Delete(a);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	switch (data[0] & 3) {
	case 0: fz_plan(data + 1, size - 1); break;
	case 1: fz_gate_outcome(data + 1, size - 1); break;
	case 2: fz_history(data + 1, size - 1); break;
	default: fz_identity(data + 1, size - 1); break;
	}
	return 0;
}

static const struct fz_seed fz_seeds[] = {
	FZ_SEED("\x00{\"model\": \"m.gguf\", \"levels\": [\"F16\", \"Q4_K_M\", {\"name\": \"awq\", \"path\": \"x.gguf\"}],"
		" \"tasks\": [{\"task\": \"mmlu\", \"dir\": \"d\", \"shots\": 5, \"limit\": 2},"
		" {\"task\": \"pairs\", \"name\": \"lcqmc\", \"file\": \"f.tsv\"}, {\"task\": \"speed\", \"pp\": [128, 512]}],"
		" \"runtime\": {\"threads\": 2, \"ctx\": 2048}, \"limit\": 0, \"seed\": 1234, \"out\": \"runs/x\"}"),
	FZ_SEED("\x00{\"model\": \"m.gguf\", \"tasks\": [{\"task\": \"ceval\", \"dir\": \"c\", \"template\": {\"header\": \"{subject}\\n\"}}]}"),
	FZ_SEED("\x00{\"model\": \"m\", \"limit\": \"two\", \"lmit\": 1}"),
	FZ_SEED("\x01{\"schema\": \"qeval-gate\", \"version\": 1, \"passed\": false, \"n_checks\": 1, \"n_passed\": 0, \"n_failed\": 1,"
		" \"n_skipped\": 0, \"checks\": [{\"rule\": 0, \"name\": \"x\", \"level\": \"Q8_0\", \"status\": \"fail\"}]}"),
	FZ_SEED("\x01{\"schema\": \"qeval-gate\", \"passed\": true, \"n_failed\": 0, \"checks\": []}"),
	FZ_SEED("\x02{\"schema\":\"qeval-history\",\"version\":1,\"date\":\"2026-01-01\",\"commit\":\"abc\",\"gate\":null,"
		"\"metrics\":{\"mmlu\":{\"F16\":{\"acc\":0.5},\"Q8_0\":{\"acc\":0.49,\"vs_ref.delta_acc\":-0.01}}}}\n"
		"{\"schema\":\"qeval-history\",\"version\":1,\"date\":\"2026-01-02\",\"gate\":{\"passed\":false,\"n_checks\":1,"
		"\"n_failed\":1,\"failed\":[{\"rule\":0,\"task\":\"mmlu\",\"level\":\"Q8_0\",\"metric\":\"acc\"}]},"
		"\"metrics\":{\"mmlu\":{\"F16\":{\"acc\":0.5},\"Q8_0\":{\"acc\":null}}}}\n"),
	FZ_SEED("\x02{\"schema\":\"qeval-history\",\"version\":1,\"metrics\":{\"mmlu\":{\"Q8_0\":[1,2]}}}\n"),
	FZ_SEED("\x03{\"schema\": \"qeval-identity\", \"version\": 1, \"model\": {\"sha256\": \"ab\", \"bytes\": 10},"
		" \"levels\": [{\"name\": \"F16\", \"spec\": \"F16\"}], \"tasks\": {\"mmlu\": {\"task\": \"mmlu\","
		" \"settings\": {\"shots\": 5}, \"data\": {\"dir\": {\"files\": 3, \"fingerprint\": \"cd\"}}}}}"),
	FZ_SEED("\x03[1, \"a\", null, true, {\"x\": [[]]}]"),
	/* found by the 10-minute libFuzzer run: keys that became one after a NUL
	 * ("pased\0..." twice) made an identity differ from itself; and a key
	 * given twice outright */
	FZ_SEED("\x03{\"s\0\0ch\": \"qtzte\", \"pased\0\0ch\": \"qtzte\", \"pased\0\6s\": []}"),
	FZ_SEED("\x03{\"a\\u0000b\": 1, \"a\\u0000c\": [2]}"),
	FZ_SEED("\x03{\"k\": 1, \"k\": [2]}"),
};

FZ_MAIN(fz_seeds)
