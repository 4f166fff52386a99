/* Tests of the qeval command: help, exit codes, one-line errors naming the
 * file or level. Runs the built binary ($QE_QEVAL). */
#include "tests/tq.h"
#include "tests/tq_exec.h"

#include <sys/wait.h>
#include <unistd.h>

static char g_tmp[256];
static char g_out[8192], g_errtxt[8192];

static int qeval(const char *args)
{
	return tq_qeval(g_tmp, args, g_out, sizeof(g_out), g_errtxt, sizeof(g_errtxt));
}

static int count_lines(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static void test_help_and_version(void)
{
	TQ_EQ_INT(qeval("--help"), 0);
	TQ_CHECK(strstr(g_out, "quantize") && strstr(g_out, "Exit codes"));
	TQ_EQ_INT(qeval("--version"), 0);
	TQ_CHECK(strstr(g_out, "qeval ") && strstr(g_out, "llama.cpp"));
	TQ_EQ_INT(qeval("quantize --help"), 0);
	TQ_CHECK(strstr(g_out, "--levels") != NULL);
	TQ_EQ_INT(qeval("list"), 0);
	TQ_CHECK(strstr(g_out, "llamacpp") && strstr(g_out, "Q4_K_M") && strstr(g_out, "IQ4_NL"));
	TQ_EQ_INT(qeval(""), 2);
	TQ_EQ_INT(qeval("frobnicate"), 2);
	TQ_CHECK(strstr(g_errtxt, "frobnicate") != NULL);
}

static void test_quantize_made_then_cached(void)
{
	char args[1024];

	snprintf(args, sizeof(args), "quantize --model %s/tiny-llama-f32.gguf --levels Q8_0,Q4_K_M,IQ4_NL", tq_fixtures());
	TQ_EQ_INT(qeval(args), 0);
	TQ_CHECK(strstr(g_out, "Q8_0     made") && strstr(g_out, "Q4_K_M   made") && strstr(g_out, "q4_K"));
	TQ_EQ_INT(qeval(args), 0);
	TQ_CHECK(strstr(g_out, "Q8_0     cached") && strstr(g_out, "IQ4_NL   cached"));
}

static void test_bad_inputs_one_line_exit_2(void)
{
	char args[1024], bad[400];
	FILE *f;

	TQ_EQ_INT(qeval("quantize --model /no/such/model.gguf --levels Q8_0"), 2);
	TQ_EQ_INT(count_lines(g_errtxt), 1);
	TQ_CHECK(strstr(g_errtxt, "/no/such/model.gguf") != NULL);

	/* an unknown level: named, and the good levels are still made */
	snprintf(args, sizeof(args), "quantize --model %s/tiny-llama-f32.gguf --levels Q8_0,Q9_Z,Q4_0", tq_fixtures());
	TQ_EQ_INT(qeval(args), 2);
	TQ_EQ_INT(count_lines(g_errtxt), 1);
	TQ_CHECK(strstr(g_errtxt, "Q9_Z") != NULL);
	TQ_CHECK(strstr(g_out, "Q8_0") && strstr(g_out, "Q4_0"));

	snprintf(bad, sizeof(bad), "%s/notes.gguf", g_tmp);
	f = fopen(bad, "w");
	fputs("not a model\n", f);
	fclose(f);
	snprintf(args, sizeof(args), "describe --model %s", bad);
	TQ_EQ_INT(qeval(args), 2);
	TQ_EQ_INT(count_lines(g_errtxt), 1);
	TQ_CHECK(strstr(g_errtxt, "notes.gguf") && strstr(g_errtxt, "not a GGUF"));

	snprintf(args, sizeof(args), "quantize --model %s/tiny-llama-f32.gguf --levels Q8_0 --threads x", tq_fixtures());
	TQ_EQ_INT(qeval(args), 2);
	TQ_CHECK(strstr(g_errtxt, "--threads") != NULL);
}

static void test_describe_shows_histogram(void)
{
	char args[1024];

	snprintf(args, sizeof(args), "describe --model %s/tiny-llama-f32.gguf --level Q4_K_M", tq_fixtures());
	TQ_EQ_INT(qeval(args), 0);
	TQ_CHECK(strstr(g_out, "q4_K×") && strstr(g_out, "bits/weight") && strstr(g_out, "parameters"));
}

int main(void)
{
	snprintf(g_tmp, sizeof(g_tmp), "/tmp/qe-t-cli-XXXXXX");
	if (!mkdtemp(g_tmp))
		return 1;
	TQ_RUN(test_help_and_version);
	TQ_RUN(test_quantize_made_then_cached);
	TQ_RUN(test_bad_inputs_one_line_exit_2);
	TQ_RUN(test_describe_shows_histogram);
	{
		char cmd[300];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_tmp);
		if (system(cmd) != 0)
			return 1;
	}
	return tq_done("t_cli");
}
