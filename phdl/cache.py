"""The book's cache: which chapters must run, from their declared files and one key per chapter.

Each chapter declares, in ``phdl/data/chapters.yml``, the parameters that hold the paths of the
files it *needs* and of those it *produces* (:func:`load_declarations`). Its key
(:attr:`Ingredients.key`) is a SHA-256 over

- the bytes of its notebook ``notebooks/<chapter>.ipynb``,
- its papermill parameters (``profile`` included),
- the content hashes of the files it needs,
- the code hash of the phdl package (:func:`code_hash`).

After a chapter succeeds, :meth:`ChapterCache.record` keeps its key and the content hashes of the
files it produced in ``runs/<profile>/.cache.json``. The next run skips the chapter when its key is
the same, its executed notebook exists and the files it produced are as it left them
(:meth:`ChapterCache.plan`). So a changed parameter reruns its chapter, and a later chapter reruns
only when the content of a file it needs changed. A chapter that is not declared always runs.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from phdl.atomic import atomic_path

DECLARATION = Path("phdl") / "data" / "chapters.yml"
CACHE_FILE = ".cache.json"
_PACKAGE = Path(__file__).resolve().parent
_FORMAT = 1  # version of the .cache.json layout; another version is ignored
_BLOCK = 1 << 20  # bytes read at a time when hashing

Declarations = dict[str, dict[str, list[str]]]


def sha256_file(path: Path) -> str:
    """SHA-256 (hex) of a file's bytes; of a folder: of its files' relative names and bytes."""
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        if file != path:
            digest.update(file.relative_to(path).as_posix().encode() + b"\0")
        with file.open("rb") as fh:
            for block in iter(lambda fh=fh: fh.read(_BLOCK), b""):
                digest.update(block)
    return digest.hexdigest()


def code_hash(package: Path = _PACKAGE) -> str:
    """SHA-256 (hex) of the phdl package's code: every ``.py`` file and ``data/**/*.csv``.

    The profiles and ``chapters.yml`` are left out: parameters and declared files enter the key
    on their own, chapter by chapter.
    """
    digest = hashlib.sha256()
    for file in sorted([*package.rglob("*.py"), *(package / "data").rglob("*.csv")]):
        digest.update(file.relative_to(package).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(file.read_bytes()).digest())
    return digest.hexdigest()


def declaration_path(root: Path) -> Path | None:
    """``<root>/phdl/data/chapters.yml``, else the one shipped with phdl, else None."""
    for path in (root / DECLARATION, _PACKAGE / "data" / "chapters.yml"):
        if path.is_file():
            return path
    return None


def load_declarations(root: Path) -> Declarations:
    """Read ``chapters.yml``: chapter -> {"needs": [parameter names], "produces": [...]}.

    Returns {} when there is no declaration file; ValueError naming the chapter for a malformed
    entry.
    """
    path = declaration_path(root)
    data = yaml.safe_load(path.read_text()) if path else {}
    if not isinstance(data, dict | None):
        raise ValueError(f"{path}: expected a mapping chapter -> {{needs: [...], produces: [...]}}")
    declarations: Declarations = {}
    for chapter, entry in (data or {}).items():
        entry = {} if entry is None else entry
        if not isinstance(entry, dict) or set(entry) - {"needs", "produces"}:
            raise ValueError(f"{path}: chapter {chapter!r} may only have 'needs' and 'produces'")
        lists = {kind: entry.get(kind) or [] for kind in ("needs", "produces")}
        for kind, names in lists.items():
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise ValueError(f"{path}: {chapter}.{kind} must be a list of parameter names")
        declarations[str(chapter)] = lists
    return declarations


def check_declarations(declarations: Declarations, chapters: dict[str, dict[str, Any]]) -> None:
    """ValueError when a declared name is not a path parameter of that chapter in the profile.

    ``chapters``: chapter -> papermill parameters, as in a loaded profile. A path parameter holds
    a string (empty: no file).
    """
    for chapter, params in chapters.items():
        for kind, names in declarations.get(chapter, {}).items():
            for name in names:
                if name not in params:
                    raise ValueError(
                        f"{DECLARATION}: {chapter} {kind} {name!r}, which is not one of its "
                        f"parameters in the profile ({', '.join(params) or 'none'})"
                    )
                if not isinstance(params[name], str):
                    raise ValueError(
                        f"{DECLARATION}: {chapter} {kind} {name!r}, but the profile sets it to "
                        f"{params[name]!r}, not a path"
                    )


def declared_files(params: dict[str, Any], names: list[str]) -> list[str]:
    """The non-empty paths held by the parameters ``names``, as written in the profile."""
    return [str(params[name]) for name in names if params.get(name)]


@dataclass(frozen=True)
class Ingredients:
    """What a chapter's result depends on; hashes are SHA-256 hex digests."""

    notebook: str  # hash of the bytes of notebooks/<chapter>.ipynb
    parameters: dict[str, Any]  # papermill parameters, profile included
    inputs: dict[str, str | None]  # needed path (as in the profile) -> content hash, None: missing
    code: str  # code_hash() of the phdl package

    @property
    def key(self) -> str:
        """SHA-256 (hex) over all the ingredients."""
        blob = json.dumps(asdict(self), sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()


def _as_json(value: Any) -> Any:
    """``value`` as it reads back from JSON (tuples become lists, odd objects strings)."""
    return json.loads(json.dumps(value, default=str))


def _differing(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Keys whose values differ between two mappings (a key missing from one counts)."""
    return sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))


def explain(record: dict[str, Any], new: Ingredients) -> str:
    """In words, which ingredients differ between a recorded run and ``new``."""
    parts = ["notebook changed"] if record.get("notebook") != new.notebook else []
    params = _differing(record.get("parameters", {}), new.parameters)
    if params:
        parts.append("parameters changed: " + ", ".join(params))
    parts += [f"input {p} changed" for p in _differing(record.get("inputs", {}), new.inputs)]
    if record.get("code") != new.code:
        parts.append("phdl code changed")
    return "; ".join(parts) or "cache key changed"


class ChapterCache:
    """The record of one profile's last successful chapter runs (``runs/<profile>/.cache.json``).

    ``chapters``: chapter -> papermill parameters (a loaded profile's ``chapters``); ``force``:
    every chapter runs. Paths in the profile are relative to ``root``.
    """

    def __init__(
        self, root: Path, profile: str, chapters: dict[str, dict[str, Any]], force: bool = False
    ) -> None:
        self.root, self.profile, self.force = Path(root), profile, force
        self.declared = load_declarations(self.root)
        check_declarations(self.declared, chapters)
        self.path = self.root / "runs" / profile / CACHE_FILE
        data = self._read()
        self.records: dict[str, dict[str, Any]] = data.get("chapters", {})
        self._memo: dict[str, list[Any]] = data.get("files", {})
        self.code = code_hash()

    def _read(self) -> dict[str, Any]:
        """The cache file's content; {} when it is missing, unreadable or of another format."""
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) and data.get("format") == _FORMAT else {}

    def save(self) -> None:
        """Write the cache file atomically, forgetting the hashes of files that are gone."""
        self._memo = {p: v for p, v in self._memo.items() if Path(p).exists()}
        data = {"format": _FORMAT, "chapters": self.records, "files": self._memo}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(self.path) as tmp:
            tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")

    def file_hash(self, path: str) -> str | None:
        """Content hash of ``path`` (relative to root), None if missing; a file unchanged in
        size, mtime and inode since it was last hashed is not read again."""
        full = self.root / path
        if not full.exists():
            return None
        if full.is_dir():
            return sha256_file(full)
        st = full.stat()
        stamp = [st.st_size, st.st_mtime_ns, st.st_ino]
        known = self._memo.get(str(full.resolve()))
        if known and known[:3] == stamp:
            return str(known[3])
        digest = sha256_file(full)
        self._memo[str(full.resolve())] = [*stamp, digest]
        return digest

    def _files(self, chapter: str, kind: str, params: dict[str, Any]) -> dict[str, str | None]:
        """Declared ``kind`` ("needs" or "produces") files of a chapter -> content hash."""
        names = self.declared.get(chapter, {}).get(kind, [])
        return {path: self.file_hash(path) for path in declared_files(params, names)}

    def ingredients(self, chapter: str, params: dict[str, Any], notebook: Path) -> Ingredients:
        """The ingredients of the chapter's key (``notebook``: its source notebook)."""
        parameters = _as_json({**params, "profile": self.profile})
        inputs = self._files(chapter, "needs", params)
        return Ingredients(sha256_file(notebook), parameters, inputs, self.code)

    def plan(
        self, chapter: str, params: dict[str, Any], notebook: Path, executed: Path
    ) -> tuple[Ingredients, str | None]:
        """The chapter's ingredients and why it must run, in words (None: it can be skipped).

        ``notebook``: its source; ``executed``: the executed notebook its last run left.
        """
        new = self.ingredients(chapter, params, notebook)
        record = self.records.get(chapter)
        if self.force:
            return new, "forced"
        if chapter not in self.declared:
            return new, f"not declared in {DECLARATION}, so never skipped"
        if record is None:
            return new, "no earlier run recorded"
        if not executed.is_file():
            return new, f"its executed notebook {executed.name} is missing"
        if record.get("key") != new.key:
            return new, explain(record, new)
        outputs = self._files(chapter, "produces", params)
        moved = _differing(record.get("outputs", {}), outputs)
        if moved:
            return new, f"output {', '.join(moved)} changed or missing since its last run"
        return new, None

    def record(self, chapter: str, params: dict[str, Any], ingredients: Ingredients) -> None:
        """Keep the key of a chapter that just succeeded and the hashes of what it produced."""
        outputs = self._files(chapter, "produces", params)
        self.records[chapter] = {**asdict(ingredients), "key": ingredients.key, "outputs": outputs}
        self.save()

    def forget(self, chapter: str) -> None:
        """Drop a chapter's record (before it reruns, so a failed run is never skipped)."""
        if self.records.pop(chapter, None) is not None:
            self.save()
