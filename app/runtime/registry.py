"""Every model under the model directory: discovery, loading, readiness, reload.

Each model gets a dynamic batcher for one-step requests; all models share one heavy
lane for long jobs (app.runtime.jobs), which gives way to any model's batches. With
a ``verify`` hook (signature verification, app.runtime.signing) nothing that fails
it is loaded, at start or on reload. Reasons shown to clients name model files
relative to the model directory: absolute paths go to the log only.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from app.artifact import MODEL_FILE, ArtifactError, sha256_of
from app.runtime.batcher import Batcher, BatchObserver
from app.runtime.device import resolve_device
from app.runtime.errors import ForecastError, ModelNotFoundError, ModelNotReadyError
from app.runtime.forecaster import Forecaster
from app.runtime.jobs import HeavyLane, LightWork

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "default"
Status = Literal["loading", "ready", "failed"]


@dataclass(frozen=True)
class BatchSettings:
    """How each model's batcher gathers requests."""

    max_batch_rows: int = 256
    max_wait_s: float = 0.0
    inline_on_cpu: bool = False
    """Run a CPU model's one-step batches on the event loop (see app.runtime.batcher)."""
    queue_timeout_s: float = 30.0
    max_queue_rows: int = 100_000
    max_heavy_jobs: int = 4
    """Long jobs running or waiting at once in this process (503 beyond)."""


@dataclass(frozen=True)
class LoadedModel:
    """A ready model: its forecaster, the batcher in front of it, the heavy lane."""

    forecaster: Forecaster
    batcher: Batcher
    lane: HeavyLane


@dataclass(frozen=True)
class ModelState:
    """What the registry knows of one configured model."""

    name: str
    path: Path
    status: Status
    reason: str | None = None
    model: LoadedModel | None = None


def discover(model_dir: Path) -> dict[str, Path]:
    """``<model_dir>/<name>/model.pt`` for each subdirectory, and ``model_dir/model.pt``."""
    found = {p.parent.name: p for p in sorted(model_dir.glob(f"*/{MODEL_FILE}"))}
    if (model_dir / MODEL_FILE).is_file():
        found.setdefault(model_dir.resolve().name, model_dir / MODEL_FILE)
    return found


class ModelRegistry:
    """Loads models in the background and hands out the ready ones by name."""

    def __init__(
        self,
        model_dir: Path,
        device: str = "auto",
        batching: BatchSettings | None = None,
        observer_for: Callable[[str], BatchObserver] | None = None,
        on_loaded: Callable[[Forecaster, Forecaster | None], None] | None = None,
        verify: Callable[[Path], None] | None = None,
        on_reload: Callable[[str, bool], None] | None = None,
    ) -> None:
        self.model_dir = model_dir
        self._device_spec = device
        self._batching = batching or BatchSettings()
        self._observer_for = observer_for
        self._on_loaded = on_loaded
        self._on_reload = on_reload  # (name, succeeded) for every load after a model's first
        self._verify = verify
        self._light = LightWork()
        self.lane = HeavyLane(max_jobs=self._batching.max_heavy_jobs, light=self._light)
        self._lock = threading.Lock()
        self._rejected: dict[str, str] = {}  # name -> sha256 of a file that failed to load
        self._states: dict[str, ModelState] = {
            name: ModelState(name, path, "loading") for name, path in discover(model_dir).items()
        }

    def load_all(self) -> None:
        """Load every discovered model; failures are recorded, logged once, never raised."""
        if not self._states:
            logger.error("no models to serve",
                         extra={"reason": self._nothing_found(), "model_dir": str(self.model_dir)})
        for name, state in list(self._states.items()):
            self._load(name, state.path)

    def _nothing_found(self) -> str:
        """Why there is nothing to serve (the directory's path goes only to the log)."""
        if not self.model_dir.is_dir():
            return "the model directory does not exist"
        return f"no models found in the model directory (expected <name>/{MODEL_FILE})"

    def _public(self, reason: str) -> str:
        """``reason`` with the model directory's absolute path taken out."""
        for root in {str(self.model_dir.resolve()), str(self.model_dir.absolute())}:
            reason = reason.replace(root + "/", "").replace(root, "<model dir>")
        return reason

    def _load(self, name: str, path: Path) -> str | None:
        """Load (or reload) one model; returns why it failed, None once it serves."""
        reloading = self._states[name].status != "loading"
        failure = self._load_file(name, path)
        if reloading and self._on_reload is not None:
            self._on_reload(name, failure is None)
        return failure

    def _load_file(self, name: str, path: Path) -> str | None:
        try:
            if self._verify is not None:
                self._verify(path)
            forecaster = Forecaster.load(path, resolve_device(self._device_spec), name)
        except (ArtifactError, ForecastError, RuntimeError, OSError) as exc:
            reason = str(exc)
            previous = self._states.get(name)
            if previous is not None and previous.model is not None:
                logger.error("model reload failed; the previous version keeps serving",
                             extra={"model": name, "reason": reason})
                return self._public(reason)
            logger.error("model failed to load", extra={"model": name, "reason": reason})
            with self._lock:
                self._states[name] = ModelState(name, path, "failed", self._public(reason))
            return self._public(reason)
        batcher = Batcher(
            forecaster.predict,
            max_batch_rows=self._batching.max_batch_rows,
            max_wait_s=self._batching.max_wait_s,
            # On CUDA a forward pass waits for the device: never on the loop.
            inline=self._batching.inline_on_cpu and forecaster.device.type == "cpu",
            queue_timeout_s=self._batching.queue_timeout_s,
            max_queue_rows=self._batching.max_queue_rows,
            observer=self._observer_for(name) if self._observer_for else None,
            name=name,
            light=self._light,
        )
        with self._lock:
            previous = self._states.get(name)
            self._states[name] = ModelState(name, path, "ready", None, LoadedModel(forecaster, batcher, self.lane))
        if previous is not None and previous.model is not None:
            previous.model.batcher.stop()
        if self._on_loaded is not None:
            self._on_loaded(forecaster, previous.model.forecaster if previous and previous.model else None)
        logger.info("model ready", extra={
            "model": name, "version": forecaster.metadata.version,
            "device": str(forecaster.device), "sha256": forecaster.sha256,
        })
        return None

    def reload(self, name: str) -> str | None:
        """Load ``name`` again from its file; returns why that failed (the previous
        version then keeps serving), or None once the new file serves."""
        state = self.state(name)
        return self._load(name, state.path)

    def reload_changed(self) -> list[str]:
        """Reload the models whose file content changed since they were loaded."""
        reloaded = []
        for state in self.states():
            if state.model is None or not state.path.is_file():
                continue
            try:
                sha = sha256_of(state.path)
            except OSError:
                continue
            # Try each new file content once: a broken file is logged once, not every poll.
            if sha in (state.model.forecaster.sha256, self._rejected.get(state.name)):
                continue
            if self._load(state.name, state.path) is None:
                reloaded.append(state.name)
            else:
                self._rejected[state.name] = sha
        return reloaded

    def states(self) -> list[ModelState]:
        """Every configured model, in name order."""
        with self._lock:
            return [self._states[name] for name in sorted(self._states)]

    def state(self, name: str) -> ModelState:
        """One model's state; ModelNotFoundError if none is configured by that name."""
        with self._lock:
            state = self._states.get(name)
        if state is None:
            known = ", ".join(sorted(self._states)) or "none"
            raise ModelNotFoundError(f"no model named {name!r} (loaded: {known})", field="model")
        return state

    def get(self, name: str | None) -> LoadedModel:
        """The ready model by name (None = the default model)."""
        state = self.state(self.resolve_name(name))
        if state.model is None:
            raise ModelNotReadyError(f"model {state.name!r} is {state.status}: {state.reason or 'loading'}")
        return state.model

    def resolve_name(self, name: str | None) -> str:
        """None means ``default``, or the only model when just one is served; with
        several and none named ``default``, the request has to name one."""
        if name is not None:
            return name
        with self._lock:
            names = sorted(self._states)
        if len(names) == 1 and DEFAULT_MODEL not in names:
            return names[0]
        if len(names) > 1 and DEFAULT_MODEL not in names:
            raise ModelNotFoundError(
                f"the request names no model and none is called {DEFAULT_MODEL!r}; "
                f"set \"model\" to one of: {', '.join(names)}", field="model")
        return DEFAULT_MODEL

    def readiness(self) -> list[str]:
        """Reasons the registry is not ready; an empty list means every model is ready."""
        states = self.states()
        if not states:
            return [self._nothing_found()]
        return [
            f"model {s.name!r} is {s.status}" + (f": {s.reason}" if s.reason else "")
            for s in states
            if s.status != "ready"
        ]

    def close(self) -> None:
        """Stop every batcher after the work already queued, and the heavy lane."""
        for state in self.states():
            if state.model is not None:
                state.model.batcher.stop()
        self.lane.close()
