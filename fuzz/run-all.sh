#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 240) on its corpus, stopping at
# the first crash; needs the nightly toolchain and cargo-fuzz.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-240}
for target in zarr_metadata anndata_attrs sparse_block; do
    echo "== $target: $seconds s"
    cargo +nightly fuzz run -O "$target" "corpus/$target" -- \
        -max_total_time="$seconds" -timeout=20 -rss_limit_mb=4096 -print_final_stats=1
done
