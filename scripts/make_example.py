"""Writes a small, realistic-looking AnnData dataset for adcat's demo.

Usage: python make_example.py OUT_DIR [N_CELLS]
Writes three batches of one atlas in the three formats adcat reads: OUT_DIR/batch0.h5ad,
batch1.zarr (Zarr v2) and batch2.zarr (Zarr v3), each with CSR counts, a dense layer, typed
obs/var columns and uns; the batches share most genes but not all.
"""

import sys
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp


def make(n_cells: int, n_genes: int = 2000, seed: int = 0) -> ad.AnnData:
    rng = np.random.default_rng(seed)
    # Each batch measured a slightly different gene panel.
    genes = np.sort(rng.choice(n_genes + 200, size=n_genes, replace=False))
    counts = sp.random(n_cells, n_genes, density=0.08, format="csr", random_state=rng, dtype=np.float32)
    counts.data = np.ceil(counts.data * 20)
    obs = pd.DataFrame(
        {
            "cell_type": pd.Categorical(rng.choice(["B", "T", "NK", "Mono"], n_cells)),
            "n_counts": np.asarray(counts.sum(axis=1)).ravel(),
            "is_doublet": rng.random(n_cells) < 0.05,
            "batch": pd.array(rng.integers(0, 4, n_cells), dtype="Int64"),
        },
        index=[f"b{seed}_cell{i}" for i in range(n_cells)],
    )
    var = pd.DataFrame(
        {"gene_symbol": [f"G{i}" for i in genes], "highly_variable": rng.random(n_genes) < 0.1},
        index=[f"gene{i}" for i in genes],
    )
    adata = ad.AnnData(X=counts, obs=obs, var=var)
    adata.layers["log1p"] = np.log1p(counts.toarray()).astype(np.float32)
    adata.obsm["X_pca"] = rng.standard_normal((n_cells, 20)).astype(np.float32)
    adata.uns["pipeline"] = {"version": "1.0", "params": {"min_genes": 200, "scale": 1e4}}
    return adata


if __name__ == "__main__":
    out = Path(sys.argv[1])
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 5000
    out.mkdir(parents=True, exist_ok=True)
    make(n, seed=0).write_h5ad(out / "batch0.h5ad")
    for seed, fmt in ((1, 2), (2, 3)):
        ad.settings.zarr_write_format = fmt
        make(n, seed=seed).write_zarr(out / f"batch{seed}.zarr")
    print(out)
