"""Issue 8, done-when 3: a manager runs a whole project from the browser (Debian's Chromium, Playwright) on the
real stack: create it (kind, label schema, policy), import data, watch progress, manage gold items, annotators
and the policy, review, export and download. And: edit a label schema into a new version and migrate the
accepted annotations with a label mapping (old annotations keep their version until migrated).

``ANNOTARY_SCREENSHOTS=docs/screenshots`` writes create-project.png, manage-project.png, manage-people.png,
manage-export.png and schema-migrate.png there."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, expect

from annotary_cli.stack import Stack
from tests.integration.test_pipeline import wait_items
from tests.integration.test_review_ui import box, exported, sign_in, wait_reviews, work_all
from tests.integration.test_workspace_screenshots import snap

TEXTS = [
    "What a wonderful little film, I laughed all the way through.",
    "The service was slow and the soup was cold.",
    "Best concert of the year, the band was on fire.",
    "I would not recommend this phone to anyone.",
]


def sentiment(task: dict[str, Any], flip: bool = False) -> list[dict[str, Any]]:
    text = task["item"]["text"]
    good = any(w in text for w in ("wonderful", "Best"))
    if flip and "soup" in text:
        good = not good
    return [{"type": "choice", "name": "sentiment", "value": "pos" if good else "neg"}]


def test_a_manager_runs_a_project_from_the_browser(
    stack: Stack, make_user: Any, browser: Browser, shots: Path, tmp_path: Path
) -> None:
    manager, reviewer = make_user("manager"), make_user("reviewer")
    ann = [make_user("annotator"), make_user("annotator")]
    ann_names = [a.get("/me").json()["username"] for a in ann]
    name = f"reviews-{uuid.uuid4().hex[:6]}"
    page = sign_in(browser, stack, manager.token)

    # create: a text project with one choice group; two annotators per item, disagreements go to review
    page.get_by_test_id("new-project").click()
    page.get_by_test_id("project-name").fill(name)
    page.get_by_test_id("schema-modality").select_option("text")
    page.get_by_test_id("schema-tool-choice").check()
    page.get_by_test_id("label-remove-0").click()
    page.get_by_test_id("choice-add").click()
    page.get_by_test_id("choice-name-0").fill("sentiment")
    page.get_by_test_id("choice-options-0").fill("pos, neg")
    page.get_by_test_id("attribute-add").click()
    page.get_by_test_id("attribute-name-0").fill("sarcastic")
    page.get_by_test_id("schema-guidelines").fill("Label the **overall** sentiment of the review.")
    page.get_by_test_id("policy-overlap").fill("2")
    expect(page.get_by_test_id("create-problems")).to_have_count(0)
    snap(page, shots, "create-project")
    page.get_by_test_id("create-submit").click()
    expect(page.get_by_test_id("manage-project")).to_be_visible()
    project = next(p for p in manager.get("/projects").json() if p["name"] == name)
    pid = project["id"]
    assert project["schema"]["choices"] == [{"name": "sentiment", "options": ["pos", "neg"], "multiple": False}]
    assert project["schema"]["attributes"] == [{"name": "sarcastic", "type": "boolean"}]
    assert project["policy"]["overlap"] == 2 and project["schema"]["modality"] == "text"

    # import: a JSONL file picked in the browser
    jsonl = tmp_path / "reviews.jsonl"
    jsonl.write_text("".join(json.dumps({"external_id": f"r{k}", "text": t}) + "\n" for k, t in enumerate(TEXTS)))
    page.get_by_test_id("tab-import").click()
    page.get_by_test_id("import-files").set_input_files(str(jsonl))
    page.get_by_test_id("import-upload").click()
    expect(page.get_by_test_id("import-result")).to_contain_text("Imported 4 items")
    wait_items(manager, pid, 4)

    # gold: one item with its expected answer, and a qualification set drawn from gold
    page.get_by_test_id("tab-gold").click()
    page.get_by_test_id("gold-external-id").fill("gold-1")
    page.get_by_test_id("gold-content").fill("Absolutely dreadful, a waste of money.")
    page.get_by_test_id("gold-choice-sentiment").select_option("neg")
    page.get_by_test_id("gold-add").click()
    expect(page.get_by_test_id("gold-result")).to_contain_text("Gold item gold-1 added")
    deadline = time.monotonic() + 30
    while manager.get(f"/projects/{pid}/stats").json()["gold_items"] < 1:
        assert time.monotonic() < deadline, "the gold item never arrived"
        time.sleep(0.2)

    # policy: review a sample of what is accepted too
    page.get_by_test_id("tab-policy").click()
    page.get_by_test_id("policy-review").select_option("sample")
    page.get_by_test_id("policy-review-rate").fill("0")
    page.get_by_test_id("policy-save").click()
    expect(page.get_by_test_id("policy-saved")).to_be_visible()
    assert manager.get(f"/projects/{pid}").json()["policy"]["review"] == "sample:0"

    # the annotators work (over the API); the progress tab follows: 3 accepted, 1 in review
    work_all(ann[0], pid, sentiment)
    work_all(ann[1], pid, lambda t: sentiment(t, flip=True))
    page.get_by_test_id("tab-progress").click()
    expect(page.get_by_test_id("state-accepted")).to_have_text("3", timeout=30_000)
    expect(page.get_by_test_id("state-under_review")).to_have_text("1", timeout=30_000)
    expect(page.get_by_test_id("gold-items")).to_have_text("1")
    snap(page, shots, "manage-project")

    # annotators: pause one with a reason (they cannot lease), reinstate; promote the other to reviewer
    page.get_by_test_id("tab-people").click()
    page.get_by_test_id(f"pause-reason-{ann_names[1]}").fill("Sarcasm read as praise; please reread the guidelines.")
    page.get_by_test_id(f"pause-{ann_names[1]}").click()
    expect(page.get_by_test_id(f"state-{ann_names[1]}")).to_contain_text("paused: Sarcasm")
    deadline = time.monotonic() + 30
    while (reply := ann[1].post(f"/projects/{pid}/tasks/next")).status_code != 403:
        assert time.monotonic() < deadline, f"the pause never reached the orchestrator: {reply.status_code}"
        time.sleep(0.2)
    assert "paused" in reply.json()["detail"]
    snap(page, shots, "manage-people")
    page.get_by_test_id(f"reinstate-{ann_names[1]}").click()
    expect(page.get_by_test_id(f"state-{ann_names[1]}")).to_have_text("active")
    page.get_by_test_id(f"role-{ann_names[0]}").select_option("reviewer")
    expect(page.get_by_test_id(f"role-{ann_names[0]}")).to_have_value("reviewer")
    assert ann[0].get("/me").json()["role"] == "reviewer"

    # review: the one disagreement, from the manage screen
    wait_reviews(reviewer, pid, 1)
    page.get_by_test_id("open-review").click()
    expect(page.get_by_test_id("choice-row-sentiment")).to_have_attribute("data-status", "disputed")
    page.get_by_test_id(f"accept-{ann_names[0]}").click()
    expect(page.get_by_test_id("review-empty")).to_be_visible()

    # export and download it in the browser
    exported(manager, pid, lambda rows: len(rows) == 4)
    page.get_by_test_id("back-to-projects").click()
    page.get_by_test_id(f"manage-{name}").click()
    page.get_by_test_id("tab-export").click()
    page.get_by_test_id("export-format").select_option("jsonl")
    page.get_by_test_id("export-start").click()
    expect(page.get_by_test_id("export-status")).to_have_attribute("data-status", "done", timeout=30_000)
    snap(page, shots, "manage-export")
    with page.expect_download() as info:
        page.get_by_test_id("export-download").click()
    path = tmp_path / "download.jsonl"
    info.value.save_as(path)
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    assert sorted(r["external_id"] for r in rows) == ["r0", "r1", "r2", "r3"]
    answers = {r["external_id"]: r["annotations"][0]["result"][0]["value"] for r in rows}
    assert answers == {"r0": "pos", "r1": "neg", "r2": "pos", "r3": "neg"}
    page.close()


IMAGE_SCHEMA: dict[str, Any] = {
    "modality": "image",
    "tools": ["bbox"],
    "labels": [{"name": "cat", "color": "#e6194b", "hotkey": "1"}, {"name": "dog", "color": "#4363d8", "hotkey": "2"}],
}


def test_edit_a_schema_and_migrate(stack: Stack, make_user: Any, browser: Browser, shots: Path) -> None:
    from tests.integration.images import photo_crops

    manager, annotator = make_user("manager"), make_user("annotator")
    name = f"migrate-{uuid.uuid4().hex[:6]}"
    pid = manager.create_project(name, IMAGE_SCHEMA, {"overlap": 1, "review": "none"})["id"]
    files = [("files", (f"pet-{k}.png", data, "image/png")) for k, (_, data) in enumerate(photo_crops(3, (320, 240)))]
    assert manager.post(f"/projects/{pid}/items", files=files).status_code == 201
    wait_items(manager, pid, 3)
    work_all(annotator, pid, lambda t: [box("cat", 10), box("dog", 150)])
    before = exported(manager, pid, lambda rows: len(rows) == 3)
    assert all(r["annotations"][0]["schema_version"] == 1 for r in before)

    # the API refuses a mapping that does not fit, naming the label, and changes nothing
    v2 = {**IMAGE_SCHEMA, "labels": [{"name": "feline"}, {"name": "dog"}, {"name": "bird"}]}
    bad = manager.post(f"/projects/{pid}/schema/migrate", json={"schema": v2, "mapping": {}})
    assert bad.status_code == 422 and "'cat'" in bad.json()["detail"], bad.text
    bad = manager.post(f"/projects/{pid}/schema/migrate", json={"schema": v2, "mapping": {"cat": "tiger"}})
    assert bad.status_code == 422 and "'tiger' is not a label of the new version" in bad.json()["detail"]
    assert annotator.post(f"/projects/{pid}/schema/migrate", json={"schema": v2}).status_code == 403
    assert manager.get(f"/projects/{pid}").json()["schema_version"] == 1

    # in the browser: rename cat to feline, add bird; the mapping suggests cat -> feline
    page = sign_in(browser, stack, manager.token)
    page.get_by_test_id(f"manage-{name}").click()
    page.get_by_test_id("tab-schema").click()
    expect(page.get_by_test_id("schema-version-1")).to_be_visible()
    page.get_by_test_id("label-name-0").fill("feline")
    page.get_by_test_id("label-add").click()
    page.get_by_test_id("label-name-2").fill("bird")
    page.get_by_test_id("label-hotkey-2").fill("3")
    expect(page.get_by_test_id("map-cat")).to_have_value("feline")
    expect(page.get_by_test_id("map-dog")).to_have_value("dog")
    snap(page, shots, "schema-migrate")
    page.get_by_test_id("schema-migrate").click()
    expect(page.get_by_test_id("migrate-result")).to_contain_text(
        "Version 2 saved; 3 accepted annotations of version 1 migrated (3 regions relabeled, 0 dropped)"
    )
    expect(page.get_by_test_id("schema-version-2")).to_contain_text("from v1 by")
    expect(page.get_by_test_id("schema-version")).to_have_text("schema v2")

    after = exported(manager, pid, lambda rows: all(r["annotations"][0]["schema_version"] == 2 for r in rows))
    for row in after:
        labels = sorted(r["label"] for r in row["annotations"][0]["result"])
        assert labels == ["dog", "feline"], row
    versions = manager.get(f"/projects/{pid}/schema/versions").json()
    assert [v["version"] for v in versions] == [1, 2]
    assert [label["name"] for label in versions[0]["schema"]["labels"]] == ["cat", "dog"]  # v1 kept as it was
    assert versions[1]["migrations"][0]["mapping"] == {"cat": "feline"}

    # dropping a label: v3 without dog, its regions dropped on migration
    v3 = {**IMAGE_SCHEMA, "labels": [{"name": "feline"}, {"name": "bird"}]}
    reply = manager.post(f"/projects/{pid}/schema/migrate", json={"schema": v3, "mapping": {"dog": None}})
    assert reply.status_code == 200, reply.text
    assert (reply.json()["to_version"], reply.json()["migrated"], reply.json()["regions_dropped"]) == (3, 3, 3)
    final = exported(manager, pid, lambda rows: all(r["annotations"][0]["schema_version"] == 3 for r in rows))
    assert all([r["label"] for r in row["annotations"][0]["result"]] == ["feline"] for row in final)

    # a new version without migrating: the accepted annotations keep version 3
    page.get_by_test_id("back-to-projects").click()
    page.get_by_test_id(f"manage-{name}").click()
    page.get_by_test_id("tab-schema").click()
    page.get_by_test_id("schema-guidelines").fill("Boxes around whole animals.")
    page.get_by_test_id("schema-save-only").click()
    expect(page.get_by_test_id("migrate-result")).to_have_text(
        "Version 4 saved; the accepted annotations keep their version."
    )
    assert manager.get(f"/projects/{pid}").json()["schema"]["guidelines"] == "Boxes around whole animals."
    kept = exported(manager, pid, lambda rows: len(rows) == 3)
    assert {row["annotations"][0]["schema_version"] for row in kept} == {3}
    page.close()


def test_a_manager_connects_a_model_from_the_browser(stack: Stack, make_user: Any, browser: Browser,
                                                     shots: Path) -> None:
    """The Models tab: a model that does not answer is refused with the reason and nothing is registered; the
    built-in voice-activity model (the one model an audio project is offered) connects and serves at once."""
    manager = make_user("manager")
    text_name, audio_name = f"texts-{uuid.uuid4().hex[:6]}", f"voices-{uuid.uuid4().hex[:6]}"
    text_pid = manager.create_project(text_name, {"modality": "text", "tools": ["span"], "labels": [{"name": "PER"}]},
                                      {"overlap": 1})["id"]
    audio_schema = {"modality": "audio", "tools": ["segment"], "labels": [{"name": "speech"}, {"name": "music"}]}
    audio_pid = manager.create_project(audio_name, audio_schema, {"overlap": 1})["id"]
    page = sign_in(browser, stack, manager.token)

    page.get_by_test_id(f"manage-{text_name}").click()
    page.get_by_test_id("tab-models").click()
    expect(page.get_by_test_id("no-models")).to_be_visible()
    page.get_by_test_id("connect-plugin").select_option("ls-ml-backend")
    page.get_by_test_id("connect-url").fill("http://127.0.0.1:9/")  # nothing listens there
    page.get_by_test_id("connect").click()
    expect(page.get_by_test_id("models-error")).to_contain_text("did not answer")
    assert manager.get(f"/projects/{text_pid}/models").json() == []

    page.goto(stack.api_url + "/")
    page.get_by_test_id(f"manage-{audio_name}").click()
    page.get_by_test_id("tab-models").click()
    plugins = page.get_by_test_id("connect-plugin").locator("option").evaluate_all("os => os.map(o => o.value)")
    assert plugins == ["audio-energy-vad"]
    expect(page.get_by_test_id("connect-url")).to_have_count(0)  # a built-in model needs no address
    page.get_by_test_id("connect").click()
    version = f"audio-energy-vad@{audio_pid}/v1"
    expect(page.get_by_test_id(f"model-status-{version}")).to_have_text("serving")
    expect(page.get_by_test_id("models-error")).to_have_count(0)
    snap(page, shots, "manage-models")
    [registered] = manager.get(f"/projects/{audio_pid}/models").json()
    assert (registered["model_version"], registered["serving"]) == (version, True)
    assert registered["promoted_by"] == manager.get("/me").json()["username"]
