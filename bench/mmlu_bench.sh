#!/usr/bin/env bash
# Benchmark for issue 3: MMLU 5-shot evaluation speed of one model and level.
#
#  1. qeval's prompt tokens processed per second while evaluating MMLU
#     (results.json: throughput.prompt_tokens_per_s = evaluated prompt tokens /
#     scoring wall time), over the llama-bench-style prompt-processing rate
#     of the same model and threads at the run's mean evaluated prompt chunk
#     (qeval's speed task: random tokens, one timed decode per chunk), measured
#     in the same run.                                        target >= 0.9
#  2. wall time of the MMLU task with prefix reuse over wall time with it
#     switched off (--no-prefix-reuse).                        target <= 0.35
#
# Usage: bench/mmlu_bench.sh [MODEL] [LEVEL] [LIMIT]
#   MODEL default ../shared/models/stories260K-ffn192-f16.gguf, LEVEL F16,
#   LIMIT items per subject (default 10; 0 = all 14,042), MMLU from $MMLU
#   (default ../shared/datasets/mmlu), threads from $THREADS (default: all).
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:-../shared/models/stories260K-ffn192-f16.gguf}
level=${2:-F16}
limit=${3:-10}
mmlu=${MMLU:-../shared/datasets/mmlu}
threads=${THREADS:-$(nproc)}
out=$(mktemp -d /tmp/qeval-mmlu-bench.XXXXXX)
q=./qeval
[ -x "$q" ] || { echo "build qeval first (make)" >&2; exit 2; }
[ -f "$model" ] || { echo "no model '$model'" >&2; exit 2; }
[ -d "$mmlu" ] || { echo "no MMLU folder '$mmlu' (set MMLU=DIR)" >&2; exit 2; }

common=(--model "$model" --levels "$level" --mmlu "$mmlu" --limit "$limit" -t "$threads" -q --cache "$out/cache")
echo "model $model, level $level, threads $threads, MMLU 5-shot, limit $limit per subject"
$q run "${common[@]}" --out "$out/reuse" >/dev/null
$q run "${common[@]}" --no-prefix-reuse --out "$out/noreuse" >/dev/null

num() { python3 -c "import json,sys; r=json.load(open('$1')); print(eval(sys.argv[1]))" "$2"; }
blk="r['tasks']['mmlu']['levels']['$level']['throughput']"
tok_s=$(num "$out/reuse/results.json" "$blk['prompt_tokens_per_s']")
wall_reuse=$(num "$out/reuse/results.json" "$blk['wall_s']")
wall_noreuse=$(num "$out/noreuse/results.json" "$blk['wall_s']")
evald=$(num "$out/reuse/results.json" "$blk['prompt_tokens_evaluated']")
items=$(num "$out/reuse/results.json" "r['tasks']['mmlu']['levels']['$level']['n_scored']")
chunk=$(python3 -c "print(max(16, round($evald / $items)))")

# llama-bench-style prompt processing of the same model at the same threads,
# for a prompt of the mean evaluated chunk (and of 512, llama-bench's default)
$q run --model "$model" --levels "$level" --tasks speed --speed-pp "$chunk,512" --speed-tg 1 --speed-reps 5 \
	-t "$threads" -q --cache "$out/cache" --out "$out/speed" >/dev/null
pp=$(num "$out/speed/results.json" "[t for t in r['tasks']['speed']['levels']['$level']['tests'] if t['name']=='pp$chunk'][0]['tps_mean']")
pp512=$(num "$out/speed/results.json" "[t for t in r['tasks']['speed']['levels']['$level']['tests'] if t['name']=='pp512'][0]['tps_mean']")

python3 - "$tok_s" "$pp" "$pp512" "$chunk" "$wall_reuse" "$wall_noreuse" "$items" <<'PY'
import sys
tok_s, pp, pp512, chunk, wr, wn, items = map(float, sys.argv[1:])
print(f"items scored                         {items:.0f}")
print(f"qeval prompt tokens/s (MMLU)         {tok_s:10.1f}")
print(f"llama-bench-style pp{chunk:.0f} tokens/s     {pp:10.1f}   (pp512: {pp512:.1f})")
print(f"ratio qeval / pp{chunk:.0f}                  {tok_s/pp:10.3f}   target >= 0.9")
print(f"wall with reuse / without            {wr:.2f} s / {wn:.2f} s = {wr/wn:.3f}   target <= 0.35")
PY
rm -rf "$out"
