"""The SSRF guard on a real local HTTPS server: refused by default (loopback), fetched when allow-listed, every
redirect hop checked, and the connection made to the address that was checked."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from annotary_common import netguard
from annotary_common.netguard import FetchFailed, FetchNotFound, FetchRefused, NetPolicy
from annotary_common.settings import CommonSettings
from annotary_common.storage import LocalObjectStore, SourceNotAllowed

REBIND_NAME = "annotary-rebind.invalid"  # never resolves in DNS (.invalid is reserved)
BODY = b"\x89PNG fake image bytes"


def make_cert(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.DNSName(REBIND_NAME),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        ]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        port = self.server.server_address[1]
        if self.path == "/img.png":
            self.send_response(200)
            self.send_header("content-length", str(len(BODY)))
            self.end_headers()
            self.wfile.write(BODY)
        elif self.path == "/to-loopback":  # a redirect from an allowed name to a literal loopback address
            self.send_response(302)
            self.send_header("location", f"https://127.0.0.1:{port}/img.png")
            self.send_header("content-length", "0")
            self.end_headers()
        elif self.path == "/loop":
            self.send_response(302)
            self.send_header("location", "/loop")
            self.send_header("content-length", "0")
            self.end_headers()
        elif self.path == "/big":
            self.send_response(200)
            self.send_header("content-length", str(10_000))
            self.end_headers()
            self.wfile.write(b"x" * 10_000)
        else:
            self.send_response(404)
            self.send_header("content-length", "0")
            self.end_headers()

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = make_cert(folder)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1], cert
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.parametrize("address", [
    "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
    "224.0.0.1", "240.0.0.1", "255.255.255.255", "::1", "::", "fe80::1", "fc00::1", "ff02::1",
    "::ffff:127.0.0.1", "::ffff:10.0.0.1", "64:ff9b::7f00:1", "2002:7f00:1::", "2002:a00:1::",
])
def test_internal_addresses_are_refused(address: str) -> None:
    ip = ipaddress.ip_address(address)
    assert netguard.forbidden_reason(ip) is not None
    with pytest.raises(FetchRefused, match="refused"):
        netguard.check_addresses("example.test", [ip], NetPolicy())


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses_pass(address: str) -> None:
    assert netguard.forbidden_reason(ipaddress.ip_address(address)) is None


def test_one_internal_address_among_public_ones_is_refused() -> None:
    ips = [ipaddress.ip_address("8.8.8.8"), ipaddress.ip_address("127.0.0.1")]
    with pytest.raises(FetchRefused, match="loopback"):
        netguard.check_addresses("mixed.test", ips, NetPolicy())


def test_allow_list_by_network_and_by_host() -> None:
    policy = NetPolicy.parse("10.0.0.0/8, intranet.example")
    assert netguard.check_addresses("x", [ipaddress.ip_address("10.9.9.9")], policy)
    assert netguard.check_addresses("intranet.example", [ipaddress.ip_address("192.168.0.5")], policy)
    with pytest.raises(FetchRefused):
        netguard.check_addresses("x", [ipaddress.ip_address("192.168.0.5")], policy)


async def test_loopback_server_refused_by_default(server: tuple[int, Path]) -> None:
    port, cert = server
    for url in (f"https://127.0.0.1:{port}/img.png", f"https://localhost:{port}/img.png",
                f"https://[::ffff:127.0.0.1]:{port}/img.png"):
        with pytest.raises(FetchRefused, match="loopback"):
            await netguard.fetch(url, NetPolicy(ca_bundle=str(cert)))


async def test_loopback_server_fetched_when_allow_listed(server: tuple[int, Path]) -> None:
    port, cert = server
    policy = NetPolicy.parse("127.0.0.1/32", ca_bundle=str(cert))
    assert await netguard.fetch(f"https://127.0.0.1:{port}/img.png", policy) == BODY
    with pytest.raises(FetchNotFound):
        await netguard.fetch(f"https://127.0.0.1:{port}/missing", policy)
    with pytest.raises(FetchFailed, match="redirects"):
        await netguard.fetch(f"https://127.0.0.1:{port}/loop", policy)
    small = NetPolicy.parse("127.0.0.1/32", ca_bundle=str(cert), max_bytes=1000)
    with pytest.raises(FetchFailed, match="larger than"):
        await netguard.fetch(f"https://127.0.0.1:{port}/big", small)


async def test_every_redirect_hop_is_checked(server: tuple[int, Path]) -> None:
    port, cert = server
    policy = NetPolicy.parse("localhost", ca_bundle=str(cert))  # the name is allowed, a bare 127.0.0.1 is not
    assert await netguard.fetch(f"https://localhost:{port}/img.png", policy) == BODY
    with pytest.raises(FetchRefused, match=r"127\.0\.0\.1 is a loopback address"):
        await netguard.fetch(f"https://localhost:{port}/to-loopback", policy)


async def test_connects_to_the_checked_address(server: tuple[int, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """The name is resolved once, checked, and that address is what the connection goes to: a name that does
    not resolve at all in DNS is fetched from the address the check saw (no second resolution to rebind)."""
    port, cert = server
    calls: list[str] = []
    real_resolve = netguard.resolve

    async def resolve_once(host: str, port_: int) -> list[netguard.IPAddress]:
        calls.append(host)
        if host == REBIND_NAME:
            return [ipaddress.ip_address("127.0.0.1")]
        return await real_resolve(host, port_)

    monkeypatch.setattr(netguard, "resolve", resolve_once)
    policy = NetPolicy.parse("127.0.0.1/32", ca_bundle=str(cert))
    assert await netguard.fetch(f"https://{REBIND_NAME}:{port}/img.png", policy) == BODY
    assert calls == [REBIND_NAME]
    with pytest.raises(FetchRefused, match="loopback"):
        await netguard.fetch(f"https://{REBIND_NAME}:{port}/img.png", NetPolicy(ca_bundle=str(cert)))


async def test_only_https_and_no_credentials() -> None:
    for url, why in (("http://example.com/a.png", "only https"), ("ftp://example.com/a", "only https"),
                     ("https://user:pw@example.com/a.png", "credentials")):
        with pytest.raises(FetchRefused, match=why):
            await netguard.fetch(url, NetPolicy())


async def test_object_store_reads_https_through_the_guard(server: tuple[int, Path], tmp_path: Path) -> None:
    port, cert = server
    refused = LocalObjectStore(CommonSettings(data_dir=tmp_path, fetch_ca_bundle=str(cert)))
    with pytest.raises(SourceNotAllowed, match="loopback"):
        await refused.read_uri(f"https://127.0.0.1:{port}/img.png")
    allowed = LocalObjectStore(CommonSettings(data_dir=tmp_path, fetch_ca_bundle=str(cert), fetch_allow="127.0.0.1"))
    assert await allowed.read_uri(f"https://127.0.0.1:{port}/img.png") == BODY
