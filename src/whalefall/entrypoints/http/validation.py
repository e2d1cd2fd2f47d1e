"""Validate path, query and body together and report EVERY problem with its field path (api.md §1.6).

msgspec stops at the first body error and Litestar ignores unknown query parameters, so this module runs as the
app's `before_request` hook: it walks the route handler's declared query parameters and body Struct itself.
When it passes, Litestar's own decoding cannot fail on anything it checked.
"""

from __future__ import annotations

import enum
import re
import types
from collections.abc import Mapping
from datetime import date, datetime
from typing import Annotated, Any, Final, Literal, Union, get_args, get_origin

import msgspec
from litestar import Request
from litestar.exceptions import HTTPException
from litestar.params import BodyKwarg, ParameterKwarg
from litestar.typing import FieldDefinition

from whalefall.domain.errors import Problem, ValidationProblemsError

MAX_JSON_BYTES: Final = 1024 * 1024
_INT: Final = re.compile(r"^-?\d{1,18}$")
_DATE: Final = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_RFC3339: Final = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})?$")
_AT_PATH: Final = re.compile(r" - at `\$(.*)`$")


def _unwrap_optional(annotation: Any) -> tuple[Any, bool]:
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        members = [a for a in get_args(annotation) if a is not type(None)]
        if len(members) == 1:
            return members[0], True
    return annotation, False


def _is_list(annotation: Any) -> tuple[Any, bool]:
    if get_origin(annotation) in (list, tuple, set, frozenset):
        args = get_args(annotation)
        return (args[0] if args else str), True
    return annotation, False


def _convert_query_value(raw: str, annotation: Any, path: str) -> Problem | None:
    if get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    if annotation is bool:
        return None if raw in ("true", "false") else Problem(path, "invalid_type", "must be true or false")
    if annotation is int:
        return None if _INT.match(raw) else Problem(path, "invalid_type", "must be an integer")
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        allowed = [m.value for m in annotation]
        return None if raw in allowed else Problem(path, "invalid_choice", "unknown value", {"allowed": allowed})
    if get_origin(annotation) is Literal:
        allowed = list(get_args(annotation))
        return None if raw in allowed else Problem(path, "invalid_choice", "unknown value", {"allowed": allowed})
    if annotation is date:
        try:
            date.fromisoformat(raw)
        except ValueError:
            return Problem(path, "invalid_format", "must be a date YYYY-MM-DD")
        return None if _DATE.match(raw) else Problem(path, "invalid_format", "must be a date YYYY-MM-DD")
    if annotation is datetime:
        match = _RFC3339.match(raw)
        if not match:
            return Problem(path, "invalid_format", "must be an RFC 3339 instant with an offset")
        if match.group(2) is None:
            return Problem(path, "naive_datetime", "must carry a UTC offset (e.g. Z)")
        return None
    return None


def _range_problems(raw: str, annotation: Any, kwarg: ParameterKwarg, path: str) -> list[Problem]:
    problems: list[Problem] = []
    if annotation is int and _INT.match(raw):
        value = int(raw)
        if kwarg.ge is not None and value < kwarg.ge:
            problems.append(Problem(path, "too_small", f"must be at least {kwarg.ge}", {"min": kwarg.ge}))
        if kwarg.le is not None and value > kwarg.le:
            problems.append(Problem(path, "too_large", f"must be at most {kwarg.le}", {"max": kwarg.le}))
    if annotation is str:
        if kwarg.min_length is not None and len(raw) < kwarg.min_length:
            problems.append(Problem(path, "too_short", f"must be at least {kwarg.min_length} characters",
                                    {"min": kwarg.min_length}))
        if kwarg.max_length is not None and len(raw) > kwarg.max_length:
            problems.append(Problem(path, "too_long", f"must be at most {kwarg.max_length} characters",
                                    {"max": kwarg.max_length}))
    return problems


def query_problems(request: Request[Any, Any, Any], parameters: Mapping[str, FieldDefinition]) -> list[Problem]:
    """Unknown, repeated, mistyped, out-of-range and missing required query parameters."""
    declared: dict[str, FieldDefinition] = {}
    for name, field in parameters.items():
        kwarg = field.kwarg_definition
        if isinstance(kwarg, ParameterKwarg) and not kwarg.header and not kwarg.cookie and type(kwarg).__name__ in (
                "QueryParameter", "ParameterKwarg"):
            declared[kwarg.query or kwarg.name or name] = field
    problems: list[Problem] = []
    query = request.query_params
    for key in query:
        if key not in declared:
            problems.append(Problem(f"query.{key}", "unknown_parameter", "unknown query parameter"))
    for key, field in declared.items():
        values = query.getall(key, [])
        annotation, _optional = _unwrap_optional(field.annotation)
        item_type, repeatable = _is_list(annotation)
        kwarg = field.kwarg_definition
        assert isinstance(kwarg, ParameterKwarg)
        if not values:
            if field.default is msgspec.UNSET or (field.has_default is False and not field.is_optional):
                problems.append(Problem(f"query.{key}", "required", "this parameter is required"))
            continue
        if len(values) > 1 and not repeatable:
            problems.append(Problem(f"query.{key}", "not_repeatable", "give this parameter at most once"))
            continue
        for index, raw in enumerate(values):
            path = f"query.{key}[{index}]" if repeatable and len(values) > 1 else f"query.{key}"
            problem = _convert_query_value(raw, item_type, path)
            if problem is not None:
                problems.append(problem)
            else:
                problems.extend(_range_problems(raw, item_type, kwarg, path))
    return problems


_MESSAGE_CODES: Final = (
    (re.compile(r"got `null`"), "null_not_allowed"),
    (re.compile(r"^Expected `(?:str|array|object)` of length >= (\d+)"), "too_short"),
    (re.compile(r"^Expected `(?:str|array|object)` of length <= (\d+)"), "too_long"),
    (re.compile(r"^Expected `(?:int|float)` >= (-?\d+)"), "too_small"),
    (re.compile(r"^Expected `(?:int|float)` <= (-?\d+)"), "too_large"),
    (re.compile(r"^Expected `str` matching regex"), "invalid_format"),
    (re.compile(r"^Invalid enum value"), "invalid_choice"),
    (re.compile(r"^Object missing required field `(.+)`"), "required"),
    (re.compile(r"^Object contains unknown field `(.+)`"), "unknown_field"),
    (re.compile(r"with a timezone component"), "naive_datetime"),
    (re.compile(r"^Invalid RFC3339"), "invalid_format"),
    (re.compile(r"^Invalid"), "invalid_format"),
    (re.compile(r"^Expected"), "invalid_type"),
)


def _problem_from_msgspec(message: str, path: str) -> Problem:
    suffix = _AT_PATH.search(message)
    text = message[:suffix.start()] if suffix else message
    if suffix:
        path += suffix.group(1)
    for pattern, code in _MESSAGE_CODES:
        match = pattern.search(text)
        if match is None:
            continue
        context: dict[str, object] | None = None
        if code in ("too_short", "too_small"):
            code = "too_few_items" if "`array`" in text and code == "too_short" else code
            context = {"min": int(match.group(1))}
        elif code in ("too_long", "too_large"):
            code = "too_many_items" if "`array`" in text and code == "too_long" else code
            context = {"max": int(match.group(1))}
        elif code in ("required", "unknown_field"):
            path = f"{path}.{match.group(1)}"
        return Problem(path, code, text, context)
    return Problem(path, "invalid", text)


def struct_problems(value: Any, struct_type: type[msgspec.Struct], path: str) -> list[Problem]:
    """Every problem of `value` against the Struct: unknown and missing fields, then each field on its own."""
    if not isinstance(value, dict):
        return [Problem(path, "invalid_type", "must be a JSON object")]
    fields = msgspec.structs.fields(struct_type)
    by_name = {f.encode_name: f for f in fields}
    read_only: frozenset[str] = getattr(struct_type, "read_only_fields", frozenset())
    problems = [Problem(f"{path}.{key}", "read_only", "this field cannot be set") if key in read_only
                else Problem(f"{path}.{key}", "unknown_field", "unknown field") for key in value if key not in by_name]
    for field in fields:
        if field.encode_name not in value:
            if field.required:
                problems.append(Problem(f"{path}.{field.encode_name}", "required", "this field is required"))
            continue
        item = value[field.encode_name]
        nested, _ = _unwrap_optional(field.type)
        if isinstance(nested, type) and issubclass(nested, msgspec.Struct) and isinstance(item, dict):
            problems.extend(struct_problems(item, nested, f"{path}.{field.encode_name}"))
            continue
        try:
            msgspec.convert(item, field.type, strict=True)
        except msgspec.ValidationError as exc:
            problems.append(_problem_from_msgspec(str(exc), f"{path}.{field.encode_name}"))
    return problems


async def body_problems(request: Request[Any, Any, Any], field: FieldDefinition) -> list[Problem]:
    raw = await request.body()
    if not raw.strip():
        return [] if field.is_optional else [Problem("body", "required", "a JSON body is required")]
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        raise HTTPException(status_code=415, detail="Content-Type must be application/json")
    try:
        value = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return [Problem("body", "invalid_json", "the body is not valid JSON")]
    annotation, _ = _unwrap_optional(field.annotation)
    if isinstance(annotation, type) and issubclass(annotation, msgspec.Struct):
        return struct_problems(value, annotation, "body")
    try:
        msgspec.convert(value, annotation, strict=True)
    except msgspec.ValidationError as exc:
        return [_problem_from_msgspec(str(exc), "body")]
    return []


async def validate_request(request: Request[Any, Any, Any]) -> None:
    """before_request hook: raise ValidationProblemsError listing every query and body problem."""
    handler = request.scope["route_handler"]
    parameters = handler.parsed_fn_signature.parameters
    problems = query_problems(request, parameters)
    body_field = next((f for f in parameters.values() if isinstance(f.kwarg_definition, BodyKwarg)), None)
    if body_field is None and request.method in ("POST", "PUT", "PATCH") and (await request.body()).strip():
        if not handler.opt.get("accepts_body", False):
            problems.append(Problem("body", "unknown_field", "this route takes no body"))
    elif body_field is not None:
        problems.extend(await body_problems(request, body_field))
    if problems:
        raise ValidationProblemsError(problems)
