"""File URIs as Iceberg writes them (``file:///db/warehouse/...``, percent-encoded) and the
local paths they name."""

from __future__ import annotations

from urllib.parse import unquote, urlparse


def local_path(uri: str) -> str:
    """The local path a ``file://`` URI names (a plain path is returned as it is)."""
    parsed = urlparse(uri)
    return unquote(parsed.path) if parsed.scheme == "file" else uri
