/* Fuzz target: the sentence-pair loader (datasets/pairs.h) over memory
 * input, mostly as JSONL, sometimes as TSV/CSV.
 *
 * The first input byte picks the options (format, label kind, limit,
 * filter); the rest is the text. Invariants: the load returns 0 or an
 * input error whose message names the input; a failed load leaves the set
 * empty; a loaded set has at least one pair, indices in range, distinct
 * sentences, finite labels within [label_min, label_max], a resolved kind
 * (binary sets hold only 0/1), and no more pairs than the limit.
 */
#define FZ_NAME "fuzz_jsonl"
#include "tests/fuzz_main.h"

#include <math.h>

#include "datasets/pairs.h"

static void fz_check_set(const struct qe_pair_set *s, const struct qe_pairs_opts *o)
{
	size_t i, j;

	FZ_CHECK(s->n_pairs >= 1);
	FZ_CHECK(s->n_sents >= 1 && s->n_sents <= 2 * s->n_pairs);
	FZ_CHECK(!o->limit || s->n_pairs <= o->limit);
	FZ_CHECK(s->kind == QE_LABEL_BINARY || s->kind == QE_LABEL_GRADED);
	FZ_CHECK(o->kind == QE_LABEL_AUTO || s->kind == o->kind);
	FZ_CHECK(s->format != NULL);
	for (i = 0; i < s->n_pairs; i++) {
		const struct qe_pair *p = &s->pairs[i];

		FZ_CHECK(p->s1 < s->n_sents && p->s2 < s->n_sents);
		FZ_CHECK(isfinite(p->label));
		FZ_CHECK(p->label >= s->label_min && p->label <= s->label_max);
		FZ_CHECK(s->kind != QE_LABEL_BINARY || p->label == 0.0 || p->label == 1.0);
		FZ_CHECK(p->line >= 1);
		FZ_CHECK(i == 0 || p->line > s->pairs[i - 1].line);
	}
	for (i = 0; i < s->n_sents; i++) {
		FZ_CHECK(s->sents[i] != NULL);
		for (j = i + 1; j < s->n_sents && s->n_sents <= 256; j++)
			FZ_CHECK(strcmp(s->sents[i], s->sents[j]) != 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const formats[4] = { "jsonl", "jsonl", "tsv", "auto" };
	static const enum qe_label_kind kinds[4] = { QE_LABEL_AUTO, QE_LABEL_AUTO, QE_LABEL_BINARY,
						     QE_LABEL_GRADED };
	struct qe_pairs_opts o = qe_pairs_default_opts();
	struct qe_err err = { 0, "" };
	struct qe_pair_set s;
	uint8_t flags = size ? data[0] : 0;
	const uint8_t *text = size ? data + 1 : data;
	size_t len = size ? size - 1 : 0;
	int rc;

	o.format = formats[flags & 3];
	o.kind = kinds[(flags >> 2) & 3];
	o.limit = (flags >> 4) & 3;
	if (flags & 0x40)
		o.filter = "split=test";
	if (flags & 0x80) {
		o.col_s1 = "q";
		o.col_s2 = "p";
		o.col_label = "y";
	}
	memset(&s, 0xA5, sizeof(s)); /* the load must overwrite it */
	rc = qe_pairs_load_mem("fuzz.jsonl", text, len, &o, &s, &err);
	FZ_CHECK(rc == 0 || rc == QE_EINPUT || rc == QE_EINVAL);
	if (rc) {
		FZ_CHECK(strncmp(err.msg, "fuzz.jsonl", 10) == 0);
		FZ_CHECK(s.pairs == NULL && s.sents == NULL && s.n_pairs == 0 && s.pool == NULL);
		/* only named columns without a header may be a usage error */
		FZ_CHECK(rc != QE_EINVAL || (flags & 0x80));
	} else {
		fz_check_set(&s, &o);
	}
	qe_pair_set_release(&s);
	return 0;
}

/* First byte: bits 0-1 format (jsonl jsonl tsv auto), bits 2-3 kind (auto
 * auto binary graded), bits 4-5 limit, bit 6 filter split=test, bit 7
 * columns q/p/y. */
static const struct fz_seed seeds[] = {
	FZ_SEED("\x00" "{\"sentence1\": \"a\", \"sentence2\": \"b\", \"label\": 1}\n"
		"{\"sentence1\": \"a\", \"sentence2\": \"c\", \"label\": 0}\n"),
	FZ_SEED("\x00" "{\"s1\": \"\\u4f60\\u597d\", \"s2\": \"x\\ny\", \"score\": 4.5}\r\n\n"
		"{\"s1\": \"\\u0000\", \"s2\": \"z\", \"score\": \"2\"}"),
	FZ_SEED("\x40" "{\"split\": \"test\", \"text1\": \"a\", \"text2\": \"b\", \"similarity\": true}\n"
		"{\"split\": \"train\", \"text1\": \"c\", \"text2\": \"d\", \"similarity\": false}\n"),
	FZ_SEED("\x80" "{\"q\": \"x\", \"p\": \"y\", \"y\": 1e300}\n{\"q\": [1], \"p\": {}, \"y\": null}\n"),
	FZ_SEED("\x08" "{\"sentence1\": \"a\", \"sentence2\": \"b\", \"label\": 0.5}\n"),
	FZ_SEED("\x10" "{\"sentence1\": \"a\", \"sentence2\": \"b\", \"label\": 1} trailing\n"),
	FZ_SEED("\x00" "[1, 2, 3]\n\"str\"\n{\"nested\": {\"sentence1\": \"a\"}}\n"),
	FZ_SEED("\x02" "a\tb\t1\r\nc\t\"d\t0\r\n\r\ne\tf"),
	FZ_SEED("\x02" "sentence1\tsentence2\tscore\nx\ty\t3.5\nx\tz\tnan\n"),
	FZ_SEED("\x03" "\xEF\xBB\xBFsentence1,sentence2,label\n\"a, b\",\"c\"\"d\",1\n"),
	FZ_SEED("\xC3" "split,q,p,y\ntest,a,b,0\ntrain,c,d,1\n"),
	FZ_SEED("\x0c" "{\"sentence1\": \"a\", \"sentence2\": \"a\", \"label\": 5}\n"),
};

FZ_MAIN(seeds)
