/* Helpers shared by the report tests (t_report, t_gate, t_compare,
 * t_history): a scratch folder, running the qeval binary ($QE_QEVAL, set by
 * tests/run.sh), reading files, and golden-file comparison.
 *
 * Golden files live in tests/golden/. After an intended change to a report,
 * regenerate them with
 *     QE_UPDATE_GOLDEN=1 make test
 * (or run one binary with QE_UPDATE_GOLDEN=1) and review the diff in git.
 * Tests run from the repository root, as `make test` does.
 */
#ifndef QE_T_REPORTS_COMMON_H
#define QE_T_REPORTS_COMMON_H

#include "tests/tq.h"
#include "tests/tq_exec.h"

#include "harness/base/json.h"

#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char g_tmp[256];
static char g_out[65536], g_errtxt[8192];

static inline int tmp_make(const char *name)
{
	snprintf(g_tmp, sizeof(g_tmp), "/tmp/qe-%s-XXXXXX", name);
	return mkdtemp(g_tmp) ? 0 : -1;
}

static inline void tmp_remove(void)
{
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_tmp);
	if (g_tmp[0] && system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", g_tmp);
}

/* Whole file as a malloc'ed string, NULL when it cannot be read. */
static inline char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *s;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	s = malloc((size_t)n + 1);
	if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
		free(s);
		s = NULL;
	}
	if (s)
		s[n] = '\0';
	fclose(f);
	return s;
}

static inline int spit(const char *path, const char *text)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

static inline int count_lines(const char *s)
{
	int n = 0;
	for (; s && *s; s++)
		n += *s == '\n';
	return n;
}

static inline int count_of(const char *s, const char *needle)
{
	int n = 0;
	size_t len = strlen(needle);
	for (const char *p = s ? strstr(s, needle) : NULL; p; p = strstr(p + len, needle))
		n++;
	return n;
}

/* Run qeval with args (shell words); capture stdout/stderr; exit status. */
static inline int qeval(const char *args)
{
	return tq_qeval(g_tmp, args, g_out, sizeof(g_out), g_errtxt, sizeof(g_errtxt));
}

/* Copy a fixture run (tests/data/NAME) into the scratch folder; returns the
 * copy's path in buf. Writers put files into the run folder, and fixtures
 * must stay clean. */
static inline char *run_copy(const char *name, char *buf, size_t cap)
{
	char cmd[1024];
	snprintf(buf, cap, "%s/%s", g_tmp, name);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' && cp -r 'tests/data/%s' '%s'", buf, name, buf);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot copy tests/data/%s\n", name);
	return buf;
}

/* Compare the file at got with tests/golden/<golden>; with QE_UPDATE_GOLDEN=1
 * in the environment, rewrite the golden file instead. */
#define GOLDEN(got, golden) golden_check_(got, golden, __FILE__, __LINE__)
static inline void golden_check_(const char *got_path, const char *golden, const char *file, int line)
{
	char gpath[512];
	char *got = slurp(got_path), *want;
	const char *upd = getenv("QE_UPDATE_GOLDEN");

	snprintf(gpath, sizeof(gpath), "tests/golden/%s", golden);
	if (!got) {
		tq_cur_failed++;
		fprintf(stderr, "  FAIL %s:%d: no output file %s\n", file, line, got_path);
		return;
	}
	if (upd && *upd && strcmp(upd, "0") != 0) {
		if (spit(gpath, got) != 0) {
			tq_cur_failed++;
			fprintf(stderr, "  FAIL %s:%d: cannot write %s\n", file, line, gpath);
		} else {
			fprintf(stderr, "  updated %s\n", gpath);
		}
		free(got);
		return;
	}
	want = slurp(gpath);
	if (!want || strcmp(got, want) != 0) {
		const char *a = got, *b = want ? want : "";
		int ln = 1;
		while (*a && *a == *b) {
			ln += *a == '\n';
			a++;
			b++;
		}
		tq_cur_failed++;
		fprintf(stderr, "  FAIL %s:%d: %s differs from %s at line %d (QE_UPDATE_GOLDEN=1 regenerates)\n"
				"    got:  %.120s\n    want: %.120s\n",
			file, line, got_path, gpath, ln, a, b);
	}
	free(got);
	free(want);
}

/* Add a kld task whose per-level blocks are levels_json to the results.json
 * of the run copy at run. */
static inline void add_kld(const char *run, const char *levels_json)
{
	struct qe_err err = { 0 };
	char path[600];
	cJSON *res = NULL, *t;

	snprintf(path, sizeof(path), "%s/results.json", run);
	if (qe_json_read_file(path, &res, &err) != 0) {
		TQ_FAILF("%s", err.msg);
		return;
	}
	t = cJSON_AddObjectToObject(cJSON_GetObjectItem(res, "tasks"), "kld");
	cJSON_AddStringToObject(t, "task", "kld");
	cJSON_AddNumberToObject(t, "n_items", 8);
	cJSON_AddItemToObject(t, "settings", cJSON_Parse("{\"ctx\": 512, \"topk\": 100}"));
	cJSON_AddItemToObject(t, "levels", cJSON_Parse(levels_json));
	TQ_EQ_INT(qe_json_write_file(path, res, &err), 0);
	cJSON_Delete(res);
}

#endif
