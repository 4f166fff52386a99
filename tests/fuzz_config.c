/* Fuzz target: the JSON that qeval reads back besides datasets — release gate
 * rules (reports/gate.h) checked against a results.json, and the per-item
 * record journals (harness/journal.h) that --resume and summaries read.
 *
 * The first input byte picks the reader; the rest is the file's text.
 * Invariants: each reader returns 0 or an error whose message names the
 * file; rules that load can be evaluated without failing for any reason but
 * a named rule; a journal that loads is an array of objects with an "id",
 * and opening it for append keeps exactly those ids.
 */
#define FZ_NAME "fuzz_config"
#include "tests/fuzz_main.h"

#include <unistd.h>

#include "harness/journal.h"
#include "reports/gate.h"
#include "reports/results.h"

static char fz_dir[64];
static cJSON *fz_results;

static void fz_cleanup(void)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/rules.json", fz_dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/records.jsonl", fz_dir);
	unlink(path);
	rmdir(fz_dir);
}

static const char *fz_write(const uint8_t *data, size_t size, const char *name)
{
	static char path[128];
	FILE *f;

	if (!fz_dir[0]) {
		snprintf(fz_dir, sizeof(fz_dir), "/tmp/qe-fuzz-config-XXXXXX");
		if (!mkdtemp(fz_dir))
			return NULL;
		atexit(fz_cleanup);
	}
	snprintf(path, sizeof(path), "%s/%s", fz_dir, name);
	f = fopen(path, "wb");
	if (!f)
		return NULL;
	if (size)
		fwrite(data, 1, size, f);
	fclose(f);
	return path;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct qe_err err = { 0 };
	const char *path;

	if (size == 0)
		return 0;
	if (!fz_results)
		qe_results_load("tests/data/run1", &fz_results, NULL);
	if (data[0] & 1) {
		cJSON *rules = NULL, *outcome = NULL;
		path = fz_write(data + 1, size - 1, "rules.json");
		if (!path)
			return 0;
		if (qe_gate_rules_load(path, &rules, &err) == 0) {
			FZ_CHECK(rules != NULL);
			if (fz_results && qe_gate_eval(fz_results, rules, "tests/data/run1", "rules.json", &outcome, &err) == 0)
				FZ_CHECK(outcome != NULL);
		} else {
			FZ_CHECK(err.code < 0 && strstr(err.msg, "rules.json") != NULL);
		}
		cJSON_Delete(rules);
		cJSON_Delete(outcome);
	} else {
		cJSON *recs = NULL;
		struct qe_journal *j = NULL;
		path = fz_write(data + 1, size - 1, "records.jsonl");
		if (!path)
			return 0;
		if (qe_journal_load(path, &recs, &err) == 0) {
			const cJSON *r;
			int n = 0;
			FZ_CHECK(cJSON_IsArray(recs));
			cJSON_ArrayForEach(r, recs) {
				FZ_CHECK(cJSON_IsObject(r) && cJSON_GetObjectItemCaseSensitive(r, "id"));
				n++;
			}
			if (qe_journal_open(path, &j, &err) == 0) {
				FZ_CHECK((int)qe_journal_count(j) <= n);
				qe_journal_close(j);
			}
		} else {
			FZ_CHECK(err.code < 0 && strstr(err.msg, "records.jsonl") != NULL);
		}
		cJSON_Delete(recs);
	}
	return 0;
}

static const struct fz_seed fz_seeds[] = {
	FZ_SEED("\x01{\"version\": 1, \"rules\": [{\"task\": \"mmlu\", \"metric\": \"vs_ref.delta_ci95[0]\", \"op\": \">=\", \"value\": -0.01}]}"),
	FZ_SEED("\x01{\"rules\": [{\"metric\": \"level.size_ratio\", \"op\": \">=\", \"value\": 3, \"levels\": [\"Q4_K_M\"]},"
		" {\"task\": \"speed\", \"metric\": \"tests.pp512.tps_mean\", \"op\": \"<\", \"value\": 1e9, \"missing\": \"skip\"}]}"),
	FZ_SEED("\x01{\"rules\": [{\"task\": \"lcqmc\", \"metric\": \"flip_rate\", \"op\": \"!=\", \"value\": 0, \"levels\": \"*\", \"include_reference\": true}]}"),
	FZ_SEED("\x00{\"id\": \"a/test/0\", \"pred\": 1, \"gold\": 2, \"ll\": [-1, -2, -3, -4]}\n{\"id\": 7}\n"),
	FZ_SEED("\x00{\"id\": \"x\"}\n{\"id\": \"y\", \"status\": \"ok\"}\n{\"id\": \"torn"),
	FZ_SEED("\x00\n\n{\"id\": \"x\"}\n"),
};

FZ_MAIN(fz_seeds)
