#!/usr/bin/env bash
# make llama-tools: builds llama.cpp's own tools from the pinned source (the
# bundle `make deps` fetched) into .deps/llama-tools/bin, for the tests and
# benchmarks that compare qeval with them or drive them:
#   llama-server      (the openai runtime's tests serve GGUF levels with it)
#   llama-perplexity  (the kld task's second implementation)
#   llama-imatrix, llama-quantize
# CPU only, static libraries (nothing here is loaded by qeval itself), idempotent.
# Arguments: the tools to build (default all four); `make llama-server` builds
# that one alone (what the tests need).
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
deps=$top/.deps
LLAMA_TAG=v0.5.0
say() { printf 'tools: %s\n' "$*"; }
die() { printf 'tools: error: %s\n' "$*" >&2; exit 3; }

dest=$deps/llama-tools
targets=(llama-server llama-perplexity llama-imatrix llama-quantize)
[ $# -gt 0 ] && targets=("$@")
ok=1
for t in "${targets[@]}"; do [ -x "$dest/bin/$t" ] || ok=0; done
[ $ok = 1 ] && { say "${targets[*]} present in $dest/bin"; exit 0; }
bundle=$deps/npm/gitRelease.bundle
[ -s "$bundle" ] || die "$bundle missing: run 'make deps' first"
command -v cmake >/dev/null || die "cmake is needed (apt-get install cmake g++)"
command -v g++ >/dev/null || die "g++ is needed (apt-get install cmake g++)"
src=$deps/llama-src
[ -d "$src/.git" ] || git -c advice.detachedHead=false clone -q "$bundle" "$src" || die "cannot read $bundle"
bld=$src/build-tools
opts=(-DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF -DLLAMA_BUILD_TESTS=OFF
      -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_SERVER=ON
      -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DGGML_NATIVE=ON -DGGML_OPENMP=ON)
say "building ${targets[*]} ($LLAMA_TAG, CPU) into $dest (several minutes on 2 cores)"
cmake -S "$src" -B "$bld" "${opts[@]}" >/dev/null || die "cmake configure failed"
cmake --build "$bld" -j"$(nproc)" --target "${targets[@]}" >"$bld.log" 2>&1 || { tail -20 "$bld.log" >&2; die "cmake build failed (log: $bld.log)"; }
mkdir -p "$dest/bin"
for t in "${targets[@]}"; do cp -f "$bld/bin/$t" "$dest/bin/"; done
echo "$LLAMA_TAG tools cpu" > "$dest/.stamp"
say "ready: $dest/bin"
