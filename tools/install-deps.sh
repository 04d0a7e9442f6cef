#!/usr/bin/env bash
# Installs everything vkcls needs to build and test on Debian 12 (bookworm), from
# Debian's packages only. Safe to run twice. Needs root (or sudo).
#
# Mesa (lavapipe, the CPU Vulkan driver every test runs on) comes from bookworm-backports
# (25.0: about 3x faster than bookworm's 22.3 on vkcls's kernels). An apt pin takes only
# Mesa and the libdrm it needs from there; every other package stays bookworm's. When
# backports cannot be reached, bookworm's Mesa is installed and everything still works.
# VKCLS_MESA_BACKPORTS=0 leaves apt's sources alone.
set -euo pipefail

packages=(
  # toolchain (clang + its runtime for the libFuzzer targets, tools/fuzz.sh)
  build-essential cmake ninja-build pkg-config git python3 python3-venv clang libclang-rt-14-dev
  # Vulkan: loader + headers, lavapipe (Mesa CPU driver), validation layer, vulkaninfo
  libvulkan-dev mesa-vulkan-drivers vulkan-validationlayers vulkan-tools
  # shader build: GLSL -> SPIR-V, validation
  glslang-tools spirv-tools
  # libraries
  nlohmann-json3-dev libfmt-dev libonig-dev libutf8proc-dev libcpp-httplib-dev
  # hub downloads over HTTPS (OpenSSL), and the openssl command the download test uses
  libssl-dev openssl ca-certificates
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  # examples/desktop (GTK 3) and its test: a virtual X server, typing, the accessibility tree
  libgtk-3-dev gir1.2-gtk-3.0 xvfb xdotool dbus at-spi2-core python3-gi gir1.2-atspi-2.0
)

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi

backports_source=/etc/apt/sources.list.d/vkcls-bookworm-backports.sources
backports_pin=/etc/apt/preferences.d/vkcls-mesa-backports
backports_text="# Written by vkcls tools/install-deps.sh: bookworm-backports, for Mesa only
# (see $backports_pin).
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"
pin_text="# Written by vkcls tools/install-deps.sh: from bookworm-backports take Mesa and the libdrm
# it needs; every other package keeps backports' default priority 100 (never chosen unless asked).
Package: src:mesa src:libdrm
Pin: release n=bookworm-backports
Pin-Priority: 500
"

# Writes $2 to file $1 unless it already holds exactly that; prints "changed" when it wrote.
write_if_changed() {
  if [ -f "$1" ] && [ "$(cat "$1")" = "$(printf '%s' "$2")" ]; then return 0; fi
  printf '%s' "$2" | $sudo tee "$1" >/dev/null
  echo changed
}

sources_changed=""
codename=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
if [ "${VKCLS_MESA_BACKPORTS:-1}" != 0 ] && [ "$codename" = bookworm ]; then
  sources_changed+=$(write_if_changed "$backports_source" "$backports_text")
  sources_changed+=$(write_if_changed "$backports_pin" "$pin_text")
fi

installed_version() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || true; }
candidate_version() { apt-cache policy "$1" 2>/dev/null | sed -n 's/^ *Candidate: //p'; }

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
mesa_now=$(installed_version mesa-vulkan-drivers)
if [ ${#missing[@]} -eq 0 ] && [ -z "$sources_changed" ] && [ "$mesa_now" = "$(candidate_version mesa-vulkan-drivers)" ]; then
  echo "install-deps: all ${#packages[@]} packages already installed (Mesa $mesa_now)"
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
# An unreachable source (e.g. backports offline) is a warning here, not a failure: apt then
# installs from the lists it has, i.e. bookworm's Mesa.
$sudo apt-get update -qq || echo "install-deps: apt-get update reported errors; continuing with the package lists at hand" >&2
# mesa-vulkan-drivers is named even when installed, so that an existing Mesa 22 moves to backports' version
if [ -n "$mesa_now" ] && [ "$mesa_now" != "$(candidate_version mesa-vulkan-drivers)" ]; then
  missing+=(mesa-vulkan-drivers)
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
echo "install-deps: Mesa $(installed_version mesa-vulkan-drivers)"
