"""The paper's numbers, in one place: every figure of PhDLspec that this book quotes.

The notebooks, tables and figures import these; none of them retypes a paper number. Values are
as the paper states them (its text, Sections 2.3-5, and Tables 1-4), in the paper's units:
Teff in K, logg and abundances in dex, emulation residuals as a fraction of the normalized
continuum (0.0077 is 0.77 %).

Tables 1-3 are CSV files shipped in ``phdl/data/paper/`` and read by :func:`table1`,
:func:`table2` and :func:`table3` (astropy Tables); Table 4, the catalogue's description, is
:data:`TABLE4_COLUMNS`. Sentences that quote the paper for a notebook come from
:func:`emulation_quote` and :func:`recovery_quote`.
"""

from __future__ import annotations

from pathlib import Path

from astropy.table import Table

#: Folder of the paper's Tables 1-3 as CSV (package data).
DATA_DIR: Path = Path(__file__).resolve().parent / "data" / "paper"

# ------------------------------------------------------------------ Section 3.1: the grid
#: Ab initio (ATLAS12 + SYNTHE) spectra in the paper's training library.
GRID_SPECTRA: int = 6222
#: Test spectra: the 9:1 split of the library (Sections 3.2, 3.3).
TEST_SPECTRA: int = 623
#: Teff range of the grid, K; [Fe/H] range, dex (Section 3.1; [X/Fe] ranges: Table 1).
TEFF_RANGE: tuple[float, float] = (3800.0, 8000.0)
FEH_RANGE: tuple[float, float] = (-4.0, 0.5)

# ------------------------------------------------------------ Section 3.2, Figure 3: emulation
#: Standard deviation of the emulation residuals on the test spectra (normalized flux): all
#: pixels, the stars with Teff > 4500 K, and the example star of Figure 3 (its pixels).
EMULATION_SIGMA: dict[str, float] = {"all": 0.0077, "Teff > 4500 K": 0.0046, "example star": 0.002}
#: The example star of Figure 3.
EXAMPLE_STAR: dict[str, float] = {"Teff": 5930.0, "logg": 4.48, "[Fe/H]": 0.0}

# --------------------------------------------------- Section 3.3, Figure 5: test-set recovery
#: Median S/N per pixel of the noise added to the test spectra.
TEST_SNR: float = 100.0
#: σ of fitted − true over the whole test set, for the atmospheric parameters.
RECOVERY_SIGMA: dict[str, float] = {"Teff": 28.03, "logg": 0.11, "[Fe/H]": 0.12}
#: The paper's bin for the abundance σ bands: 4500 < Teff < 7000 K and [Fe/H] > -1.
RECOVERY_BIN: str = "4500-7000 K, [Fe/H] > -1"
#: σ band (low, high) in dex of each fitted [X/Fe] in :data:`RECOVERY_BIN`: < 0.1 dex for 15
#: elements, 0.1-0.2 for Zr Ba La Nd, 0.2-0.3 for "the remaining elements" (of the 25 fitted).
RECOVERY_BANDS: dict[str, tuple[float, float]] = {}
for _els, _band in (
    ("C N Na Mg Al Si Ca Sc Ti V Cr Mn Co Ni Sr", (0.0, 0.1)),
    ("Zr Ba La Nd", (0.1, 0.2)),
    ("O Y Ce Pr Sm Eu", (0.2, 0.3)),
):
    RECOVERY_BANDS.update({f"[{e}/Fe]": _band for e in _els.split()})


def _band_text(band: tuple[float, float]) -> str:
    return f"< {band[1]:g}" if band[0] == 0 else f"{band[0]:g}-{band[1]:g}"


#: The paper's σ per label as it quotes it, for a table column: "28.03" (Teff), "< 0.1",
#: "0.1-0.2", ... (dex for everything but Teff).
RECOVERY_SIGMA_QUOTED: dict[str, str] = {n: f"{v:g}" for n, v in RECOVERY_SIGMA.items()}
RECOVERY_SIGMA_QUOTED.update({n: _band_text(b) for n, b in RECOVERY_BANDS.items()})

# ----------------------------------------------------------------- Section 2.3: quality flags
#: Fraction of stars with all four flags clear, per element, as the paper quotes it for its
#: LAMOST application: "≥ 90 %" for most, "~99 %" for nine, 82-85 % and 60-70 % for the rest.
GOOD_FLAGS_QUOTED: dict[str, str] = {}
for _els, _text in (
    ("C N O Na Al Si Ca V La Nd", "≥ 0.90"),
    ("Mg Sc Ti Cr Mn Co Ni Sr Ba", "~0.99"),
    ("Y Sm Pr", "0.82-0.85"),
    ("Zr Ce Eu", "0.60-0.70"),
):
    GOOD_FLAGS_QUOTED.update({f"[{e}/Fe]": _text for e in _els.split()})

# ------------------------------------------------------------- Figures 4 and 6: the set-ups
#: The labels and wavelength range (Å) of Figure 4's gradient spectra.
FIG4_LABELS: tuple[str, ...] = ("[Co/Fe]", "[La/Fe]")
FIG4_RANGE: tuple[float, float] = (3750.0, 4400.0)
#: What Figure 4 shows, in the paper's words (Section 3.2).
FIG4_FINDING: str = (
    "PhDLspec far closer to Kurucz than the plain Transformer, most of all for cool stars and "
    "weak lines"
)
#: The star of Figure 6's correlation matrix, and its labels: Teff, logg, [Fe/H] and the 25
#: calibrated [X/Fe] in the paper's order.
FIG6_STAR: dict[str, float] = {"Teff": 4800.0, "logg": 2.5, "[Fe/H]": 0.0}
#: What Figure 6 shows (Section 3.4).
FIG6_FINDING: str = (
    "strong among Teff, logg, [Fe/H], C, N, O; moderate for Ca and Mg with Si, [Fe/H] and "
    "logg; negligible among the heavy elements"
)
#: The speed of the emulator against ab initio synthesis, in the paper's words.
SPEED_FINDING: str = "'hundreds of times' faster"

# ------------------------------------------------ Section 4.1, Figure 7: atmospheric parameters
#: Stars common to LAMOST DR10, GALAH DR3 and APOGEE DR17, and those left after the S/N cuts.
COMMON_STARS: int = 3283
ATM_REFERENCE_STARS: int = 440
#: The S/N cuts of the §4.1 sample: LAMOST S/N_g, GALAH snr_c1_iraf and snr_c3_iraf (above).
ATM_MIN_SNR: dict[str, float] = {"snr_g": 40.0, "snr_c1_iraf": 40.0, "snr_c3_iraf": 60.0}
#: Residual scatter against the reference after the spline calibration (K, dex, dex).
ATM_SIGMA_AFTER: dict[str, float] = {"Teff": 26.7, "logg": 0.08, "[Fe/H]": 0.05}
#: Giants for the splines: Teff below this (K) and logg below GIANT_LOGG_MAX (dex).
GIANT_TEFF_MAX: float = 5400.0
GIANT_LOGG_MAX: float = 4.0
#: Spline boundary rules: giants below this Teff take its correction (K); dwarfs outside this
#: Teff range take the correction at the nearer end (K).
GIANT_TEFF_FLOOR: float = 4000.0
DWARF_TEFF_RANGE: tuple[float, float] = (5000.0, 7000.0)

# ----------------------------------------- Section 4.2, Eq. 26-28, Figures 8, 9, 16: abundances
#: Wide-binary cuts (§4.2.1): S/N above, Teff range (K), logg above, and the largest
#: ΔV_los / mad(ΔV_los); systems left in the paper.
BINARY_MIN_SNR: float = 40.0
BINARY_TEFF_RANGE: tuple[float, float] = (4500.0, 7000.0)
BINARY_LOGG_MIN: float = 4.0
BINARY_DVLOS_MAD_MAX: float = 3.0
BINARY_PAIRS: int = 1168
#: The unit of T in Eq. 27 as this book reads Table 2: thousands of K.
TREND_TEFF_UNIT: float = 1000.0
#: M67 members of the logg sample (§4.2.2) and of §4.3.
M67_MEMBERS: int = 179
#: Solar-metallicity giants of the logg sample: count, S/N_g above, logg below, |[Fe/H]| below.
SOLAR_GIANTS: int = 200
SOLAR_GIANT_MIN_SNR: float = 50.0
SOLAR_GIANT_LOGG_MAX: float = 3.2
SOLAR_GIANT_FEH_MAX: float = 0.1
#: The logg-trend comparison keeps [Fe/H] above these (ours, the high-resolution reference).
LOGG_TREND_FEH_MIN: dict[str, float] = {"ours": -0.5, "reference": -0.2}
#: Elements without a logg correction (§4.2.2: "no correction for C and N").
LOGG_TREND_SKIP: tuple[str, ...] = ("C", "N")
#: Solar twins of the zero points: Teff range (K), logg range (dex), |[Fe/H]| below (dex).
TWIN_TEFF_RANGE: tuple[float, float] = (5700.0, 5900.0)
TWIN_LOGG_RANGE: tuple[float, float] = (4.0, 5.0)
TWIN_FEH_MAX: float = 0.1

# ------------------------------------------------ Sections 4.3-4.4, Figures 10-14: validation
#: M67 (§4.3): the star-to-star scatter of [X/Fe] after outlier removal, as bands (dex) by
#: element; the paper's members in common with GALAH DR3 (Figure 11).
M67_SCATTER_BANDS: dict[str, tuple[float, float]] = {
    **dict.fromkeys(("Mg", "Si", "Ca", "Ti", "Cr", "Ni"), (0.03, 0.04)),
    **dict.fromkeys(("C", "N", "Na", "Al", "Sc", "V", "Mn", "Co", "Ba", "Nd"), (0.05, 0.10)),
    **dict.fromkeys(("O", "Sr", "Y", "La", "Eu"), (0.10, 0.15)),
    **dict.fromkeys(("Zr", "Ce", "Pr", "Sm"), (0.20, 0.30)),
}
M67_GALAH_COMMON: int = 77
#: The one element whose M67 [X/Fe] trends with logg (§4.3: "flat ... except for N").
M67_LOGG_TREND_ELEMENTS: tuple[str, ...] = ("N",)
#: §4.4, Figure 12: dispersion of the calibrated labels against APOGEE DR17 (K, dex, dex).
APOGEE_DISPERSION: dict[str, float] = {"Teff": 73.0, "logg": 0.12, "[Fe/H]": 0.07}
#: §4.4: above this Teff (K) APOGEE DR17's Teff runs low and GALAH DR3's [Fe/H] has outliers.
VALIDATION_HOT_TEFF: float = 6000.0

# --------------------------------------------------------- Section 5, Table 4: the catalogue
#: Subgiants in the catalogue, of the parent sample (Xiang & Rix 2022), with LAMOST S/N above.
CATALOG_STARS: int = 116611
CATALOG_PARENT: int = 247104
CATALOG_MIN_SNR: float = 50.0
#: Figure 15: the elements whose [X/Fe] is bimodal (high- and low-α discs), the [Fe/H] (dex)
#: below which the scatter is large, and the Hypatia stars behind its median trend.
CATALOG_BIMODAL_ELEMENTS: tuple[str, ...] = ("Mg", "Ti")
CATALOG_METAL_POOR_FEH: float = -1.0
HYPATIA_STARS: int = 13384
#: The 25 elements of the catalogue (and of Tables 2 and 3), in the paper's order.
CATALOG_ELEMENTS: tuple[str, ...] = tuple(
    "C N O Na Mg Al Si Ca Sc Ti V Cr Mn Co Ni Sr Y Zr Ba La Ce Pr Nd Sm Eu".split()
)
#: The labels of Figure 6: Teff, logg, [Fe/H] and the catalogue's 25 [X/Fe], in that order.
FIG6_LABELS: tuple[str, ...] = ("Teff", "logg", "[Fe/H]") + tuple(
    f"[{e}/Fe]" for e in CATALOG_ELEMENTS
)
#: Table 4: the catalogue's fields and their descriptions; "[X/Fe]" stands for each element.
TABLE4_COLUMNS: tuple[tuple[str, str], ...] = (
    ("RA", "R.A. from the LAMOST catalog (deg; J2000)"),
    ("DEC", "Decl. from the LAMOST catalog (deg; J2000)"),
    ("SOURCEID", "Gaia DR3 source ID"),
    ("SPECID", "LAMOST spectral ID, in format of obsdate-planid-spid-fiberid"),
    ("UQFLAG", "Flag of the repeat visit spectra: 1 means unique star and >1 means repeat visits"),
    ("Teff", "Effective temperature (K)"),
    ("Teff_err", "Uncertainty in Teff (K)"),
    ("logg", "Surface gravity"),
    ("logg_err", "Uncertainty in logg"),
    ("[Fe/H]", "Iron abundance"),
    ("[Fe/H]_err", "Uncertainty in [Fe/H]"),
    ("[X/Fe]", "Element-to-iron abundance after calibration"),
    ("[X/Fe]_err", "Uncertainty in [X/Fe]"),
    ("[X/Fe]_flag", "Flag describing the [X/Fe] estimation quality"),
    ("Chisq", "The χ² of the best spectral fitting"),
    ("[X/Fe]_uncali", "Element-to-iron abundance before calibration"),
)


def table4_names(elements: tuple[str, ...] = CATALOG_ELEMENTS) -> list[str]:
    """Table 4's column names with "[X/Fe]" expanded, element by element, for ``elements``."""
    names = []
    for field, _ in TABLE4_COLUMNS:
        if "[X/Fe]" in field:
            names += [field.replace("X", e) for e in elements]
        else:
            names.append(field)
    return names


# -------------------------------------------------------------------------- Tables 1-3 (CSV)
def _read(name: str) -> Table:
    path = DATA_DIR / name
    if not path.is_file():
        raise FileNotFoundError(f"the paper's table {path} is missing from the phdl package")
    return Table.read(path, format="ascii.csv")


def table1() -> Table:
    """Table 1: the [X/Fe] range of each of the 30 elements of the grid. Columns ``element``,
    ``min``, ``max`` (dex)."""
    return _read("table1_xfe_ranges.csv")


def table2() -> Table:
    """Table 2: per element, the wide-binary Teff-trend coefficients ``a``, ``b``, ``c`` of
    f(Teff) = a T³ + b T² + c T (Eq. 27) and the zero-point constant ``d``.

    The paper does not state the unit of T; kK is the likely reading. The polynomial is not
    small at solar Teff for every element, so compare shapes, not absolute corrections.
    """
    return _read("table2_teff_trends.csv")


def table3() -> Table:
    """Table 3: per element, the absolute zero point (dex) and its ``source``: "Hypatia",
    "GALAH DR3" or "none" (Pr)."""
    return _read("table3_zero_points.csv")


# ---------------------------------------------------------------- sentences for the notebooks
def _pct(x: float) -> str:
    return f"{100 * x:.2f} %"


def emulation_quote() -> str:
    """The paper's emulation accuracy in words (Section 3.2, Figure 3)."""
    s = EMULATION_SIGMA
    return (
        f"σ = {_pct(s['all'])} over all pixels and {_pct(s['Teff > 4500 K'])} for "
        f"Teff > 4500 K, on {TEST_SPECTRA:,} Kurucz test spectra"
    )


def example_star_text() -> str:
    """Figure 3's example star in words."""
    e = EXAMPLE_STAR
    return f"Teff {e['Teff']:.0f} K, logg {e['logg']:.2f}, [Fe/H] {e['[Fe/H]']:.2f}"


def recovery_quote() -> str:
    """The paper's test-set recovery of the atmospheric parameters in words (Section 3.3)."""
    s = RECOVERY_SIGMA
    return (
        f"σ = {s['Teff']:.2f} K (Teff), {s['logg']:.2f} dex (logg), {s['[Fe/H]']:.2f} dex "
        f"([Fe/H]) on {TEST_SPECTRA:,} Kurucz test stars at median S/N {TEST_SNR:.0f}"
    )
