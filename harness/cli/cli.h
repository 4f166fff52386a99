/* qeval — the command table. One file per command (harness/cli/cmd_<name>.c);
 * each cmd_* takes main's argc/argv with argv[0] the command's name and
 * returns the process exit status (enum qe_exit in harness/base/err.h). */
#ifndef QE_CLI_H
#define QE_CLI_H

#include <cjson/cJSON.h>

struct qe_cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary; /* one line for `qeval --help` */
};

/* The table, terminated by a NULL name; defined in harness/cli/main.c. */
extern const struct qe_cmd qe_commands[];

int cmd_run(int argc, char **argv);

/* `qeval run`'s flags over a base plan (NULL = none; --plan and --resume
 * replace it; resume != NULL acts as --resume DIR) and the pipeline; who
 * names the command in messages. Returns the exit code. For commands that
 * are plans with other defaults (demo). */
int qe_run_command(int argc, char **argv, cJSON *base, const char *resume, const char *who);
int cmd_demo(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_gate(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_history(int argc, char **argv);
int cmd_version(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_describe(int argc, char **argv);
int cmd_merge(int argc, char **argv);
int cmd_sensitivity(int argc, char **argv);
int cmd_recommend(int argc, char **argv);

#endif
