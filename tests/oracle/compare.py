"""Equality of AnnData objects, as strict as the oracle needs.

`assert_same(expected, actual)` runs anndata's own `assert_equal(..., exact=True)`
and then a typed walk that also checks what that one lets pass: array dtypes,
sparse formats and index dtypes, NaN positions, scalar types, key sets and
column order.  Failures name the element, e.g. `obs/cat_int`.
"""

from __future__ import annotations

from collections.abc import Mapping

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp
from anndata.tests.helpers import assert_equal


def assert_same(expected: ad.AnnData, actual: ad.AnnData) -> None:
    assert isinstance(actual, ad.AnnData), f"not an AnnData: {type(actual)}"
    assert_equal(expected, actual, exact=True)
    _walk_adata(expected, actual, "")


def _walk_adata(a: ad.AnnData, b: ad.AnnData, where: str) -> None:
    assert a.shape == b.shape, f"{where or '/'}: shape {a.shape} != {b.shape}"
    for attr in ("X", "obs", "var", "obsm", "varm", "layers", "obsp", "varp", "uns"):
        same(getattr(a, attr), getattr(b, attr), f"{where}{attr}")
    if a.raw is None or b.raw is None:
        assert (a.raw is None) == (b.raw is None), f"{where}raw: present in only one"
    else:
        for attr in ("X", "var", "varm"):
            same(getattr(a.raw, attr), getattr(b.raw, attr), f"{where}raw/{attr}")


def same(a: object, b: object, where: str) -> None:
    """Recursive typed equality; `where` is the element path for messages."""
    if a is None or b is None:
        assert a is None and b is None, f"{where}: {type(a).__name__} != {type(b).__name__}"
    elif isinstance(a, ad.AnnData):
        _walk_adata(a, b, where + "/")
    elif isinstance(a, pd.DataFrame):
        assert isinstance(b, pd.DataFrame), f"{where}: DataFrame != {type(b).__name__}"
        assert list(a.columns) == list(b.columns), f"{where}: columns {list(a.columns)} != {list(b.columns)}"
        assert a.index.name == b.index.name, f"{where}: index name {a.index.name!r} != {b.index.name!r}"
        pd.testing.assert_index_equal(a.index, b.index, exact=True, obj=f"{where} index")
        for col in a.columns:
            pd.testing.assert_series_equal(
                a[col], b[col], check_exact=True, check_index=False, obj=f"{where}/{col}"
            )
    elif sp.issparse(a):
        assert sp.issparse(b), f"{where}: sparse != {type(b).__name__}"
        assert a.format == b.format, f"{where}: format {a.format} != {b.format}"
        assert a.shape == b.shape, f"{where}: shape {a.shape} != {b.shape}"
        assert a.dtype == b.dtype, f"{where}: dtype {a.dtype} != {b.dtype}"
        for part in ("indices", "indptr"):
            pa, pb = getattr(a, part), getattr(b, part)
            assert pa.dtype == pb.dtype, f"{where}/{part}: dtype {pa.dtype} != {pb.dtype}"
            assert np.array_equal(pa, pb), f"{where}/{part}: values differ"
        assert np.array_equal(a.data, b.data, equal_nan=a.dtype.kind == "f"), f"{where}/data: values differ"
    elif isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray), f"{where}: ndarray != {type(b).__name__}"
        assert a.shape == b.shape, f"{where}: shape {a.shape} != {b.shape}"
        assert a.dtype == b.dtype, f"{where}: dtype {a.dtype} != {b.dtype}"
        nan = a.dtype.kind in "fc"
        assert np.array_equal(a, b, equal_nan=nan), f"{where}: values differ"
    elif isinstance(a, Mapping):
        assert isinstance(b, Mapping), f"{where}: mapping != {type(b).__name__}"
        assert set(a) == set(b), f"{where}: keys {sorted(a)} != {sorted(b)}"
        for key in a:
            same(a[key], b[key], f"{where}/{key}")
    elif isinstance(a, str | np.generic | int | float | bool):
        assert type(a) is type(b), f"{where}: {type(a).__name__} != {type(b).__name__}"
        assert a == b or (a != a and b != b), f"{where}: {a!r} != {b!r}"
    else:
        assert type(a) is type(b), f"{where}: {type(a).__name__} != {type(b).__name__}"
        assert_equal(a, b, exact=True, elem_name=where)
