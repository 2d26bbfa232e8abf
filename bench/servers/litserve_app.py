"""LitServe serving the same model.pt on the same JSON body, with LitServe's batching.

Runs inside LitServe's own virtual environment (it never imports ``app``):

    python bench/servers/litserve_app.py --model PATH --port 8000 [--max-batch 64 --timeout-ms 2]
"""

# No `from __future__ import annotations`: LitServe reads decode_request's annotation
# at run time to pick the request type.
import argparse
import json
import os
from typing import Any

import litserve as ls
import torch


class ForecastAPI(ls.LitAPI):
    """decode: body -> (rows, window) tensor; predict: one forward; encode: rnncast's shape."""

    def __init__(self, model_path: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.model_path = model_path

    def setup(self, device: str) -> None:
        """Load the TorchScript file on the worker process and warm it up."""
        torch.set_num_threads(int(os.environ.get("BENCH_NUM_THREADS", "1")))
        extra = {"metadata.json": ""}
        self.module = torch.jit.load(self.model_path, map_location="cpu", _extra_files=extra)
        self.module.eval()
        self.window = int(json.loads(extra["metadata.json"])["window"])
        with torch.inference_mode():
            for rows in (1, 2, 8, 1, 64, 1):
                self.module(torch.zeros(rows, self.window))

    def decode_request(self, request: dict[str, Any]) -> torch.Tensor:
        """The last ``window`` values of each posted series."""
        rows = [s["values"][-self.window :] for s in request["series"]]
        return torch.tensor(rows, dtype=torch.float32)

    def batch(self, inputs: list[torch.Tensor]) -> tuple[torch.Tensor, list[int]]:
        """Stack requests' rows; remember how many rows each had."""
        return torch.cat(inputs), [len(x) for x in inputs]

    def predict(self, x: Any) -> Any:
        """One forward pass for the whole batch (or one request when not batching)."""
        if isinstance(x, tuple):
            rows, sizes = x
            with torch.inference_mode():
                return self.module(rows).reshape(-1), sizes
        with torch.inference_mode():
            return self.module(x).reshape(-1)

    def unbatch(self, output: tuple[torch.Tensor, list[int]]) -> list[torch.Tensor]:
        """Split the batch's outputs back per request."""
        values, sizes = output
        return list(torch.split(values, sizes))

    def encode_response(self, output: torch.Tensor) -> dict[str, Any]:
        """rnncast's response shape."""
        return {
            "model": {"name": "litserve", "version": "1"},
            "forecasts": [{"id": None, "value": v} for v in output.tolist()],
        }


def main() -> None:
    """Parse flags and run one API server process and one inference worker on the CPU."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--max-batch", type=int, default=64)
    parser.add_argument("--timeout-ms", type=float, default=2.0)
    args = parser.parse_args()
    api = ForecastAPI(
        args.model,
        max_batch_size=args.max_batch,
        batch_timeout=args.timeout_ms / 1000,
        api_path="/v1/forecast",
    )
    server = ls.LitServer(api, accelerator="cpu", devices=1, workers_per_device=1)
    server.run(
        host="127.0.0.1", port=args.port, num_api_servers=1, log_level="warning",
        generate_client_file=False,
    )


if __name__ == "__main__":
    main()
