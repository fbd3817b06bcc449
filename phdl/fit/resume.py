"""Resumable fitting: every finished batch of stars is saved to a checkpoint file (.npz).

A rerun of :func:`phdl.fit.fit_spectra` with the same ``checkpoint`` path, the same spectra,
start and options and the same model skips the stars already fitted; the results are
identical to an uninterrupted run (every star has its own random stream). The file is written
atomically (temporary name, then rename) and removed when the fit completes.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from phdl.atomic import atomic_path
from phdl.labels import N_LABELS

if TYPE_CHECKING:
    from phdl.emulator.protocol import SpectralModel


def input_key(
    model: SpectralModel, flux: np.ndarray, ivar: np.ndarray, start: np.ndarray, options: dict
) -> str:
    """sha256 of everything that determines the fit: spectra, start, options and the model
    (its wavelengths, scaling and the flux it predicts at the start of the first star)."""
    h = hashlib.sha256()
    for arr in (flux, ivar, start, model.wavelength, model.label_min, model.label_max):
        a = np.ascontiguousarray(np.asarray(arr, dtype=np.float64))
        h.update(str(a.shape).encode())
        h.update(a.tobytes())
    if len(start):
        probe = np.asarray(model.predict(start[:1]), dtype=np.float64)
        h.update(np.ascontiguousarray(probe).tobytes())
    h.update(json.dumps(options, sort_keys=True, default=str).encode())
    return h.hexdigest()


class Checkpoint:
    """Per-star results saved so far: ``done`` (n,) bool, ``labels`` (n, 34), ``chisq``,
    ``n_iter``, ``n_eval``, ``stop``. ValueError if ``path`` holds a checkpoint of other inputs;
    ``path=None`` keeps the results in memory only."""

    def __init__(self, path: str | os.PathLike[str] | None, key: str, n: int):
        self.path, self.key = (None if path is None else Path(path)), key
        self.done = np.zeros(n, dtype=bool)
        self.labels = np.full((n, N_LABELS), np.nan)
        self.chisq = np.full(n, np.nan)
        self.n_iter = np.zeros(n, dtype=np.int64)
        self.n_eval = np.zeros(n, dtype=np.int64)
        self.stop = np.array([""] * n, dtype=object)
        if self.path is not None and self.path.is_file():
            self._load(n)

    def _load(self, n: int) -> None:
        try:
            with np.load(self.path, allow_pickle=False) as z:
                data = {k: z[k] for k in z.files}
        except Exception as exc:  # noqa: BLE001 - any unreadable file is a bad checkpoint
            raise ValueError(f"checkpoint {self.path} cannot be read: {exc}") from None
        if str(data.get("key", "")) != self.key or len(data.get("done", [])) != n:
            raise ValueError(
                f"checkpoint {self.path} belongs to a fit of other spectra, options or model; "
                "delete it or give another checkpoint path"
            )
        self.done = data["done"].astype(bool)
        self.labels, self.chisq = data["labels"], data["chisq"]
        self.n_iter, self.n_eval = data["n_iter"], data["n_eval"]
        self.stop = data["stop"].astype(object)

    def save(self, stars: np.ndarray, labels, chisq, n_iter, n_eval, stop) -> None:
        """Record the results of ``stars`` and write the file (atomically)."""
        self.done[stars] = True
        self.labels[stars], self.chisq[stars] = labels, chisq
        self.n_iter[stars], self.n_eval[stars] = n_iter, n_eval
        self.stop[stars] = stop
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(self.path) as tmp, open(tmp, "wb") as fh:  # a file: savez adds no .npz
            np.savez(
                fh,
                key=np.array(self.key),
                done=self.done,
                labels=self.labels,
                chisq=self.chisq,
                n_iter=self.n_iter,
                n_eval=self.n_eval,
                stop=np.array([str(s) for s in self.stop]),
            )

    def remove(self) -> None:
        """Delete the file (the fit is complete)."""
        if self.path is not None and self.path.exists():
            self.path.unlink()
