#!/usr/bin/env bash
# Installs what adcat's build and tests need on a fresh Debian machine:
# system libraries (HDF5, Mesa's lavapipe Vulkan driver) and a Python venv with
# a pinned anndata used as the test oracle. Safe to run more than once.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
venv="${ADCAT_VENV:-$here/.venv}"

need_apt=()
for pkg in libhdf5-dev pkg-config mesa-vulkan-drivers libvulkan1; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
fi

pick_python() {
  if [ -n "${ADCAT_PYTHON:-}" ]; then echo "$ADCAT_PYTHON"; return; fi
  for cand in "$(command -v pyenv >/dev/null 2>&1 && pyenv root)"/versions/3.12.*/bin/python3.12 \
              "$(command -v pyenv >/dev/null 2>&1 && pyenv root)"/versions/3.13.*/bin/python3.13 \
              "$(command -v python3.12 || true)" "$(command -v python3.13 || true)"; do
    if [ -x "$cand" ] && "$cand" -c 'import sys' >/dev/null 2>&1; then echo "$cand"; return; fi
  done
  command -v python3
}

if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import anndata' >/dev/null 2>&1; then
  py=$(pick_python)
  "$py" -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
  if "$venv/bin/python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)'; then
    "$venv/bin/pip" install -q -r "$here/tests/oracle/requirements.txt"
  else
    echo "setup: Python >= 3.12 not found; falling back to anndata 0.12 on $("$venv/bin/python" -V)" >&2
    "$venv/bin/pip" install -q -r "$here/tests/oracle/requirements-py311.txt"
  fi
fi
echo "setup: ok (venv $venv, $("$venv/bin/python" -c 'import anndata; print("anndata", anndata.__version__)'))"
