"""Registered code and models in an object-store warehouse, and each host's verified copies.

On a local root (the embedded directory, a shared mount) code and models are directories every
host opens where they lie. In an object store they are objects under the warehouse's root
(``code/<hash>/``, ``models/<name>/<id>/``), reached through the filesystem pyiceberg's FileIO
builds from the database's properties (``filesystems.filesystem``), like the tables' files; a
host runs them from a local copy: ``fetched`` downloads a tree into ``<cache>/<digest>``, checks
it against the content hash the catalog records, and only then renames it into place, so a copy
is whole and verified once, and every later run on that host reuses it. Each use marks a copy
(its directory's modification time); a host that downloads a copy first removes its copies
unused for ``UNUSED_S`` (those of code and models since replaced, and downloads a killed process
left), so a worker's cache does not grow with every version ever run there.

A tree's digest is SHA-256 over its files' relative names and SHA-256s, in name order: the
content address of registered code (``registry.code.code_hash``) and of a model's artifacts.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path

import pyarrow.fs as pafs

from indb.catalog.filesystems import filesystem
from indb.errors import DataError

CHUNK = 1 << 20  # bytes hashed at a time
UNUSED_S = 7 * 24 * 3600  # a copy unused this long goes when its host next downloads one


def combined(digests: Mapping[str, bytes]) -> str:
    """The digest of a tree whose files (relative POSIX names) have these SHA-256 digests."""
    total = hashlib.sha256()
    for name in sorted(digests):
        total.update(name.encode() + b"\0" + digests[name])
    return total.hexdigest()


def tree_digest(directory: Path) -> str:
    """The digest of the files beneath ``directory`` (see the module's docstring)."""
    digests: dict[str, bytes] = {}
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        digest = hashlib.sha256()
        with open(path, "rb") as stream:
            while chunk := stream.read(CHUNK):
                digest.update(chunk)
        digests[path.relative_to(directory).as_posix()] = digest.digest()
    return combined(digests)


def put_files(files: Mapping[str, bytes], uri: str, properties: Mapping[str, str]) -> None:
    """Write ``files`` (relative POSIX names) beneath ``uri``."""
    fs, base = filesystem(uri, properties)
    for name, content in files.items():
        with fs.open_output_stream(f"{base}/{name}") as stream:
            stream.write(content)


def upload(directory: Path, uri: str, properties: Mapping[str, str]) -> None:
    """Copy the files beneath a local ``directory`` to ``uri``."""
    fs, base = filesystem(uri, properties)
    pafs.copy_files(str(directory), base, source_filesystem=pafs.LocalFileSystem(),
                    destination_filesystem=fs)


def fetched(uri: str, digest: str, cache: Path, properties: Mapping[str, str]) -> Path:
    """A local copy of the tree at ``uri`` whose digest is ``digest``: ``cache/<digest>``,
    downloaded and verified the first time, as it is afterwards. A download that does not match
    is deleted and refused (DataError): nothing unverified is ever run."""
    target = cache / digest
    if target.is_dir():
        os.utime(target)  # used now: kept by ``prune``
        return target
    cache.mkdir(parents=True, exist_ok=True)
    prune(cache, time.time() - UNUSED_S)
    download = Path(tempfile.mkdtemp(dir=cache, prefix=".fetch-"))
    try:
        fs, base = filesystem(uri, properties)
        pafs.copy_files(base, str(download), source_filesystem=fs,
                        destination_filesystem=pafs.LocalFileSystem())
        found = tree_digest(download)
        if found != digest:
            raise DataError(f"the files at {uri} do not match the content hash the catalog "
                            f"records ({digest[:16]}..., they hash to {found[:16]}...): they were "
                            "changed or only partly written; register the function or model again")
        try:
            os.rename(download, target)  # atomic: a host's other processes see all of it or none
        except OSError:
            if not target.is_dir():  # not another process's copy that got there first
                raise
    finally:
        shutil.rmtree(download, ignore_errors=True)
    return target


def prune(cache: Path, cutoff: float) -> list[str]:
    """Remove the copies (and killed downloads) in ``cache`` last used before ``cutoff``; their
    names."""
    gone = []
    for entry in cache.iterdir():
        try:
            old = entry.is_dir() and entry.stat().st_mtime < cutoff
        except FileNotFoundError:  # another process of the host removed it first
            continue
        if old:
            remove(entry)
            gone.append(entry.name)
    return gone


def remove(directory: Path, unless: Callable[[], bool] | None = None) -> bool:
    """Delete a local tree (a copy, or code or a model of a local root) so that no reader ever
    finds part of it where it was: it is renamed out of its place first, then removed. Where
    ``unless()``, asked once it is out of its place, says it is wanted after all, it is put back
    (or, stored there again meanwhile, this copy goes). Whether its files were deleted."""
    doomed = directory.with_name(f".gone-{uuid.uuid4().hex}")
    try:
        os.rename(directory, doomed)
    except FileNotFoundError:  # gone already
        return False
    if unless is not None and unless():
        try:
            os.rename(doomed, directory)
            return False
        except OSError:  # stored there again meanwhile: this copy is spare
            pass
    shutil.rmtree(doomed, ignore_errors=True)
    return True
