#!/usr/bin/env bash
# An installed vkcls as a user's program sees it: `cmake --install` into a prefix under the
# build dir, then, in a temporary folder outside the source tree, a C program built with
# pkg-config and a C++ program built with find_package(vkcls) classify a text with the default
# model and print its label; the installed `vkcls` command classifies too.
# usage: install_test.sh BUILD_DIR SOURCE_DIR C_COMPILER SONAME
set -euo pipefail
build=$1 src=$2 cc=$3 soname=$4
model=$src/assets/models/sentiment-minilm-l4
prefix=$build/install-test/prefix

rm -rf "$build/install-test"
cmake --install "$build" --prefix "$prefix" >/dev/null
echo "installed into $prefix:"
(cd "$prefix" && find . -type f -o -type l | sort | sed 's/^/  /')

pc=$(find "$prefix" -name vkcls.pc)
test -n "$pc" && test -f "$prefix/include/vkcls/vkcls.h" && test -x "$prefix/bin/vkcls"
test -f "$(dirname "$pc")/../cmake/vkcls/vkclsConfig.cmake"

work=$(mktemp -d /tmp/vkcls-consumer.XXXXXX)
trap 'rm -rf "$work"' EXIT
cp "$src/tests/capi/consumer/classify.c" "$src/tests/capi/consumer/classify.cpp" \
   "$src/tests/capi/consumer/CMakeLists.txt" "$work/"
cd "$work"

# C, pkg-config: flags from the installed vkcls.pc only
export PKG_CONFIG_PATH=$(dirname "$pc")
echo "pkg-config vkcls $(pkg-config --modversion vkcls): $(pkg-config --cflags --libs vkcls)"
"$cc" -std=c99 -Wall -Wextra -pedantic -Werror -o classify_c classify.c \
  $(pkg-config --cflags --libs vkcls) -Wl,-rpath,"$(pkg-config --variable=libdir vkcls)"
readelf -d classify_c | grep -q "NEEDED.*\[$soname\]"
out=$(./classify_c "$model" "I absolutely love this phone, the battery lasts all day.")
echo "C:   $out"
grep -q '^positive ' <<<"$out"

# C++, find_package(vkcls) -> vkcls::vkcls
cmake -S . -B build -G Ninja -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build build >/dev/null
out=$(./build/classify_cpp "$model" "The package arrived broken and support never answered.")
echo "C++: $out"
grep -q '^negative ' <<<"$out"

# the installed command
out=$("$prefix/bin/vkcls" classify --model "$model" "what a lovely day")
echo "vkcls: $out"
grep -q '"label": *"positive"' <<<"$out"
echo "OK"
