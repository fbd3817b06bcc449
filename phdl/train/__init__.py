"""Training the emulators (Section 3.2): losses (Eq. 8–10), segments, checkpoints, resume.

``train(grid_path, out_path, config)`` is the entry point; ``preset(profile, mlp=, plain=)``
gives the tiny / quick / full configurations.
"""

from phdl.train.config import PRESETS, TrainConfig, preset
from phdl.train.data import gradient_sigma, gradient_weights, label_scaling, split_indices
from phdl.train.loop import CheckpointMismatch, resolve_config, train
from phdl.train.loss import batch_loss, evaluate
from phdl.train.segment import HISTORY_KEYS

__all__ = [
    "HISTORY_KEYS",
    "CheckpointMismatch",
    "PRESETS",
    "TrainConfig",
    "batch_loss",
    "evaluate",
    "gradient_sigma",
    "gradient_weights",
    "label_scaling",
    "preset",
    "resolve_config",
    "split_indices",
    "train",
]
