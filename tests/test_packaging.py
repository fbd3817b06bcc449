"""A non-editable install works: the wheel carries the line list and the profiles (slow).

The wheel is built from a copy of the sources, installed without dependencies into a fresh
virtual environment that borrows this environment's third-party packages (torch, numpy, ...)
through a ``.pth`` line, and used from a folder outside the checkout, so nothing can be found
through the source tree.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import numpy as np
import pytest

from phdl.labels import solar
from phdl.runner import repo_root
from phdl.synth import Synthesizer

ROOT = repo_root()

SYNTHESIZE = """
import sys
from pathlib import Path
import numpy as np
import phdl
from phdl.labels import solar
from phdl.synth import Synthesizer
from phdl.synth.linelist import BUILTIN_CSV

venv = Path(sys.argv[1]).resolve()
assert venv in Path(phdl.__file__).resolve().parents, phdl.__file__
assert BUILTIN_CSV.is_file() and venv in BUILTIN_CSV.resolve().parents, BUILTIN_CSV
syn = Synthesizer()
flux = syn(np.atleast_2d(solar()))
assert flux.shape == (1, len(syn.wavelength)) and np.all(np.isfinite(flux)), flux.shape
reference = np.load(sys.argv[2])  # the same spectrum from the source tree
np.testing.assert_allclose(flux, reference, rtol=1e-10, atol=1e-12)
print("synthesized", flux.shape[1], "pixels")
"""


def _build_wheel(src: Path, out: Path) -> Path:
    """``pip wheel`` a copy of the package sources into ``out``; return the wheel's path."""
    src.mkdir(parents=True)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "phdl", src / "phdl", ignore=ignore)
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(src)]
    if importlib.util.find_spec("setuptools") is not None:
        cmd.insert(4, "--no-build-isolation")  # build with this environment's setuptools
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    (wheel,) = out.glob("phdl-*.whl")
    return wheel


@pytest.mark.slow
def test_wheel_installs_and_synthesizes(tmp_path):
    wheel = _build_wheel(tmp_path / "src", tmp_path / "dist")
    names = zipfile.ZipFile(wheel).namelist()
    assert "phdl/data/linelist.csv" in names
    assert {"phdl/data/profiles/tiny.yml", "phdl/data/profiles/quick.yml"} <= set(names)
    assert {"phdl/data/chapters.yml", "phdl/data/paper/table1_xfe_ranges.csv"} <= set(names)

    env = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env)
    py = env / "bin" / "python"
    site = Path(
        subprocess.run(
            [py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    # third-party packages from this environment; the path line does not run its .pth hooks,
    # so the editable install of phdl there stays invisible
    (site / "_borrowed.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    install = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q"]
    subprocess.run([*install, "--target", str(site), str(wheel)], check=True)

    reference = tmp_path / "solar.npy"
    np.save(reference, Synthesizer()(np.atleast_2d(solar())))
    run = subprocess.run(
        [py, "-c", SYNTHESIZE, str(env), str(reference)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "synthesized" in run.stdout
