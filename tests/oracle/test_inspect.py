"""`adcat inspect`: the element tree and array layout, checked against the store itself."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import gen
import stores
from stores import zarr_flags

FORMAT_NAMES = {"h5ad": "h5ad", "zarr2": "zarr v2", "zarr3": "zarr v3"}
SPARSE = {"csr_matrix", "csc_matrix"}
# A mix of encodings: categoricals, nullables, strings, sparse, raw, nested uns.
OBJECTS = ["seed3", "raw", "nested_uns", "nullable", "empty"]


def inspect_json(run_adcat, path) -> dict:
    result = run_adcat("inspect", path, "--json")
    assert result.rc == 0, f"adcat inspect --json {path}\n{result}"
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError as e:
        raise AssertionError(f"inspect --json printed no JSON ({e}):\n{result.stdout[:2000]}") from None
    for key in ("path", "format", "elements", "arrays"):
        assert key in report, f"report lacks {key!r}; it has {sorted(report)}"
    return report


def by_path(rows: list[dict], what: str) -> dict[str, dict]:
    for row in rows:
        assert "path" in row, f"{what} row without 'path': {row}"
    paths = [row["path"] for row in rows]
    duplicated = {p for p in paths if paths.count(p) > 1}
    assert not duplicated, f"{what} listed twice: {sorted(duplicated)}"
    return {row["path"]: row for row in rows}


def field(row: dict, key: str, what: str):
    assert key in row, f"{what} {row.get('path')!r}: no {key!r} field (has {sorted(row)})"
    return row[key]


def expected_elements(found: dict[str, stores.Node]) -> dict[str, stores.Node]:
    """Every node with an encoding-type (sparse data/indices/indptr have none)."""
    return {path: node for path, node in found.items() if "encoding-type" in node.attrs}


ZARR_METADATA = {".zarray", ".zattrs", ".zgroup", "zarr.json", ".zmetadata"}


def bytes_on_disk(path, fmt: str, node: str) -> int:
    """What the array at `node` takes on disk: HDF5's own count of the dataset's storage,
    or for Zarr the size of its chunk (shard) files, metadata documents left out."""
    if fmt == "h5ad":
        import h5py

        with h5py.File(path, "r") as f:
            return f[node].id.get_storage_size()
    root = Path(path) / node
    return sum(f.stat().st_size for f in root.rglob("*") if f.is_file() and f.name not in ZARR_METADATA)


def check_report(report: dict, path, fmt: str) -> None:
    assert report["format"] == FORMAT_NAMES[fmt], f"format {report['format']!r}, expected {FORMAT_NAMES[fmt]!r}"
    assert str(path) in report["path"] or path.name in report["path"], report["path"]
    found = stores.nodes(path)
    elements = by_path(report["elements"], "element")
    expected = expected_elements(found)
    assert set(elements) == set(expected), (
        f"elements missing: {sorted(set(expected) - set(elements))}; unexpected: {sorted(set(elements) - set(expected))}"
    )
    assert "" in elements and field(elements[""], "encoding_type", "element") == "anndata"
    for p, node in expected.items():
        row = elements[p]
        enc = node.attrs["encoding-type"]
        assert field(row, "encoding_type", "element") == enc, f"{p!r}: {row['encoding_type']} != {enc}"
        assert field(row, "encoding_version", "element") == node.attrs["encoding-version"], p
        if enc in SPARSE:
            assert list(field(row, "shape", "element")) == list(node.attrs["shape"]), p
            assert field(row, "nnz", "element") == found[f"{p}/data"].shape[0], p
            assert field(row, "dtype", "element") == found[f"{p}/data"].dtype, p
        elif enc in ("array", "numeric-scalar") and node.kind == "array" and node.shape is not None:
            assert list(field(row, "shape", "element")) == list(node.shape), p
            assert field(row, "dtype", "element") == node.dtype, f"{p!r}: dtype {row['dtype']} != {node.dtype}"

    arrays = by_path(report["arrays"], "array")
    # A null element (anndata writes `None`, and 0.13 an absent raw, as one) holds no data.
    on_disk = {p: n for p, n in found.items() if n.kind == "array" and n.attrs.get("encoding-type") != "null"}
    assert set(arrays) == set(on_disk), (
        f"arrays missing: {sorted(set(on_disk) - set(arrays))}; unexpected: {sorted(set(arrays) - set(on_disk))}"
    )
    for p, node in on_disk.items():
        row = arrays[p]
        if node.shape is not None:
            assert list(field(row, "shape", "array")) == list(node.shape), p
        if node.dtype != "str":
            assert field(row, "dtype", "array") == node.dtype, f"{p!r}: dtype {row['dtype']} != {node.dtype}"
        assert isinstance(field(row, "codecs", "array"), list), p
        stored = field(row, "stored_bytes", "array")
        assert stored == bytes_on_disk(path, fmt, p), f"{p!r}: stored_bytes {stored}"
        chunks = field(row, "chunks", "array")
        if fmt != "h5ad" and node.chunks != ():  # 0-d arrays: [] or null, either will do
            assert chunks is not None and tuple(chunks) == node.chunks, f"{p!r}: chunks {chunks} != {node.chunks}"
        shards = field(row, "shards", "array")
        assert (None if shards is None else tuple(shards)) == node.shards, f"{p!r}: shards {shards} != {node.shards}"


@pytest.mark.parametrize("fmt", gen.FORMATS)
@pytest.mark.parametrize("name", OBJECTS)
def test_inspect_anndata_store(run_adcat, inputs, name, fmt):
    path = inputs.paths(name)[fmt]
    check_report(inspect_json(run_adcat, path), path, fmt)


@pytest.mark.parametrize("fmt", gen.FORMATS)
def test_inspect_adcat_output(run_adcat, convert_ok, inputs, tmp_path, fmt):
    """adcat's own layout (sharded v3, blosc) is reported as it is on disk."""
    dst = tmp_path / f"out{gen.suffix(fmt)}"
    convert_ok(inputs.paths("medium")["h5ad"], dst, *zarr_flags(fmt), "--chunk-size", "4KiB")
    report = inspect_json(run_adcat, dst)
    check_report(report, dst, fmt)
    x = by_path(report["arrays"], "array")["X"]
    if fmt == "zarr3":
        assert x["shards"] is not None
    if fmt != "h5ad":
        assert any("blosc" in c and "lz4" in c for c in x["codecs"]), f"X codecs {x['codecs']}"


@pytest.mark.parametrize("fmt", gen.FORMATS)
def test_inspect_table(run_adcat, inputs, fmt):
    result = run_adcat("inspect", inputs.paths("raw")[fmt])
    assert result.rc == 0, str(result)
    lines = result.stdout.splitlines()
    assert len(lines) > 3, result.stdout
    words = {line.split()[0] for line in lines if line.strip()}
    assert "X" in words or any(line.lstrip().startswith("X") for line in lines), f"no X row:\n{result.stdout}"
    assert any(line.lstrip().startswith("obs") for line in lines), f"no obs row:\n{result.stdout}"
    assert "csr_matrix" in result.stdout
