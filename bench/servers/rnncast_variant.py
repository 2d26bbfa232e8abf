"""``rnncast serve`` with a candidate hot-path change patched in at start-up: evidence
for a change before it is made in app/.

    python -m bench.servers.rnncast_variant --patch yield-before-batch -- serve

Patches still open:

- ``yield-before-batch``: the batcher yields once to the event loop before it takes
  the first batch after being idle, so requests already readable on other
  connections are parsed and join that forward pass.

Earlier patches (async dependencies, cheap request ids, forecast routes without
FastAPI's routing, gc.freeze after loading) measured well and are now in app/; their
figures stay in bench/RESULTS.md's ablation table from the run that measured them.
Only for one worker process (uvicorn's workers would re-import unpatched modules).
"""

import argparse
import sys

PATCHES = ("yield-before-batch",)


def _patch_yield_before_batch() -> None:
    import asyncio

    from app.runtime.batcher import Batcher

    original = Batcher._drain  # type: ignore[attr-defined]

    async def _drain(self: Batcher) -> None:
        await asyncio.sleep(0)
        await original(self)

    Batcher._drain = _drain  # type: ignore[attr-defined]


def main() -> int:
    """Apply the chosen patches, then hand the rest of the command line to rnncast."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patch", action="append", choices=PATCHES, default=[])
    parser.add_argument("rnncast_args", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    if "yield-before-batch" in args.patch:
        _patch_yield_before_batch()
    from app.cli import main as rnncast_main

    rest = [a for a in args.rnncast_args if a != "--"]
    return rnncast_main(rest)


if __name__ == "__main__":
    sys.exit(main())
