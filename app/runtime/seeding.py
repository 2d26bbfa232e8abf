"""Random draws that belong to a series, not to a request.

Every sampled path takes its noise from a counter-based generator keyed by the
series: ``key = hash(seed, series id)`` (or its position when it has no id),
and the residual drawn at path ``j``, step ``k`` is a pure function of (key, j, k).
So a series gets the same quantiles alone, in any batch, in any order, in any
chunking, on any device and from the offline tools (DESIGN.md: one number,
everywhere). The mixer is SplitMix64's finaliser, in numpy's wrapping uint64
arithmetic: no loop over rows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

Keys = npt.NDArray[np.uint64]
Picks = npt.NDArray[np.int64]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_PATH = np.uint64(0xD1B54A32D192ED03)
_CUTOFF = np.uint64(0x8CB92BA72F3D8DD7)


def _mix(x: Keys) -> Keys:
    """SplitMix64's finaliser: a bijection of uint64 that scatters every input bit."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def series_keys(seed: int, ids: Sequence[str | None]) -> Keys:
    """One key per series from ``seed`` and its id, or its position when it has none."""
    keys = np.empty(len(ids), np.uint64)
    for position, name in enumerate(ids):  # one hash per series, not per row
        text = f"{seed}\x00id\x00{name}" if name is not None else f"{seed}\x00position\x00{position}"
        keys[position] = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
    return keys


def cutoff_keys(keys: Keys, cutoffs: npt.NDArray[np.int64]) -> Keys:
    """Keys of a series' backtest windows: one per (series key, cut-off position)."""
    return _mix(keys ^ (cutoffs.astype(np.uint64) * _CUTOFF))


def path_keys(keys: Keys, num_samples: int) -> Keys:
    """(rows * num_samples,) keys of each row's paths, row-major like repeat_interleave."""
    paths = np.arange(1, num_samples + 1, dtype=np.uint64) * _PATH
    return _mix(np.repeat(keys, num_samples) ^ np.tile(paths, len(keys)))


def draw(paths: Keys, step: int, pool_size: int) -> Picks:
    """Index into a residual pool of ``pool_size`` for each path at ``step``."""
    with np.errstate(over="ignore"):
        counter = np.uint64(step + 1) * _GOLDEN
    return (_mix(paths ^ counter) % np.uint64(pool_size)).astype(np.int64)
