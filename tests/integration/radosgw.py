"""Debian's radosgw (Ceph 16, `make radosgw`): a real S3 server that checks SigV4 signatures and expiry.

Ceph 16's radosgw has no standalone backend (``rgw_backend_store = dbstore`` came with Ceph 17; here the option
does not exist), so it needs a RADOS cluster: this starts the smallest one in a temporary folder, one monitor and
one OSD on memstore (RAM), no authentication between the daemons, then radosgw on a free port with an S3 user.
Ready in about 20 s; everything is stopped and removed afterwards.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from annotary_cli.infra import Managed, free_port

BINARIES = ("ceph-mon", "ceph-osd", "radosgw", "radosgw-admin", "monmaptool", "ceph")


@dataclass(frozen=True)
class Radosgw:
    endpoint: str
    access_key: str
    secret_key: str


def missing_binaries() -> list[str]:
    return [b for b in BINARIES if shutil.which(b) is None]


def _conf(folder: Path, fsid: str, mon_port: int, rgw_port: int) -> str:
    return f"""[global]
fsid = {fsid}
mon_host = v2:127.0.0.1:{mon_port}
auth_cluster_required = none
auth_service_required = none
auth_client_required = none
ms_bind_msgr1 = false
osd_pool_default_size = 1
osd_pool_default_min_size = 1
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_pool_default_pg_autoscale_mode = off
osd_crush_chooseleaf_type = 0
mon_allow_pool_size_one = true
mon_warn_on_pool_no_redundancy = false
mon_data_avail_crit = 1
run_dir = {folder}/run
admin_socket = {folder}/run/$name.asok
log_file = {folder}/log/$name.log
mon_data = {folder}/mon/$cluster-$id
osd_data = {folder}/osd/$cluster-$id
osd_objectstore = memstore
memstore_device_bytes = 536870912
[client.rgw.annotary]
rgw_frontends = beast endpoint=127.0.0.1:{rgw_port}
# radosgw asks for secure mon connections by default, which needs cephx; the daemons here run without auth
ms_mon_client_mode = crc
ms_client_mode = crc
"""


def _run(conf: Path, *argv: str, timeout: float = 60.0) -> str:
    done = subprocess.run([argv[0], "-c", str(conf), *argv[1:]], capture_output=True, text=True, timeout=timeout,
                          check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr[-2000:]}")
    return done.stdout


@contextmanager
def running_radosgw(folder: Path, timeout: float = 120.0) -> Iterator[Radosgw]:
    missing = missing_binaries()
    if missing:
        raise RuntimeError(f"{', '.join(missing)} not installed: run `make radosgw`")
    for sub in ("run", "log", "mon", "osd/ceph-0"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    fsid, mon_port, rgw_port = str(uuid.uuid4()), free_port(), free_port()
    conf = folder / "ceph.conf"
    conf.write_text(_conf(folder, fsid, mon_port, rgw_port))
    env = dict(os.environ)
    procs: list[Managed] = []
    try:
        subprocess.run(["monmaptool", "--create", "--fsid", fsid, "--addv", "a", f"[v2:127.0.0.1:{mon_port}]",
                        str(folder / "monmap")], check=True, capture_output=True, timeout=30)
        _run(conf, "ceph-mon", "--mkfs", "-i", "a", "--monmap", str(folder / "monmap"))
        procs.append(Managed("ceph-mon", ["ceph-mon", "-c", str(conf), "-i", "a", "-f"], env,
                             folder / "log" / "mon.out").start())
        osd_id = _run(conf, "ceph", "osd", "create").strip()
        _run(conf, "ceph-osd", "-i", osd_id, "--mkfs")
        procs.append(Managed("ceph-osd", ["ceph-osd", "-c", str(conf), "-i", osd_id, "-f"], env,
                             folder / "log" / "osd.out").start())
        deadline = time.monotonic() + timeout
        while json.loads(_run(conf, "ceph", "osd", "stat", "-f", "json")).get("num_up_osds", 0) < 1:
            if time.monotonic() > deadline:
                raise RuntimeError("the OSD did not come up: " + procs[-1].tail())
            time.sleep(0.5)
        procs.append(Managed("radosgw", ["radosgw", "-c", str(conf), "-n", "client.rgw.annotary", "-f"], env,
                             folder / "log" / "rgw.out").start())
        endpoint = f"http://127.0.0.1:{rgw_port}"
        while True:
            try:
                if httpx.get(endpoint, timeout=2.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or not procs[-1].alive:
                raise RuntimeError("radosgw did not start: " + procs[-1].tail())
            time.sleep(0.5)
        access, secret = "AK" + uuid.uuid4().hex[:18].upper(), uuid.uuid4().hex + uuid.uuid4().hex[:8]
        _run(conf, "radosgw-admin", "user", "create", "--uid", "annotary", "--display-name", "annotary",
             "--access-key", access, "--secret", secret)
        yield Radosgw(endpoint, access, secret)
    finally:
        for proc in reversed(procs):
            proc.stop(timeout=10.0)
        shutil.rmtree(folder, ignore_errors=True)
