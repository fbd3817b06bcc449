"""Figure provenance: under every figure of an executed chapter, what made it.

After a chapter executes, the runner calls :func:`annotate_file` on the executed notebook: every
code cell whose outputs hold an image gets one more output, a short note (HTML for the book,
plain text elsewhere) such as::

    Made by notebooks/03_test_set_recovery.ipynb (sha256 5f0c1e2a9b3d) with profile='quick',
    snr=100.0, seed=0, ...; inputs: runs/quick/grid.h5 (sha256 1a2b3c4d5e6f),
    runs/quick/phdlspec.pt (sha256 ...); phdl 0.1.0 (code sha256 ...).

The inputs are the files the chapter declares it needs (``phdl/data/chapters.yml``), with the
content hashes that entered its cache key (:mod:`phdl.cache`). Hashes are SHA-256, first 12 hex
digits. Annotating twice replaces the earlier notes.
"""

from __future__ import annotations

import html
from pathlib import Path

import nbformat
from nbformat import NotebookNode
from nbformat.v4 import new_output

from phdl import __version__
from phdl.atomic import atomic_path
from phdl.cache import Ingredients

IMAGE_TYPES = ("image/png", "image/svg+xml", "image/jpeg")
MARK = "phdl_provenance"  # output metadata key that marks a note
STYLE = "font-size: 0.8em; color: #666; margin: 0.2em 0 1em 0;"


def short(digest: str | None) -> str:
    """The first 12 hex digits of a hash, or ``missing`` for a file that was not there."""
    return digest[:12] if digest else "missing"


def describe(
    chapter: str, ingredients: Ingredients, declared: bool = True, version: str = __version__
) -> str:
    """One sentence: notebook, parameters, needed files with their hashes, phdl version and code.

    ``declared``: whether the chapter declares its files (if not, the note says so).
    """
    params = ", ".join(f"{name}={value!r}" for name, value in ingredients.parameters.items())
    inputs = ", ".join(f"{p} (sha256 {short(h)})" for p, h in ingredients.inputs.items())
    if not declared:
        inputs = "not declared"
    return (
        f"Made by notebooks/{chapter}.ipynb (sha256 {short(ingredients.notebook)}) with {params}; "
        f"inputs: {inputs or 'none'}; phdl {version} (code sha256 {short(ingredients.code)})."
    )


def has_image(cell: NotebookNode) -> bool:
    """True when a code cell's outputs include an image (PNG, SVG or JPEG)."""
    outputs = cell.get("outputs", []) if cell.get("cell_type") == "code" else []
    return any(mime in out.get("data", {}) for out in outputs for mime in IMAGE_TYPES)


def note_output(text: str) -> NotebookNode:
    """A display_data output holding ``text`` as a small HTML paragraph and as plain text."""
    body = f'<p class="phdl-provenance" style="{STYLE}">{html.escape(text)}</p>'
    return new_output(
        "display_data", data={"text/html": body, "text/plain": text}, metadata={MARK: True}
    )


def annotate(nb: NotebookNode, text: str) -> int:
    """Append the note ``text`` to the outputs of every code cell that shows an image.

    Earlier notes are removed first. Returns the number of cells annotated.
    """
    count = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        cell.outputs = [o for o in cell.outputs if not o.get("metadata", {}).get(MARK)]
        if has_image(cell):
            cell.outputs.append(note_output(text))
            count += 1
    return count


def annotate_file(path: Path, text: str) -> int:
    """:func:`annotate` the notebook file ``path`` in place; return the cells annotated."""
    nb = nbformat.read(path, as_version=4)
    count = annotate(nb, text)
    with atomic_path(path) as tmp:
        nbformat.write(nb, tmp)
    return count
