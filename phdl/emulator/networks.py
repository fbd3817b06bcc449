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


_C = math.sqrt(2.0 / math.pi)


def gelu_and_slope(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """GELU (tanh form) and its derivative, from the same tanh: for forward-mode tangents."""
    t = torch.tanh(_C * (z + 0.044715 * z**3))
    slope = 0.5 * (1.0 + t) + 0.5 * z * (1.0 - t * t) * _C * (1.0 + 3 * 0.044715 * z * z)
    return 0.5 * z * (1.0 + t), slope


def layer_norm_jvp(
    norm: nn.LayerNorm, u: torch.Tensor, du: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """LayerNorm of u (..., d) and its tangent for tangents du (k, ..., d):
    dû = (du - mean(du) - û mean(û du)) / s, with û = (u - mean u) / s, s = sqrt(var u + eps)."""
    mu = u.mean(-1, keepdim=True)
    rstd = torch.rsqrt(u.var(-1, unbiased=False, keepdim=True) + norm.eps)
    uhat = (u - mu) * rstd
    dhat = rstd * (du - du.mean(-1, keepdim=True) - uhat * (uhat * du).mean(-1, keepdim=True))
    return uhat * norm.weight + norm.bias, dhat * norm.weight


def _linear_t(layer: nn.Linear, dx: torch.Tensor) -> torch.Tensor:
    """Tangent of a linear layer: dx W^T (the bias drops out)."""
    return dx @ layer.weight.T


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

    def forward_jvp(
        self, h: torch.Tensor, dh: torch.Tensor | None, tok: torch.Tensor, dtok: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`forward` and its forward-mode tangent, written out by hand.

        h: (P, d) or (B, P, d); dh: its tangents (k, B, P, d), or None where h does not depend
        on the labels (the wavelength encoding); tok (B, T, d), dtok (k, B, T, d).
        Returns (B, P, d) and (k, B, P, d). Every derivative of a pointwise function (softmax,
        GELU, LayerNorm) is computed once per (B, P) and shared by the k tangents.
        """
        b, _, d = tok.shape
        nh, e = self.n_heads, d // self.n_heads
        n_t = dtok.shape[0]
        scale = 1.0 / math.sqrt(e)

        def heads(x: torch.Tensor) -> torch.Tensor:  # (..., B|1, L, d) -> (..., B|1, H, L, e)
            return x.reshape(*x.shape[:-1], nh, e).transpose(-2, -3)

        k_, v_ = heads(self.k(tok)), heads(self.v(tok))  # (B, H, T, e)
        dk, dv = heads(_linear_t(self.k, dtok)), heads(_linear_t(self.v, dtok))  # (k,B,H,T,e)
        q = self.q(h)
        q = heads(q if q.dim() == 3 else q[None])  # (B|1, H, P, e)
        att = torch.softmax(q @ k_.transpose(-1, -2) * scale, dim=-1)  # (B, H, P, T)
        ds = q @ dk.transpose(-1, -2) * scale  # (k, B, H, P, T)
        if dh is not None:
            ds = ds + heads(_linear_t(self.q, dh)) @ k_.transpose(-1, -2) * scale
        da = att * (ds - (att * ds).sum(-1, keepdim=True))  # softmax tangent
        o = att @ v_  # (B, H, P, e)
        do = da @ v_ + att @ dv  # (k, B, H, P, e)
        o = o.transpose(1, 2).reshape(b, -1, d)
        do = do.transpose(2, 3).reshape(n_t, b, -1, d)
        u = h + self.o(o)
        du = _linear_t(self.o, do) if dh is None else dh + _linear_t(self.o, do)
        h1, dh1 = layer_norm_jvp(self.norm1, u, du)
        g, slope = gelu_and_slope(self.ff1(h1))
        df = _linear_t(self.ff2, slope * _linear_t(self.ff1, dh1))
        return layer_norm_jvp(self.norm2, h1 + self.ff2(g), dh1 + df)


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

    def input_layer(self) -> nn.Linear:
        """The layer that takes the scaled labels (the label embedding)."""
        return self.embed

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

    def forward_jvp(
        self, x: torch.Tensor, query: torch.Tensor, dx: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Flux (B, P) and its directional derivatives (k, B, P) along the k scaled-label
        tangents ``dx`` (k, B, 34): hand-written forward mode (checked against torch.func.jvp
        and finite differences in the tests), several times cheaper than vmap(jvp)."""
        c = self.config
        z, slope = gelu_and_slope(self.embed(x))
        tok = z.view(x.shape[0], c.n_tokens, c.d_model)
        dtok = (slope * _linear_t(self.embed, dx)).view(*dx.shape[:2], c.n_tokens, c.d_model)
        h, dh = query.to(tok.dtype), None
        for block in self.blocks:
            h, dh = block.forward_jvp(h, dh, tok, dtok)
        g, slope = gelu_and_slope(self.head1(h))
        out = self.head2(g).squeeze(-1)
        return out, _linear_t(self.head2, slope * _linear_t(self.head1, dh)).squeeze(-1)


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

    def input_layer(self) -> nn.Linear:
        """The layer that takes the scaled labels."""
        return self.hidden[0]

    def forward(self, x: torch.Tensor, query: torch.Tensor | None) -> torch.Tensor:
        """Scaled labels (B, 34), pixel indices (P,) or None (all) -> flux (B, P)."""
        for layer in self.hidden:
            x = gelu(layer(x))
        if query is None:
            return self.out(x)
        return x @ self.out.weight[query].T + self.out.bias[query]

    def forward_jvp(
        self, x: torch.Tensor, query: torch.Tensor | None, dx: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Flux (B, P) and its directional derivatives (k, B, P) along tangents dx (k, B, 34)."""
        for layer in self.hidden:
            x, slope = gelu_and_slope(layer(x))
            dx = slope * _linear_t(layer, dx)
        w = self.out.weight if query is None else self.out.weight[query]
        b = self.out.bias if query is None else self.out.bias[query]
        return x @ w.T + b, dx @ w.T
