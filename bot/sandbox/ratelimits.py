"""Discord's per-route rate limits: a bucket per route and major parameter (channel, guild or
interaction/webhook token), the ``X-RateLimit-*`` headers, and the 429 answer."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from aiohttp import web

from bot.sandbox.wire import json_response


@dataclass
class Bucket:
    limit: int
    window: float
    remaining: int
    reset_at: float


def bucket_key(route: str, params: dict[str, str]) -> str:
    major = params.get("channel_id") or params.get("guild_id") or params.get("interaction_token") or ""
    major = major or params.get("webhook_token", "")
    return f"{route}:{major}"


def rate_headers(route: str, bucket: Bucket) -> dict[str, str]:
    reset_after = max(0.0, bucket.reset_at - time.monotonic())
    return {
        "X-RateLimit-Limit": str(bucket.limit),
        "X-RateLimit-Remaining": str(max(0, bucket.remaining)),
        "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
        "X-RateLimit-Reset-After": f"{reset_after:.3f}",
        "X-RateLimit-Bucket": hashlib.sha1(route.encode()).hexdigest()[:16],
    }


def too_many(retry_after: float, headers: dict[str, str], scope: str = "user") -> web.Response:
    headers = dict(headers)
    headers.update({"Retry-After": str(max(1, int(retry_after + 0.999))), "X-RateLimit-Scope": scope})
    headers["Via"] = "1.1 google"  # discord.py treats a 429 without Via as a Cloudflare ban
    body = {"message": "You are being rate limited.", "retry_after": retry_after, "global": False}
    return json_response(body, status=429, headers=headers)
