"""phdl.booknb: executed notebooks keep one progress line per bar and show their parameters once."""

from __future__ import annotations

import nbformat
from nbformat.v4 import (
    new_code_cell,
    new_markdown_cell,
    new_notebook,
    new_output,
)
from test_runner import _toy_root

from phdl.booknb import (
    REMOVE_TAG,
    merge_streams,
    resolve_carriage_returns,
    tidy_file,
    tidy_notebook,
)
from phdl.runner import run_chapters


def _stream(name: str, text: str):
    return new_output("stream", name=name, text=text)


def _tags(cell) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def test_carriage_returns_keep_the_last_state():
    bar = "".join(f"\rfit: {p:3d}%|" for p in (0, 50, 100))
    assert resolve_carriage_returns(bar + "\n") == "fit: 100%|\n"
    # as a terminal: a shorter later state leaves the end of a longer one; trailing spaces go
    assert resolve_carriage_returns("abcdef\rXY") == "XYcdef"
    assert resolve_carriage_returns("long line  \rshort     \n") == "short\n"
    assert resolve_carriage_returns("one\r\ntwo\n") == "one\ntwo\n"


def test_merge_streams_one_box_per_bar():
    """The output shape papermill stores for two tqdm bars with prints between them."""
    figure = new_output("display_data", data={"image/png": "iVBORw0KGgo="})
    bar = [_stream("stderr", f"\rtrain: {i}/3 loss={9 - i}") for i in range(4)]
    outputs = [
        _stream("stdout", "grid ready\n"),
        *bar,
        _stream("stdout", "trained\n"),
        _stream("stderr", "\n"),  # tqdm's closing newline, flushed after the print
        figure,
        _stream("stderr", "\rfit: 0/2"),
        _stream("stderr", "\rfit: 2/2"),
        _stream("stderr", "\n"),
        _stream("stdout", "a\n"),
        _stream("stderr", "\r \n"),  # blank: dropped, and the prints around it join
        _stream("stdout", "b\n"),
    ]
    merged = merge_streams(outputs)
    shown = [(o["output_type"], o.get("name"), o.get("text")) for o in merged]
    assert shown == [
        ("stream", "stdout", "grid ready\n"),
        ("stream", "stderr", "train: 3/3 loss=6"),
        ("stream", "stdout", "trained\n"),
        ("display_data", None, None),
        ("stream", "stderr", "fit: 2/2\n"),
        ("stream", "stdout", "a\nb\n"),
    ]
    assert outputs[1]["text"] == "\rtrain: 0/3 loss=9", "the input outputs are not changed"


def _parameterized_notebook(injected: bool):
    cells = [
        new_markdown_cell("# Chapter"),
        new_code_cell("n = 1  # stars", metadata={"tags": ["parameters"]}),
        new_code_cell("print(n)"),
    ]
    if injected:
        cells.insert(
            2, new_code_cell("# Parameters\nn = 7\n", metadata={"tags": ["injected-parameters"]})
        )
    return new_notebook(cells=cells)


def test_original_parameters_cell_hidden_when_injected():
    nb = tidy_notebook(_parameterized_notebook(injected=True))
    assert _tags(nb.cells[1]) == ["parameters", REMOVE_TAG]
    assert _tags(nb.cells[2]) == ["injected-parameters"]
    assert REMOVE_TAG not in _tags(nb.cells[3])
    # idempotent, and without injected values the notebook's own cell stays visible
    assert _tags(tidy_notebook(nb).cells[1]) == ["parameters", REMOVE_TAG]
    assert _tags(tidy_notebook(_parameterized_notebook(injected=False)).cells[1]) == ["parameters"]


def test_runner_tidies_the_executed_notebook(tmp_path):
    """A chapter run through papermill: one stderr box for a bar of 30 flushed updates, and the
    parameters cell tagged ``remove-cell`` beside papermill's injected one."""
    body = (
        "import sys, time\n"
        "for i in range(30):\n"
        "    sys.stderr.write(f'\\rwork: {i + 1}/30'); sys.stderr.flush(); time.sleep(0.005)\n"
        "sys.stderr.write('\\n')\n"
        "print('done', n)"
    )
    root = _toy_root(tmp_path, body)  # test_runner's toy chapter: parameters profile, n = 1
    [path] = run_chapters("toy", root=root)
    executed = nbformat.read(path, as_version=4)
    tags = [_tags(cell) for cell in executed.cells]
    assert tags[1:3] == [["parameters", REMOVE_TAG], ["injected-parameters"]]
    outputs = [(o["name"], o["text"]) for o in executed.cells[3].outputs]
    assert outputs == [("stderr", "work: 30/30"), ("stdout", "done 7\n")]
    assert not list((tmp_path / "book").glob(".*")), "no temporary file left beside it"


def test_tidy_file_in_place(tmp_path):
    nb = _parameterized_notebook(injected=True)
    nb.cells[3].outputs = [_stream("stdout", "x\r"), _stream("stdout", "y\n")]
    path = tmp_path / "c.ipynb"
    nbformat.write(nb, path)
    assert tidy_file(path) == path
    again = nbformat.read(path, as_version=4)
    assert [o["text"] for o in again.cells[3].outputs] == ["y\n"]
    assert [p.name for p in tmp_path.iterdir()] == ["c.ipynb"]
