"""The one-way doors of DESIGN.md, checked on the import statements themselves."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parent.parent / "app"

# room -> prefixes it must never import
FORBIDDEN = {
    "app/artifact.py": ["app.", "fastapi", "numpy", "pandas", "matplotlib", "starlette", "pydantic"],
    "app/training": ["app.runtime", "app.api", "app.main", "app.config", "fastapi", "starlette"],
    "app/runtime": ["app.training", "app.api", "app.main", "fastapi", "starlette", "pandas", "matplotlib", "prometheus_client"],
    "app/api": ["app.training", "pandas", "matplotlib", "torch"],
    "app/main.py": ["app.training", "pandas", "matplotlib", "torch"],
    "app/config.py": ["app.", "torch", "fastapi"],
    "app/version.py": ["app.", "torch", "fastapi", "pydantic"],
}


def imports_of(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names


def files_of(room: str) -> list[Path]:
    path = APP.parent / room
    return sorted(path.rglob("*.py")) if path.is_dir() else [path]


@pytest.mark.parametrize("room", sorted(FORBIDDEN))
def test_room_keeps_its_doors(room: str) -> None:
    for file in files_of(room):
        for name in imports_of(file):
            for banned in FORBIDDEN[room]:
                assert not (name == banned.rstrip(".") or name.startswith(banned)), (
                    f"{file.relative_to(APP.parent)} imports {name}, which {room} must not"
                )


@pytest.mark.parametrize("command", sorted((APP / "cli").glob("*.py")), ids=lambda p: p.name)
def test_cli_imports_training_only_lazily(command: Path) -> None:
    tree = ast.parse(command.read_text())
    top_level = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    for node in top_level:
        module = node.module if isinstance(node, ast.ImportFrom) else node.names[0].name
        assert not (module or "").startswith(("app.training", "app.api", "app.main", "uvicorn", "torch"))


# rooms that may import only what is listed (and the standard library)
ALLOWED = {
    # plain data shared by the server and offline engines: no model, no web framework
    "app/runtime/frames": ["app.runtime.frames", "app.runtime.errors", "app.artifact", "numpy", "pyarrow"],
    # knows the wire format only: could ship as its own distribution
    "app/client": ["app.client", "httpx", "pandas", "numpy", "pyarrow"],
    # offline forecasting of many series: the runtime's numbers, no web framework
    "app/batch": ["app.batch", "app.runtime", "app.artifact", "numpy", "pyarrow", "torch", "ray", "pyspark",
                  "pandas"],
}


@pytest.mark.parametrize("room", sorted(ALLOWED))
def test_room_imports_only_what_it_may(room: str) -> None:
    import sys

    for file in files_of(room):
        for name in imports_of(file):
            allowed = name.split(".")[0] in sys.stdlib_module_names or any(
                name == prefix or name.startswith(prefix + ".") for prefix in ALLOWED[room]
            )
            assert allowed, f"{file.relative_to(APP.parent)} imports {name}, which {room} must not"


def test_serving_process_never_loads_training_libraries() -> None:
    import subprocess
    import sys

    code = (
        "import sys, app.main, app.cli\n"
        "app.main.create_app\n"
        "bad = [m for m in ('pandas', 'matplotlib', 'app.training', 'pyarrow') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=APP.parent)
