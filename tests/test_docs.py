"""The docs teach only what exists: their SQL runs, their CLI commands and options are real."""

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from indb.cli.main import cli

ROOT = Path(__file__).parent.parent


def sql_blocks(path: Path) -> list[str]:
    return re.findall(r"```sql\n(.*?)```", path.read_text(), re.S)


def test_sql_reference_examples_run(fresh):
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
    monkeypatch.chdir(tmp_path)
    import pyarrow.parquet as pq

    from indb.datasets import synthetic_ticks
    pq.write_table(synthetic_ticks(100, symbols=5), tmp_path / "ticks.parquet")
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
