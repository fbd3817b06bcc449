"""Shared fixtures. The engine runs eagerly in tests (no torch.compile start-up cost)."""

from __future__ import annotations

import os

os.environ.setdefault("PHDL_COMPILE", "0")

import threading  # noqa: E402

import pytest  # noqa: E402
from tqdm import tqdm  # noqa: E402

# Mutation testing (benchmarks/mutants.py) forks a child per mutant from the process that ran the
# tests once. tqdm's default write lock includes a multiprocessing semaphore shared by all those
# children: one child killed (or stuck) inside a progress bar leaves it held, and every later
# child that draws a bar deadlocks (its mutant then "times out"). A per-process lock and no
# monitor thread keep the children independent.
tqdm.set_lock(threading.RLock())
tqdm.monitor_interval = 0


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny models run faster on one torch thread (and do not spin-wait on a busy machine);
    a module asks for it with ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def syn():
    """The default engine (built-in line list, default physics), shared by the tests."""
    from phdl.synth import Synthesizer

    return Synthesizer(compile=False)


@pytest.fixture(scope="session")
def solar_spectrum(syn):
    """(flux (3800,), gradients (34, 3800)) of a solar-like dwarf."""
    from phdl import labels

    flux, grads = syn(labels.solar()[None], with_gradients=True)
    return flux[0], grads[0]


# Sources of the book copied for the tiny build: phdl/ whole, since the kernel runs with the copy
# as working directory and a bare phdl/data/profiles there would shadow the installed package.
BOOK_SOURCES = ("_config.yml", "_toc.yml", "notebooks", "phdl", "book")


@pytest.fixture(scope="session")
def tiny_book(tmp_path_factory):
    """The whole book built once per session with the tiny profile, in a copy of its sources.

    The copy keeps the tests from replacing a user's executed book in ``book/`` and ``_build/``.
    Returns a namespace: ``root`` (the copy), ``index`` (what ``build_book`` returned), ``html``
    (``root/_build/html``) and ``before`` (mtimes of the repository's own ``book/*.ipynb`` before
    the build, for the check that they are untouched).
    """
    import shutil
    from types import SimpleNamespace

    from phdl.runner import build_book, repo_root

    repo = repo_root()
    root = tmp_path_factory.mktemp("tiny_book")
    for name in BOOK_SOURCES:
        src = repo / name
        if src.is_dir():  # book/: its pages, not the executed notebooks of an earlier build
            skip = ("*.ipynb",) if name == "book" else ("__pycache__",)
            shutil.copytree(src, root / name, ignore=shutil.ignore_patterns(*skip))
        else:
            shutil.copy(src, root / name)
    before = {p: p.stat().st_mtime for p in (repo / "book").glob("*.ipynb")}
    index = build_book("tiny", root=root)
    return SimpleNamespace(root=root, index=index, html=root / "_build" / "html", before=before)
