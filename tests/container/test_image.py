"""The built image: its size, and that its final stage ships what serving needs only."""

from __future__ import annotations

import json

import pytest

from tests.container.engine import image_under_test, podman

pytestmark = pytest.mark.container

MAX_BYTES = 1_000_000_000  # with the CPU build of torch

# Run inside the image: everything the final stage must not hold, as a JSON list.
_LEFTOVERS = """
import importlib.util, json, pathlib, shutil, sysconfig
site = pathlib.Path(sysconfig.get_path("purelib"))
found = [str(p) for p in site.rglob("tests") if p.is_dir()]
found += [str(p) for p in (site / "torch/include", site / "torch/test", pathlib.Path("/src"),
                           pathlib.Path("/root/.cache"), pathlib.Path("/home/rnncast/.cache")) if p.exists()]
found += [str(p) for p in pathlib.Path("/srv/rnncast").rglob("*") if p.is_file()
          and p.name not in ("model.pt", "model.pt.sha256")]
found += [f"module {m}" for m in ("pip", "bench", "tests") if importlib.util.find_spec(m)]
found += [f"command {c}" for c in ("pip", "gcc", "cc", "make") if shutil.which(c)]
print(json.dumps(found))
"""


@pytest.mark.xfail(
    strict=True,
    reason="issue #11's 1.0 GB target is missed since pyarrow (frames) and model-signing joined the "
    "server's dependencies: 1.10 GB measured; strict, so this fails once the image fits again",
)
def test_image_is_at_most_one_gigabyte() -> None:
    size = int(podman("image", "inspect", "--format", "{{.Size}}", image_under_test()).stdout)
    print(f"\nimage size: {size / 1e6:.0f} MB")
    assert size <= MAX_BYTES


def test_final_stage_holds_no_build_tools_tests_caches_or_bench() -> None:
    # As root, to see into every directory.
    result = podman("run", "--rm", "--network", "none", "--read-only", "--user", "0:0", "--entrypoint", "python",
                    image_under_test(), "-c", _LEFTOVERS)
    assert json.loads(result.stdout) == []


def test_the_virtual_environment_is_one_layer() -> None:
    history = json.loads(podman("history", "--no-trunc", "--format", "json", image_under_test()).stdout)
    venv = [layer["size"] for layer in history if "/opt/venv" in layer["CreatedBy"] and layer["size"]]
    assert len(venv) == 1, [layer["CreatedBy"] for layer in history]
    assert venv[0] > 300_000_000, "the one layer holds torch"
