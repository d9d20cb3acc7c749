#!/usr/bin/env bash
# Runs fuzz targets (default: all three) for SECONDS each (default 240) on their
# corpus, stopping at the first crash; needs the nightly toolchain and cargo-fuzz.
#   fuzz/run-all.sh [SECONDS [TARGET...]]
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-240}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(zarr_metadata anndata_attrs sparse_block)
cargo +nightly fuzz build -O
for target in "${targets[@]}"; do
    echo "== $target: $seconds s"
    cargo +nightly fuzz run -O "$target" "corpus/$target" -- \
        -max_total_time="$seconds" -timeout=20 -rss_limit_mb=4096 -print_final_stats=1
done
