"""Kinetica-style scripts at run time: the files an instance's script reads (Kinetica's control
file and column files, ``indb.udf.kinetica_files``), its outputs read back, and what a script
that failed said.

Both ``kinetica_proc`` modules read these files: indb's (on the script's path) and Kinetica's own,
when a function ships it in FILE PATHS (it then comes first on the path and reads them unchanged).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import pyarrow as pa

from indb.catalog.types import Column
from indb.errors import DataError, FunctionError
from indb.sharding.jobs import AppendOutput, InputRead, Job, Output
from indb.udf import kinetica_files as kf

STDERR_TAIL = 10  # lines of a failed script's stderr its message ends with
KIFS_DIR = "kifs"  # in the database directory: files scripts keep between runs, as on Kinetica's KiFS
_FRAME = re.compile(r'^  File "(?P<file>[^"]+)", line (?P<line>\d+)', re.MULTILINE)


def request_info(job: Job) -> dict[str, str]:
    """Kinetica's request info keys, with what they mean here ("" where indb has no such thing:
    no API endpoint or credentials to call back with); KiFS is a folder of the database."""
    distributed = job.function.mode == "distributed"
    return {
        "proc_name": job.function.name,
        "run_id": job.run_id,
        "rank_number": str(job.rank if distributed else 0),
        "tom_number": str(job.tom if distributed else 0),
        "data_segment_id": f"{job.run_id}_{job.shard}",
        "data_segment_count": str(job.shards),
        "data_segment_number": str(job.shard),
        "cuda_devices": os.environ.get("CUDA_VISIBLE_DEVICES", "")
        if os.environ.get("INDB_DEVICE") == "cuda" else "",
        "head_url": "",
        "username": "",
        "password": "",
        "kifs_mount_point": str(Path(job.db_path) / KIFS_DIR),
    }


def prepare(job: Job, tables: list[pa.Table], proc_dir: Path) -> kf.Control:
    """Write the instance's input columns and its control file (``proc_dir/control``)."""
    (Path(job.db_path) / KIFS_DIR).mkdir(exist_ok=True)
    return write_request(proc_dir, [(input_name(spec, i), table) for i, (spec, table)
                                    in enumerate(zip(job.inputs, tables, strict=True))],
                         [(o.name, declared_columns(job, o)) for o in job.outputs],
                         request_info(job), job.params)


def write_request(proc_dir: Path, inputs: Sequence[tuple[str, pa.Table]],
                  outputs: Sequence[tuple[str, Sequence[Column]]], info: Mapping[str, str],
                  params: Mapping[str, str]) -> kf.Control:
    """Write input tables' column files and a control file naming them and the output tables'
    (empty) column files; returns what the control file says."""
    tables = []
    for i, (name, table) in enumerate(inputs):
        columns = []
        for j, f in enumerate(table.schema):
            kind = kf.kind_of(f.type)
            files = kf.column_files(proc_dir, f"in{i}_{j}", f.name, kind, f.nullable)
            kf.write_column(files, kf.to_wire(table.column(j), kind))
            columns.append(files)
        tables.append(kf.TableFiles(name, tuple(columns)))
    out = tuple(kf.TableFiles(name, tuple(
        kf.column_files(proc_dir, f"out{i}_{j}", c.name, kf.kind_of(c.arrow_type), c.nullable)
        for j, c in enumerate(columns))) for i, (name, columns) in enumerate(outputs))
    control = kf.Control(info, params, {}, tuple(tables), out, str(proc_dir / "output_control"),
                         str(proc_dir / "status"))
    kf.write_control(proc_dir / "control", control)
    return control


def read_outputs(control: kf.Control, outputs: Sequence[Sequence[Column]]) -> list[pa.Table]:
    """The rows a script wrote into each output table (as many as it sized the table for), as
    tables of the declared ``outputs`` columns."""
    tables = []
    for files, columns in zip(control.outputs, outputs, strict=True):
        arrays = []
        for column, col_files in zip(columns, files.columns, strict=True):
            try:
                arrays.append(kf.from_wire(kf.read_column(col_files), col_files.kind, column.arrow_type))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError) as error:
                raise DataError(f"column {column.name} of output {files.name} holds values that "
                                f"do not fit {column.sql_type}: {error}") from None
        lengths = {len(a) for a in arrays}
        if len(lengths) > 1:
            raise DataError(f"output {files.name}'s columns were sized differently: " + ", ".join(
                f"{f.name} {len(a)}" for f, a in zip(files.columns, arrays, strict=True)))
        tables.append(pa.Table.from_arrays(arrays, schema=pa.schema(
            [pa.field(c.name, c.arrow_type) for c in columns])))
    return tables


def failure(job: Job, stderr: str, returncode: int) -> tuple[str, str | None]:
    """A failed script's message, its own exception and the line of its code that raised it
    first, then its stderr's tail; and its traceback (None if it printed none)."""
    start = stderr.rfind("Traceback (most recent call last):")
    tail = "\n".join(stderr.rstrip().splitlines()[-STDERR_TAIL:])
    if start < 0:
        return (f"{job.function.entry} exited with code {returncode}"
                + (f"; its stderr ends:\n{tail}" if tail else ""), None)
    trace = stderr[start:].rstrip()
    frames = [(m["file"], m["line"]) for m in _FRAME.finditer(trace)]
    # the script's own code: not the kinetica_proc it may ship, nor libraries
    own = [f for f in frames if f[0].startswith(job.code_dir)
           and Path(f[0]).name != "kinetica_proc.py"] or frames
    lines = trace.splitlines()
    error = next((line for line in reversed(lines) if line and not line.startswith(" ")), lines[-1])
    where = ""
    if own:
        file, line = own[-1]
        shown = os.path.relpath(file, job.code_dir) if file.startswith(job.code_dir) else file
        where = f"{shown}, line {line}: "
    return f"{where}{error} (exit code {returncode}); its stderr ends:\n{tail}", trace


def input_name(spec: InputRead, index: int) -> str:
    return spec.tables[0].name if spec.sql is None else f"input_{index}"


def declared_columns(job: Job, output: Output) -> tuple[Column, ...]:
    """The columns a script's output table has: the existing table's, or RETURNS TABLE's."""
    if isinstance(output, AppendOutput):
        return output.info.columns
    if job.function.returns:
        return job.function.returns
    raise FunctionError(f"a ProcData script writes to tables whose columns are known: create "
                        f"{output.name} first, or declare RETURNS TABLE (...) in CREATE FUNCTION")


class ScriptFailed(FunctionError):
    """A script that failed; ``args``: the message, and the script's own traceback (or None)."""

    def __str__(self) -> str:
        return str(self.args[0])

    @property
    def trace(self) -> str | None:
        return self.args[1] if len(self.args) > 1 else None
