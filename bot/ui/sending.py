"""Sending from scheduled jobs through discord.py, exactly once (see :mod:`bot.sends`).

discord.py itself retries a 429 (sleeping its ``retry_after``, up to five tries; the bot sets
``max_ratelimit_timeout`` so a long one raises :class:`discord.RateLimited` instead of sleeping
through a job's window) and a 500, 502, 504 or 524 (sleeping 1, 3, 5, 7 s; five tries, with the
same body and so the same nonce). It doesn't retry a 503, a dropped connection or a timeout.
This module sorts what reaches the bot:

* **passing, nothing created**: a 429 (with its ``retry_after``); a 502 or 503 (Discord documents
  a 502 as "no gateway was available to process your request", and a 503 is a refusal to take it
  now); a connection never made;
* **passing, maybe created**: another 5xx (500, 504, 524: it may have been processed), a
  connection dropped before the answer, a timeout;
* anything else (a 4xx: DMs closed, unknown channel, missing permissions) is Discord's answer and
  goes back to the port as before.

Ports wrap the create of a message in :func:`scheduled_send` and the look-ups before it (fetching a
user, opening a DM) in :func:`retry_if_transient`. Outside a job both do exactly what the bare
call would.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta

import aiohttp
import discord

from bot.sends import Delivery, RetryLater, TransientSendError, current_run

MAX_RATELIMIT_TIMEOUT = 30.0  # seconds; discord.py's smallest allowed value


def _retry_after(exc: discord.HTTPException) -> float | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None) or {}
    for name in ("Retry-After", "X-RateLimit-Reset-After"):
        try:
            return float(headers[name])
        except (KeyError, TypeError, ValueError):
            continue
    return None


def transient(exc: BaseException) -> TransientSendError | None:
    """A passing failure as the send record sees it, or None (Discord refused, or a bug)."""
    if isinstance(exc, discord.RateLimited):
        return TransientSendError("rate-limited", unsure=False, retry_after=exc.retry_after)
    if isinstance(exc, discord.HTTPException):
        if exc.status == 429:
            return TransientSendError("http-429", unsure=False, retry_after=_retry_after(exc))
        if exc.status in (502, 503):
            return TransientSendError(f"http-{exc.status}", unsure=False)
        if exc.status >= 500:
            return TransientSendError(f"http-{exc.status}", unsure=True)
        return None
    if isinstance(exc, aiohttp.ClientConnectorError):
        return TransientSendError("connect-failed", unsure=False)  # the request never left
    if isinstance(exc, aiohttp.ClientError | OSError | TimeoutError):
        return TransientSendError(type(exc).__name__, unsure=True)
    return None


async def scheduled_send(key: str, send: Callable[[str | int], Awaitable[discord.Message]]) -> Delivery:
    """Create one message, at most once per job occurrence.

    ``send(nonce)`` creates it (``channel.send(..., nonce=nonce)``: discord.py then sets
    ``enforce_nonce``). ``key`` names the message within the job (``"reminder"``,
    ``f"offer:{id}"``): the same key on every run. In a job, a passing failure raises
    :class:`~bot.sends.RetryLater`; a message sent by an earlier run comes back as
    ``sent_before`` without a request, and one that may have gone through outside Discord's dedupe
    window as ``maybe_sent``. Outside a job: a plain send with a random nonce (what discord.py
    does by itself), errors as discord.py raises them.
    """
    run = current_run()
    if run is None:
        message = await send(secrets.randbits(64))
        return Delivery("sent", message.channel.id, message.id)

    async def attempt(nonce: str) -> tuple[int, int]:
        try:
            message = await send(nonce)
        except Exception as exc:
            found = transient(exc)
            if found is None:
                raise
            raise found from exc
        return message.channel.id, message.id

    return await run.ledger.send(run, key, attempt)


@contextlib.contextmanager
def retry_if_transient() -> Iterator[None]:
    """Around look-ups before a send (no message is created in them): in a job, a passing failure
    becomes :class:`~bot.sends.RetryLater`, so the port's own error handling doesn't take a 503 for
    "this person can't be reached"."""
    try:
        yield
    except RetryLater:
        raise
    except Exception as exc:
        found = transient(exc) if current_run() is not None else None
        if found is None:
            raise
        not_before = None
        if found.retry_after:
            run = current_run()
            assert run is not None
            not_before = run.ledger.clock.now() + timedelta(seconds=found.retry_after)
        raise RetryLater(found.kind, not_before=not_before) from exc
