"""A verified artifact on its device, warmed up, with batched forecast methods.

Inputs and outputs are numpy float32 arrays; everything in between stays in torch
on the model's device, one forward pass per step for all rows at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch

from app.artifact import ArtifactMetadata, load_artifact
from app.runtime import seeding
from app.runtime.errors import InferenceError
from app.runtime.jobs import Job, run_to_end

Array = npt.NDArray[np.float32]
# noise(step, windows): what to add to the forecasts made from ``windows`` at ``step``
Noise = Callable[[int, torch.Tensor], torch.Tensor]

# Rows per forward pass in long jobs (see _roll_chunks).
CHUNK_ROWS = 16_384
ROW_ALIGN = 8


@contextmanager
def _torch_errors() -> Iterator[None]:
    """Translate torch's failures into the runtime's InferenceError."""
    try:
        with torch.inference_mode():
            yield
    except RuntimeError as exc:
        raise InferenceError(f"model computation failed: {exc}") from exc


class Forecaster:
    """One loaded model. Build it with :meth:`load`; it is ready when returned."""

    def __init__(
        self,
        name: str,
        module: torch.jit.ScriptModule,
        metadata: ArtifactMetadata,
        sha256: str,
        path: Path,
        device: torch.device,
    ) -> None:
        self.name = name
        self.metadata = metadata
        self.sha256 = sha256
        self.path = path
        self.device = device
        self.window = metadata.window
        self._module = module
        self._residuals = torch.tensor(
            metadata.calibration.residuals or [0.0], dtype=torch.float32, device=device
        )

    @classmethod
    def load(cls, path: Path, device: torch.device, name: str) -> Forecaster:
        """Verify and load ``path`` onto ``device`` and warm it up."""
        artifact = load_artifact(path, map_location=device)
        forecaster = cls(
            name, artifact.module, artifact.metadata, artifact.sha256, path, device
        )
        forecaster.warm_up()
        return forecaster

    def warm_up(self) -> None:
        """Run the shapes serving will use, so the first request pays no setup cost."""
        # TorchScript's profiling executor optimises a graph after a few runs.
        for rows in (1, 2, 8, 1, 64, 1):
            self.predict(np.zeros((rows, self.window), dtype=np.float32))
        self.rolling(np.zeros((2, self.window), dtype=np.float32), 3)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        """The module on a fresh copy of ``x`` with its rows padded to a multiple of ROW_ALIGN.

        CPU GEMM kernels treat a ragged tail of rows with other micro-kernels, so a
        row's forecast could differ in the last bit depending on how many rows shared
        its batch. Padding makes every row take the same path: a series gets the same
        numbers alone or batched with others (the end-to-end tests check it). Some
        kernels (matrix-vector products on AMD CPUs) also round a row by its memory
        alignment, so ``x`` is always copied, never passed as a view of a larger buffer.
        """
        rows = x.shape[0]
        pad = -rows % ROW_ALIGN
        x = torch.cat([x, x.new_zeros(pad, x.shape[1])])
        return self._module(x).reshape(-1)[:rows]  # type: ignore[no-any-return]

    def predict(self, windows: Array) -> Array:
        """One-step forecasts: (rows, window) -> (rows,)."""
        with _torch_errors():
            x = torch.from_numpy(windows).to(self.device)
            return self._forward(x).cpu().numpy()

    def _roll(
        self, start: torch.Tensor, horizon: int, noise: Noise | None
    ) -> Job[torch.Tensor]:
        """Step k feeds the last ``window`` values of history + forecasts so far, plus
        ``noise(k, window)`` when given; yields after every forward pass (a chunk of
        :mod:`app.runtime.jobs`)."""
        rows, window = start.shape
        buffer = torch.empty(rows, window + horizon, device=self.device)
        buffer[:, :window] = start
        for step in range(horizon):
            y = self._forward(buffer[:, step : step + window])
            if noise is not None:
                y = y + noise(step, buffer[:, step : step + window])
            buffer[:, window + step] = y
            yield
        return buffer[:, window:]

    def residual_scale(self, windows: torch.Tensor) -> torch.Tensor:
        """What a calibration residual is multiplied by for each window: the module's
        ``noise_scale`` when residuals are in ``window_scale`` units, else 1."""
        if self.metadata.calibration.unit == "window_scale":
            return self._module.noise_scale(windows)  # type: ignore[no-any-return]
        return windows.new_ones(windows.shape[0])

    def window_scales(self, windows: Array) -> Array:
        """:meth:`residual_scale` of each (rows, window) row, as numpy."""
        with _torch_errors():
            return self.residual_scale(torch.from_numpy(windows).to(self.device)).cpu().numpy()

    def _noise(self, paths: seeding.Keys) -> Noise:
        """Calibration residuals for each of ``paths`` at a step, drawn by its key."""
        pool = self._residuals

        def noise(step: int, windows: torch.Tensor) -> torch.Tensor:
            drawn = pool[torch.from_numpy(seeding.draw(paths, step, len(pool))).to(self.device)]
            return drawn * self.residual_scale(windows)

        return noise

    def _roll_chunks(self, start: torch.Tensor, horizon: int, paths: seeding.Keys | None) -> Job[Array]:
        """:meth:`_roll` over CHUNK_ROWS rows at a time, which bounds memory to about
        CHUNK_ROWS * (window + horizon) floats whatever the request size; with ``paths``,
        row i adds the noise its key draws."""
        parts = []
        for i in range(0, len(start), CHUNK_ROWS):
            noise = None if paths is None else self._noise(paths[i : i + CHUNK_ROWS])
            with _torch_errors():
                part = yield from self._roll(start[i : i + CHUNK_ROWS], horizon, noise)
            parts.append(part.cpu())
        return torch.cat(parts).numpy()

    def rolling_job(self, histories: Array, horizon: int) -> Job[Array]:
        """Recursive forecasts, chunked: (rows, window) -> (rows, horizon)."""
        start = torch.from_numpy(histories).to(self.device)
        return (yield from self._roll_chunks(start, horizon, None))

    def rolling(self, histories: Array, horizon: int) -> Array:
        """Recursive forecasts: (rows, window) -> (rows, horizon)."""
        return run_to_end(self.rolling_job(histories, horizon))

    def sample_paths_job(
        self, histories: Array, horizon: int, num_samples: int, keys: seeding.Keys
    ) -> Job[Array]:
        """Simulated paths adding resampled calibration residuals at every step, chunked.

        Residuals in ``window_scale`` units are multiplied by the module's
        ``noise_scale`` of each path's current window. Returns (rows, num_samples,
        horizon). Row i's draws come from ``keys[i]`` alone (see
        :mod:`app.runtime.seeding`), so a series gets the same paths whatever else
        shares its batch, and on any device.
        """
        start = torch.from_numpy(histories).to(self.device).repeat_interleave(num_samples, dim=0)
        paths = yield from self._roll_chunks(start, horizon, seeding.path_keys(keys, num_samples))
        return paths.reshape(len(histories), num_samples, horizon)

    def sample_paths(self, histories: Array, horizon: int, num_samples: int, keys: seeding.Keys) -> Array:
        """:meth:`sample_paths_job` run straight through."""
        return run_to_end(self.sample_paths_job(histories, horizon, num_samples, keys))

    def walk_forward_job(self, values: Array) -> Job[Array]:
        """In-sample one-step forecasts of values[window:], each from the actual values
        before it, in batched passes of CHUNK_ROWS windows: (n,) -> (n - window,)."""
        if len(values) <= self.window:
            return np.empty(0, dtype=np.float32)
        windows = torch.from_numpy(values).to(self.device)[:-1].unfold(0, self.window, 1)
        parts = []
        for i in range(0, len(windows), CHUNK_ROWS):
            with _torch_errors():
                parts.append(self._forward(windows[i : i + CHUNK_ROWS]).cpu())
            yield
        return torch.cat(parts).numpy()

    def walk_forward(self, values: Array) -> Array:
        """:meth:`walk_forward_job` run straight through."""
        return run_to_end(self.walk_forward_job(values))
