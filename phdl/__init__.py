"""phdl: a reproducible companion to PhDLspec (Transformer emulator of ab initio spectra).

The package, in the order the data flows (labels -> engine -> grid -> emulator -> fit -> book):

- ``labels``      the 34 labels, their Table 1 ranges, fitting groups; label scaling (Eq. 25)
- ``synth/``      the ab initio engine: atmosphere (grey, or ATLAS9's: ``synth.atlas9``),
                  partition functions (``synth.partition``), continuum and line opacities, line
                  lists and their readers (CSV, VALD, gfall, MOOG), radiative transfer,
                  instrument (LSF, pixels, normalization, Eq. 22–24); exact gradient spectra;
                  the solar check (``synth.solar``)
- ``grid``        sample labels, run the engine, write the training grid file
- ``gridfile``    the grid file: its contract, the validating reader, the content hash
- ``emulator/``   the Transformer (Eq. 1–7) and the Payne-style MLP; ``SpectralModel``, what a
                  model must offer the fit
- ``train/``      training: the loss L = L_spec + L_grad (Eq. 8–10), segments, checkpoints
- ``evaluate``    how well an emulator reproduces spectra and gradient spectra
- ``observe``     simulated observations: a S/N per star and Gaussian noise
- ``fit/``        χ² (Eq. 15, ``fit.spectra``), batched CMA-ES (``fit.cmaes``), the two-stage
                  strategy (``fit.fitting``), finite-difference Jacobians (Eq. 20, ``fit.linear``),
                  the fast strategy: Levenberg–Marquardt on the model's Jacobian (``fit.fast``)
- ``uncertainty`` covariance and errors (Eq. 16–21), quality flags from χ² scans
- ``screen``      the same flags at catalogue cost: full scans only where a coarse one needs them
- ``sky/``        the simulated sky: populations, wide binaries, M67, reference catalogues with
                  the surveys' columns, the subgiants of §5 with repeat visits and Table 4's
                  identifiers (``sky.subgiants``), observed through perturbed physics; scores vs
                  the truth; what chapters 07–08 compare (``sky.validation``: M67, the
                  survey-common stars) and chapter 09's catalogue run (``sky.catalog_run``),
                  from the sky or from real files
- ``calibrate/``  §4.1-4.2: atmospheric splines, f(Teff) from wide binaries (emcee), f(logg),
                  zero points; the chain in order; one saveable ``Calibration``; ``apply``
- ``catalog/``    ``phdl catalog``: fit, errors and flags over shards on dask.distributed; the
                  Table 4 file, optionally calibrated
- ``validate/``   §4.3–4.4 and §5's checks, as numbers and tables: M67's star-to-star scatter
                  and ours vs GALAH on its members (``validate.cluster``), ours vs the surveys
                  and whose error the dispersion is (``validate.surveys``), the high-/low-α
                  discs by 1-D Gaussian mixtures (``validate.bimodality``), repeat visits vs the
                  quoted errors (``validate.repeats``)
- ``recovery``    how well fitted labels recover the truth; the Cramér–Rao bound
- ``strategies``  fitting strategies side by side: σ, bias, χ² and cost
- ``io/``         real data: LAMOST spectra, normalized as the grid (Eq. 22–24, ``io.lamost``);
                  the LAMOST LRS catalogue → Table 4's identifiers and a ``phdl catalog``
                  manifest (``io.lamost_catalog``); survey catalogues (DD-Payne, APOGEE, GALAH,
                  Hypatia) read into phdl's names (``io.surveys``); open-cluster membership
                  lists (``io.members``); El-Badry et al. wide binaries (``io.binaries``)
- ``paper``       the paper's numbers the book quotes; Tables 1–3 (Table 2: the Eq. 27 coefficients)
- ``plots/``      one function per paper figure
- ``tables``      astropy tables shown whole in the book
- ``provenance``  under every figure, what made it
- ``cache``       which chapters must run again
- ``booknb``      executed chapters as readers meet them: one line per progress bar, parameters
                  shown once
- ``runner``      papermill execution of the chapters and the book build
- ``atomic``      atomic file writes (a temporary name, then rename)
- ``cli``         ``phdl grid | train | fit | catalog | sky | book``
"""

__version__ = "0.1.0"
