"""A tiny OpenAI-compatible chat-completions server for the adapter's tests (``python llm_server.py PORT``).

No package here ships an LLM that runs offline, so this is an honest stand-in: the HTTP protocol is the real
one (``GET /v1/models``, ``POST /v1/chat/completions`` with ``response_format: json_schema``, OpenAI-shaped
errors and ``logprobs``), the "model" is a keyword rule: for every enum property of the requested schema it
picks the option best supported by a small sentiment lexicon and by option names found in the text; span
properties get the capitalised words (not sentence-initial) with the first allowed label.
"""

from __future__ import annotations

import json
import math
import re
import sys
import time
import uuid
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

MODEL = "rule-labeler-1"
POSITIVE = {"good", "great", "love", "loved", "wonderful", "excellent", "superb", "delightful", "brilliant"}
NEGATIVE = {"bad", "awful", "hate", "hated", "boring", "terrible", "dull", "dreadful", "tedious"}
LEANING = {"pos": POSITIVE, "positive": POSITIVE, "fresh": POSITIVE, "neg": NEGATIVE, "negative": NEGATIVE,
           "rotten": NEGATIVE}


def error(status: int, message: str, param: str | None = None) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": "invalid_request_error", "param": param,
                                   "code": None}}, status_code=status)


def pick(options: list[str], words: list[str]) -> tuple[str, float]:
    scores = [sum(w in LEANING.get(o.lower(), set()) or w == o.lower() for w in words) for o in options]
    best = max(range(len(options)), key=lambda i: (scores[i], -i))
    total = sum(math.exp(s) for s in scores)
    return options[best], math.exp(scores[best]) / total


def answer(schema: dict[str, Any], text: str) -> tuple[dict[str, Any], float]:
    words = re.findall(r"[a-z']+", text.lower())
    out: dict[str, Any] = {}
    confidence = 1.0
    for name, spec in (schema.get("properties") or {}).items():
        if spec.get("type") == "string" and spec.get("enum"):
            out[name], p = pick([str(o) for o in spec["enum"]], words)
            confidence *= p
        elif spec.get("type") == "array" and (spec.get("items") or {}).get("enum"):
            out[name] = [o for o in spec["items"]["enum"] if str(o).lower() in words]
        elif spec.get("type") == "array" and (spec.get("items") or {}).get("type") == "object":
            labels = spec["items"]["properties"]["label"]["enum"]
            names = re.findall(r"(?<![.!?]\s)(?<!^)\b([A-Z][a-z]+(?: [A-Z][a-z]+)*)", text)
            out[name] = [{"label": labels[0], "text": n} for n in names]
        else:
            out[name] = None
    return out, confidence


async def models(_: Request) -> JSONResponse:
    return JSONResponse({"object": "list", "data": [{"id": MODEL, "object": "model", "owned_by": "annotary-tests"}]})


async def chat(request: Request) -> JSONResponse:
    try:
        body = await request.json()
    except ValueError:
        return error(400, "the body is not JSON")
    if body.get("model") != MODEL:
        return error(404, f"The model `{body.get('model')}` does not exist", "model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
        return error(400, "messages must be a non-empty list", "messages")
    user = [m.get("content") for m in messages if m.get("role") == "user"]
    if not user or not isinstance(user[-1], str):
        return error(400, "a user message with text content is required", "messages")
    fmt = body.get("response_format") or {}
    schema = (fmt.get("json_schema") or {}).get("schema") if fmt.get("type") == "json_schema" else None
    if not isinstance(schema, dict) or schema.get("type") != "object":
        return error(400, "this server answers only with response_format json_schema of an object",
                     "response_format")
    content, confidence = answer(schema, user[-1])
    text = json.dumps(content)
    logprobs = {"content": [{"token": text, "logprob": math.log(max(confidence, 1e-9)), "bytes": None,
                             "top_logprobs": []}]} if body.get("logprobs") else None
    return JSONResponse({
        "id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion", "created": int(time.time()),
        "model": MODEL,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text, "refusal": None},
                     "logprobs": logprobs, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": sum(len(str(m.get("content", "")).split()) for m in messages),
                  "completion_tokens": len(text.split()), "total_tokens": 0},
    })


app = Starlette(routes=[Route("/v1/models", models), Route("/v1/chat/completions", chat, methods=["POST"])])

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
