"""Self-tests of the generator: what it makes, anndata round-trips in every format.

An object that anndata itself cannot write and read back equal is useless as an
oracle input, so every seed and case is checked here, in all three formats,
before test_convert uses the same cached stores.  None of this needs adcat.
"""

import pytest
from anndata.tests.helpers import assert_equal
from conftest import SEEDS

import gen
import stores

NAMES = [f"seed{s}" for s in SEEDS] + sorted(gen.CASES)

# Encodings adcat supports; the generator must stay inside them.
SUPPORTED = {
    "anndata", "raw", "dataframe", "csr_matrix", "csc_matrix", "array", "string-array",
    "nullable-string-array", "categorical", "nullable-integer", "nullable-boolean", "dict",
    "numeric-scalar", "string", "null",
}  # fmt: skip
SPARSE = {"csr_matrix", "csc_matrix"}


@pytest.mark.parametrize("name", NAMES)
def test_anndata_round_trips(name, inputs):
    paths = inputs.paths(name)
    original = inputs.original(name)
    for fmt, path in paths.items():
        assert gen.detect_format(path) == fmt
        back = gen.read(path)
        try:
            assert_equal(original, back, exact=True)
        except AssertionError as e:
            raise AssertionError(f"{name}: anndata does not round-trip it in {fmt}: {e}") from e


@pytest.mark.parametrize("name", NAMES)
def test_only_supported_encodings(name, inputs):
    for fmt, path in inputs.paths(name).items():
        found = stores.nodes(path)
        for node in found.values():
            parent = found[node.path.rpartition("/")[0]] if node.path else None
            if parent is not None and parent.attrs.get("encoding-type") in SPARSE:
                continue  # data/indices/indptr carry no encoding attributes
            enc = node.attrs.get("encoding-type")
            assert enc in SUPPORTED, f"{name} ({fmt}): /{node.path} has encoding-type {enc!r}"


@pytest.mark.parametrize("seed", [0, 5, 13])
def test_deterministic(seed):
    assert_equal(gen.gen_random(seed), gen.gen_random(seed), exact=True)


def test_covers_everything(inputs):
    """The seeds together produce every encoding, X kind and dtype the contract names."""
    encodings, x_kinds, index_dtypes, dense_dtypes = set(), set(), set(), set()
    for s in SEEDS:
        adata = inputs.original(f"seed{s}")
        x = adata.X
        x_kinds.add("none" if x is None else type(x).__name__)
        if x is not None and hasattr(x, "indices"):
            index_dtypes.add(x.indices.dtype.name)
        elif x is not None:
            dense_dtypes.add(x.dtype.name)
        for node in stores.nodes(inputs.paths(f"seed{s}")["zarr3"]).values():
            encodings.add(node.attrs.get("encoding-type"))
    assert SUPPORTED <= encodings, f"never generated: {SUPPORTED - encodings}"
    assert {"ndarray", "csr_matrix", "csc_matrix", "csr_array", "csc_array", "none"} <= x_kinds
    assert {"int32", "int64"} <= index_dtypes
    assert len(dense_dtypes) >= 6, dense_dtypes
    assert any(inputs.original(f"seed{s}").n_obs == 0 for s in SEEDS), "no 0-row seed"
    assert any(inputs.original(f"seed{s}").raw is not None for s in SEEDS), "no seed with raw"


@pytest.mark.parametrize("fmt", ["zarr2", "zarr3"])
@pytest.mark.parametrize("seed", [3, 11])
def test_zarr_files_match_zarrs_local_store(seed, fmt, tmp_path):
    """The suite writes Zarr stores through zarr's memory store (faster); the files must
    be exactly those zarr's own local store writes, key for key and byte for byte."""
    adata = gen.gen_random(seed)
    direct = tmp_path / "direct.zarr"
    with gen._anndata_settings(zarr_write_format=int(fmt[-1])):
        adata.copy().write_zarr(direct, convert_strings_to_categoricals=False)
    via_memory = gen.write(adata.copy(), tmp_path / "memory.zarr", fmt)
    expected, actual = stores.tree_bytes(direct), stores.tree_bytes(via_memory)
    assert sorted(actual) == sorted(expected)
    assert len(expected) > 20
    differing = [key for key in expected if actual[key] != expected[key]]
    assert differing == []
