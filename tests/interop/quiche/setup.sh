#!/usr/bin/env bash
# Install @matrixai/quic (quiche 0.18 + its prebuilt linux-x64 native binding)
# into tests/interop/quiche/node_modules. Idempotent: does nothing when the
# pinned version is already installed and loads.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
    echo "quiche setup: npm/node not found (install Node.js 20+ with npm)" >&2
    exit 1
fi

want="$(node -p 'require("./package.json").dependencies["@matrixai/quic"]')"
have="$(node -p 'try { require("./node_modules/@matrixai/quic/package.json").version } catch { "" }' 2>/dev/null || true)"
if [ "$have" = "$want" ] && node --input-type=module -e 'await import("@matrixai/quic")' >/dev/null 2>&1; then
    exit 0
fi

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
# `npm ci` cannot be used: @matrixai/quic 2.0.9 lists optional native packages
# for darwin/win32 that were never published, so npm can never put them in the
# lockfile and `npm ci` rejects it as out of sync (EUSAGE). `npm install
# --no-save` with the committed lockfile installs exactly the locked versions
# (integrity-checked) and leaves package.json / package-lock.json untouched.
if [ -f package-lock.json ]; then
    cmd=(npm install --no-save)
else
    cmd=(npm install)
fi
if ! timeout 300 "${cmd[@]}" --no-audit --no-fund --loglevel=error >"$log" 2>&1; then
    echo "quiche setup: ${cmd[*]} failed: $(grep -m1 -i 'err' "$log" || tail -n1 "$log")" >&2
    exit 1
fi
if ! node --input-type=module -e 'await import("@matrixai/quic")' >"$log" 2>&1; then
    echo "quiche setup: @matrixai/quic installed but does not load: $(grep -m1 -i 'error' "$log" || tail -n1 "$log")" >&2
    exit 1
fi
