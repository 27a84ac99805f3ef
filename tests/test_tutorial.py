"""docs/tutorial.ipynb runs top to bottom (nbclient, the venv's python3 kernel)."""

import os
import pathlib

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = pathlib.Path(__file__).resolve().parent.parent / "docs" / "tutorial.ipynb"


def test_tutorial_notebook_executes(tmp_path, monkeypatch):
    pytest.importorskip("ipykernel", reason="the tutorial runs in an ipykernel python3 kernel")
    # the kernel is a subprocess: give it this checkout's sources and one thread, like the tests
    source = str(NOTEBOOK.parent.parent / "src")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [source, os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError naming the failing cell
    outputs = "".join(
        output.get("text", "") for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
    )
    assert "streaming output equals the offline convolution: True" in outputs
    assert "block convolution == conv1d: True" in outputs
    assert "cancel() gives the same output: True" in outputs
