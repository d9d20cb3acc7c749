"""What a store holds on disk, read without anndata or adcat.

`nodes(path)` lists every group and array of an .h5ad file or a Zarr v2/v3
directory with its attributes and, for arrays, shape, dtype, chunking, sharding
and codecs, normalised across the three formats.  The layout tests and the
inspect tests compare adcat's claims and outputs with this.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np


@dataclass
class Node:
    path: str  # "" for the root, "obs/cell_type" below it
    kind: str  # "group" or "array"
    attrs: dict
    shape: tuple[int, ...] | None = None
    dtype: str | None = None  # numpy name ("float32") or "str"
    chunks: tuple[int, ...] | None = None  # inner chunk when sharded
    shards: tuple[int, ...] | None = None
    codecs: list[dict] = field(default_factory=list)  # {"name": ..., **config}

    @property
    def itemsize(self) -> int | None:
        return None if self.dtype in (None, "str") else np.dtype(self.dtype).itemsize

    @property
    def size(self) -> int:
        return int(np.prod(self.shape)) if self.shape is not None else 0

    def codec_names(self) -> list[str]:
        return [c["name"] for c in self.codecs]


def nodes(path: Path) -> dict[str, Node]:
    path = Path(path)
    if path.is_file():
        return _h5_nodes(path)
    if (path / "zarr.json").is_file():
        return _zarr3_nodes(path)
    return _zarr2_nodes(path)


def _dtype_name(dt: np.dtype) -> str:
    if dt.kind in "OSUT" or h5py.check_string_dtype(dt) is not None:
        return "str"
    return dt.name


def _attr(value):
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.ndarray):
        return [_attr(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _h5_nodes(path: Path) -> dict[str, Node]:
    out: dict[str, Node] = {}
    with h5py.File(path, "r") as f:

        def add(name: str, obj) -> None:
            attrs = {k: _attr(v) for k, v in obj.attrs.items()}
            if isinstance(obj, h5py.Group):
                out[name] = Node(name, "group", attrs)
                return
            codecs = []
            if obj.compression:
                codecs.append({"name": obj.compression, "level": obj.compression_opts})
            out[name] = Node(
                name,
                "array",
                attrs,
                shape=tuple(obj.shape) if obj.shape is not None else None,
                dtype=_dtype_name(obj.dtype),
                chunks=tuple(obj.chunks) if obj.chunks else None,
                codecs=codecs,
            )

        add("", f)
        f.visititems(add)
    return out


def _zarr2_codec(conf: dict) -> dict:
    conf = dict(conf)
    return {"name": conf.pop("id"), **conf}


def _zarr2_nodes(root: Path) -> dict[str, Node]:
    out: dict[str, Node] = {}
    for meta in sorted([*root.rglob(".zgroup"), *root.rglob(".zarray")]):
        folder = meta.parent
        name = folder.relative_to(root).as_posix()
        name = "" if name == "." else name
        attrs_file = folder / ".zattrs"
        attrs = json.loads(attrs_file.read_text()) if attrs_file.exists() else {}
        if meta.name == ".zgroup":
            out[name] = Node(name, "group", attrs)
            continue
        m = json.loads(meta.read_text())
        codecs = [_zarr2_codec(c) for c in (m.get("filters") or [])]
        if m.get("compressor"):
            codecs.append(_zarr2_codec(m["compressor"]))
        dtype = np.dtype(m["dtype"]) if not isinstance(m["dtype"], list) else np.dtype("V")
        out[name] = Node(
            name,
            "array",
            attrs,
            shape=tuple(m["shape"]),
            dtype=_dtype_name(dtype),
            chunks=tuple(m["chunks"]),
            codecs=codecs,
        )
    return out


def _v3_codecs(codecs: list[dict]) -> list[dict]:
    return [{"name": c["name"], **c.get("configuration", {})} for c in codecs]


def _zarr3_nodes(root: Path) -> dict[str, Node]:
    out: dict[str, Node] = {}
    for meta in sorted(root.rglob("zarr.json")):
        name = meta.parent.relative_to(root).as_posix()
        name = "" if name == "." else name
        m = json.loads(meta.read_text())
        attrs = m.get("attributes", {})
        if m["node_type"] == "group":
            out[name] = Node(name, "group", attrs)
            continue
        chunks = tuple(m["chunk_grid"]["configuration"]["chunk_shape"])
        codecs = _v3_codecs(m["codecs"])
        shards = None
        if codecs and codecs[0]["name"] == "sharding_indexed":
            shards, chunks = chunks, tuple(codecs[0]["chunk_shape"])
            codecs = codecs + _v3_codecs(codecs[0]["codecs"])
        dt = m["data_type"]
        dtype = "str" if dt in ("string", "variable_length_utf8") else np.dtype(dt).name
        out[name] = Node(
            name, "array", attrs, shape=tuple(m["shape"]), dtype=dtype, chunks=chunks, shards=shards, codecs=codecs
        )
    return out


def arrays(path: Path) -> list[Node]:
    return [n for n in nodes(path).values() if n.kind == "array"]


def zarr_format_on_disk(path: Path) -> int:
    """2 or 3, and checks the store is not a mix of both."""
    path = Path(path)
    v3 = list(path.rglob("zarr.json"))
    v2 = [*path.rglob(".zgroup"), *path.rglob(".zarray")]
    assert not (v2 and v3), f"{path}: both Zarr v2 and v3 metadata ({v2[0]}, {v3[0]})"
    assert v2 or v3, f"{path}: no Zarr metadata"
    return 3 if v3 else 2


def tree_bytes(root: Path) -> dict[str, bytes]:
    """Every file of a store by its path inside it (a single-file store under "")."""
    if root.is_file():
        return {"": root.read_bytes()}
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def out_path(tmp_path: Path, fmt: str, stem: str = "out") -> Path:
    return tmp_path / f"{stem}{'.h5ad' if fmt == 'h5ad' else '.zarr'}"


def zarr_flags(fmt: str) -> list[str]:
    """Flags that select `fmt` for an output (Zarr v3 is adcat's default: no flag)."""
    return ["--zarr-format", "2"] if fmt == "zarr2" else []


def temp_siblings(path: Path) -> list[Path]:
    """Temporary outputs adcat may have left next to `path`."""
    return sorted(Path(path).parent.glob(f".{Path(path).name}.adcat-tmp-*"))
