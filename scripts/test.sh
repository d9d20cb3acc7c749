#!/usr/bin/env bash
# Runs every check adcat has: formatting, lints, Rust tests (CPU and GPU backends),
# and the oracle suite that compares adcat's output with Python anndata.
# Installs what it needs first (scripts/setup.sh). Usage: scripts/test.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Mesa's Vulkan driver wants a private runtime directory.
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d /tmp/adcat-xdg.XXXXXX)}"
chmod 700 "$XDG_RUNTIME_DIR"

echo "== cargo fmt --check"
cargo fmt --check
echo "== cargo clippy"
cargo clippy --release --all-targets -- -D warnings
echo "== cargo test"
# Fail, rather than skip, the GPU kernel tests when no adapter (lavapipe included) is found.
export ADCAT_REQUIRE_GPU=1
cargo test --release
echo "== oracle tests (anndata)"
export ADCAT_BIN="$PWD/target/release/adcat"
.venv/bin/python -m pytest tests/oracle -q -n "${ADCAT_TEST_JOBS:-2}" "$@"
