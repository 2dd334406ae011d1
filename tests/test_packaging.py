"""The wheel carries what `indb demo` needs from an installed copy: udfs/, sql/ and the shim."""

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).parent.parent


def test_the_wheel_ships_udfs_sql_and_the_kinetica_shim(tmp_path):
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                           "-q", "-w", str(tmp_path), str(ROOT)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    (wheel,) = tmp_path.glob("indb-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {n.split("/data/", 1)[1] for n in names if ".data/data/share/indb/" in n}
    expected = {f"share/indb/{p.relative_to(ROOT)}" for p in
                [*ROOT.glob("udfs/*.py"), *ROOT.glob("udfs/kinetica/*.py"), *ROOT.glob("sql/*.sql")]}
    assert shipped == expected
    assert "indb/udf/shims/kinetica_proc.py" in names
