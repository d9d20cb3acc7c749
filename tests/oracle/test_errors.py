"""Bad inputs: exit 1, one line `adcat: error: FILE:/ELEMENT: what`, nothing written.

Each damaged input starts as a store anndata wrote, changed with h5py or zarr.
"""

from __future__ import annotations

import json
import re

import anndata as ad
import h5py
import numpy as np
import pandas as pd
import pytest
import zarr

import gen
import stores
from stores import out_path, temp_siblings

FORMATS = gen.FORMATS
OUT_FORMATS = ["h5ad", "zarr3"]


def base_object() -> ad.AnnData:
    """Dense X large enough to span several chunks, plus the elements the cases damage."""
    rng = np.random.default_rng(0)
    adata = ad.AnnData(
        X=rng.standard_normal((200, 50)),
        obs=pd.DataFrame({"cell_type": pd.Categorical(rng.choice(["a", "b"], 200))}, index=[f"c{i}" for i in range(200)]),
    )
    adata.obsm["bad"] = rng.standard_normal((200, 3))
    adata.uns["thing"] = {"x": np.arange(3)}
    return adata


def write_base(tmp_path, fmt, **kwargs):
    path = tmp_path / f"in{gen.suffix(fmt)}"
    if fmt == "h5ad" and kwargs:
        base_object().write_h5ad(path, **kwargs)
        return path
    return gen.write(base_object(), path, fmt)


def edit_attrs(path, node: str, change) -> None:
    """Applies `change(attrs_dict)` to the attributes of `node`, on disk, in any format.

    Zarr stores written by anndata carry consolidated metadata; it is rewritten so
    that a reader trusting it sees the change too.
    """
    if path.is_file():
        with h5py.File(path, "r+") as f:
            obj = f[node] if node else f
            attrs = dict(obj.attrs)
            change(attrs)
            for key in list(obj.attrs):
                if key not in attrs:
                    del obj.attrs[key]
            for key, value in attrs.items():
                obj.attrs[key] = value
        return
    root = zarr.open_group(path, mode="r+", use_consolidated=False)
    obj = root[node] if node else root
    attrs = dict(obj.attrs)
    change(attrs)
    for key in list(obj.attrs):
        if key not in attrs:
            del obj.attrs[key]
    obj.attrs.update(attrs)
    zarr.consolidate_metadata(path)


def assert_failed_cleanly(result, src, dst, *, element: str | None, words: tuple[str, ...] = ()):
    rc, out, err = result
    assert rc == 1, f"expected exit 1, got {rc}\n{result}"
    assert out == "", f"stdout not empty: {out!r}"
    lines = err.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}:\n{err}"
    line = lines[0]
    assert line.startswith("adcat: error: "), line
    assert str(src) in line, f"message does not name the input {src}: {line}"
    if element is not None:
        names_it = re.search(re.escape(f"{src}:/{element}") + r"\b", line) is not None
        assert names_it, f"message does not name {src}:/{element}: {line}"
    for word in words:
        assert word in line, f"message lacks {word!r}: {line}"
    if dst is not None:
        assert not dst.exists(), f"{dst} exists after a failed run"
        assert not temp_siblings(dst), f"temporary output left behind: {temp_siblings(dst)}"


# ------------------------------------------------------------------- cases


@pytest.mark.parametrize("fmt", FORMATS)
def test_not_anndata(run_adcat, tmp_path, fmt):
    """A valid HDF5 file / Zarr group without `encoding-type: anndata` at the root."""
    src = tmp_path / f"plain{gen.suffix(fmt)}"
    if fmt == "h5ad":
        with h5py.File(src, "w") as f:
            f["values"] = np.arange(10)
    else:
        root = zarr.open_group(src, mode="w", zarr_format=int(fmt[-1]))
        root.create_array("values", data=np.arange(10))
    dst = out_path(tmp_path, "zarr3")
    assert_failed_cleanly(run_adcat("convert", src, dst), src, dst, element=None)


@pytest.mark.parametrize("fmt", FORMATS)
def test_root_encoding_removed(run_adcat, tmp_path, fmt):
    src = write_base(tmp_path, fmt)
    edit_attrs(src, "", lambda a: a.pop("encoding-type"))
    dst = out_path(tmp_path, "h5ad", "out")
    assert_failed_cleanly(run_adcat("convert", src, dst), src, dst, element=None)


def test_not_hdf5_at_all(run_adcat, tmp_path):
    src = tmp_path / "text.h5ad"
    src.write_text("this is not an HDF5 file\n")
    dst = out_path(tmp_path, "zarr3")
    assert_failed_cleanly(run_adcat("convert", src, dst), src, dst, element=None)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("node", ["obsm/bad", "obs/cell_type", "uns/thing"])
def test_missing_encoding_type(run_adcat, tmp_path, fmt, node):
    src = write_base(tmp_path, fmt)

    def drop(attrs):
        attrs.pop("encoding-type")
        attrs.pop("encoding-version", None)

    edit_attrs(src, node, drop)
    dst = out_path(tmp_path, "zarr3")
    assert_failed_cleanly(run_adcat("convert", src, dst), src, dst, element=node, words=("encoding-type",))


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("encoding", ["awkward-array", "no-such-encoding"])
def test_unsupported_encoding(run_adcat, tmp_path, fmt, encoding):
    src = write_base(tmp_path, fmt)
    edit_attrs(src, "uns/thing", lambda a: a.update({"encoding-type": encoding, "encoding-version": "0.1.0"}))
    dst = out_path(tmp_path, "h5ad")
    assert_failed_cleanly(
        run_adcat("convert", src, dst), src, dst, element="uns/thing", words=("unsupported element", "uns/thing")
    )


def corrupt_zarr_chunk(store, array: str) -> None:
    """Overwrites one chunk (or shard) file of `array` with garbage of another length."""
    folder = store / array
    chunk_files = [
        p for p in folder.rglob("*") if p.is_file() and p.name not in ("zarr.json", ".zarray", ".zattrs")
    ]
    assert chunk_files, f"no chunk files under {folder}"
    victim = sorted(chunk_files)[len(chunk_files) // 2]
    victim.write_bytes(np.random.default_rng(0).bytes(max(16, victim.stat().st_size // 2 + 7)))


def corrupt_h5_chunk(path, dataset: str) -> None:
    """Scribbles over the middle of one compressed chunk of `dataset`."""
    with h5py.File(path, "r") as f:
        ds = f[dataset]
        assert ds.chunks and ds.compression, f"{dataset}: not a compressed chunked dataset"
        info = ds.id.get_chunk_info(ds.id.get_num_chunks() // 2)
    with open(path, "r+b") as f:
        f.seek(info.byte_offset + info.size // 4)
        f.write(b"\xde\xad\xbe\xef" * max(1, info.size // 8))


@pytest.mark.parametrize("out_fmt", OUT_FORMATS)
@pytest.mark.parametrize("fmt", FORMATS)
def test_corrupt_chunk(run_adcat, tmp_path, fmt, out_fmt):
    if fmt == "h5ad":
        src = write_base(tmp_path, fmt, compression="gzip")
        corrupt_h5_chunk(src, "X")
    else:
        src = write_base(tmp_path, fmt)
        corrupt_zarr_chunk(src, "X")
    with pytest.raises(Exception):  # the damage is real: anndata cannot read it either
        gen.read(src).X.sum()
    dst = out_path(tmp_path, out_fmt)
    assert_failed_cleanly(run_adcat("convert", src, dst), src, dst, element="X")


@pytest.mark.parametrize("out_fmt", OUT_FORMATS)
def test_missing_input(run_adcat, tmp_path, out_fmt):
    src = tmp_path / "absent.h5ad"
    dst = out_path(tmp_path, out_fmt)
    assert_failed_cleanly(run_adcat("convert", src, dst), src, dst, element=None)


def test_missing_zarr_input(run_adcat, tmp_path):
    src = tmp_path / "absent.zarr"
    dst = out_path(tmp_path, "h5ad")
    assert_failed_cleanly(run_adcat("convert", src, dst), src, dst, element=None)


@pytest.mark.parametrize("fmt", FORMATS)
def test_inspect_reports_errors_too(run_adcat, tmp_path, fmt):
    src = write_base(tmp_path, fmt)
    edit_attrs(src, "obsm/bad", lambda a: a.pop("encoding-type"))
    for args in (["inspect", src], ["inspect", src, "--json"]):
        assert_failed_cleanly(run_adcat(*args), src, None, element="obsm/bad")


def test_failed_run_keeps_existing_output(run_adcat, tmp_path):
    """--overwrite with a bad input leaves the old output as it was."""
    src = write_base(tmp_path, "zarr3")
    corrupt_zarr_chunk(src, "X")
    dst = out_path(tmp_path, "h5ad")
    gen.write(gen.CASES["empty_dense"](), dst, "h5ad")
    before = dst.read_bytes()
    rc, out, err = run_adcat("convert", src, dst, "--overwrite")
    assert rc == 1, err
    assert dst.read_bytes() == before, "existing output changed by a failed --overwrite run"
    assert not temp_siblings(dst)
