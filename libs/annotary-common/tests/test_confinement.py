"""file:// reads and folder listings stay inside the allowed import roots: ``..``, %-encoded ``..``, absolute
paths elsewhere, symlinks (files and folders) that lead out, and NUL bytes are refused."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from annotary_common.settings import CommonSettings
from annotary_common.storage import LocalObjectStore, ObjectNotFound, SourceNotAllowed


@pytest.fixture()
def layout(tmp_path: Path) -> tuple[LocalObjectStore, Path, Path]:
    root = tmp_path / "imports"
    (root / "set").mkdir(parents=True)
    (root / "set" / "a.txt").write_text("inside")
    outside = tmp_path / "secret"
    outside.mkdir()
    (outside / "key.txt").write_text("outside")
    store = LocalObjectStore(CommonSettings(data_dir=tmp_path / "data", import_roots=str(root)))
    return store, root, outside


async def test_inside_the_root_is_read(layout: tuple[LocalObjectStore, Path, Path]) -> None:
    store, root, _ = layout
    assert await store.read_uri((root / "set" / "a.txt").as_uri()) == b"inside"
    assert await store.read_uri(f"file://{root}/set/../set/a.txt") == b"inside"  # .. that stays inside is fine
    with pytest.raises(ObjectNotFound):
        await store.read_uri(f"file://{root}/set/missing.txt")


@pytest.mark.parametrize("suffix", [
    "/../secret/key.txt",
    "/set/../../secret/key.txt",
    "/%2e%2e/secret/key.txt",
    "/set/%2E%2E/%2e%2e/secret/key.txt",
    "/..%2fsecret%2fkey.txt",
])
async def test_traversal_is_refused(layout: tuple[LocalObjectStore, Path, Path], suffix: str) -> None:
    store, root, _ = layout
    with pytest.raises(SourceNotAllowed, match="outside the allowed import roots"):
        await store.read_uri(f"file://{root}{suffix}")


async def test_absolute_paths_elsewhere_are_refused(layout: tuple[LocalObjectStore, Path, Path]) -> None:
    store, _, outside = layout
    for uri in ("file:///etc/passwd", (outside / "key.txt").as_uri(), "file://localhost/etc/passwd",
                "file:///proc/self/environ"):
        with pytest.raises(SourceNotAllowed):
            await store.read_uri(uri)
    with pytest.raises(SourceNotAllowed):
        store.list_files(outside.as_uri())


async def test_nul_byte_is_refused(layout: tuple[LocalObjectStore, Path, Path]) -> None:
    store, root, _ = layout
    with pytest.raises(SourceNotAllowed, match="not a usable path"):
        await store.read_uri(f"file://{root}/set/a.txt%00.png")


async def test_symlinks_leading_out_are_refused(layout: tuple[LocalObjectStore, Path, Path]) -> None:
    store, root, outside = layout
    os.symlink(outside / "key.txt", root / "set" / "link.txt")
    os.symlink(outside, root / "dirlink")
    with pytest.raises(SourceNotAllowed, match="outside"):
        await store.read_uri((root / "set" / "link.txt").as_uri())
    with pytest.raises(SourceNotAllowed, match="outside"):
        await store.read_uri((root / "dirlink" / "key.txt").as_uri())
    with pytest.raises(SourceNotAllowed, match="outside"):
        store.list_files((root / "dirlink").as_uri())
    with pytest.raises(SourceNotAllowed, match=r"link\.txt links to"):  # a listing that would include it
        store.list_files((root / "set").as_uri())


async def test_symlink_inside_the_root_is_fine(layout: tuple[LocalObjectStore, Path, Path]) -> None:
    store, root, _ = layout
    os.symlink(root / "set" / "a.txt", root / "alias.txt")
    assert await store.read_uri((root / "alias.txt").as_uri()) == b"inside"


async def test_no_roots_means_no_file_reads(tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("x")
    store = LocalObjectStore(CommonSettings(data_dir=tmp_path / "data", import_roots=""))
    with pytest.raises(SourceNotAllowed):
        await store.read_uri((tmp_path / "f.txt").as_uri())
