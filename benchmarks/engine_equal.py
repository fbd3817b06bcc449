"""Two versions of the engine give the same spectra: dump, then compare.

Usage (one thread, eager; the engine is whichever ``phdl`` is first on PYTHONPATH):
    PYTHONPATH=<old checkout> .venv/bin/python benchmarks/engine_equal.py dump old.npz [vald]
    PYTHONPATH=<new checkout> .venv/bin/python benchmarks/engine_equal.py dump new.npz [vald]
    .venv/bin/python benchmarks/engine_equal.py compare old.npz new.npz
``dump`` synthesizes ``sample_labels(3, 5)`` and a 3,900 K metal-rich giant, spectra alone and
with the 34 gradient spectra (batch 4), with the built-in list or ``vald``, and prints the times
(indicative: one call, no warm-up). ``compare`` prints the largest relative difference of the
spectra and, per label, of the gradient spectra relative to that label's largest |gradient|;
old git versions go side by side with ``git worktree add /tmp/old <commit>``.
"""

from __future__ import annotations

import sys
import time

import numpy as np


def dump(out: str, linelist: str | None) -> None:
    import torch

    torch.set_num_threads(1)
    from phdl import labels as L
    from phdl.grid import sample_labels
    from phdl.synth import Physics, Synthesizer

    x = np.vstack([sample_labels(3, 5), L.solar(3900.0, 1.0, 1.6, 0.3)[None]])
    syn = Synthesizer(Physics(linelist=linelist), compile=False)
    t0 = time.perf_counter()
    f = syn(x, batch_size=4)
    t1 = time.perf_counter()
    f2, g = syn(x, with_gradients=True, batch_size=4)
    t2 = time.perf_counter()
    np.savez(out, f=f, f2=f2, g=g)
    print(f"{out}: spectra {t1 - t0:.2f} s, with gradients {t2 - t1:.2f} s (4 stars)")


def compare(a_path: str, b_path: str) -> None:
    a, b = np.load(a_path), np.load(b_path)
    for k in ("f", "f2"):
        rel = np.abs(a[k] - b[k]) / np.abs(a[k])
        print(f"{k}: max relative difference {rel.max():.2e}, equal {np.array_equal(a[k], b[k])}")
    scale = np.maximum(np.abs(a["g"]).max(-1, keepdims=True), 1e-300)
    worst = (np.abs(a["g"] - b["g"]) / scale).max()
    print(f"gradients: max |difference| / label's max |g| {worst:.2e}")


if __name__ == "__main__":
    if sys.argv[1] == "dump":
        dump(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None)
    else:
        compare(sys.argv[2], sys.argv[3])
