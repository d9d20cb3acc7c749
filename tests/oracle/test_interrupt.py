"""Interrupted runs: SIGINT / SIGTERM / SIGKILL while `adcat concat` writes.

SIGINT and SIGTERM: exit 130 / 143, the temporary output removed, an existing
output left byte for byte.  SIGKILL cannot be caught: the temporary sibling stays,
and the next run into the same path removes it (its PID is gone) and succeeds.
The signal goes out at a seeded random moment after the temporary output appears.
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import time
import warnings
from pathlib import Path

import anndata as ad
import numpy as np
import pytest

import gen
from stores import out_path, temp_siblings

SIGNALS = {"SIGINT": (signal.SIGINT, 130), "SIGTERM": (signal.SIGTERM, 143)}


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """Two dense float64 stores of 4000 x 2000 (64 MB each): about a second to concatenate."""
    root = tmp_path_factory.mktemp("big")
    rng = np.random.default_rng(0)
    paths = []
    for i, fmt in enumerate(("h5ad", "zarr3")):
        adata = ad.AnnData(X=rng.standard_normal((4000, 2000)))
        adata.obs_names = [f"b{i}c{j}" for j in range(adata.n_obs)]
        paths.append(gen.write(adata, root / f"big{i}{gen.suffix(fmt)}", fmt))
    small = ad.AnnData(X=rng.standard_normal((5, 3)))
    paths.append(gen.write(small, root / "small.h5ad", "h5ad"))
    return paths


def tree_hash(path: Path) -> str:
    h = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for p in files:
        h.update(str(p.relative_to(path.parent)).encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def start(adcat_bin, inputs, dst, *flags):
    return subprocess.Popen(
        [str(adcat_bin), "concat", *map(str, inputs), "-o", str(dst), "--quiet", *flags],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def signal_while_writing(proc, dst, sig, rng) -> bool:
    """Waits for the temporary output, then a random moment, then sends `sig`.
    Returns whether the process was still running when the signal went out."""
    deadline = time.monotonic() + 20
    while not temp_siblings(dst) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(rng.uniform(0.0, 0.5))
    running = proc.poll() is None
    proc.send_signal(sig)
    return running


def assert_whole_result(dst: Path) -> None:
    """The output of concatenating the first two `big` inputs, complete."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert gen.read(dst).shape == (8000, 2000)


def make_previous(run_adcat, small, dst) -> str | None:
    rc, _, err = run_adcat("concat", small, small, "-o", dst, "--quiet")
    assert rc == 0, err
    return tree_hash(dst)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("existing", [False, True], ids=["fresh", "existing"])
@pytest.mark.parametrize("out_fmt", ["h5ad", "zarr3"])
@pytest.mark.parametrize("sig_name", list(SIGNALS))
def test_signal_removes_temporary_output(adcat_bin, run_adcat, big, tmp_path, sig_name, out_fmt, existing, seed):
    sig, code = SIGNALS[sig_name]
    rng = random.Random(f"{sig_name}-{out_fmt}-{existing}-{seed}")
    dst = out_path(tmp_path, out_fmt)
    before = make_previous(run_adcat, big[2], dst) if existing else None
    proc = start(adcat_bin, big[:2], dst, *(["--overwrite"] if existing else []))
    running = signal_while_writing(proc, dst, sig, rng)
    _, err = proc.communicate(timeout=60)
    if running and proc.returncode == 0:
        # The run was exiting when the signal went out and finished first: a whole result.
        assert_whole_result(dst)
    elif running:
        assert proc.returncode == code, f"exit {proc.returncode}, expected {code}\n{err}"
        assert len(err.splitlines()) == 1 and err.startswith("adcat: error: interrupted by"), err
        if "the output was already complete" in err:
            # The signal landed after the commit: the path holds the whole new result.
            assert_whole_result(dst)
        elif existing:
            assert tree_hash(dst) == before, "the existing output changed"
        else:
            assert not dst.exists(), f"{dst} exists after an interrupted run"
    else:  # finished first (a slow machine would not get here; a fast one might)
        assert proc.returncode == 0, err
    assert not temp_siblings(dst), f"temporary output left: {temp_siblings(dst)}"
    assert not list(tmp_path.glob(".*adcat*")), list(tmp_path.glob(".*"))


@pytest.mark.parametrize("out_fmt", ["h5ad", "zarr3"])
def test_sigkill_leftover_removed_by_next_run(adcat_bin, run_adcat, big, tmp_path, out_fmt):
    rng = random.Random(f"kill-{out_fmt}")
    dst = out_path(tmp_path, out_fmt)
    before = make_previous(run_adcat, big[2], dst)
    proc = start(adcat_bin, big[:2], dst, "--overwrite")
    running = signal_while_writing(proc, dst, signal.SIGKILL, rng)
    proc.communicate(timeout=60)
    if running:
        assert proc.returncode == -signal.SIGKILL
        assert tree_hash(dst) == before, "the existing output changed"
        assert temp_siblings(dst), "SIGKILL left no temporary output: the test did not hit the write"
    rc, _, err = run_adcat("concat", *big[:2], "-o", dst, "--quiet", "--overwrite")
    assert rc == 0, err
    assert not temp_siblings(dst), f"stale temporary output not removed: {temp_siblings(dst)}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = gen.read(dst)
    assert got.shape == (8000, 2000)


def test_signal_before_any_output(adcat_bin, big, tmp_path):
    """A signal during planning: nothing to remove, still the signal's exit status."""
    dst = out_path(tmp_path, "zarr3")
    proc = start(adcat_bin, big[:2], dst)
    time.sleep(0.01)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode in (143, 0, -signal.SIGTERM), err  # before main(): default action
    assert not temp_siblings(dst)
    if proc.returncode == 143:
        assert not dst.exists()
    assert os.path.exists(big[0])
