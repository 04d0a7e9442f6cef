#!/usr/bin/env bash
# examples/desktop as its users build and run it: `cmake --install` the build tree into a prefix,
# build the example outside the source tree against that prefix (find_package(vkcls), GTK 3
# from pkg-config), then drive it on a virtual X server (drive.py: xdotool types, AT-SPI reads
# the labels, screenshots land in ARTIFACTS).
# usage: desktop_test.sh BUILD_DIR SOURCE_DIR ARTIFACTS_DIR
set -euo pipefail
build=$1 src=$2 artifacts=$3
model=$src/assets/models/sentiment-minilm-l4
prefix=$build/desktop-test/prefix

for tool in Xvfb xdotool dbus-run-session python3 pkg-config; do
  command -v "$tool" >/dev/null || { echo "desktop: $tool is missing: run tools/install-deps.sh" >&2; exit 1; }
done
pkg-config --exists gtk+-3.0 || { echo "desktop: GTK 3 (libgtk-3-dev) is missing: run tools/install-deps.sh" >&2; exit 1; }
# Debian's python3-gi is for Debian's python3: another python3 first on PATH (pyenv, a venv)
# does not see it
python=""
for p in python3 /usr/bin/python3; do
  if "$p" -c 'import gi; gi.require_version("Atspi", "2.0"); gi.require_version("Gdk", "3.0")' 2>/dev/null; then
    python=$p; break
  fi
done
test -n "$python" ||
  { echo "desktop: python3-gi, gir1.2-atspi-2.0 or gir1.2-gtk-3.0 is missing: run tools/install-deps.sh" >&2; exit 1; }

rm -rf "$build/desktop-test" "$artifacts"
mkdir -p "$artifacts"
cmake --install "$build" --prefix "$prefix" >/dev/null

work=$(mktemp -d /tmp/vkcls-desktop.XXXXXX)
trap 'rm -rf "$work"' EXIT
cp "$src/examples/desktop/main.c" "$src/examples/desktop/CMakeLists.txt" "$work/"
t0=$(date +%s%N)
cmake -S "$work" -B "$work/build" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_C_FLAGS="-Werror" >/dev/null
cmake --build "$work/build" >/dev/null
echo "desktop: built against $prefix in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
readelf -d "$work/build/vkcls-desktop" | grep -q 'NEEDED.*\[libvkcls\.so\.'

# the C API's engine runs on lavapipe (headless compute): it needs no display of its own
dbus-run-session -- "$python" "$src/tests/desktop/drive.py" "$work/build/vkcls-desktop" "$model" "$artifacts"
