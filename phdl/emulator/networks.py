"""The networks: the PhDLspec Transformer (Section 2.1.1) and the Payne-style MLP baseline.

Both map *scaled* labels (B, 34) (Eq. 25) and a "query" for a set of P pixels to flux (B, P):

- Transformer: the query is the sinusoidal encoding of the P wavelengths, (P, d_model), from
  :func:`encode_wavelength`; any wavelengths can be asked for.
- MLP: the query is a LongTensor of P indices into the pixels the network was built for (or
  None for all of them); it cannot evaluate other wavelengths.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from phdl.emulator.config import MLPConfig, TransformerConfig
from phdl.labels import N_LABELS


def gelu(x: torch.Tensor) -> torch.Tensor:
    """GELU in the tanh form of Eq. 1: 0.5 x (1 + tanh(sqrt(2/π)(x + 0.044715 x³)))."""
    return F.gelu(x, approximate="tanh")


def encode_wavelength(
    wavelength: torch.Tensor, d: int, period_min: float, period_max: float
) -> torch.Tensor:
    """Sinusoidal encoding (Eq. 2–3) of wavelengths in Å -> (P, d) float64.

    The encoded coordinate is x = log10(λ / Å) (dex): the LAMOST-like grid is uniform in it
    with a pixel of 1e-4 dex, so d periods T_j = logspace(lg period_min, lg period_max, d)
    from 1e-6 to 10 dex span from 1/100 of a pixel to 26 times the whole 3750–8996 Å range
    (0.38 dex). Components with T ≲ 1e-3 dex change sign between neighbouring pixels and tell
    pixels apart; those with T ≳ 1 dex are smooth monotonic coordinates over the spectrum.
    Channel j is sin(2π x / T_j) for even j and cos(2π x / T_j) for odd j.

    The phase x / T reaches 4e6 cycles for T = 1e-6, beyond float32's resolution, so it is
    computed in float64 (fractional cycles first) and only the result is cast by the caller.
    """
    x = torch.log10(wavelength.to(torch.float64))
    periods = torch.logspace(math.log10(period_min), math.log10(period_max), d, dtype=torch.float64)
    cycles = x[:, None] / periods[None, :]
    phase = 2.0 * math.pi * (cycles - torch.floor(cycles))
    out = torch.empty_like(phase)
    out[:, 0::2] = torch.sin(phase[:, 0::2])
    out[:, 1::2] = torch.cos(phase[:, 1::2])
    return out


class EncoderBlock(nn.Module):
    """Multi-head cross-attention (queries: pixels, keys/values: label tokens) + Add&Norm +
    feed-forward (GELU) + Add&Norm (Eq. 4–7), post-norm as in the paper's Figure 1."""

    def __init__(self, d: int, n_heads: int, ffn_dim: int):
        super().__init__()
        self.n_heads = n_heads
        self.q = nn.Linear(d, d)
        self.k = nn.Linear(d, d)
        self.v = nn.Linear(d, d)
        self.o = nn.Linear(d, d)
        self.norm1 = nn.LayerNorm(d)
        self.ff1 = nn.Linear(d, ffn_dim)
        self.ff2 = nn.Linear(ffn_dim, d)
        self.norm2 = nn.LayerNorm(d)

    def forward(self, h: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """h: (P, d) (first block: the wavelength encoding, shared by the batch) or (B, P, d);
        tokens: (B, T, d). Returns (B, P, d)."""
        b, t, d = tokens.shape
        nh, dh = self.n_heads, d // self.n_heads
        k = self.k(tokens).view(b, t, nh, dh).transpose(1, 2)  # (B, H, T, dh)
        v = self.v(tokens).view(b, t, nh, dh).transpose(1, 2)
        q = self.q(h)
        q = q.view(-1 if q.dim() == 3 else 1, q.shape[-2], nh, dh).transpose(1, 2)  # (B|1,H,P,dh)
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(dh), dim=-1)  # (B, H, P, T)
        a = (att @ v).transpose(1, 2).reshape(b, -1, d)  # heads concatenated, Eq. 6
        h = self.norm1(h + self.o(a))
        return self.norm2(h + self.ff2(gelu(self.ff1(h))))


class TransformerNet(nn.Module):
    """PhDLspec's spectral model: label tokens as keys/values, wavelength encoding as queries."""

    def __init__(self, config: TransformerConfig):
        super().__init__()
        c = self.config = config
        self.embed = nn.Linear(N_LABELS, c.n_tokens * c.d_model)
        self.blocks = nn.ModuleList(
            EncoderBlock(c.d_model, c.n_heads, c.ffn_dim) for _ in range(c.n_blocks)
        )
        self.head1 = nn.Linear(c.d_model, c.head_dim)
        self.head2 = nn.Linear(c.head_dim, 1)
        nn.init.ones_(self.head2.bias)  # start at the continuum of a normalized spectrum

    def query(self, wavelength: torch.Tensor) -> torch.Tensor:
        """The wavelength encoding (P, d_model) float64 of wavelengths in Å."""
        c = self.config
        return encode_wavelength(wavelength, c.d_model, c.period_min, c.period_max)

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        """Scaled labels (B, 34) -> parameter tokens (B, n_tokens, d_model): FC + GELU."""
        c = self.config
        return gelu(self.embed(x)).view(x.shape[0], c.n_tokens, c.d_model)

    def forward(self, x: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
        """Scaled labels (B, 34), encoding (P, d_model) -> flux (B, P)."""
        tok = self.tokens(x)
        h = query.to(tok.dtype)
        for block in self.blocks:
            h = block(h, tok)
        return self.head2(gelu(self.head1(h))).squeeze(-1)


class MLPNet(nn.Module):
    """Payne-style baseline: scaled labels -> hidden layers (GELU) -> all ``n_pix`` pixels."""

    def __init__(self, config: MLPConfig, n_pix: int):
        super().__init__()
        self.config = config
        sizes = [N_LABELS] + [config.hidden] * config.n_layers
        pairs = zip(sizes[:-1], sizes[1:], strict=True)
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in pairs)
        self.out = nn.Linear(config.hidden, n_pix)
        nn.init.ones_(self.out.bias)  # start at the continuum of a normalized spectrum

    def forward(self, x: torch.Tensor, query: torch.Tensor | None) -> torch.Tensor:
        """Scaled labels (B, 34), pixel indices (P,) or None (all) -> flux (B, P)."""
        for layer in self.hidden:
            x = gelu(layer(x))
        if query is None:
            return self.out(x)
        return x @ self.out.weight[query].T + self.out.bias[query]
