/* Tests of the source tree's shape (docs/extending.md, "Layers"):
 *   - runtimes/, datasets/, metrics/ and reports/ include from harness/ only
 *     its base (harness/base/), and the base includes nothing of the project
 *     outside itself;
 *   - no file compares a task-type name ("mmlu", "pairs", ...: the names in the
 *     task registry) except the files of the task that defines it
 *     (harness/tasks/<family>.c and harness/tasks/<family>_*.c, where <family>.c
 *     holds the task's `.name = "..."`).
 *   - no function is longer than 120 lines unless the comment above it says
 *     why ("long: ..."), in every .c file of the product and of tests/.
 * Each rule is first checked on a constructed bad snippet, so a scanner that
 * stopped finding anything would fail here. The tree is the working directory
 * (make test runs from the repository root) or $QE_SRC. */
#include "tests/tq.h"
#include "harness/base/text.h"
#include "harness/tasks/task.h"

#include <dirent.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_FILES 1024

static const char *g_root = ".";
static char g_files[MAX_FILES][256];
static int g_n_files;

static void collect(const char *dir)
{
	char path[512];
	DIR *d;
	struct dirent *e;

	snprintf(path, sizeof(path), "%s/%s", g_root, dir);
	if (!(d = opendir(path)))
		return;
	while ((e = readdir(d))) {
		char rel[256];
		struct stat st;
		size_t n = strlen(e->d_name);
		if (e->d_name[0] == '.')
			continue;
		snprintf(rel, sizeof(rel), "%s/%s", dir, e->d_name);
		snprintf(path, sizeof(path), "%s/%s", g_root, rel);
		if (stat(path, &st) != 0)
			continue;
		if (S_ISDIR(st.st_mode))
			collect(rel);
		else if (n > 2 && e->d_name[n - 2] == '.' && (e->d_name[n - 1] == 'c' || e->d_name[n - 1] == 'h') &&
			 g_n_files < MAX_FILES)
			snprintf(g_files[g_n_files++], sizeof(g_files[0]), "%s", rel);
	}
	closedir(d);
}

/* The text with comments and the insides of character literals blanked
 * (string literals kept: they are what the name rule looks for). */
static void strip_comments(char *s)
{
	for (char *p = s; *p; p++) {
		if (p[0] == '/' && p[1] == '*') {
			char *e = strstr(p + 2, "*/");
			char *end = e ? e + 2 : p + strlen(p);
			for (; p < end; p++)
				if (*p != '\n')
					*p = ' ';
			p--;
		} else if (p[0] == '/' && p[1] == '/') {
			for (; *p && *p != '\n'; p++)
				*p = ' ';
			p--;
		} else if (*p == '"') {
			for (p++; *p && *p != '"'; p++)
				if (*p == '\\' && p[1])
					p++;
			if (!*p)
				return;
		} else if (*p == '\'') {
			for (p++; *p && *p != '\''; p++) {
				if (*p == '\\' && p[1])
					*p++ = ' ';
				*p = ' ';
			}
			if (!*p)
				return;
		}
	}
}

/* ---- rule 1: includes ------------------------------------------------------ */

static int top_folder_is_lower(const char *file)
{
	static const char *const lower[] = { "runtimes/", "datasets/", "metrics/", "reports/", NULL };
	for (const char *const *l = lower; *l; l++)
		if (!strncmp(file, *l, strlen(*l)))
			return 1;
	return 0;
}

/* 1 when `file` (a path from the root) may include "inc" */
static int include_allowed(const char *file, const char *inc)
{
	if (!strncmp(file, "harness/base/", 13))
		return strchr(inc, '/') == NULL || !strncmp(inc, "harness/base/", 13);
	if (top_folder_is_lower(file))
		return strncmp(inc, "harness/", 8) != 0 || !strncmp(inc, "harness/base/", 13);
	return 1;
}

/* Violations of the include rule in text (comments stripped); messages to stderr. */
static int include_violations(const char *file, char *text)
{
	int bad = 0, line = 1;

	strip_comments(text);
	for (char *p = text; *p; p++) {
		if (*p == '\n') {
			line++;
			continue;
		}
		if ((p == text || p[-1] == '\n') && !strncmp(p, "#include \"", 10)) {
			char inc[256];
			const char *q = p + 10, *e = strchr(q, '"');
			if (!e || (size_t)(e - q) >= sizeof(inc))
				continue;
			snprintf(inc, sizeof(inc), "%.*s", (int)(e - q), q);
			if (!include_allowed(file, inc)) {
				fprintf(stderr, "  %s:%d: includes \"%s\" from above harness/base/\n", file, line, inc);
				bad++;
			}
		}
	}
	return bad;
}

/* ---- rule 2: task-type names ---------------------------------------------- */

/* "harness/tasks/mc_view.c" -> "mc"; "" for a file outside harness/tasks/ */
static void family_of(const char *file, char *fam, size_t cap)
{
	const char *b;
	size_t n;

	fam[0] = '\0';
	if (strncmp(file, "harness/tasks/", 14) != 0)
		return;
	b = file + 14;
	if (strchr(b, '/')) /* a task in its own folder: harness/tasks/<family>/... */
		n = (size_t)(strchr(b, '/') - b);
	else
		n = strcspn(b, "_.");
	snprintf(fam, cap, "%.*s", (int)n, b);
}

/* Lines of text (comments stripped) that compare the literal "name". */
static int name_violations(const char *file, char *text, const char *name)
{
	static const char *const cmp[] = { "strcmp", "strcasecmp", "strncmp", "strncasecmp", "memcmp", NULL };
	char lit[80];
	int bad = 0, line = 1;
	char *ls = text;

	snprintf(lit, sizeof(lit), "\"%s\"", name);
	strip_comments(text);
	for (char *p = text;; p++) {
		if (*p == '\n' || !*p) {
			char save = *p;
			*p = '\0';
			if (strstr(ls, lit))
				for (const char *const *c = cmp; *c; c++)
					if (strstr(ls, *c)) {
						fprintf(stderr, "  %s:%d: compares the task name %s outside its task's files\n",
							file, line, lit);
						bad++;
						break;
					}
			*p = save;
			if (!save)
				break;
			line++;
			ls = p + 1;
		}
	}
	return bad;
}

/* The family (file stem in harness/tasks/) that defines task `name`. */
static int owner_family(const char *name, char *fam, size_t cap)
{
	char pat[96];

	snprintf(pat, sizeof(pat), ".name = \"%s\"", name);
	for (int i = 0; i < g_n_files; i++) {
		char path[512], *text;
		int found;
		if (strncmp(g_files[i], "harness/tasks/", 14) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", g_root, g_files[i]);
		if (qe_file_read(path, &text, NULL, NULL) != 0)
			continue;
		found = strstr(text, pat) != NULL;
		free(text);
		if (found) {
			family_of(g_files[i], fam, cap);
			return 0;
		}
	}
	return -1;
}

/* ---- rule 3: function length ------------------------------------------------ */

#define MAX_FN_LINES 120

/* Functions of text (a whole .c file) longer than MAX_FN_LINES whose comment
 * (the lines just above the signature) has no "long:". A function is a '{'
 * in column 0 after a line that is not a declaration's end (';'), up to the
 * next '}' in column 0. */
static int length_violations(const char *file, const char *text)
{
	const char *lines[20000];
	size_t n = 0;
	int bad = 0;

	for (const char *p = text; *p && n < 20000; ) {
		lines[n++] = p;
		p = strchr(p, '\n');
		if (!p)
			break;
		p++;
	}
	for (size_t i = 1; i < n; i++) {
		size_t j, sig;
		int why = 0;
		if (lines[i][0] != '{')
			continue;
		for (j = i + 1; j < n && lines[j][0] != '}'; j++)
			;
		if (j - i + 1 <= MAX_FN_LINES) {
			i = j;
			continue;
		}
		/* the signature starts at the first line above that begins in column 0 */
		for (sig = i - 1; sig > 0 && (lines[sig][0] == ' ' || lines[sig][0] == '\t'); sig--)
			;
		for (size_t k = sig >= 12 ? sig - 12 : 0; k < sig; k++) {
			const char *e = strchr(lines[k], '\n');
			size_t len = e ? (size_t)(e - lines[k]) : strlen(lines[k]);
			if (memmem(lines[k], len, "long:", 5))
				why = 1;
		}
		if (!why) {
			const char *e = strchr(lines[sig], '\n');
			fprintf(stderr, "  %s:%zu: %.*s is %zu lines (more than %d, no \"long:\" comment)\n", file, sig + 1,
				(int)(e ? e - lines[sig] : 60), lines[sig], j - i + 1, MAX_FN_LINES);
			bad++;
		}
		i = j;
	}
	return bad;
}

/* ---- tests ------------------------------------------------------------------ */

static void test_scanner_finds_what_it_must(void)
{
	char a[] = "#include \"harness/run.h\"\n#include \"harness/base/err.h\"\n/* #include \"harness/cli/cli.h\" */\n";
	char b[] = "#include \"harness/base/err.h\"\n#include <stdio.h>\n";
	char c[] = "x = !strcmp(type, \"mmlu\");\n/* strcmp(t, \"mmlu\") */\ny = 1;\nif (strcmp(k,\n\"mmlu\"))\n";
	char d[] = "static const char *names[] = { \"mmlu\" };\nputs(\"strcmp('mmlu')\");\n";

	TQ_EQ_INT(include_violations("reports/x.c", a), 1);
	TQ_EQ_INT(include_violations("reports/x.c", b), 0);
	TQ_EQ_INT(include_violations("harness/base/x.c", b), 0);
	{
		char e[] = "#include \"reports/doc.h\"\n";
		TQ_EQ_INT(include_violations("harness/base/x.c", e), 1);
	}
	TQ_EQ_INT(name_violations("reports/x.c", c, "mmlu"), 1);
	TQ_EQ_INT(name_violations("reports/x.c", d, "mmlu"), 0);
	{
		char fam[64];
		family_of("harness/tasks/mc_view.c", fam, sizeof(fam));
		TQ_EQ_STR(fam, "mc");
		family_of("harness/tasks/kld/task.c", fam, sizeof(fam));
		TQ_EQ_STR(fam, "kld");
		family_of("reports/doc.c", fam, sizeof(fam));
		TQ_EQ_STR(fam, "");
	}
}

static void test_length_scanner(void)
{
	struct qe_text t = { 0 };

	qe_text_put(&t, "static int f(void)\n{\n");
	for (int i = 0; i < MAX_FN_LINES; i++)
		qe_text_put(&t, "\tx++;\n");
	qe_text_put(&t, "}\n\nstatic int g(void)\n{\n\treturn 0;\n}\n");
	TQ_EQ_INT(length_violations("x.c", qe_text_str(&t)), 1);
	qe_text_release(&t);
	qe_text_put(&t, "/* long: one table, read top to bottom */\nstatic int f(void)\n{\n");
	for (int i = 0; i < MAX_FN_LINES; i++)
		qe_text_put(&t, "\tx++;\n");
	qe_text_put(&t, "}\n");
	TQ_EQ_INT(length_violations("x.c", qe_text_str(&t)), 0);
	qe_text_release(&t);
}

static void test_functions_short_or_explained(void)
{
	int bad = 0, seen = 0;

	for (int i = 0; i < g_n_files; i++) {
		char path[512], *text;
		size_t n = strlen(g_files[i]);
		if (g_files[i][n - 1] != 'c')
			continue;
		snprintf(path, sizeof(path), "%s/%s", g_root, g_files[i]);
		if (qe_file_read(path, &text, NULL, NULL) != 0)
			continue;
		bad += length_violations(g_files[i], text);
		seen++;
		free(text);
	}
	TQ_CHECK(seen > 40);
	TQ_EQ_INT(bad, 0);
}

static void test_lower_folders_include_only_the_base(void)
{
	int bad = 0, seen = 0;

	for (int i = 0; i < g_n_files; i++) {
		char path[512], *text;
		if (!top_folder_is_lower(g_files[i]) && strncmp(g_files[i], "harness/base/", 13) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", g_root, g_files[i]);
		if (qe_file_read(path, &text, NULL, NULL) != 0)
			continue;
		bad += include_violations(g_files[i], text);
		seen++;
		free(text);
	}
	TQ_CHECK(seen > 20);
	TQ_EQ_INT(bad, 0);
}

static void test_task_names_compared_only_in_their_task(void)
{
	int bad = 0, n_tasks = 0;

	for (const struct qe_task *const *t = qe_task_registry; *t; t++) {
		char fam[64];
		n_tasks++;
		if (owner_family((*t)->name, fam, sizeof(fam)) != 0) {
			TQ_FAILF("no file in harness/tasks/ defines task '%s' (.name = \"%s\")", (*t)->name, (*t)->name);
			continue;
		}
		for (int i = 0; i < g_n_files; i++) {
			char path[512], *text, f[64];
			if (!strncmp(g_files[i], "tests/", 6))
				continue; /* tests check what tasks write */
			family_of(g_files[i], f, sizeof(f));
			if (!strcmp(f, fam))
				continue;
			snprintf(path, sizeof(path), "%s/%s", g_root, g_files[i]);
			if (qe_file_read(path, &text, NULL, NULL) != 0)
				continue;
			bad += name_violations(g_files[i], text, (*t)->name);
			free(text);
		}
	}
	TQ_CHECK(n_tasks >= 4);
	TQ_EQ_INT(bad, 0);
}

int main(void)
{
	static const char *const folders[] = { "harness", "runtimes", "datasets", "metrics", "reports", "tests", NULL };
	const char *src = getenv("QE_SRC");
	struct stat st;

	if (src && *src)
		g_root = src;
	if (stat("harness/base", &st) != 0 && !(src && *src)) {
		fprintf(stderr, "t_arch: run from the repository root (or set QE_SRC)\n");
		return 1;
	}
	for (const char *const *f = folders; *f; f++)
		collect(*f);
	TQ_RUN(test_scanner_finds_what_it_must);
	TQ_RUN(test_lower_folders_include_only_the_base);
	TQ_RUN(test_task_names_compared_only_in_their_task);
	TQ_RUN(test_length_scanner);
	TQ_RUN(test_functions_short_or_explained);
	return tq_done("t_arch");
}
