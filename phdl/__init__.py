"""phdl: a reproducible companion to PhDLspec (Transformer emulator of ab initio spectra)."""

__version__ = "0.1.0"
