#!/usr/bin/env bash
# Installs the Debian packages imagegate builds, tests and benchmarks with.
# Idempotent: packages already present are not touched, and apt-get runs
# only when something is missing. Uses sudo when not root.
set -eu

packages=(
  build-essential pkg-config meson ninja-build clang-format
  libuv1-dev libhttp-parser-dev libcurl4-openssl-dev libjansson-dev libyajl-dev
  libsqlite3-dev libssl-dev libyaml-dev libpcre2-dev
  libpng-dev libwebp-dev libjpeg62-turbo-dev
  libgmime-3.0-dev libmimalloc-dev libcriterion-dev python3 curl
  clang libclang-rt-14-dev
  iproute2 util-linux  # ip and unshare: the address policy is tested in a network namespace
)
if [ "${IMAGEGATE_BENCH_DEPS:-0}" = 1 ]; then
  packages+=(nginx-light wrk)
fi

missing=()
# Node.js runs the OpenAI SDK compatibility test; any node >= 18 will do,
# so one installed outside apt counts too.
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=
[ "$(id -u)" -eq 0 ] || sudo=sudo
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
