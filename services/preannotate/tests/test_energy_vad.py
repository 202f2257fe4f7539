"""The audio segment contract with a real plugin: energy-based voice activity detection on a generated WAV."""

from __future__ import annotations

import io
import json
import math
import struct
import uuid
import wave
from typing import Any

import grpc
import pytest

from annotary.events.v1 import events_pb2
from annotary.preannotate.v1 import preannotate_pb2
from annotary_common.bus import apply_once
from annotary_common.events import build_envelope, parse_event
from annotary_common.topics import ITEM_INGESTED
from annotary_preannotate.domain.plugin import PredictItem
from annotary_preannotate.models import PLUGINS, load_plugin
from annotary_preannotate.models.energy_vad import EnergyVAD, decode_audio
from annotary_preannotate.service_layer import predictions
from annotary_preannotate.service_layer.worker import Worker

RATE = 16_000


def tone_bursts(bursts: list[tuple[float, float]], seconds: float = 3.0) -> bytes:
    def level(i: int) -> int:
        t = i / RATE
        loud = any(a <= t < b for a, b in bursts)
        return int((9000 if loud else 20) * math.sin(2 * math.pi * 300 * t))

    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(struct.pack(f"<{int(seconds * RATE)}h", *(level(i) for i in range(int(seconds * RATE)))))
    return out.getvalue()


def test_vad_finds_the_loud_parts_as_segments_with_empty_transcripts() -> None:
    samples, rate = decode_audio(tone_bursts([(0.5, 1.2), (1.3, 1.6), (2.2, 2.8)]))
    assert rate == RATE and len(samples) == 3 * RATE
    plugin = EnergyVAD("vad-1")
    [prediction] = plugin.predict([PredictItem("i1", audio=samples, sample_rate=rate)])
    assert prediction.model_version == "vad-1"
    starts_ends = [t for r in prediction.result for t in (r["start"], r["end"])]
    assert starts_ends == pytest.approx([0.5, 1.6, 2.2, 2.8], abs=0.03)  # the 0.1 s gap is bridged
    assert all(r["type"] == "segment" and r["label"] == "speech" and r["text"] == "" for r in prediction.result)
    assert PLUGINS[EnergyVAD.name] is EnergyVAD
    assert load_plugin(EnergyVAD.name, plugin.dumps(), "vad-1").dumps() == plugin.dumps()


def test_silence_gives_no_segments_and_text_items_are_refused() -> None:
    samples, rate = decode_audio(tone_bursts([]))
    assert EnergyVAD("v").predict([PredictItem("s", audio=samples * 0, sample_rate=rate)])[0].result == []
    with pytest.raises(ValueError, match="needs decoded audio"):
        EnergyVAD("v").predict([PredictItem("t", text="hello")])


# -- connected to an audio project: every audio item ingested gets its segments as pre-labels ------------------
AUDIO_SCHEMA = {"modality": "audio", "tools": ["segment"], "labels": [{"name": "music"}, {"name": "speech"}]}


async def test_a_connected_vad_prelabels_every_ingested_audio_item(pool: Any, stub: tuple[Worker, Any]) -> None:
    worker, client = stub
    project = str(uuid.uuid4())
    wanted = {str(uuid.uuid4()): [(0.5, 1.2)], str(uuid.uuid4()): [(0.3, 0.9), (2.0, 2.6)]}
    for item_id, bursts in wanted.items():
        key = f"media/{item_id}.wav"
        await worker.store.put(key, tone_bursts(bursts), "audio/wav")
        snapshot = events_pb2.ItemSnapshot(item_id=item_id, project_id=project, modality="audio",
                                           media_uri=worker.store.uri_for(key))
        event = parse_event(build_envelope(ITEM_INGESTED, item_id, events_pb2.ItemIngested(item=snapshot),
                                           "ingest").SerializeToString())
        await apply_once(pool, "test", event, predictions.on_item_ingested)

    version = await client.ConnectModel(preannotate_pb2.ConnectModelRequest(
        project_id=project, plugin="audio-energy-vad", label_schema_json=json.dumps(AUDIO_SCHEMA), actor="manager-1"))
    assert (version.model_version, version.serving) == (f"audio-energy-vad@{project}/v1", True)
    assert json.loads(version.training_data_json)["config"]["label"] == "speech"

    assert await worker.score_once()
    rows = await pool.fetch("SELECT item_id::text AS item_id, model_version, result_json::text AS r FROM predictions")
    assert {r["item_id"] for r in rows} == set(wanted)
    for row in rows:
        segments = [(s["start"], s["end"]) for s in json.loads(row["r"])]
        assert row["model_version"] == version.model_version
        assert {s["label"] for s in json.loads(row["r"])} == {"speech"}
        assert len(segments) == len(wanted[row["item_id"]])
        for (start, end), (want_start, want_end) in zip(segments, wanted[row["item_id"]], strict=True):
            assert start == pytest.approx(want_start, abs=0.05) and end == pytest.approx(want_end, abs=0.05)
    topics = [r["topic"] for r in await pool.fetch("SELECT topic FROM outbox ORDER BY id")]
    assert topics.count("item.preannotated") == 2 and topics.count("item.scored") == 2


async def test_connecting_the_vad_to_a_project_that_is_not_audio_is_refused(
        pool: Any, stub: tuple[Worker, Any]) -> None:
    _, client = stub
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await client.ConnectModel(preannotate_pb2.ConnectModelRequest(
            project_id=str(uuid.uuid4()), plugin="audio-energy-vad", actor="m",
            label_schema_json=json.dumps({"modality": "text", "labels": ["PER"]})))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "modality 'text'" in (caught.value.details() or "")
    assert await pool.fetchval("SELECT count(*) FROM model_versions") == 0


async def test_an_audio_file_that_does_not_decode_is_skipped_not_retried_forever(
        pool: Any, stub: tuple[Worker, Any]) -> None:
    worker, client = stub
    project = str(uuid.uuid4())
    good, bad = str(uuid.uuid4()), str(uuid.uuid4())
    for item_id, data in ((good, tone_bursts([(0.5, 1.2)])), (bad, b"RIFF not really a wave file")):
        await worker.store.put(f"media/{item_id}.wav", data, "audio/wav")
        snapshot = events_pb2.ItemSnapshot(item_id=item_id, project_id=project, modality="audio",
                                           media_uri=worker.store.uri_for(f"media/{item_id}.wav"))
        event = parse_event(build_envelope(ITEM_INGESTED, item_id, events_pb2.ItemIngested(item=snapshot),
                                           "ingest").SerializeToString())
        await apply_once(pool, "test", event, predictions.on_item_ingested)
    await client.ConnectModel(preannotate_pb2.ConnectModelRequest(
        project_id=project, plugin="audio-energy-vad", label_schema_json=json.dumps(AUDIO_SCHEMA), actor="m"))
    assert await worker.score_once()
    assert not await worker.score_once()  # nothing left queued: the bad file is off the queue, not retried
    assert {str(r["item_id"]) for r in await pool.fetch("SELECT item_id FROM predictions")} == {good}
