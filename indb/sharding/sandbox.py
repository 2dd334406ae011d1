"""The operating system's sandbox around UDF instances: Landlock (through landlockpy), and no
capabilities for a host run as root (util-linux's ``setpriv``).

The supervisor decides what a job's host may touch (``policy``) and starts the host through
``confine.py`` (``command``), which applies the rules before the host's first import. A host is
kept only for jobs of the same policy. Everything an instance writes lands beneath its host's
staging directory: the job it is sent is rewritten to put it there (``staged``: its work
directory, the output tables' new files, the models it saves, its temporary files), and the
supervisor, which is not confined, moves what it wrote into place when it ends (``deliver``).
What the sandbox guarantees, and what not, is in docs/security.md.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import os
import shutil
import site
import socket
import sys
import sysconfig
import uuid
from dataclasses import dataclass
from pathlib import Path

from pyiceberg.manifest import DATA_FILE_TYPE, DEFAULT_READ_VERSION, DataFile

from indb.errors import OptionError
from indb.registry.models import MODELS_DIR
from indb.registry.runs import RunStatus
from indb.sharding.jobs import AppendOutput, CreateOutput, Job, Outcome, Output
from indb.storage.files import local_path

MODES = ("auto", "on", "off")  # INDB_SANDBOX: where available / required / never
MIN_ABI = 4  # Landlock's TCP rules (Linux 6.7): without them an instance could reach Dask
CONFINE = str(Path(__file__).with_name("confine.py"))
PACKAGE_DIR = str(Path(__file__).resolve().parents[1])  # indb's own modules (and the shims)
KIFS_DIR = "kifs"  # the database's KiFS folder (indb.sharding.scripts), for scripts
HOSTS_DIR = ".sandbox"  # in the database directory: each sandboxed host's staging directory
# What Python, its libraries and DuckDB read on any machine (nothing in them is a secret);
# /proc/self is the host's own directory (resolved when the rules are made).
SYSTEM_READ = ("/usr", "/lib", "/lib64", "/bin", "/etc/ld.so.cache", "/etc/localtime",
               "/etc/passwd", "/etc/group", "/etc/nsswitch.conf", "/etc/mime.types", "/etc/ssl",
               "/etc/ca-certificates", "/proc/self", "/proc/cpuinfo", "/proc/meminfo",
               "/sys/devices/system/cpu", "/sys/fs/cgroup", "/dev/urandom", "/dev/random",
               "/dev/zero")
SYSTEM_WRITE = ("/dev/null",)
# on a GPU worker: the driver's devices and what CUDA reads about them (INDB_SANDBOX_DEVICES)
GPU_DEVICES = ("/dev/nvidia*", "/dev/nvidia-caps/*", "/dev/dri/*")
GPU_READ = ("/proc/driver/nvidia", "/sys/bus/pci", "/sys/devices", "/sys/module/nvidia")
# in a DDP run's instance: what gloo and NCCL read about the network interfaces (their links
# lead beneath /sys/devices) and the PCI devices behind them
COLLECTIVE_READ = ("/sys/class/net", "/sys/bus/pci", "/sys/devices")


def mode() -> str:
    """``INDB_SANDBOX`` of this process: ``auto`` (the default), ``on`` or ``off``."""
    value = os.environ.get("INDB_SANDBOX", "").strip().lower() or "auto"
    if value not in MODES:
        raise OptionError(f"INDB_SANDBOX={value!r} is not a sandbox mode; use auto (confine "
                          "instances where the kernel can), on (refuse to run them unconfined) "
                          "or off")
    return value


@functools.cache
def unavailable() -> str | None:
    """Why instances cannot be confined on this machine (None: they can)."""
    if sys.platform != "linux":
        return "Landlock is a Linux security module"
    import landlockpy  # Linux only (setup.cfg)
    abi = landlockpy.abi_version()
    if abi < MIN_ABI:
        return (f"the kernel's Landlock ABI is {abi} (0: Landlock is off or missing); the sandbox "
                f"needs {MIN_ABI} or later (Linux 6.7), with landlock in the kernel's lsm= list")
    if os.geteuid() == 0 and shutil.which("setpriv") is None:
        return "indb runs as root, and util-linux's setpriv, which drops root's capabilities, is missing"
    return None


def decide(job: Job) -> tuple[Policy | None, str | None]:
    """The policy of ``job``'s host (None: unconfined), or why the job must not run at all:
    ``INDB_SANDBOX`` of this worker process says whether an instance may run unconfined where
    the sandbox is unavailable (``auto``: yes, saying so in its log; ``on``: no)."""
    try:
        wanted = mode()
    except OptionError as error:
        return None, str(error)
    if wanted == "off":
        return None, None
    reason = unavailable() or _remote(job) or _gpu()
    if reason is None:
        return policy(job), None
    if wanted == "on":
        return None, (f"INDB_SANDBOX=on, but instances cannot be confined on this worker: {reason}. "
                      "Run the workers where they can, or set INDB_SANDBOX=auto or off there")
    _warn(reason)
    log = Path(job.work_dir) / "stderr.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a") as stream:
        stream.write(f"indb: this instance runs unconfined: {reason} (INDB_SANDBOX=auto; set it "
                     "to on to refuse that, or off)\n")
    return None, None


def _remote(job: Job) -> str | None:
    """Why ``job`` cannot be confined although the machine can: files in an object store are
    reached over TCP, which the sandbox closes."""
    locations = [p for spec in job.inputs for table in spec.tables for p in table.paths] + [
        _location(o) for o in job.outputs if isinstance(o, AppendOutput | CreateOutput)]
    remote = next((p for p in locations if not _local(p)), None)
    return None if remote is None else (
        f"its tables' files are not in a local directory ({remote.split('/')[0]}//...), and the "
        "sandbox allows no TCP")


def _gpu() -> str | None:
    """Why a GPU worker's instances are not confined yet: on the H200 host (Linux 6.18, Landlock
    ABI 7) CUDA fails to start inside the sandbox (cudaGetDeviceCount: error 304, "OS call failed")
    with the device rules of GPU_DEVICES and GPU_READ; what else it needs is not found yet."""
    return ("CUDA does not start inside the sandbox yet (error 304 from cudaGetDeviceCount)"
            if os.environ.get("INDB_DEVICE") == "cuda" else None)


@functools.cache
def _warn(reason: str) -> None:
    """Say once per worker process that its instances run unconfined."""
    logging.getLogger(__name__).warning("UDF instances run unconfined on this worker: %s", reason)


@dataclass(frozen=True)
class Policy:
    """What a host may touch besides its staging directory, which goes in ``root``: paths it
    reads (and executes) beneath, paths it may change, glob patterns of devices it uses."""

    root: str
    read: tuple[str, ...]
    write: tuple[str, ...]
    devices: tuple[str, ...]
    # a DDP run's instance: TCP (gloo's and NCCL's own listening ports, which Landlock cannot
    # name in advance) and abstract Unix sockets between ranks (NCCL's) stay open
    collective: bool = False
    # (device, inode) of each directory read when the rules were made: Landlock holds the
    # directory, not its path, so a table dropped and made again (a new directory at the same
    # path) needs a new host; a host is reused only under rules equal to these
    identities: tuple[tuple[int, int], ...] = ()


def policy(job: Job) -> Policy:
    """The least a host running ``job`` needs: Python, indb and the function's environment, the
    function's code, its input tables' directories, the database's models; KiFS for a script."""
    db = Path(job.db_path)
    (db / MODELS_DIR).mkdir(exist_ok=True)  # made here: a rule names a directory that exists
    tables = {_data_dir(path) for spec in job.inputs for table in spec.tables for path in table.paths}
    # the worker's PYTHONPATH is code too (a checkout or a --target directory of wheels, where
    # the import system must list the directory to find indb and its dependencies)
    read = [*SYSTEM_READ, *_python(job.python), *_listed("PYTHONPATH"), PACKAGE_DIR, job.code_dir,
            *sorted(tables), str(db / MODELS_DIR), *_listed("INDB_SANDBOX_READ")]
    write = [*SYSTEM_WRITE, *_listed("INDB_SANDBOX_WRITE")]
    if job.function.style == "script":
        (db / KIFS_DIR).mkdir(exist_ok=True)
        write.append(str(db / KIFS_DIR))
    devices = _listed("INDB_SANDBOX_DEVICES") or (
        list(GPU_DEVICES) if os.environ.get("INDB_DEVICE") == "cuda" else [])
    if devices:
        read.extend(GPU_READ)
    if job.rendezvous is not None:
        read.extend(COLLECTIVE_READ)
    return Policy(str(db / HOSTS_DIR), tuple(dict.fromkeys(read)), tuple(write), tuple(devices),
                  job.rendezvous is not None, _identities([*sorted(tables), job.code_dir]))


def _identities(paths: list[str]) -> tuple[tuple[int, int], ...]:
    """(device, inode) of each path that exists."""
    found = []
    for path in paths:
        try:
            stat = os.stat(path)
        except OSError:
            continue
        found.append((stat.st_dev, stat.st_ino))
    return tuple(found)


def _data_dir(path: str) -> str:
    """The directory of a table's data files (above the partition's, ``shard_bucket=3``): a host
    stays the same for every shard and snapshot of its inputs, and reads only their tables."""
    parent = Path(local_path(path)).parent
    return str(parent.parent if "=" in parent.name else parent)


def _python(python: str) -> list[str]:
    """The directories of indb's interpreter and of a function environment's (``python``)."""
    paths = [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
             str(Path(os.path.realpath(sys.executable)).parent.parent), *site.getsitepackages(),
             *(p for p in sysconfig.get_paths().values())]
    if python:
        paths += [str(Path(python).parent.parent), str(Path(os.path.realpath(python)).parent.parent)]
    return paths


def _listed(variable: str) -> list[str]:
    """A ``:``-separated list of paths in an environment variable of this (worker) process."""
    return [p for p in os.environ.get(variable, "").split(os.pathsep) if p]


def command(rules: Policy, staging: Path, argv: list[str]) -> list[str]:
    """``argv`` (a host's command, its interpreter first) run in the sandbox of ``rules``, with
    ``staging`` its own; as root, with no capabilities."""
    rules_json = json.dumps({"read": list(rules.read), "write": [str(staging), *rules.write],
                             "devices": list(rules.devices), "collective": rules.collective})
    prefix = ["setpriv", "--bounding-set", "-all", "--inh-caps", "-all", "--ambient-caps", "-all",
              "--"] if os.geteuid() == 0 else []
    return [*prefix, argv[0], "-P", CONFINE, rules_json, "--", *argv]


def staging_dir(rules: Policy) -> Path:
    """A new host's own directory, in the database directory (so that what it writes moves
    into place by renaming), named after this worker process; those of this
    machine's worker processes that are gone (hosts end with their worker) are removed."""
    root = Path(rules.root)
    prefix = f"host-{socket.gethostname()}-"
    for stale in root.glob(prefix + "*"):
        pid = stale.name.removeprefix(prefix).split("-")[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)
    directory = root / f"{prefix}{os.getpid()}-{uuid.uuid4().hex[:12]}"
    directory.mkdir(parents=True)
    return directory


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def environment(staging: Path) -> dict[str, str]:
    """A sandboxed host's temporary files and home (caches, configuration) in its staging."""
    for name in ("tmp", "home"):
        (staging / name).mkdir(exist_ok=True)
    return {"TMPDIR": str(staging / "tmp"), "HOME": str(staging / "home")}


# -- a job's writes in the staging directory --------------------------------------------------

def staged(job: Job, staging: Path) -> Job:
    """``job`` writing beneath ``staging``: its work directory (logs, scratch, RESULT files, the
    models it saves) and its output tables' new files (in ``tables/`` of the work directory)."""
    work = staging / f"{job.run_id}-{job.shard}"
    return dataclasses.replace(job, work_dir=str(work),
                               outputs=tuple(_staged_output(o, work) for o in job.outputs))


def _staged_output(output: Output, work: Path) -> Output:
    location = (work / "tables" / output.name).as_uri()
    if isinstance(output, AppendOutput) and _local(output.location):
        return dataclasses.replace(output, metadata=output.metadata.model_copy(
            update={"location": location}))
    if isinstance(output, CreateOutput) and _local(output.location):
        return dataclasses.replace(output, location=location)
    return output  # RESULT files go in the work directory; a remote warehouse is written directly


def delivered(staged_job: Job, job: Job, outcome: Outcome) -> Outcome:
    """``outcome`` once what its instance wrote is in place; an ERROR one if it cannot be moved
    (the run then fails, and its work directory, with whatever is left there, goes)."""
    try:
        deliver(staged_job, job, outcome)
    except OSError as error:
        return Outcome(job.shard, RunStatus.ERROR, f"what the instance wrote could not be moved "
                                                   f"out of its sandbox: {error}")
    return outcome


def deliver(staged_job: Job, job: Job, outcome: Outcome) -> None:
    """Move what the instance of ``staged_job`` wrote where ``job`` says, and tell ``outcome``:
    new data files into their tables' locations, then the work directory to its place."""
    if outcome.status == RunStatus.COMPLETED:
        for before, after in zip(staged_job.outputs, job.outputs, strict=True):
            for data_file in outcome.files.get(after.name, []):
                _move(data_file, _location(before), _location(after))
    work, target = Path(staged_job.work_dir), Path(job.work_dir)
    if work.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        os.rename(work, target)
    outcome.results = {name: _rebased(path, work, target) for name, path in outcome.results.items()}
    outcome.models = [dataclasses.replace(m, staging=_rebased(m.staging, work, target))
                      for m in outcome.models]


def _location(output: Output) -> str:
    return output.location if isinstance(output, AppendOutput | CreateOutput) else ""


def _local(location: str) -> bool:
    return location.startswith("file://") or location.startswith("/")


_FILE_PATH = [f.name for f in DATA_FILE_TYPE[DEFAULT_READ_VERSION].fields].index("file_path")


def _move(data_file: DataFile, staged_location: str, location: str) -> None:
    """Move a staged data file below its table's location (pyiceberg's DataFile has no setter
    for its path: the field is set by its place in the record)."""
    if staged_location == location:  # written in place (a remote warehouse)
        return
    path = data_file.file_path
    if not path.startswith(staged_location + "/"):
        raise OSError(f"{path} was not written beneath the instance's {staged_location}")
    moved = location + path[len(staged_location):]
    Path(local_path(moved)).parent.mkdir(parents=True, exist_ok=True)
    os.rename(local_path(path), local_path(moved))
    data_file[_FILE_PATH] = moved
    assert data_file.file_path == moved  # the record's layout is pyiceberg's version 2


def _rebased(path: str, old: Path, new: Path) -> str:
    return str(new / Path(path).relative_to(old)) if Path(path).is_relative_to(old) else path
