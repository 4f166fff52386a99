#!/usr/bin/env bash
# Benchmark for issues 3 and 12: MMLU 5-shot evaluation speed of one model and level.
#
#  1. qeval's prompt tokens processed per second while evaluating MMLU
#     (results.json: throughput.prompt_tokens_per_s = evaluated prompt tokens /
#     scoring wall time), over the llama-bench-style prompt-processing rate of
#     the same model, threads and batch sizes for the decodes the run made
#     (qeval's speed task: random tokens, the depth decoded untimed first, like
#     llama-bench -p N -d D -b B -ub B), measured in the same run. Scoring
#     makes two kinds of decodes, rebuilt here from the records and the
#     grouping (questions in groups of BATCH of a subject, one decode each):
#       - a subject's few-shot header, alone from an empty cache:
#         pp<header> @ d0;
#       - a group's questions, each in its own sequence sharing the header's
#         cells: pp<mean tokens per decode> @ d<mean header>.
#     The reference rate is the evaluated tokens over the time llama-bench's
#     rates give each kind ("ratio"); "ratio to pp@d" compares with the
#     questions' pp<tokens>@d<depth> alone. pp512 from an empty context is
#     printed too. For an attention-bound model (stories260K: head dimension
#     8) a single sequence of N tokens at depth D does more attention work
#     than N tokens spread over many sequences at that depth: the reference
#     is then the harder one.                                 target >= 0.93
#  2. wall time of the MMLU task with prefix reuse over wall time with it
#     switched off (--no-prefix-reuse: every prompt evaluated alone from an
#     empty cache, one after another).                        target <= 0.35
#
# Usage: tests/bench/mmlu_bench.sh [MODEL] [LEVEL] [LIMIT]
#   MODEL default ../shared/models/stories260K-ffn192-f16.gguf, LEVEL F16,
#   LIMIT items per subject (default 50; 0 = all), MMLU from $MMLU
#   (default ../shared/datasets/mmlu), subjects from $SUBJECTS (default four:
#   the reuse ratio depends on items per subject, and the full split has 246
#   on average), threads from $THREADS (default: all), questions per group
#   from $BATCH (default 32, the mmlu task's), $SEQS questions per decode
#   (default: the runtime's on a CPU, 8), $RUN_ARGS more `qeval run` arguments
#   (CPU only: the records are read as a CPU run's).
set -euo pipefail
cd "$(dirname "$0")/../.."
model=${1:-../shared/models/stories260K-ffn192-f16.gguf}
level=${2:-F16}
limit=${3:-50}
subjects=${SUBJECTS:-abstract_algebra,anatomy,astronomy,business_ethics}
mmlu=${MMLU:-../shared/datasets/mmlu}
threads=${THREADS:-$(nproc)}
batch=${BATCH:-32}
out=$(mktemp -d /tmp/qeval-mmlu-bench.XXXXXX)
q=./qeval
[ -x "$q" ] || { echo "build qeval first (make)" >&2; exit 2; }
[ -f "$model" ] || { echo "no model '$model'" >&2; exit 2; }
[ -d "$mmlu" ] || { echo "no MMLU folder '$mmlu' (set MMLU=DIR)" >&2; exit 2; }

common=(--model "$model" --levels "$level" --mmlu "$mmlu" --limit "$limit" -t "$threads" -q --cache "$out/cache"
	--mmlu-batch "$batch")
[ -n "${SEQS:-}" ] && common+=(--seqs "$SEQS")
[ -n "$subjects" ] && [ "$subjects" != all ] && common+=(--subjects "$subjects")
# shellcheck disable=SC2206
[ -n "${RUN_ARGS:-}" ] && common+=($RUN_ARGS)
echo "model $model, level $level, threads $threads, MMLU 5-shot, subjects ${subjects:-all}, limit $limit per subject," \
	"$batch questions per group"
echo "load before: $(uptime)"
$q run "${common[@]}" --out "$out/reuse" >/dev/null
$q run "${common[@]}" --no-prefix-reuse --out "$out/noreuse" >/dev/null

num() { python3 -c "import json,sys; r=json.load(open('$1')); print(eval(sys.argv[1]))" "$2"; }
blk="r['tasks']['mmlu']['levels']['$level']['throughput']"
tok_s=$(num "$out/reuse/results.json" "$blk['prompt_tokens_per_s']")
wall_reuse=$(num "$out/reuse/results.json" "$blk['wall_s']")
wall_noreuse=$(num "$out/noreuse/results.json" "$blk['wall_s']")
items=$(num "$out/reuse/results.json" "r['tasks']['mmlu']['levels']['$level']['n_scored']")
n_batch=$(num "$out/reuse/results.json" "r['levels'][0]['n_batch']")
n_seq=${SEQS:-8} # the runtime's default without GPU layers

# The decodes the run made, from its records: per group (BATCH questions of a
# subject in file order), the questions with the same few-shot prefix (same
# shots) share one decode of their own tokens (split at n_batch tokens or
# n_seq questions); a question whose record counts the header evaluated
# (n_eval = n_prompt) had the header decoded alone first.
read -r h_tok h_n g_tok g_n g_depth <<<"$(python3 - "$out/reuse/levels/00-$level/records-mmlu.jsonl" "$batch" "$n_batch" "$n_seq" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
B, n_batch, n_seq = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
header = {}  # (subject, shots) -> header tokens, from a question that reused it
for r in recs:
    if r['status'] == 'ok' and r['n_eval'] < r['n_prompt']:
        header[(r['subject'], r['n_shots'])] = r['n_prompt'] - r['n_eval']
h_tok = h_n = g_tok = g_n = depth_sum = 0
groups, cur = [], []
for r in recs:
    if cur and (len(cur) == B or cur[0]['subject'] != r['subject']):
        groups.append(cur); cur = []
    cur.append(r)
if cur:
    groups.append(cur)
for g in groups:
    runs = []
    for r in g:
        if r['status'] != 'ok':
            continue
        if runs and runs[-1][0]['n_shots'] == r['n_shots']:
            runs[-1].append(r)
        else:
            runs.append([r])
    for run in runs:
        np_ = header.get((run[0]['subject'], run[0]['n_shots']))
        if np_ is None:  # no question reused this header: count it all as its own tokens
            np_ = 0
        tok = n = 0
        def close():
            global g_tok, g_n, depth_sum
            if n:
                g_tok += tok; g_n += 1; depth_sum += np_
        for r in run:
            if r['n_eval'] >= r['n_prompt'] and np_:
                h_tok += np_; h_n += 1
            own = r['n_prompt'] - np_
            if n and (tok + own > n_batch or n == n_seq):
                close(); tok = n = 0
            tok += own; n += 1
        close()
print(h_tok, h_n, g_tok, g_n, round(depth_sum / g_n) if g_n else 0)
PY
)"
g_chunk=$(python3 -c "print(max(16, round($g_tok / $g_n)))")
h_chunk=$(python3 -c "print(max(16, round($h_tok / $h_n)) if $h_n else 16)")

# llama-bench-style prompt processing of the same model, threads and batch
# sizes: the questions' decodes at their depth, the headers' from an empty
# context, and pp512 (llama-bench's default size) for reference
sp=(--model "$model" --levels "$level" --tasks speed --speed-tg 1 --speed-reps 5 -t "$threads" -q --cache "$out/cache"
	--batch "$n_batch" --ubatch "$(num "$out/reuse/results.json" "r['levels'][0]['n_ubatch']")")
$q run "${sp[@]}" --speed-pp "$g_chunk" --speed-depth "$g_depth" --out "$out/speed" >/dev/null
$q run "${sp[@]}" --speed-pp "$h_chunk" --out "$out/speed0" >/dev/null
$q run "${sp[@]}" --speed-pp 512 --out "$out/speed512" >/dev/null # one size per run: --speed-pp 1,2 keeps the first
tps() { num "$1/results.json" "[t for t in r['tasks']['speed']['levels']['$level']['tests'] if t['name']=='$2'][0]['tps_mean']"; }
pp_g=$(tps "$out/speed" "pp$g_chunk@d$g_depth")
pp_h=$(tps "$out/speed0" "pp$h_chunk")
pp512=$(tps "$out/speed512" "pp512")
echo "load after: $(uptime)"

python3 - "$tok_s" "$pp_g" "$pp_h" "$pp512" "$g_chunk" "$g_depth" "$h_chunk" "$g_tok" "$g_n" "$h_tok" "$h_n" \
	"$wall_reuse" "$wall_noreuse" "$items" <<'PY'
import sys
a = sys.argv[1:]
tok_s, pp_g, pp_h, pp512 = map(float, a[0:4])
g_chunk, g_depth, h_chunk, g_tok, g_n, h_tok, h_n = map(int, a[4:11])
wr, wn, items = float(a[11]), float(a[12]), int(float(a[13]))
ref = (g_tok + h_tok) / (g_tok / pp_g + (h_tok / pp_h if h_tok else 0.0))
print(f"items scored                          {items}")
print(f"decodes: {g_n} of questions ({g_tok} tokens, mean {g_chunk} at depth {g_depth}), "
      f"{h_n} of headers ({h_tok} tokens, mean {h_chunk} at depth 0)")
print(f"qeval prompt tokens/s (MMLU)          {tok_s:10.1f}")
print(f"llama-bench-style pp{g_chunk}@d{g_depth}          {pp_g:10.1f}   pp{h_chunk}@d0 {pp_h:.1f}   (pp512: {pp512:.1f})")
print(f"reference for the run's decodes       {ref:10.1f}")
print(f"ratio qeval / reference               {tok_s / ref:10.3f}   target >= 0.93")
print(f"ratio qeval / pp{g_chunk}@d{g_depth}            {tok_s / pp_g:10.3f}")
print(f"wall with reuse / without             {wr:.2f} s / {wn:.2f} s = {wr / wn:.3f}   target <= 0.35")
PY
rm -rf "$out"
