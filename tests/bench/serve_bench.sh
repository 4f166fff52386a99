#!/usr/bin/env bash
# qeval's serving figures (the serve task) against a llama-server it starts:
# TTFT, TPOT, ITL, end-to-end latency (mean/median/p90/p99) and output tokens/s
# at concurrency 1, 4 and 16 (docs/tasks.md "serve", docs/benchmarks.md).
#
# Settings, from the environment (for a GPU machine: LLAMA_SERVER of a CUDA
# build, NGL=99):
#   LLAMA_SERVER  llama-server binary      (default .deps/llama-tools/bin/llama-server)
#   MODEL         the GGUF to serve        (default ../shared/models/mc-memorizer-6L-256-f16.gguf)
#   NGL           layers on the GPU        (default 0)
#   PORT          port on 127.0.0.1        (default 18480)
#   THREADS       server threads           (default 2)
#   SLOTS         server slots (-np)       (default 16, so 16 requests can run at once)
#   CTX           total context (-c)       (default SLOTS x 1024)
#   CONC          concurrencies            (default 1,4,16)
#   REQUESTS      requests per concurrency (default 0 = 4 x the concurrency, at least 8)
#   PROMPT GEN    tokens per request       (default 128 and 64)
#   OUT           run directory            (default build/serve-bench; replaced)
#   QEVAL         qeval binary             (default ./qeval)
# The server is stopped on exit, also on failure or Ctrl-C. Prints the load
# average before and after, and qeval's table.
set -euo pipefail
cd "$(dirname "$0")/../.."

server=${LLAMA_SERVER:-.deps/llama-tools/bin/llama-server}
model=${MODEL:-../shared/models/mc-memorizer-6L-256-f16.gguf}
ngl=${NGL:-0}
port=${PORT:-18480}
threads=${THREADS:-2}
slots=${SLOTS:-16}
ctx=${CTX:-$((slots * 1024))}
conc=${CONC:-1,4,16}
requests=${REQUESTS:-0}
prompt=${PROMPT:-128}
gen=${GEN:-64}
out=${OUT:-build/serve-bench}
qeval=${QEVAL:-./qeval}

die() { echo "serve_bench: $*" >&2; exit 2; }
[ -x "$server" ] || die "no llama-server at $server (make llama-tools, or set LLAMA_SERVER)"
[ -r "$model" ] || die "no model at $model (set MODEL)"
[ -x "$qeval" ] || die "no qeval at $qeval (make)"
command -v curl >/dev/null || die "curl is needed"

log=$(mktemp /tmp/serve-bench-server.XXXXXX)
"$server" -m "$model" --host 127.0.0.1 --port "$port" --no-webui -t "$threads" -tb "$threads" -ngl "$ngl" \
	-np "$slots" -c "$ctx" -a served >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f "$log"' EXIT INT TERM
for _ in $(seq 1 600); do
	curl -sf -o /dev/null "http://127.0.0.1:$port/health" && break
	kill -0 $pid 2>/dev/null || { tail -20 "$log" >&2; die "llama-server exited"; }
	sleep 0.2
done
curl -sf -o /dev/null "http://127.0.0.1:$port/health" || die "llama-server not healthy after 120 s"

rm -rf "$out"
mkdir -p "$(dirname "$out")"
plan=$(mktemp /tmp/serve-bench-plan.XXXXXX)
cat >"$plan" <<JSON
{ "model": "$model", "out": "$out",
  "levels": [ { "name": "served", "runtime": "openai", "url": "http://127.0.0.1:$port/v1", "model": "served",
                "label": "$(basename "$model") via llama-server, ngl $ngl" } ],
  "tasks": [ { "task": "serve", "concurrency": [$conc], "requests": $requests, "prompt": $prompt, "gen": $gen } ] }
JSON
echo "serve_bench: $(basename "$model"), ngl $ngl, $threads threads, $slots slots; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
"$qeval" run --plan "$plan"
rm -f "$plan"
echo "serve_bench: load after: $(cut -d' ' -f1-3 /proc/loadavg); report: $out/report.md"
