"""Real data formats: LAMOST low-resolution spectra (FITS) read into spectra to fit
(``lamost``), and survey catalogues read into phdl's column names (``surveys``)."""

from phdl.io.lamost import LamostWarning, is_fits, normalize, read_lamost, read_lamost_file

__all__ = ["LamostWarning", "is_fits", "normalize", "read_lamost", "read_lamost_file"]
