#!/usr/bin/env bash
# Benchmark for issue 3: MMLU 5-shot evaluation speed of one model and level.
#
#  1. qeval's prompt tokens processed per second while evaluating MMLU
#     (results.json: throughput.prompt_tokens_per_s = evaluated prompt tokens /
#     scoring wall time), over the llama-bench-style prompt-processing rate
#     of the same model and threads for the run's mean evaluated chunk at the
#     run's mean reused depth, "pp<chunk> @ d<depth>" (qeval's speed task:
#     random tokens, the depth decoded untimed first, like llama-bench -p N -d D),
#     measured in the same run. pp512 from an empty context is printed too:
#     for an attention-bound model (stories260K: head dimension 8) it is much
#     faster than the same tokens evaluated behind a 700-token few-shot header.
#                                                               target >= 0.9
#  2. wall time of the MMLU task with prefix reuse over wall time with it
#     switched off (--no-prefix-reuse).                        target <= 0.35
#
# Usage: tests/bench/mmlu_bench.sh [MODEL] [LEVEL] [LIMIT]
#   MODEL default ../shared/models/stories260K-ffn192-f16.gguf, LEVEL F16,
#   LIMIT items per subject (default 50; 0 = all), MMLU from $MMLU
#   (default ../shared/datasets/mmlu), subjects from $SUBJECTS (default four:
#   the reuse ratio depends on items per subject, and the full split has 246
#   on average), threads from $THREADS (default: all).
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:-../shared/models/stories260K-ffn192-f16.gguf}
level=${2:-F16}
limit=${3:-50}
subjects=${SUBJECTS:-abstract_algebra,anatomy,astronomy,business_ethics}
mmlu=${MMLU:-../shared/datasets/mmlu}
threads=${THREADS:-$(nproc)}
out=$(mktemp -d /tmp/qeval-mmlu-bench.XXXXXX)
q=./qeval
[ -x "$q" ] || { echo "build qeval first (make)" >&2; exit 2; }
[ -f "$model" ] || { echo "no model '$model'" >&2; exit 2; }
[ -d "$mmlu" ] || { echo "no MMLU folder '$mmlu' (set MMLU=DIR)" >&2; exit 2; }

common=(--model "$model" --levels "$level" --mmlu "$mmlu" --limit "$limit" -t "$threads" -q --cache "$out/cache")
[ -n "$subjects" ] && [ "$subjects" != all ] && common+=(--subjects "$subjects")
echo "model $model, level $level, threads $threads, MMLU 5-shot, subjects ${subjects:-all}, limit $limit per subject"
$q run "${common[@]}" --out "$out/reuse" >/dev/null
$q run "${common[@]}" --no-prefix-reuse --out "$out/noreuse" >/dev/null

num() { python3 -c "import json,sys; r=json.load(open('$1')); print(eval(sys.argv[1]))" "$2"; }
blk="r['tasks']['mmlu']['levels']['$level']['throughput']"
tok_s=$(num "$out/reuse/results.json" "$blk['prompt_tokens_per_s']")
wall_reuse=$(num "$out/reuse/results.json" "$blk['wall_s']")
wall_noreuse=$(num "$out/noreuse/results.json" "$blk['wall_s']")
evald=$(num "$out/reuse/results.json" "$blk['prompt_tokens_evaluated']")
items=$(num "$out/reuse/results.json" "r['tasks']['mmlu']['levels']['$level']['n_scored']")
prompt=$(num "$out/reuse/results.json" "$blk['prompt_tokens']")
chunk=$(python3 -c "print(max(16, round($evald / $items)))")
depth=$(python3 -c "print(max(0, round(($prompt - $evald) / $items)))")

# llama-bench-style prompt processing of the same model at the same threads,
# for a prompt of the mean evaluated chunk (and of 512, llama-bench's default)
$q run --model "$model" --levels "$level" --tasks speed --speed-pp "$chunk" --speed-tg 1 --speed-depth "$depth" \
	--speed-reps 5 -t "$threads" -q --cache "$out/cache" --out "$out/speed" >/dev/null
$q run --model "$model" --levels "$level" --tasks speed --speed-pp 512 --speed-tg 1 --speed-reps 5 \
	-t "$threads" -q --cache "$out/cache" --out "$out/speed0" >/dev/null
pp=$(num "$out/speed/results.json" "[t for t in r['tasks']['speed']['levels']['$level']['tests'] if t['name']=='pp$chunk@d$depth'][0]['tps_mean']")
pp512=$(num "$out/speed0/results.json" "[t for t in r['tasks']['speed']['levels']['$level']['tests'] if t['name']=='pp512'][0]['tps_mean']")

python3 - "$tok_s" "$pp" "$pp512" "$chunk" "$wall_reuse" "$wall_noreuse" "$items" "$depth" <<'PY'
import sys
tok_s, pp, pp512, chunk, wr, wn, items, depth = map(float, sys.argv[1:])
print(f"items scored                         {items:.0f}")
print(f"qeval prompt tokens/s (MMLU)         {tok_s:10.1f}")
print(f"llama-bench-style pp{chunk:.0f}@d{depth:.0f} tokens/s {pp:10.1f}   (pp512 from empty: {pp512:.1f})")
print(f"ratio qeval / pp{chunk:.0f}@d{depth:.0f}              {tok_s/pp:10.3f}   target >= 0.9")
print(f"wall with reuse / without            {wr:.2f} s / {wn:.2f} s = {wr/wn:.3f}   target <= 0.35")
PY
rm -rf "$out"
