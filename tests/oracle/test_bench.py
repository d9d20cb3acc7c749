"""`adcat bench`: its generated inputs are valid AnnData of the documented shapes, adcat's
concatenation of them equals anndata's, and the harness reports peers' failures."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from concat_cases import assert_same_adata, read, write
from test_concat import gpu_available, run  # noqa: F401  (a fixture)

SIZE = 50


@pytest.fixture(scope="module")
def matrix(tmp_path_factory) -> Path:
    data = tmp_path_factory.mktemp("bench-data")
    proc = run(["bench", "--generate-only", "--quiet", "--data", data, "--size", SIZE, "--small-files", 3])
    assert proc.returncode == 0, proc.stderr
    return data


SHAPES = {"fat": (40, 50, 0), "tall": (50, 40, 0), "square": (50, 50, 0), "shift": (50, 50, 25)}


@pytest.mark.parametrize("fmt", ["zarr", "h5ad"])
@pytest.mark.parametrize("encoding", ["csr", "csc", "dense"])
@pytest.mark.parametrize("shape", list(SHAPES))
def test_inputs_are_anndata_of_the_documented_shape(matrix: Path, fmt: str, encoding: str, shape: str) -> None:
    a = read(matrix / f"{encoding}_{shape}_{SIZE}.{fmt}")
    rows, cols, shift = SHAPES[shape]
    assert a.shape == (rows, cols)
    assert list(a.obs_names[:2]) == [f"cell{shift}", f"cell{shift + 1}"]
    assert list(a.var_names[-1:]) == [f"gene{shift + cols - 1}"]
    if encoding == "dense":
        assert isinstance(a.X, np.ndarray) and a.X.dtype == np.float64
        assert (a.X > 0).all()
    else:
        assert isinstance(a.X, sparse.csr_matrix if encoding == "csr" else sparse.csc_matrix)
        minor = cols if encoding == "csr" else rows
        per_line = np.diff(a.X.indptr)
        assert (per_line == round(0.1 * minor)).all()
        a.X.check_format(full_check=True)
        assert a.X.has_sorted_indices
    for frame in (a.obs, a.var):
        assert list(frame.columns) == ["count", "score", "flag", "kind", "label"]
        assert frame["count"].dtype == np.int64
        assert frame["score"].dtype == np.float64
        assert frame["flag"].dtype == bool
        assert isinstance(frame["kind"].dtype, pd.CategoricalDtype)
        assert frame["label"].nunique() == len(frame)


def test_many_small_files_have_distinct_cells_and_shared_genes(matrix: Path) -> None:
    parts = [read(p) for p in sorted((matrix / f"small_{SIZE}").glob("*.zarr"))]
    assert len(parts) == 3
    cells = pd.Index(np.concatenate([p.obs_names for p in parts]))
    assert cells.is_unique
    assert all((p.var_names == parts[0].var_names).all() for p in parts)


# The bench runs `adcat concat FILES -o OUT --axis A --join J`; its result must be
# anndata's, on the generated inputs too.
CASES = [
    ("csr", ["fat", "shift"], "obs", "outer", "zarr"),
    ("csc", ["tall", "shift"], "var", "outer", "h5ad"),
    ("csr", ["tall", "square"], "var", "inner", "zarr"),
    ("csc", ["fat", "square"], "obs", "inner", "h5ad"),
    ("dense", ["fat", "shift"], "obs", "outer", "zarr"),
    ("dense", ["tall", "shift"], "var", "outer", "h5ad"),
]


@pytest.mark.parametrize("encoding,shapes,axis,join,fmt", CASES)
def test_bench_cases_match_anndata(matrix: Path, tmp_path: Path, encoding, shapes, axis, join, fmt) -> None:
    paths = [matrix / f"{encoding}_{s}_{SIZE}.{fmt}" for s in shapes]
    out = tmp_path / f"out.{fmt}"
    proc = run(["concat", *paths, "-o", out, "--axis", axis, "--join", join, "--device", "cpu", "--quiet"])
    assert proc.returncode == 0, proc.stderr
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = ad.concat([read(p) for p in paths], axis=axis, join=join)
    expected = read(write(expected, tmp_path / "expected", "h5ad" if fmt == "h5ad" else "zarr3"))
    assert_same_adata(read(out), expected)


def test_bench_reports_peers_and_their_failures(tmp_path: Path) -> None:
    """With anndata at hand every tool runs; concat_on_disk's refusal of CSR along var is
    reported as a failure, not dropped, and the ratios use only runs that worked."""
    data, out = tmp_path / "data", tmp_path / "results"
    proc = run([
        "bench", "--quiet", "--data", data, "--out", out, "--size", 30, "--repeat", 2,
        "--formats", "h5ad", "--cases", "csr_obs,csr_var", "--python", sys.executable, "--gpu", "never",
    ])
    assert proc.returncode == 0, proc.stderr
    report = json.loads((out / "bench.json").read_text())
    by_case = {r["case"]: {t["tool"]: t for t in r["tools"]} for r in report["results"]}
    assert set(by_case) == {"csr_obs", "csr_var"}
    for case, tools in by_case.items():
        for tool in ("adcat-cpu", "limit", "anndata-concat"):
            assert tools[tool]["failure"] is None, (case, tool, tools[tool]["failure"])
            assert len(tools[tool]["samples"]) == 2
            assert 0 < tools[tool]["min_seconds"] <= tools[tool]["median_seconds"]
            assert tools[tool]["peak_rss_bytes"] > 1 << 20
        assert "never" in tools["adcat-gpu"]["failure"]
    assert by_case["csr_obs"]["anndata-concat_on_disk"]["failure"] is None
    failure = by_case["csr_var"]["anndata-concat_on_disk"]["failure"]
    assert failure and "NotImplementedError" in failure
    table = (out / "bench.md").read_text()
    assert "csr_var: exit 1: NotImplementedError" in table.replace(" h5ad concat_on_disk", "")
    assert (out / "bench.svg").read_text().startswith("<svg")
    assert proc.stdout == table


def test_bench_times_the_gpu_path_when_asked(tmp_path: Path, gpu_available: bool) -> None:
    """`--gpu always` times a software adapter too; the GPU/CPU ratio is then shown but
    the GPU target is not judged on it."""
    out = tmp_path / "results"
    proc = run([
        "bench", "--quiet", "--data", tmp_path / "data", "--out", out, "--size", 30, "--repeat", 1,
        "--formats", "zarr", "--cases", "dense_obs_outer", "--small-files", 0, "--no-peers", "--gpu", "always",
    ])
    assert proc.returncode == 0, proc.stderr
    report = json.loads((out / "bench.json").read_text())
    (result,) = report["results"]
    tools = {t["tool"]: t for t in result["tools"]}
    assert tools["adcat-gpu"]["failure"] is None
    assert tools["adcat-gpu"]["median_seconds"] > 0
    assert "--no-peers" in tools["anndata-concat_on_disk"]["failure"]
    # Each adcat run's phases come from its --report-json; only the GPU's splits its
    # kernel time, and the table shows both runs.
    (cpu,) = tools["adcat-cpu"]["samples"]
    (gpu,) = tools["adcat-gpu"]["samples"]
    assert cpu["phases"]["device"] is None and cpu["phases"]["reading"] > 0
    split = gpu["phases"]["device"]
    times = {"seconds_upload", "seconds_compute", "seconds_readback"}
    assert set(split) == times | {"round_trips", "bytes_uploaded", "bytes_read_back"}
    assert 0 < sum(split[k] for k in times) <= gpu["phases"]["kernels"]
    # Dense tiles go to the device and come back, each call ending in a wait.
    assert split["round_trips"] > 0
    assert split["bytes_uploaded"] > 0 and split["bytes_read_back"] > 0
    table = (out / "bench.md").read_text()
    assert "| dense_obs_outer | zarr | adcat CPU |" in table
    assert "| dense_obs_outer | zarr | adcat GPU |" in table
    gpu_target = report["targets"][-1]
    if "CPU (software)" in report["machine"]["gpu"]:
        assert gpu_target["met"] is None and "not judged" in gpu_target["measured"]


@pytest.mark.parametrize("fmt", ["h5ad", "zarr"])
@pytest.mark.parametrize("hard_limit", [4096, 256])
def test_a_thousand_inputs_within_a_small_file_limit(tmp_path: Path, fmt: str, hard_limit: int) -> None:
    """1,000 tiny inputs (the bench's many-files generator at 10 × 10 each) under a
    soft open-file limit of 256, with a hard limit of 4096 (which adcat raises its soft
    limit to) and of 256. Either way at most 128 .h5ad inputs are open at once; the
    others are closed and reopened as needed."""
    import resource

    data = tmp_path / "data"
    proc = run(["bench", "--generate-only", "--quiet", "--data", data, "--size", 50, "--formats", fmt,
                "--small-files", 1000, "--cases", "many_small"])
    assert proc.returncode == 0, proc.stderr
    paths = sorted((data / "small_50").glob(f"*.{fmt}"))
    assert len(paths) == 1000
    out = tmp_path / f"out.{fmt}"

    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    hard = hard_limit if hard == resource.RLIM_INFINITY else min(hard, hard_limit)
    assert hard >= hard_limit, f"this machine allows only {hard} open files"

    def few_files() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))

    done = subprocess.run(
        [str(Path(__import__("os").environ["ADCAT_BIN"])), "concat", *map(str, paths), "-o", str(out), "--quiet",
         "--label", "batch"],
        capture_output=True, text=True, timeout=600, preexec_fn=few_files,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = ad.concat([read(p) for p in paths], label="batch")
    expected = read(write(expected, tmp_path / "expected", "h5ad" if fmt == "h5ad" else "zarr3"))
    assert_same_adata(read(out), expected)


def test_peer_times_its_output_until_it_is_on_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """adcat fsyncs its output before publishing it, so the peer script must fsync
    anndata's too before it stops the clock: every file and directory of a Zarr store,
    and an .h5ad file itself."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("peer", Path(__file__).parents[2] / "src" / "bench" / "peer.py")
    peer = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(peer)

    store = tmp_path / "out.zarr"
    ad.AnnData(X=np.arange(12, dtype=np.float32).reshape(3, 4)).write_zarr(store)
    h5ad = tmp_path / "out.h5ad"
    ad.AnnData(X=np.ones((2, 2))).write_h5ad(h5ad)

    synced: list[str] = []
    real_open, real_fsync = peer.os.open, peer.os.fsync
    names: dict[int, str] = {}

    def tracking_open(path, flags, *args):
        fd = real_open(path, flags, *args)
        names[fd] = str(path)
        return fd

    def tracking_fsync(fd):
        synced.append(names[fd])
        real_fsync(fd)

    monkeypatch.setattr(peer.os, "open", tracking_open)
    monkeypatch.setattr(peer.os, "fsync", tracking_fsync)
    peer.sync_tree(str(store))
    peer.sync_tree(str(h5ad))

    expected = {str(store)} | {str(p) for p in store.rglob("*")} | {str(h5ad)}
    assert set(synced) == expected
    assert any(Path(p).parent.name == "X" for p in synced), synced
