"""The docs teach only what exists: their SQL runs, their CLI commands and options are real."""

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from indb.cli.main import cli

ROOT = Path(__file__).parent.parent


def sql_blocks(path: Path) -> list[str]:
    return re.findall(r"```sql\n(.*?)```", path.read_text(), re.S)


def test_sql_reference_examples_run(fresh, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the files the examples write (EXPORT DATABASE 'exports/all')
    statements = [s for block in sql_blocks(ROOT / "docs" / "sql.md") for s in block.split(";\n")]
    for statement in statements:
        statement = statement.strip().rstrip(";")
        if not statement:
            continue
        if "[IF EXISTS]" in statement:  # grammar notation, not SQL
            statement = statement.replace("[IF EXISTS]", "IF EXISTS")
        fresh.sql(statement)
    assert fresh.sql("SHOW TABLES").fetchall()


def test_readme_quick_start_runs(tmp_path, monkeypatch):
    code = re.search(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S).group(1)
    monkeypatch.chdir(tmp_path)  # empty: the quick start makes the files it reads
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    assert namespace["conn"].sql("SELECT count(*) FROM ticks").fetchone()[0] == 101


@pytest.mark.parametrize("line", [found for found in re.findall(r"^indb .*$", (ROOT / "README.md").read_text(), re.M)])
def test_readme_cli_lines_name_real_commands_and_options(line):
    words = line.split("#")[0].split()[1:]
    command = [w for w in words if not w.startswith("-") and w in {"sql", "load", "demo", "bench"}][:1]
    options = [w.split("=")[0] for w in words if w.startswith("--")]
    help_text = CliRunner().invoke(cli, ["--help"]).output + (
        CliRunner().invoke(cli, command + ["--help"]).output if command else "")
    for option in options:
        assert option in help_text, f"{option} is documented but not an option of indb {command}"


def test_functions_guide_examples_run(tmp_path):
    import indb
    with indb.connect(tmp_path / "db", workers=2, threads_per_worker=2) as conn:
        for block in sql_blocks(ROOT / "docs" / "functions.md"):
            result = conn.sql(block)
        rows = result.arrow().to_pylist()  # SHOW FUNCTION STATUS: Kinetica's status, then indb's
        assert [(r["OVERALL_STATUS"], r["status"]) for r in rows] == [("complete", "completed")] * 2
        assert conn.sql("SELECT count(*) FROM scaled").fetchone() == (800,)


def test_every_run_option_is_documented_and_every_documented_one_exists():
    import inspect

    from indb.engine import Engine
    from indb.planner.functions import FUNCTION_OPTIONS, RUN_OPTIONS
    guide = (ROOT / "docs" / "functions.md").read_text()
    documented = set(re.findall(r"^\| `(\w+)` \|", guide, re.M))
    assert documented == set(RUN_OPTIONS)
    assert all(f"{option} = " in guide for option in FUNCTION_OPTIONS)
    for option in re.findall(r"`(\w+)=", guide):  # indb.connect(path, workers=N) and friends
        assert option in inspect.signature(Engine).parameters, option


def test_readme_function_example_runs(tmp_path):
    import indb
    from indb.datasets import synthetic_ticks
    with indb.connect(tmp_path / "db", workers=2, threads_per_worker=2) as conn:
        conn.sql("CREATE TABLE ticks (sym VARCHAR, ts TIMESTAMP, px DOUBLE, size INTEGER, "
                 "SHARD KEY (sym)) WITH (SHARDS = 4)")
        conn.load("ticks", synthetic_ticks(5000, symbols=20))
        (block,) = [b for b in sql_blocks(ROOT / "README.md") if "CREATE FUNCTION vwap" in b]
        *_, status = [conn.sql(s) for s in block.split(";\n") if s.strip()]
        assert conn.sql("SELECT count(*) FROM vwaps").fetchone() == (20,)  # one row per symbol
        assert set(status.df()["status"]) == {"completed"}


def test_documented_model_statements_parse():
    from indb.parser import parse
    blocks = [b for b in sql_blocks(ROOT / "README.md") if "PREDICT" in b] + sql_blocks(ROOT / "docs" / "models.md")
    assert blocks
    for block in blocks:
        assert parse(block)  # every statement is indb SQL (the data they name is the demo's)


def test_documented_environment_variables_are_read_by_the_code():
    docs = "".join(p.read_text() for p in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
    source = "".join(p.read_text() for p in (ROOT / "indb").rglob("*.py"))
    variables = set(re.findall(r"\bINDB_[A-Z_]+\b", docs))
    assert variables  # the GPU and cache budgets at least
    for variable in variables:
        assert f'"{variable}"' in source, f"{variable} is documented but nothing reads it"


def test_documented_status_columns_exist():
    from indb.registry import runs
    guide = (ROOT / "docs" / "functions.md").read_text()
    paragraph = re.search(r"`SHOW FUNCTION STATUS VERBOSE \[FOR 'run id'\]` gives(.*?)\n\n", guide, re.S).group(1)
    statuses = {str(status) for status in runs.RunStatus}
    named = {w for w in re.findall(r"`([a-z_]+)`", paragraph)} - statuses
    assert {"input_s", "function_s", "output_s", "cache_hits"} <= named
    columns = set(runs._INSTANCE_COLUMNS + runs._SCRIPT_COLUMNS)
    assert named <= columns, named - columns


def test_documented_model_load_options_exist():
    import inspect

    from indb.connection import Connection
    from indb.udf.models import Models
    guide = (ROOT / "docs" / "models.md").read_text()
    for call, function in (("ctx.models.load", Models.load), ("conn.model", Connection.model)):
        signature = re.search(rf"`{re.escape(call)}\((.*?)\)`", guide).group(1)
        names = {p.split("=")[0].strip() for p in signature.split(",")} - {"*"}
        assert names and names <= set(inspect.signature(function).parameters), (call, names)
