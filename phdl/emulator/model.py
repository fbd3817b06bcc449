"""The trained emulator: networks per wavelength segment + label scaling, in physical units.

A model checkpoint (written by :mod:`phdl.train`, read by :func:`load`) is one ``torch.save``
file of plain types and tensors (loadable with ``weights_only=True``); see :data:`CHECKPOINT_KEYS`.
"""

from __future__ import annotations

import copy
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.func import jvp, vmap

from phdl.emulator.config import ModelConfig, config_for, kind_of
from phdl.emulator.networks import MLPNet, TransformerNet
from phdl.labels import N_LABELS, scale, validate

FORMAT = "phdl-emulator-2"  # 2: a validation set chooses the kept weights (1 used the test set)
#: Pixel-spectra (times tangents) per Transformer call in predict / jacobian (cache-sized).
CHUNK = 8192

#: Keys of a checkpoint and what they hold.
CHECKPOINT_KEYS: dict[str, str] = {
    "format": f"the string {FORMAT!r}",
    "kind": "'transformer' or 'mlp'",
    "model_config": "dict of the architecture config (TransformerConfig / MLPConfig)",
    "train_config": "dict of the phdl.train.TrainConfig used",
    "label_names": "list of the 34 label names, in column order",
    "label_min": "(34,) float64 tensor: p_min of Eq. 25 (physical units)",
    "label_max": "(34,) float64 tensor: p_max of Eq. 25 (physical units)",
    "wavelength": "(n_pix,) float64 tensor, Å (vacuum): the training grid",
    "segments": "list of [start, stop) pixel ranges, one network each",
    "best_state": "state_dict of the networks (ModuleList) with the lowest validation loss",
    "state": "state_dict of the networks at the last finished epoch (for resuming)",
    "optimizer": "Adam state of the segment in progress (None when finished)",
    "scheduler": "cosine-annealing state of the segment in progress (None when finished)",
    "progress": "dict: segment, epoch (next to run), best_val, best_epoch, finished",
    "history": "list (per segment) of dicts of per-epoch lists (losses, lr, seconds)",
    "grid_hash": "phdl.grid.grid_hash of the training grid",
    "grid_path": "path of the training grid when trained (informative)",
    "split": "dict: seed, train, val, test (disjoint sorted index tensors into the grid's rows)",
    "grad_sigma": "(34,) float64 tensor: σ_m of the gradient weights w_m = 1/σ_m (physical)",
    "phdl_version": "phdl version that wrote the file",
}


def check_format(ckpt: Any, source: str) -> None:
    """ValueError unless ``ckpt`` is a checkpoint dict of this :data:`FORMAT`; an older phdl
    checkpoint is named as such (it must be retrained)."""
    fmt = ckpt.get("format") if isinstance(ckpt, dict) else None
    if fmt == FORMAT:
        return
    if fmt == "phdl-emulator-1":
        raise ValueError(
            f"{source} is a checkpoint of an older phdl (format {fmt!r}, whose test stars chose "
            f"the kept weights); this phdl reads {FORMAT!r}: retrain it with phdl train"
        )
    if isinstance(fmt, str) and fmt.startswith("phdl-emulator-"):
        raise ValueError(
            f"{source} is a phdl checkpoint of format {fmt!r}; this phdl reads {FORMAT!r}: "
            "use the phdl that wrote it, or retrain it with this one"
        )
    raise ValueError(f"{source} is not a phdl model checkpoint (format {FORMAT!r})")


def split_segments(n_pix: int, n_segments: int) -> list[tuple[int, int]]:
    """Contiguous [start, stop) pixel ranges of ``n_segments`` near-equal segments."""
    if not 1 <= n_segments <= n_pix:
        raise ValueError(f"segments must be between 1 and n_pix={n_pix}, got {n_segments}")
    edges = np.cumsum([0] + [len(a) for a in np.array_split(np.arange(n_pix), n_segments)])
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:], strict=True)]


def build_network(config: ModelConfig, n_pix: int) -> nn.Module:
    """A freshly initialized network of ``config`` for a segment of ``n_pix`` pixels."""
    if kind_of(config) == "transformer":
        return TransformerNet(config)
    return MLPNet(config, n_pix)


JVP_METHODS = ("manual", "torch.func")


def flux_and_jacobian(
    net: nn.Module,
    x_phys: torch.Tensor,
    query: torch.Tensor | None,
    lo: torch.Tensor,
    hi: torch.Tensor,
    which: torch.Tensor,
    method: str = "manual",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Flux (B, P) and its derivatives (B, k, P) w.r.t. the physical labels ``which`` (k,).

    The network sees scaled labels p' = (p - p_min) / (p_max - p_min) (Eq. 25,
    :func:`phdl.labels.scale` with ``lo``, ``hi`` = p_min, p_max (34,) physical), so
    ∂f/∂p = ∂f/∂p' / (p_max - p_min). Forward mode along the k label axes, the primal computed
    once; the result is differentiable with respect to the network weights (the gradient loss
    backpropagates through it). ``method``:

    - "manual": the networks' hand-written ``forward_jvp`` with scaled tangents
      e_m / (p_max - p_min)_m
      (the chain rule made explicit); the fast default;
    - "torch.func": ``vmap`` of ``torch.func.jvp`` over the k tangents of the composition
      physical -> scaled -> network, so autodiff applies the chain rule; the reference for the
      Jacobian. Do not train the Transformer with it: in torch 2.13 reverse-mode through the
      forward-mode formula of LayerNorm is wrong (our tests show weight gradients of the
      gradient loss off by O(1) against finite differences; cf. pytorch/pytorch#196700 on
      layer_norm's second-order JVP), which the hand-written tangents avoid.
    """
    k = len(which)
    if method == "manual":
        dx = torch.zeros(k, *x_phys.shape, dtype=x_phys.dtype, device=x_phys.device)
        dx[torch.arange(k), :, which] = (1.0 / (hi - lo)[which])[:, None]
        flux, jac = net.forward_jvp(scale(x_phys, lo, hi), query, dx)
        return flux, jac.transpose(0, 1)
    if method != "torch.func":
        raise ValueError(f"unknown jvp method {method!r}; expected one of {JVP_METHODS}")
    tangents = torch.zeros(k, *x_phys.shape, dtype=x_phys.dtype, device=x_phys.device)
    tangents[torch.arange(k), :, which] = 1.0

    def f(p: torch.Tensor) -> torch.Tensor:
        return net(scale(p, lo, hi), query)

    flux, jac = vmap(lambda v: jvp(f, (x_phys,), (v,)), out_dims=(None, 0))(tangents)
    return flux, jac.transpose(0, 1)


def flux_and_directional(
    net: nn.Module,
    x_phys: torch.Tensor,
    query: torch.Tensor | None,
    lo: torch.Tensor,
    hi: torch.Tensor,
    directions: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Flux (B, P) and its directional derivatives (B, k, P) along ``directions`` (k, 34), each
    a tangent in the physical labels (∂f/∂θ · u), every label moving at once: the same
    hand-written forward mode as :func:`flux_and_jacobian`'s "manual", with the scaled
    tangents u / (p_max - p_min). Differentiable with respect to the network weights."""
    k = len(directions)
    dx = (directions / (hi - lo)[None, :])[:, None, :].expand(k, *x_phys.shape)
    flux, jac = net.forward_jvp(scale(x_phys, lo, hi), query, dx.contiguous())
    return flux, jac.transpose(0, 1)


def check_compatible(label_names, wavelength, grid: Any, what: str) -> None:
    """ValueError naming the field if a model's labels or wavelength grid differ from ``grid``."""
    where = getattr(grid, "path", None) or "the grid"
    if tuple(label_names) != tuple(grid.label_names):
        diff = [a for a, b in zip(label_names, grid.label_names, strict=False) if a != b][:3]
        raise ValueError(
            f"{what} has label_names different from {where} ({len(label_names)} vs "
            f"{len(grid.label_names)} labels; first differing: {diff}): label set differs"
        )
    wl, gwl = np.asarray(wavelength), np.asarray(grid.wavelength)
    if wl.shape != gwl.shape or not np.allclose(wl, gwl, rtol=1e-12, atol=0.0):
        raise ValueError(
            f"{what} has a wavelength grid of {len(wl)} pixels ({wl[0]:.2f}–{wl[-1]:.2f} Å), "
            f"{where} has {len(gwl)} pixels ({gwl[0]:.2f}–{gwl[-1]:.2f} Å): wavelength differs"
        )


class Emulator:
    """A trained spectral emulator in physical units (see :func:`load`); a
    :class:`~phdl.emulator.SpectralModel`.

    Attributes: ``kind`` ('transformer' | 'mlp'), ``config``, ``wavelength`` (n_pix,) Å,
    ``label_names``, ``label_min`` / ``label_max`` (Eq. 25 scaling, physical), ``segments``,
    ``nets`` (one network per segment), ``history``, ``train_indices`` / ``val_indices`` /
    ``test_indices`` (disjoint rows of the training grid: fitted, chose the kept weights, held
    out), ``grid_hash``, ``train_config``, ``finished``.
    """

    def __init__(
        self,
        config: ModelConfig,
        nets: nn.ModuleList,
        wavelength: np.ndarray,
        segments: list[tuple[int, int]],
        label_names: tuple[str, ...],
        label_min: np.ndarray,
        label_max: np.ndarray,
        meta: dict[str, Any] | None = None,
    ):
        self.kind = kind_of(config)
        self.config = config
        self.nets = nets.eval()
        self.wavelength = np.asarray(wavelength, dtype=np.float64)
        self.segments = [tuple(s) for s in segments]
        self.label_names = tuple(label_names)
        self.label_min = np.asarray(label_min, dtype=np.float64)
        self.label_max = np.asarray(label_max, dtype=np.float64)
        meta = meta or {}
        self.history: list[dict[str, list]] = meta.get("history", [])
        self.train_config: dict[str, Any] = meta.get("train_config", {})
        self.grid_hash: str = meta.get("grid_hash", "")
        split = meta.get("split", {})
        self.train_indices = np.asarray(split.get("train", []), dtype=np.int64)
        self.val_indices = np.asarray(split.get("val", []), dtype=np.int64)
        self.test_indices = np.asarray(split.get("test", []), dtype=np.int64)
        self.grad_sigma = np.asarray(meta.get("grad_sigma", np.full(N_LABELS, np.nan)))
        self.finished: bool = bool(meta.get("progress", {}).get("finished", True))
        self._routes: dict[Any, list] = {}

    # ------------------------------------------------------------------ basics
    @property
    def dtype(self) -> torch.dtype:
        """The networks' floating dtype (float32 as trained; see :meth:`double`)."""
        return next(self.nets.parameters()).dtype

    def double(self) -> Emulator:
        """A float64 copy (for finite-difference checks); the original is unchanged."""
        new = copy.copy(self)
        new.nets = copy.deepcopy(self.nets).double()
        new._routes = {}
        return new

    def __repr__(self) -> str:
        n_par = sum(p.numel() for p in self.nets.parameters())
        return (
            f"Emulator(kind={self.kind!r}, {len(self.wavelength)} pixels "
            f"{self.wavelength[0]:.1f}–{self.wavelength[-1]:.1f} Å, {len(self.segments)} "
            f"segment(s), {n_par:,} parameters, config={self.config})"
        )

    def check_grid(self, grid: Any) -> None:
        """ValueError if ``grid`` (a :class:`phdl.grid.Grid`) has other labels or wavelengths."""
        check_compatible(self.label_names, self.wavelength, grid, "the model")

    def _scaling(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(p_min, p_max) of Eq. 25 as tensors of the networks' dtype."""
        lo = torch.as_tensor(self.label_min, dtype=self.dtype)
        hi = torch.as_tensor(self.label_max, dtype=self.dtype)
        return lo, hi

    # ------------------------------------------------------------------ wavelengths
    def _route(self, wavelength: np.ndarray | None) -> list[tuple[int, np.ndarray, Any]]:
        """[(segment, output positions, query)] for the requested wavelengths (Å)."""
        key = (None if wavelength is None else np.asarray(wavelength).tobytes(), self.dtype)
        if key in self._routes:
            return self._routes[key]
        full = self.wavelength
        wl = full if wavelength is None else np.asarray(wavelength, dtype=np.float64)
        if wl.ndim != 1 or len(wl) == 0 or not np.all(np.isfinite(wl)):
            raise ValueError("wavelength must be a non-empty 1-D array of finite values (Å)")
        starts = np.array([a for a, _ in self.segments])
        if self.kind == "mlp":
            j = np.searchsorted(full, wl).clip(0, len(full) - 1)
            jm = (j - 1).clip(0)
            j = np.where(np.abs(full[jm] - wl) < np.abs(full[j] - wl), jm, j)
            off = np.abs(full[j] - wl) > 1e-9 * wl
            if off.any():
                raise ValueError(
                    f"the MLP baseline only evaluates the {len(full)} pixels it was trained on; "
                    f"wavelength {wl[np.argmax(off)]:.4f} Å is not one of them"
                )
            seg = np.searchsorted(starts, j, side="right") - 1
        else:
            pad0, pad1 = (0.5 * np.diff(full)[[0, -1]]) if len(full) > 1 else (0.5, 0.5)
            bad = (wl < full[0] - pad0) | (wl > full[-1] + pad1)
            if bad.any():
                raise ValueError(
                    f"wavelength {wl[np.argmax(bad)]:.2f} Å is outside the trained range "
                    f"{full[0]:.2f}–{full[-1]:.2f} Å"
                )
            edges = np.array([0.5 * (full[a - 1] + full[a]) for a in starts[1:]])
            seg = np.searchsorted(edges, wl)
        routes = []
        for s, net in enumerate(self.nets):
            pos = np.flatnonzero(seg == s)
            if len(pos) == 0:
                continue
            if self.kind == "mlp":
                local = j[pos] - self.segments[s][0]
                n_seg = self.segments[s][1] - self.segments[s][0]
                full_seg = len(local) == n_seg and np.array_equal(local, np.arange(n_seg))
                query = None if full_seg else torch.as_tensor(local, dtype=torch.long)
            else:
                query = net.query(torch.as_tensor(wl[pos])).to(self.dtype)
            routes.append((s, pos, query))
        self._routes[key] = routes
        return routes

    # ------------------------------------------------------------------ evaluation
    def torch_predict(self, labels: torch.Tensor, wavelength: np.ndarray | None = None):
        """Differentiable flux (B, P) for physical labels (B, 34) given as a torch tensor."""
        routes = self._route(wavelength)
        x = scale(labels.to(self.dtype), *self._scaling())
        parts = [self.nets[s](x, q) for s, _, q in routes]
        out = torch.cat(parts, dim=1)
        order = np.concatenate([pos for _, pos, _ in routes])
        if np.array_equal(order, np.arange(len(order))):
            return out
        return out[:, torch.as_tensor(np.argsort(order))]

    def _labels(self, labels: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(validate(labels, check_range=False), dtype=self.dtype)

    def _blocks(self, routes: list, n_rows: int, k: int, batch_size: int | None):
        """(rows slice, segment, output positions, query) blocks of work of about
        :data:`CHUNK` pixel-spectra-tangents each, so that the Transformer's activations,
        (k, B, P, d), stay in cache. The MLP evaluates a segment's pixels at once."""
        for s, pos, q in routes:
            if self.kind == "mlp":
                pc, rb = len(pos), batch_size or max(1, 2048 // k)
            else:
                pc = min(len(pos), max(64, CHUNK // k))
                rb = batch_size or max(1, CHUNK // (k * pc))
            for p0 in range(0, len(pos), pc):
                qc = q if q is None or pc == len(pos) else q[p0 : p0 + pc]
                for b in range(0, n_rows, rb):
                    yield slice(b, b + rb), s, pos[p0 : p0 + pc], qc

    def predict(
        self,
        labels: np.ndarray,
        wavelength: np.ndarray | None = None,
        batch_size: int | None = None,
    ) -> np.ndarray:
        """Normalized flux (n, P) for physical labels (n, 34) (K, dex, km/s).

        ``wavelength`` (P,) Å defaults to the training grid; the Transformer evaluates any
        wavelengths inside the trained range, the MLP only its training pixels. Returned in the
        model's dtype (float32 as trained). ``batch_size``: spectra per network call (default:
        chosen for cache efficiency).
        """
        x = self._labels(labels)
        routes = self._route(wavelength)
        n_out = sum(len(pos) for _, pos, _ in routes)
        out = torch.empty(len(x), n_out, dtype=self.dtype)
        xs = scale(x, *self._scaling())
        with torch.no_grad():
            for rows, s, pos, q in self._blocks(routes, len(x), 1, batch_size):
                out[rows, pos] = self.nets[s](xs[rows], q)
        return out.numpy()

    def jacobian(
        self,
        labels: np.ndarray,
        wavelength: np.ndarray | None = None,
        batch_size: int | None = None,
    ) -> np.ndarray:
        """∂flux/∂label (n, 34, P) in physical units (per K, per dex, per km/s), by forward-mode
        autodiff through the scaling (see :func:`flux_and_jacobian`)."""
        return self.predict_and_jacobian(labels, None, wavelength, batch_size)[1]

    def predict_and_jacobian(
        self,
        labels: np.ndarray,
        which: np.ndarray | None = None,
        wavelength: np.ndarray | None = None,
        batch_size: int | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Flux (n, P) and ∂flux/∂label (n, k, P) per physical unit for the label columns
        ``which`` (k,) (default all 34), in one forward-mode pass: the primal is computed once,
        and k < 34 tangents cost proportionally less than :meth:`jacobian`."""
        x = self._labels(labels)
        routes = self._route(wavelength)
        n_out = sum(len(pos) for _, pos, _ in routes)
        cols = torch.arange(N_LABELS) if which is None else torch.as_tensor(which).long()
        flux = torch.empty(len(x), n_out, dtype=self.dtype)
        out = torch.empty(len(x), len(cols), n_out, dtype=self.dtype)
        lo, hi = self._scaling()
        with torch.no_grad():
            for rows, s, pos, q in self._blocks(routes, len(x), len(cols), batch_size):
                f, jac = flux_and_jacobian(self.nets[s], x[rows], q, lo, hi, cols)
                flux[rows, pos] = f
                out[rows, :, pos] = jac
        return flux.numpy(), out.numpy()

    # ------------------------------------------------------------------ checkpoints
    @classmethod
    def from_checkpoint(cls, ckpt: dict[str, Any], source: str = "checkpoint") -> Emulator:
        """Rebuild from a checkpoint dict (the weights of ``best_state``)."""
        check_format(ckpt, source)
        missing = [k for k in CHECKPOINT_KEYS if k not in ckpt]
        if missing:
            raise ValueError(f"{source}: checkpoint lacks {missing}")
        config = config_for(ckpt["kind"], ckpt["model_config"])
        segments = [tuple(s) for s in ckpt["segments"]]
        nets = nn.ModuleList(build_network(config, b - a) for a, b in segments)
        nets.load_state_dict(ckpt["best_state"])
        emu = cls(
            config,
            nets,
            np.asarray(ckpt["wavelength"]),
            segments,
            tuple(ckpt["label_names"]),
            np.asarray(ckpt["label_min"]),
            np.asarray(ckpt["label_max"]),
            meta=ckpt,
        )
        if not emu.finished:
            p = ckpt["progress"]
            warnings.warn(
                f"{source} is from an unfinished training run (segment {p['segment'] + 1} of "
                f"{len(segments)}, epoch {p['epoch']}); rerun the same training to resume it",
                stacklevel=3,
            )
        return emu


def load(path: str | os.PathLike[str]) -> Emulator:
    """Load a model checkpoint written by :func:`phdl.train.train` (Transformer or MLP)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model checkpoint {path} not found")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure is a bad file
        raise ValueError(f"{path} cannot be read as a phdl model checkpoint: {exc}") from None
    return Emulator.from_checkpoint(ckpt, str(path))
