"""`adcat concat` against `anndata.concat`: random inputs written in every format, the
same options given to both, and anndata's reading of adcat's output compared strictly
with anndata's own result (written and read back in the same output format)."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import anndata as ad
import numpy as np
import pytest
from scipy import sparse

from concat_cases import FORMATS, Case, assert_same_adata, make_case, read, write
from stores import tree_bytes

N_RANDOM = int(os.environ.get("ADCAT_CONCAT_CASES", "300"))


def adcat_bin() -> str:
    path = os.environ.get("ADCAT_BIN")
    if not path or not Path(path).is_file():
        pytest.fail(f"ADCAT_BIN must point at the adcat binary (got {path!r}); run scripts/test.sh")
    return path


def run(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([adcat_bin(), *map(str, args)], capture_output=True, text=True, timeout=300)


def run_case(case: Case, tmp: Path, extra: list[str] = ()) -> tuple[list[Path], Path] | None:
    """Checks adcat against anndata; returns the inputs and adcat's output, or None
    when both refused."""
    paths = [write(a, tmp / f"in{i}", f) for i, (a, f) in enumerate(zip(case.inputs, case.formats))]
    on_disk = [read(p) for p in paths]
    suffix = ".h5ad" if case.out_format == "h5ad" else ".zarr"
    out = tmp / f"out{suffix}"
    try:
        expected = case.expected(on_disk)
    except Exception as err:  # anndata refuses: adcat must refuse too
        proc = run(["concat", *paths, "-o", out, "--quiet", *case.cli_args(), *extra])
        assert proc.returncode != 0, f"anndata failed ({err!r}) but adcat succeeded"
        assert not out.exists()
        return None
    proc = run(["concat", *paths, "-o", out, "--quiet", *case.cli_args(), *extra])
    assert proc.returncode == 0, f"adcat failed: {proc.stderr}\noptions {case.options} formats {case.formats}"
    # --quiet drops the progress bar; warnings (as anndata warns) still come.
    noise = [l for l in proc.stderr.splitlines() if not l.startswith("adcat: warning: ")]
    assert noise == [], proc.stderr
    # anndata's own result, through anndata's writer in the same format.
    expected = read(write(expected, tmp / "expected", case.out_format))
    actual = read(out)
    assert_same_adata(actual, expected)
    return paths, out


@pytest.mark.parametrize("seed", range(N_RANDOM))
def test_random(seed: int, tmp_path: Path) -> None:
    run_case(make_case(seed), tmp_path)


@pytest.mark.parametrize("axis", ["obs", "var"])
@pytest.mark.parametrize("join", ["inner", "outer"])
@pytest.mark.parametrize("x", ["dense_f32", "csr", "csc", "mixed"])
@pytest.mark.parametrize("budget", ["64KiB", "512MiB"])
@pytest.mark.parametrize("out_format", FORMATS)
def test_matrix(axis: str, join: str, x: str, budget: str, out_format: str, tmp_path: Path) -> None:
    """anndata's on-disk concat matrix: axis × X kind × join × memory budget × output."""
    kinds = ["dense_f64", "csr", "csc"] if x == "mixed" else [x]
    case = make_case(1000 + len(x), axis=axis, join=join, x_kinds=kinds, out_format=out_format)
    run_case(case, tmp_path, ["--max-memory", budget])


@pytest.mark.parametrize("axis", ["obs", "var"])
@pytest.mark.parametrize("out_format", ["zarr2", "zarr3", "h5ad"])
def test_int64_indices_on_request(axis: str, out_format: str, tmp_path: Path) -> None:
    """`--index-dtype int64` writes int64 indices and indptr for every sparse matrix
    (the layout of results past 2^31 entries) with the same values as anndata."""
    case = make_case(3000, axis=axis, join="outer", x_kinds=["csr", "csc"], out_format=out_format)
    done = run_case(case, tmp_path, ["--index-dtype", "int64", "--max-memory", "64KiB"])
    assert done is not None
    _, out = done
    if out_format == "h5ad":
        import h5py

        with h5py.File(out) as f:
            dtypes = {f["X"][part].dtype for part in ("indices", "indptr")}
    else:
        import zarr

        g = zarr.open_group(out, mode="r")
        dtypes = {g["X"][part].dtype for part in ("indices", "indptr")}
    assert dtypes == {np.dtype("int64")}


@pytest.mark.parametrize("axis", ["obs", "var"])
@pytest.mark.parametrize("join", ["inner", "outer"])
@pytest.mark.parametrize("reindex", [False, True])
@pytest.mark.parametrize("merge", ["same", "unique", "first", "only"])
def test_matrix_sparse_arrays(axis: str, join: str, reindex: bool, merge: str, tmp_path: Path) -> None:
    """scipy sparse arrays, with the other axis equal in every input or not, under each
    merge strategy, with a budget small enough for many blocks."""
    case = make_case(
        2000 + len(merge),
        axis=axis,
        join=join,
        x_kinds=["csr_array", "csc_array"],
        same_vars=not reindex,
        merge=merge,
    )
    run_case(case, tmp_path, ["--max-memory", "64KiB"])


def other_orientation_case(axis: str, join: str, out_format: str, kinds=("csr", "csc", "csc")) -> Case:
    """By default a CSR input and two CSC inputs (transposed into the CSR result), large
    enough that a 64 KiB budget cuts the result into dozens of blocks; names along the
    other axis overlap in part and come in different orders, so joins drop and reorder
    entries. A "dense" kind holds the same random values with their zeros."""
    rng = np.random.default_rng(4242)
    pool = [f"g{i:03d}" for i in range(360)]
    inputs = []
    for k, kind in enumerate(kinds):
        n = 300 + 40 * k
        other = list(rng.permutation(pool)[:300])
        fmt = "csr" if kind == "dense" else kind
        m = sparse.random(n, 300, density=0.2, format=fmt, random_state=rng, dtype=np.float32)
        x = m if axis == "obs" else m.T.asformat(fmt)
        a = ad.AnnData(X=x.toarray() if kind == "dense" else x)
        names = [f"c{k}_{i}" for i in range(n)]
        if axis == "obs":
            a.obs_names, a.var_names = names, other
        else:
            a.obs_names, a.var_names = other, names
        inputs.append(a)
    return Case(4242, inputs, ["zarr3", "h5ad", "zarr2"], out_format, {"axis": axis, "join": join})


@pytest.mark.parametrize("axis", ["obs", "var"])
@pytest.mark.parametrize("join", ["inner", "outer"])
def test_inputs_stored_the_other_way_round_over_many_blocks(axis: str, join: str, tmp_path: Path) -> None:
    """Entries of CSC inputs into a CSR result go through scratch space when many blocks
    need them, and only then; either way the result is anndata's."""
    import json

    # 64 KiB: every block shares one scratch bucket; 4 MiB: a few blocks to a bucket.
    for budget, spills in (("64KiB", True), ("4MiB", True), ("512MiB", False)):
        sub = tmp_path / budget
        sub.mkdir()
        report = sub / "report.json"
        case = other_orientation_case(axis, join, "zarr3")
        assert run_case(case, sub, ["--max-memory", budget, "--report-json", report]) is not None
        assert (json.loads(report.read_text())["scratch_bytes"] > 0) == spills, budget


@pytest.mark.parametrize("axis", ["obs", "var"])
@pytest.mark.parametrize("join", ["inner", "outer"])
def test_dense_inputs_into_a_csc_result_over_many_blocks(axis: str, join: str, tmp_path: Path) -> None:
    """A dense input joins a CSC result (every sparse input CSC) in stripes of rows
    through scratch space when many blocks need it, and only then."""
    import json

    for budget, spills in (("64KiB", True), ("512MiB", False)):
        sub = tmp_path / budget
        sub.mkdir()
        report = sub / "report.json"
        case = other_orientation_case(axis, join, "zarr3", kinds=("csc", "dense", "csc"))
        assert run_case(case, sub, ["--max-memory", budget, "--report-json", report]) is not None
        assert (json.loads(report.read_text())["scratch_bytes"] > 0) == spills, budget


def small(n_obs: int, names: list[str], **kw) -> ad.AnnData:
    rng = np.random.default_rng(n_obs)
    a = ad.AnnData(
        X=sparse.random(n_obs, len(names), density=0.5, format="csr", random_state=rng, dtype=np.float32),
        **kw,
    )
    a.var_names = names
    a.obs_names = [f"o{n_obs}_{i}" for i in range(n_obs)]
    return a


def test_single_input(tmp_path: Path) -> None:
    case = Case(7, [small(5, ["a", "b", "c"])], ["zarr3"], "h5ad", {})
    run_case(case, tmp_path)


def test_ordered_categorical_kept(tmp_path: Path) -> None:
    import pandas as pd

    inputs = []
    for n in (3, 4):
        a = small(n, ["a", "b"])
        a.obs["grade"] = pd.Categorical(["lo", "hi", "lo", "hi"][:n], categories=["lo", "hi"], ordered=True)
        inputs.append(a)
    run_case(Case(8, inputs, ["h5ad", "zarr2"], "zarr3", {"join": "outer"}), tmp_path)


NATSORT_CASES = {
    # "x1a0" and "x1a00" (or "x01" and "x1") are equal to natsort; pandas breaks the tie
    # by its own sorted order, whatever order the values come in.
    "ties": [f"x{z}1a{w}" for z in ("", "0", "00") for w in ("0", "00", "000", "0000")],
    # natsort compares text in Unicode's decomposed form, so "é9" sorts with "e", ahead
    # of "x", and "naïve" just after "naive"; code point order would put them last.
    "accents": ["é9", "é10x", "x1y2", "naïve", "naive", "nb", "e\u03019", "Écorce", "Ecorce", "ζ", "zeta", "ñ2"],
}


@pytest.mark.parametrize("name", sorted(NATSORT_CASES))
def test_categories_in_natsort_order(name: str, tmp_path: Path) -> None:
    import pandas as pd

    words = NATSORT_CASES[name]
    inputs = []
    for k, n in enumerate((12, 13)):
        a = small(n, ["a", "b"])
        # Unique within each input, so each is written as strings and only the result
        # becomes categorical; "tag" is categorical with differing categories.
        a.obs["label"] = (words[::-1] if k else words) + ["y"] * k
        a.obs["tag"] = pd.Categorical([words[(2 * i + k) % 12] for i in range(n)])
        inputs.append(a)
    formats = ["zarr2", "h5ad"] if name == "ties" else ["h5ad", "zarr3"]
    run_case(Case(9, inputs, formats, "zarr3" if name == "ties" else "zarr2", {"join": "outer"}), tmp_path)


def test_obsm_of_differing_widths_and_keys(tmp_path: Path) -> None:
    a, b = small(3, ["a", "b"]), small(2, ["b", "a"])
    a.obsm["pca"] = np.ones((3, 4))
    b.obsm["pca"] = np.zeros((2, 2))
    b.obsm["umap"] = np.zeros((2, 2))
    for join in ("inner", "outer"):
        sub = tmp_path / join
        sub.mkdir()
        run_case(Case(9, [a, b], ["zarr3", "h5ad"], "zarr2", {"join": join}), sub)


def test_no_inputs_is_a_usage_error(tmp_path: Path) -> None:
    proc = run(["concat", "-o", tmp_path / "out.zarr"])
    assert proc.returncode == 2
    assert not (tmp_path / "out.zarr").exists()


def test_missing_output_directory(tmp_path: Path) -> None:
    p = write(small(3, ["a"]), tmp_path / "in", "h5ad")
    out = tmp_path / "nope" / "out.zarr"
    proc = run(["concat", p, p, "-o", out, "--quiet"])
    assert proc.returncode == 1
    assert "nope" in proc.stderr and "does not exist" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_duplicate_alternate_names_fail_like_anndata(tmp_path: Path) -> None:
    a, b = small(2, ["a", "a"]), small(2, ["a", "b"])
    pa, pb = write(a, tmp_path / "a", "zarr3"), write(b, tmp_path / "b", "h5ad")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(Exception):
            ad.concat([read(pa), read(pb)], join="outer")
    proc = run(["concat", pa, pb, "-o", tmp_path / "out.zarr", "--join", "outer", "--quiet"])
    assert proc.returncode == 1
    assert str(pa) in proc.stderr and "var" in proc.stderr
    assert not (tmp_path / "out.zarr").exists()


def test_existing_output_needs_overwrite(tmp_path: Path) -> None:
    p = write(small(3, ["a"]), tmp_path / "in", "zarr3")
    out = tmp_path / "out.h5ad"
    out.write_bytes(b"keep me")
    proc = run(["concat", p, p, "-o", out, "--quiet"])
    assert proc.returncode == 1 and "--overwrite" in proc.stderr
    assert out.read_bytes() == b"keep me"
    proc = run(["concat", p, p, "-o", out, "--quiet", "--overwrite"])
    assert proc.returncode == 0, proc.stderr
    assert read(out).n_obs == 6


def test_report_json(tmp_path: Path) -> None:
    import json

    p = write(small(3, ["a", "b"]), tmp_path / "in", "zarr3")
    report = tmp_path / "r.json"
    proc = run(["concat", p, p, "-o", tmp_path / "o.zarr", "--quiet", "--report-json", report])
    assert proc.returncode == 0, proc.stderr
    r = json.loads(report.read_text())
    assert r["shape"] == [6, 2]
    assert r["device"] == "cpu"
    assert r["peak_rss_bytes"] > 0
    assert [e["path"] for e in r["elements"]] == ["X"]
    assert r["device_reason"].startswith("auto: ")
    for phase in ("seconds_reading", "seconds_writing", "seconds_kernels"):
        assert 0 < r[phase] < r["seconds_write"] + 1, (phase, r)
    # Kernel calls happen inside the reader's and writer's busy time.
    assert r["seconds_kernels"] <= r["seconds_reading"] + r["seconds_writing"]
    assert r["validated"] is None and r["device_phases"] is None


@pytest.mark.parametrize("out_format", ["zarr2", "h5ad"])
def test_validate_checks_every_stored_entry(out_format: str, tmp_path: Path) -> None:
    import json

    a, b = small(5, ["a", "b", "c"]), small(4, ["c", "a"])
    paths = [write(a, tmp_path / "a", "h5ad"), write(b, tmp_path / "b", "zarr3")]
    out = tmp_path / ("o.h5ad" if out_format == "h5ad" else "o.zarr")
    report = tmp_path / "r.json"
    proc = run(["concat", *paths, "-o", out, "--join", "outer", "--validate", "--quiet", "--report-json", report])
    assert proc.returncode == 0, proc.stderr
    v = json.loads(report.read_text())["validated"]
    assert v["sparse_matrices"] == 1
    assert v["entries_checked"] == a.X.nnz + b.X.nnz
    # X/data is decoded too, besides the obs and var columns.
    assert v["values_read"] >= a.X.nnz + b.X.nnz + a.n_obs + b.n_obs
    # Every array written whole reads back to the checksum taken while writing it.
    assert v["checksums_compared"] >= 3
    assert_same_adata(read(out), ad.concat([read(p) for p in paths], join="outer"))


@pytest.mark.parametrize("join", ["inner", "outer"])
def test_raw_concatenated_when_every_input_has_it(join: str, tmp_path: Path) -> None:
    inputs = []
    for n, names in ((3, ["a", "b", "c"]), (2, ["c", "a", "d"])):
        a = small(n, names)
        a.raw = a.copy()
        inputs.append(a[:, :2].copy())
    run_case(Case(10, inputs, ["h5ad", "zarr3"], "zarr2", {"join": join}), tmp_path)


# ----------------------------------------------------------------------------------
# The GPU path: anndata's result, and the very same bytes as the CPU path.


@pytest.fixture(scope="session")
def gpu_available() -> bool:
    import json

    proc = run(["devices", "--json"])
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout)
    if not found:
        if os.environ.get("ADCAT_REQUIRE_GPU") == "1":
            pytest.fail("ADCAT_REQUIRE_GPU=1 but adcat found no GPU adapter")
        print("\nWARNING: no GPU adapter: --device gpu oracle tests SKIPPED", file=sys.stderr)
        pytest.skip("no GPU adapter (install mesa-vulkan-drivers for lavapipe)")
    return True


def gpu_and_cpu_agree(case: Case, tmp: Path, extra: list[str]) -> None:
    ran = run_case(case, tmp, ["--device", "gpu", *extra])
    if ran is None:
        return
    paths, gpu_out = ran
    cpu_out = gpu_out.with_name("cpu" + gpu_out.suffix)
    proc = run(["concat", *paths, "-o", cpu_out, "--quiet", "--device", "cpu", *case.cli_args(), *extra])
    assert proc.returncode == 0, proc.stderr
    gpu_files, cpu_files = tree_bytes(gpu_out), tree_bytes(cpu_out)
    assert sorted(gpu_files) == sorted(cpu_files)
    differ = [name for name in cpu_files if gpu_files[name] != cpu_files[name]]
    assert not differ, f"GPU and CPU outputs differ in {differ}"


@pytest.mark.parametrize("seed", range(0, 300, 10))
def test_gpu_random(seed: int, tmp_path: Path, gpu_available: bool) -> None:
    gpu_and_cpu_agree(make_case(seed, out_format="zarr3"), tmp_path, [])


@pytest.mark.parametrize("axis", ["obs", "var"])
@pytest.mark.parametrize("join", ["inner", "outer"])
@pytest.mark.parametrize("x", ["dense_f32", "csr", "csc", "mixed"])
def test_gpu_matrix(axis: str, join: str, x: str, tmp_path: Path, gpu_available: bool) -> None:
    kinds = ["dense_f64", "csr", "csc"] if x == "mixed" else [x]
    case = make_case(1000 + len(x), axis=axis, join=join, x_kinds=kinds, out_format="zarr2")
    gpu_and_cpu_agree(case, tmp_path, ["--max-memory", "64KiB"])


@pytest.mark.parametrize("axis", ["obs", "var"])
@pytest.mark.parametrize("kinds", [("csr", "csc", "csc"), ("csc", "dense", "csc")], ids=["csc_into_csr", "dense_into_csc"])
def test_gpu_inputs_stored_the_other_way_round(axis: str, kinds, tmp_path: Path, gpu_available: bool) -> None:
    case = other_orientation_case(axis, "outer", "zarr2", kinds=kinds)
    gpu_and_cpu_agree(case, tmp_path, ["--max-memory", "64KiB"])


def test_gpu_report_names_the_adapter(tmp_path: Path, gpu_available: bool) -> None:
    import json

    p = write(small(3, ["a", "b"]), tmp_path / "in", "zarr3")
    report = tmp_path / "r.json"
    proc = run(["concat", p, p, "-o", tmp_path / "o.zarr", "--quiet", "--device", "gpu", "--report-json", report])
    assert proc.returncode == 0, proc.stderr
    r = json.loads(report.read_text())
    assert r["device"].startswith("gpu: ")
    assert r["device_reason"] == "--device gpu"
