/* Fuzz target: the openai runtime's parsers of server replies
 * (runtimes/openai.h): a next-token reply (llama-server's "content" shape
 * and the OpenAI legacy "logprobs" object), an echo reply, SGLang's
 * /generate reply, a stream of server-sent events, and the top-K replies of
 * the kld task (llama-server's next-token reply, vLLM's prompt_logprobs).
 *
 * The first input byte picks the parser (0..0x7f: byte % 4; 0x80 and up: the
 * top-K parsers, byte & 1); the rest is the reply body.
 * Invariants: a parse returns 0 or a negative status with a one-line
 * message; on 0 every log-likelihood is finite and every continuation has a
 * token; the stream never counts more token events than "data:" lines, and
 * its first token comes no later than its last.
 */
#define FZ_NAME "fuzz_http"
#include "tests/fuzz_main.h"

#include <math.h>

#include "runtimes/openai.h"

static const char *const conts[4] = { " A", " B", " C", " D" };

static void check_msg(const struct qe_err *err)
{
	FZ_CHECK(err->msg[0] != '\0');
	FZ_CHECK(strchr(err->msg, '\n') == NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct qe_score_req rq = { .context = "Q: x\nAnswer:", .conts = conts, .n_conts = 4 };
	struct qe_score_res res;
	struct qe_err err = { 0, "" };
	const char *body = size ? (const char *)data + 1 : "";
	size_t len = size ? size - 1 : 0;
	int kind = size ? (data[0] & 0x80 ? 4 + (data[0] & 1) : data[0] % 4) : 0, rc;

	if (kind >= 4) {
		static const int32_t tok[4] = { 1, 7, 3, 7 };
		size_t n_rows = 0;
		rc = qe_openai_parse_topk(body, len, kind == 5, tok, 4, 3, &n_rows, &err);
		FZ_CHECK(rc <= 0);
		if (rc)
			check_msg(&err);
		else
			FZ_CHECK(n_rows == (kind == 5 ? 3u : 1u));
	} else if (kind == 0) {
		rc = qe_openai_parse_next(body, len, &rq, &res, &err);
		FZ_CHECK(rc <= 0);
		if (rc)
			check_msg(&err);
		for (int c = 0; rc == 0 && c < 4; c++)
			FZ_CHECK(isfinite(res.ll[c]) && res.n_cont_tok[c] == 1);
	} else if (kind == 1) {
		double ll = NAN;
		int32_t n_tok = -1;
		int greedy = -1;
		rc = qe_openai_parse_echo(body, len, "Q: x\nAnswer:", " A", &ll, &n_tok, &greedy, &err);
		FZ_CHECK(rc <= 0);
		if (rc)
			check_msg(&err);
		else
			FZ_CHECK(isfinite(ll) && n_tok >= 1 && (greedy == 0 || greedy == 1));
	} else if (kind == 3) {
		double ll = NAN;
		int32_t n_tok = -1;
		int greedy = -1;
		rc = qe_openai_parse_generate(body, len, " A", &ll, &n_tok, &greedy, &err);
		FZ_CHECK(rc <= 0);
		if (rc)
			check_msg(&err);
		else
			FZ_CHECK(isfinite(ll) && n_tok >= 1 && (greedy == 0 || greedy == 1));
	} else {
		int32_t n_events = -1, usage = -1, n_data = 0;
		double first = NAN, last = NAN;
		qe_openai_parse_stream(body, len, &n_events, &usage, &first, &last);
		for (size_t i = 0; i + 5 <= len; i++)
			n_data += (i == 0 || body[i - 1] == '\n') && !memcmp(body + i, "data:", 5);
		FZ_CHECK(n_events >= 0 && n_events <= n_data);
		FZ_CHECK(usage >= 0);
		FZ_CHECK(n_events == 0 || first <= last);
	}
	return 0;
}

static const struct fz_seed seeds[] = {
	FZ_SEED("\x00{\"choices\":[{\"text\":\" A\",\"logprobs\":{\"content\":[{\"id\":1,\"token\":\" A\",\"logprob\":-0.5,"
		"\"top_logprobs\":[{\"token\":\" A\",\"logprob\":-0.5},{\"token\":\" B\",\"logprob\":-1},"
		"{\"token\":\" C\",\"logprob\":-2},{\"token\":\" D\",\"logprob\":-3}]}]}}],\"usage\":{\"prompt_tokens\":5}}"),
	/* found by the 10-minute libFuzzer run: counts past int (UBSan) */
	FZ_SEED("\x00{\"choices\":[{\"text\":\" A\",\"logprobs\":{\"content\":[{\"id\":1,\"token\":\" A\",\"logprob\":-0.5,"
		"\"top_logprobs\":[{\"token\":\" A\",\"logprob\":-0.5}]}]}}],\"usage\":{\"prompt_tokens\":1.11111e117,"
		"\"prompt_tokens_details\":{\"cached_tokens\":-1e300}}}"),
	FZ_SEED("\x04{\"choices\":[{\"text\":\" B\",\"logprobs\":{\"tokens\":[\" B\"],\"token_logprobs\":[-0.1],"
		"\"top_logprobs\":[{\" A\":-2.5,\" B\":-0.1,\" C\":-4,\" D\":-5}],\"text_offset\":[0]}}]}"),
	FZ_SEED("\x00{\"choices\":[{\"text\":\" A\",\"logprobs\":null}]}"),
	FZ_SEED("\x01{\"choices\":[{\"text\":\"x\",\"logprobs\":{\"tokens\":[\"Q\",\":\",\" x\",\"\\n\",\"Answer\",\":\",\" A\",\"x\"],"
		"\"token_logprobs\":[null,-1,-2,-0.5,-3,-0.1,-0.7,-1],\"text_offset\":[0,1,2,4,5,11,12,14],"
		"\"top_logprobs\":[null,{\":\":-1},{\" x\":-2},{\"\\n\":-0.5},{\"Answer\":-3},{\":\":-0.1},{\" B\":-0.2},{\"x\":-1}]}}]}"),
	FZ_SEED("\x02" "data: {\"choices\":[{\"text\":\" x\"}]}\n\ndata: {\"choices\":[{\"text\":\" y\"}]}\n\n"
		"data: {\"choices\":[],\"usage\":{\"completion_tokens\":2}}\n\ndata: [DONE]\n\n"),
	FZ_SEED("\x02" "data: {\"choices\":[{\"text\":\"\"}]}\n"),
	FZ_SEED("\x03{\"text\":\"x\",\"meta_info\":{\"input_token_logprobs\":[[null,1,\"<s>\"],[-1.5,7,\"Q\"],[-0.25,8,\" A\"]],"
		"\"input_top_logprobs\":[null,[[-0.5,9,\"W\"]],[[-0.25,8,\" A\"]]]}}"),
	FZ_SEED("\x00{\"choices\":[{\"logprobs\":{\"content\":[{\"top_logprobs\":[{\"token\":\" A\",\"logprob\":1e999}]}]}}]}"),
	FZ_SEED("\x80{\"choices\":[{\"text\":\"x\",\"logprobs\":{\"content\":[{\"id\":1,\"token\":\"x\",\"logprob\":-0.5,"
		"\"top_logprobs\":[{\"id\":1,\"token\":\"x\",\"logprob\":-0.5},{\"id\":4,\"token\":\"y\",\"logprob\":-1.2}]}]}}]}"),
	FZ_SEED("\x81{\"choices\":[{\"text\":\"\",\"prompt_logprobs\":[null,{\"7\":{\"logprob\":-0.2,\"rank\":1,\"decoded_token\":\"a\"}},"
		"{\"3\":{\"logprob\":-3.5,\"rank\":9,\"decoded_token\":\"b\"},\"5\":{\"logprob\":-0.1,\"rank\":1}},"
		"{\"7\":{\"logprob\":-0.7,\"rank\":2},\"2\":{\"logprob\":-0.6,\"rank\":1}}]}]}"),
};

FZ_MAIN(seeds)
