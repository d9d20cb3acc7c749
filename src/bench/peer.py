"""Runs one anndata concatenation for `adcat bench` and prints its duration as JSON.

usage: peer.py {on_disk|in_memory} AXIS JOIN OUTPUT INPUT...

The duration covers the call (and, in memory, the reads and the write) but not the
interpreter's start-up or imports, so anndata is timed as a library user sees it. It
ends once the output is on disk: every file and directory of it is fsynced, as adcat
does before it moves its output into place, so both are timed to the same point.
"""

import json
import os
import sys
import time
import warnings


def fsync_path(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sync_tree(path: str) -> None:
    """fsyncs the file at `path`, or every file and directory below it."""
    if not os.path.isdir(path):
        fsync_path(path)
        return
    for root, _dirs, files in os.walk(path):
        for name in files:
            fsync_path(os.path.join(root, name))
        fsync_path(root)


def main() -> None:
    mode, axis, join, output, *inputs = sys.argv[1:]
    import anndata as ad

    warnings.simplefilter("ignore")
    start = time.perf_counter()
    if mode == "on_disk":
        from anndata.experimental import concat_on_disk

        concat_on_disk(inputs, output, axis=int(axis), join=join)
    else:
        read = ad.read_h5ad if inputs[0].endswith(".h5ad") else ad.read_zarr
        joined = ad.concat([read(p) for p in inputs], axis=int(axis), join=join)
        if output.endswith(".h5ad"):
            joined.write_h5ad(output)
        else:
            joined.write_zarr(output)
    sync_tree(output)
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "anndata": ad.__version__}))


if __name__ == "__main__":
    main()
