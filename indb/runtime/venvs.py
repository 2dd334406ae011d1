"""The virtual environments function environments run in: made with ``venv`` on top of indb's
own packages, filled with pip, read back with ``pip freeze``.

A generation is built whole in a directory of its own before the catalog names it
(``EnvironmentStore.swap``), so a failed install changes nothing: the catalog keeps naming the
generation it named, untouched. Every generation is built from a list of requirements (the
previous generation's exact ``pip freeze`` plus what is added, less what is removed), so what an
environment holds is always what its record says, and a database copied elsewhere (a backup, a
moved directory on another machine) rebuilds a missing or broken virtual environment from its
record on first use (``ensure``).

indb's own packages stay importable in every environment: the virtual environment sees the
site-packages of the interpreter indb runs in (``--system-site-packages`` reaches only a base
interpreter's, so a ``.pth`` file adds indb's own, which may be a virtual environment's), after
its own site-packages, so an environment's version of a package wins over indb's.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import site
import subprocess
import sys
import sysconfig
import uuid
import venv
from collections.abc import Sequence
from pathlib import Path

from indb.errors import ConflictError, FunctionError
from indb.registry.environments import EnvironmentInfo, EnvironmentStore, freeze_hash

BASE_PTH = "_indb_base.pth"   # in an environment's site-packages: indb's own packages
COPIES_DIR = ".copies"        # a host's own builds of environments in an object store, by hash
PIP_ERROR_LINES = 12          # lines of pip's output an error quotes when pip says no ERROR: line


def interpreter(directory: Path) -> Path:
    """The Python of a virtual environment."""
    return directory / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def build(home: Path, requirements: Sequence[str]) -> tuple[str, tuple[str, ...]]:
    """A new generation under ``home`` holding ``requirements``: its directory's name and its
    ``pip freeze``. A failure (pip's message in a FunctionError) leaves no directory behind."""
    home.mkdir(parents=True, exist_ok=True)
    generation = uuid.uuid4().hex[:12]
    directory = home / generation
    try:
        _create(directory)
        if requirements:
            _pip(directory, "install", *requirements, doing="install " + " ".join(requirements))
        frozen = freeze(directory)
    except BaseException:
        _remove(directory)
        raise
    return generation, frozen


def freeze(directory: Path) -> tuple[str, ...]:
    """Exactly what the environment itself holds (not indb's packages beneath it), sorted."""
    out = _pip(directory, "freeze", "--local", "--all", doing="list the installed packages")
    lines = [line.strip() for line in out.splitlines() if line.strip() and not line.startswith("#")]
    return tuple(sorted(lines, key=str.lower))


def works(directory: Path) -> bool:
    """Whether the virtual environment is there and made for the interpreter indb runs in now
    (a copied database's is missing, or made for another machine's Python and packages)."""
    python = interpreter(directory)
    try:
        config = (directory / "pyvenv.cfg").read_text()
        pth = (_site_packages(directory) / BASE_PTH).read_text()
    except OSError:
        return False
    home = re.search(r"^home\s*=\s*(.*)$", config, re.MULTILINE)
    return python.exists() and home is not None and \
        Path(home.group(1).strip()) == _base_home() and pth == _base_pth()


def ensure(store: EnvironmentStore, info: EnvironmentInfo) -> EnvironmentInfo:
    """The environment, with a working virtual environment: one missing or made elsewhere is
    rebuilt from the exact versions its record holds (the record then names the new one)."""
    if works(store.directory(info)):
        return info
    generation, frozen = build(store.home(info.name), info.frozen)
    rebuilt = info.changed_to(generation, info.requested, frozen)
    try:
        store.swap(info, rebuilt)
    except ConflictError:  # another process rebuilt or changed it first: use theirs
        _remove(store.home(info.name) / generation)
        current = store.get(info.name)
        if not works(store.directory(current)):
            raise
        return current
    return rebuilt


def verified_copy(root: Path, info: EnvironmentInfo) -> Path:
    """This host's virtual environment holding exactly what ``info`` records, for a database
    whose environments are not on a path every host sees: ``root/.copies/<hash>``, built from
    the record's ``pip freeze`` on first use and kept; one whose own freeze does not hash to the
    record's is refused (FunctionError) and removed."""
    target = root / COPIES_DIR / info.hash
    if works(target):
        return target
    generation, frozen = build(root / COPIES_DIR, info.frozen)
    built = root / COPIES_DIR / generation
    if freeze_hash(frozen) != info.hash:
        _remove(built)
        raise FunctionError(f"function environment {info.name} could not be made again on this "
                            "host as its record says: pip installed other versions than "
                            f"{', '.join(info.frozen) or 'nothing'}")
    try:
        os.rename(built, target)  # atomic: another process of the host sees all of it or none
    except OSError:
        _remove(built)
        if not works(target):  # not another process's copy that got there first
            raise
    return target


def _create(directory: Path) -> None:
    # pip comes from indb's own packages when they have it: no copy of pip in every environment
    with_pip = importlib.util.find_spec("pip") is None
    venv.EnvBuilder(system_site_packages=True, with_pip=with_pip,
                    symlinks=os.name != "nt").create(directory)
    (_site_packages(directory) / BASE_PTH).write_text(_base_pth())


def _base_home() -> Path:
    """The directory of the base interpreter beneath indb's (what venv writes as ``home``)."""
    return Path(os.path.abspath(getattr(sys, "_base_executable", sys.executable))).parent


def _site_packages(directory: Path) -> Path:
    return Path(sysconfig.get_path("purelib", vars={"base": str(directory),
                                                    "platbase": str(directory)}))


def _base_pth() -> str:
    """The .pth lines that add indb's site-packages (with their own .pth files: an editable
    install of indb is one) after the environment's own; site runs a line that starts with
    ``import``."""
    return "".join(f"import site; site.addsitedir({d!r})\n" for d in site.getsitepackages()
                   if Path(d).is_dir())


def _pip(directory: Path, *args: str, doing: str) -> str:
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"}
    env.pop("PYTHONHOME", None)
    done = subprocess.run([str(interpreter(directory)), "-m", "pip", *args], capture_output=True,
                          text=True, env=env, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        errors = [line for line in lines if line.startswith("ERROR:")] or lines[-PIP_ERROR_LINES:]
        raise FunctionError(f"pip could not {doing}; the environment was left as it was. pip "
                            "said:\n" + "\n".join(errors))
    return done.stdout


def _remove(directory: Path) -> None:
    shutil.rmtree(directory, ignore_errors=True)
