#!/usr/bin/env bash
# qeval's speed task against llama-bench, same model, same levels, same
# threads, the same llama.cpp libraries, in the same run (docs/benchmarks.md).
#
#   tests/bench/speed_vs_llama_bench.sh [options]
#
#   --prefix DIR     a llama.cpp install with bin/llama-bench, lib/ and include/
#                    (default .deps/llama-native, built with
#                    `make deps LLAMA_FROM_SOURCE=1` when missing)
#   --build DIR      qeval's build folder for that llama.cpp (default build/native)
#   --work DIR       model, quantization cache and results (default build/speed-bench)
#   --threads N      default: nproc
#   --ngl N          layers on the GPU, 99 = all (default 0)
#   --levels LIST    default F16,Q8_0,Q4_K_M
#   --pp N --tg N    prompt and generation sizes (default 512 and 128)
#   --reps N         repetitions (default 5)
#   --rounds N       measure each level N times, alternating which tool goes
#                    first (default 2: llama-bench then qeval, qeval then llama-bench)
#   --model-args S   arguments for tests/bench/gen_speed_model.c (default: its 155 M shape)
#   --make-args S    extra variables for make (a machine without the -dev packages)
#   --kind S         LLAMA_KIND for the build's version string (default "tag v0.5.0, source")
#
# For each level, llama-bench (-p P -n G -r R -t T -ngl N -o json, its other
# settings at their defaults) and `qeval bench` (the same sizes, threads, GPU
# layers; batch 2048 and ubatch 512 like llama-bench's defaults) run back to
# back, in turns, so that a drift of the machine does not favour one tool. The
# table gives each tool's mean ± sd over all its repetitions of all rounds and
# the ratio qeval / llama-bench of those means; the ratio of every round too.
# Needs bash, make, a C compiler and python3 (to read the two JSON outputs).
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD

prefix=$top/.deps/llama-native
build=build/native
work=build/speed-bench
threads=$(nproc)
ngl=0
levels=F16,Q8_0,Q4_K_M
pp=512
tg=128
reps=5
rounds=2
model_args=""
make_args=""
kind="tag v0.5.0, source"

while [ $# -gt 0 ]; do
	case $1 in
	--prefix) prefix=$(cd "$2" && pwd); shift 2 ;;
	--build) build=$2; shift 2 ;;
	--work) work=$2; shift 2 ;;
	--threads) threads=$2; shift 2 ;;
	--ngl) ngl=$2; shift 2 ;;
	--levels) levels=$2; shift 2 ;;
	--pp) pp=$2; shift 2 ;;
	--tg) tg=$2; shift 2 ;;
	--reps) reps=$2; shift 2 ;;
	--rounds) rounds=$2; shift 2 ;;
	--model-args) model_args=$2; shift 2 ;;
	--make-args) make_args=$2; shift 2 ;;
	--kind) kind=$2; shift 2 ;;
	-h|--help) sed -n '2,25p' "$0"; exit 0 ;;
	*) echo "speed_vs_llama_bench: unknown option '$1' (see --help)" >&2; exit 2 ;;
	esac
done

say() { printf 'speed_vs_llama_bench: %s\n' "$*" >&2; }
die() { printf 'speed_vs_llama_bench: error: %s\n' "$*" >&2; exit 3; }

# ---- 1. llama.cpp from the pinned source, with llama-bench ----------------
if [ ! -x "$prefix/bin/llama-bench" ]; then
	[ "$prefix" = "$top/.deps/llama-native" ] || die "no $prefix/bin/llama-bench"
	say "building llama.cpp from the pinned bundle (make deps LLAMA_FROM_SOURCE=1; minutes)"
	# deps.sh points .deps/config.mk at the build it made; keep the default
	# build linking against what it linked against before
	saved=""
	[ -f .deps/config.mk ] && saved=$(cat .deps/config.mk)
	make deps LLAMA_FROM_SOURCE=1
	[ -n "$saved" ] && printf '%s\n' "$saved" > .deps/config.mk
fi
lb=$prefix/bin/llama-bench
[ -x "$lb" ] || die "no $lb"

# ---- 2. qeval against the same libraries ----------------------------------
say "building qeval against $prefix into $build"
# shellcheck disable=SC2086
make -j"$(nproc)" BUILD="$build" QEVAL="$build/qeval" LLAMA_PREFIX="$prefix" LLAMA_KIND="$kind" $make_args \
	"$build/qeval" "$build/bench/gen_speed_model" >/dev/null
qeval=$build/qeval

# ---- 3. the model and its levels ------------------------------------------
mkdir -p "$work"
model=$work/speed-f16.gguf
if [ ! -s "$model" ]; then
	# shellcheck disable=SC2086
	"$build/bench/gen_speed_model" "$model" $model_args
fi
say "quantizing $levels"
"$qeval" quantize --model "$model" --levels "$levels" --cache "$work/cache" --threads "$threads" | tee "$work/quantize.txt"
declare -A path
while read -r name how p; do
	case $how in made|cached) path[$name]=$p ;; esac
done < <(grep -E '^[^ ]+ +(made|cached) ' "$work/quantize.txt" | awk '{print $1, $2, $3}')

# ---- 4. llama-bench and qeval bench, level by level ----------------------
stamp=$(date -u +%Y%m%dT%H%M%SZ)
res=$work/run-$stamp
mkdir -p "$res"
IFS=, read -r -a lvls <<< "$levels"
run_lb() { # level round
	say "$1, round $2: llama-bench"
	"$lb" -m "${path[$1]}" -p "$pp" -n "$tg" -r "$reps" -t "$threads" -ngl "$ngl" -o json \
		> "$res/llama-bench-$1-r$2.json" 2> "$res/llama-bench-$1-r$2.log" ||
		die "llama-bench failed on $1 (see $res/llama-bench-$1-r$2.log)"
}
run_qe() { # level round
	say "$1, round $2: qeval bench"
	"$qeval" bench --model "$model" --levels "$1=${path[$1]}" --pp "$pp" --tg "$tg" --reps "$reps" \
		--threads "$threads" --ngl "$ngl" --batch 2048 --ubatch 512 --no-pp-tg --cache "$work/cache" \
		--out "$res/qeval-$1-r$2" -q > "$res/qeval-$1-r$2.txt" 2>&1 ||
		die "qeval bench failed on $1 (see $res/qeval-$1-r$2.txt)"
}
for L in "${lvls[@]}"; do
	[ -n "${path[$L]:-}" ] || die "level $L was not made (see $work/quantize.txt)"
	for r in $(seq 1 "$rounds"); do
		if [ $((r % 2)) = 1 ]; then run_lb "$L" "$r"; run_qe "$L" "$r"; else run_qe "$L" "$r"; run_lb "$L" "$r"; fi
	done
done

# ---- 5. the comparison ------------------------------------------------------
python3 - "$res" "$levels" "$threads" "$ngl" "$reps" "$rounds" <<'PY' | tee "$res/compare.md"
import json, os, statistics as st, sys
res, levels, threads, ngl, reps, rounds = sys.argv[1:]
rounds = int(rounds)
rows, info = [], {}
def msd(v):
    return (st.mean(v), st.stdev(v) if len(v) > 1 else float("nan"))
for L in levels.split(","):
    tests = {}
    for r in range(1, rounds + 1):
        lb = json.load(open(os.path.join(res, f"llama-bench-{L}-r{r}.json")))
        q = json.load(open(os.path.join(res, f"qeval-{L}-r{r}", "results.json")))
        qt = {t["name"]: t for t in q["tasks"]["speed"]["levels"][L]["tests"]}
        info = {"cpu": q["machine"]["cpu"], "gpu": lb[0].get("gpu_info", ""), "engine": q["engine"]["version"],
                "backends": lb[0].get("backends", ""), "fa": lb[0].get("flash_attn"), "b": lb[0].get("n_batch"),
                "ub": lb[0].get("n_ubatch"), "build": lb[0].get("build_commit", "")}
        for t in lb:
            name = f"pp{t['n_prompt']}" if t["n_gen"] == 0 else f"tg{t['n_gen']}"
            e = tests.setdefault(name, {"size": t.get("model_size", 0), "lb": [], "q": [], "ratios": []})
            e["lb"] += t["samples_ts"]
            qs = qt.get(name, {}).get("tps_samples", [])
            e["q"] += qs
            e["ratios"].append(st.mean(qs) / t["avg_ts"] if qs else float("nan"))
    for name, e in tests.items():
        rows.append((L, e["size"], name, msd(e["q"]) if e["q"] else None, msd(e["lb"]), e["ratios"]))
print(f"machine: {info['cpu']}{', GPU ' + info['gpu'] if info['gpu'] else ''}; threads {threads}, ngl {ngl}; "
      f"{rounds} round(s) x {reps} repetitions per tool; engine {info['engine']}; llama-bench build "
      f"{info['build']} ({info['backends']}, batch {info['b']}, ubatch {info['ub']}, flash_attn {info['fa']})")
print()
print("| level | size | test | qeval t/s | llama-bench t/s | ratio | ratio per round |")
print("| --- | ---: | --- | ---: | ---: | ---: | --- |")
bad = 0
for L, size, name, q, lb, ratios in rows:
    ratio = q[0] / lb[0] if q else float("nan")
    ok = 0.95 <= ratio <= 1.05
    bad += not ok
    qtxt = f"{q[0]:.2f} ± {q[1]:.2f}" if q else "failed"
    print(f"| {L} | {size / 1048576:.1f} MiB | {name} | {qtxt} | {lb[0]:.2f} ± {lb[1]:.2f} | "
          f"{ratio:.3f}{'' if ok else ' (outside 0.95-1.05)'} | {', '.join(f'{x:.3f}' for x in ratios)} |")
sys.exit(1 if bad else 0)
PY
