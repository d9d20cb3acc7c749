"""Corrupt and invalid inputs to `adcat concat GOOD BAD -o OUT`.

Every case starts from a valid store written by anndata (60 x 20, CSR or dense X,
obs/var columns of the common encodings), damages one thing in it with h5py or
zarr, and checks that adcat fails the run: exit 1, one stderr line
`adcat: error: BAD:/ELEMENT: ...` with a word naming the kind of damage, and the
output path as it was (absent, or an earlier output byte for byte) with no
temporary siblings.  Together with test_errors.py this covers >= 30 distinct
kinds of damage; `CASES` below lists the ones of this file.
"""

from __future__ import annotations

import hashlib
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import anndata as ad
import h5py
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import zarr

import gen
from stores import out_path, temp_siblings
from test_errors import assert_failed_cleanly, corrupt_h5_chunk, corrupt_zarr_chunk, edit_attrs

N_OBS, N_VAR = 60, 20


def make(seed: int, *, dense: bool = False) -> ad.AnnData:
    rng = np.random.default_rng(seed)
    x = sp.random(N_OBS, N_VAR, density=0.3, format="csr", random_state=seed, dtype=np.float32)
    obs = pd.DataFrame(
        {
            "cell_type": pd.Categorical(rng.choice(["a", "b", "c"], N_OBS)),
            "n": rng.integers(0, 100, N_OBS),
            "nullable": pd.array(rng.integers(0, 5, N_OBS), dtype="Int64"),
            "label": pd.array([f"l{i % 7}" for i in range(N_OBS)], dtype="string"),
            "plain": pd.Series([f"p{i % 5}" for i in range(N_OBS)], dtype=object).values,
        },
        index=[f"s{seed}c{i}" for i in range(N_OBS)],
    )
    var = pd.DataFrame({"score": rng.standard_normal(N_VAR)}, index=[f"g{i}" for i in range(N_VAR)])
    adata = ad.AnnData(X=x.toarray() if dense else x, obs=obs, var=var)
    adata.layers["counts"] = x.copy()
    adata.obsm["pca"] = rng.standard_normal((N_OBS, 3))
    return adata


def write(adata: ad.AnnData, path: Path, fmt: str, **h5_kwargs) -> Path:
    if fmt == "h5ad" and h5_kwargs:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with ad.settings.override(allow_write_nullable_strings=True):
                adata.write_h5ad(path, convert_strings_to_categoricals=False, **h5_kwargs)
        return path
    return gen.write(adata, path, fmt)


# ----------------------------------------------------------- raw editing


def _zarr_root(path: Path):
    return zarr.open_group(path, mode="r+", use_consolidated=False)


def read_array(path: Path, node: str) -> np.ndarray:
    if path.is_file():
        with h5py.File(path, "r") as f:
            return f[node][()]
    return _zarr_root(path)[node][...]


def replace_array(path: Path, node: str, data: np.ndarray, attrs: dict | None = None) -> None:
    """Replaces the node at `node` with the array `data`, keeping its attributes
    (or setting `attrs`)."""
    data = np.asarray(data)
    if path.is_file():
        with h5py.File(path, "r+") as f:
            attrs = dict(f[node].attrs) if attrs is None else attrs
            del f[node]
            if data.dtype.kind in "UO":
                f.create_dataset(node, data=data.astype(object), dtype=h5py.string_dtype())
            else:
                f.create_dataset(node, data=data)
            f[node].attrs.update(attrs)
        return
    root = _zarr_root(path)
    attrs = dict(root[node].attrs) if attrs is None else attrs
    parent, _, name = node.rpartition("/")
    group = root[parent] if parent else root
    del group[name]
    if data.dtype.kind in "UO":
        arr = group.create_array(name, shape=data.shape, dtype=str)
        arr[...] = data.astype(str)
    else:
        arr = group.create_array(name, shape=data.shape, dtype=data.dtype)
        if data.size:
            arr[...] = data
    arr.attrs.update(attrs)
    zarr.consolidate_metadata(path)


def delete_node(path: Path, node: str) -> None:
    if path.is_file():
        with h5py.File(path, "r+") as f:
            del f[node]
        return
    root = _zarr_root(path)
    parent, _, name = node.rpartition("/")
    del (root[parent] if parent else root)[name]
    zarr.consolidate_metadata(path)


def frame_arrays(path: Path, frame: str) -> list[str]:
    """Every array below the dataframe `frame` (columns and their parts)."""
    out = []
    if path.is_file():
        with h5py.File(path, "r") as f:
            f[frame].visititems(lambda n, o: out.append(f"{frame}/{n}") if isinstance(o, h5py.Dataset) else None)
        return out
    root = _zarr_root(path)
    for name, _ in root[frame].arrays():
        out.append(f"{frame}/{name}")
    for name, g in root[frame].groups():
        for part, _ in g.arrays():
            out.append(f"{frame}/{name}/{part}")
    return out


def shorten_frame(path: Path, frame: str, n: int) -> None:
    """Cuts every row-aligned array of the dataframe to `n` rows (categories stay)."""
    for node in frame_arrays(path, frame):
        if node.endswith("/categories"):
            continue
        replace_array(path, node, read_array(path, node)[:n])


# ----------------------------------------------------------------- cases


@dataclass
class Case:
    damage: Callable[[Path], None]
    element: str | None
    words: tuple[str, ...]
    dense: bool = False
    formats: tuple[str, ...] = gen.FORMATS
    h5_kwargs: dict | None = None


def _set_attr(node, key, value):
    return lambda p: edit_attrs(p, node, lambda a: a.__setitem__(key, value))


def _pop_attr(node, key):
    return lambda p: edit_attrs(p, node, lambda a: a.pop(key))


def _indptr(change):
    def damage(p):
        ptr = read_array(p, "X/indptr").astype(np.int64)
        replace_array(p, "X/indptr", change(ptr))

    return damage


def _not_monotone(ptr):
    mid = len(ptr) // 2
    ptr[mid] = ptr[-1]  # jumps to the end, then back
    return ptr


def _first_nonzero(ptr):
    ptr[0] = 1
    return ptr


def _last_short(ptr):
    ptr[-1] -= 1
    return ptr


def _indices(value):
    def damage(p):
        idx = read_array(p, "X/indices").astype(np.int32)
        idx[len(idx) // 2] = value
        replace_array(p, "X/indices", idx)

    return damage


def _drop_last(node):
    return lambda p: replace_array(p, node, read_array(p, node)[:-1])


def _codes_out_of_range(p):
    codes = read_array(p, "obs/cell_type/codes")
    codes[5] = 7  # 3 categories
    replace_array(p, "obs/cell_type/codes", codes)


def _dup_var_names(p):
    names = read_array(p, "var/_index/values")
    names[3] = names[2]
    replace_array(p, "var/_index/values", names)


def _string_values_of_floats(p):
    """Index stored as nullable-string-array whose values are floats.

    (Integers are accepted on purpose: numeric names written raw.)"""
    replace_array(p, "obs/_index/values", np.arange(N_OBS) + 0.5)


def _string_array_of_floats(p):
    """A column with encoding string-array whose array holds floats."""
    attrs = {"encoding-type": "string-array", "encoding-version": "0.2.0"}
    replace_array(p, "obs/plain", np.arange(N_OBS) + 0.5, attrs)


def _dense_string_x(p):
    replace_array(p, "X", np.full((N_OBS, N_VAR), "x"))


def _dense_x_rows(p):
    replace_array(p, "X", read_array(p, "X")[:-1])


def _truncate_file(p):
    size = p.stat().st_size
    with open(p, "r+b") as f:
        f.truncate(size // 2)


def _bad_json(meta: str, node: str):
    def damage(p):
        (p / node / meta).write_text('{"zarr_format": 3, "shape": [')
        cons = p / ("zarr.json" if meta == "zarr.json" else ".zmetadata")
        # Consolidated metadata would hide the broken file: drop it, as a damaged
        # store would not have it in sync either.
        if meta == ".zarray" and cons.exists():
            cons.unlink()
        if meta == "zarr.json":
            import json

            root = json.loads(cons.read_text())
            root.pop("consolidated_metadata", None)
            cons.write_text(json.dumps(root))

    return damage


def _corrupt_chunk(p):
    if p.is_file():
        corrupt_h5_chunk(p, "X/data")
    else:
        corrupt_zarr_chunk(p, "X/data")


def _obs_is_array(p):
    delete_node(p, "obs")
    if p.is_file():
        with h5py.File(p, "r+") as f:
            f["obs"] = np.arange(N_OBS)
            f["obs"].attrs.update({"encoding-type": "array", "encoding-version": "0.2.0"})
    else:
        arr = _zarr_root(p).create_array("obs", shape=(N_OBS,), dtype="i8")
        arr[...] = np.arange(N_OBS)
        arr.attrs.update({"encoding-type": "array", "encoding-version": "0.2.0"})
        zarr.consolidate_metadata(p)


CASES: dict[str, Case] = {
    "root_encoding_dataframe": Case(_set_attr("", "encoding-type", "dataframe"), None, ("not an AnnData",)),
    "x_unknown_encoding": Case(_set_attr("X", "encoding-type", "csr_matrx"), "X", ("unsupported", "csr_matrx")),
    "x_unsupported_version": Case(_set_attr("X", "encoding-version", "9.9.9"), "X", ("unsupported", "9.9.9")),
    "csr_shape_vs_indptr": Case(_set_attr("X", "shape", [N_OBS + 1, N_VAR]), "X", ("indptr",)),
    "csr_shape_missing": Case(_pop_attr("X", "shape"), "X", ("shape",)),
    "indptr_not_from_zero": Case(_indptr(_first_nonzero), "X", ("indptr",)),
    "indptr_not_monotone": Case(_indptr(_not_monotone), "X", ("indptr",)),
    "indptr_end_not_nnz": Case(_indptr(_last_short), "X", ("indptr",)),
    "indptr_float": Case(lambda p: replace_array(p, "X/indptr", read_array(p, "X/indptr") + 0.5), "X", ("indptr",)),
    "indices_len_vs_data": Case(_drop_last("X/indices"), "X", ("indices",)),
    "index_out_of_range": Case(_indices(N_VAR), "X", ("index",)),
    "index_negative": Case(_indices(-1), "X", ("negative",)),
    "data_2d": Case(lambda p: replace_array(p, "X/data", read_array(p, "X/data")[:, None]), "X", ("data",)),
    "dense_x_rows": Case(_dense_x_rows, "X", ("shape",), dense=True),
    "dense_x_strings": Case(_dense_string_x, "X", ("str",), dense=True),
    "obs_shorter_than_x": Case(lambda p: shorten_frame(p, "obs", N_OBS - 1), "X", ("shape",)),
    "var_shorter_than_x": Case(lambda p: shorten_frame(p, "var", N_VAR - 1), "X", ("shape",)),
    "layer_shape": Case(_set_attr("layers/counts", "shape", [N_OBS, N_VAR + 1]), "layers/counts", ("shape",)),
    "obsm_rows": Case(lambda p: replace_array(p, "obsm/pca", read_array(p, "obsm/pca")[:-1]), "obsm/pca", ("rows",)),
    "obs_not_a_group": Case(_obs_is_array, "obs", ("obs",)),
    "duplicate_var_names": Case(_dup_var_names, "var", ("twice",)),
    "categorical_codes_out_of_range": Case(_codes_out_of_range, "obs/cell_type", ("code",)),
    "categorical_missing_categories": Case(lambda p: delete_node(p, "obs/cell_type/categories"), "obs/cell_type", ("categories",)),
    "categorical_missing_ordered": Case(_pop_attr("obs/cell_type", "ordered"), "obs/cell_type", ("ordered",)),
    "column_order_names_missing": Case(_set_attr("obs", "column-order", ["cell_type", "n", "nope"]), "obs", ("nope",)),
    "column_order_missing": Case(_pop_attr("obs", "column-order"), "obs", ("column-order",)),
    "index_attr_names_missing": Case(_set_attr("obs", "_index", "nope"), "obs", ("nope",)),
    "column_wrong_length": Case(_drop_last("obs/n"), "obs/n", ("rows",)),
    "nullable_mask_length": Case(_drop_last("obs/nullable/mask"), "obs/nullable", ("mask",)),
    "nullable_values_length": Case(_drop_last("obs/nullable/values"), "obs/nullable", ("values",)),
    "index_not_a_string_group": Case(lambda p: replace_array(p, "obs/_index", np.arange(N_OBS)), "obs/_index", ("nullable-string-array",)),
    "nullable_string_values_of_floats": Case(_string_values_of_floats, "obs/_index", ("strings",)),
    "string_array_of_floats": Case(_string_array_of_floats, "obs/plain", ("strings",)),
    "corrupt_chunk_x_data": Case(_corrupt_chunk, "X", (), h5_kwargs={"compression": "gzip"}),
    "truncated_h5ad": Case(_truncate_file, None, (), formats=("h5ad",)),
    "zarr2_bad_zarray_json": Case(_bad_json(".zarray", "X/indptr"), "X", (), formats=("zarr2",)),
    "zarr3_bad_zarr_json": Case(_bad_json("zarr.json", "X/indptr"), "X", (), formats=("zarr3",)),
}

PARAMS = [pytest.param(name, fmt, id=f"{name}-{fmt}") for name, case in CASES.items() for fmt in case.formats]


def tree_hash(path: Path) -> str:
    h = hashlib.sha256()
    if path.is_file():
        h.update(path.read_bytes())
        return h.hexdigest()
    for p in sorted(path.rglob("*")):
        h.update(str(p.relative_to(path)).encode())
        if p.is_file():
            h.update(p.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    """One valid input, and a valid earlier output of concatenating it twice."""
    root = tmp_path_factory.mktemp("good")
    src = write(make(1), root / "good.zarr", "zarr3")
    return src


@pytest.mark.parametrize(("name", "fmt"), PARAMS)
def test_corrupt_input(run_adcat, tmp_path, good, name, fmt):
    case = CASES[name]
    bad = write(make(2, dense=case.dense), tmp_path / f"bad{gen.suffix(fmt)}", fmt, **(case.h5_kwargs or {}))
    case.damage(bad)
    # New output: nothing may appear.
    dst = out_path(tmp_path, "zarr3", "fresh")
    assert_failed_cleanly(run_adcat("concat", good, bad, "-o", dst, "--quiet"), bad, dst, element=case.element, words=case.words)
    # Existing output with --overwrite: left byte for byte; h5ad output this time.
    dst = out_path(tmp_path, "h5ad", "kept")
    rc, _, err = run_adcat("concat", good, good, "-o", dst, "--quiet")
    assert rc == 0, err
    before = tree_hash(dst)
    result = run_adcat("concat", bad, good, "-o", dst, "--quiet", "--overwrite")
    assert_failed_cleanly(result, bad, None, element=case.element, words=case.words)
    assert tree_hash(dst) == before, "a failed --overwrite run changed the existing output"
    assert not temp_siblings(dst)


@pytest.mark.parametrize("join", ["inner", "outer"])
def test_missing_x_is_accepted_like_anndata(run_adcat, tmp_path, good, join):
    """anndata.concat accepts an input without X (outer: padded, inner: no X), so adcat does too."""
    other = make(3)
    other.X = None
    src = write(other, tmp_path / "nox.h5ad", "h5ad")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = ad.concat([gen.read(good), gen.read(src)], join=join)
    dst = out_path(tmp_path, "zarr3")
    rc, _, err = run_adcat("concat", good, src, "-o", dst, "--join", join, "--quiet")
    assert rc == 0, err
    got = gen.read(dst)
    assert got.shape == expected.shape
    assert (got.X is None) == (expected.X is None)


def test_duplicate_var_names_fail_like_anndata_even_when_identical(run_adcat, tmp_path):
    """anndata refuses duplicated var names even when every input has the same ones."""
    adata = make(4)
    adata.var_names = ["g0", "g0", *adata.var_names[2:]]
    src = write(adata, tmp_path / "dup.h5ad", "h5ad")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(Exception, match="uniquely valued"):
            ad.concat([gen.read(src), gen.read(src)], join="outer")
    dst = out_path(tmp_path, "zarr3")
    assert_failed_cleanly(run_adcat("concat", src, src, "-o", dst, "--quiet"), src, dst, element="var", words=("twice",))
