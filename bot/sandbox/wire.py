"""HTTP as Discord speaks it: JSON answers with Discord's exact header, and request bodies (JSON or
multipart with files) read back."""

from __future__ import annotations

import json
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any, cast

from aiohttp import web

from bot.sandbox.models import Attachment, Snowflakes


def parse_body(raw: bytes, content_type: str | None, ids: Snowflakes | None) -> tuple[Any, list[Attachment]]:
    if not raw:
        return None, []
    if content_type and content_type.startswith("multipart/form-data"):
        message = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + raw)
        payload: Any = None
        files: list[Attachment] = []
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            data = cast(bytes, part.get_payload(decode=True) or b"")
            if name == "payload_json":
                payload = json.loads(data)
            elif ids is not None:
                filename = part.get_filename() or "file"
                files.append(Attachment(ids.next(), filename, data, part.get_content_type()))
        return payload, files
    try:
        return json.loads(raw), []
    except ValueError:
        return raw.decode(errors="replace"), []


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """JSON the way Discord sends it: ``Content-Type: application/json`` with no charset
    (discord.py compares the header exactly)."""
    return web.Response(body=json.dumps(data).encode(), status=status, headers=headers, content_type="application/json")
