"""The multi-process exposition reads other workers' sample files while they are
created and after they died (app/api/metrics.py). Real sample files written by
prometheus_client's own MmapedDict, in a temporary PROMETHEUS_MULTIPROC_DIR."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.parser import text_string_to_metric_families

from app.api import metrics


def _write(directory: Path, file: str, metric: str, value: float) -> None:
    sample = metric + "_total" if file.startswith("counter") else metric
    samples = MmapedDict(str(directory / file))
    samples.write_value(json.dumps([metric, sample, {}, "help"], sort_keys=True), value, 0.0)
    samples.close()


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _values(text: bytes) -> dict[str, float]:
    return {s.name: s.value for f in text_string_to_metric_families(text.decode()) for s in f.samples}


@pytest.fixture
def multiproc_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(metrics.MULTIPROC_ENV, str(tmp_path))
    return tmp_path


def test_a_file_not_yet_sized_is_skipped(multiproc_dir: Path) -> None:
    """A worker's file between its creation and its sizing is empty; the library's own
    collector fails the whole scrape on it (struct.error, a 500)."""
    _write(multiproc_dir, "counter_101.db", "rnncast_demo", 3)
    (multiproc_dir / "counter_102.db").touch()
    text, _ = metrics.render(ready=True)
    assert _values(text)["rnncast_demo_total"] == 3


def test_a_dead_workers_live_gauge_is_dropped_and_its_counts_kept(multiproc_dir: Path) -> None:
    dead = _dead_pid()
    _write(multiproc_dir, f"counter_{dead}.db", "rnncast_demo", 2)
    _write(multiproc_dir, "counter_103.db", "rnncast_demo", 5)
    _write(multiproc_dir, f"gauge_livesum_{dead}.db", "rnncast_demo_in_flight", 7)
    _write(multiproc_dir, f"gauge_livesum_{os.getpid()}.db", "rnncast_demo_in_flight", 1)
    values = _values(metrics.render(ready=True)[0])
    assert values["rnncast_demo_total"] == 7
    assert values["rnncast_demo_in_flight"] == 1
