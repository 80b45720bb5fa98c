#!/usr/bin/env bash
# Installs the build into a scratch prefix and builds a consumer against it three ways:
# pkg-config, CMake find_package with the shared library, and with the static library.
set -euo pipefail
build=$1 src=$2 cc=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
libdir=$(ls -d "$tmp"/prefix/lib*/ | head -n1)
export PKG_CONFIG_PATH="$libdir/pkgconfig"
# Sanitizer builds need the same runtime at link time.
extra=$(grep -q 'RQ_SANITIZE:BOOL=ON' "$build/CMakeCache.txt" && echo "-fsanitize=address,undefined" || true)
# shellcheck disable=SC2046
"$cc" $extra -o "$tmp/pc_consumer" "$src/tests/install/consumer.c" $(pkg-config --cflags --libs roamquic)
LD_LIBRARY_PATH="$libdir" "$tmp/pc_consumer"
cmake -S "$src/tests/install" -B "$tmp/cm" -DCMAKE_C_COMPILER="$cc" -DCMAKE_C_FLAGS="$extra" \
    -DCMAKE_EXE_LINKER_FLAGS="$extra" -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/cm" >/dev/null
LD_LIBRARY_PATH="$libdir" "$tmp/cm/consumer_shared"
"$tmp/cm/consumer_static"
echo "install: pkg-config and CMake package both work"
