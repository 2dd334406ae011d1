"""The notebooks run top to bottom (their own asserts check the quality bars), so they cannot rot."""

import ast
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))
# Each notebook runs its every step here, on less than it shows users (fewer instances to start):
# its "parameters" cell is followed by one that sets these, as papermill's `-p NAME VALUE` does.
# The full sizes run in `indb demo` (tests/test_pipelines.py: eight digit shards, three rounds of
# FedAvg checked at 0.85, inference shard by shard). One digit shard: its FedAvg round and its
# inference run in the host the CNN was trained in, where two shards started two more hosts a
# function on two workers (the notebook's run 76 -> 57 s on the 2-core VM at load ~5).
SMALLER = {"mnist_in_database": {"SHARDS": 1, "ROUNDS": 1},
           "market_anomalies": {"SYMBOLS": 10, "SHARDS": 2}}


def with_parameters(notebook: nbformat.NotebookNode, values: dict[str, object]) -> None:
    """Insert papermill's "injected-parameters" cell after the cell tagged "parameters", whose
    assignments must name every one of ``values`` (an override of nothing would test nothing)."""
    index, cell = next((i, c) for i, c in enumerate(notebook.cells)
                       if "parameters" in c.get("metadata", {}).get("tags", []))
    assigned = {target.id for node in ast.parse(cell.source).body if isinstance(node, ast.Assign)
                for target in node.targets if isinstance(target, ast.Name)}
    assert set(values) <= assigned, f"not in the parameters cell: {set(values) - assigned}"
    source = "\n".join(f"{name} = {value!r}" for name, value in values.items())
    notebook.cells.insert(index + 1, new_code_cell(source, metadata={"tags": ["injected-parameters"]}))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path, tmp_path):
    notebook = nbformat.read(path, as_version=4)
    with_parameters(notebook, SMALLER[path.stem])
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs)  # the plot was drawn


def test_there_are_two_notebooks():
    assert [p.name for p in NOTEBOOKS] == ["market_anomalies.ipynb", "mnist_in_database.ipynb"]
