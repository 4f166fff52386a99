/* The catalogue of bad inputs (docs/errors.md): each class is run through the
 * built qeval and must give its documented exit code and a one-line error
 * naming the file, line, key or item. Every class of docs/errors.md is in the
 * table below and every one below is in docs/errors.md.
 *
 * `t_errors --markdown` prints the catalogue's table rows with the messages
 * qeval really gives (how docs/errors.md is refreshed). */
#include "tests/tq.h"
#include "tests/tq_exec.h"

#include "harness/base/text.h"

#include <sys/stat.h>
#include <unistd.h>

static char g_tmp[256];
static char g_out[16384], g_err[16384];

/* In setup and args: @T the scratch folder, @M the fixture llama model, @B
 * the fixture BERT model, @F the fixture llama model in F32, @S datasets/samples, @R a finished run (F16, MMLU,
 * 2 items a subject), @G a gate rules file that passes on @R. */
struct bad {
	const char *cls;     /* the class id in docs/errors.md */
	const char *what;    /* the input, in words */
	const char *setup;   /* shell run first (NULL = none) */
	const char *args;    /* qeval's arguments */
	int code;            /* the exit code */
	const char *needle;  /* a part of the one-line message */
	int any_lines;       /* 1 = the message may follow other lines (see the entry) */
};

#define RUN "run -q -t 1 --model @M --levels F16 "
#define MMLU_DIR(x) "mkdir -p @T/" x "/data/test @T/" x "/data/dev && "
#define PLAN(x) "printf '%s' '" x "' > @T/plan.json"
/* shard I/N of a small MMLU run into @T/DIR */
#define SHARD(in, dir, more) "@Q " RUN "--mmlu @S/mmlu --limit 2 " more " --shard " in " --out @T/" dir " >/dev/null 2>&1"
/* a plan's usual keys, so that the key under test is what is wrong */
#define PK "\"model\": \"@M\", \"levels\": [\"F16\"], \"out\": \"@T/o\", "
#define PT "\"tasks\": [{\"task\": \"mmlu\", \"dir\": \"@S/mmlu\"}]"

/* any_lines is left out where it is 0 */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
static const struct bad table[] = {
	/* ---- the command line ---- */
	{ "cli-unknown-command", "an unknown command", NULL, "frobnicate", 2, "frobnicate" },
	{ "cli-unknown-option", "a misspelt option", NULL, "run --modle @M", 2, "did you mean '--model'" },
	{ "cli-bad-number", "a number that is not one", NULL, RUN "--mmlu @S/mmlu --threads many --out @T/o", 2, "--threads" },
	{ "cli-out-of-range", "a value out of its range", NULL, RUN "--mmlu @S/mmlu --mmlu-shots 65 --out @T/o", 2, "--mmlu-shots" },
	{ "cli-bad-shots-word", "a word for a number", NULL, RUN "--mmlu @S/mmlu --mmlu-shots five --out @T/o", 2, "five" },
	{ "cli-unknown-task", "an unknown task", NULL, RUN "--tasks mmluu --mmlu @S/mmlu --out @T/o", 2, "mmluu" },
	{ "cli-subjects-ambiguous", "--subjects with MMLU and C-Eval", NULL,
	  RUN "--mmlu @S/mmlu --ceval @S/ceval --subjects nutrition --out @T/o", 2, "--mmlu-subjects" },
	{ "cli-no-task", "no task's data", NULL, RUN "--out @T/o", 2, "nothing to run" },
	{ "cli-report-format", "an unknown report format", NULL, "report @R --format pdf", 2, "pdf" },
	{ "cli-compare-one", "compare with one run", NULL, "compare @R", 2, "compare" },
	/* ---- models and levels ---- */
	{ "model-missing", "a model file that does not exist", NULL, "run -q --model @T/none.gguf --levels F16 --mmlu @S/mmlu --out @T/o", 2,
	  "none.gguf" },
	{ "model-not-gguf", "a model that is not a GGUF file", "echo hello > @T/notes.gguf",
	  "run -q --model @T/notes.gguf --levels F16 --mmlu @S/mmlu --out @T/o", 2, "not a GGUF" },
	/* ggml's own line is caught and becomes part of qeval's one line */
	{ "model-truncated", "a GGUF file cut short", "head -c 5000 @M > @T/cut.gguf", "describe @T/cut.gguf", 2,
	  "truncated GGUF file (header unreadable: gguf_init_from_reader: failed to read" },
	{ "model-folder", "a folder as the model", NULL, "run -q --model @T --levels F16 --mmlu @S/mmlu --out @T/o", 2, "is a directory" },
	{ "level-unknown-type", "an unknown quantization type", NULL, "run -q --model @M --levels F16,Q9_Z --mmlu @S/mmlu --out @T/o", 2,
	  "Q9_Z" },
	{ "level-needs-imatrix", "a type that needs an importance matrix, without one", NULL,
	  "run -q --model @M --levels F16,IQ2_XXS --mmlu @S/mmlu --out @T/o", 2, "needs an importance matrix" },
	{ "level-recipe-item", "a recipe item that is not PATTERN:TYPE", NULL,
	  "run -q --model @M --levels F16,Q4_K_M+ffn_ --mmlu @S/mmlu --out @T/o", 2, "PATTERN:TYPE" },
	{ "level-recipe-type", "a recipe's tensor type that is not a ggml type", NULL,
	  "run -q --model @M --levels F16,Q4_K_M+ffn_:Q9_K --mmlu @S/mmlu --out @T/o", 2, "Q9_K" },
	{ "level-twice", "a level named twice", NULL, "run -q --model @M --levels F16,F16 --mmlu @S/mmlu --out @T/o", 2,
	  "named twice" },
	{ "level-reference", "a reference that is not a level", NULL, RUN "--reference Q8_0 --mmlu @S/mmlu --out @T/o", 2,
	  "reference 'Q8_0'" },
	{ "level-empty-list", "no levels", NULL, "run -q --model @M --levels '' --mmlu @S/mmlu --out @T/o", 2, "levels" },
	{ "quantize-quantized", "quantizing a quantized source", "@Q quantize --model @M --levels Q8_0 --cache @T/qc >/dev/null",
	  "quantize --model @T/qc/quant/*/Q8_0.gguf --levels Q4_0 --cache @T/qc", 2, "already quantized" },
	/* ---- MMLU and C-Eval data ---- */
	{ "mc-dir-missing", "an MMLU folder that does not exist", NULL, RUN "--mmlu @T/nommlu --out @T/o", 2, "nommlu" },
	{ "mc-no-split", "an MMLU folder without the split", "mkdir -p @T/m0/data/dev", RUN "--mmlu @T/m0 --out @T/o", 2,
	  "has no 'test' split" },
	{ "mc-unknown-subject", "an unknown subject", NULL, RUN "--mmlu @S/mmlu --mmlu-subjects astrology --out @T/o", 2,
	  "astrology" },
	{ "mc-bad-split-name", "a split name with a slash", NULL, RUN "--mmlu @S/mmlu --mmlu-split ../x --out @T/o", 2,
	  "split" },
	{ "mc-field-count", "a row with too few fields", MMLU_DIR("m1") "printf 'Q?,a,b,c,A\\n' > @T/m1/data/test/anatomy_test.csv",
	  RUN "--mmlu @T/m1 --out @T/o", 2, "anatomy_test.csv:1: expected 6 fields, got 5" },
	{ "mc-bad-answer", "an answer that is not A-D", MMLU_DIR("m2") "printf 'Q?,a,b,c,d,E\\n' > @T/m2/data/test/anatomy_test.csv",
	  RUN "--mmlu @T/m2 --out @T/o", 2, "anatomy_test.csv:1: bad answer 'E'" },
	{ "mc-empty-subject", "an empty subject file", MMLU_DIR("m3") ": > @T/m3/data/test/anatomy_test.csv",
	  RUN "--mmlu @T/m3 --out @T/o", 2, "anatomy_test.csv: no questions" },
	{ "mc-unclosed-quote", "a quote never closed", MMLU_DIR("m4") "printf '\"Q?,a,b,c,d,A\\n' > @T/m4/data/test/anatomy_test.csv",
	  RUN "--mmlu @T/m4 --out @T/o", 2, "anatomy_test.csv" },
	{ "mc-duplicate-id", "a C-Eval id twice", "mkdir -p @T/c1/val @T/c1/dev && printf 'id,question,A,B,C,D,answer\\n0,q,a,b,c,d,A\\n0,r,a,b,c,d,B\\n' > @T/c1/val/law_val.csv",
	  RUN "--ceval @T/c1 --out @T/o", 2, "law_val.csv:3: id '0' is already on line 2" },
	{ "mc-no-answers", "a split without answers", "mkdir -p @T/c2/test && printf 'id,question,A,B,C,D\\n0,q,a,b,c,d\\n' > @T/c2/test/law_test.csv",
	  RUN "--ceval @T/c2 --ceval-split test --out @T/o", 2, "no answers" },
	{ "mc-template-type", "a template choice that is not text", PLAN("{\"model\": \"@M\", \"levels\": [\"F16\"], \"out\": \"@T/o\", \"tasks\": [{\"task\": \"mmlu\", \"dir\": \"@S/mmlu\", \"template\": {\"choices\": [1, 2, 3, 4]}}]}"),
	  "run -q --plan @T/plan.json", 2, "template.choices" },
	/* ---- sentence pairs ---- */
	{ "pairs-missing", "a pairs file that does not exist", NULL, "run -q --model @B --levels F16 --pairs @T/none.tsv --out @T/o", 2,
	  "none.tsv" },
	{ "pairs-folder", "a folder as a pairs file", NULL, "run -q --model @B --levels F16 --pairs @S --out @T/o", 2,
	  "a folder, not a file" },
	{ "pairs-bad-label", "a label that is not a number", "printf 's1\\ts2\\tlabel\\na\\tb\\tyes\\n' > @T/p1.tsv",
	  "run -q --model @B --levels F16 --pairs @T/p1.tsv --out @T/o", 2, "p1.tsv:2" },
	{ "pairs-no-column", "a header without a sentence column", "printf 'x\\ty\\tlabel\\na\\tb\\t1\\n' > @T/p2.tsv",
	  "run -q --model @B --levels F16 --pairs @T/p2.tsv --out @T/o", 2, "--pairs-s1" },
	{ "pairs-named-column-missing", "a named column not in the header", "printf 's1\\ts2\\tlabel\\na\\tb\\t1\\n' > @T/p3.tsv",
	  "run -q --model @B --levels F16 --pairs @T/p3.tsv --pairs-s1 left --out @T/o", 2, "no column 'left'" },
	{ "pairs-empty-sentence", "an empty sentence", "printf 's1\\ts2\\tlabel\\n \\tb\\t1\\n' > @T/p4.tsv",
	  "run -q --model @B --levels F16 --pairs @T/p4.tsv --out @T/o", 2, "p4.tsv:2: the first sentence is empty" },
	{ "pairs-binary-label", "a label not 0/1 for binary labels", "printf 's1\\ts2\\tlabel\\na\\tb\\t3\\n' > @T/p5.tsv",
	  "run -q --model @B --levels F16 --pairs @T/p5.tsv --pairs-kind binary --out @T/o", 2, "p5.tsv:2: label 3 is not 0 or 1" },
	{ "pairs-truncated-gz", "a .gz cut short, even with --limit", "gzip -c @S/pairs_en.tsv | head -c 300 > @T/p6.tsv.gz",
	  "run -q --model @B --levels F16 --pairs @T/p6.tsv.gz --limit 1 --out @T/o", 2, "p6.tsv.gz" },
	{ "pairs-bad-jsonl", "a JSON Lines row that is not JSON", "printf '{\"s1\": \"a\", \"s2\": \"b\", \"label\": 1}\\n{oops\\n' > @T/p7.jsonl",
	  "run -q --model @B --levels F16 --pairs @T/p7.jsonl --out @T/o", 2, "p7.jsonl:2" },
	{ "pairs-name-path", "a pairs name that is a path", NULL, "run -q --model @B --levels F16 --pairs ../../x=@S/pairs_en.tsv --out @T/o", 2,
	  "not a task name" },
	{ "pairs-name-twice", "one pairs name for two files", NULL,
	  "run -q --model @B --levels F16 --pairs x=@S/pairs_en.tsv --pairs x=@S/pairs_zh.tsv --out @T/o", 2, "given twice" },
	{ "pairs-name-clash", "a pairs name that is another task's", NULL,
	  "run -q --model @B --levels F16 --pairs mmlu=@S/pairs_en.tsv --mmlu @S/mmlu --out @T/o", 2, "two tasks are named 'mmlu'" },
	{ "pairs-bad-pooling", "an unknown pooling", NULL, "run -q --model @B --levels F16 --pairs @S/pairs_en.tsv --pairs-pooling max --out @T/o", 2,
	  "max" },
	/* ---- speed ---- */
	{ "speed-bad-list", "a prompt-length list with a word", NULL, RUN "--speed-pp 128,lots --out @T/o", 2, "plan.tasks[0].pp" },
	{ "speed-zero-reps", "zero repetitions", NULL, RUN "--speed-reps 0 --out @T/o", 2, "--speed-reps" },
	/* ---- plan files ---- */
	{ "plan-missing", "a plan file that does not exist", NULL, "run --plan @T/noplan.json", 2, "noplan.json" },
	{ "plan-not-json", "a plan that is not JSON", PLAN("{\"model\": \"x\",\n  oops}"), "run -q --plan @T/plan.json", 2,
	  "plan.json:2:" },
	{ "plan-not-object", "a plan that is an array", PLAN("[1, 2]"), "run -q --plan @T/plan.json", 2, "plan" },
	{ "plan-unknown-key", "a misspelt plan key", PLAN("{" PK PT ", \"lmit\": 2}"), "run -q --plan @T/plan.json", 2,
	  "did you mean 'limit'" },
	{ "plan-wrong-type", "a plan value of the wrong type", PLAN("{" PK PT ", \"limit\": \"two\"}"), "run -q --plan @T/plan.json",
	  2, "plan.limit" },
	{ "plan-duplicate-key", "a key given twice", PLAN("{" PK PT ", \"limit\": 1, \"limit\": 2}"), "run -q --plan @T/plan.json",
	  2, "limit" },
	{ "plan-duplicate-nested", "a key twice in a nested object", PLAN("{" PK "\"tasks\": [{\"task\": \"mmlu\", \"dir\": \"@S/mmlu\", \"dir\": \"x\"}]}"),
	  "run -q --plan @T/plan.json", 2, "key 'dir' given twice in one object" },
	{ "json-nul", "a NUL in a JSON string (\\u0000)", PLAN("{" PK PT ", \"note\": \"a\\u0000b\"}"), "run -q --plan @T/plan.json", 2,
	  "a NUL character" },
	{ "plan-trailing-text", "text after the plan", PLAN("{" PK PT "} junk"), "run -q --plan @T/plan.json", 2, "plan.json:1:" },
	{ "plan-task-unknown-key", "a misspelt task key", PLAN("{" PK "\"tasks\": [{\"task\": \"mmlu\", \"dir\": \"@S/mmlu\", \"shotz\": 1}]}"),
	  "run -q --plan @T/plan.json", 2, "did you mean 'shots'" },
	{ "plan-task-unknown", "an unknown task type", PLAN("{" PK "\"tasks\": [{\"task\": \"mmul\"}]}"),
	  "run -q --plan @T/plan.json", 2, "unknown task 'mmul'" },
	{ "plan-task-no-type", "a task object without \"task\"", PLAN("{" PK "\"tasks\": [{\"dir\": \"x\"}]}"),
	  "run -q --plan @T/plan.json", 2, "plan.tasks[0]" },
	{ "plan-tasks-not-array", "tasks that are not an array", PLAN("{" PK "\"tasks\": {\"task\": \"mmlu\"}}"),
	  "run -q --plan @T/plan.json", 2, "plan.tasks" },
	{ "plan-runtime-key", "a misspelt runtime key", PLAN("{" PK PT ", \"runtime\": {\"thread\": 2}}"),
	  "run -q --plan @T/plan.json", 2, "did you mean 'threads'" },
	{ "plan-levels-type", "levels that are not a list", PLAN("{\"model\": \"@M\", \"out\": \"@T/o\", \"levels\": \"F16\", " PT "}"),
	  "run -q --plan @T/plan.json", 2, "plan.levels" },
	{ "plan-level-object-key", "an unknown key in a level object", PLAN("{\"model\": \"@M\", \"levels\": [{\"name\": \"a\", \"tpye\": \"Q8_0\"}], \"tasks\": [{\"task\": \"mmlu\", \"dir\": \"@S/mmlu\"}], \"out\": \"@T/o\"}"),
	  "run -q --plan @T/plan.json", 2, "tpye" },
	{ "plan-task-limit-type", "a task limit of the wrong type", PLAN("{" PK "\"tasks\": [{\"task\": \"mmlu\", \"dir\": \"@S/mmlu\", \"limit\": \"all\"}]}"),
	  "run -q --plan @T/plan.json", 2, "plan.tasks[0].limit" },
	/* ---- run directories ---- */
	{ "dir-holds-run", "a new run into a run directory", NULL, RUN "--mmlu @S/mmlu --out @R", 2, "already holds a run" },
	{ "dir-unknown-records", "a new run into levels/ without plan.json", "mkdir -p @T/u/levels/00-F16",
	  RUN "--mmlu @S/mmlu --out @T/u", 2, "levels/ but no plan.json" },
	{ "resume-missing", "--resume of no run", NULL, "run --resume @T/norun", 2, "norun" },
	{ "resume-other-model", "--resume with another model", "cp -a @R @T/r1",
	  "run -q --resume @T/r1 --model @F", 2, "not the same run: model.sha256" },
	{ "resume-changed-setting", "--resume with a changed task setting", "cp -a @R @T/r2", "run -q --resume @T/r2 --mmlu-shots 1", 2,
	  "not the same run: tasks.mmlu.settings.shots" },
	{ "resume-no-identity", "--resume of a run without identity.json", "cp -a @R @T/r3 && rm @T/r3/identity.json",
	  "run -q --resume @T/r3", 2, "identity.json" },
	{ "resume-locked", "a run directory in use", "cp -a @R @T/r4 && (flock @T/r4/lock sleep 3 &) && sleep 0.3",
	  "run -q --resume @T/r4", 2, "is in use by another process" },
	/* ---- shards and merge ---- */
	{ "shard-bad", "a shard that is not I/N with I < N", NULL, RUN "--mmlu @S/mmlu --shard 3/3 --out @T/o", 2, "--shard '3/3'" },
	{ "merge-not-shard", "merging a run that is not a shard", NULL, "merge @T/m1 @R", 2, "is not a shard" },
	{ "merge-other-run", "merging shards of different runs", SHARD("0/2", "sh0", "") " && " SHARD("1/2", "sh1x", "--mmlu-shots 1"),
	  "merge @T/m2 @T/sh0 @T/sh1x", 2, "not a shard of the same run as '@T/sh0': tasks.mmlu.settings.shots" },
	{ "merge-shard-twice", "one shard given twice", "cp -a @T/sh0 @T/sh0b", "merge @T/m3 @T/sh0 @T/sh0b", 2,
	  "shard 0/2 is given twice" },
	{ "merge-into-run", "merging into a run directory", NULL, "merge @R @T/sh0", 2, "already holds a run" },
	{ "resume-other-shard", "--resume of a shard as another shard", NULL, "run -q --resume @T/sh0 --shard 1/2", 2,
	  "holds shard 0/2, not 1/2" },
	{ "jobs-bad", "a job count that is not 1 to 4096", NULL, RUN "--mmlu @S/mmlu --jobs 0 --out @T/o", 2, "--jobs '0'" },
	{ "jobs-and-shard", "--jobs with --shard", NULL, RUN "--mmlu @S/mmlu --jobs 2 --shard 0/2 --out @T/o", 2,
	  "--jobs and --shard" },
	/* ---- sensitivity and recommend ---- */
	{ "sensitivity-no-model", "a scan without a model", NULL, "sensitivity --types q4_K --mmlu @S/mmlu --out @T/s", 2,
	  "--model is required" },
	{ "sensitivity-groups-bad", "a grouping that is not kind, layer or layers:K", NULL,
	  "sensitivity --model @M --groups layers:0 --mmlu @S/mmlu --out @T/s", 2, "--groups 'layers:0'" },
	{ "sensitivity-no-value", "an option of the scan without its value", NULL, "sensitivity --model @M --types", 2,
	  "option '--types' needs a value" },
	{ "recommend-no-rules", "a recommendation without a gate", NULL, "recommend --model @M --mmlu @S/mmlu --out @T/r", 2,
	  "--rules is required" },
	/* ---- gates ---- */
	{ "gate-rules-missing", "a rules file that does not exist", NULL, "gate @R --rules @T/norules.json", 2, "norules.json" },
	{ "gate-rules-not-json", "rules that are not JSON", "printf '{\"rules\": [\\n' > @T/g1.json", "gate @R --rules @T/g1.json", 2,
	  "not valid JSON" },
	{ "gate-rules-duplicate-key", "a rule field given twice",
	  "printf '{\"rules\": [{\"metric\": \"level.size_ratio\", \"op\": \">=\", \"value\": 1, \"value\": 0}]}' > @T/g7.json",
	  "gate @R --rules @T/g7.json", 2, "g7.json: key 'value' given twice in one object" },
	{ "gate-rule-op", "an unknown comparison", "printf '{\"rules\": [{\"metric\": \"level.size_ratio\", \"op\": \"=>\", \"value\": 1}]}' > @T/g2.json",
	  "gate @R --rules @T/g2.json", 2, "rule 0" },
	{ "gate-rule-no-metric", "a rule without a metric", "printf '{\"rules\": [{\"op\": \">=\", \"value\": 1}]}' > @T/g3.json",
	  "gate @R --rules @T/g3.json", 2, "rule 0" },
	{ "gate-rule-infinite", "a threshold that is not finite", "printf '{\"rules\": [{\"metric\": \"level.size_ratio\", \"op\": \">=\", \"value\": 1e999}]}' > @T/g4.json",
	  "gate @R --rules @T/g4.json", 2, "not a finite number" },
	{ "gate-rule-unknown-field", "a misspelt rule field", "printf '{\"rules\": [{\"metric\": \"level.size_ratio\", \"op\": \">=\", \"vaule\": 1}]}' > @T/g5.json",
	  "gate @R --rules @T/g5.json", 2, "vaule" },
	{ "gate-rules-empty", "no rules", "printf '{\"rules\": []}' > @T/g6.json", "gate @R --rules @T/g6.json", 2, "rules" },
	{ "gate-no-results", "a gate on a folder without results", NULL, "gate @T --rules @G", 2, "results.json" },
	{ "gate-damaged-outcome", "a damaged gate.json read by report", "cp -a @R @T/d1 && printf '{\"schema\": \"qeval-gate\", \"passed\": tr' > @T/d1/gate.json",
	  "report @T/d1 --format junit", 2, "gate.json' is damaged" },
	{ "gate-forged-outcome", "a gate.json that passes with failures", "cp -a @R @T/d2 && printf '{\"schema\": \"qeval-gate\", \"passed\": true, \"n_failed\": 2, \"checks\": []}' > @T/d2/gate.json",
	  "report @T/d2 --format junit", 2, "not a whole gate outcome" },
	/* ---- reports, history, compare ---- */
	{ "report-no-dir", "a report of a folder that does not exist", NULL, "report @T/nodir", 2, "nodir" },
	{ "report-results-not-json", "results.json that is not JSON", "mkdir -p @T/bad && printf '{' > @T/bad/results.json",
	  "report @T/bad", 2, "results.json" },
	{ "report-results-duplicate-key", "a key given twice in results.json",
	  "cp -a @R @T/d4 && sed -i '0,/{/s/{/{\"created\": \"x\", /' @T/d4/results.json", "report @T/d4", 2,
	  "results.json: key 'created' given twice in one object" },
	{ "history-empty", "a history without entries", "printf 'nothing\\n' > @T/h1.jsonl", "history render @T/h1.jsonl @T/hout", 2,
	  "no history entries" },
	{ "history-malformed-metrics", "a history entry with metrics of the wrong shape",
	  "printf '{\"schema\":\"qeval-history\",\"version\":1,\"metrics\":{\"mmlu\":{\"Q8_0\":[1,2]}}}\\n' > @T/h2.jsonl",
	  "history render @T/h2.jsonl @T/hout", 2, "h2.jsonl" },
	{ "history-duplicate-key", "a history line with a key given twice",
	  "printf '{\"schema\":\"qeval-history\",\"version\":1,\"metrics\":{}}\\n"
	  "{\"schema\":\"qeval-history\",\"version\":1,\"version\":2,\"metrics\":{}}\\n' > @T/h5.jsonl",
	  "history render @T/h5.jsonl @T/hout", 2, "h5.jsonl:2: key 'version' given twice in one object" },
	{ "history-damaged-gate", "history add of a run with a damaged gate.json",
	  "cp -a @R @T/d3 && printf '{\"sch' > @T/d3/gate.json", "history add @T/h3.jsonl @T/d3", 2, "gate.json' is damaged" },
	{ "history-no-run", "history add of a folder without results", NULL, "history add @T/h4.jsonl @T/nodir", 2, "nodir" },
	{ "compare-no-results", "compare of a folder without results", NULL, "compare @R @T/nodir", 2, "nodir" },
};
#pragma GCC diagnostic pop
#define N_TABLE (sizeof(table) / sizeof(table[0]))

static char g_run[400], g_rules[400];

/* text with the @-names replaced */
static void expand(const char *in, char *out, size_t cap)
{
	char model[512], bert[512], f32[512];
	const char *bin = getenv("QE_QEVAL");
	size_t n = 0;

	snprintf(model, sizeof(model), "%s/tiny-llama-f16.gguf", tq_fixtures());
	snprintf(bert, sizeof(bert), "%s/tiny-bert-f16.gguf", tq_fixtures());
	snprintf(f32, sizeof(f32), "%s/tiny-llama-f32.gguf", tq_fixtures());
	for (; *in && n + 1 < cap; in++) {
		const char *rep = NULL;
		if (*in == '@') {
			switch (in[1]) {
			case 'T': rep = g_tmp; break;
			case 'M': rep = model; break;
			case 'B': rep = bert; break;
			case 'F': rep = f32; break;
			case 'S': rep = "datasets/samples"; break;
			case 'R': rep = g_run; break;
			case 'G': rep = g_rules; break;
			case 'Q': rep = bin ? bin : "./qeval"; break;
			}
		}
		if (rep) {
			n += (size_t)snprintf(out + n, cap - n, "%s", rep);
			if (n >= cap)
				n = cap - 1;
			in++;
		} else {
			out[n++] = *in;
		}
	}
	out[n] = '\0';
}

/* stderr's lines (a trailing newline does not count) */
static int n_lines(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += *s == '\n' && s[1];
	return *g_err ? n + 1 : 0;
}

static int run_one(const struct bad *b)
{
	char setup[4096], args[4096], needle[1024];
	int rc;

	if (b->setup) {
		expand(b->setup, setup, sizeof(setup));
		if (system(setup) != 0)
			fprintf(stderr, "  %s: setup failed: %s\n", b->cls, setup);
	}
	expand(b->args, args, sizeof(args));
	rc = tq_qeval(g_tmp, args, g_out, sizeof(g_out), g_err, sizeof(g_err));
	expand(b->needle, needle, sizeof(needle));
	if (rc != b->code || !strstr(g_err, needle) || (n_lines(g_err) != 1 && !b->any_lines)) {
		TQ_FAILF("%s: exit %d (want %d), %d stderr line(s), want '%s' in: %s", b->cls, rc, b->code, n_lines(g_err),
			 needle, g_err);
		return 1;
	}
	return 0;
}

static void make_run(void)
{
	char args[2048];
	FILE *f;

	snprintf(g_run, sizeof(g_run), "%s/run", g_tmp);
	snprintf(g_rules, sizeof(g_rules), "%s/rules.json", g_tmp);
	expand(RUN "--mmlu @S/mmlu --limit 2 --out @R", args, sizeof(args));
	TQ_EQ_INT(tq_qeval(g_tmp, args, g_out, sizeof(g_out), g_err, sizeof(g_err)), 0);
	f = fopen(g_rules, "w");
	fprintf(f, "{\"rules\": [{\"metric\": \"level.size_ratio\", \"op\": \">=\", \"value\": 1, \"include_reference\": true}]}\n");
	fclose(f);
}

static void test_catalogue(void)
{
	int failed = 0;

	make_run();
	for (size_t i = 0; i < N_TABLE; i++)
		failed += run_one(&table[i]);
	fprintf(stderr, "  %zu classes, %d failed\n", N_TABLE, failed);
	TQ_CHECK(N_TABLE >= 60);
}

/* docs/errors.md lists exactly the classes above */
static void test_docs_list_every_class(void)
{
	char *doc = NULL, key[128];
	size_t n_doc = 0;

	if (qe_file_read("docs/errors.md", &doc, NULL, NULL) != 0)
		TQ_SKIP("docs/errors.md not found (run from the repository root)");
	for (size_t i = 0; i < N_TABLE; i++) {
		snprintf(key, sizeof(key), "| `%s` |", table[i].cls);
		if (!strstr(doc, key))
			TQ_FAILF("class %s is not in docs/errors.md", table[i].cls);
		for (size_t j = 0; j < i; j++)
			if (!strcmp(table[i].cls, table[j].cls))
				TQ_FAILF("class %s twice in the table", table[i].cls);
	}
	for (const char *p = strstr(doc, "\n| `"); p; p = strstr(p + 4, "\n| `")) { /* a row's first cell */
		size_t len = strcspn(p + 4, "`");
		int found = 0;
		for (size_t i = 0; i < N_TABLE && !found; i++)
			found = strlen(table[i].cls) == len && !strncmp(table[i].cls, p + 4, len);
		if (!found)
			TQ_FAILF("docs/errors.md lists '%.*s', which no test runs", (int)len, p + 4);
		n_doc++;
	}
	TQ_EQ_INT(n_doc, N_TABLE);
	free(doc);
}

/* the table rows of docs/errors.md with the messages qeval gives now */
static void print_markdown(void)
{
	make_run();
	for (size_t i = 0; i < N_TABLE; i++) {
		char args[4096], setup[4096], *nl;
		int rc;
		if (table[i].setup) {
			expand(table[i].setup, setup, sizeof(setup));
			if (system(setup) != 0)
				fprintf(stderr, "setup of %s failed\n", table[i].cls);
		}
		expand(table[i].args, args, sizeof(args));
		rc = tq_qeval(g_tmp, args, g_out, sizeof(g_out), g_err, sizeof(g_err));
		if ((nl = strchr(g_err, '\n')))
			*nl = '\0';
		for (char *p; (p = strstr(g_err, g_tmp)) != NULL;) {
			memmove(p + 3, p + strlen(g_tmp), strlen(p + strlen(g_tmp)) + 1);
			memcpy(p, "TMP", 3);
		}
		for (char *p = g_err; *p; p++)
			if (*p == '|')
				*p = '/';
		printf("| `%s` | %s | `%s` | %d |\n", table[i].cls, table[i].what, g_err, rc);
	}
}

int main(int argc, char **argv)
{
	char cmd[400];

	snprintf(g_tmp, sizeof(g_tmp), "/tmp/qe-t-errors-XXXXXX");
	if (!mkdtemp(g_tmp))
		return 1;
	if (argc > 1 && !strcmp(argv[1], "--markdown")) {
		print_markdown();
	} else {
		TQ_RUN(test_catalogue);
		TQ_RUN(test_docs_list_every_class);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_tmp);
	if (system(cmd) != 0)
		return 1;
	return argc > 1 ? 0 : tq_done("t_errors");
}
