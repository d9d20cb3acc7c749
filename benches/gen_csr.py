"""Writes K CSR float32 AnnData stores (Zarr v2, as anndata writes them) of ROWS x COLS at
DENSITY into DIR/in{i}.zarr, gene panels overlapping by 90 %. Usage:
gen_csr.py DIR K ROWS COLS DENSITY"""
import sys
import warnings

import anndata as ad
import numpy as np
import scipy.sparse as sp

warnings.simplefilter("ignore")
d, k, rows, cols, density = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
ad.settings.zarr_write_format = 2
rng = np.random.default_rng(0)
per_row = max(1, int(cols * density))
for i in range(k):
    indptr = np.arange(rows + 1, dtype=np.int64) * per_row
    indices = np.sort(rng.integers(0, cols, (rows, per_row)), axis=1).astype(np.int32).ravel()
    data = rng.integers(1, 20, rows * per_row).astype(np.float32)
    X = sp.csr_matrix((data, indices, indptr), shape=(rows, cols))
    X.sum_duplicates()
    shift = i * cols // 10
    a = ad.AnnData(X=X)
    a.obs_names = [f"b{i}_c{j}" for j in range(rows)]
    a.var_names = [f"g{j + shift}" for j in range(cols)]
    a.write_zarr(f"{d}/in{i}.zarr")
