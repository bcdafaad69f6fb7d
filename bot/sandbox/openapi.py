"""Validate REST requests against Discord's OpenAPI 3.1 description.

The sandbox (a local fake Discord server) hands every request the bot makes to
:class:`OpenAPIValidator`, which checks it against the vendored copy of
Discord's official API description (``tests/discord_api_spec/openapi.json``):

* the method and path must be an operation in the description (the request
  path may carry the ``/api``, ``/api/v9`` or ``/api/v10`` prefix);
* path parameters must match their schemas (snowflakes are digit strings);
* query parameters must be declared by the operation and match their schemas
  (query strings are untyped, so ``"true"``/``"false"``/``"1"``/``"0"`` count
  as booleans and digit strings as integers);
* a JSON body must match the operation's ``application/json`` schema, and a
  ``multipart/form-data`` body's ``payload_json`` part must match the JSON
  schema (file parts ``files[n]`` are accepted as they are).

Schemas are JSON Schema draft 2020-12; ``$ref``s into ``#/components/schemas``
resolve through a :mod:`referencing` registry holding the whole description.
Validators are compiled lazily, once per schema location, and cached.

This module must not import discord.py, and imports :mod:`jsonschema` (a dev
dependency) only when a validator is constructed.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from email.message import Message
from email.utils import collapse_rfc2231_value
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote

__all__ = ["KNOWN_SPEC_GAPS", "OpenAPIValidator", "SpecGap"]

_log = logging.getLogger(__name__)

_HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})
_SPEC_URI = "urn:discord-openapi"
_API_PREFIX = re.compile(r"^/api(?:/v(?:9|10))?(?=/|$)")
_FILE_PART = re.compile(r"^files\[\d+\]$")
_INT_TEXT = re.compile(r"^-?\d+$")
_NUMBER_TEXT = re.compile(r"^-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?$")
_TRUE_TEXT = frozenset({"true", "True", "1"})
_FALSE_TEXT = frozenset({"false", "False", "0"})
_MAX_MESSAGE = 200
_MAX_PROBLEMS = 5
_MAX_ALTERNATIVES = 4

# JSON path -> (the failing value, {"types" | "values": what would be accepted})
_Expected = dict[str, tuple[Any, dict[str, list[Any]]]]


@dataclass(frozen=True)
class SpecGap:
    """A schema error that Discord's documentation says is not an error.

    The vendored description sometimes lags or contradicts Discord's
    documentation, which wins where they disagree. Rather than loosening
    validation globally, each known disagreement is listed in
    :data:`KNOWN_SPEC_GAPS` with its reason, and only a schema error that
    matches *every* field of an entry is ignored:

    * ``json_path``: regular expression searched in the failing value's JSON
      path (e.g. ``$[0].default_member_permissions``);
    * ``message``: regular expression searched in jsonschema's error message
      (which starts with the failing value's repr, so it can pin the value's
      shape, e.g. ``^'\\d+' is not of type``);
    * ``schema_format``: if set, the failing subschema's ``format`` must equal
      it (e.g. ``"snowflake"`` for ``#/components/schemas/SnowflakeType``);
    * ``operation_ids``: the spec operationIds it applies to (empty: all).

    An ``anyOf``/``oneOf`` counts as satisfied when one alternative fails only
    with ignored errors.
    """

    name: str
    reason: str
    json_path: str = ""
    message: str = ""
    schema_format: str | None = None
    operation_ids: frozenset[str] = frozenset()
    _path_re: re.Pattern[str] = field(init=False, repr=False, compare=False)
    _message_re: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_path_re", re.compile(self.json_path))
        object.__setattr__(self, "_message_re", re.compile(self.message))

    def matches(self, operation_id: str, error: Any) -> bool:
        """Whether a jsonschema ValidationError raised for ``operation_id`` is this gap."""
        if self.operation_ids and operation_id not in self.operation_ids:
            return False
        if self.schema_format is not None:
            schema = error.schema
            if not isinstance(schema, dict) or schema.get("format") != self.schema_format:
                return False
        return self._path_re.search(error.json_path) is not None and self._message_re.search(error.message) is not None


KNOWN_SPEC_GAPS: tuple[SpecGap, ...] = (
    SpecGap(
        name="permission bit sets as strings",
        reason=(
            "The spec types request permission bit sets (default_member_permissions, role "
            "permissions, overwrite allow/deny) as integer|null, but Discord's documentation "
            "(https://discord.com/developers/docs/topics/permissions) says that in API v8+ all "
            "permissions are serialized as strings, documents these request fields as strings "
            "(e.g. default_member_permissions: ?string), and discord.py sends role permissions "
            "and copied overwrites as strings."
        ),
        json_path=r"\.(?:default_member_permissions|permissions|allow|deny)$",
        message=r"^'\d+' is not of type 'integer'(?:, 'null')?$",
    ),
    SpecGap(
        name="snowflakes as JSON integers",
        reason=(
            "The spec's SnowflakeType is a digit string, but Discord documents request IDs as "
            "'snowflake', which its API accepts as a string or an integer (discord-api-docs "
            "#1078 and #1158: 'we will keep supporting integer or string'); discord.py sends "
            "integer IDs, e.g. message_reference.channel_id, allowed_mentions.roles, "
            "recipient_id and member roles."
        ),
        schema_format="snowflake",
        message=r"^\d+ is not of type 'string'$",
    ),
)


@dataclass(frozen=True)
class _Param:
    name: str
    location: str  # "path" or "query"
    required: bool
    schema_pointer: str | None  # JSON pointer (into the spec) of the parameter's schema


@dataclass(frozen=True)
class _Operation:
    method: str
    template: str
    operation_id: str
    pointer: str  # JSON pointer of the operation object
    params: tuple[_Param, ...]
    has_body: bool
    body_required: bool
    content_types: tuple[str, ...]


@dataclass(frozen=True)
class _Template:
    template: str
    segments: tuple[str | None, ...]  # a literal segment, or None for a parameter
    param_names: tuple[str, ...]  # parameter names, in order
    specificity: tuple[int, ...]  # 1 for each literal segment, 0 for a parameter
    operations: dict[str, _Operation]


@dataclass(frozen=True)
class _Part:
    name: str | None
    filename: str | None
    content: bytes


def _escape_pointer(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _truncate(text: str, limit: int = _MAX_MESSAGE) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _media_type(content_type: str) -> tuple[str, Message]:
    """Return the lowercased media type and a Message that can read its parameters."""
    message = Message()
    message["content-type"] = content_type
    return message.get_content_type(), message


def _header_param(message: Message, name: str, header: str) -> str | None:
    value = message.get_param(name, header=header)
    if value is None or isinstance(value, str):
        return value
    return collapse_rfc2231_value(value)


def _scalar_candidates(text: str) -> list[Any]:
    """Typed readings of one query/path value, most specific first, then the raw text."""
    candidates: list[Any] = []
    if _INT_TEXT.match(text):
        candidates.append(int(text))
    elif _NUMBER_TEXT.match(text):
        candidates.append(float(text))
    if text in _TRUE_TEXT:
        candidates.append(True)
    elif text in _FALSE_TEXT:
        candidates.append(False)
    candidates.append(text)
    return candidates


def _value_candidates(values: list[str]) -> list[Any]:
    if len(values) == 1:
        scalars = _scalar_candidates(values[0])
        return [*scalars, *([c] for c in scalars)]
    raw = list(values)
    typed = [_scalar_candidates(v)[0] for v in values]
    return [raw, typed] if typed != raw else [raw]


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


class OpenAPIValidator:
    """Checks requests against an OpenAPI 3.1 description; see the module docstring."""

    def __init__(self, spec_path: Path, *, spec_gaps: Iterable[SpecGap] = KNOWN_SPEC_GAPS) -> None:
        # jsonschema is a dev dependency: import it only when a validator is built.
        from jsonschema import Draft202012Validator
        from jsonschema.exceptions import best_match, relevance
        from referencing import Registry
        from referencing.jsonschema import DRAFT202012

        self._validator_cls: Any = Draft202012Validator
        self._best_match: Any = best_match
        self._relevance: Any = relevance
        with Path(spec_path).open(encoding="utf-8") as fh:
            self.spec: dict[str, Any] = json.load(fh)
        self._registry: Any = Registry().with_resource(_SPEC_URI, DRAFT202012.create_resource(self.spec))
        self._validators: dict[str, Any] = {}
        self._gaps = tuple(spec_gaps)
        self._templates = self._index_paths()

    # ----------------------------------------------------------------- lookup

    def _index_paths(self) -> dict[int, list[_Template]]:
        by_length: dict[int, list[_Template]] = {}
        for template, item in self.spec.get("paths", {}).items():
            segments: list[str | None] = []
            names: list[str] = []
            for segment in template.strip("/").split("/"):
                if segment.startswith("{") and segment.endswith("}"):
                    segments.append(None)
                    names.append(segment[1:-1])
                else:
                    segments.append(segment)
            item_pointer = f"/paths/{_escape_pointer(template)}"
            shared = self._collect_params(item.get("parameters", []), f"{item_pointer}/parameters")
            operations: dict[str, _Operation] = {}
            for method, op in item.items():
                if method not in _HTTP_METHODS:
                    continue
                op_pointer = f"{item_pointer}/{method}"
                params = dict(shared)
                params.update(self._collect_params(op.get("parameters", []), f"{op_pointer}/parameters"))
                body = op.get("requestBody")
                operations[method.upper()] = _Operation(
                    method=method.upper(),
                    template=template,
                    operation_id=op.get("operationId", f"{method} {template}"),
                    pointer=op_pointer,
                    params=tuple(params.values()),
                    has_body=body is not None,
                    body_required=bool(body and body.get("required")),
                    content_types=tuple(body.get("content", {})) if body else (),
                )
            entry = _Template(
                template=template,
                segments=tuple(segments),
                param_names=tuple(names),
                specificity=tuple(0 if s is None else 1 for s in segments),
                operations=operations,
            )
            by_length.setdefault(len(segments), []).append(entry)
        for entries in by_length.values():
            # Literal segments beat parameters, leftmost segment first:
            # /users/@me before /users/{user_id}.
            entries.sort(key=lambda t: t.specificity, reverse=True)
        return by_length

    def _collect_params(self, params: list[dict[str, Any]], pointer: str) -> dict[tuple[str, str], _Param]:
        collected: dict[tuple[str, str], _Param] = {}
        for index, param in enumerate(params):
            param_pointer = f"{pointer}/{index}"
            if "$ref" in param:
                ref = param["$ref"]
                if not ref.startswith("#/"):
                    continue
                param_pointer = ref[1:]
                param = self._resolve_pointer(param_pointer)
            location = param.get("in")
            if location not in ("path", "query"):
                continue
            collected[(param["name"], location)] = _Param(
                name=param["name"],
                location=location,
                required=bool(param.get("required")) or location == "path",
                schema_pointer=f"{param_pointer}/schema" if "schema" in param else None,
            )
        return collected

    def _resolve_pointer(self, pointer: str) -> Any:
        node: Any = self.spec
        for token in pointer.lstrip("/").split("/"):
            token = token.replace("~1", "/").replace("~0", "~")
            node = node[int(token)] if isinstance(node, list) else node[token]
        return node

    @staticmethod
    def _split(path: str) -> tuple[str, str]:
        path, _, query = path.partition("?")
        path = _API_PREFIX.sub("", path, count=1) or "/"
        return path, query

    def _match(self, method: str, path: str) -> tuple[_Template | None, _Operation | None, list[str]]:
        """Find the most specific template for the path; prefer one that has the method."""
        segments = path.strip("/").split("/")
        best: _Template | None = None
        for entry in self._templates.get(len(segments), []):
            if all(lit is None or lit == seg for lit, seg in zip(entry.segments, segments, strict=True)):
                if any(lit is None and not seg for lit, seg in zip(entry.segments, segments, strict=True)):
                    continue  # a parameter never matches an empty segment
                if best is None:
                    best = entry
                op = entry.operations.get(method.upper())
                if op is not None:
                    values = [seg for lit, seg in zip(entry.segments, segments, strict=True) if lit is None]
                    return entry, op, values
        return best, None, []

    def operation_id(self, method: str, path: str) -> str | None:
        """The spec's operationId for a request, e.g. ``create_message``; None if unknown."""
        _, op, _ = self._match(method, self._split(path)[0])
        return op.operation_id if op else None

    def path_template(self, method: str, path: str) -> str | None:
        """The spec's path template for a request, e.g. ``/channels/{channel_id}/messages``."""
        _, op, _ = self._match(method, self._split(path)[0])
        return op.template if op else None

    # ------------------------------------------------------------- validation

    def validate_request(
        self,
        method: str,
        path: str,
        body: bytes | None,
        content_type: str | None,
        query: Mapping[str, str] | None = None,
    ) -> list[str]:
        """Return the problems with one request; an empty list means it is valid.

        ``path`` is the request path as received (``/api/v10/...``). ``query``
        holds the query parameters and may be a multidict such as aiohttp's
        ``request.query`` (repeated keys are kept, for array parameters); when
        it is None, a query string on ``path`` (``...?with_response=true``) is
        used instead.
        """
        method = method.upper()
        path, query_string = self._split(path)
        entry, op, values = self._match(method, path)
        if op is None or entry is None:
            problem = f"{method} {path} is not an operation in Discord's API description"
            if entry is not None:
                allowed = ", ".join(sorted(entry.operations))
                problem += f" ({entry.template} allows {allowed})"
            return [problem]

        pairs = query.items() if query is not None else parse_qsl(query_string, keep_blank_values=True)
        query_values: dict[str, list[str]] = {}
        for key, value in pairs:
            query_values.setdefault(key, []).append(value)

        problems = self._check_params(op, dict(zip(entry.param_names, values, strict=True)), query_values)
        problems += self._check_body(op, body, content_type)
        return problems

    def _check_params(
        self, op: _Operation, path_values: dict[str, str], query_values: dict[str, list[str]]
    ) -> list[str]:
        problems: list[str] = []
        declared = {p.name for p in op.params if p.location == "query"}
        for name in query_values:
            if name not in declared:
                allowed = ", ".join(sorted(declared)) or "none"
                problems.append(f"{op.operation_id}: unknown query parameter {name!r} (declared: {allowed})")
        for param in op.params:
            if param.location == "path":
                raw = path_values.get(param.name)
                given = None if raw is None else [unquote(raw)]
            else:
                given = query_values.get(param.name)
            if given is None:
                if param.required:
                    problems.append(f"{op.operation_id}: missing required {param.location} parameter {param.name!r}")
                continue
            if param.schema_pointer is None:
                continue
            error = self._check_value(param.schema_pointer, given)
            if error is not None:
                shown = given[0] if len(given) == 1 else given
                problems.append(
                    f"{op.operation_id}: {param.location} parameter {param.name}={shown!r}: {_truncate(error)}"
                )
        return problems

    def _check_value(self, schema_pointer: str, values: list[str]) -> str | None:
        """Accept the value if any typed reading of it is valid; else explain the likeliest."""
        validator = self._validator(schema_pointer)
        type_error: str | None = None
        other_error: str | None = None
        for candidate in _value_candidates(values):
            error = self._best_match(validator.iter_errors(candidate))
            if error is None:
                return None
            if error.validator == "type":
                type_error = type_error or error.message
            else:
                # e.g. "101 is greater than the maximum of 100" says more than
                # "'101' is not of type 'integer'".
                other_error = other_error or error.message
        return other_error or type_error or "invalid value"

    def _check_body(self, op: _Operation, body: bytes | None, content_type: str | None) -> list[str]:
        name = op.operation_id
        if not body:
            if op.body_required:
                return [f"{name}: the operation requires a request body but none was sent"]
            return []
        if not op.has_body:
            return [f"{name}: the operation takes no request body but {len(body)} bytes were sent"]
        if not content_type:
            return [f"{name}: a request body was sent without a Content-Type"]
        media_type, ct_message = _media_type(content_type)
        if media_type not in op.content_types:
            accepted = ", ".join(op.content_types)
            return [f"{name}: Content-Type {media_type!r} is not accepted (accepted: {accepted})"]
        content_pointer = f"{op.pointer}/requestBody/content/{_escape_pointer(media_type)}"
        if media_type == "application/json":
            return self._check_json(op, body, f"{content_pointer}/schema", "body")
        if media_type == "multipart/form-data":
            return self._check_multipart(op, body, ct_message, content_pointer)
        # Other declared types (application/x-www-form-urlencoded) carry untyped
        # fields that cannot be checked against the JSON schemas, and discord.py
        # never sends them: flag them rather than let a body through unchecked.
        return [f"{name}: {media_type} bodies cannot be validated; send JSON or multipart/form-data"]

    def _check_json(self, op: _Operation, body: bytes, schema_pointer: str, where: str) -> list[str]:
        try:
            instance = json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
        except (UnicodeDecodeError, ValueError) as exc:
            return [f"{op.operation_id}: {where} is not valid JSON: {_truncate(str(exc))}"]
        return self._check_instance(op, instance, schema_pointer, where)

    def _check_multipart(self, op: _Operation, body: bytes, ct_message: Message, content_pointer: str) -> list[str]:
        name = op.operation_id
        boundary = _header_param(ct_message, "boundary", "content-type")
        if not boundary:
            return [f"{name}: multipart/form-data Content-Type has no boundary"]
        try:
            parts = _parse_multipart(body, boundary.encode("latin-1"))
        except ValueError as exc:
            return [f"{name}: malformed multipart body: {exc}"]

        multipart_schema = self._resolve_pointer(f"{content_pointer}/schema")
        payload_parts = [p for p in parts if p.name == "payload_json"]
        problems: list[str] = []
        if payload_parts:
            if len(payload_parts) > 1:
                problems.append(f"{name}: multipart body has {len(payload_parts)} payload_json parts")
            if isinstance(multipart_schema.get("properties"), dict) and (
                "payload_json" in multipart_schema["properties"]
            ):
                schema_pointer = f"{content_pointer}/schema/properties/payload_json"
            elif "application/json" in op.content_types:
                schema_pointer = f"{op.pointer}/requestBody/content/application~1json/schema"
            else:
                schema_pointer = f"{content_pointer}/schema"
            problems += self._check_json(op, payload_parts[0].content, schema_pointer, "payload_json")
            for part in parts:
                if part.name == "payload_json":
                    continue
                if part.name is None or not _FILE_PART.match(part.name):
                    problems.append(f"{name}: unexpected multipart part {part.name!r} beside payload_json")
            return problems

        # No payload_json: the fields are form parts themselves (e.g. sticker upload).
        instance: dict[str, Any] = {}
        for part in parts:
            if part.name is None:
                problems.append(f"{name}: multipart part without a name")
                continue
            if part.filename is not None:
                instance[part.name] = f"<file {part.filename}>"
            else:
                instance[part.name] = part.content.decode("utf-8", errors="replace")
        return problems + self._check_instance(op, instance, f"{content_pointer}/schema", "form")

    def _check_instance(self, op: _Operation, instance: Any, schema_pointer: str, where: str) -> list[str]:
        validator = self._validator(schema_pointer)
        errors = sorted(validator.iter_errors(instance), key=self._relevance, reverse=True)
        leaves: list[str] = []
        for error in errors:
            for leaf in self._leaves(op.operation_id, error):
                if leaf not in leaves:
                    leaves.append(leaf)
        problems = [f"{op.operation_id}: {where} {leaf}" for leaf in leaves[:_MAX_PROBLEMS]]
        if len(leaves) > _MAX_PROBLEMS:
            problems.append(f"{op.operation_id}: … and {len(leaves) - _MAX_PROBLEMS} more schema errors")
        return problems

    def _validator(self, schema_pointer: str) -> Any:
        validator = self._validators.get(schema_pointer)
        if validator is None:
            schema = {"$ref": f"{_SPEC_URI}#{schema_pointer}"}
            validator = self._validator_cls(schema, registry=self._registry)
            self._validators[schema_pointer] = validator
        return validator

    # ------------------------------------------------------ error reporting

    def _is_gap(self, operation_id: str, error: Any) -> bool:
        for gap in self._gaps:
            if gap.matches(operation_id, error):
                _log.debug("ignoring known spec gap %r at %s: %s", gap.name, error.json_path, error.message)
                return True
        return False

    def _unexplained(self, operation_id: str, error: Any) -> bool:
        """False if the error is fully explained by known spec gaps."""
        if not self._gaps:
            return True
        if error.validator in ("anyOf", "oneOf") and error.context:
            # The union is satisfied if some alternative fails only because of known gaps.
            return all(any(self._unexplained(operation_id, e) for e in branch) for branch in _branches(error))
        return not self._is_gap(operation_id, error)

    def _leaves(self, operation_id: str, error: Any, depth: int = 0) -> list[str]:
        """Human-readable descriptions of what is wrong, without known spec gaps."""
        if error.validator not in ("anyOf", "oneOf") or not error.context or depth > 6:
            if self._is_gap(operation_id, error):
                return []
            return [f"{error.json_path}: {_truncate(error.message)}"]

        # Sort the alternatives. Discord's unions are nullable wrappers
        # (oneOf: [null, X]) or discriminated by a "type" field. An alternative
        # that fails its own type/enum/const is the wrong one, and so is one
        # whose discriminator (a direct property whose enum/const fails in all
        # or all but one of the remaining alternatives) does not match.
        infos: list[tuple[list[Any], _Expected, _Expected]] = []
        for group in _branches(error):
            branch = [e for e in group if self._unexplained(operation_id, e)]
            if not branch:
                return []  # satisfied but for known spec gaps
            own: _Expected = {}
            tags: _Expected = {}
            for e in branch:
                allowed = _allowed(e)
                # A context error's .path is relative to the union's value.
                if allowed is None or len(e.path) > 1 or (e.path and allowed[0] != "values"):
                    continue
                value, kinds = (tags if e.path else own).setdefault(e.json_path, (e.instance, {}))
                kind, values = allowed
                # Several constraints on one value (enum plus allOf): it must meet all.
                kinds[kind] = [v for v in kinds[kind] if v in values] if kind in kinds else list(values)
            infos.append((branch, own, tags))

        candidates = [info for info in infos if not info[1]]
        counts = Counter(path for _, _, tags in candidates for path in tags)
        threshold = max(2, len(candidates) - 1)
        discriminators = {path for path, n in counts.items() if n >= threshold}
        plausible: list[list[Any]] = []
        expected: _Expected = {}
        for branch, own, tags in infos:
            failing = own or {p: t for p, t in tags.items() if p in discriminators}
            if not failing:
                plausible.append(branch)
            for path, (value, kinds) in failing.items():
                merged = expected.setdefault(path, (value, {}))[1]
                for kind, values in kinds.items():
                    target = merged.setdefault(kind, [])
                    target.extend(v for v in values if v not in target)

        if len(plausible) == 1:
            leaves: list[str] = []
            for e in plausible[0]:
                leaves.extend(x for x in self._leaves(operation_id, e, depth + 1) if x not in leaves)
            return leaves
        if not plausible and len(expected) == 1:
            ((path, (value, kinds)),) = expected.items()
            types, values = kinds.get("types", []), kinds.get("values", [])
            wanted: list[str] = []
            if types:
                wanted.append("of type " + ", ".join(repr(t) for t in types))
            if values:
                with contextlib.suppress(TypeError):
                    values = sorted(values)
                wanted.append(f"one of {values}")
            return [f"{path}: {_truncate(repr(value), 60)} is not " + " or ".join(wanted)]
        options: list[str] = []
        for branch in plausible or list(_branches(error)):
            best = self._best_match(branch)
            option = (self._leaves(operation_id, best, depth + 1) or ["(known spec gap)"])[0]
            if option not in options:
                options.append(option)
        if len(options) == 1:
            return options
        shown = "; ".join(options[:_MAX_ALTERNATIVES])
        more = f"; … {len(options) - _MAX_ALTERNATIVES} more" if len(options) > _MAX_ALTERNATIVES else ""
        return [f"{error.json_path}: matches none of the allowed shapes ({shown}{more})"]


def _allowed(error: Any) -> tuple[str, list[Any]] | None:
    """What a type/enum/const error (or a union of them at one place) would accept."""
    if error.validator == "type":
        types = error.validator_value
        return "types", list(types) if isinstance(types, list) else [types]
    if error.validator == "enum":
        return "values", list(error.validator_value)
    if error.validator == "const":
        return "values", [error.validator_value]
    if error.validator in ("anyOf", "oneOf") and error.context:
        values: list[Any] = []
        for sub in error.context:
            allowed = None if sub.path else _allowed(sub)
            if allowed is None or allowed[0] != "values":
                return None
            values.extend(allowed[1])
        return "values", values
    return None


def _branches(error: Any) -> Iterator[list[Any]]:
    """Group an anyOf/oneOf error's context errors by the alternative they came from."""
    groups: dict[Any, list[Any]] = {}
    for sub in error.context:
        key = sub.relative_schema_path[0] if sub.relative_schema_path else None
        groups.setdefault(key, []).append(sub)
    yield from groups.values()


def _parse_multipart(body: bytes, boundary: bytes) -> list[_Part]:
    """Split a multipart/form-data body (RFC 7578) into its parts."""
    delimiter = b"\r\n--" + boundary
    chunks = (b"\r\n" + body).split(delimiter)
    parts: list[_Part] = []
    closed = False
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            closed = True
            break
        line_end = chunk.find(b"\r\n")
        if line_end < 0 or chunk[:line_end].strip(b" \t"):
            raise ValueError("boundary line is not followed by CRLF")
        head, sep, content = chunk[line_end + 2 :].partition(b"\r\n\r\n")
        if not sep:
            raise ValueError("part headers are not terminated by a blank line")
        headers = Message()
        for line in head.decode("utf-8", errors="replace").split("\r\n"):
            if not line:
                continue
            key, colon, value = line.partition(":")
            if not colon:
                raise ValueError(f"bad part header line {_truncate(line, 60)!r}")
            headers[key.strip()] = value.strip()
        if headers.get("content-disposition") is None:
            raise ValueError("part has no Content-Disposition header")
        parts.append(
            _Part(
                name=_header_param(headers, "name", "content-disposition"),
                filename=_header_param(headers, "filename", "content-disposition"),
                content=content,
            )
        )
    if not closed:
        raise ValueError("no closing boundary")
    if not parts:
        raise ValueError("no parts")
    return parts
