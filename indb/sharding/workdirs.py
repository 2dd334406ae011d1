"""A finished run's work directory, removed after the statement has its answer.

Removing a run's work directory (each instance's logs, scratch space, sandbox leftovers) took
40-140 ms of a warm statement on the developers' VM, more than the run's commit. The head now
renames it into ``REMOVED_DIR`` (one rename, in the same database directory) and a thread of
this process deletes what is there. Nothing in a work directory is a table's data (output files
are moved to their tables or deleted before the run ends), so a directory waiting there shows
nothing to any reader; one left by a process that died before its thread got to it is deleted
with the next run's.
"""

from __future__ import annotations

import os
import queue
import shutil
import threading
import uuid
from pathlib import Path

REMOVED_DIR = "runs.removed"  # in the database directory: work directories being deleted

_pending: queue.Queue[Path] = queue.Queue()
_started = threading.Lock()
_thread: threading.Thread | None = None


def remove_later(work_root: Path, db_path: Path) -> None:
    """Take ``work_root`` (a run's directory under ``db_path``) out of the way now and delete it
    on this process's removal thread; where it cannot be renamed, delete it here."""
    removed = db_path / REMOVED_DIR
    try:
        removed.mkdir(exist_ok=True)
        os.rename(work_root, removed / f"{work_root.name}-{uuid.uuid4().hex[:8]}")
    except FileNotFoundError:  # no instance made it: nothing to remove
        if not work_root.exists():
            return
        shutil.rmtree(work_root, ignore_errors=True)
        return
    except OSError:
        shutil.rmtree(work_root, ignore_errors=True)
        return
    _pending.put(removed)
    _ensure_thread()


def wait_removed() -> None:
    """Block until every directory handed to ``remove_later`` so far is deleted (for tests)."""
    _pending.join()


def _ensure_thread() -> None:
    global _thread
    with _started:
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=_remove_forever, name="indb-workdir-removal",
                                       daemon=True)
            _thread.start()


def _remove_forever() -> None:
    while True:
        removed = _pending.get()
        try:
            # everything there: this run's directory and any a dead process left behind
            for entry in list(removed.iterdir()) if removed.is_dir() else []:
                shutil.rmtree(entry, ignore_errors=True)
        except OSError:
            pass  # another process is emptying it at the same time
        finally:
            _pending.task_done()
