"""Issue 10 on the real stack: file:// sources confined to the import roots (path traversal, %-encoding, absolute
paths, symlinks), https:// media behind the SSRF guard (a local HTTPS server: refused on 127.0.0.1, fetched on
the allow-listed 127.0.0.2), and upload size and type limits (413, 415). Nothing refused creates an item."""

from __future__ import annotations

import datetime
import io
import ipaddress
import os
import ssl
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from PIL import Image

from annotary_cli.stack import Stack
from tests.integration.client import Api
from tests.integration.test_pipeline import wait_items

SCHEMA = {"modality": "image", "tools": ["bbox"], "labels": [{"name": "cat"}]}


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 6), (200, 10, 10)).save(out, format="PNG")
    return out.getvalue()


PNG = png()


def total_items(api: Api, pid: str) -> int:
    return sum(api.get(f"/projects/{pid}/stats").json()["states"].values())


@pytest.fixture()
def project(make_user: Any) -> tuple[Api, str]:
    manager = make_user("manager")
    return manager, manager.create_project(f"sec-src-{uuid.uuid4().hex[:6]}", SCHEMA, {"overlap": 1})["id"]


def test_file_sources_stay_inside_the_import_roots(stack: Stack, project: tuple[Api, str], tmp_path: Path) -> None:
    manager, pid = project
    root = Path(stack.config.import_roots[0])
    (root / "ok").mkdir(parents=True, exist_ok=True)
    (root / "ok" / "a.png").write_bytes(PNG)
    outside = root.parent / f"outside-{uuid.uuid4().hex[:6]}"
    outside.mkdir()
    (outside / "secret.png").write_bytes(PNG)
    links = root / f"links-{uuid.uuid4().hex[:6]}"
    links.mkdir()
    os.symlink(outside / "secret.png", links / "leak.png")
    os.symlink(outside, root / f"dirlink-{uuid.uuid4().hex[:6]}")
    dirlink = next(p for p in root.iterdir() if p.name.startswith("dirlink-") and p.is_symlink())
    refused = [
        f"file://{root}/../{outside.name}",
        f"file://{root}/ok/../../{outside.name}",
        f"file://{root}/%2e%2e/{outside.name}",
        f"file://{root}/ok/%2E%2E%2F%2e%2e%2F{outside.name}",
        f"file://{outside}",
        "file:///etc",
        f"file://{dirlink}",
        f"file://{links}",
    ]
    for uri in refused:
        reply = manager.post(f"/projects/{pid}/sources", json={"uri": uri})
        assert reply.status_code == 422, (uri, reply.status_code, reply.text)
        assert "outside the allowed import roots" in reply.json()["detail"], (uri, reply.text)
    for media in ("file:///etc/passwd", f"file://{root}/../{outside.name}/secret.png", f"file://{links}/leak.png",
                  f"file://{root}/%2e%2e/{outside.name}/secret.png"):
        reply = manager.post(f"/projects/{pid}/items", json=[{"image": media}])
        assert reply.status_code == 422 and "outside the allowed import roots" in reply.json()["detail"], reply.text
    assert total_items(manager, pid) == 0
    reply = manager.post(f"/projects/{pid}/sources", json={"uri": f"file://{root}/ok"})
    assert reply.status_code == 201 and reply.json()["created"] == 1, reply.text


def _cert(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "annotary test media")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(hours=2))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                    x509.IPAddress(ipaddress.ip_address("127.0.0.2"))]),
                       critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = folder / "ca.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


class Media(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path.startswith("/to/"):  # redirect to another address (the hop is checked again)
            self.send_response(302)
            self.send_header("location", "https://" + self.path.removeprefix("/to/"))
            self.send_header("content-length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("content-type", "image/png")
        self.send_header("content-length", str(len(PNG)))
        self.end_headers()
        self.wfile.write(PNG)

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture()
def media_servers(stack: Stack) -> Iterator[dict[str, int]]:
    """The same HTTPS media server on 127.0.0.1 (refused) and on 127.0.0.2 (allow-listed for the stack)."""
    cert, key = _cert(Path(stack.config.extra_env["ANNOTARY_FETCH_CA_BUNDLE"]).parent)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    servers, ports = [], {}
    for host in ("127.0.0.1", "127.0.0.2"):
        httpd = ThreadingHTTPServer((host, 0), Media)
        httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        servers.append(httpd)
        ports[host] = httpd.server_address[1]
    yield ports
    for httpd in servers:
        httpd.shutdown()
        httpd.server_close()


def test_https_media_behind_the_ssrf_guard(project: tuple[Api, str], media_servers: dict[str, int]) -> None:
    manager, pid = project
    local, allowed = media_servers["127.0.0.1"], media_servers["127.0.0.2"]
    refused = {
        f"https://127.0.0.1:{local}/a.png": "loopback",
        f"https://localhost:{local}/a.png": "loopback",
        f"https://[::ffff:127.0.0.1]:{local}/a.png": "loopback",
        "https://169.254.169.254/latest/meta-data/iam.png": "link-local",
        "https://10.0.0.1/a.png": "private",
        "https://[fd00::1]/a.png": "private",
        f"https://127.0.0.2:{allowed}/to/127.0.0.1:{local}/a.png": "loopback",  # allowed hop redirecting inside
    }
    for url, why in refused.items():
        reply = manager.post(f"/projects/{pid}/items", json=[{"image": url}])
        assert reply.status_code == 422, (url, reply.status_code, reply.text)
        assert why in reply.json()["detail"] and "refused" in reply.json()["detail"], (url, reply.text)
    assert total_items(manager, pid) == 0
    reply = manager.post(f"/projects/{pid}/items", json=[{"image": f"https://127.0.0.2:{allowed}/cat.png"}])
    assert reply.status_code == 201, reply.text
    wait_items(manager, pid, 1)
    assert total_items(manager, pid) == 1


def test_upload_size_and_type_limits(project: tuple[Api, str]) -> None:
    manager, pid = project
    reply = manager.post(f"/projects/{pid}/items", files={"files": ("tool.exe", b"MZ\x90\x00", "application/x-msdos")})
    assert reply.status_code == 415 and "tool.exe" in reply.json()["detail"], reply.text
    reply = manager.post(f"/projects/{pid}/items", files=[("files", ("a.png", PNG, "image/png")),
                                                          ("files", ("page.html", b"<html>", "text/html"))])
    assert reply.status_code == 415 and "page.html" in reply.json()["detail"], reply.text
    reply = manager.post(f"/projects/{pid}/items", content=b"<items/>", headers={"content-type": "application/xml"})
    assert reply.status_code == 415 and "application/xml" in reply.json()["detail"], reply.text
    reply = manager.post(f"/projects/{pid}/items", files={"files": ("big.png", b"\0" * (9 << 20), "image/png")})
    assert reply.status_code == 413 and "limit" in reply.json()["detail"], reply.text
    assert total_items(manager, pid) == 0
    reply = manager.post(f"/projects/{pid}/items", files={"files": ("ok.png", PNG, "image/png")})
    assert reply.status_code == 201, reply.text


def test_media_link_for_the_task_holder_only(make_user: Any, project: tuple[Api, str]) -> None:
    manager, pid = project
    ann, other = make_user("annotator"), make_user("annotator")
    reply = manager.post(f"/projects/{pid}/items", files={"files": ("cat.png", PNG, "image/png")})
    assert reply.status_code == 201, reply.text
    wait_items(manager, pid, 1)
    task = ann.post(f"/projects/{pid}/tasks/next").json()
    link = ann.get(f"/tasks/{task['id']}/media/link", params={"expires_in": 120})
    assert link.status_code == 200, link.text
    assert link.json()["kind"] == "s3-presigned" and "X-Amz-Expires=120" in link.json()["url"]
    fetched = httpx.get(link.json()["url"], timeout=30.0)  # no token: the signature is the permission
    assert fetched.status_code == 200 and fetched.content == PNG
    assert other.get(f"/tasks/{task['id']}/media/link").status_code == 404
