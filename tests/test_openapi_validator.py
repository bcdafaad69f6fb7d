"""Tests for bot.sandbox.openapi: requests checked against Discord's OpenAPI description."""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from bot.sandbox.openapi import KNOWN_SPEC_GAPS, OpenAPIValidator

SPEC_PATH = Path(__file__).parent / "discord_api_spec" / "openapi.json"
JSON = "application/json"
MESSAGES = "/api/v10/channels/123/messages"
CALLBACK = "/api/v10/interactions/456/aW50ZXJhY3Rpb24tdG9rZW4/callback"
COMMANDS = "/api/v10/applications/789/commands"


@pytest.fixture(scope="module")
def validator() -> OpenAPIValidator:
    return OpenAPIValidator(SPEC_PATH)


def body(payload: Any) -> bytes:
    return json.dumps(payload).encode()


def post_json(v: OpenAPIValidator, path: str, payload: Any, **kwargs: Any) -> list[str]:
    return v.validate_request("POST", path, body(payload), JSON, **kwargs)


def multipart(fields: list[dict[str, Any]]) -> tuple[bytes, str]:
    """Encode form fields exactly as discord.py does on the wire (aiohttp FormData)."""
    import aiohttp

    async def encode() -> tuple[bytes, str]:
        form = aiohttp.FormData(quote_fields=False)
        for f in fields:
            form.add_field(**f)
        writer = form()
        return await writer.as_bytes(), writer.content_type

    return asyncio.run(encode())


def file_field(index: int = 0, name: str = "note.png") -> dict[str, Any]:
    return {
        "name": f"files[{index}]",
        "value": io.BytesIO(b"\x89PNG\r\n\x1a\n\x00binary\r\n--not-a-boundary"),
        "filename": name,
        "content_type": "application/octet-stream",
    }


# --------------------------------------------------------------- loading


def test_module_import_needs_neither_discord_nor_jsonschema() -> None:
    code = (
        "import sys, bot.sandbox.openapi\n"
        "assert 'discord' not in sys.modules, 'imports discord'\n"
        "assert 'jsonschema' not in sys.modules, 'imports jsonschema eagerly'\n"
    )
    root = Path(__file__).resolve().parent.parent
    subprocess.run([sys.executable, "-c", code], cwd=root, check=True)


def test_spec_loads_and_first_validation_is_fast() -> None:
    start = time.perf_counter()
    fresh = OpenAPIValidator(SPEC_PATH)
    loaded = time.perf_counter()
    problems = post_json(fresh, MESSAGES, {"content": "hi", "allowed_mentions": {"parse": []}})
    first = time.perf_counter()
    problems += post_json(
        fresh,
        CALLBACK,
        {"type": 4, "data": {"content": "x", "flags": 64}},
        query={"with_response": "true"},
    )
    second = time.perf_counter()
    print(
        f"spec load {1000 * (loaded - start):.1f} ms, first create_message "
        f"{1000 * (first - loaded):.1f} ms, first interaction callback {1000 * (second - first):.1f} ms"
    )
    assert problems == []
    assert loaded - start < 1.0
    assert first - loaded < 0.1
    assert second - first < 0.1


# ------------------------------------------------------------- messages


def test_valid_message_passes(validator: OpenAPIValidator) -> None:
    assert post_json(validator, MESSAGES, {"content": "hi", "allowed_mentions": {"parse": []}}) == []


@pytest.mark.parametrize(
    ("payload", "needle"),
    [
        ({"content": 5}, "$.content"),
        ({"embeds": "nope"}, "$.embeds"),
        ({"embeds": [{"title": 5}]}, "$.embeds[0].title"),
        ({"allowed_mentions": {"parse": ["everyone", "nobody"]}}, "$.allowed_mentions.parse[1]"),
        ("just a string", "$: 'just a string' is not of type 'object'"),
        ([{"content": "hi"}], "$: "),
    ],
)
def test_invalid_message_names_the_field(validator: OpenAPIValidator, payload: Any, needle: str) -> None:
    problems = post_json(validator, MESSAGES, payload)
    assert problems, payload
    assert any(needle in p for p in problems), problems
    assert all(p.startswith("create_message: body ") for p in problems)


def test_components_v2_message_passes(validator: OpenAPIValidator) -> None:
    payload = {
        "flags": 32768,
        "components": [{"type": 17, "components": [{"type": 10, "content": "hello"}]}],
        "allowed_mentions": {"parse": []},
    }
    assert post_json(validator, MESSAGES, payload) == []


def test_components_v2_errors_point_into_the_tree(validator: OpenAPIValidator) -> None:
    bad_content = {"flags": 32768, "components": [{"type": 17, "components": [{"type": 10, "content": 5}]}]}
    assert post_json(validator, MESSAGES, bad_content) == [
        "create_message: body $.components[0].components[0].content: 5 is not of type 'string'"
    ]
    bad_type = {"flags": 32768, "components": [{"type": 17, "components": [{"type": 99, "content": "x"}]}]}
    (problem,) = post_json(validator, MESSAGES, bad_type)
    assert "$.components[0].components[0].type: 99 is not one of [" in problem


def test_many_errors_are_reported_briefly(validator: OpenAPIValidator) -> None:
    payload = {"embeds": [{"title": i, "description": i, "url": i} for i in range(10)], "tts": "no"}
    problems = post_json(validator, MESSAGES, payload)
    assert 1 < len(problems) <= 6
    assert problems[-1].startswith("create_message: … and ")
    assert all(len(p) < 400 for p in problems)


def test_long_values_are_truncated(validator: OpenAPIValidator) -> None:
    (problem,) = post_json(validator, MESSAGES, {"content": ["x" * 5000]})
    assert "$.content" in problem
    assert len(problem) < 300


def test_malformed_json_is_a_problem(validator: OpenAPIValidator) -> None:
    for raw in (b'{"content": ', b'{"content": NaN}', b"\xff\xfe"):
        (problem,) = validator.validate_request("POST", MESSAGES, raw, JSON)
        assert problem.startswith("create_message: body is not valid JSON"), problem


# ------------------------------------------------------------ multipart


def test_multipart_with_payload_json_and_file_passes(validator: OpenAPIValidator) -> None:
    payload = {"content": "see attached", "attachments": [{"id": 0, "filename": "note.png"}]}
    raw, content_type = multipart(
        [{"name": "payload_json", "value": json.dumps(payload), "content_type": JSON}, file_field()]
    )
    assert content_type.startswith("multipart/form-data; boundary=")
    assert validator.validate_request("POST", MESSAGES, raw, content_type) == []


def test_multipart_with_invalid_payload_json_fails(validator: OpenAPIValidator) -> None:
    raw, content_type = multipart([{"name": "payload_json", "value": json.dumps({"content": 5})}, file_field()])
    assert validator.validate_request("POST", MESSAGES, raw, content_type) == [
        "create_message: payload_json $.content: 5 is not of type 'string', 'null'"
    ]


def test_discord_py_multipart_message_passes(validator: OpenAPIValidator) -> None:
    import discord
    from discord.http import handle_message_parameters

    params = handle_message_parameters(
        content="your check-in is saved",
        file=discord.File(io.BytesIO(b"report"), "report.txt"),
        allowed_mentions=discord.AllowedMentions.none(),
    )
    assert params.multipart is not None
    raw, content_type = multipart(params.multipart)
    assert validator.validate_request("POST", MESSAGES, raw, content_type) == []
    problems = validator.validate_request("POST", CALLBACK + "?with_response=1", raw, content_type)
    assert problems == ["create_interaction_response: payload_json $: 'type' is a required property"]


def test_multipart_interaction_callback_passes(validator: OpenAPIValidator) -> None:
    payload = {"type": 4, "data": {"content": "here you go", "flags": 64, "attachments": [{"id": 0}]}}
    raw, content_type = multipart([{"name": "payload_json", "value": json.dumps(payload)}, file_field()])
    assert validator.validate_request("POST", CALLBACK, raw, content_type, {"with_response": "1"}) == []


def test_malformed_multipart_is_a_problem(validator: OpenAPIValidator) -> None:
    raw, content_type = multipart([{"name": "payload_json", "value": json.dumps({"content": "x"})}, file_field()])
    (truncated,) = validator.validate_request("POST", MESSAGES, raw[:-10], content_type)
    assert "malformed multipart body: no closing boundary" in truncated
    (no_boundary,) = validator.validate_request("POST", MESSAGES, raw, "multipart/form-data")
    assert "has no boundary" in no_boundary
    stray, stray_type = multipart(
        [
            {"name": "payload_json", "value": json.dumps({"content": "x"})},
            {"name": "file", "value": "x", "content_type": "text/plain"},
        ]
    )
    assert validator.validate_request("POST", MESSAGES, stray, stray_type) == [
        "create_message: unexpected multipart part 'file' beside payload_json"
    ]


# ---------------------------------------------------- interaction callbacks


def test_interaction_callback_passes_with_query(validator: OpenAPIValidator) -> None:
    payload = {"type": 4, "data": {"content": "x", "flags": 64}}
    assert post_json(validator, CALLBACK, payload, query={"with_response": "true"}) == []
    assert post_json(validator, CALLBACK + "?with_response=true", payload) == []
    # discord.py sends booleans as 1/0.
    assert post_json(validator, CALLBACK, payload, query={"with_response": "1"}) == []


@pytest.mark.parametrize(
    "payload",
    [
        {"type": 1},
        {"type": 5, "data": {"flags": 64}},
        {"type": 6},
        {"type": 7, "data": {"content": "updated", "components": []}},
        {"type": 8, "data": {"choices": [{"name": "Morning circle", "value": "morning"}]}},
    ],
)
def test_other_callback_types_pass(validator: OpenAPIValidator, payload: dict[str, Any]) -> None:
    assert post_json(validator, CALLBACK, payload) == []


def test_unknown_callback_type_fails(validator: OpenAPIValidator) -> None:
    (problem,) = post_json(validator, CALLBACK, {"type": 99})
    assert problem.startswith("create_interaction_response: body $.type: 99 is not one of [1, 4, 5")


def test_callback_error_inside_the_matching_alternative(validator: OpenAPIValidator) -> None:
    assert post_json(validator, CALLBACK, {"type": 4, "data": {"content": 7}}) == [
        "create_interaction_response: body $.data.content: 7 is not of type 'string', 'null'"
    ]


def test_modal_with_label_passes(validator: OpenAPIValidator) -> None:
    # The vendored spec has LabelComponentForModalRequest (type 18).
    assert "LabelComponentForModalRequest" in validator.spec["components"]["schemas"]
    modal: dict[str, Any] = {
        "type": 9,
        "data": {
            "custom_id": "x",
            "title": "t",
            "components": [{"type": 18, "label": "Note", "component": {"type": 4, "custom_id": "note", "style": 2}}],
        },
    }
    assert post_json(validator, CALLBACK, modal) == []
    modal["data"]["components"][0]["component"]["style"] = 7
    assert post_json(validator, CALLBACK, modal) == [
        "create_interaction_response: body $.data.components[0].component.style: 7 is not one of [1, 2]"
    ]


def test_query_parameters_are_checked(validator: OpenAPIValidator) -> None:
    payload = {"type": 6}
    (bad_bool,) = post_json(validator, CALLBACK, payload, query={"with_response": "maybe"})
    assert "with_response='maybe'" in bad_bool and "boolean" in bad_bool
    (unknown,) = post_json(validator, CALLBACK, payload, query={"wait": "true"})
    assert "unknown query parameter 'wait'" in unknown

    assert validator.validate_request("GET", MESSAGES, None, None, {"limit": "50", "before": "1234"}) == []
    problems = validator.validate_request("GET", MESSAGES + "?limit=500&before=abc", None, None)
    assert any("limit='500'" in p and "maximum of 100" in p for p in problems), problems
    assert any("before='abc'" in p for p in problems), problems


def test_path_parameters_are_checked(validator: OpenAPIValidator) -> None:
    (problem,) = validator.validate_request("GET", "/api/v10/channels/general/messages", None, None)
    assert "path parameter channel_id='general'" in problem


# ------------------------------------------------------------- commands


SLASH_COMMANDS: list[dict[str, Any]] = [
    {
        "name": "circle",
        "description": "Peer support circles",
        "type": 1,
        "contexts": [0],
        "integration_types": [0],
        "default_member_permissions": "32",
        "nsfw": False,
        "options": [
            {
                "type": 1,
                "name": "join",
                "description": "Join a circle",
                "options": [
                    {
                        "type": 3,
                        "name": "circle",
                        "description": "Which circle",
                        "required": True,
                        "choices": [
                            {"name": "Morning", "value": "morning"},
                            {"name": "Evening", "value": "evening"},
                        ],
                    },
                    {"type": 4, "name": "weeks", "description": "For how long", "min_value": 1, "max_value": 12},
                ],
            },
            {"type": 1, "name": "leave", "description": "Leave your circle"},
        ],
    },
    {
        "name": "checkin",
        "description": "Share how you are doing",
        "type": 1,
        "contexts": [0, 1, 2],
        "integration_types": [0, 1],
        "default_member_permissions": None,
        "options": [
            {"type": 3, "name": "mood", "description": "One word", "required": True, "max_length": 32},
            {"type": 5, "name": "anonymous", "description": "Hide your name"},
        ],
    },
    {"name": "Report message", "type": 3, "contexts": [0]},
]


def test_slash_command_list_passes(validator: OpenAPIValidator) -> None:
    assert validator.validate_request("PUT", COMMANDS, body(SLASH_COMMANDS), JSON) == []


def test_slash_command_with_numeric_name_fails(validator: OpenAPIValidator) -> None:
    commands = json.loads(json.dumps(SLASH_COMMANDS))
    commands[0]["name"] = 123
    problems = validator.validate_request("PUT", COMMANDS, body(commands), JSON)
    assert problems
    assert any("$[0].name" in p for p in problems), problems


# ----------------------------------------------------- paths and methods


def test_get_my_user_without_body_passes(validator: OpenAPIValidator) -> None:
    assert validator.validate_request("GET", "/api/v10/users/@me", None, None) == []
    assert validator.validate_request("GET", "/api/v10/users/@me", b"", None) == []
    (problem,) = validator.validate_request("GET", "/api/v10/users/@me", b"{}", JSON)
    assert "takes no request body" in problem


def test_required_body_missing_is_a_problem(validator: OpenAPIValidator) -> None:
    assert validator.validate_request("POST", MESSAGES, None, None) == [
        "create_message: the operation requires a request body but none was sent"
    ]
    assert validator.validate_request("POST", "/api/v10/channels/1/typing", None, None) == []


def test_unaccepted_content_type_is_a_problem(validator: OpenAPIValidator) -> None:
    (problem,) = validator.validate_request("POST", MESSAGES, b"hi", "text/plain")
    assert "Content-Type 'text/plain' is not accepted" in problem
    (problem,) = validator.validate_request("POST", MESSAGES, body({"content": "x"}), None)
    assert "without a Content-Type" in problem
    # Declared by the spec, but its untyped fields cannot be checked.
    (problem,) = validator.validate_request("POST", MESSAGES, b"content=hi", "application/x-www-form-urlencoded")
    assert "cannot be validated" in problem


def test_unknown_path_fails(validator: OpenAPIValidator) -> None:
    assert validator.validate_request("POST", "/api/v10/foo", b"{}", JSON) == [
        "POST /foo is not an operation in Discord's API description"
    ]
    assert validator.operation_id("POST", "/api/v10/foo") is None
    assert validator.path_template("POST", "/api/v10/foo") is None


def test_unknown_method_fails(validator: OpenAPIValidator) -> None:
    assert validator.validate_request("DELETE", "/api/v10/users/@me", None, None) == [
        "DELETE /users/@me is not an operation in Discord's API description (/users/@me allows GET, PATCH)"
    ]


@pytest.mark.parametrize(
    ("method", "path", "template", "operation_id"),
    [
        ("GET", "/api/v10/users/@me", "/users/@me", "get_my_user"),
        ("GET", "/api/v10/users/42", "/users/{user_id}", "get_user"),
        ("GET", "/api/v9/users/@me", "/users/@me", "get_my_user"),
        ("GET", "/api/users/@me", "/users/@me", "get_my_user"),
        ("GET", "/users/@me", "/users/@me", "get_my_user"),
        (
            "PATCH",
            "/api/v10/webhooks/1/tok/messages/@original",
            "/webhooks/{webhook_id}/{webhook_token}/messages/@original",
            "update_original_webhook_message",
        ),
        (
            "PATCH",
            "/api/v10/webhooks/1/tok/messages/99",
            "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}",
            "update_webhook_message",
        ),
        (
            "POST",
            "/api/v10/interactions/1/tok/callback?with_response=true",
            "/interactions/{interaction_id}/{interaction_token}/callback",
            "create_interaction_response",
        ),
        ("POST", MESSAGES, "/channels/{channel_id}/messages", "create_message"),
        ("put", COMMANDS, "/applications/{application_id}/commands", "bulk_set_application_commands"),
    ],
)
def test_path_template_preference(
    validator: OpenAPIValidator, method: str, path: str, template: str, operation_id: str
) -> None:
    assert validator.path_template(method, path) == template
    assert validator.operation_id(method, path) == operation_id


# ------------------------------------------------------------ spec gaps


def test_every_known_gap_has_a_reason() -> None:
    assert KNOWN_SPEC_GAPS
    for gap in KNOWN_SPEC_GAPS:
        assert gap.name and len(gap.reason) > 40


def test_permission_strings_are_a_known_gap(validator: OpenAPIValidator) -> None:
    command = [{"name": "mod", "description": "Moderation", "default_member_permissions": "8"}]
    strict = OpenAPIValidator(SPEC_PATH, spec_gaps=())
    (problem,) = strict.validate_request("PUT", COMMANDS, body(command), JSON)
    assert "'8' is not of type 'integer', 'null'" in problem
    assert validator.validate_request("PUT", COMMANDS, body(command), JSON) == []
    role = {"name": "Listener", "permissions": "0"}
    assert post_json(validator, "/api/v10/guilds/1/roles", role) == []
    overwrite = {"type": 0, "allow": "1024", "deny": "0"}
    assert validator.validate_request("PUT", "/api/v10/channels/1/permissions/2", body(overwrite), JSON) == []
    # Only digit strings are let through.
    command[0]["default_member_permissions"] = "admin"
    assert validator.validate_request("PUT", COMMANDS, body(command), JSON) != []


def test_integer_snowflakes_are_a_known_gap(validator: OpenAPIValidator) -> None:
    # discord.py sends IDs as JSON integers.
    reply = {
        "content": "thanks for sharing",
        "message_reference": {"message_id": 5, "channel_id": 6, "fail_if_not_exists": False},
        "allowed_mentions": {"parse": [], "users": [7], "roles": [8], "replied_user": False},
    }
    strict = OpenAPIValidator(SPEC_PATH, spec_gaps=())
    assert post_json(strict, MESSAGES, reply) != []
    assert post_json(validator, MESSAGES, reply) == []
    assert post_json(validator, "/api/v10/users/@me/channels", {"recipient_id": 5}) == []
    # Not every integer-for-string is excused: only snowflakes.
    assert post_json(validator, MESSAGES, {"content": 5}) != []
    assert post_json(validator, "/api/v10/users/@me/channels", {"recipient_id": -5}) != []
