"""Random inputs and options for `adcat concat`, and a strict comparison of two AnnData
objects (values, dtypes, names, column order, categories, missing values)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
from scipy import sparse

from gen import write_zarr_files

FORMATS = ("h5ad", "zarr2", "zarr3")


def write(adata: ad.AnnData, path: Path, fmt: str) -> Path:
    """Writes `adata` as `fmt` (h5ad, zarr2, zarr3) and returns the path."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if fmt == "h5ad":
            path = path.with_suffix(".h5ad")
            adata.write_h5ad(path)
        else:
            path = path.with_suffix(".zarr")
            old = ad.settings.zarr_write_format
            ad.settings.zarr_write_format = 2 if fmt == "zarr2" else 3
            try:
                write_zarr_files(adata, path)
            finally:
                ad.settings.zarr_write_format = old
    return path


def read(path: Path) -> ad.AnnData:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ad.read_h5ad(path) if path.suffix == ".h5ad" else ad.read_zarr(path)


@dataclass
class Case:
    seed: int
    inputs: list[ad.AnnData]
    formats: list[str]
    out_format: str
    options: dict = field(default_factory=dict)

    def cli_args(self) -> list[str]:
        o = self.options
        args = ["--axis", o.get("axis", "obs"), "--join", o.get("join", "inner")]
        if o.get("merge"):
            args += ["--merge", o["merge"]]
        if o.get("uns_merge"):
            args += ["--uns-merge", o["uns_merge"]]
        if o.get("label"):
            args += ["--label", o["label"]]
        if o.get("keys"):
            args += ["--keys", ",".join(o["keys"])]
        if o.get("index_unique"):
            args += ["--index-unique", o["index_unique"]]
        if o.get("fill_value") is not None:
            args += ["--fill-value", repr(o["fill_value"])]
        if o.get("pairwise"):
            args += ["--pairwise"]
        if self.out_format == "zarr2":
            args += ["--zarr-format", "2"]
        return args

    def expected(self, inputs_on_disk: list[ad.AnnData]) -> ad.AnnData:
        o = self.options
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ad.concat(
                inputs_on_disk,
                axis=o.get("axis", "obs"),
                join=o.get("join", "inner"),
                merge=o.get("merge"),
                uns_merge=o.get("uns_merge"),
                label=o.get("label"),
                keys=o.get("keys"),
                index_unique=o.get("index_unique"),
                fill_value=o.get("fill_value"),
                pairwise=o.get("pairwise", False),
            )


def _names(rng, pool: int, k: int, shuffle: bool) -> list[str]:
    picked = sorted(rng.choice(pool, size=k, replace=False))
    names = [f"g{i}" for i in picked]
    if shuffle:
        rng.shuffle(names)
    return names


def _matrix(rng, shape, kind: str):
    dense = rng.binomial(4, 0.3, shape)
    if kind == "dense_f32":
        return dense.astype(np.float32)
    if kind == "dense_f64":
        return dense.astype(np.float64) * 0.5
    if kind == "dense_i32":
        return dense.astype(np.int32)
    if kind == "csr":
        return sparse.csr_matrix(dense.astype(np.float32))
    if kind == "csc":
        return sparse.csc_matrix(dense.astype(np.float32))
    if kind == "csr_array":  # scipy's sparse arrays: the same encoding on disk
        return sparse.csr_array(dense.astype(np.float32))
    if kind == "csc_array":
        return sparse.csc_array(dense.astype(np.float32))
    if kind == "csr_f64":
        return sparse.csr_matrix(dense.astype(np.float64))
    raise ValueError(kind)


def _obs(rng, n: int, names: list[str], cols: list[str]) -> pd.DataFrame:
    df = pd.DataFrame(index=pd.Index(names, dtype="str"))
    cats = ["B", "a", "c10", "c2", "ü"]
    for c in cols:
        if c == "int":
            df[c] = rng.integers(-5, 5, n).astype(np.int64)
        elif c == "i32":
            df[c] = rng.integers(-5, 5, n).astype(np.int32)
        elif c == "float":
            df[c] = rng.random(n)
        elif c == "f32":
            df[c] = rng.random(n).astype(np.float32)
        elif c == "bool":
            df[c] = rng.random(n) > 0.5
        elif c == "str":
            df[c] = pd.array([f"s{rng.integers(3)}é" for _ in range(n)], dtype="str")
        elif c == "cat":
            sub = list(rng.choice(cats, size=3, replace=False))
            df[c] = pd.Categorical(rng.choice(sub, n) if n else [], categories=sub)
        elif c == "ocat":
            df[c] = pd.Categorical(rng.choice(["lo", "mid", "hi"], n) if n else [], categories=["lo", "mid", "hi"], ordered=True)
        elif c == "nint":
            vals = pd.array(rng.integers(0, 9, n), dtype="Int32")
            if n:
                vals[rng.random(n) < 0.3] = pd.NA
            df[c] = vals
        elif c == "u8":
            df[c] = rng.integers(0, 200, n).astype(np.uint8)
        elif c == "nstr":  # nullable strings with missing values
            vals = pd.array([f"t{rng.integers(4)}" for _ in range(n)], dtype="str")
            if n:
                vals[rng.random(n) < 0.3] = pd.NA
            df[c] = vals
        elif c == "ostr":  # object-dtype strings (written as a plain string array)
            df[c] = pd.Series([f"o{rng.integers(3)}" for _ in range(n)], dtype=object, index=df.index)
        elif c == "ncat":  # categorical with numeric categories
            sub = sorted(int(v) for v in rng.choice([3, 10, 20, 100], size=2, replace=False))
            df[c] = pd.Categorical(rng.choice(sub, n) if n else [], categories=sub)
        elif c == "nbool":
            vals = pd.array(rng.random(n) > 0.5, dtype="boolean")
            if n:
                vals[rng.random(n) < 0.3] = pd.NA
            df[c] = vals
    return df


def _var(rng, names: list[str], cols: list[str]) -> pd.DataFrame:
    df = pd.DataFrame(index=pd.Index(names, dtype="str"))
    num = [int(s[1:]) for s in names]
    for c in cols:
        if c == "gene_len":  # a function of the name: equal wherever present
            df[c] = np.array([n * 10 for n in num], dtype=np.int64)
        elif c == "score":  # differs between inputs
            df[c] = rng.random(len(names))
        elif c == "kind":
            df[c] = pd.Categorical(["mt" if n % 3 == 0 else "nc" for n in num], categories=["mt", "nc"])
        elif c == "flag":
            df[c] = np.array([n % 2 == 0 for n in num])
        elif c == "symbol":
            df[c] = pd.array([f"SYM{n}" for n in num], dtype="str")
    return df


def _uns(rng, i: int) -> dict:
    shared = {"version": 3, "name": "atlas", "params": {"k": 15, "method": "umap", "arr": np.arange(4)}}
    own = {"batch_id": i, "note": f"input {i}", "params": {"seed": int(rng.integers(100))}}
    out = {}
    for k, v in shared.items():
        if rng.random() < 0.8:
            out[k] = v
    for k, v in own.items():
        if rng.random() < 0.6:
            if isinstance(v, dict) and k in out:
                out[k] = {**out[k], **v}
            else:
                out[k] = v
    return out


def make_case(
    seed: int,
    *,
    axis: str | None = None,
    join: str | None = None,
    x_kinds=None,
    formats=None,
    out_format=None,
    same_vars: bool | None = None,
    merge: str | None = None,
) -> Case:
    rng = np.random.default_rng(seed)
    n_inputs = int(rng.integers(3, 7))
    axis = axis or ("obs" if rng.random() < 0.6 else "var")
    join = join or ("inner" if rng.random() < 0.5 else "outer")
    same_vars = (rng.random() < 0.25) if same_vars is None else same_vars
    base_vars = _names(rng, 30, 12, shuffle=rng.random() < 0.5)
    x_kind_pool = ["dense_f32", "dense_f64", "dense_i32", "csr", "csc", "csr_f64"]
    family = rng.choice(["dense", "csr", "csc", "mixed"])
    obs_cols = ["int", "i32", "u8", "float", "f32", "bool", "str", "nstr", "ostr", "cat", "ocat", "ncat", "nint", "nbool"]
    with_raw = rng.random() < 0.15
    var_cols = ["gene_len", "score", "kind", "flag", "symbol"]
    inputs = []
    for i in range(n_inputs):
        n = int(rng.choice([0, 1, 3, 7, 12])) if rng.random() < 0.15 else int(rng.integers(2, 14))
        names = base_vars if same_vars else _names(rng, 30, int(rng.integers(6, 16)), shuffle=rng.random() < 0.4)
        m = len(names)
        if x_kinds is not None:
            kind = x_kinds[i % len(x_kinds)]
        elif family == "mixed":
            kind = str(rng.choice(x_kind_pool))
        elif family == "dense":
            kind = str(rng.choice(["dense_f32", "dense_f64", "dense_i32"]))
        else:
            kind = str(family)
        present = [c for c in obs_cols if rng.random() < 0.75]
        obs = _obs(rng, n, [f"c{i}_{j}" for j in range(n)], present)
        var = _var(rng, names, [c for c in var_cols if rng.random() < 0.8])
        a = ad.AnnData(X=_matrix(rng, (n, m), kind), obs=obs, var=var)
        if rng.random() < 0.6:
            a.layers["counts"] = _matrix(rng, (n, m), "csr" if kind.startswith("cs") else "dense_f64")
        if rng.random() < 0.7:
            a.obsm["pca"] = rng.random((n, int(rng.integers(2, 5))))
        if rng.random() < 0.4:
            a.obsm["sp"] = sparse.random(n, 4, density=0.4, format="csr", random_state=int(rng.integers(1 << 30)), dtype=np.float32)
        if rng.random() < 0.3:
            a.obsm["meta"] = _obs(rng, n, list(obs.index), [c for c in ("int", "float", "cat", "str", "nbool") if rng.random() < 0.6])
        if rng.random() < 0.3:
            a.varm["annot"] = _var(rng, names, [c for c in ("gene_len", "kind", "symbol") if rng.random() < 0.7])
        if rng.random() < 0.5:
            a.varm["load"] = np.array([[int(s[1:]) * 1.0, 2.0] for s in names])
        if rng.random() < 0.5:
            a.obsp["conn"] = sparse.random(n, n, density=0.3, format="csr", random_state=int(rng.integers(1 << 30)))
        if rng.random() < 0.3:
            a.varp["corr"] = sparse.csr_matrix(np.eye(m))
        a.uns = _uns(rng, i)
        if axis == "var":
            a = a.T.copy()
        if with_raw:
            a.raw = a.copy()
            if axis == "obs" and a.n_vars > 2:
                a = a[:, 1:].copy()
        inputs.append(a)
    options = {"axis": axis, "join": join}
    if rng.random() < 0.6:
        options["merge"] = str(rng.choice(["same", "unique", "first", "only"]))
    if merge is not None:
        options["merge"] = merge
    if rng.random() < 0.6:
        options["uns_merge"] = str(rng.choice(["same", "unique", "first", "only"]))
    if rng.random() < 0.5:
        options["label"] = "batch"
        if rng.random() < 0.5:
            options["keys"] = [f"k{chr(97 + i)}" for i in range(n_inputs)]
    if rng.random() < 0.4:
        options["index_unique"] = str(rng.choice(["-", "_", "::"]))
    if join == "outer" and rng.random() < 0.3:
        options["fill_value"] = [0, -1, 2.5][int(rng.integers(3))]
    if rng.random() < 0.3:
        options["pairwise"] = True
    fmts = formats or [str(rng.choice(FORMATS)) for _ in range(n_inputs)]
    return Case(seed, inputs, fmts, out_format or str(rng.choice(FORMATS)), options)


# ----------------------------------------------------------------------------------
# Strict comparison


def _dense(x):
    return x.toarray() if sparse.issparse(x) else np.asarray(x)


def assert_same_array(actual, expected, where: str) -> None:
    assert sparse.issparse(actual) == sparse.issparse(expected), (
        f"{where}: sparse {sparse.issparse(actual)} vs expected {sparse.issparse(expected)}"
    )
    a, e = _dense(actual), _dense(expected)
    assert a.shape == e.shape, f"{where}: shape {a.shape} vs expected {e.shape}"
    assert a.dtype == e.dtype, f"{where}: dtype {a.dtype} vs expected {e.dtype}"
    np.testing.assert_array_equal(a, e, err_msg=where, strict=True)


def assert_same_frame(actual: pd.DataFrame, expected: pd.DataFrame, where: str) -> None:
    assert list(actual.columns) == list(expected.columns), f"{where}: columns {list(actual.columns)} vs {list(expected.columns)}"
    pd.testing.assert_index_equal(actual.index, expected.index, exact=True, obj=f"{where}.index")
    for c in expected.columns:
        pd.testing.assert_series_equal(actual[c], expected[c], check_exact=True, obj=f"{where}[{c!r}]")


def assert_same_value(actual, expected, where: str) -> None:
    if isinstance(expected, dict) or hasattr(expected, "keys") and not isinstance(expected, pd.DataFrame):
        assert set(actual.keys()) == set(expected.keys()), f"{where}: keys {sorted(actual.keys())} vs {sorted(expected.keys())}"
        for k in expected.keys():
            assert_same_value(actual[k], expected[k], f"{where}/{k}")
    elif isinstance(expected, pd.DataFrame):
        assert_same_frame(actual, expected, where)
    elif sparse.issparse(expected) or isinstance(expected, np.ndarray):
        assert_same_array(actual, expected, where)
    else:
        assert type(actual) is type(expected) or (np.isscalar(actual) and np.isscalar(expected)), f"{where}: {type(actual)} vs {type(expected)}"
        assert actual == expected or (actual != actual and expected != expected), f"{where}: {actual!r} vs {expected!r}"
        if hasattr(expected, "dtype"):
            assert actual.dtype == expected.dtype, f"{where}: dtype {actual.dtype} vs {expected.dtype}"


def assert_same_adata(actual: ad.AnnData, expected: ad.AnnData) -> None:
    assert actual.shape == expected.shape, f"shape {actual.shape} vs {expected.shape}"
    assert_same_frame(actual.obs, expected.obs, "obs")
    assert_same_frame(actual.var, expected.var, "var")
    if expected.X is None:
        assert actual.X is None, "X should be absent"
    else:
        assert actual.X is not None, "X missing"
        assert_same_array(actual.X, expected.X, "X")
    for attr in ("layers", "obsm", "varm", "obsp", "varp"):
        assert_same_value(dict(getattr(actual, attr)), dict(getattr(expected, attr)), attr)
    assert_same_value(dict(actual.uns), dict(expected.uns), "uns")
    assert (actual.raw is None) == (expected.raw is None), "raw presence"
    if expected.raw is not None:
        assert_same_array(actual.raw.X, expected.raw.X, "raw/X")
        assert_same_frame(actual.raw.var, expected.raw.var, "raw/var")
        assert_same_value(dict(actual.raw.varm), dict(expected.raw.varm), "raw/varm")
