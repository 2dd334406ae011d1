#!/usr/bin/env bash
# The wheels the lent GPU machine lacks, into .whl/ (which device_setup.sh installs there): the
# versions this checkout's .venv has (`make install` first), for CPython 3.12 on manylinux. The
# largest are rewritten with LZMA members (zipfile, so pip, reads them; the files inside and
# their RECORD hashes are unchanged) so that the wheels and the working tree fit the 64 MiB a
# device call carries. The machine has everything else indb imports (its package list:
# the device library's KINDS.md).
#
#   bash benchmarks/device_wheels.sh
set -eu
cd "$(dirname "$0")/.."
names="annotated-types argon2-cffi argon2-cffi-bindings cachetools cffi dask distributed duckdb
landlockpy lazy-importer locket mmh3 partd pycparser pydantic pydantic-core pyiceberg
pyiceberg-core pyroaring sqlalchemy sqlglot strictyaml tblib tenacity tornado typing-inspection
zict zstandard pykx toml dill pytz"
pins=$(.venv/bin/python -c 'import sys, importlib.metadata as m
print("\n".join(f"{n}=={m.version(n)}" for n in sys.argv[1:]))' $names)
grep -qx /.whl/ .git/info/exclude 2>/dev/null || echo /.whl/ >> .git/info/exclude
rm -rf .whl
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    $(for n in 1 5 17 24 26 27 28; do echo --platform "manylinux_2_${n}_x86_64"; done) \
    --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d .whl $pins
python3 - .whl/duckdb-*.whl .whl/pyiceberg_core-*.whl .whl/zstandard-*.whl .whl/sqlalchemy-*.whl <<'PY'
import os, sys, zipfile
for wheel in sys.argv[1:]:
    with zipfile.ZipFile(wheel) as old, zipfile.ZipFile(wheel + ".new", "w", zipfile.ZIP_LZMA) as new:
        for info in old.infolist():
            new.writestr(info, old.read(info.filename), compress_type=zipfile.ZIP_LZMA)
    os.replace(wheel + ".new", wheel)
PY
du -sh .whl
