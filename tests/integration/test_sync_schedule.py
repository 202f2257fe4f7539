"""A scheduled S3 sync on the real stack: set a schedule over REST, upload to S3 (moto), and the scheduled run imports
it without anyone calling sync; another key arrives the same way; nothing is imported twice; the schedule is listed,
refused when bad, and cleared."""

from __future__ import annotations

import time
import uuid
from typing import Any

from annotary_cli.stack import Stack
from tests.integration.client import Api
from tests.integration.images import photo_crops
from tests.integration.test_pipeline import BOX_SCHEMA, wait_items
from tests.integration.test_sources import s3_client


def wait_schedule(api: Api, pid: str, runs: int, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        reply = api.get(f"/projects/{pid}/sources/sync/schedule")
        assert reply.status_code == 200, reply.text
        (schedule,) = reply.json()
        if schedule["runs"] >= runs or time.monotonic() > deadline:
            return dict(schedule)
        time.sleep(0.2)


def test_scheduled_s3_sync_imports_new_keys_without_a_call(stack: Stack, make_user: Any) -> None:
    manager: Api = make_user("manager")
    pid = manager.create_project(f"scheduled-{uuid.uuid4().hex[:6]}", BOX_SCHEMA, {"overlap": 1})["id"]
    bucket = f"drop-{uuid.uuid4().hex[:8]}"
    s3 = s3_client(stack)
    s3.create_bucket(Bucket=bucket)
    uri = f"s3://{bucket}/incoming"
    (a, a_data), (b, b_data) = photo_crops(2)
    s3.put_object(Bucket=bucket, Key=f"incoming/{a}", Body=a_data)

    reply = manager.http.put(f"/projects/{pid}/sources/sync/schedule", json={"uri": uri, "interval_s": 1})
    assert reply.status_code == 200, reply.text
    assert (reply.json()["uri"], reply.json()["interval_s"], reply.json()["runs"]) == (uri, 1, 0)

    assert sum(wait_items(manager, pid, 1).values()) == 1  # the scheduled run, no sync call
    first = wait_schedule(manager, pid, 1)
    assert (first["last_status"], first["last_created"]) == ("ok", 1)

    s3.put_object(Bucket=bucket, Key=f"incoming/{b}", Body=b_data)
    assert sum(wait_items(manager, pid, 2).values()) == 2
    runs = wait_schedule(manager, pid, first["runs"] + 3)["runs"]  # a few more runs: nothing new
    later = wait_schedule(manager, pid, runs)
    assert (later["last_status"], later["last_keys_synced"], later["last_created"]) == ("ok", 0, 0)
    assert sum(manager.get(f"/projects/{pid}/stats").json()["states"].values()) == 2  # nothing imported twice
    sync = manager.post(f"/projects/{pid}/sources/sync", json={"uri": uri})  # the manual sync agrees
    assert (sync.json()["keys_synced"], sync.json()["unchanged"]) == (0, 2)

    bad = manager.http.put(f"/projects/{pid}/sources/sync/schedule", json={"uri": uri, "interval_s": 0})
    assert bad.status_code == 422 and "interval_s" in bad.text
    missing = manager.http.put(f"/projects/{pid}/sources/sync/schedule",
                               json={"uri": "s3://no-such-bucket-x/p", "interval_s": 5})
    assert missing.status_code == 404 and "no-such-bucket-x" in missing.json()["detail"]

    cleared = manager.http.delete(f"/projects/{pid}/sources/sync/schedule", params={"uri": uri})
    assert cleared.status_code == 200, cleared.text
    assert manager.get(f"/projects/{pid}/sources/sync/schedule").json() == []
    again = manager.http.delete(f"/projects/{pid}/sources/sync/schedule", params={"uri": uri})
    assert again.status_code == 404
    annotator: Api = make_user("annotator")
    assert annotator.http.put(f"/projects/{pid}/sources/sync/schedule",
                              json={"uri": uri, "interval_s": 5}).status_code == 403
