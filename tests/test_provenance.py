"""Tests of phdl.provenance: the note under every figure of an executed chapter."""

from __future__ import annotations

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from phdl.cache import Ingredients
from phdl.provenance import MARK, annotate, annotate_file, describe, has_image

INGREDIENTS = Ingredients(
    notebook="ab" * 32,
    parameters={"snr": 100.0, "strategy": "two-stage", "grid_path": "runs/quick/grid.h5"},
    inputs={"runs/quick/grid.h5": "1a2b3c4d5e6f" + "0" * 52, "runs/quick/phdlspec.pt": None},
    code="c0de" * 16,
)


def _executed() -> nbformat.NotebookNode:
    """An executed notebook: a PNG figure, an SVG figure beside text, text only, markdown."""
    png = new_output("display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"})
    svg = new_output("display_data", data={"image/svg+xml": "<svg/>"})
    text = new_output("stream", name="stdout", text="sigma 1.4 %\n")
    return new_notebook(
        cells=[
            new_markdown_cell("# Chapter"),
            new_code_cell("plot()", outputs=[png]),
            new_code_cell("print(); plot_svg()", outputs=[text, svg]),
            new_code_cell("print()", outputs=[text]),
            new_code_cell("pass"),
        ]
    )


def test_describe_names_notebook_parameters_inputs_and_code():
    text = describe("03_test_set_recovery", INGREDIENTS, version="0.1.0")
    assert text == (
        "Made by notebooks/03_test_set_recovery.ipynb (sha256 abababababab) with snr=100.0, "
        "strategy='two-stage', grid_path='runs/quick/grid.h5'; inputs: runs/quick/grid.h5 "
        "(sha256 1a2b3c4d5e6f), runs/quick/phdlspec.pt (sha256 missing); "
        "phdl 0.1.0 (code sha256 c0dec0dec0de)."
    )


def test_describe_without_inputs():
    bare = Ingredients("ab" * 32, {"teff": 4800.0}, {}, "c0de" * 16)
    assert "inputs: none;" in describe("05_correlation_matrix", bare)
    assert "inputs: not declared;" in describe("05_correlation_matrix", bare, declared=False)


def test_every_figure_gets_one_note_after_its_outputs():
    nb = _executed()
    assert [has_image(c) for c in nb.cells] == [False, True, True, False, False]
    assert annotate(nb, "Made by <x> & y") == 2
    for cell in nb.cells[1:3]:
        note = cell.outputs[-1]
        assert note.output_type == "display_data" and note.metadata[MARK]
        assert note.data["text/plain"] == "Made by <x> & y"
        assert "Made by &lt;x&gt; &amp; y" in note.data["text/html"]  # escaped
        assert 'class="phdl-provenance"' in note.data["text/html"]
    assert len(nb.cells[3].outputs) == 1 and nb.cells[4].outputs == []
    nbformat.validate(nb)


def test_annotating_again_replaces_the_notes():
    nb = _executed()
    annotate(nb, "first")
    assert annotate(nb, "second") == 2
    notes = [
        o
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
        if MARK in o.get("metadata", {})
    ]
    assert [n.data["text/plain"] for n in notes] == ["second", "second"]


def test_annotate_file_round_trip(tmp_path):
    path = tmp_path / "chapter.ipynb"
    nbformat.write(_executed(), path)
    assert annotate_file(path, describe("01_ab_initio_grid", INGREDIENTS)) == 2
    nb = nbformat.read(path, as_version=4)
    assert "runs/quick/grid.h5 (sha256 1a2b3c4d5e6f)" in nb.cells[1].outputs[-1].data["text/html"]
