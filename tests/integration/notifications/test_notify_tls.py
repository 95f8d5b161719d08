"""Per-endpoint TLS: a real HTTPS receiver with a self-signed CA that also asks for a client
certificate."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.integration.notifications.support import endpoint, make_event

pytestmark = pytest.mark.integration


def _key():
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(path: Path, key) -> str:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return str(path)


def _cert(subject: str, key, issuer_name, issuer_key, ca: bool, server: bool = False):
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


@pytest.fixture
def pki(tmp_path):
    ca_key = _key()
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")])
    ca = _cert("test CA", ca_key, ca_name, ca_key, ca=True)
    server_key, client_key = _key(), _key()
    server = _cert("127.0.0.1", server_key, ca_name, ca_key, ca=False, server=True)
    client = _cert("notifier", client_key, ca_name, ca_key, ca=False)
    files = {"ca": tmp_path / "ca.pem", "server": tmp_path / "server.pem",
             "client": tmp_path / "client.pem"}
    for name, cert in (("ca", ca), ("server", server), ("client", client)):
        files[name].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return {
        "ca": str(files["ca"]), "server": str(files["server"]), "client": str(files["client"]),
        "server_key": _write_key(tmp_path / "server.key", server_key),
        "client_key": _write_key(tmp_path / "client.key", client_key),
    }


def test_https_endpoint_with_private_ca_and_client_certificate(
        rabbitmq_url, receivers, deployments, notifiers, uid, pki):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pki["server"], pki["server_key"])
    context.load_verify_locations(pki["ca"])
    context.verify_mode = ssl.CERT_REQUIRED  # proves the notifier presents its certificate
    hook = receivers(ssl_context=context)
    client = {"certificate": pki["client"], "key": pki["client_key"]}
    d = deployments(rabbitmq_url, [
        endpoint(f"ca-{uid}", hook.url, tls={"ca": pki["ca"], **client}),
        endpoint(f"skip-{uid}", hook.url, tls={"insecureskipverify": True, **client}),
        endpoint(f"noca-{uid}", hook.url, threshold=1, tls=client),
    ])
    process = notifiers(d)
    event = make_event()
    d.publish(event)
    process.wait_log(f"notification dropped endpoint=noca-{uid} attempts=1")
    process.wait_log(f"notification sent endpoint=ca-{uid}")
    process.wait_log(f"notification sent endpoint=skip-{uid}")
    assert [r.json["id"] for r in hook.snapshot()] == [event.id, event.id]
    assert f'notification failed endpoint=noca-{uid} error="tls error' in process.log()
