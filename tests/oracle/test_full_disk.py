"""A full disk: the output lives on a tiny tmpfs.

The tmpfs is mounted in a user and mount namespace (`unshare -rm`, no root needed),
or directly when running as root; without either the test is skipped, saying why.
adcat must exit 1 with one line naming the output path and the I/O failure, and
leave nothing at the output path nor a temporary sibling.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tempfile

import anndata as ad
import numpy as np
import pytest

import gen

SCRIPT = """
mount -t tmpfs -o size={size} tmpfs {disk} || exit 99
{adcat} concat {inputs} -o {dst} --quiet 2>{err}
echo $? >{rc}
ls -A {disk} >{ls}
"""


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """Two dense float64 stores of 500 x 1000 (4 MB each, random: barely compressible)."""
    root = tmp_path_factory.mktemp("inputs")
    rng = np.random.default_rng(0)
    paths = []
    for i, fmt in enumerate(("h5ad", "zarr3")):
        adata = ad.AnnData(X=rng.standard_normal((500, 1000)))
        adata.obs_names = [f"d{i}c{j}" for j in range(adata.n_obs)]
        paths.append(gen.write(adata, root / f"in{i}{gen.suffix(fmt)}", fmt))
    return paths


def mount_runner():
    """How to run a script that mounts: in a user+mount namespace, or as root."""
    if shutil.which("unshare"):
        probe_dir = tempfile.mkdtemp()
        probe = subprocess.run(
            ["unshare", "-rm", "sh", "-c", f"mount -t tmpfs -o size=64k tmpfs {shlex.quote(probe_dir)}"],
            capture_output=True,
        )
        os.rmdir(probe_dir)
        if probe.returncode == 0:
            return lambda script: ["unshare", "-rm", "sh", "-c", script]
        why = f"unshare -rm cannot mount a tmpfs: {probe.stderr.decode().strip()}"
    else:
        why = "no unshare"
    if os.geteuid() == 0:
        return lambda script: ["sh", "-c", script + "\numount {disk}"]
    pytest.skip(f"FULL-DISK TEST NOT RUN: {why}, and not root, so no tiny filesystem can be mounted")


@pytest.mark.parametrize("size", ["64k", "2m"])
@pytest.mark.parametrize("out_fmt", ["h5ad", "zarr3"])
def test_full_disk_fails_cleanly(adcat_bin, inputs, tmp_path, out_fmt, size):
    runner = mount_runner()
    disk = tmp_path / "disk"
    disk.mkdir()
    dst = disk / ("out.h5ad" if out_fmt == "h5ad" else "out.zarr")
    files = {k: tmp_path / k for k in ("err", "rc", "ls")}
    script = SCRIPT.format(
        size=size,
        disk=shlex.quote(str(disk)),
        adcat=shlex.quote(str(adcat_bin)),
        inputs=" ".join(shlex.quote(str(p)) for p in inputs),
        dst=shlex.quote(str(dst)),
        **{k: shlex.quote(str(v)) for k, v in files.items()},
    )
    cmd = runner(script)
    if cmd[0] == "sh":  # as root without unshare: unmount afterwards
        cmd[-1] = cmd[-1].format(disk=shlex.quote(str(disk)))
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 99, f"mounting the tmpfs failed: {proc.stderr}"
    rc = int(files["rc"].read_text())
    err = files["err"].read_text()
    left = files["ls"].read_text().split()
    assert rc == 1, f"exit {rc}\n{err}"
    lines = err.splitlines()
    assert len(lines) == 1, f"expected one line on stderr:\n{err}"
    assert lines[0].startswith(f"adcat: error: {dst}"), f"message does not name {dst}: {lines[0]}"
    assert "No space left on device" in lines[0], lines[0]
    assert left == [], f"left on the full disk: {left}"
