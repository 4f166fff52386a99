#!/usr/bin/env bash
# The GPU figures of docs/benchmarks.md: llama.cpp built with CUDA from the
# pinned source, then bench/speed_vs_llama_bench.sh with every layer on the GPU.
#
#   bench/speed_cuda.sh [--src DIR|FILE.tar.gz] [--arch N] [--prefix DIR]
#                       [-- options for speed_vs_llama_bench.sh]
#
#   --src     the llama.cpp source: a folder, or a tarball of one (default
#             .deps/llama-src, which `make deps LLAMA_FROM_SOURCE=1` checks out)
#   --arch    CMAKE_CUDA_ARCHITECTURES (default 90: H100 / H200)
#   --prefix  where to install (default .deps/llama-cuda); reused when it
#             already holds bin/llama-bench
#
# The cmake options are harness/deps.sh's (`make deps LLAMA_FROM_SOURCE=1
# LLAMA_CUDA=1 CUDA_ARCH=N` does the same on a machine with apt and the
# network); this script needs neither, for a machine that has only nvcc,
# cmake and a C compiler. The default model is 1.1 B parameters (TinyLlama's
# shapes, random weights): a GPU needs more work than the CPU default to
# show anything but launch overhead.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
src=$top/.deps/llama-src
arch=90
prefix=$top/.deps/llama-cuda
while [ $# -gt 0 ]; do
	case $1 in
	--src) src=$2; shift 2 ;;
	--arch) arch=$2; shift 2 ;;
	--prefix) prefix=$2; shift 2 ;;
	--) shift; break ;;
	-h|--help) sed -n '2,19p' "$0"; exit 0 ;;
	*) echo "speed_cuda: unknown option '$1'" >&2; exit 2 ;;
	esac
done
say() { printf 'speed_cuda: %s\n' "$*" >&2; }

if [ ! -x "$prefix/bin/llama-bench" ]; then
	command -v nvcc >/dev/null || { echo "speed_cuda: nvcc is not on PATH" >&2; exit 3; }
	if [ -f "$src" ]; then
		mkdir -p "$prefix.src"
		tar -xzf "$src" -C "$prefix.src"
		src=$prefix.src
	fi
	b=$src/build-cuda
	gen=()
	command -v ninja >/dev/null && gen=(-G Ninja)
	say "building llama.cpp with CUDA (sm_$arch) from $src"
	t0=$(date +%s)
	cmake -S "$src" -B "$b" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=ON -DLLAMA_BUILD_TESTS=OFF \
		-DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_SERVER=OFF -DLLAMA_CURL=OFF \
		-DLLAMA_OPENSSL=OFF -DGGML_NATIVE=ON -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="$arch" \
		-DCMAKE_INSTALL_PREFIX="$prefix" -DCMAKE_INSTALL_LIBDIR=lib >/dev/null
	cmake --build "$b" -j"$(nproc)" --target llama llama-bench >/dev/null
	mkdir -p "$prefix/bin" "$prefix/lib" "$prefix/include"
	cp -f "$b/bin/llama-bench" "$prefix/bin/"
	find "$b/bin" -name '*.so*' -exec cp -af {} "$prefix/lib/" \;
	cp -f "$src"/include/llama.h "$src"/include/llama-cpp.h "$src"/ggml/include/*.h "$prefix/include/"
	say "built in $(( $(date +%s) - t0 )) s"
fi

exec bench/speed_vs_llama_bench.sh --prefix "$prefix" --build build/cuda --work build/speed-bench-cuda \
	--ngl 99 --kind "tag v0.5.0, source-cuda" \
	--model-args "--embd 2048 --layers 22 --ff 5632 --heads 32 --kv-heads 4" "$@"
