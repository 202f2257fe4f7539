"""The gateway's memory of the tasks it leased (a submit's hint): bounded, per holder, never a view into a reply."""

from __future__ import annotations

from annotary.events.v1 import events_pb2
from annotary_annotation_api.entrypoints.lookups import LeasedTasks


def item(text: str) -> events_pb2.ItemSnapshot:
    return events_pb2.ItemSnapshot(item_id="i", project_id="p", modality="text", text=text)


def test_only_the_holder_gets_the_entry_and_it_is_a_copy() -> None:
    leased = LeasedTasks()
    original = item("hello")
    leased.put("t1", "ann", "p", original)
    original.text = "changed after the lease"
    got = leased.held_by("t1", "ann")
    assert got is not None and got.item.text == "hello" and got.project_id == "p"
    assert leased.held_by("t1", "someone else") is None
    assert leased.held_by("t2", "ann") is None
    leased.forget("t1")
    assert leased.held_by("t1", "ann") is None and len(leased) == 0 and leased.bytes == 0


def test_bounded_by_entries_and_bytes_oldest_out_first() -> None:
    by_count = LeasedTasks(capacity=2)
    for n in range(3):
        by_count.put(f"t{n}", "ann", "p", item("x"))
    assert [by_count.held_by(f"t{n}", "ann") is not None for n in range(3)] == [False, True, True]

    one = item("y" * 500).ByteSize()
    by_bytes = LeasedTasks(max_bytes=100 * one)  # a hundredth of the budget: one item just fits
    for n in range(101):
        by_bytes.put(f"t{n}", "ann", "p", item("y" * 500))
    assert len(by_bytes) == 100 and by_bytes.bytes == 100 * one
    assert by_bytes.held_by("t0", "ann") is None and by_bytes.held_by("t100", "ann") is not None
    by_bytes.put("big", "ann", "p", item("z" * 600))  # over a hundredth: not kept, its submit looks the task up
    assert by_bytes.held_by("big", "ann") is None and by_bytes.bytes == 100 * one
    by_bytes.put("t100", "ann", "p", item("y" * 500))  # leased again: replaced, not counted twice
    assert by_bytes.bytes == 100 * one
