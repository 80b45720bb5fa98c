#!/usr/bin/env bash
# Installs the Debian 12 packages roamquic needs to build, test, fuzz and benchmark. Idempotent:
# it asks apt only for what is missing, and runs `apt-get update` only then.
set -euo pipefail

packages=(
    build-essential cmake pkg-config git python3   # python3: tests/checklist-coverage
    clang libclang-rt-14-dev clang-format   # sanitizer and libFuzzer runtimes, format check
    libgnutls28-dev nettle-dev              # TLS 1.3 and packet protection
    openssl                                 # bench/crypto prints `openssl speed` as a ceiling
    libngtcp2-dev libngtcp2-crypto-gnutls-dev   # an independent QUIC peer inside the simulator
    libnghttp3-dev                          # HTTP/3 in the roamquic server and client (src/h3)
    ngtcp2-client ngtcp2-server             # gtlsclient/gtlsserver: interop on real sockets
    tshark                                  # decrypts interop captures (tests/interop)
    nodejs                                  # @matrixai/quic (quiche) for interop
    iproute2 nftables ethtool               # network namespaces for the netns and interop tests
)

missing=()
for p in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
# Debian's npm conflicts with a Node.js that bundles its own (NodeSource's): ask for it only
# when no npm is on the PATH.
command -v npm >/dev/null || missing+=(npm)
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "deps: installing ${missing[*]}"
sudo=()
if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || { echo "deps: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
    sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps: done"
