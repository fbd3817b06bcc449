"""Execute the book's chapters with papermill and build the HTML book with Jupyter Book 1.x.

A *profile* (``phdl/data/profiles/<name>.yml``) lists the chapters in the order they run, each with
the papermill parameters of its notebook::

    profile: quick
    description: ...
    chapters:
      01_ab_initio_grid: {n_spectra: 320, seed: 42, grid_path: runs/quick/grid.h5, user_grid: ""}

Chapter ``<name>`` is executed from ``notebooks/<name>.ipynb`` into ``book/<name>.ipynb`` with
the repository root as working directory, so relative paths such as ``runs/quick/grid.h5`` work.
``book/<name>.ipynb`` exists only when the last run of that chapter succeeded: the notebook is
written under a temporary name and renamed on success; a failure moves the partly executed
notebook to ``runs/<profile>/failed/<name>.ipynb`` and raises :class:`ChapterError`.

Adding a chapter = a notebook in ``notebooks/``, an entry in every profile, a line in ``_toc.yml``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from collections import deque
from pathlib import Path
from typing import Any

import yaml

from phdl.cache import ChapterCache
from phdl.provenance import annotate_file, describe

PROFILE_DIR = Path("phdl") / "data" / "profiles"
NOTEBOOK_DIR = Path("notebooks")
BOOK_DIR = Path("book")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class ChapterError(RuntimeError):
    """A chapter notebook failed to execute; the message names it and gives the cell's error."""

    def __init__(self, chapter: str, message: str) -> None:
        super().__init__(message)
        self.chapter = chapter


def repo_root() -> Path:
    """The repository root: the directory holding ``_config.yml`` (the parent of ``phdl/``)."""
    return Path(__file__).resolve().parents[1]


def available_profiles(root: Path | None = None) -> list[str]:
    """Names of the profiles in ``<root>/phdl/data/profiles``, sorted."""
    folder = (Path(root) if root else repo_root()) / PROFILE_DIR
    return sorted(p.stem for p in folder.glob("*.yml"))


def load_profile(name_or_path: str | Path, root: Path | None = None) -> dict[str, Any]:
    """Read and validate a profile given by name (``quick``) or by path to a ``.yml`` file.

    Returns a dict with ``profile`` (str), ``description`` (str) and ``chapters``
    (dict: chapter name -> dict of papermill parameters, in run order).
    Raises ValueError for an unknown profile (listing those available) or a malformed one, and
    FileNotFoundError when a chapter has no notebook in ``<root>/notebooks``.
    """
    root = Path(root) if root else repo_root()
    text = str(name_or_path)
    if text.endswith((".yml", ".yaml")) or os.sep in text or Path(text).is_file():
        path = Path(text)
        if not path.is_file():
            raise ValueError(f"profile file {path} does not exist")
    else:
        path = root / PROFILE_DIR / f"{text}.yml"
        if not path.is_file():
            raise ValueError(
                f"unknown profile {text!r}; available profiles: "
                f"{', '.join(available_profiles(root)) or '(none)'} (in {root / PROFILE_DIR})"
            )
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict) or not isinstance(data.get("chapters"), dict):
        raise ValueError(f"profile {path}: expected a mapping with a 'chapters' mapping")
    if not data["chapters"]:
        raise ValueError(f"profile {path}: 'chapters' is empty")
    chapters: dict[str, dict[str, Any]] = {}
    for chapter, params in data["chapters"].items():
        params = {} if params is None else params
        if not isinstance(params, dict) or not all(isinstance(k, str) for k in params):
            raise ValueError(
                f"profile {path}: chapter {chapter!r} must map parameter names to values"
            )
        notebook = root / NOTEBOOK_DIR / f"{chapter}.ipynb"
        if not notebook.is_file():
            raise FileNotFoundError(
                f"profile {path}: chapter {chapter!r} has no notebook {notebook}"
            )
        chapters[str(chapter)] = dict(params)
    return {
        "profile": str(data.get("profile", path.stem)),
        "description": str(data.get("description", "")),
        "chapters": chapters,
        "path": path,
    }


def _kernel_runs_this_python(kernel_name: str) -> bool:
    """True when the kernelspec ``kernel_name`` starts the interpreter running this code."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        argv = KernelSpecManager().get_kernel_spec(kernel_name).argv
    except NoSuchKernel:
        return False
    if not argv:
        return False
    # jupyter_client replaces a bare "python"/"python3"/"python3.X" by sys.executable
    bare = {"python", f"python{sys.version_info[0]}", "python{}.{}".format(*sys.version_info[:2])}
    if argv[0] in bare:
        return True
    return Path(argv[0]).resolve() == Path(sys.executable).resolve()


def default_kernel_name() -> str:
    """A kernel for this interpreter: ``python3`` or ``phdl``, whichever starts ``sys.executable``.

    Raises RuntimeError, with the command that fixes it, when neither does.
    """
    for name in ("python3", "phdl"):
        if _kernel_runs_this_python(name):
            return name
    raise RuntimeError(
        f"no Jupyter kernel starts {sys.executable}; register one with\n"
        f"  {sys.executable} -m ipykernel install --sys-prefix --name phdl"
    )


def _describe_failure(chapter: str, notebook: Path, err: BaseException) -> str:
    """A readable message for a failed chapter: notebook, cell, exception and traceback tail."""
    ename = getattr(err, "ename", None)
    if ename is None:
        return f"chapter {chapter} ({notebook}) failed: {type(err).__name__}: {err}"
    cell = getattr(err, "exec_count", None)
    trace = _ANSI.sub("", "\n".join(getattr(err, "traceback", []) or []))
    tail = "\n".join(trace.strip().splitlines()[-15:])
    return f"chapter {chapter} ({notebook}) failed in cell [{cell}]: {ename}: {err.evalue}\n{tail}"


def run_chapter(
    chapter: str,
    parameters: dict[str, Any],
    root: Path,
    kernel_name: str,
    profile: str,
    provenance: str | None = None,
) -> Path:
    """Execute ``notebooks/<chapter>.ipynb`` into ``book/<chapter>.ipynb``; return the output path.

    ``provenance``: a note put under every figure (:func:`phdl.provenance.annotate_file`).
    Raises ChapterError if any cell fails (the partly executed notebook goes to
    ``runs/<profile>/failed/<chapter>.ipynb``; no ``book/<chapter>.ipynb`` is left).
    """
    import papermill as pm

    from phdl.booknb import tidy_file

    source = root / NOTEBOOK_DIR / f"{chapter}.ipynb"
    target = root / BOOK_DIR / f"{chapter}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.unlink(missing_ok=True)  # a stale result must not survive a failed re-run
    fd, tmp_name = tempfile.mkstemp(prefix=f".{chapter}.", suffix=".part.ipynb", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        pm.execute_notebook(
            str(source),
            str(tmp),
            parameters={**parameters, "profile": profile},
            kernel_name=kernel_name,
            cwd=str(root),
            progress_bar=True,
            log_output=False,
        )
    except Exception as err:  # papermill's cell errors, dead kernels, missing kernels, ...
        failed = root / "runs" / profile / "failed" / f"{chapter}.ipynb"
        message = _describe_failure(chapter, source, err)
        if tmp.exists() and tmp.stat().st_size > 0:
            failed.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, failed)
            message += f"\n(partly executed notebook kept at {failed})"
        raise ChapterError(chapter, message) from err
    else:
        tidy_file(tmp)  # one progress line per bar; the parameters cell shown once (phdl.booknb)
        if provenance:
            annotate_file(tmp, provenance)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)  # only left on failure or interruption
    return target


def run_chapters(
    profile: str = "quick",
    root: Path | None = None,
    chapters: list[str] | None = None,
    kernel_name: str | None = None,
    force: bool = False,
) -> list[Path]:
    """Execute the profile's chapters in order (or only ``chapters``); return the output notebooks.

    A chapter whose cache key and outputs are as its last successful run left them is skipped
    (:mod:`phdl.cache`; ``force``: run every chapter). Stops at the first failing chapter,
    raising ChapterError; later chapters are not run.
    """
    root = Path(root).resolve() if root else repo_root()
    prof = load_profile(profile, root=root)
    names = list(prof["chapters"])
    if chapters is not None:
        unknown = [c for c in chapters if c not in prof["chapters"]]
        if unknown:
            raise ValueError(
                f"chapters {unknown} are not in profile {prof['profile']!r}; it has {names}"
            )
        names = [n for n in names if n in chapters]
    kernel = kernel_name or default_kernel_name()
    cache = ChapterCache(root, prof["profile"], prof["chapters"], force=force)
    outputs = []
    for i, name in enumerate(names, 1):
        head = f"[phdl] chapter {i}/{len(names)}: {name}"
        outputs.append(_run_unless_cached(name, prof["chapters"][name], cache, kernel, head))
    return outputs


def _run_unless_cached(
    chapter: str, parameters: dict[str, Any], cache: ChapterCache, kernel_name: str, head: str
) -> Path:
    """Run one chapter unless ``cache`` says it is unchanged; say which on stdout (after
    ``head``); record its key when it succeeds. Returns its executed notebook."""
    source = cache.root / NOTEBOOK_DIR / f"{chapter}.ipynb"
    target = cache.root / BOOK_DIR / f"{chapter}.ipynb"
    ingredients, reason = cache.plan(chapter, parameters, source, target)
    if reason is None:
        print(f"{head}: unchanged (inputs, parameters, code), skipped", flush=True)
        return target
    print(f"{head} (profile {cache.profile}): running, {reason}", flush=True)
    cache.forget(chapter)
    note = describe(chapter, ingredients, declared=chapter in cache.declared)
    run_chapter(chapter, parameters, cache.root, kernel_name, cache.profile, provenance=note)
    cache.record(chapter, parameters, ingredients)
    return target


def _jupyter_book_command() -> list[str]:
    """The Jupyter Book 1.x command of this environment (the executable beside sys.executable)."""
    exe = Path(sys.executable).parent / "jupyter-book"
    if exe.is_file():
        return [str(exe)]
    return [sys.executable, "-c", "from jupyter_book.cli.main import main; main()"]


def build_html(root: Path | None = None) -> Path:
    """Run ``jupyter-book build <root>`` and return ``<root>/_build/html/index.html``.

    The build output is echoed as it runs; RuntimeError with its tail if the build fails.
    """
    root = Path(root).resolve() if root else repo_root()
    cmd = [*_jupyter_book_command(), "build", str(root)]
    tail: deque[str] = deque(maxlen=40)
    with subprocess.Popen(
        cmd, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            sys.stdout.write(line)
            tail.append(line.rstrip("\n"))
    index = root / "_build" / "html" / "index.html"
    if proc.returncode != 0 or not index.is_file():
        raise RuntimeError(
            f"jupyter-book build {root} failed (exit code {proc.returncode}):\n" + "\n".join(tail)
        )
    return index


def build_book(profile: str = "quick", root: Path | None = None, force: bool = False) -> Path:
    """Execute the chapters of ``profile`` (unchanged ones are skipped unless ``force``), then
    build the HTML; return the index page."""
    run_chapters(profile, root=root, force=force)
    return build_html(root)
