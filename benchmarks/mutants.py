"""Mutation testing of the modules where a silent bug changes the science (mutmut 3).

Each module is mutated against its own test files only, so a run stays short:

    python benchmarks/mutants.py                  # every module, one after the other
    python benchmarks/mutants.py labels loss      # some of them
    python benchmarks/mutants.py --list           # the modules and their tests
    python benchmarks/mutants.py results labels   # the surviving mutants of the last run
    python benchmarks/mutants.py show labels phdl.labels.x_validate__mutmut_3
    python benchmarks/mutants.py show labels --survivors    # the diff of every survivor

Not part of ``make test`` or ``.ci/run``: it needs ``mutmut>=3.8,<4`` in the environment.

mutmut 3 reads its settings from ``[tool.mutmut]`` of ``pyproject.toml`` (or ``setup.cfg``) in
the directory it runs in and works in ``./mutants/`` there. So that one module's settings never
touch the repository's own files, every module runs in a directory of its own,
``mutants/<module>/`` (git-ignored): a copy of ``phdl/``, ``tests/`` and a ``pyproject.toml`` with
the repository's pytest settings plus a generated ``[tool.mutmut]`` section. mutmut then copies
that into ``mutants/<module>/mutants/``, where the mutated code is imported (ahead of the
editable install) and the module's tests run. Each run starts from a fresh copy unless
``--keep`` (then mutmut re-tests only what changed).

Per module the report gives the mutants and their outcome (mutmut's statuses):
killed (a test failed), survived (all tests passed: a gap, or an equivalent mutant),
no tests (no selected test calls the mutated function), timeout, suspicious (slow, not
conclusive), and score = killed / checked, checked = all mutants that were run or judged
(not "skipped", not "not checked"). Timeouts are not counted as kills in the score.
mutmut 3 mutates code inside functions and methods only: module-level constants (e.g. the
label ranges of Table 1) are not mutated here and need their own direct tests.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "mutants"

#: module -> (what is mutated: files or folders of phdl/, the module's own test files).
MODULES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "labels": (("phdl/labels.py",), ("tests/test_labels.py",)),
    "loss": (("phdl/train/loss.py",), ("tests/test_loss.py", "tests/test_train.py")),
    "gridfile": (("phdl/gridfile.py",), ("tests/test_grid.py",)),
    "io": (
        ("phdl/io",),
        (
            "tests/test_io_lamost.py",
            "tests/test_normalization.py",
            "tests/test_io_readers.py",
            "tests/test_surveys.py",
            "tests/test_io_lamost_catalog.py",
            "tests/test_io_members.py",
            "tests/test_io_misc.py",
        ),
    ),
    "uncertainty": (
        ("phdl/uncertainty.py", "phdl/screen.py"),
        ("tests/test_uncertainty.py", "tests/test_screen.py"),
    ),
    # phdl/fit in three parts, so that each run stays under 45 min (phdl/fit/toy.py, the toy
    # model the tests fit, is not mutated: it is test scaffolding)
    "fit-core": (
        (
            "phdl/fit/spectra.py",
            "phdl/fit/linear.py",
            "phdl/fit/labeltable.py",
            "phdl/fit/resume.py",
        ),
        (
            "tests/test_fit.py",
            "tests/test_fit_fast.py",
            "tests/test_uncertainty.py",
            "tests/test_fit_spectra.py",
        ),
    ),  # fmt: skip
    "fit-fast": (("phdl/fit/fast.py",), ("tests/test_fit_fast.py",)),
    "fit-cmaes": (
        ("phdl/fit/cmaes.py", "phdl/fit/fitting.py"),
        (
            "tests/test_fit.py",
            "tests/test_fit_fast.py",
            "tests/test_protocol.py",
            "tests/test_fit_cmaes.py",
            "tests/test_fit_cmaes_more.py",
        ),
    ),
    "calibrate": (
        ("phdl/calibrate",),
        (
            "tests/test_calibrate.py",
            "tests/test_calibrate_chain.py",
            "tests/test_plots_calibration.py",
            "tests/test_calibrate_trends.py",
            "tests/test_calibrate_apply.py",
            "tests/test_calibrate_smooth.py",
            "tests/test_calibrate_data.py",
        ),
    ),  # fmt: skip
    "validate": (("phdl/validate",), ("tests/test_validate.py",)),
    # tests/test_catalog.py starts process clusters in module fixtures (seconds per mutant):
    # the catalogue is mutated against its in-process unit tests
    "catalog": (("phdl/catalog",), ("tests/test_catalog_units.py",)),
}

#: module -> extra [tool.mutmut] settings. mutmut stops a mutant after
#: (tests' time + 1 s) x timeout_multiplier x 2 CPU seconds, 30x by default: fit-cmaes's mutants
#: that make CMA-ES loop until its generation cap then cost minutes each, so its cap is lower.
SETTINGS: dict[str, dict[str, float]] = {"fit-cmaes": {"timeout_multiplier": 4.0}}

# mutmut's statuses, in the order of the report
STATUSES = ("killed", "survived", "no tests", "timeout", "suspicious", "segfault", "skipped")
UNCHECKED = ("skipped", "not checked", "check was interrupted by user")


def _mutmut() -> str:
    exe = Path(sys.executable).with_name("mutmut")
    if exe.exists():
        return str(exe)
    found = shutil.which("mutmut")
    if found is None:
        sys.exit("mutmut is not installed: pip install 'mutmut>=3.8,<4'")
    return found


def _toml_value(value) -> str:
    """A TOML value for the str / bool / number / list-of-those settings written here."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(value)  # strings and numbers: JSON's syntax is TOML's


def _only_mutate(paths: tuple[str, ...]) -> list[str]:
    return [p if p.endswith(".py") else p.rstrip("/") + "/*" for p in paths]


def pyproject_text(module: str) -> str:
    """The pyproject.toml of a module's directory: the repository's pytest settings and the
    module's [tool.mutmut] section."""
    import tomllib

    paths, tests = MODULES[module]
    real = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    lines = ["# written by benchmarks/mutants.py; do not edit", "", "[tool.pytest.ini_options]"]
    for key, value in real.get("tool", {}).get("pytest", {}).get("ini_options", {}).items():
        lines.append(f"{key} = {_toml_value(value)}")
    mutmut = {
        "source_paths": ["phdl"],
        "only_mutate": _only_mutate(paths),
        "pytest_add_cli_args_test_selection": list(tests),
        "pytest_add_cli_args": ["-p", "no:cacheprovider"],
        # the module folder is not a git repository of its own: no git change detection
        "use_git_change_detection": False,
        **SETTINGS.get(module, {}),
    }
    lines += ["", "[tool.mutmut]"] + [f"{k} = {_toml_value(v)}" for k, v in mutmut.items()]
    return "\n".join(lines) + "\n"


def prepare(module: str, *, keep: bool) -> Path:
    """The module's directory, ``mutants/<module>/``: a fresh copy unless ``keep``."""
    where = WORK / module
    if where.exists() and not keep:
        shutil.rmtree(where)
    where.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("phdl", "tests"):
        shutil.copytree(ROOT / name, where / name, ignore=ignore, dirs_exist_ok=True)
    (where / "pyproject.toml").write_text(pyproject_text(module), "utf-8")
    return where


def outcomes(where: Path) -> dict[str, str]:
    """mutant name -> status, from mutmut's meta files of the last run in ``where``."""
    from mutmut.stats import status_by_exit_code

    out: dict[str, str] = {}
    for meta in sorted((where / "mutants").rglob("*.py.meta")):
        data = json.loads(meta.read_text("utf-8"))
        for name, code in data["exit_code_by_key"].items():
            out[name] = status_by_exit_code[code]
    return out


def summary(module: str, status: dict[str, str], wall: float | None) -> dict:
    counts = {s: sum(1 for v in status.values() if v == s) for s in STATUSES}
    checked = sum(1 for v in status.values() if v not in UNCHECKED)
    return {
        "module": module,
        "total": len(status),
        **counts,
        "score": counts["killed"] / checked if checked else float("nan"),
        "wall_s": wall,
        "survived_names": _names(status, "survived"),
        "no_tests_names": _names(status, "no tests"),
    }


def _names(status: dict[str, str], which: str) -> list[str]:
    """The mutants of one status, in mutmut's numbering order (x_f__mutmut_2 before _10)."""

    def key(name: str):
        stem, _, n = name.rpartition("_")
        return (stem, int(n) if n.isdigit() else 0)

    return sorted((k for k, v in status.items() if v == which), key=key)


def run_module(module: str, *, keep: bool, jobs: int | None) -> dict:
    where = prepare(module, keep=keep)
    cmd = [_mutmut(), "run"] + (["--max-children", str(jobs)] if jobs else [])
    env = dict(os.environ)
    for key, value in (("OMP_NUM_THREADS", "1"), ("MKL_NUM_THREADS", "1"), ("PHDL_COMPILE", "0")):
        env.setdefault(key, value)
    print(f"== {module}: {' '.join(MODULES[module][0])} against {' '.join(MODULES[module][1])}")
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=where, env=env)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        print(f"mutmut run failed for {module} (exit {proc.returncode}); see the output above")
    return summary(module, outcomes(where), wall)


def table(rows: list[dict]) -> str:
    head = ("module", "total", "killed", "survived", "no tests", "timeout", "suspicious")
    lines = [" ".join(f"{h:>10}" for h in head) + f" {'score':>7} {'wall':>8}"]
    for r in rows:
        cells = [f"{r[h]:>10}" for h in head]
        wall = f"{r['wall_s'] / 60:7.1f}m" if r["wall_s"] is not None else f"{'-':>8}"
        lines.append(" ".join(cells) + f" {r['score']:7.1%} {wall}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] in (["results"], ["show"]):
        return inspect(argv)
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("modules", nargs="*", help=f"default: all of {', '.join(MODULES)}")
    ap.add_argument("--list", action="store_true", help="list the modules and their tests")
    ap.add_argument("--keep", action="store_true", help="reuse the last run's mutants/<module>/")
    ap.add_argument("--jobs", type=int, help="mutants run at once (mutmut: number of CPUs)")
    ap.add_argument("--json", type=Path, help="also write the results to this file")
    args = ap.parse_args(argv)
    if args.list:
        for name, (paths, tests) in MODULES.items():
            print(f"{name:12} {' '.join(paths):24} {' '.join(tests)}")
        return 0
    unknown = [m for m in args.modules if m not in MODULES]
    if unknown:
        ap.error(f"unknown module(s) {', '.join(unknown)}; choose from {', '.join(MODULES)}")
    rows = []
    for module in args.modules or list(MODULES):
        rows.append(run_module(module, keep=args.keep, jobs=args.jobs))
    print()
    print(table(rows))
    for r in rows:
        for which in ("survived", "no tests"):
            names = r[which.replace(" ", "_") + "_names"]
            if names:
                print(f"\n{r['module']}, {which} ({len(names)}):")
                print("\n".join(f"  {name}" for name in names))
        if r["survived"] or r["no tests"]:
            print(f"  diffs: python benchmarks/mutants.py show {r['module']} --survivors")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n", "utf-8")
    return 0


def inspect(argv: list[str]) -> int:
    """``results MODULE`` or ``show MODULE NAME|--survivors``: mutmut's own commands, run in the
    module's directory of the last run."""
    if len(argv) < 2 or argv[1] not in MODULES:
        sys.exit(f"usage: {argv[0]} MODULE ...; MODULE one of {', '.join(MODULES)}")
    where = WORK / argv[1]
    if not (where / "mutants").is_dir():
        sys.exit(f"no run of {argv[1]} in {where}: run `python benchmarks/mutants.py {argv[1]}`")
    if argv[0] == "results":
        return subprocess.run([_mutmut(), "results", *argv[2:]], cwd=where).returncode
    names = argv[2:]
    if names == ["--survivors"]:
        status = outcomes(where)
        names = _names(status, "survived") + _names(status, "no tests")
    for name in names:
        subprocess.run([_mutmut(), "show", name], cwd=where, check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
