"""What an item's content is: its hash (the de-duplication key), media type, modality and size."""

from __future__ import annotations

import hashlib
import io
import posixpath
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlparse

from PIL import Image, UnidentifiedImageError

from annotary_ingest.domain.items import CheckedItem, ItemInvalid
from annotary_ingest.domain.probe import probe_media

# Extension -> media type; a fixed table so that every machine decides the same way.
MEDIA_TYPES: dict[str, str] = {
    ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
    ".bmp": "image/bmp", ".webp": "image/webp", ".tif": "image/tiff", ".tiff": "image/tiff",
    ".wav": "audio/wav", ".mp3": "audio/mpeg", ".ogg": "audio/ogg", ".oga": "audio/ogg", ".flac": "audio/flac",
    ".m4a": "audio/mp4", ".opus": "audio/opus",
    ".mp4": "video/mp4", ".m4v": "video/mp4", ".webm": "video/webm", ".mov": "video/quicktime",
    ".mkv": "video/x-matroska", ".avi": "video/x-msvideo",
    ".txt": "text/plain",
}
# Media type -> the extension its stored object gets.
EXTENSIONS: dict[str, str] = {
    "image/png": ".png", "image/jpeg": ".jpg", "image/gif": ".gif", "image/bmp": ".bmp", "image/webp": ".webp",
    "image/tiff": ".tif", "audio/wav": ".wav", "audio/mpeg": ".mp3", "audio/ogg": ".ogg", "audio/flac": ".flac",
    "audio/mp4": ".m4a", "audio/opus": ".opus", "video/mp4": ".mp4", "video/webm": ".webm",
    "video/quicktime": ".mov", "video/x-matroska": ".mkv", "video/x-msvideo": ".avi", "text/plain": ".txt",
}
_PIL_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "BMP": "image/bmp",
                "WEBP": "image/webp", "TIFF": "image/tiff"}


@dataclass(frozen=True)
class Content:
    content_hash: str
    modality: str
    media_type: str
    text: str | None = None
    data: bytes | None = None   # media bytes to store; None for text items
    extension: str = ""
    width: int = 0
    height: int = 0
    meta: dict[str, Any] = field(default_factory=dict)  # probed audio/video facts (duration, fps...)

    @property
    def object_key(self) -> str:
        return f"media/{self.content_hash}{self.extension}"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def media_type_from_name(name: str) -> str | None:
    path = urlparse(name).path if "://" in name else name
    return MEDIA_TYPES.get(posixpath.splitext(unquote(path))[1].lower())


def sniff_media_type(data: bytes) -> str | None:
    """The media type the first bytes announce, for the common formats."""
    head = data[:16]
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head.startswith(b"BM"):
        return "image/bmp"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "image/tiff"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return "audio/wav"
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return "video/x-msvideo"
    if head.startswith(b"ID3") or head[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
        return "audio/mpeg"
    if head.startswith(b"fLaC"):
        return "audio/flac"
    if head.startswith(b"OggS"):
        return "audio/ogg"
    if head[4:8] == b"ftyp":
        return "audio/mp4" if head[8:11] == b"M4A" else "video/mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm"
    return None


def modality_of(media_type: str | None) -> str | None:
    if not media_type:
        return None
    major = media_type.split("/", 1)[0]
    return major if major in ("image", "audio", "video", "text") else None


def describe_text(text: str) -> Content:
    return Content(content_hash=sha256(text.encode("utf-8")), modality="text", media_type="text/plain", text=text)


def image_size(data: bytes) -> tuple[int, int, str | None]:
    """(width, height, media type) of a fully decodable image; ``ValueError`` otherwise."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            limit = Image.MAX_IMAGE_PIXELS
            if limit and image.width * image.height > limit:
                raise ValueError(f"{image.width}x{image.height} is more than {limit} pixels")
            image.load()
            return image.width, image.height, _PIL_FORMATS.get(image.format or "")
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ValueError(str(exc) or type(exc).__name__) from None


def describe_media(item: CheckedItem, data: bytes) -> Content:
    """The content of a media item from its bytes; ``ItemInvalid`` naming the field and the media."""
    field, name = item.media_field, item.media_name
    if not data:
        raise ItemInvalid(f"{field}: {name} is empty")
    media_type = media_type_from_name(item.media_uri or item.filename) or sniff_media_type(data)
    by_type = modality_of(media_type)
    if item.modality and by_type and item.modality != by_type:
        raise ItemInvalid(f"modality: {item.modality!r} does not fit {name} ({media_type})")
    modality = item.modality or by_type
    if modality is None:
        raise ItemInvalid(f"{field}: cannot tell the media type of {name}; give it a file extension or set modality")
    if modality == "text":
        try:
            return describe_text(data.decode("utf-8-sig"))
        except UnicodeDecodeError:
            raise ItemInvalid(f"{field}: {name} is not UTF-8 text") from None
    width = height = 0
    if modality == "image":
        try:
            width, height, decoded_type = image_size(data)
        except ValueError as exc:
            raise ItemInvalid(f"{field}: {name} is not a decodable image ({exc})") from None
        media_type = media_type or decoded_type
    meta: dict[str, Any] = {}
    if modality in ("audio", "video"):
        facts = probe_media(data, modality)
        meta, width, height = facts.meta, facts.width, facts.height
    media_type = media_type or "application/octet-stream"
    content_hash = sha256(data)
    return Content(content_hash=content_hash, modality=modality, media_type=media_type, data=data,
                   extension=EXTENSIONS.get(media_type, ""), width=width, height=height, meta=meta)
