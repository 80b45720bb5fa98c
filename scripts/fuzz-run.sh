#!/usr/bin/env bash
# Runs one libFuzzer target for a bounded time over its committed seed corpus. New inputs go
# to a scratch directory (the committed corpus is never written). RQ_FUZZ_SEED fixes the seed
# (default 1, so CI is reproducible); `make soak` passes 0 for a random one.
set -euo pipefail
fuzzer=$1 corpus=$2 seconds=$3
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
"$fuzzer" -max_total_time="$seconds" -seed="${RQ_FUZZ_SEED:-1}" -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="${RQ_FUZZ_ARTIFACTS:-$PWD/}" \
    "$scratch" "$corpus"
