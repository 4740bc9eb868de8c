"""The building blocks of the data files' declarative schema (pydantic v2).

A file is checked by a :class:`Model` (strict types, finite numbers, required keys, unknown keys
refused with the closest valid one, ranges and cross-field rules); :func:`check` turns pydantic's
first error into a one-line :class:`~bayesnet.errors.PriorsError` naming the file and the entry.

>>> class Number(Model):
...     value: float
>>> check(Number, {"valeu": 1}, "x.yaml")
Traceback (most recent call last):
...
bayesnet.errors.PriorsError: x.yaml: top level: unknown key 'valeu'; did you mean 'value'?
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Annotated, Any, ClassVar, TypeVar, Union

from pydantic import (AfterValidator, BaseModel, BeforeValidator, ConfigDict, Discriminator, StringConstraints, Tag,
                      ValidationError, ValidationInfo, model_validator)
from pydantic_core import PydanticCustomError

from bayesnet.errors import PriorsError, closest

__all__ = ["Model", "Prose", "Text", "check", "either", "fail", "name_in", "one_of", "rule", "show_value", "unknown"]

M = TypeVar("M", bound="Model")
#: Non-empty text, stripped; ``Prose`` also collapses its whitespace (titles, sources).
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Prose = Annotated[Text, AfterValidator(lambda s: " ".join(s.split()))]


def show_value(obj: Any) -> str:
    text = repr(obj)
    return text if len(text) <= 60 else text[:57] + "..."


def fail(message: str, *at: str | int) -> PydanticCustomError:
    """The error ``message`` about the value being validated, or about its sub-entry ``at``."""
    return PydanticCustomError("bayesnet", "{message}", {"message": message, "at": at})


def unknown(kind: str, name: Any, choices: Iterable[str], fallback: str = "", of: str = "") -> str:
    """``unknown <kind> <name><of>; did you mean ...?``, else ``fallback`` (``{}``: the valid names)."""
    if not isinstance(name, str | int | float | bool | None):  # a list or mapping: name its type, never expand it
        return f"the {kind} must be a name; got a {type(name).__name__}"
    choices = [str(c) for c in choices]
    hint = closest(name, choices)
    return f"unknown {kind} {name!r}{of}" + (f"; did you mean {hint[0]!r}?" if hint else fallback.format(", ".join(choices)))


def name_in(choices: Iterable[str] | str, kind: str, fallback: str = "") -> BeforeValidator:
    """Accept one of ``choices`` (a context key: the names given to :func:`check` under it)."""

    def validate(value: Any, info: ValidationInfo) -> str:
        valid = info.context[choices] if isinstance(choices, str) else choices
        if not isinstance(value, str) or value not in valid:
            raise fail(unknown(kind, value, valid, fallback))
        return value

    return BeforeValidator(validate)


def rule(ok: Callable[[Any], Any], message: str, after: bool = False) -> Any:
    """Refuse the raw values (with ``after``: the parsed ones) for which ``ok`` is false; ``{}``: the value."""

    def validate(value: Any) -> Any:
        if not ok(value):
            raise fail(message.format(show_value(value)))
        return value

    return AfterValidator(validate) if after else BeforeValidator(validate)


def one_of(*choices: str) -> BeforeValidator:
    return rule(lambda v: isinstance(v, str) and v in choices, f"must be {' or '.join(map(repr, choices))}; got {{}}")


_TAGS: set[str] = set()  # the tags of the unions made by either(): in pydantic's error paths, not in the file's


def either(pick: Callable[[Any], bool], if_true: type[Model], otherwise: type[Model]) -> Any:
    """The type ``if_true | otherwise``, chosen by ``pick(raw value)`` (so errors name one model only)."""
    a, b = f"~{if_true.__name__}", f"~{otherwise.__name__}"
    _TAGS.update((a, b))
    return Annotated[Union[Annotated[if_true, Tag(a)], Annotated[otherwise, Tag(b)]],  # noqa: UP007
                     Discriminator(lambda v: a if pick(v) else b)]


class Model(BaseModel):
    """Strict types, finite numbers, and unknown keys refused with the closest valid one."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)
    what: ClassVar[str] = "a mapping"  # for "must be <what>; got ..."
    none_is_missing: ClassVar[bool] = False  # drop null values first (a null required key is then missing)

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            raise fail(cls.not_a_mapping(data))
        for k in data:
            if k not in cls.model_fields:
                raise fail(unknown("key", k, sorted(cls.model_fields), "; allowed keys: {}"))
        return cls.prepare({k: v for k, v in data.items() if v is not None} if cls.none_is_missing else data)

    @classmethod
    def not_a_mapping(cls, data: Any) -> str:
        return f"must be {cls.what}; got {show_value(data)}"

    @classmethod
    def prepare(cls, data: dict) -> dict:
        """Check or change the raw mapping once its keys are known to be valid."""
        return data


#: Numbers in exponent form without a decimal point, which YAML 1.1 (PyYAML) reads as text.
_YAML_TEXT_NUMBER = re.compile(r"[-+]?[0-9]+[eE][-+]?[0-9]+")
_MUST_BE = {"dict_type": "a mapping", "list_type": "a list", "float_type": "a number", "finite_number": "a finite number",
            "int_type": "a whole number", "bool_type": "true or false", "string_type": "a non-empty text",
            "string_too_short": "a non-empty text"}


def _entry(loc: Iterable[str | int], data: Any) -> str:
    """``scenarios[3] (sea_triad).evidence``: the path, read along the raw data (for the ids)."""
    out, obj = "", data
    for part in loc:
        if isinstance(obj, list) and isinstance(part, int):
            obj = obj[part] if 0 <= part < len(obj) else None
            sid = obj.get("id") if isinstance(obj, dict) else None
            out += f"[{part}]" + (f" ({sid})" if isinstance(sid, str) and sid else "")
        else:
            obj = obj.get(part) if isinstance(obj, dict) else None
            out += f".{part}" if out else str(part)
    return out or "top level"


def check(model: type[M], data: Any, file: str, error: type[PriorsError] = PriorsError, **context: Any) -> M:
    """Validate ``data``, read from ``file``, with ``model``; the first problem raises ``error``, on one line."""
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        e = exc.errors(include_url=False)[0]
    ctx = e.get("ctx") or {}
    # a dict key's own errors and the tags of unions are not entries of the file
    loc = [p for p in e["loc"] if p != "[key]" and p not in _TAGS] + list(ctx.get("at", ()))
    if e["type"] in ("missing", "extra_forbidden"):
        *loc, key = loc
        message = f"{'missing required' if e['type'] == 'missing' else 'unknown'} key {key!r}"
    elif e["type"] in _MUST_BE:
        message = f"must be {_MUST_BE[e['type']]}; got {show_value(e.get('input'))}"
        if e["type"] == "float_type" and _YAML_TEXT_NUMBER.fullmatch(str(e.get("input"))):
            message += " (YAML reads a number like 5e-05 as text: write 5.0e-05)"
    else:
        message = e["msg"]
    raise error(" ".join(message.split()), file=file, entry=_entry(loc, data)) from None
