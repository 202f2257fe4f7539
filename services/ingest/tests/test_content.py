"""Unit tests: content hashing, media types, image decoding (no services)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable

import pytest

from annotary_ingest.domain.content import describe_media, describe_text, media_type_from_name, sniff_media_type
from annotary_ingest.domain.items import ItemInvalid, RawItem, check_item


def test_text_content_is_the_sha256_of_its_utf8() -> None:
    content = describe_text("héllo")
    assert content.content_hash == hashlib.sha256("héllo".encode()).hexdigest()
    assert (content.modality, content.media_type, content.data) == ("text", "text/plain", None)


def test_png_upload_is_an_image_with_its_size(make_png: Callable[..., bytes]) -> None:
    data = make_png(7, 5)
    content = describe_media(check_item(RawItem(data=data, filename="a.png")), data)
    assert (content.modality, content.media_type, content.width, content.height) == ("image", "image/png", 7, 5)
    assert content.content_hash == hashlib.sha256(data).hexdigest()
    assert content.object_key == f"media/{content.content_hash}.png"


def test_type_is_sniffed_without_an_extension(make_png: Callable[..., bytes]) -> None:
    data = make_png()
    content = describe_media(check_item(RawItem(data=data, filename="blob")), data)
    assert content.media_type == "image/png" and content.object_key.endswith(".png")


def test_an_image_that_does_not_decode_is_refused_by_name() -> None:
    item = check_item(RawItem(data=b"\x89PNG\r\n\x1a\nnot really", filename="broken.png"))
    with pytest.raises(ItemInvalid, match=re.escape("data: broken.png is not a decodable image")):
        describe_media(item, item.data or b"")


def test_a_truncated_png_is_refused(make_png: Callable[..., bytes]) -> None:
    data = make_png(64, 64)[:-30]
    with pytest.raises(ItemInvalid, match="is not a decodable image"):
        describe_media(check_item(RawItem(media_uri="https://h/t.png")), data)


def test_a_txt_file_is_a_text_item() -> None:
    content = describe_media(check_item(RawItem(data=b"hi there", filename="note.txt")), b"hi there")
    assert content.modality == "text" and content.text == "hi there"
    assert content.content_hash == describe_text("hi there").content_hash


def test_unknown_type_needs_a_modality() -> None:
    item = check_item(RawItem(data=b"\x00\x01\x02", filename="x.bin"))
    with pytest.raises(ItemInvalid, match=re.escape("data: cannot tell the media type of x.bin")):
        describe_media(item, b"\x00\x01\x02")
    audio = describe_media(check_item(RawItem(data=b"\x00\x01", filename="x.bin", modality="audio")), b"\x00\x01")
    assert (audio.modality, audio.media_type) == ("audio", "application/octet-stream")


def test_modality_that_contradicts_the_type_is_refused(make_png: Callable[..., bytes]) -> None:
    with pytest.raises(ItemInvalid, match=re.escape("modality: 'audio' does not fit a.png")):
        describe_media(check_item(RawItem(data=make_png(), filename="a.png", modality="audio")), make_png())


def test_media_types() -> None:
    assert media_type_from_name("s3://b/x/Y.JPEG") == "image/jpeg"
    assert media_type_from_name("file:///d/a%20b.wav") == "audio/wav"
    assert media_type_from_name("noext") is None
    assert sniff_media_type(b"\xff\xd8\xff\xe0") == "image/jpeg"
    assert sniff_media_type(b"RIFF\x00\x00\x00\x00WAVEfmt ") == "audio/wav"
    assert sniff_media_type(b"\x00\x00\x00\x18ftypmp42") == "video/mp4"
    assert sniff_media_type(b"plain") is None
