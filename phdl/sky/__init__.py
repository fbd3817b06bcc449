"""The simulated sky: a survey with known truth, observed through physics the emulator lacks.

LAMOST, Gaia wide binaries, APOGEE, GALAH and Hypatia cannot be had here, so the calibration of
the paper's Section 4 runs on a sky whose every star has known labels. Its "observed" spectra
come from the engine run with the sky's own :class:`~phdl.synth.Physics`, so the emulator makes
systematic errors that depend on Teff and logg, which the calibration must find.

- ``abundances``  [X/Fe]([Fe/H]) trends per element family, with intrinsic scatter
- ``isochrone``   an analytic isochrone-like locus (a stand-in for MIST), vmic(Teff, logg)
- ``population``  field stars (low-α, high-α, halo), survey-common stars, solar giants
- ``binaries``    wide binaries sharing abundances; the paper's binary cuts
- ``cluster``     M67: one pattern, main sequence to red giant branch
- ``references``  reference catalogues as the surveys publish them: DD-Payne-, APOGEE DR17-,
                  GALAH DR3-, Hypatia- and El-Badry-like, with their real column names
- ``samples``     the samples by name and the catalogues that come with each
- ``physics``     the sky's physics presets: "perturbed" (default), "sky-equals-model"
- ``spectra``     observed spectra: engine + noise, cached by hash; LAMOST FITS files
- ``score``       fitted or calibrated labels against the truth
- ``subgiants``   the subgiant catalogue's sample (§5): S/N > 50, repeat visits, Table 4 ids
- ``survey``      chapter 6's sky: the calibration samples, fitted and calibrated
- ``validation``  chapters 7-8: M67 members and common stars, from the sky or real files
- ``catalog_run`` chapter 9: ``phdl catalog`` on the subgiants, first visits, median trends
- ``cli``         ``phdl sky``
"""

from phdl.sky.binaries import binary_cuts, wide_binaries
from phdl.sky.cluster import m67
from phdl.sky.physics import DEFAULT_PRESET, PRESETS, sky_physics
from phdl.sky.population import field_stars, solar_giants, survey_common
from phdl.sky.references import apogee_dr17, dd_payne, el_badry, galah_dr3, hypatia
from phdl.sky.samples import CATALOGS, SAMPLES, references_for, sample
from phdl.sky.score import score, score_stages
from phdl.sky.spectra import observe_sky, write_lamost_files

__all__ = [
    "CATALOGS", "DEFAULT_PRESET", "PRESETS", "SAMPLES", "apogee_dr17", "binary_cuts", "dd_payne",
    "el_badry", "field_stars", "galah_dr3", "hypatia", "m67", "observe_sky", "references_for",
    "sample", "score", "score_stages", "sky_physics", "solar_giants", "survey_common",
    "wide_binaries", "write_lamost_files",
]  # fmt: skip
