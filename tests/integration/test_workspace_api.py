"""Issue 5: the workspace's own routes (drafts, flags, comments, rework, assist) on the real stack, and in the
browser the reviewer's feedback shown next to the rejected annotation, a flag and a comment."""

from __future__ import annotations

import time
import uuid
from typing import Any

from playwright.sync_api import Browser, expect

from annotary_cli.stack import Stack
from tests.integration.client import Api
from tests.integration.test_pipeline import wait_items
from tests.integration.test_workspace_image import open_workspace, wait_ready

SCHEMA = {"modality": "text", "tools": ["span"], "labels": [{"name": "PER"}, {"name": "LOC"}]}
TEXT = "Ada Lovelace lived in London."




def text_project(manager: Api, texts: list[str], policy: dict[str, Any] | None = None) -> str:
    pid: str = manager.create_project(f"ws-api-{uuid.uuid4().hex[:6]}", SCHEMA, policy or {"overlap": 1})["id"]
    items = [{"external_id": f"t{i}", "text": t} for i, t in enumerate(texts)]
    assert manager.post(f"/projects/{pid}/items", json=items).status_code == 201
    wait_items(manager, pid, len(texts))
    return pid


def test_drafts_belong_to_the_lease_holder(make_user: Any) -> None:
    manager, ann, other = make_user("manager"), make_user("annotator"), make_user("annotator")
    pid = text_project(manager, [TEXT])
    task = ann.post(f"/projects/{pid}/tasks/next").json()
    tid = task["id"]
    assert ann.get(f"/tasks/{tid}/draft").status_code == 204  # nothing saved yet
    regions = [{"type": "span", "label": "PER", "start": 0, "end": 12, "id": "a", "_pending": True}]
    saved = ann.http.put(f"/tasks/{tid}/draft", json={"result": regions, "lead_time_ms": 1234})
    assert saved.status_code == 200, saved.text
    got = ann.get(f"/tasks/{tid}/draft").json()
    assert got["result"] == regions and got["lead_time_ms"] == 1234 and got["updated_at"].endswith("Z")
    # somebody else's task does not exist for them; bad bodies name the field
    assert other.get(f"/tasks/{tid}/draft").status_code == 404
    assert other.http.put(f"/tasks/{tid}/draft", json={"result": []}).status_code == 404
    bad = ann.http.put(f"/tasks/{tid}/draft", json={"result": "nope"})
    assert bad.status_code == 422 and "result" in bad.json()["detail"]
    assert ann.get("/tasks/not-a-uuid/draft").status_code == 404
    # after the submit the lease is gone: the draft cannot be read or written, and its author may drop it
    assert ann.post(f"/tasks/{tid}/submit", json={"result": regions[:1]}).status_code == 200
    gone = ann.get(f"/tasks/{tid}/draft")
    assert gone.status_code == 409 and "submitted" in gone.json()["detail"]
    assert ann.http.put(f"/tasks/{tid}/draft", json={"result": []}).status_code == 409
    assert ann.http.delete(f"/tasks/{tid}/draft").status_code == 204


def test_flags_and_comments(make_user: Any) -> None:
    manager, ann, other, reviewer = (
        make_user("manager"),
        make_user("annotator"),
        make_user("annotator"),
        make_user("reviewer"),
    )
    pid = text_project(manager, [TEXT])
    tid = ann.post(f"/projects/{pid}/tasks/next").json()["id"]
    blank = ann.post(f"/tasks/{tid}/flag", json={"reason": "   "})
    assert blank.status_code == 422 and "reason" in blank.json()["detail"]
    flag = ann.post(f"/tasks/{tid}/flag", json={"reason": "is London the city or the person?"})
    assert flag.status_code == 201, flag.text
    assert flag.json()["reason"] == "is London the city or the person?" and flag.json()["task_id"] == tid
    assert other.post(f"/tasks/{tid}/flag", json={"reason": "x"}).status_code == 404
    assert ann.get(f"/projects/{pid}/flags").status_code == 403
    flags = reviewer.get(f"/projects/{pid}/flags").json()
    assert [f["reason"] for f in flags] == ["is London the city or the person?"] and flags[0]["username"]

    assert ann.post(f"/tasks/{tid}/comments", json={"body": "London is a place here"}).status_code == 201
    assert reviewer.post(f"/tasks/{tid}/comments", json={"body": "agreed"}).status_code == 201
    assert other.get(f"/tasks/{tid}/comments").status_code == 404
    assert ann.post(f"/tasks/{tid}/comments", json={"body": ""}).status_code == 422
    comments = ann.get(f"/tasks/{tid}/comments").json()
    assert [(c["body"], c["task_id"]) for c in comments] == [("London is a place here", tid), ("agreed", tid)]
    assert comments[1]["username"] != comments[0]["username"]


def test_assist_answers_501_until_a_model_serves_it(make_user: Any) -> None:
    manager, ann, other = make_user("manager"), make_user("annotator"), make_user("annotator")
    pid = manager.create_project(
        f"ws-assist-{uuid.uuid4().hex[:6]}", {"modality": "image", "tools": ["polygon"], "labels": [{"name": "x"}]}, {}
    )["id"]
    from tests.integration.images import photo_crops

    name, png = photo_crops(1)[0]
    assert manager.post(f"/projects/{pid}/items", files=[("files", (name, png, "image/png"))]).status_code == 201
    wait_items(manager, pid, 1)
    tid = ann.post(f"/projects/{pid}/tasks/next").json()["id"]
    box = {"type": "bbox", "x": 1, "y": 2, "w": 30, "h": 40}
    reply = ann.post(f"/tasks/{tid}/assist", json={"kind": "box_to_polygon", "region": box, "label": "x"})
    assert reply.status_code == 501, reply.text
    assert "preannotate" in reply.json()["detail"] and reply.json()["kind"] == "box_to_polygon"
    click = ann.post(f"/tasks/{tid}/assist", json={"kind": "click_to_segment", "points": [[10, 10, 1]]})
    assert click.status_code == 501
    assert ann.post(f"/tasks/{tid}/assist", json={"kind": "click_to_segment"}).status_code == 422
    assert ann.post(f"/tasks/{tid}/assist", json={"kind": "magic"}).status_code == 422
    assert (
        ann.post(f"/tasks/{tid}/assist", json={"kind": "box_to_polygon", "region": {"type": "span"}}).status_code == 422
    )
    assert other.post(f"/tasks/{tid}/assist", json={"kind": "box_to_polygon", "region": box}).status_code == 404


def test_rework_shows_the_feedback_next_to_the_rejected_annotation(
    stack: Stack, make_user: Any, browser: Browser
) -> None:
    manager, ann, reviewer = make_user("manager"), make_user("annotator"), make_user("reviewer")
    pid = text_project(manager, [TEXT], {"overlap": 1, "review": "all"})
    first = ann.post(f"/projects/{pid}/tasks/next").json()
    wrong = [{"type": "span", "label": "LOC", "start": 0, "end": 12, "id": "ada"}]
    assert ann.post(f"/tasks/{first['id']}/submit", json={"result": wrong}).status_code == 200
    assert ann.get(f"/tasks/{first['id']}/rework").json() == {"round": 1, "feedback": None, "previous": None}
    item_id = first["item"]["id"]
    deadline = time.monotonic() + 30
    while not any(r["item"]["id"] == item_id for r in reviewer.get(f"/projects/{pid}/reviews").json()):
        assert time.monotonic() < deadline, "the item never reached review"
        time.sleep(0.3)
    decision = reviewer.post(
        f"/projects/{pid}/reviews/{item_id}", json={"round": 1, "decision": "reject", "feedback": "Ada is a person"}
    )
    assert decision.status_code == 200, decision.text
    deadline = time.monotonic() + 30
    while (again := ann.post(f"/projects/{pid}/tasks/next")).status_code != 200:
        assert time.monotonic() < deadline, again.text
        time.sleep(0.3)
    second = again.json()
    assert second["round"] == 2 and second["feedback"] == "Ada is a person"
    context = ann.get(f"/tasks/{second['id']}/rework").json()
    assert context["feedback"] == "Ada is a person" and context["previous"]["round"] == 1
    assert context["previous"]["result"] == wrong

    # in the browser: the feedback next to the rejected annotation, loaded to be corrected
    page = open_workspace(browser, stack, ann.token, manager.get(f"/projects/{pid}").json()["name"])
    wait_ready(page)
    expect(page.get_by_test_id("feedback")).to_contain_text("Ada is a person")
    expect(page.get_by_test_id("previous-round")).to_contain_text("Round 1 was rejected")
    mark = page.locator("[data-testid=text-content] [data-testid=region]")
    expect(mark).to_have_count(1)
    assert mark.get_attribute("data-label") == "LOC"
    mark.click()
    page.keyboard.press("1")  # relabel: PER
    assert mark.get_attribute("data-label") == "PER"
    # a flag with its reason, and a comment for the reviewer
    page.keyboard.press("Shift+F")
    page.get_by_test_id("flag-reason").fill("the name could be a ship")
    page.get_by_test_id("flag-send").click()
    expect(page.get_by_test_id("flagged")).to_be_visible()
    page.keyboard.press("c")
    page.keyboard.type("fixed: Ada is PER")
    page.keyboard.press("Control+Enter")
    expect(page.get_by_test_id("comment")).to_have_count(1)
    page.get_by_test_id("submit").click()
    expect(page.get_by_test_id("nothing-left")).to_be_visible(timeout=10_000)
    assert [f["reason"] for f in reviewer.get(f"/projects/{pid}/flags").json()] == ["the name could be a ship"]
    assert [c["body"] for c in reviewer.get(f"/tasks/{second['id']}/comments").json()] == ["fixed: Ada is PER"]
    deadline = time.monotonic() + 20
    while (task := manager.get(f"/tasks/{second['id']}").json())["state"] != "submitted":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert [(r["label"], r["start"], r["end"]) for r in task["result"]] == [("PER", 0, 12)]
    page.close()


def _get_task_calls(stack: Stack) -> float:
    """GetTask calls the orchestrator answered so far (its gRPC duration histogram's count)."""
    from tests.integration.test_observability import scrape

    _, samples = scrape(f"http://127.0.0.1:{stack.http_ports['orchestrator']}/metrics")
    method = "OrchestratorService/GetTask"
    return sum(v for (name, labels), v in samples.items()
               if name == "annotary_grpc_server_duration_seconds_count" and dict(labels).get("method") == method)


def test_the_holders_submit_uses_the_task_as_the_gateway_leased_it(stack: Stack, make_user: Any) -> None:
    """The gateway remembers the tasks it leased: the holder's submit is checked against the item they were given
    without asking the orchestrator for the task again. Invalid work is still refused (422), a lease lost since is
    still refused by the orchestrator (409, the work valid or not), and neither changes anything."""
    manager, ann = make_user("manager"), make_user("annotator")
    pid = text_project(manager, [TEXT, "Grace Hopper lived in Arlington."])
    first = ann.post(f"/projects/{pid}/tasks/next").json()
    before = _get_task_calls(stack)
    bad = ann.post(f"/tasks/{first['id']}/submit", json={"result": [
        {"type": "span", "label": "ORG", "start": 0, "end": 12}]})
    assert bad.status_code == 422 and "ORG" in bad.json()["detail"], bad.text
    # refused work is checked again against the task as it is now (the lease may be lost: that answers 409)
    assert _get_task_calls(stack) == before + 1
    good = [{"type": "span", "label": "PER", "start": 0, "end": 12}]
    done = ann.post(f"/tasks/{first['id']}/submit", json={"result": good})
    assert done.status_code == 200 and done.json()["state"] == "submitted", done.text
    assert _get_task_calls(stack) == before + 1  # the accepted submit did not ask the orchestrator for the task

    second = ann.post(f"/projects/{pid}/tasks/next").json()
    me = ann.get("/me").json()["id"]
    assert manager.post(f"/projects/{pid}/annotators/{me}/pause", json={"reason": "audit"}).status_code == 200
    deadline = time.monotonic() + 30
    while manager.get(f"/tasks/{second['id']}").json()["state"] == "assigned":  # the pause releases the lease
        assert time.monotonic() < deadline, "the pause never released the lease"
        time.sleep(0.1)
    for result in (good, [{"type": "span", "label": "ORG", "start": 0, "end": 5}]):  # valid or not: lease lost
        lost = ann.post(f"/tasks/{second['id']}/submit", json={"result": result})
        assert lost.status_code == 409 and "lease lost" in lost.json()["detail"], lost.text
    assert manager.get(f"/tasks/{second['id']}").json()["state"] == "unassigned"
