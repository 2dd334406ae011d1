"""The model registry: versions of named models, their artifacts, metrics, lineage and aliases.

Artifacts live in the database directory (``models/<name>/v<version>/``), written first to a
staging directory and moved into place only when the version is registered, so a version in the
catalog always has its files and a failed run leaves no version behind. In an object-store
warehouse they are uploaded whole to ``models/<name>/<id>/`` before the version is recorded (with
their digest), deleted if it is not, and each host loads a verified copy (``local``). Six flavors, all loaded
without the training code and without unpickling arbitrary objects:

- ``torch``: a ``torch.export`` program (``model.pt2``: the graph as JSON, weights as raw tensors);
- ``onnx``: an ONNX graph (``model.onnx``), run by onnxruntime;
- ``keras``: a Keras 3 model (``model.keras``: the architecture as JSON, weights as HDF5),
  loaded with ``safe_mode`` (no code or pickles deserialised), on the torch backend by default;
- ``xgboost``, ``lightgbm``: tree ensembles in their libraries' own model files (UBJSON, text);
- ``tensorflow``: a SavedModel directory (graph and variables), run through its serving signature.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import sqlalchemy as sa

from indb.catalog import artifacts, filesystems
from indb.catalog.database import Database, create_tables
from indb.errors import CatalogError, ConflictError, ModelError, not_found

MODELS_DIR = "models"
STAGING_DIR = ".staging"
FETCHED_DIR = ".copies"  # a host's verified copies of models in an object store, by digest
FLAVORS = {"torch": "model.pt2", "onnx": "model.onnx", "keras": "model.keras",
           "xgboost": "model.ubj", "lightgbm": "model.txt",  # the libraries' own files
           "tensorflow": "saved_model"}  # a SavedModel directory
OUTPUTS = ("class", "value", "vector")  # argmax of scores; one number; the whole output row

_metadata = sa.MetaData()
_models = sa.Table(
    "indb_models", _metadata,
    sa.Column("name", sa.String, primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("definition", sa.Text, nullable=False),  # ModelInfo as JSON
)
_aliases = sa.Table(
    "indb_model_aliases", _metadata,
    sa.Column("name", sa.String, primary_key=True),
    sa.Column("alias", sa.String, primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
)
# one row: a token drawn anew by every change of the two tables above, in the change's
# transaction (``state``), so that a host may keep its answers to ``get`` while it stays. Drawn,
# not counted: a catalog restored from a backup has an older state's token, and a count would
# then reach numbers that meant other states
_changes = sa.Table(
    "indb_model_changes", _metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("token", sa.String, nullable=False),
)


@sa.event.listens_for(_changes, "after_create")
def _first_state(target: sa.Table, connection: sa.Connection, **_: object) -> None:
    """The row, made with its table (under ``create_tables``' lock: never two of them)."""
    connection.execute(_changes.insert().values(id=1, token=uuid.uuid4().hex))


def _changed(conn: sa.Connection) -> None:
    """Note a change of the models' rows, in the transaction that makes it (its row lock keeps
    two changes from sharing a token)."""
    conn.execute(_changes.update().values(token=uuid.uuid4().hex))


@dataclass(frozen=True)
class ModelInfo:
    """One version of a model."""

    name: str
    version: int
    flavor: str
    path: str                       # the artifact file
    input_shape: tuple[int, ...]    # one row's shape, e.g. (64,) or (1, 28, 28)
    input_dtype: str
    output: str                     # class | value | vector
    output_width: int               # scores per row (class, vector) or 1
    metrics: dict[str, float] = field(default_factory=dict)
    lineage: dict[str, object] = field(default_factory=dict)
    created: float = 0.0
    digest: str = ""  # of its artifacts' files, in an object store (``catalog.artifacts``)

    @property
    def input_width(self) -> int:
        return math.prod(self.input_shape)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ModelInfo:
        data = json.loads(text)
        data["input_shape"] = tuple(data["input_shape"])
        return cls(**data)


@dataclass
class StagedModel:
    """A model saved by a running instance, registered by the head if the whole run succeeds."""

    name: str
    flavor: str
    staging: str                    # directory holding the artifact
    input_shape: tuple[int, ...]
    input_dtype: str
    output: str
    output_width: int
    metrics: dict[str, float]
    digest: str = ""  # once published to an object-store warehouse (``ModelStore.publish``)


@contextmanager
def staging_dir(db_path: str | Path) -> Iterator[Path]:
    """A fresh directory for an artifact that is not registered yet, removed if the block
    that writes it fails (nothing half-saved)."""
    path = Path(db_path) / MODELS_DIR / STAGING_DIR / uuid.uuid4().hex
    path.mkdir(parents=True)
    try:
        yield path
    except BaseException:
        shutil.rmtree(path, ignore_errors=True)
        raise


class ModelStore:
    """The models of one database."""

    def __init__(self, db: Database) -> None:
        self.db = db
        create_tables(db.engine, _metadata)

    @property
    def root(self) -> Path:
        """Where versions live in a local root (a directory, a shared mount)."""
        return Path(self.db.shared_root) / MODELS_DIR

    def publish(self, staged: StagedModel) -> StagedModel:
        """A model staged on this host, put where the head can register it: as it is in a local
        root; in an object-store warehouse uploaded to ``models/<name>/<id>/`` (its place for
        good: registering it only records it) with its digest, and the local copy removed."""
        if self.db.local_root is not None or not filesystems.is_local(staged.staging):
            return staged
        _check_name(staged.name)
        uri = f"{self.db.shared_root}/{MODELS_DIR}/{staged.name}/{uuid.uuid4().hex}"
        digest = artifacts.tree_digest(Path(staged.staging))
        try:
            artifacts.upload(Path(staged.staging), uri, self.db.io_properties)
        except BaseException:
            filesystems.remove_tree(uri, self.db.io_properties)
            raise
        shutil.rmtree(staged.staging, ignore_errors=True)
        return StagedModel(**{**staged.__dict__, "staging": uri, "digest": digest})

    def register(self, staged: StagedModel, lineage: dict[str, object]) -> ModelInfo:
        """Make a staged model the next version of its name (moving its files into place)."""
        _check_name(staged.name)
        staged = self.publish(staged)
        if not filesystems.is_local(staged.staging):
            return self._record(staged, lineage)
        taken = 0  # a directory without a version row: a racer's, or a killed head's leftover
        for _ in range(20):  # two registrations racing for one version number: try the next
            version = max(self._latest(staged.name), taken) + 1
            target = self.root / staged.name / f"v{version}"
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                os.rename(staged.staging, target)
            except OSError:
                if target.exists():
                    taken = version
                    continue
                raise
            info = _version(staged, version, str(target), lineage)
            if self._insert(info):
                return info
            os.rename(target, staged.staging)
        raise _crowded(staged.name)

    def _record(self, staged: StagedModel, lineage: dict[str, object]) -> ModelInfo:
        """Record a published model (in an object store: its files stay where they are) as the
        next version of its name."""
        for _ in range(20):  # two registrations racing for one version number: try the next
            info = _version(staged, self._latest(staged.name) + 1, staged.staging, lineage)
            if self._insert(info):
                return info
        raise _crowded(staged.name)

    def _insert(self, info: ModelInfo) -> bool:
        """Record a version's row; False if its number was taken meanwhile."""
        insert = _models.insert().values(name=info.name, version=info.version,
                                         definition=self._stored(info))
        try:
            with self.db.engine.begin() as conn:
                if conn.dialect.name == "sqlite":  # a failed statement leaves the transaction be
                    conn.execute(insert)
                else:
                    # a savepoint: PostgreSQL aborts the transaction at a failed statement, and
                    # this one may be a run's commit (commit.together) that tries the next
                    # number (pysqlite's SAVEPOINT outside a begun transaction would commit at
                    # its release)
                    with conn.begin_nested():
                        conn.execute(insert)
                _changed(conn)
        except sa.exc.IntegrityError:
            return False
        return True

    def _stored(self, info: ModelInfo) -> str:
        """A version's row: its artifact's path relative to the database, so that a database
        directory can move without its models' paths pointing at the old place."""
        root = self.db.shared_root + "/"
        if not info.path.startswith(root):
            raise ModelError(f"the artifact {info.path} is not in the database's {root}")
        return ModelInfo(**{**info.__dict__, "path": info.path.removeprefix(root)}).to_json()

    def _loaded(self, definition: str) -> ModelInfo:
        info = ModelInfo.from_json(definition)
        if os.path.isabs(info.path) or not filesystems.is_local(info.path):
            return info  # recorded whole (absolute stays)
        return ModelInfo(**{**info.__dict__, "path": f"{self.db.shared_root}/{info.path}"})

    def local(self, info: ModelInfo) -> ModelInfo:
        """``info`` with a path this host loads from: itself in a local root, else this host's
        verified copy of its artifacts (downloaded on first use, kept for later loads)."""
        if filesystems.is_local(info.path):
            return info
        directory, name = info.path.rsplit("/", 1)
        copy = artifacts.fetched(directory, info.digest, self.db.path / MODELS_DIR / FETCHED_DIR,
                                 self.db.io_properties)
        return ModelInfo(**{**info.__dict__, "path": str(copy / name)})

    def discard(self, staged: StagedModel) -> None:
        if filesystems.is_local(staged.staging):
            shutil.rmtree(staged.staging, ignore_errors=True)
        else:
            filesystems.remove_tree(staged.staging, self.db.io_properties)

    def _latest(self, name: str) -> int:
        with self.db.engine.connect() as conn:
            return conn.execute(sa.select(sa.func.max(_models.c.version))
                                .where(_models.c.name == name)).scalar() or 0

    def state(self) -> str:
        """A token that changes with every version or alias added or dropped: while it stays,
        ``get`` gives the same answers (a run's hosts keep theirs by it: ``sharding/host.py``)."""
        with self.db.engine.connect() as conn:
            return str(conn.execute(sa.select(_changes.c.token)).scalar_one())

    def get(self, name: str, version: int | str | None = None) -> ModelInfo:
        """A version by number, by alias, or (None) the latest."""
        name = name.lower()
        if isinstance(version, str) and not version.isdigit():
            with self.db.engine.connect() as conn:
                found = conn.execute(sa.select(_aliases.c.version).where(
                    _aliases.c.name == name, _aliases.c.alias == version.lower())).scalar()
            if found is None:
                raise CatalogError(f"model {name} has no alias {version}; ALTER MODEL {name} SET "
                                   f"ALIAS {version} = <version> makes one")
            version = found
        version = int(version) if version is not None else self._latest(name)
        with self.db.engine.connect() as conn:
            row = conn.execute(sa.select(_models.c.definition).where(
                _models.c.name == name, _models.c.version == version)).first()
        if row is None:
            if not self._latest(name):
                raise not_found("model", name)
            raise CatalogError(f"model {name} has no version {version}; DESCRIBE MODEL {name} lists them")
        return self._loaded(row[0])

    def versions(self, name: str) -> list[ModelInfo]:
        with self.db.engine.connect() as conn:
            rows = conn.execute(sa.select(_models.c.definition).where(_models.c.name == name.lower())
                                .order_by(_models.c.version)).all()
        if not rows:
            raise not_found("model", name)
        return [self._loaded(r[0]) for r in rows]

    def names(self) -> list[str]:
        with self.db.engine.connect() as conn:
            return [r[0] for r in conn.execute(sa.select(_models.c.name).distinct().order_by(_models.c.name))]

    def aliases(self, name: str) -> dict[str, int]:
        with self.db.engine.connect() as conn:
            rows = conn.execute(sa.select(_aliases.c.alias, _aliases.c.version)
                                .where(_aliases.c.name == name.lower())).all()
        return dict(rows)

    def set_alias(self, name: str, alias: str, version: int) -> None:
        self.get(name, version)  # the version must exist
        with self.db.engine.begin() as conn:
            conn.execute(_aliases.delete().where(_aliases.c.name == name, _aliases.c.alias == alias))
            conn.execute(_aliases.insert().values(name=name, alias=alias, version=version))
            _changed(conn)

    def drop(self, name: str, version: int | None = None) -> int:
        """Drop a model (every version) or one version; returns how many versions went."""
        doomed = [v for v in self.versions(name) if version is None or v.version == version]
        if not doomed:
            raise CatalogError(f"model {name} has no version {version}")
        with self.db.engine.begin() as conn:
            for info in doomed:
                conn.execute(_models.delete().where(_models.c.name == info.name,
                                                    _models.c.version == info.version))
                conn.execute(_aliases.delete().where(_aliases.c.name == info.name,
                                                     _aliases.c.version == info.version))
            _changed(conn)
        for info in doomed:
            if filesystems.is_local(info.path):
                shutil.rmtree(Path(info.path).parent, ignore_errors=True)
            else:
                filesystems.remove_tree(info.path.rsplit("/", 1)[0], self.db.io_properties)
        return len(doomed)


def _version(staged: StagedModel, version: int, directory: str,
             lineage: dict[str, object]) -> ModelInfo:
    """The version ``version`` of a staged model whose files are in ``directory``."""
    return ModelInfo(staged.name, version, staged.flavor, f"{directory}/{FLAVORS[staged.flavor]}",
                     tuple(staged.input_shape), staged.input_dtype, staged.output,
                     staged.output_width, dict(staged.metrics), lineage, time.time(), staged.digest)


def _crowded(name: str) -> ConflictError:
    return ConflictError(f"could not register a version of {name}: too many at once; run it again")


def _check_name(name: str) -> None:
    if not name or not name.replace("_", "").isalnum() or name != name.lower():
        raise ModelError(f"model names are lower-case letters, digits and _, not {name!r}")
