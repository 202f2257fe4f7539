"""Fixtures: a deterministic bag-of-words encoder standing in for MiniLM (no torch needed), a fresh migrated
database, and the preannotate gRPC service on 127.0.0.1 with its worker."""

from __future__ import annotations

import uuid
import zlib
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import asyncpg
import grpc
import numpy as np
import pytest
import pytest_asyncio
from numpy.typing import NDArray

from annotary.preannotate.v1 import preannotate_pb2_grpc
from annotary_common.bus import apply_once
from annotary_common.events import Event
from annotary_common.settings import CommonSettings
from annotary_common.storage import LocalObjectStore
from annotary_common.testing import migrated_pool
from annotary_preannotate.domain.flywheel import is_heldout
from annotary_preannotate.entrypoints import bus
from annotary_preannotate.entrypoints.grpc_api import PreannotateServicer
from annotary_preannotate.models.text_choice import Encoder
from annotary_preannotate.service_layer.flywheel import FlywheelConfig
from annotary_preannotate.service_layer.worker import Worker, WorkerConfig

DIM = 64


async def deliver(pool: asyncpg.Pool, ev: Event, config: FlywheelConfig) -> None:
    """The event through the service's own handler for its topic, once (the inbox)."""
    await apply_once(pool, f"annotary-preannotate:{ev.envelope.type}", ev, bus.handlers(config)[ev.envelope.type])


def split_ids(fraction: float, heldout: bool, n: int, start: int = 0, *, prefix: int = 0x22222222) -> list[str]:
    """``n`` item ids (derived from ``prefix`` and counting up from ``start``) that fall in (or out of) the held-out
    slice of ``fraction``, so a test controls the split."""
    out: list[str] = []
    k = start
    while len(out) < n:
        iid = str(uuid.UUID(int=(prefix << 96) + k, version=4))
        if is_heldout(iid, fraction) == heldout:
            out.append(iid)
        k += 1
    return out


def bow_encoder(texts: Sequence[str]) -> NDArray[np.float32]:
    out = np.zeros((len(texts), DIM), dtype=np.float32)
    for i, text in enumerate(texts):
        for word in text.lower().replace(",", " ").replace(".", " ").split():
            out[i, zlib.crc32(word.encode()) % DIM] += 1.0
        norm = np.linalg.norm(out[i])
        if norm:
            out[i] /= norm
    return out


@pytest.fixture()
def encoder() -> object:
    return bow_encoder


@pytest_asyncio.fixture
async def pool() -> AsyncIterator[asyncpg.Pool]:
    async with migrated_pool("preannotate", "annotary_preannotate") as pool:
        yield pool


@pytest_asyncio.fixture
async def stub(pool: asyncpg.Pool, tmp_path: Path, encoder: Encoder) -> AsyncIterator[tuple[Worker, Any]]:
    async with LocalObjectStore(CommonSettings(data_dir=tmp_path)) as store:
        worker = Worker(pool, store, WorkerConfig(), encoder=encoder)
        server = grpc.aio.server()
        preannotate_pb2_grpc.add_PreannotateServiceServicer_to_server(PreannotateServicer(pool, worker), server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                yield worker, preannotate_pb2_grpc.PreannotateServiceStub(channel)
        finally:
            await server.stop(None)
