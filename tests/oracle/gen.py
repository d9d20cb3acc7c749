"""Random AnnData objects for the oracle suite, and anndata-side readers/writers.

Everything here is plain anndata: it writes the inputs adcat converts and reads
adcat's outputs back.  `gen_random(seed)` builds on
`anndata.tests.helpers.gen_adata` and adds what it does not produce (0-row objects,
int64 sparse indices, CSC, dense X of many dtypes, categoricals with numeric
categories and missing values, nullable strings, non-ASCII text, richer `uns`,
`raw`).  `CASES` are hand-written objects for the explicit tests.

Only encodings adcat supports are generated (no awkward arrays, rec-arrays or
bytes), and only what anndata itself round-trips in all three formats; the
generator self-test in test_gen.py checks the latter.
"""

from __future__ import annotations

import contextlib
import json
import random
import shutil
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp
import zarr

FORMATS = ("h5ad", "zarr2", "zarr3")

NON_ASCII = ["é", "ß", "細胞", "naïve", "Straße", "T細胞", "ascii"]


# --------------------------------------------------------------------- writers


@contextlib.contextmanager
def _anndata_settings(**overrides):
    """anndata settings for writing, with its deprecation warnings silenced.

    `allow_write_nullable_strings` must be on: with pandas < 3 anndata otherwise
    refuses `StringDtype` columns.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with ad.settings.override(allow_write_nullable_strings=True, **overrides):
            yield


def suffix(fmt: str) -> str:
    return ".h5ad" if fmt == "h5ad" else ".zarr"


def write(adata: ad.AnnData, path: Path, fmt: str) -> Path:
    """Writes `adata` with anndata in `fmt` ("h5ad", "zarr2" or "zarr3")."""
    path = Path(path)
    # anndata by default turns string columns into categoricals while writing,
    # in place; we want string columns on disk and the object left as it was.
    if fmt == "h5ad":
        with _anndata_settings():
            adata.write_h5ad(path, convert_strings_to_categoricals=False)
    elif fmt in ("zarr2", "zarr3"):
        with _anndata_settings(zarr_write_format=int(fmt[-1])):
            write_zarr_files(adata, path, convert_strings_to_categoricals=False)
    else:
        raise ValueError(f"unknown format {fmt!r}")
    return path


def write_zarr_files(adata: ad.AnnData, path: Path, **kwargs) -> None:
    """`adata.write_zarr(path, **kwargs)`, through zarr's in-memory store.

    zarr-python spends about half of a small store's write on its local store's
    per-key file handling; the memory store takes the same encoded bytes under the same
    keys, and a local store's files are its keys as relative paths, so writing each
    key to its file gives the same tree (`test_gen.py` compares the two).
    """
    path = Path(path)
    entries: dict = {}
    adata.write_zarr(zarr.storage.MemoryStore(store_dict=entries), **kwargs)
    if path.exists():
        shutil.rmtree(path)
    for key, buffer in entries.items():
        file = path / key
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_bytes(buffer.to_bytes())


def read(path: Path) -> ad.AnnData:
    """Reads an AnnData store of any format with anndata."""
    path = Path(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if path.is_dir():
            return ad.read_zarr(path)
        return ad.read_h5ad(path)


def detect_format(path: Path) -> str:
    """The on-disk format of a store: "h5ad", "zarr2" or "zarr3"."""
    path = Path(path)
    if path.is_file():
        with open(path, "rb") as f:
            magic = f.read(8)
        if magic == b"\x89HDF\r\n\x1a\n":
            return "h5ad"
        raise AssertionError(f"{path}: a file, but not HDF5 (starts with {magic!r})")
    if (path / "zarr.json").is_file():
        meta = json.loads((path / "zarr.json").read_text())
        assert meta.get("zarr_format") == 3, f"{path}/zarr.json: {meta.get('zarr_format')=}"
        return "zarr3"
    if (path / ".zgroup").is_file():
        return "zarr2"
    raise AssertionError(f"{path}: neither an HDF5 file nor a Zarr group")


# ------------------------------------------------------------ column builders


def _mask(rng: np.random.Generator, n: int, p: float = 0.3) -> np.ndarray:
    return rng.random(n) < p


def categorical(rng, n, categories, *, ordered=False, missing=True) -> pd.Categorical:
    """Categorical with random codes; code -1 (missing) where `missing`."""
    codes = rng.integers(0, len(categories), n) if len(categories) else np.zeros(n, int)
    if missing or not len(categories):
        codes = np.where(_mask(rng, n) | (len(categories) == 0), -1, codes)
    return pd.Categorical.from_codes(codes, categories=categories, ordered=ordered)


def nullable_strings(rng, n, words=NON_ASCII) -> pd.arrays.StringArray:
    values = pd.array(rng.choice(words, n), dtype=pd.StringDtype("python"))
    values[_mask(rng, n)] = pd.NA
    return values


def nullable_ints(rng, n, dtype="Int64") -> pd.api.extensions.ExtensionArray:
    values = pd.array(rng.integers(-100, 100, n), dtype=dtype)
    values[_mask(rng, n)] = pd.NA
    return values


def nullable_bools(rng, n) -> pd.arrays.BooleanArray:
    return pd.arrays.BooleanArray(rng.random(n) < 0.5, mask=_mask(rng, n))


def extra_columns(rng: np.random.Generator, n: int) -> dict[str, object]:
    """Columns of every dataframe encoding gen_adata does not cover."""
    return {
        "cat_str_missing": categorical(rng, n, ["a", "b", "c"]),
        "cat_ordered_missing": categorical(rng, n, ["lo", "mid", "hi"], ordered=True),
        "cat_int": categorical(rng, n, [10, 20, 30, 40]),
        "cat_float_ordered": categorical(rng, n, [0.5, 1.5, 2.5], ordered=True),
        "cat_non_ascii": categorical(rng, n, ["é", "ß", "細胞"], missing=False),
        "str_non_ascii": np.array(rng.choice(NON_ASCII, n), dtype=object),
        "nullable_str": nullable_strings(rng, n),
        "nullable_int64": nullable_ints(rng, n, "Int64"),
        "nullable_uint16": pd.array(rng.integers(0, 1000, n), dtype="UInt16"),
        "nullable_bool": nullable_bools(rng, n),
        "int8": rng.integers(-100, 100, n, dtype=np.int8),
        "int32": rng.integers(-(2**31), 2**31 - 1, n, dtype=np.int32),
        "uint64": rng.integers(0, 2**63, n, dtype=np.uint64),
        "float32": rng.standard_normal(n).astype(np.float32),
        "float64_nan": np.where(_mask(rng, n), np.nan, rng.standard_normal(n)),
        "bool": rng.random(n) < 0.5,
    }


def some_columns(rng: np.random.Generator, n: int, k: int) -> dict[str, object]:
    """`k` of the `extra_columns`, chosen at random."""
    cols = extra_columns(rng, n)
    keep = rng.choice(sorted(cols), size=min(k, len(cols)), replace=False)
    return {str(name): cols[str(name)] for name in sorted(keep)}


def with_columns(df: pd.DataFrame, cols: Mapping[str, object]) -> pd.DataFrame:
    df = df.copy()
    for name, values in cols.items():
        df[name] = values
    return df


# ------------------------------------------------------------ matrix builders

DENSE_DTYPES = (
    np.float32, np.float64, np.int8, np.int16, np.int32, np.int64,
    np.uint8, np.uint16, np.uint32, np.uint64, np.bool_,
)  # fmt: skip
SPARSE_DTYPES = (np.float32, np.float64, np.int32, np.int64, np.uint16)
SPARSE_TYPES: dict[str, Callable] = {
    "csr_matrix": sp.csr_matrix,
    "csc_matrix": sp.csc_matrix,
    "csr_array": sp.csr_array,
    "csc_array": sp.csc_array,
}


def dense(rng, shape, dtype) -> np.ndarray:
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return rng.random(shape) < 0.5
    if dtype.kind == "f":
        return rng.standard_normal(shape).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(max(info.min, -1000), min(info.max, 1000), shape).astype(dtype)


def sparse(rng, shape, kind="csr_matrix", dtype=np.float32, *, int64=False, density=0.3):
    """A random sparse matrix or array; `int64` forces int64 indices and indptr."""
    m = sp.random(*shape, density=density, format="coo", random_state=rng)
    m.data = (m.data * 100).astype(dtype) if np.dtype(dtype).kind != "f" else m.data.astype(dtype)
    out = SPARSE_TYPES[kind](m)
    out.sort_indices()
    if int64:
        out.indices = out.indices.astype(np.int64)
        out.indptr = out.indptr.astype(np.int64)
    return out


# --------------------------------------------------------------- generators


def _drop_unsupported(adata: ad.AnnData) -> None:
    """Removes what gen_adata adds that adcat does not support (awkward, rec-array)."""
    for key in ("O_recarray", "awkward_regular", "awkward_ragged"):
        adata.uns.pop(key, None)
    for mapping in (adata.obsm, adata.varm):
        for key in [k for k in mapping if k.startswith("awk")]:
            del mapping[key]


def rich_uns(rng: np.random.Generator) -> dict:
    return {
        "scalars": {
            "int": 7,
            "float": 2.5,
            "np_int8": np.int8(-3),
            "np_uint32": np.uint32(4000000000),
            "np_float32": np.float32(1.25),
            "bool": True,
            "str": "hello",
            "str_non_ascii": "細胞 é ß",
        },
        "arrays": {
            "int64": rng.integers(-5, 5, 7),
            "float32_2d": rng.standard_normal((3, 4)).astype(np.float32),
            "bool": rng.random(5) < 0.5,
            "empty": np.zeros(0, dtype=np.float64),
            "strings": np.array(["a", "é", "細胞", ""], dtype=object),
        },
        "deep": {"a": {"b": {"c": {"leaf": np.arange(3, dtype=np.uint8)}}}, "empty_dict": {}},
        "none": None,
    }


def _empty_categories_as_object(df: pd.DataFrame) -> None:
    """anndata reads an empty categories array back as object dtype, whatever it was
    written from (gen_adata makes `str` ones for 0-row frames): start from object."""
    for name, col in df.items():
        if isinstance(col.dtype, pd.CategoricalDtype) and len(col.cat.categories) == 0:
            df[name] = col.cat.set_categories(pd.Index([], dtype=object))


def _pick(rng: np.random.Generator, items, k: int) -> list:
    idx = sorted(rng.choice(len(items), size=min(k, len(items)), replace=False))
    return [items[i] for i in idx]


def gen_random(seed: int) -> ad.AnnData:
    """A random, small AnnData: deterministic for a seed.

    Each seed takes a random subset of column types, matrix kinds and `uns`
    entries so that an object stays around a hundred elements (Zarr writes cost
    a few milliseconds per element); the seeds together cover everything.
    """
    from anndata.tests.helpers import DEFAULT_COL_TYPES, gen_adata

    rng = np.random.default_rng(seed)
    # gen_adata also draws from numpy's and Python's global generators.
    np.random.seed(seed)
    random.seed(seed)

    n_obs = 0 if seed % 17 == 5 else int(rng.integers(1, 25))
    n_vars = int(rng.integers(1, 20))
    col_types = [*DEFAULT_COL_TYPES, pd.StringDtype()]
    map_types = [sp.csr_matrix, sp.csc_matrix, np.ndarray, pd.DataFrame, sp.csr_array]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        adata = gen_adata(
            (n_obs, n_vars),
            X_type=sp.csr_matrix,
            obs_dtypes=_pick(rng, col_types, 3),
            var_dtypes=_pick(rng, col_types, 2),
            obsm_types=_pick(rng, map_types, 3),
            varm_types=_pick(rng, map_types, 2),
            layers_types=_pick(rng, map_types, 2),
            random_state=rng,
            sparse_fmt=str(rng.choice(["csr", "csc"])),
        )
    _drop_unsupported(adata)
    for key in _pick(rng, ["df", "df_int_index", "nested"], 2 + int(rng.random() < 0.5)):
        del adata.uns[key]
    for mapping in (adata.obsp, adata.varp):
        for key in _pick(rng, sorted(mapping), 2):
            del mapping[key]

    x_kind = str(rng.choice(["dense", *SPARSE_TYPES, "none"], p=[0.3, 0.2, 0.2, 0.1, 0.1, 0.1]))
    int64 = bool(rng.random() < 0.3)
    if x_kind == "dense":
        adata.X = dense(rng, adata.shape, rng.choice(DENSE_DTYPES))
    elif x_kind == "none":
        adata.X = None
    else:
        adata.X = sparse(rng, adata.shape, x_kind, rng.choice(SPARSE_DTYPES), int64=int64)
    if rng.random() < 0.5:
        kind = str(rng.choice(list(SPARSE_TYPES)))
        adata.layers[f"extra_{kind}"] = sparse(rng, adata.shape, kind, np.float64, int64=not int64)
    if rng.random() < 0.5:
        adata.layers["extra_dense"] = dense(rng, adata.shape, rng.choice(DENSE_DTYPES))

    adata.obs = with_columns(adata.obs, some_columns(rng, n_obs, 3))
    adata.var = with_columns(adata.var, some_columns(rng, n_vars, 2))
    if rng.random() < 0.3:
        adata.obsm["df_extra"] = pd.DataFrame(some_columns(rng, n_obs, 3), index=adata.obs_names)
    if rng.random() < 0.3:
        adata.varm["csc"] = sparse(rng, (n_vars, 4), "csc_matrix", np.float32)

    uns = rich_uns(rng)
    for key in _pick(rng, sorted(uns), 1):
        adata.uns[key] = uns[key]

    for df in (adata.obs, adata.var, *(v for v in adata.obsm.values() if isinstance(v, pd.DataFrame))):
        _empty_categories_as_object(df)

    # anndata's Zarr reader drops `raw` of a 0-row object (h5ad keeps it).
    if rng.random() < 0.25 and n_vars > 1 and n_obs > 0 and adata.X is not None:
        adata.raw = adata
        keep = rng.random(n_vars) < 0.6
        keep[0] = True
        adata = adata[:, keep].copy()
    return adata


def count_elements(path: Path) -> int:
    """Nodes with an encoding-type in a store (a size measure for the generator)."""
    import zarr

    if Path(path).is_file():
        import h5py

        found = []
        with h5py.File(path, "r") as f:
            f.visititems(lambda name, obj: found.append(name) if "encoding-type" in obj.attrs else None)
        return len(found) + 1
    root = zarr.open_group(path, mode="r")
    return 1 + sum(1 for _, node in root.members(max_depth=None) if "encoding-type" in node.attrs)


# ------------------------------------------------------------ explicit cases


def case_empty() -> ad.AnnData:
    """0 observations, with columns, layers and obsm of every kind."""
    rng = np.random.default_rng(0)
    obs = pd.DataFrame(extra_columns(rng, 0), index=pd.Index([], dtype=object))
    var = pd.DataFrame(extra_columns(rng, 6), index=[f"g{i}" for i in range(6)])
    adata = ad.AnnData(X=sparse(rng, (0, 6)), obs=obs, var=var)
    adata.layers["dense"] = dense(rng, (0, 6), np.float64)
    adata.layers["csc"] = sparse(rng, (0, 6), "csc_matrix")
    adata.obsm["pca"] = dense(rng, (0, 3), np.float32)
    adata.obsp["dist"] = sparse(rng, (0, 0))
    return adata


def case_empty_dense() -> ad.AnnData:
    """0 × 0 with dense X."""
    return ad.AnnData(X=np.zeros((0, 0), dtype=np.float32))


def case_int64_indices() -> ad.AnnData:
    rng = np.random.default_rng(1)
    adata = ad.AnnData(X=sparse(rng, (20, 15), "csr_matrix", np.float32, int64=True))
    adata.layers["csc"] = sparse(rng, (20, 15), "csc_matrix", np.int64, int64=True)
    adata.layers["csr_array"] = sparse(rng, (20, 15), "csr_array", np.float64, int64=True)
    adata.obsp["conn"] = sparse(rng, (20, 20), "csr_matrix", np.float32, int64=True)
    return adata


def case_categoricals() -> ad.AnnData:
    rng = np.random.default_rng(2)
    n = 30
    obs = pd.DataFrame(
        {
            "unordered": categorical(rng, n, ["B", "T", "NK"], missing=False),
            "ordered": categorical(rng, n, ["low", "mid", "high"], ordered=True, missing=False),
            "unordered_missing": categorical(rng, n, ["x", "y"]),
            "ordered_missing": categorical(rng, n, ["s", "m", "l"], ordered=True),
            "int_categories": categorical(rng, n, [3, 1, 2]),
            "float_categories": categorical(rng, n, [0.1, 0.2], ordered=True),
            "all_missing": categorical(rng, n, ["never"], missing=True).set_categories(["never"]),
            "no_categories": pd.Categorical([np.nan] * n, categories=pd.Index([], dtype=object)),
            "non_ascii": categorical(rng, n, ["é", "ß", "細胞"]),
        },
        index=[f"c{i}" for i in range(n)],
    )
    obs["all_missing"] = pd.Categorical.from_codes(np.full(n, -1), categories=["never"])
    return ad.AnnData(X=dense(rng, (n, 4), np.float32), obs=obs)


def case_nullable() -> ad.AnnData:
    rng = np.random.default_rng(3)
    n = 25
    obs = pd.DataFrame(
        {
            "Int64": nullable_ints(rng, n, "Int64"),
            "Int8": nullable_ints(rng, n, "Int8"),
            "UInt32": pd.array(np.where(_mask(rng, n), None, rng.integers(0, 9, n)), dtype="UInt32"),
            "boolean": nullable_bools(rng, n),
            "string": nullable_strings(rng, n),
            "string_all_na": pd.array([pd.NA] * n, dtype=pd.StringDtype("python")),
        },
        index=[f"c{i}" for i in range(n)],
    )
    return ad.AnnData(X=sparse(rng, (n, 3)), obs=obs)


def case_non_ascii() -> ad.AnnData:
    rng = np.random.default_rng(4)
    names = [f"{w}_{i}" for i, w in enumerate(rng.choice(NON_ASCII, 12))]
    var_names = ["Gène1", "細胞2", "Straße3"]
    obs = pd.DataFrame(
        {
            "label": np.array(rng.choice(NON_ASCII, 12), dtype=object),
            "cat": categorical(rng, 12, ["é", "ß", "細胞"], missing=False),
            "nullable": nullable_strings(rng, 12),
        },
        index=names,
    )
    adata = ad.AnnData(X=dense(rng, (12, 3), np.float64), obs=obs, var=pd.DataFrame(index=var_names))
    adata.uns["título"] = "細胞 annotation — ü"
    adata.uns["labels"] = np.array(NON_ASCII, dtype=object)
    adata.obsm["細胞"] = dense(rng, (12, 2), np.float32)
    return adata


def case_nested_uns() -> ad.AnnData:
    rng = np.random.default_rng(5)
    adata = ad.AnnData(X=dense(rng, (5, 4), np.float32))
    adata.uns.update(rich_uns(rng))
    adata.uns["level0"] = {
        "level1": {"level2": {"level3": {"x": 1, "arr": np.arange(4)}}, "s": "v"},
        "df": pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "é"]}, index=["r0", "r1", "r2"]),
        "sparse": sparse(rng, (4, 5)),
    }
    return adata


def case_dense_dtypes() -> ad.AnnData:
    """X in every dense dtype, one layer each."""
    rng = np.random.default_rng(6)
    adata = ad.AnnData(X=dense(rng, (9, 7), np.float64))
    for dtype in DENSE_DTYPES:
        adata.layers[np.dtype(dtype).name] = dense(rng, (9, 7), dtype)
    return adata


def case_sparse_kinds() -> ad.AnnData:
    """CSR and CSC, matrix and array, in X, layers, obsm, obsp, varp."""
    rng = np.random.default_rng(7)
    adata = ad.AnnData(X=sparse(rng, (16, 11), "csc_matrix", np.float64))
    for kind in SPARSE_TYPES:
        for dtype in SPARSE_DTYPES:
            adata.layers[f"{kind}_{np.dtype(dtype).name}"] = sparse(rng, (16, 11), kind, dtype)
    adata.layers["all_zero"] = sp.csr_matrix((16, 11), dtype=np.float32)
    adata.obsm["csc_array"] = sparse(rng, (16, 5), "csc_array")
    adata.obsp["csr"] = sparse(rng, (16, 16))
    adata.varp["csc"] = sparse(rng, (11, 11), "csc_matrix")
    return adata


def case_dataframe_valued() -> ad.AnnData:
    rng = np.random.default_rng(8)
    n, m = 10, 6
    adata = ad.AnnData(X=dense(rng, (n, m), np.float32))
    adata.obsm["df"] = pd.DataFrame(extra_columns(rng, n), index=adata.obs_names)
    adata.varm["df"] = pd.DataFrame(extra_columns(rng, m), index=adata.var_names)
    adata.obsm["empty_df"] = pd.DataFrame(index=adata.obs_names)
    return adata


def case_raw() -> ad.AnnData:
    rng = np.random.default_rng(9)
    adata = ad.AnnData(
        X=sparse(rng, (12, 10)),
        var=pd.DataFrame({"cat": categorical(rng, 10, ["a", "b"])}, index=[f"g{i}" for i in range(10)]),
    )
    adata.varm["loadings"] = dense(rng, (10, 2), np.float64)
    adata.raw = adata
    return adata[:, :6].copy()


def case_no_x() -> ad.AnnData:
    rng = np.random.default_rng(10)
    adata = ad.AnnData(X=None, obs=pd.DataFrame(index=[f"c{i}" for i in range(5)]))
    adata.obsm["emb"] = dense(rng, (5, 2), np.float32)
    return adata


def case_medium() -> ad.AnnData:
    """Big enough that a 4 KiB chunk size splits every matrix (X is 94 KiB)."""
    rng = np.random.default_rng(11)
    n, m = 300, 40
    obs = pd.DataFrame(
        {
            "cell_type": categorical(rng, n, ["B", "T", "NK", "Mono"], missing=False),
            "label": np.array([f"cell label {i} é" for i in range(n)], dtype=object),
            "n_counts": rng.integers(0, 10_000, n),
            "score": rng.standard_normal(n),
            "flag": nullable_bools(rng, n),
        },
        index=[f"cell{i}" for i in range(n)],
    )
    adata = ad.AnnData(X=dense(rng, (n, m), np.float64), obs=obs, var=pd.DataFrame(index=[f"g{i}" for i in range(m)]))
    adata.layers["counts"] = sparse(rng, (n, m), "csr_matrix", np.float32)
    adata.layers["counts_csc"] = sparse(rng, (n, m), "csc_matrix", np.int64, int64=True)
    adata.obsm["pca"] = dense(rng, (n, 20), np.float32)
    adata.obsp["conn"] = sparse(rng, (n, n), density=0.05)
    adata.uns["params"] = {"k": 15, "name": "umap", "weights": rng.standard_normal(50)}
    return adata


CASES: dict[str, Callable[[], ad.AnnData]] = {
    name.removeprefix("case_"): fn for name, fn in globals().items() if name.startswith("case_")
}
