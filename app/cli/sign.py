"""``rnncast sign``: sign a model file (OpenSSF model signing) so that servers with
RNNCAST_TRUSTED_KEYS or RNNCAST_TRUSTED_CERTIFICATES load it."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def add_signing_flags(parser: argparse.ArgumentParser, key_flag: str, required: bool) -> None:
    """The flags ``sign`` and ``train`` share: the key, a certificate and its chain."""
    parser.add_argument(key_flag, type=Path, required=required,
                        help="PEM private key (elliptic curve) to sign the model with")
    parser.add_argument("--certificate", type=Path,
                        help="PEM signing certificate of that key (certificate-based signing)")
    parser.add_argument("--chain", type=Path, action="append", default=[],
                        help="PEM intermediate certificate (repeat for each)")


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``sign`` and its flags."""
    sign = commands.add_parser("sign", help="sign a model file; writes model.pt.sig beside it")
    sign.add_argument("model", type=Path, help="the model.pt to sign")
    add_signing_flags(sign, "--key", required=True)
    sign.set_defaults(run=run)


def sign(model: Path, key: Path, certificate: Path | None, chain: list[Path]) -> int:
    """Sign ``model``; print the signature's path, or why not (exit 2)."""
    from app.runtime.signing import sign_model

    for path in (model, key, certificate, *chain):
        if path is not None and not path.is_file():
            print(f"rnncast sign: no such file: {path}", file=sys.stderr)
            return 2
    try:
        # RNNCAST_SIGNING_KEY_PASSWORD: the key's password, kept off the command line.
        out = sign_model(model, key, certificate=certificate, chain=chain,
                         password=os.environ.get("RNNCAST_SIGNING_KEY_PASSWORD"))
    except Exception as exc:  # noqa: BLE001 - any failure of the signer is reported, not raised
        print(f"rnncast sign: could not sign {model}: {exc}", file=sys.stderr)
        return 2
    print(out)
    return 0


def run(args: argparse.Namespace) -> int:
    """Sign the model named on the command line."""
    return sign(args.model, args.key, args.certificate, args.chain)
