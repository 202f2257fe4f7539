"""The OpenAI-compatible adapter against a real server process on 127.0.0.1 speaking that protocol
(``llm_server.py``: the real HTTP protocol, a keyword rule as the model), and the schema it derives."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from annotary_preannotate.domain.llm_schema import answer_schema, regions_from_answer
from annotary_preannotate.domain.plugin import PredictItem
from annotary_preannotate.models.openai_chat import OpenAIChatLabeler

CHOICE_SCHEMA = {"modality": "text", "labels": [], "tools": ["choice"],
                 "choices": [{"name": "sentiment", "options": ["pos", "neg"]}]}
SPAN_SCHEMA = {"modality": "text", "labels": [{"name": "PERSON"}, {"name": "ORG"}], "tools": ["span", "choice"],
               "choices": [{"name": "tags", "options": ["film", "music"], "multiple": True}]}


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, str(Path(__file__).with_name("llm_server.py")), str(port)])
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{base}/models", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline and proc.poll() is None, "the LLM server did not start"
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        proc.wait(10)


def test_schema_from_label_schema() -> None:
    assert answer_schema(CHOICE_SCHEMA) == {
        "type": "object", "additionalProperties": False, "required": ["sentiment"],
        "properties": {"sentiment": {"type": "string", "enum": ["pos", "neg"]}}}
    schema = answer_schema(SPAN_SCHEMA)
    assert schema["required"] == ["tags", "spans"]
    assert schema["properties"]["tags"] == {"type": "array", "items": {"type": "string", "enum": ["film", "music"]}}
    assert schema["properties"]["spans"]["items"]["properties"]["label"]["enum"] == ["PERSON", "ORG"]
    with pytest.raises(ValueError, match="nothing an LLM can answer"):
        answer_schema({"modality": "image", "labels": [{"name": "cat"}], "tools": ["bbox"]})


def test_regions_from_answer_keeps_only_the_schema() -> None:
    text = "Ada met Ada and Bob."
    answer = {"tags": ["film", "poetry"], "spans": [{"label": "PERSON", "text": "Ada"}, {"label": "PERSON",
              "text": "Ada"}, {"label": "CITY", "text": "Bob"}, {"label": "PERSON", "text": "Zed"}]}
    assert regions_from_answer(answer, SPAN_SCHEMA, text) == [
        {"type": "choice", "name": "tags", "value": "film"},
        {"type": "span", "label": "PERSON", "start": 0, "end": 3},
        {"type": "span", "label": "PERSON", "start": 8, "end": 11}]
    assert regions_from_answer({"sentiment": "meh"}, CHOICE_SCHEMA, "x") == []
    assert regions_from_answer("not an object", CHOICE_SCHEMA, "x") == []


def test_adapter_against_a_real_server(server: str) -> None:
    labeler = OpenAIChatLabeler(server, "rule-labeler-1", CHOICE_SCHEMA)
    labeler.setup()
    preds = labeler.predict([PredictItem("a", "A wonderful film, I loved it."),
                             PredictItem("b", "Boring and awful, I hated it.")])
    assert [(p.item_id, p.model_version) for p in preds] == [("a", "openai-chat:rule-labeler-1"),
                                                             ("b", "openai-chat:rule-labeler-1")]
    assert [p.result[0]["value"] for p in preds] == ["pos", "neg"]
    assert all(p.result[0]["name"] == "sentiment" and 0.5 < p.score <= 1.0 for p in preds)

    spans = OpenAIChatLabeler(server, "rule-labeler-1", SPAN_SCHEMA)
    [p] = spans.predict([PredictItem("c", "Yesterday Ada Lovelace wrote about film music.")])
    assert {"type": "span", "label": "PERSON", "start": 10, "end": 22, "score": p.score} in p.result
    assert {r["value"] for r in p.result if r["type"] == "choice"} == {"film", "music"}


def test_adapter_reports_what_the_server_refuses(server: str) -> None:
    with pytest.raises(RuntimeError, match="does not serve 'gpt-x'"):
        OpenAIChatLabeler(server, "gpt-x", CHOICE_SCHEMA).setup()
    with pytest.raises(httpx.HTTPStatusError, match="404"):
        OpenAIChatLabeler(server, "gpt-x", CHOICE_SCHEMA).predict([PredictItem("a", "text")])
