"""Optional torch.compile of the engine's two heavy kernels, with a safe fallback.

The opacity assembly and the radiative transfer are long chains of elementwise operations on
(batch, wavelength, depth) arrays; torch.compile fuses them (the measured speed-up is in
BENCHMARKS.md) at the cost of a one-off compilation, cached on disk by Inductor. Set
``PHDL_COMPILE=0`` to stay eager. If compilation fails (no C++ compiler, say), the engine warns
once and runs eagerly; results agree to round-off either way.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable


def compile_default() -> bool:
    """Whether to compile, from the environment variable PHDL_COMPILE (default: yes)."""
    return os.environ.get("PHDL_COMPILE", "1").strip().lower() not in ("0", "false", "no", "")


class MaybeCompiled:
    """Call ``fn`` through torch.compile when enabled, falling back to eager on failure."""

    def __init__(self, fn: Callable, enabled: bool):
        self.fn = fn
        self.compiled = None
        if enabled:
            import torch

            self.compiled = torch.compile(fn, dynamic=False)

    def __call__(self, *args, **kwargs):
        if self.compiled is not None:
            try:
                return self.compiled(*args, **kwargs)
            except (KeyboardInterrupt, MemoryError):
                raise
            except Exception as exc:  # noqa: BLE001 - any compiler failure falls back
                msg = f"torch.compile failed ({type(exc).__name__}: {exc}); running eagerly"
                warnings.warn(msg,
                              RuntimeWarning, stacklevel=2)  # fmt: skip
                self.compiled = None
        return self.fn(*args, **kwargs)
