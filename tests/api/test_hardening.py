"""The smaller hardening fixes (issue 10, point 10) and model signatures, in-process."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Generator
from pathlib import Path

import numpy as np
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from app.config import Settings
from app.main import create_app
from app.runtime import service
from app.runtime.errors import InvalidSeriesError
from app.runtime.jobs import run_to_end
from app.runtime.signing import SignatureVerifier, sign_model, signature_path
from app.training.pipeline import TrainOptions, train_and_export
from tests.factories import make_series

GOOD = make_series(100)


def ready_client(settings: Settings) -> TestClient:
    client = TestClient(create_app(settings))
    client.__enter__()
    for _ in range(600):
        if client.get("/health/ready").status_code != 503 or "loading" not in client.get("/health/ready").text:
            break
    return client


def write_key(path: Path) -> Path:
    key = ec.generate_private_key(ec.SECP256R1())
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    public = path.with_suffix(".pub")
    public.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo))
    return public


@pytest.mark.parametrize("value", [True, "5", 5.0])
def test_numbers_must_be_json_numbers(client: TestClient, value: object) -> None:
    r = client.post("/v1/forecast/rolling", json={"series": [{"values": GOOD}], "horizon": value})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "horizon"


def test_close_quantile_levels_keep_their_own_keys(client: TestClient) -> None:
    r = client.post("/v1/forecast/rolling", json={"series": [{"values": GOOD}], "horizon": 2,
                                                 "quantiles": [0.1, 0.1000001], "num_samples": 50})
    assert sorted(r.json()["forecasts"][0]["quantiles"]) == ["0.1", "0.1000001"]


class Overflowing:
    """A forecaster whose walk-forward overflows, as a model with a small scaling
    constant does on values near float32's limit (the shipped models saturate instead,
    so no real artifact here reproduces it)."""

    window = 2

    def walk_forward_job(self, values: np.ndarray) -> Generator[None, None, np.ndarray]:
        yield
        return np.full(len(values) - self.window, np.inf, dtype=np.float32)


def test_walk_forward_that_overflows_is_refused_not_null() -> None:
    job = service._walk_forward(Overflowing(), np.ones(5, dtype=np.float32))  # type: ignore[arg-type]
    with pytest.raises(InvalidSeriesError, match="overflowed"):
        run_to_end(job)


def test_a_non_ascii_key_matches_as_sent_in_utf8(settings: Settings) -> None:
    with TestClient(create_app(settings.model_copy(update={"api_keys": ["clé-1"]}))) as c:
        assert c.get("/v1/models", headers={"Authorization": "Bearer clé-1".encode()}).status_code == 200


@pytest.mark.parametrize("keys", [" , ", "a,,b", "a, "])
def test_api_keys_with_an_empty_key_stop_the_server(keys: str) -> None:
    env = {"PATH": "/usr/bin:/bin", "RNNCAST_API_KEYS": keys}
    done = subprocess.run([sys.executable, "-m", "app.cli", "serve"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "RNNCAST_API_KEYS holds an empty key" in done.stderr


def test_readiness_names_files_without_absolute_paths(model_copy: Path, settings: Settings) -> None:
    (model_copy / "default" / "model.pt").write_bytes(b"\x00" * 64)
    client = ready_client(settings.model_copy(update={"model_dir": model_copy}))
    try:
        reasons = client.get("/health/ready").json()["reasons"]
        assert reasons and "default/model.pt" in reasons[0]
        assert str(model_copy) not in reasons[0] and str(model_copy.resolve()) not in reasons[0]
    finally:
        client.__exit__(None, None, None)


def _info(client: TestClient) -> dict[str, float]:
    return {s.labels["version"]: s.value
            for f in text_string_to_metric_families(client.get("/metrics").text)
            for s in f.samples if s.name == "rnncast_model_info" and s.labels["model"] == "info-test"}


def test_model_info_follows_a_reload_to_the_new_version(tmp_path: Path, settings: Settings) -> None:
    root = tmp_path / "models"
    train_and_export(TrainOptions(out=root / "info-test", points=1000, epochs=1, quiet=True, version="1"))
    client = ready_client(settings.model_copy(update={"model_dir": root}))
    try:
        assert _info(client) == {"1": 1.0}
        train_and_export(TrainOptions(out=root / "info-test", points=1000, epochs=1, quiet=True, version="2"))
        assert client.post("/v1/models/info-test/reload").status_code == 200
        assert _info(client) == {"2": 1.0}
    finally:
        client.__exit__(None, None, None)


def test_with_trusted_keys_only_verified_models_load_and_reload(model_dir: Path, tmp_path: Path, settings: Settings) -> None:
    root = tmp_path / "models"
    shutil.copytree(model_dir, root)
    trusted, other = write_key(tmp_path / "trusted.key"), write_key(tmp_path / "other.key")
    model = root / "default" / "model.pt"
    done = subprocess.run([sys.executable, "-m", "app.cli", "sign", str(model), "--key", str(tmp_path / "other.key")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == str(signature_path(model))
    client = ready_client(settings.model_copy(update={"model_dir": root, "trusted_keys": [trusted]}))
    try:
        reasons = client.get("/health/ready").json()["reasons"]
        assert "does not verify against any trusted key" in reasons[0] and str(root) not in reasons[0]
        sign_model(model, tmp_path / "trusted.key")
        assert client.post("/v1/models/default/reload").status_code == 200
        assert client.get("/health/ready").status_code == 200
        signature_path(model).unlink()  # an unsigned file is refused on reload; the old one keeps serving
        assert client.post("/v1/models/default/reload").status_code == 409
        assert client.post("/v1/forecast", json={"series": [{"values": GOOD}]}).status_code == 200
    finally:
        client.__exit__(None, None, None)
    assert other.is_file()


def test_certificate_signed_models_verify_against_their_ca(tiny_artifact: Path, tmp_path: Path) -> None:
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    def cert(subject: str, key: ec.EllipticCurvePrivateKey, issuer: str, signer: ec.EllipticCurvePrivateKey,
             ca: bool) -> x509.Certificate:
        now = datetime.datetime.now(datetime.UTC)
        builder = (x509.CertificateBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
                   .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=2))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if ca:
            builder = builder.add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        else:
            builder = builder.add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
            builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
        return builder.sign(signer, hashes.SHA256())

    ca_key, leaf_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    pem = serialization.Encoding.PEM
    (tmp_path / "ca.pem").write_bytes(cert("ca", ca_key, "ca", ca_key, True).public_bytes(pem))
    (tmp_path / "leaf.pem").write_bytes(cert("leaf", leaf_key, "ca", ca_key, False).public_bytes(pem))
    (tmp_path / "leaf.key").write_bytes(leaf_key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                                               serialization.NoEncryption()))
    model = tmp_path / "model.pt"
    shutil.copy(tiny_artifact, model)
    sign_model(model, tmp_path / "leaf.key", certificate=tmp_path / "leaf.pem", chain=[tmp_path / "ca.pem"])
    SignatureVerifier(certificates=[tmp_path / "ca.pem"])(model)
    model.write_bytes(model.read_bytes() + b"\x00")
    with pytest.raises(Exception, match="does not verify"):
        SignatureVerifier(certificates=[tmp_path / "ca.pem"])(model)
