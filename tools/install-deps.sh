#!/usr/bin/env bash
# Installs everything vkcls needs to build and test on Debian 12 (bookworm), from
# Debian's packages only. Safe to run twice. Needs root (or sudo).
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config git python3 python3-venv
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
)

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages already installed"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
