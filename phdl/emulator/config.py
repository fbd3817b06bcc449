"""Architecture configuration of the emulators: dataclasses saved with the weights.

The defaults of :class:`TransformerConfig` are the paper's (Section 2.1.1): d = 128, four encoder
blocks, four heads, an output head of 256 neurons, wavelength periods log-spaced from 1e-6 to 10.
What the paper leaves open is decided here and documented field by field.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

KINDS = ("transformer", "mlp")


def _positive(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


@dataclass(frozen=True)
class TransformerConfig:
    """Sizes of the PhDLspec Transformer (Section 2.1.1).

    - ``d_model``: width of every token and of the wavelength encoding (paper: 128).
    - ``n_blocks``: encoder blocks, each multi-head cross-attention + Add&Norm + feed-forward +
      Add&Norm (paper: 4).
    - ``n_heads``: attention heads; ``d_model`` must be divisible by it (paper: 4).
    - ``n_tokens``: parameter tokens (keys/values). The paper embeds the labels with "a fully
      connected layer of 128 neurons + GELU"; a single token would make the attention weights
      trivially 1, so the one FC layer maps the 34 scaled labels to ``n_tokens * d_model``
      neurons, GELU, reshaped into ``n_tokens`` tokens of width ``d_model`` (each token a
      learned mixture of all labels). Default 34, one per label in number.
    - ``ffn_dim``: hidden width of each block's feed-forward layer (not stated; 4 d, the usual).
    - ``head_dim``: the output head is FC(d_model -> head_dim) + GELU, then FC(head_dim -> 1):
      "two fully connected layers with 256 neurons" read as a 256-neuron layer followed by the
      layer that gives one flux per wavelength (paper: 256).
    - ``period_min``, ``period_max``: the d periods of the sinusoidal wavelength encoding,
      log-spaced (Eq. 3), in units of log10(λ / Å) (dex). See
      :func:`phdl.emulator.networks.encode_wavelength`.
    """

    d_model: int = 128
    n_blocks: int = 4
    n_heads: int = 4
    n_tokens: int = 34
    ffn_dim: int = 512
    head_dim: int = 256
    period_min: float = 1e-6
    period_max: float = 10.0

    def __post_init__(self) -> None:
        for f in fields(self):
            if f.type in ("int", int):
                _positive(f.name, getattr(self, f.name))
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model={self.d_model} must be divisible by n_heads={self.n_heads}")
        if not 0 < self.period_min < self.period_max:
            raise ValueError(
                f"need 0 < period_min < period_max, got {self.period_min}, {self.period_max}"
            )


@dataclass(frozen=True)
class MLPConfig:
    """The Payne-style baseline (Ting et al. 2019): scaled labels -> ``n_layers`` hidden layers of
    ``hidden`` neurons -> every pixel of the spectrum at once.

    The Payne used leaky ReLU / sigmoid units; we use GELU (tanh form) so that its Jacobian is
    smooth and the gradient loss can be applied to it like to the Transformer.
    """

    hidden: int = 300
    n_layers: int = 2

    def __post_init__(self) -> None:
        _positive("hidden", self.hidden)
        _positive("n_layers", self.n_layers)


ModelConfig = TransformerConfig | MLPConfig


def config_for(kind: str, values: dict[str, Any] | None = None) -> ModelConfig:
    """Build the config of ``kind`` ('transformer' or 'mlp') from a dict (as saved)."""
    if kind not in KINDS:
        raise ValueError(f"unknown model kind {kind!r}; expected one of {KINDS}")
    cls = TransformerConfig if kind == "transformer" else MLPConfig
    values = dict(values or {})
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"unknown {kind} config field(s) {unknown}; known: {sorted(known)}")
    return cls(**values)


def kind_of(config: ModelConfig) -> str:
    """'transformer' or 'mlp' for a config object."""
    if isinstance(config, TransformerConfig):
        return "transformer"
    if isinstance(config, MLPConfig):
        return "mlp"
    raise ValueError(f"not a model config: {config!r}")


def as_dict(config: ModelConfig) -> dict[str, Any]:
    """Plain dict of a config (what goes into a checkpoint)."""
    return asdict(config)
