"""TorchServe handler: the same model.pt and JSON body as rnncast, TorchServe's batching.

Runs inside TorchServe's own virtual environment (it never imports ``app``). TorchServe
decodes each ``application/json`` body and hands this module up to ``batchSize``
requests at once; their rows go through one forward pass.
"""

from __future__ import annotations

import json
import os
from typing import Any

import torch

_state: dict[str, Any] = {}


def _initialize(context: Any) -> None:
    """Load the TorchScript file named in the archive's manifest and warm it up."""
    torch.set_num_threads(int(os.environ.get("BENCH_NUM_THREADS", "1")))
    path = os.path.join(
        context.system_properties["model_dir"], context.manifest["model"]["serializedFile"]
    )
    extra = {"metadata.json": ""}
    module = torch.jit.load(path, map_location="cpu", _extra_files=extra).eval()
    window = int(json.loads(extra["metadata.json"])["window"])
    with torch.inference_mode():
        for rows in (1, 2, 8, 1, 64, 1):
            module(torch.zeros(rows, window))
    _state.update(module=module, window=window)


def _rows(body: Any, window: int) -> list[list[float]]:
    """The last ``window`` values of each posted series."""
    if isinstance(body, (bytes, bytearray)):
        body = json.loads(body)
    return [list(map(float, s["values"][-window:])) for s in body["series"]]


def handle(data: list[dict[str, Any]] | None, context: Any) -> list[str] | None:
    """TorchServe's entry point: ``data`` is the batch of requests (None at load time)."""
    if not _state:
        _initialize(context)
    if data is None:
        return None
    window = _state["window"]
    per_request = [_rows(item.get("body") or item.get("data"), window) for item in data]
    flat = [row for rows in per_request for row in rows]
    with torch.inference_mode():
        values = _state["module"](torch.tensor(flat, dtype=torch.float32)).reshape(-1).tolist()
    answers, start = [], 0
    for idx, rows in enumerate(per_request):
        part = values[start : start + len(rows)]
        start += len(rows)
        context.set_response_content_type(idx, "application/json")
        answers.append(json.dumps({
            "model": {"name": "torchserve", "version": "1"},
            "forecasts": [{"id": None, "value": v} for v in part],
        }))
    return answers
