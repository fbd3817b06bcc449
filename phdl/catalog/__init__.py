"""``phdl catalog``: fit, errors and flags over any number of spectra, on dask.distributed.

- :mod:`phdl.catalog.inputs`: what ``--spectra`` names (HDF5 file, LAMOST FITS folder,
  manifest) and its shards;
- :mod:`phdl.catalog.shard`: one shard, the Dask task (written atomically with its sidecar);
- :mod:`phdl.catalog.table4`: the paper's Table 4 columns and units;
- :mod:`phdl.catalog.run`: the cluster, the progress, the merge (:func:`run_catalog`).
"""

from phdl.catalog.inputs import ID_COLUMNS, Inputs, Shard, resolve, shards
from phdl.catalog.run import CatalogRun, SchedulerUnreachable, make_job, run_catalog
from phdl.catalog.shard import Job, ShardMismatch, fit_rows, run_shard
from phdl.catalog.table4 import XFE, columns, table4

__all__ = [
    "ID_COLUMNS",
    "XFE",
    "CatalogRun",
    "Inputs",
    "Job",
    "SchedulerUnreachable",
    "Shard",
    "ShardMismatch",
    "columns",
    "fit_rows",
    "make_job",
    "resolve",
    "run_catalog",
    "run_shard",
    "shards",
    "table4",
]
