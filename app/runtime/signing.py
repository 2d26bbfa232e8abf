"""Model signatures with OpenSSF model signing: sign a model file, and verify it against
trusted keys or CA certificates before it is loaded.

A TorchScript file is code, so a checksum beside it only proves it was not damaged, not
who made it. A signature is a Sigstore bundle beside the file, ``model.pt.sig``, over
the file's digest. Both ways work offline:

- an elliptic-curve key pair (PEM): sign with the private key, trust the public key
  (``RNNCAST_TRUSTED_KEYS``);
- a private key with its certificate (and chain): trust the CA certificate it chains
  to (``RNNCAST_TRUSTED_CERTIFICATES``).

With either setting the server loads, at start and on reload, only models whose
signature verifies; without them unsigned models load as before. ``model_signing`` is
imported only when signing or verifying, so a server without trusted keys never
loads it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from app.runtime.errors import SignatureError

if TYPE_CHECKING:
    from model_signing.hashing import Config as HashingConfig

SIGNATURE_SUFFIX = ".sig"


def signature_path(model: Path) -> Path:
    """Where the signature of ``model`` lives: ``model.pt`` -> ``model.pt.sig``."""
    return model.with_name(model.name + SIGNATURE_SUFFIX)


def sign_model(
    model: Path,
    private_key: Path,
    *,
    certificate: Path | None = None,
    chain: Sequence[Path] = (),
    password: str | None = None,
) -> Path:
    """Sign ``model`` with ``private_key`` (and ``certificate``, when given); returns
    the signature's path."""
    from model_signing import signing

    config = signing.Config()
    if certificate is None:
        config.use_elliptic_key_signer(private_key=private_key, password=password)
    else:
        config.use_certificate_signer(
            private_key=private_key, signing_certificate=certificate, certificate_chain=chain
        )
    out = signature_path(model)
    config.sign(model, out)
    return out


class SignatureVerifier:
    """Checks a model file against the trusted keys and CA certificates."""

    def __init__(self, keys: Sequence[Path] = (), certificates: Sequence[Path] = ()) -> None:
        if not keys and not certificates:
            raise ValueError("a SignatureVerifier needs at least one trusted key or certificate")
        self.keys = list(keys)
        self.certificates = list(certificates)

    def __call__(self, model: Path) -> None:
        """Return if the signature verifies against one trusted key or certificate;
        otherwise raise SignatureError saying why."""
        from model_signing import verifying

        signature = signature_path(model)
        if not signature.is_file():
            raise SignatureError(
                f"{model}: not signed ({signature.name} is missing) and trusted keys are "
                "configured; sign it with `rnncast sign`"
            )
        configs = [verifying.Config().use_elliptic_key_verifier(public_key=key) for key in self.keys]
        if self.certificates:
            configs.append(verifying.Config().use_certificate_verifier(certificate_chain=self.certificates))
        reasons = []
        for config in configs:
            try:
                config.set_hashing_config(_hashing()).verify(model, signature)
                return
            except Exception as exc:  # noqa: BLE001 - each failure is a reason, not a crash
                reasons.append(str(exc) or type(exc).__name__)
        raise SignatureError(
            f"{model}: the signature {signature.name} does not verify against any trusted key "
            f"or certificate ({'; '.join(dict.fromkeys(reasons))})"
        )


def _hashing() -> HashingConfig:
    """The hashing model_signing's signer uses by default (one file, sha256)."""
    from model_signing import hashing

    return hashing.Config().use_file_serialization()


def verifier_for(keys: Sequence[Path], certificates: Sequence[Path]) -> SignatureVerifier | None:
    """The verifier the settings ask for, or None when nothing is trusted explicitly."""
    return SignatureVerifier(keys, certificates) if keys or certificates else None
