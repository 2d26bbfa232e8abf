"""The default recipe on real series under the benchmark's protocol (slow tier).

Uses the development series beside the repository (``../shared/realdata`` as CI lays
them out, or one level further up beside a worktree); skipped with the reason when absent.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.protocol import load_cases
from bench.realdata import train_one

REPO = Path(__file__).resolve().parents[2]
DATA = next((p for p in (REPO.parent / "shared" / "realdata", REPO.parent.parent / "shared" / "realdata")
             if p.is_dir()), REPO.parent / "shared" / "realdata")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not DATA.is_dir(), reason=f"no development series at {DATA}"),
]


@pytest.mark.parametrize("name", ["airpassengers", "heartrate"])
def test_one_step_beats_the_seasonal_naive_and_intervals_cover(name: str, tmp_path: Path) -> None:
    (case,) = load_cases(DATA, {}, [name])
    result = train_one(case, seed=0, root=tmp_path)
    naive = case.mase("a", case.y[case.n_train - case.season : len(case.y) - case.season])
    assert result["mase"]["a"] <= 1.1 * naive, (result["mase"], naive)
    assert 0.5 <= sum(result["inside_a"]) / len(result["inside_a"]) <= 1.0
