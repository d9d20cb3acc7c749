"""Fixtures of the oracle suite: the adcat binary, a runner, and cached inputs.

Inputs are written by anndata once and cached on disk under
`tests/oracle/.cache/` (or `$ADCAT_ORACLE_CACHE`), keyed by the generator's source
and the library versions, so reruns and pytest-xdist workers share them; a file
lock per object keeps two workers from writing the same one.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import importlib.metadata
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import gen  # noqa: E402

SEEDS = range(int(os.environ.get("ADCAT_ORACLE_SEEDS", "50")))


# ------------------------------------------------------------------- binary


@pytest.fixture(scope="session")
def adcat_bin() -> Path:
    """The adcat executable from $ADCAT_BIN; a test that needs it fails without it."""
    value = os.environ.get("ADCAT_BIN")
    if not value:
        pytest.fail(
            "ADCAT_BIN is not set: point it at the adcat binary, e.g. "
            "ADCAT_BIN=target/release/adcat (scripts/test.sh sets it)",
            pytrace=False,
        )
    path = Path(value).resolve()
    if not path.is_file() or not os.access(path, os.X_OK):
        pytest.fail(
            f"ADCAT_BIN={value}: no executable there (build it with `cargo build --release`)",
            pytrace=False,
        )
    return path


@dataclass
class Result:
    rc: int
    stdout: str
    stderr: str

    def __iter__(self):  # allows `rc, out, err = run_adcat(...)`
        return iter((self.rc, self.stdout, self.stderr))

    def __str__(self) -> str:
        return f"exit {self.rc}\n--- stdout\n{self.stdout}--- stderr\n{self.stderr}"


@pytest.fixture(scope="session")
def run_adcat(adcat_bin):
    """`run_adcat(*args)` runs adcat and returns (rc, stdout, stderr)."""

    def run(*args: object, timeout: float = 300) -> Result:
        proc = subprocess.run(
            [str(adcat_bin), *map(str, args)],
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        return Result(proc.returncode, proc.stdout, proc.stderr)

    return run


@pytest.fixture(scope="session")
def convert_ok(run_adcat):
    """`convert_ok(src, dst, *flags)` runs `adcat convert` and asserts it succeeded."""

    def convert(src: Path, dst: Path, *flags: object) -> Result:
        result = run_adcat("convert", src, dst, "--quiet", *flags)
        assert result.rc == 0, f"adcat convert {src.name} {dst.name} {' '.join(map(str, flags))}\n{result}"
        assert dst.exists(), f"adcat exited 0 but {dst} does not exist"
        return result

    return convert


# ------------------------------------------------------------------- inputs


def _cache_key() -> str:
    h = hashlib.sha256((HERE / "gen.py").read_bytes())
    for dist in ("anndata", "zarr", "h5py", "numpy", "pandas", "scipy"):
        h.update(f"{dist}={importlib.metadata.version(dist)};".encode())
    return h.hexdigest()[:16]


class Inputs:
    """Stores written by anndata for named objects ("seed7" or a CASES name).

    `paths(name)` maps each format to the store; `original(name)` is the in-memory
    object; `expected(name, fmt)` is what anndata reads back from its own store in
    that format: the oracle for an adcat output in that format.
    """

    def __init__(self, root: Path):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    @staticmethod
    @functools.lru_cache(maxsize=8)
    def original(name: str):
        if name.startswith("seed"):
            return gen.gen_random(int(name[4:]))
        return gen.CASES[name]()

    def paths(self, name: str) -> dict[str, Path]:
        folder = self.root / name
        paths = {fmt: folder / f"{fmt}{gen.suffix(fmt)}" for fmt in gen.FORMATS}
        if (folder / "done").exists():
            return paths
        with open(self.root / f".{name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not (folder / "done").exists():
                tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=self.root))
                adata = self.original(name)
                for fmt in gen.FORMATS:
                    gen.write(adata, tmp / paths[fmt].name, fmt)
                (tmp / "done").touch()
                shutil.rmtree(folder, ignore_errors=True)
                tmp.rename(folder)
        return paths

    @functools.lru_cache(maxsize=6)  # noqa: B019 (one Inputs per session)
    def expected(self, name: str, fmt: str):
        return gen.read(self.paths(name)[fmt])


@pytest.fixture(scope="session")
def inputs() -> Inputs:
    root = os.environ.get("ADCAT_ORACLE_CACHE")
    return Inputs(Path(root) if root else HERE / ".cache" / f"inputs-{_cache_key()}")
