"""`adcat convert` against anndata: contents, formats, layout flags, CLI behaviour.

A conversion is correct when anndata reads adcat's output and gets
- the generated object back (`assert_equal(..., exact=True)`), and
- exactly what it reads from its own store in the output format (`compare.same`:
  dtypes, sparse formats and index dtypes, categories, nullables, key order).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from anndata.tests.helpers import assert_equal
from conftest import SEEDS

import compare
import gen
import stores
from stores import out_path, temp_siblings, zarr_flags

FORMATS = gen.FORMATS
SEED_NAMES = [f"seed{s}" for s in SEEDS]


def check_conversion(inputs, convert_ok, tmp_path, name, in_fmt, out_fmt, *flags):
    src = inputs.paths(name)[in_fmt]
    dst = out_path(tmp_path, out_fmt)
    convert_ok(src, dst, *zarr_flags(out_fmt), *flags)
    assert gen.detect_format(dst) == out_fmt, f"asked for {out_fmt}, got {gen.detect_format(dst)}"
    if out_fmt != "h5ad":
        assert stores.zarr_format_on_disk(dst) == int(out_fmt[-1])
    assert not temp_siblings(dst), f"temporary output left behind: {temp_siblings(dst)}"
    out = gen.read(dst)
    assert_equal(inputs.original(name), out, exact=True)
    compare.same(inputs.expected(name, out_fmt), out, "")
    return dst


@pytest.mark.parametrize("out_fmt", FORMATS)
@pytest.mark.parametrize("in_fmt", FORMATS)
@pytest.mark.parametrize("name", SEED_NAMES)
def test_random(inputs, convert_ok, tmp_path, name, in_fmt, out_fmt):
    check_conversion(inputs, convert_ok, tmp_path, name, in_fmt, out_fmt)


@pytest.mark.parametrize("out_fmt", FORMATS)
@pytest.mark.parametrize("in_fmt", FORMATS)
@pytest.mark.parametrize("name", sorted(gen.CASES))
def test_case(inputs, convert_ok, tmp_path, name, in_fmt, out_fmt):
    """0-row objects, int64 indices, categoricals, nullables, non-ASCII, nested uns, …"""
    check_conversion(inputs, convert_ok, tmp_path, name, in_fmt, out_fmt)


# ------------------------------------------------------------------- layout

STRUCTURAL = {"bytes", "sharding_indexed", "vlen-utf8", "vlen-bytes", "crc32c", "transpose", "endian"}


def compressors(node: stores.Node) -> list[dict]:
    return [c for c in node.codecs if c["name"] not in STRUCTURAL]


def numeric_arrays(path) -> list[stores.Node]:
    """Non-empty numeric arrays of at least one dimension: the ones compression must reach."""
    return [a for a in stores.arrays(path) if a.dtype != "str" and a.size > 0 and len(a.shape) >= 1]


def chunk_bytes(node: stores.Node, shape) -> int:
    return math.prod(shape) * node.itemsize


def expect_codec(node: stores.Node, compression: str, zarr_format: int | None) -> None:
    """Checks that `node` is compressed as `--compression compression` asks."""
    found = compressors(node)
    where = f"{node.path}: codecs {node.codecs}"
    kind, _, level = compression.partition(":")
    if kind == "none":
        assert found == [], f"{where}: expected no compression"
        return
    assert len(found) == 1, f"{where}: expected one {kind} compressor"
    codec = found[0]
    if kind == "lz4":
        assert codec["name"] == "blosc", f"{where}: lz4 must be Blosc-LZ4"
        assert codec["cname"] == "lz4", where
        assert codec["clevel"] == int(level or 5), where
        shuffle = codec["shuffle"]
        assert shuffle in ("shuffle", 1), f"{where}: expected byte shuffle"
    elif kind == "zstd":  # the zstd codec, or Blosc-Zstd (for Zarr v2)
        if codec["name"] == "blosc" and zarr_format == 2:
            assert codec["cname"] == "zstd", where
            codec = {"name": "zstd", "level": codec["clevel"]}
        assert codec["name"] == "zstd", where
        if level:
            assert codec["level"] == int(level), where
    elif kind == "gzip":
        assert codec["name"] in ("gzip", "zlib") if zarr_format else codec["name"] == "gzip", where
        if level:
            assert codec["level"] == int(level), where
    else:
        raise ValueError(compression)


@pytest.fixture(scope="module")
def medium(inputs):
    """A 300-row object whose matrices span several 4 KiB chunks."""
    return inputs.paths("medium")


def multi_chunk(node: stores.Node) -> bool:
    """Whether the array spans more than one chunk (a single-chunk array needs no shard)."""
    return any(c < s for c, s in zip(node.chunks, node.shape))


def test_default_zarr_is_v3_lz4(medium, inputs, convert_ok, tmp_path):
    dst = check_conversion(inputs, convert_ok, tmp_path, "medium", "h5ad", "zarr3")
    assert stores.zarr_format_on_disk(dst) == 3
    for node in numeric_arrays(dst):
        expect_codec(node, "lz4", 3)


def test_default_shard_size_shards(medium, inputs, convert_ok, tmp_path):
    """With chunks smaller than the arrays, the default --shard-size groups them in shards."""
    dst = check_conversion(inputs, convert_ok, tmp_path, "medium", "h5ad", "zarr3", "--chunk-size", "4KiB")
    sharded = [n.path for n in numeric_arrays(dst) if multi_chunk(n)]
    assert "X" in sharded
    for node in numeric_arrays(dst):
        if multi_chunk(node):
            assert node.shards is not None, f"{node.path}: not sharded (codecs {node.codecs})"
        if node.shards is not None:
            assert all(s % c == 0 for s, c in zip(node.shards, node.chunks)), f"{node.path}: {node.shards=} {node.chunks=}"


def test_default_h5ad_is_uncompressed(medium, inputs, convert_ok, tmp_path):
    dst = check_conversion(inputs, convert_ok, tmp_path, "medium", "zarr3", "h5ad")
    for node in numeric_arrays(dst):
        expect_codec(node, "none", None)


@pytest.mark.parametrize("in_fmt", FORMATS)
def test_zarr_v2_output(medium, inputs, convert_ok, tmp_path, in_fmt):
    dst = check_conversion(inputs, convert_ok, tmp_path, "medium", in_fmt, "zarr2")
    assert (dst / ".zgroup").is_file()
    assert not list(dst.rglob("zarr.json")), "Zarr v3 metadata in a v2 output"
    for node in numeric_arrays(dst):
        expect_codec(node, "lz4", 2)


@pytest.mark.parametrize("out_fmt", ["zarr2", "zarr3"])
@pytest.mark.parametrize("shard", ["32MiB", "none"])
def test_chunk_size(medium, inputs, convert_ok, tmp_path, out_fmt, shard):
    dst = check_conversion(
        inputs, convert_ok, tmp_path, "medium", "h5ad", out_fmt, "--chunk-size", "4KiB", "--shard-size", shard
    )
    x = stores.nodes(dst)["X"]
    assert x.chunks != x.shape, "X (94 KiB) was not split into 4 KiB chunks"
    for node in numeric_arrays(dst):
        assert chunk_bytes(node, node.chunks) <= 8 * 1024, f"{node.path}: chunk {node.chunks} of {node.dtype}"


def test_shard_size_none(medium, inputs, convert_ok, tmp_path):
    dst = check_conversion(inputs, convert_ok, tmp_path, "medium", "zarr2", "zarr3", "--shard-size", "none")
    for node in stores.arrays(dst):
        assert "sharding_indexed" not in node.codec_names(), f"{node.path} is sharded: {node.codecs}"
        assert node.shards is None


def test_shard_size(medium, inputs, convert_ok, tmp_path):
    flags = ("--chunk-size", "4KiB", "--shard-size", "16KiB")
    dst = check_conversion(inputs, convert_ok, tmp_path, "medium", "h5ad", "zarr3", *flags)
    x = stores.nodes(dst)["X"]
    assert x.shards is not None and x.shards != x.chunks, f"X: shards {x.shards}, chunks {x.chunks}"
    for node in numeric_arrays(dst):
        if multi_chunk(node):
            assert node.shards is not None, f"{node.path} is not sharded"
        if node.shards is None:
            continue
        assert all(s % c == 0 for s, c in zip(node.shards, node.chunks)), f"{node.path}: {node.shards=} {node.chunks=}"
        assert chunk_bytes(node, node.shards) <= 32 * 1024, f"{node.path}: shard {node.shards} of {node.dtype}"


ZARR_COMPRESSIONS = ["none", "lz4", "lz4:9", "zstd", "zstd:7", "gzip", "gzip:2"]


@pytest.mark.parametrize("compression", ZARR_COMPRESSIONS)
@pytest.mark.parametrize("out_fmt", ["zarr2", "zarr3"])
def test_compression_zarr(medium, inputs, convert_ok, tmp_path, out_fmt, compression):
    dst = check_conversion(inputs, convert_ok, tmp_path, "medium", "h5ad", out_fmt, "--compression", compression)
    for node in numeric_arrays(dst):
        expect_codec(node, compression, int(out_fmt[-1]))


@pytest.mark.parametrize("compression", ["none", "gzip", "gzip:4"])
def test_compression_h5ad(medium, inputs, convert_ok, tmp_path, compression):
    dst = check_conversion(inputs, convert_ok, tmp_path, "medium", "zarr3", "h5ad", "--compression", compression)
    for node in numeric_arrays(dst):
        expect_codec(node, compression, None)


def test_small_memory_budget(medium, inputs, convert_ok, tmp_path):
    """A budget far below the data still converts correctly (in more, smaller blocks)."""
    flags = ("--max-memory", "64KiB", "--chunk-size", "4KiB")
    check_conversion(inputs, convert_ok, tmp_path, "medium", "zarr3", "zarr3", *flags)
    (tmp_path / "h5").mkdir()
    check_conversion(inputs, convert_ok, tmp_path / "h5", "medium", "zarr3", "h5ad", "--max-memory", "64KiB")


# ------------------------------------------------------------------- CLI


@pytest.fixture
def small(inputs):
    return inputs.paths("nested_uns")


def snapshot(path):
    """File names and contents under `path`, to see that it was left untouched."""
    if path.is_file():
        return {"": path.read_bytes()}
    return {p.relative_to(path).as_posix(): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("out_fmt", ["h5ad", "zarr3"])
def test_existing_output_refused(small, run_adcat, tmp_path, out_fmt):
    dst = out_path(tmp_path, out_fmt)
    gen.write(gen.CASES["empty_dense"](), dst, out_fmt)
    before = snapshot(dst)
    rc, out, err = run_adcat("convert", small["h5ad"], dst, "--quiet")
    assert rc == 1, f"expected exit 1 for an existing output\n{err}"
    assert str(dst) in err or dst.name in err, f"message does not name {dst}: {err!r}"
    assert err.startswith("adcat: error: "), err
    assert snapshot(dst) == before, "existing output was modified"
    assert not temp_siblings(dst)


@pytest.mark.parametrize("out_fmt", ["h5ad", "zarr3", "zarr2"])
def test_overwrite_replaces(inputs, convert_ok, tmp_path, out_fmt):
    dst = out_path(tmp_path, out_fmt)
    gen.write(gen.CASES["empty_dense"](), dst, "zarr2" if out_fmt == "zarr3" else out_fmt)
    if dst.is_dir():
        (dst / "stray-file").write_text("left from the old store")
    convert_ok(inputs.paths("nested_uns")["h5ad"], dst, "--overwrite", *zarr_flags(out_fmt))
    assert gen.detect_format(dst) == out_fmt
    if dst.is_dir():
        assert not (dst / "stray-file").exists(), "old store's files survived --overwrite"
        assert stores.zarr_format_on_disk(dst) == int(out_fmt[-1])
    compare.same(inputs.expected("nested_uns", out_fmt), gen.read(dst), "")
    assert not temp_siblings(dst)


@pytest.mark.parametrize("out_fmt", ["h5ad", "zarr3"])
def test_quiet_prints_nothing(small, run_adcat, tmp_path, out_fmt):
    dst = out_path(tmp_path, out_fmt)
    result = run_adcat("convert", small["zarr3"], dst, "--quiet")
    assert (result.rc, result.stdout, result.stderr) == (0, "", ""), f"--quiet run printed something:\n{result}"


@pytest.mark.parametrize("name", ["out.zip", "out.txt", "out", "out.zarr.tmp", "out.h5ad.bak"])
def test_unknown_suffix_is_usage_error(small, run_adcat, tmp_path, name):
    dst = tmp_path / name
    rc, out, err = run_adcat("convert", small["h5ad"], dst, "--quiet")
    assert rc == 2, f"{name}: expected exit 2, got {rc}\n{err}"
    assert not dst.exists()
    assert not temp_siblings(dst)


@pytest.mark.parametrize("compression", ["lz4", "lz4:3", "zstd", "zstd:5"])
def test_h5ad_refuses_non_hdf5_codecs(small, run_adcat, tmp_path, compression):
    dst = tmp_path / "out.h5ad"
    rc, out, err = run_adcat("convert", small["zarr3"], dst, "--compression", compression, "--quiet")
    assert rc == 2, f"--compression {compression} to .h5ad: expected exit 2, got {rc}\n{err}"
    assert not dst.exists()


@pytest.mark.parametrize(
    "flags",
    [
        ["--zarr-format", "4"],
        ["--compression", "brotli"],
        ["--chunk-size", "lots"],
        ["--shard-size", "big"],
        ["--chunk-size", "1MiB", "--shard-size", "4KiB"],
    ],
    ids=["zarr-format", "compression", "chunk-size", "shard-size", "shard-below-chunk"],
)
def test_bad_flags_are_usage_errors(small, run_adcat, tmp_path, flags):
    dst = tmp_path / "out.zarr"
    rc, out, err = run_adcat("convert", small["h5ad"], dst, *flags, "--quiet")
    assert rc == 2, f"{flags}: expected exit 2, got {rc}\n{err}"
    assert not dst.exists()


def test_input_left_untouched(inputs, convert_ok, tmp_path):
    src = inputs.paths("categoricals")["zarr2"]
    before = snapshot(src)
    convert_ok(src, tmp_path / "out.zarr")
    assert snapshot(src) == before


def test_dtype_values_bitwise(inputs, convert_ok, tmp_path):
    """Float payloads are copied bit for bit (NaN payloads, -0.0), not just compared equal."""
    import anndata as ad

    x = np.array([[0.0, -0.0, np.nan], [np.inf, -np.inf, 1e-310]], dtype=np.float64)
    src = gen.write(ad.AnnData(X=x), tmp_path / "in.h5ad", "h5ad")
    for out_fmt in FORMATS:
        dst = out_path(tmp_path, out_fmt, f"bits-{out_fmt}")
        convert_ok(src, dst, *zarr_flags(out_fmt))
        got = gen.read(dst).X
        assert got.dtype == x.dtype and got.tobytes() == x.tobytes(), f"{out_fmt}: {got!r}"
