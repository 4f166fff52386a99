#!/usr/bin/env bash
# make deps: installs what qeval builds and runs with, idempotently.
#  1. Debian packages (apt-get; sudo when not root), Open MPI among them (make MPI=1;
#     QE_NO_MPI=1 leaves it out).
#  2. llama.cpp pinned at v0.5.0 from the npm registry:
#       node-llama-cpp@3.22.1            -> llama/gitRelease.bundle (the source; headers from it)
#       @node-llama-cpp/linux-x64@3.22.1 -> prebuilt libllama / libggml / CPU backend variants
#     into .deps/llama/{include,lib} (ignored by git).
#  3. llama-server built from the same source into .deps/llama-tools (the tests serve
#     GGUF levels with it; QE_NO_SERVER=1 skips it; `make llama-tools` adds
#     llama-perplexity, llama-imatrix, llama-quantize for the benchmarks).
#  LLAMA_FROM_SOURCE=1 builds libllama and llama-bench from the bundle with cmake instead,
#  into .deps/llama-native; LLAMA_CUDA=1 adds the CUDA backend (needs nvcc).
#  .deps/config.mk records which one `make` links against.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
deps=$top/.deps
NLC_VERSION=3.22.1
LLAMA_TAG=v0.5.0
mkdir -p "$deps"

say() { printf 'deps: %s\n' "$*"; }
die() { printf 'deps: error: %s\n' "$*" >&2; exit 3; }

# ---- 1. Debian packages ---------------------------------------------------
pkgs=(gcc make pkg-config git ca-certificates libcjson-dev libcsv-dev libcurl4-openssl-dev
      zlib1g-dev gnuplot-nox cmake g++)
command -v npm >/dev/null 2>&1 || pkgs+=(npm)
[ "${QE_NO_MPI:-0}" = 1 ] || pkgs+=(openmpi-bin libopenmpi-dev)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	say "installing Debian packages: ${missing[*]}"
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update -qq || die "apt-get update failed"
	$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || die "apt-get install ${missing[*]} failed"
else
	say "Debian packages present"
fi

# ---- 2. the two npm packages ----------------------------------------------
npmdir=$deps/npm
mkdir -p "$npmdir"
fetch() { # name tarball
	if [ ! -s "$npmdir/$2" ]; then
		say "fetching $1 from the npm registry"
		(cd "$npmdir" && npm pack --silent "$1" >/dev/null) || die "npm pack $1 failed"
	fi
	[ -s "$npmdir/$2" ] || die "npm pack $1 did not produce $2"
}
fetch "node-llama-cpp@$NLC_VERSION" "node-llama-cpp-$NLC_VERSION.tgz"

bundle=$npmdir/gitRelease.bundle
if [ ! -s "$bundle" ]; then
	tar -xzf "$npmdir/node-llama-cpp-$NLC_VERSION.tgz" -C "$npmdir" package/llama/gitRelease.bundle package/llama/llama.cpp.info.json
	mv "$npmdir/package/llama/gitRelease.bundle" "$bundle"
	grep -q "\"$LLAMA_TAG\"" "$npmdir/package/llama/llama.cpp.info.json" || die "node-llama-cpp@$NLC_VERSION does not carry llama.cpp $LLAMA_TAG"
	rm -rf "$npmdir/package"
fi
srcgit=$deps/llama-src.git
if [ ! -d "$srcgit" ]; then
	git clone -q --bare "$bundle" "$srcgit" || die "cannot read $bundle"
fi

install_headers() { # dest: llama.h and the ggml headers of the pinned source
	mkdir -p "$1/include" "$1/tmp-hdr"
	git --git-dir="$srcgit" archive HEAD include/llama.h include/llama-cpp.h ggml/include | tar -x -C "$1/tmp-hdr"
	cp "$1"/tmp-hdr/include/*.h "$1"/tmp-hdr/ggml/include/*.h "$1/include/"
	rm -rf "$1/tmp-hdr"
}

if [ "${LLAMA_FROM_SOURCE:-}" = 1 ]; then
	# ---- 2b. build from the bundle ------------------------------------
	dest=$deps/llama-native
	[ "${LLAMA_CUDA:-}" = 1 ] && dest=$deps/llama-cuda
	if [ ! -f "$dest/.stamp" ]; then
		src=$deps/llama-src
		[ -d "$src/.git" ] || git clone -q "$bundle" "$src"
		opts=(-DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=ON -DLLAMA_BUILD_TESTS=OFF
		      -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_SERVER=OFF
		      -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DGGML_NATIVE=ON
		      -DCMAKE_INSTALL_PREFIX="$dest" -DCMAKE_INSTALL_RPATH='$ORIGIN:$ORIGIN/../lib'
		      -DCMAKE_INSTALL_LIBDIR=lib)
		if [ "${LLAMA_CUDA:-}" = 1 ]; then
			command -v nvcc >/dev/null || die "LLAMA_CUDA=1 needs nvcc on PATH"
			opts+=(-DGGML_CUDA=ON "-DCMAKE_CUDA_ARCHITECTURES=${CUDA_ARCH:-native}")
		fi
		say "building llama.cpp $LLAMA_TAG from source into $dest"
		cmake -S "$src" -B "$src/build${LLAMA_CUDA:+-cuda}" "${opts[@]}" >/dev/null || die "cmake configure failed"
		cmake --build "$src/build${LLAMA_CUDA:+-cuda}" -j"$(nproc)" --target llama llama-bench >/dev/null || die "cmake build failed"
		# only llama and llama-bench are built, so the install rules of the other
		# tools fail: install what installs, then copy the libraries and llama-bench
		cmake --install "$src/build${LLAMA_CUDA:+-cuda}" --component Unspecified >/dev/null 2>&1 || true
		mkdir -p "$dest/bin" "$dest/lib"
		cp -f "$src/build${LLAMA_CUDA:+-cuda}/bin/llama-bench" "$dest/bin/" 2>/dev/null || true
		find "$src/build${LLAMA_CUDA:+-cuda}/bin" -name '*.so*' -exec cp -af {} "$dest/lib/" \; 2>/dev/null || true
		install_headers "$dest"
		echo "$LLAMA_TAG source${LLAMA_CUDA:+ cuda}" > "$dest/.stamp"
	fi
	kind="source${LLAMA_CUDA:+-cuda}"
else
	# ---- 2a. the prebuilt libraries -----------------------------------
	dest=$deps/llama
	fetch "@node-llama-cpp/linux-x64@$NLC_VERSION" "node-llama-cpp-linux-x64-$NLC_VERSION.tgz"
	if [ ! -f "$dest/.stamp" ]; then
		say "installing prebuilt llama.cpp $LLAMA_TAG libraries into $dest"
		rm -rf "$dest" && mkdir -p "$dest/lib" "$dest/tmp"
		tar -xzf "$npmdir/node-llama-cpp-linux-x64-$NLC_VERSION.tgz" -C "$dest/tmp"
		cp "$dest"/tmp/package/bins/linux-x64/*.so "$dest/lib/"
		rm -rf "$dest/tmp"
		(cd "$dest/lib" && ln -sf "libllama.$LLAMA_TAG.so" libllama.so && ln -sf "libggml.$LLAMA_TAG.so" libggml.so)
		install_headers "$dest"
		echo "$LLAMA_TAG prebuilt" > "$dest/.stamp"
	fi
	kind=prebuilt
fi

cat > "$deps/config.mk" <<MK
# written by harness/deps.sh: the llama.cpp that \`make\` links against ($kind)
LLAMA_PREFIX ?= $dest
LLAMA_KIND ?= tag $LLAMA_TAG, $kind
MK
# ---- 3. llama-server from the pinned source (the openai runtime's tests
# serve GGUF levels with it); QE_NO_SERVER=1 skips it ----------------------
if [ "${QE_NO_SERVER:-}" != 1 ]; then
	"$top/harness/tools.sh" llama-server || die "building llama-server failed"
fi
say "ready: llama.cpp $LLAMA_TAG ($kind) in $dest; now run 'make'"
