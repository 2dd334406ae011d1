"""VACUUM's part in the files the registry keeps beside its records: registered code and model
artifacts that no function or model version names any more, and this host's verified copies of
them (an object-store warehouse's, ``catalog.artifacts.fetched``) that nothing names either.

That is the code of functions replaced or dropped; a model upload of a head killed before it
recorded the version (``models/<name>/<id>/`` in an object store), a version directory a killed
registration left (``models/<name>/v<n>/``), a killed training run's staging directory
(``models/.staging/<id>/``), a killed download (``.fetch-*``); and copies of all of those.

A tree (one code hash, one model directory, one copy) goes whole, and only once every file in it
was last modified before the caller's cutoff (older than any run still going, so a run's own
uploads and staging are never hit). Code goes only while no run is going at all: a run keeps
running the code it started with after its function is replaced, and what a run started with is
not recorded. Code goes only if no function names it when it is about to go either (a function
registered meanwhile with the same code finds it stored: ``FunctionStore.create`` stores it again
if it is gone once the function is recorded).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from indb.catalog import artifacts, filesystems
from indb.registry.functions import CODE_DIR, FunctionStore
from indb.registry.models import FETCHED_DIR, MODELS_DIR, ModelStore
from indb.storage.upkeep import Vacuumed


@dataclass(frozen=True)
class Place:
    """A directory of trees: its root, how many levels below it name one tree, the names used."""

    root: str
    depth: int
    used: frozenset[str]
    # asked again right before a tree goes: a record made since ``used`` was read may name it
    # (CREATE FUNCTION with the code of a dropped one finds that code stored, and keeps it)
    named: Callable[[str], bool] | None = None


def places(functions: FunctionStore, models: ModelStore, *, running: bool) -> list[Place]:
    """Where VACUUM looks: the shared code and models roots, and (in an object-store warehouse)
    this host's copies; the code roots only when no run is going."""
    db = functions.db
    code = frozenset(f.code_hash for f in functions.all())
    versions = [v for name in models.names() for v in models.versions(name)]
    root = f"{db.shared_root}/{MODELS_DIR}"
    directories = frozenset(v.path.removeprefix(root + "/").rsplit("/", 1)[0] for v in versions)
    # a version recorded by an absolute path elsewhere (an older database's, since moved) may
    # name a directory here by another name: then nothing of the models root is VACUUM's
    found = [Place(root, 2, directories)] if all(v.path.startswith(root + "/")
                                                  for v in versions) else []
    if db.local_root is None:  # this host's scratch: its staging and copies (by digest)
        found.append(Place(str(db.path / MODELS_DIR), 2,
                           frozenset(f"{FETCHED_DIR}/{v.digest}" for v in versions)))
    if not running:
        def named(digest: str) -> bool:
            return any(f.code_hash == digest for f in functions.all())
        found.append(Place(functions.code_root, 1, code, named))
        if db.local_root is None:
            found.append(Place(str(db.path / CODE_DIR), 1, code))
    return found


def vacuum(functions: FunctionStore, models: ModelStore, cutoff: float, *,
           running: bool) -> Vacuumed:
    """Delete the unnamed trees of every place whose files are all older than ``cutoff``; the
    files and bytes deleted."""
    properties = functions.db.io_properties
    count = size = 0
    for place in places(functions, models, running=running):
        for tree, paths in _old_trees(place, cutoff, properties).items():
            bytes_ = filesystems.total_size(paths, properties)
            if _delete(place, tree, properties):
                size += bytes_
                count += len(paths)
    return Vacuumed(None, 0, count, size)


def _delete(place: Place, tree: str, properties: Mapping[str, str]) -> bool:
    """Delete one tree of ``place``, unless a record names it by now; whether it went."""
    def wanted() -> bool:
        return place.named is not None and place.named(tree)
    if filesystems.is_local(place.root):  # renamed away first: never half there
        return artifacts.remove(Path(place.root) / tree, wanted)
    if wanted():
        return False
    # a half-deleted tree fails its hash check where a host copies it (and CREATE FUNCTION,
    # finding its code incomplete after recording it, stores it again)
    filesystems.remove_tree(f"{place.root}/{tree}", properties)
    return True


def _old_trees(place: Place, cutoff: float, properties: Mapping[str, str]) -> dict[str, list[str]]:
    """The trees of ``place`` no record names whose newest file is older than ``cutoff``, with
    their files (files right under the root, in no tree, are not the registry's: they stay)."""
    prefix = place.root.rstrip("/") + "/"
    files: dict[str, list[str]] = defaultdict(list)
    newest: dict[str, float] = defaultdict(float)
    for path, changed in filesystems.list_files(place.root, properties):
        parts = path.removeprefix(prefix).split("/")
        if not path.startswith(prefix) or len(parts) <= place.depth:
            continue
        tree = "/".join(parts[:place.depth])
        files[tree].append(path)
        newest[tree] = max(newest[tree], changed)
    return {tree: paths for tree, paths in files.items()
            if tree not in place.used and newest[tree] < cutoff}
