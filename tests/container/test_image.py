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


def test_image_is_at_most_one_gigabyte() -> None:
    size = int(podman("image", "inspect", "--format", "{{.Size}}", image_under_test()).stdout)
    print(f"\nimage size: {size / 1e6:.0f} MB")
    assert size <= MAX_BYTES


def test_final_stage_holds_no_build_tools_tests_caches_or_bench() -> None:
    # As root, to see into every directory.
    result = podman("run", "--rm", "--network", "none", "--read-only", "--user", "0:0", "--entrypoint", "python",
                    image_under_test(), "-c", _LEFTOVERS)
    assert json.loads(result.stdout) == []


# Run inside the image: the stripped compiled libraries still load and compute.
_LIBRARIES = """
import io, json, numpy as np, pyarrow.csv, pyarrow.parquet as pq, torch
import cryptography.hazmat.primitives.asymmetric.ec, model_signing, orjson, pydantic_core, uvloop
table = pyarrow.csv.read_csv(io.BytesIO(b"unique_id,ds,y\\na,2026-01-01,1.5\\n"))
parquet = io.BytesIO()
pq.write_table(table, parquet)
assert pq.read_table(io.BytesIO(parquet.getvalue())).to_pylist() == table.to_pylist()
files = {"metadata.json": ""}
model = torch.jit.load("/srv/rnncast/models/default/model.pt", _extra_files=files)
window = json.loads(files["metadata.json"])["window"]
print(float(np.linalg.norm(np.full(4, 0.5))), tuple(model(torch.ones(2, window)).shape))
"""


def test_compiled_libraries_still_load_after_stripping() -> None:
    result = podman("run", "--rm", "--network", "none", "--read-only", "--entrypoint", "python",
                    image_under_test(), "-c", _LIBRARIES)
    assert result.stdout.split()[0] == "1.0" and result.stdout.strip().endswith("(2,)")


def test_the_virtual_environment_is_one_layer() -> None:
    history = json.loads(podman("history", "--no-trunc", "--format", "json", image_under_test()).stdout)
    venv = [layer["size"] for layer in history if "/opt/venv" in layer["CreatedBy"] and layer["size"]]
    assert len(venv) == 1, [layer["CreatedBy"] for layer in history]
    assert venv[0] > 300_000_000, "the one layer holds torch"
