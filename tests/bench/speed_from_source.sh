#!/usr/bin/env bash
# tests/bench/speed_vs_llama_bench.sh on a machine without apt or network access (a
# bare GPU machine): llama.cpp and llama-bench built with cmake from the
# pinned source, optionally with CUDA, then the comparison against it.
#
#   tests/bench/speed_from_source.sh [--cuda ARCH] [--src DIR|FILE.tar.gz] [--prefix DIR]
#                              [-- options for speed_vs_llama_bench.sh]
#
#   --cuda    build the CUDA backend for CMAKE_CUDA_ARCHITECTURES=ARCH (90: H100,
#             H200) and put every layer on the GPU (--ngl 99); the model is then
#             1.1 B parameters (TinyLlama's shapes, random weights), since a GPU
#             needs more work than the CPU default to show more than launch overhead
#   --src     the llama.cpp source: a folder, or a tarball of one (default
#             .deps/llama-src, which `make deps LLAMA_FROM_SOURCE=1` checks out)
#   --prefix  where to install (default .deps/llama-src-cpu or .deps/llama-src-cuda);
#             reused when it already holds bin/llama-bench
#
# The cmake options are harness/deps.sh's (`make deps LLAMA_FROM_SOURCE=1
# [LLAMA_CUDA=1 CUDA_ARCH=N]` does the same where apt and the network work);
# this needs only cmake, a C/C++ compiler (and nvcc for --cuda).
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
src=$top/.deps/llama-src
arch=""
prefix=""
while [ $# -gt 0 ]; do
	case $1 in
	--src) src=$2; shift 2 ;;
	--cuda) arch=$2; shift 2 ;;
	--prefix) prefix=$2; shift 2 ;;
	--) shift; break ;;
	-h|--help) sed -n '2,21p' "$0"; exit 0 ;;
	*) echo "speed_from_source: unknown option '$1'" >&2; exit 2 ;;
	esac
done
say() { printf 'speed_from_source: %s\n' "$*" >&2; }
flavor=cpu
[ -n "$arch" ] && flavor=cuda
[ -n "$prefix" ] || prefix=$top/.deps/llama-src-$flavor
cuda=(-DGGML_CUDA=OFF)
[ -n "$arch" ] && cuda=(-DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="$arch")

if [ ! -x "$prefix/bin/llama-bench" ]; then
	[ -z "$arch" ] || command -v nvcc >/dev/null || { echo "speed_from_source: nvcc is not on PATH" >&2; exit 3; }
	if [ -f "$src" ]; then
		mkdir -p "$prefix.src"
		tar -xzf "$src" -C "$prefix.src"
		src=$prefix.src
	fi
	b=$src/build-$flavor
	gen=()
	command -v ninja >/dev/null && gen=(-G Ninja)
	say "building llama.cpp${arch:+ with CUDA (sm_$arch)} from $src"
	t0=$(date +%s)
	cmake -S "$src" -B "$b" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=ON -DLLAMA_BUILD_TESTS=OFF \
		-DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_SERVER=OFF -DLLAMA_CURL=OFF \
		-DLLAMA_OPENSSL=OFF -DGGML_NATIVE=ON "${cuda[@]}" \
		-DCMAKE_INSTALL_PREFIX="$prefix" -DCMAKE_INSTALL_LIBDIR=lib >/dev/null
	cmake --build "$b" -j"$(nproc)" --target llama llama-bench >/dev/null
	mkdir -p "$prefix/bin" "$prefix/lib" "$prefix/include"
	cp -f "$b/bin/llama-bench" "$prefix/bin/"
	find "$b/bin" -name '*.so*' -exec cp -af {} "$prefix/lib/" \;
	cp -f "$src"/include/llama.h "$src"/include/llama-cpp.h "$src"/ggml/include/*.h "$prefix/include/"
	say "built in $(( $(date +%s) - t0 )) s"
fi

if [ -n "$arch" ]; then
	exec tests/bench/speed_vs_llama_bench.sh --prefix "$prefix" --build build/cuda --work build/speed-bench-cuda \
		--ngl 99 --kind "tag v0.5.0, source-cuda" \
		--model-args "--embd 2048 --layers 22 --ff 5632 --heads 32 --kv-heads 4" "$@"
fi
exec tests/bench/speed_vs_llama_bench.sh --prefix "$prefix" --build build/native-src --kind "tag v0.5.0, source" "$@"
