"""Validation scenarios: published post-test probabilities, read from a YAML file and checked.

The validation set (``priors/validation/scenarios.yaml``, described in
``priors/validation/README.md``) lists clinical scenarios for which a study reports a probability
(or a likelihood ratio) with its interval, each mapped to the network's variables. None of these
numbers is used to build the network; a scenario sharing data with a number the network is built
from says so (``independent: false``). This module only reads and checks the file;
:func:`bayesnet.reasoning.validation.validate` evaluates the scenarios.

A scenario's target is an *event*: one condition (``condition: spinal_metastasis``), any of
several (``any_of: [pulmonary_embolism, dvt]``), or all or any of a set of variable states
(``all_of: {fever: "yes", neuro_deficit: "yes"}``).

Examples
--------
>>> scenarios = load_validation()
>>> len(scenarios) >= 12, scenarios[0].id
(True, 'fracture_older_age')
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bayesnet.data.priors import PriorSet, Reader, default_priors_dir, load_priors, read_yaml_mapping, show_value
from bayesnet.errors import BayesNetError, PriorsError, closest

__all__ = [
    "MEASURES",
    "Published",
    "Scenario",
    "Target",
    "ValidationFileError",
    "default_validation_path",
    "load_validation",
    "wilson_interval",
]

#: What a scenario's published number measures.
MEASURES = ("probability", "likelihood_ratio")
#: Quantile of the standard normal for a 95% interval.
_Z95 = 1.959963984540054
_SCENARIO_KEYS = {
    "id",
    "title",
    "setting",
    "setting_reason",
    "evidence",
    "tests",
    "target",
    "measure",
    "published",
    "source",
    "population",
    "independent",
    "independence",
    "mapping",
    "note",
}
_REQUIRED = {"id", "title", "setting", "setting_reason", "target", "published", "source", "population",
             "independent", "mapping"}
_PUBLISHED_KEYS = {"value", "low", "high", "events", "total", "interval"}
_TARGET_KEYS = {"condition", "any_of", "all_of"}
_ID = re.compile(r"^[a-z][a-z0-9_]*$")
#: The largest validation file read (bytes): the shipped one is about 30 kB.
MAX_FILE_BYTES = 5_000_000


class ValidationFileError(PriorsError):
    """A validation file is missing, malformed or names something the model does not know.

    The message names the file and the entry, e.g.
    ``scenarios.yaml: scenarios[3] (sea_triad).evidence: unknown variable 'fevr'; did you mean 'fever'?``.
    """


# --------------------------------------------------------------------------------------------
# data


@dataclass(frozen=True)
class Target:
    """The event whose probability is compared.

    Attributes
    ----------
    mode : {"all", "any"}
        All of the items hold, or at least one does.
    items : tuple of (variable, states)
        Each item: a variable and the states that count (e.g. ``("fever", ("yes",))``).
    label : str
        Readable description, e.g. ``"pulmonary_embolism | dvt"``.
    """

    mode: str
    items: tuple[tuple[str, tuple[str, ...]], ...]
    label: str

    @property
    def variables(self) -> list[str]:
        return [v for v, _ in self.items]


@dataclass(frozen=True)
class Published:
    """A published number with its 95% interval (and the counts it came from, when given)."""

    value: float
    low: float
    high: float
    events: int | None = None
    total: int | None = None
    interval: str = "reported"  # "reported" (as published) or "wilson" (computed here from the counts)


@dataclass(frozen=True)
class Scenario:
    """One validation scenario (see ``priors/validation/README.md`` for the fields)."""

    id: str
    title: str
    setting: str
    setting_reason: str
    evidence: dict[str, tuple[str, ...]]
    target: Target
    measure: str
    published: Published
    source: str
    population: str
    independent: bool
    mapping: str
    independence: str = ""
    tests: dict[str, tuple[str, ...]] = field(default_factory=dict)
    note: str = ""
    file: str = ""
    entry: str = ""


def default_validation_path() -> Path:
    """The shipped validation file: ``validation/scenarios.yaml`` inside the priors directory."""
    from bayesnet.data.priors import default_priors_dir

    return default_priors_dir() / "validation" / "scenarios.yaml"


def wilson_interval(events: int, total: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion.

    >>> [round(x, 4) for x in wilson_interval(8, 63)]
    [0.0658, 0.2311]
    """
    if total <= 0 or not 0 <= events <= total:
        raise BayesNetError(f"need 0 <= events <= total and total > 0; got {events}/{total}")
    from statistics import NormalDist

    z = NormalDist().inv_cdf(0.5 + level / 2.0)
    p = events / total
    denom = 1.0 + z * z / total
    centre = (p + z * z / (2 * total)) / denom
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


# --------------------------------------------------------------------------------------------
# reading


class _UniqueKeyLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """YAML's safe loader (libyaml's when available) that also refuses duplicate keys.

    Only the safe constructors exist: a tag that would build a Python object is an error.
    """


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    loader.flatten_mapping(node)
    out: dict = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, f"unhashable key {key!r}", key_node.start_mark
            ) from None
        if key in out:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        out[key] = loader.construct_object(value_node, deep=deep)
    return out


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _read_file(path: Path) -> Any:
    name = path.name
    if not path.exists():
        raise ValidationFileError("file not found", file=str(path))
    if not path.is_file():
        raise ValidationFileError("not a file", file=str(path))
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise ValidationFileError(f"file is too large ({size} bytes; at most {MAX_FILE_BYTES})", file=name)
    return read_yaml_mapping(path, name, ValidationFileError, _UniqueKeyLoader)


def _states_of(priors: PriorSet) -> dict[str, tuple[str, ...]]:
    states: dict[str, tuple[str, ...]] = {}
    for name, rf in priors.risk_factors.items():
        states[name] = tuple(rf.states)
    for name in priors.conditions:
        states[name] = ("yes", "no")
    for name, f in priors.findings.items():
        states[name] = tuple(f.states)
    return states


class _Reader(Reader):
    """The priors reader's checks (mapping, keys, number...), plus the validation file's names."""

    def __init__(self, file: str, states: Mapping[str, tuple[str, ...]], settings: Sequence[str],
                 conditions: Sequence[str]):
        super().__init__(file)
        self.states = states
        self.settings = list(settings)
        self.conditions = list(conditions)

    def fail(self, entry: str, message: str) -> ValidationFileError:
        return ValidationFileError(message, file=self.file, entry=entry)

    def prose(self, obj: Any, entry: str) -> str:
        """Non-empty text with its whitespace collapsed (titles, notes, sources)."""
        if not isinstance(obj, str) or not obj.strip():
            raise self.fail(entry, f"must be a non-empty text; got {show_value(obj)}")
        return " ".join(obj.split())

    def integer(self, obj: Any, entry: str) -> int:
        if isinstance(obj, bool) or not isinstance(obj, int):
            raise self.fail(entry, f"must be a whole number; got {show_value(obj)}")
        return int(obj)

    def variable(self, name: Any, entry: str, kinds: str = "variable") -> str:
        if not isinstance(name, str) or name not in self.states:
            hint = closest(name, self.states) if isinstance(name, str) else []
            extra = f"; did you mean {hint[0]!r}?" if hint else ""
            raise self.fail(entry, f"unknown {kinds} {show_value(name)}{extra}")
        return name

    def state_set(self, var: str, obj: Any, entry: str) -> tuple[str, ...]:
        """One state or a list of states of ``var`` (YAML's bare yes/no become booleans: accepted)."""
        raw = obj if isinstance(obj, list) else [obj]
        if not raw:
            raise self.fail(entry, f"give at least one state of {var!r}")
        valid = self.states[var]
        out = []
        for s in raw:
            if isinstance(s, bool):
                s = "yes" if s else "no"
            if not isinstance(s, str) or s not in valid:
                hint = closest(s, valid) if isinstance(s, str) else []
                extra = f"; did you mean {hint[0]!r}?" if hint else f"; states are {', '.join(valid)}"
                raise self.fail(entry, f"unknown state {show_value(s)} of variable {var!r}{extra}")
            if s in out:
                raise self.fail(entry, f"state {s!r} of {var!r} is listed twice")
            out.append(s)
        if len(out) == len(valid):
            raise self.fail(entry, f"every state of {var!r} is listed, so it says nothing; leave it out")
        return tuple(s for s in valid if s in out)

    def assignments(self, obj: Any, entry: str) -> dict[str, tuple[str, ...]]:
        if obj is None:
            return {}
        if not isinstance(obj, dict):
            raise self.fail(entry, f"must be a mapping of variable to state; got {show_value(obj)}")
        out = {}
        for var, st in obj.items():
            var = self.variable(var, entry)
            out[var] = self.state_set(var, st, f"{entry}.{var}")
        return out

    def target(self, obj: Any, entry: str) -> Target:
        if not isinstance(obj, dict) or len(obj) != 1:
            raise self.fail(entry, "must be a mapping with exactly one of: condition, any_of, all_of")
        (key, val), = obj.items()
        if key not in _TARGET_KEYS:
            hint = closest(key, _TARGET_KEYS) if isinstance(key, str) else []
            extra = f"; did you mean {hint[0]!r}?" if hint else "; use condition, any_of or all_of"
            raise self.fail(entry, f"unknown key {show_value(key)}{extra}")
        e = f"{entry}.{key}"
        if key == "condition":
            name = self.variable(val, e, "condition")
            if name not in self.conditions:
                raise self.fail(e, f"{name!r} is not a condition; conditions are {', '.join(self.conditions)}")
            return Target("all", ((name, ("yes",)),), name)
        if isinstance(val, list):
            if not val:
                raise self.fail(e, "must list at least one condition")
            items = []
            for i, name in enumerate(val):
                name = self.variable(name, f"{e}[{i}]", "condition")
                if name not in self.conditions:
                    raise self.fail(f"{e}[{i}]", f"{name!r} is not a condition (a list names conditions; "
                                    "use a mapping variable: state for other variables)")
                if any(name == v for v, _ in items):
                    raise self.fail(f"{e}[{i}]", f"{name!r} is listed twice")
                items.append((name, ("yes",)))
        else:
            mapping = self.assignments(val, e)
            if not mapping:
                raise self.fail(e, "must name at least one variable")
            items = list(mapping.items())
        mode = "all" if key == "all_of" else "any"
        joiner = " & " if mode == "all" else " | "
        label = joiner.join(v if s == ("yes",) else f"{v}={'/'.join(s)}" for v, s in items)
        return Target(mode, tuple(items), label)

    def published(self, obj: Any, entry: str, measure: str) -> Published:
        if not isinstance(obj, dict):
            raise self.fail(entry, f"must be a mapping with value, low, high; got {show_value(obj)}")
        for k in obj:
            if k not in _PUBLISHED_KEYS:
                hint = closest(k, _PUBLISHED_KEYS) if isinstance(k, str) else []
                extra = f"; did you mean {hint[0]!r}?" if hint else f"; allowed: {', '.join(sorted(_PUBLISHED_KEYS))}"
                raise self.fail(entry, f"unknown key {show_value(k)}{extra}")
        if "value" not in obj:
            raise self.fail(entry, "missing required key 'value'")
        value = self.number(obj["value"], f"{entry}.value")
        interval = obj.get("interval", "reported")
        if interval not in ("reported", "wilson"):
            raise self.fail(f"{entry}.interval", f"must be 'reported' or 'wilson'; got {show_value(interval)}")
        events = total = None
        if ("events" in obj) != ("total" in obj):
            raise self.fail(entry, "give both 'events' and 'total', or neither")
        if "events" in obj:
            events = self.integer(obj["events"], f"{entry}.events")
            total = self.integer(obj["total"], f"{entry}.total")
            if total <= 0 or not 0 <= events <= total:
                raise self.fail(entry, f"counts must satisfy 0 <= events <= total, total > 0; got {events}/{total}")
            if measure != "probability":
                raise self.fail(entry, "counts go with a probability, not a likelihood ratio")
            if abs(events / total - value) > 1e-3:
                raise self.fail(f"{entry}.value", f"{value} does not match the counts {events}/{total} = "
                                f"{events / total:.4f}")
        if interval == "wilson" and events is None:
            raise self.fail(f"{entry}.interval", "a Wilson interval is computed from 'events' and 'total'; give them")
        if interval == "wilson":
            lo, hi = wilson_interval(events, total)
            for name, x in (("low", lo), ("high", hi)):
                if name in obj and abs(self.number(obj[name], f"{entry}.{name}") - x) > 1e-3:
                    raise self.fail(f"{entry}.{name}", f"{obj[name]} is not the Wilson bound {x:.4f} of "
                                    f"{events}/{total}")
            low, high = lo, hi
        else:
            for k in ("low", "high"):
                if k not in obj:
                    raise self.fail(entry, f"missing required key {k!r} (the 95% interval); with counts, "
                                    "'interval: wilson' computes it")
            low = self.number(obj["low"], f"{entry}.low")
            high = self.number(obj["high"], f"{entry}.high")
        for name, x in (("value", value), ("low", low), ("high", high)):
            if measure == "probability" and not 0.0 <= x <= 1.0:
                raise self.fail(f"{entry}.{name}", f"is a probability and must lie in [0, 1]; got {x!r}")
            if measure == "likelihood_ratio" and not x > 0.0:
                raise self.fail(f"{entry}.{name}", f"is a likelihood ratio and must be > 0; got {x!r}")
        if not low <= value <= high:
            raise self.fail(entry, f"interval [{low}, {high}] must contain the value {value} (is low > high?)")
        return Published(value, low, high, events, total, interval)

    def scenario(self, obj: Any, index: int) -> Scenario:
        entry = f"scenarios[{index}]"
        if not isinstance(obj, dict):
            raise self.fail(entry, f"must be a mapping; got {show_value(obj)}")
        sid = obj.get("id")
        if isinstance(sid, str) and sid:
            entry = f"scenarios[{index}] ({sid})"
        for k in obj:
            if k not in _SCENARIO_KEYS:
                hint = closest(k, _SCENARIO_KEYS) if isinstance(k, str) else []
                extra = f"; did you mean {hint[0]!r}?" if hint else ""
                raise self.fail(entry, f"unknown key {show_value(k)}{extra}")
        for k in sorted(_REQUIRED):
            if k not in obj or obj[k] is None:
                raise self.fail(entry, f"missing required key {k!r}")
        if not isinstance(sid, str) or not _ID.match(sid):
            raise self.fail(f"{entry}.id", f"must be lower-case letters, digits and _; got {show_value(sid)}")
        setting = obj["setting"]
        if setting not in self.settings:
            hint = closest(setting, self.settings) if isinstance(setting, str) else []
            extra = f"; did you mean {hint[0]!r}?" if hint else f"; settings are {', '.join(self.settings)}"
            raise self.fail(f"{entry}.setting", f"unknown setting {show_value(setting)}{extra}")
        measure = obj.get("measure", "probability")
        if measure not in MEASURES:
            hint = closest(measure, MEASURES) if isinstance(measure, str) else []
            extra = f"; did you mean {hint[0]!r}?" if hint else f"; use {' or '.join(MEASURES)}"
            raise self.fail(f"{entry}.measure", f"unknown measure {show_value(measure)}{extra}")
        evidence = self.assignments(obj.get("evidence"), f"{entry}.evidence")
        tests = self.assignments(obj.get("tests"), f"{entry}.tests")
        if measure == "likelihood_ratio" and not tests:
            raise self.fail(f"{entry}.tests", "a likelihood ratio needs 'tests': the findings whose ratio it is")
        if measure == "probability" and tests:
            raise self.fail(f"{entry}.tests", "'tests' go with measure: likelihood_ratio; put findings in 'evidence'")
        for v in tests:
            if v in evidence:
                raise self.fail(f"{entry}.tests.{v}", f"{v!r} is also in 'evidence'")
        target = self.target(obj["target"], f"{entry}.target")
        for v in target.variables:
            if v in evidence or v in tests:
                raise self.fail(f"{entry}.target", f"{v!r} is both observed and the target")
        published = self.published(obj["published"], f"{entry}.published", measure)
        independent = obj["independent"]
        if not isinstance(independent, bool):
            raise self.fail(f"{entry}.independent", f"must be true or false; got {show_value(independent)}")
        independence = obj.get("independence", "")
        if not independent and not (isinstance(independence, str) and independence.strip()):
            raise self.fail(f"{entry}.independence", "independent: false needs a note saying which numbers "
                            "the study shares with the priors")
        return Scenario(
            id=sid,
            title=self.prose(obj["title"], f"{entry}.title"),
            setting=setting,
            setting_reason=self.prose(obj["setting_reason"], f"{entry}.setting_reason"),
            evidence=evidence,
            target=target,
            measure=measure,
            published=published,
            source=self.prose(obj["source"], f"{entry}.source"),
            population=self.prose(obj["population"], f"{entry}.population"),
            independent=independent,
            mapping=self.prose(obj["mapping"], f"{entry}.mapping"),
            independence=self.prose(independence, f"{entry}.independence") if independence else "",
            tests=tests,
            note=self.prose(obj["note"], f"{entry}.note") if obj.get("note") is not None else "",
            file=self.file,
            entry=entry,
        )


def load_validation(path: str | os.PathLike | None = None, priors: Any = None) -> list[Scenario]:
    """Read and check a validation file.

    Parameters
    ----------
    path : path-like, optional
        A YAML file (default: ``validation/scenarios.yaml`` in the priors directory, else
        :func:`default_validation_path`). Only YAML's safe subset is read:
        tags that construct Python objects are refused, and so are duplicate keys.
    priors : BackPainModel, PriorSet or path-like, optional
        The model whose variables, states and settings the scenarios must use (default: the
        shipped priors).

    Returns
    -------
    list of Scenario

    Raises
    ------
    ValidationFileError
        Anything wrong, naming the file and the entry (and the closest valid name).

    Examples
    --------
    >>> sc = load_validation()
    >>> sc[0].id, sc[0].setting in ("primary_care", "emergency")
    ('fracture_older_age', True)
    """
    ps = _priors_of(priors)
    if path is not None:
        p = Path(path)
    else:  # the priors' own validation set if they carry one, else the shipped one
        own = Path(ps.directory) / "validation" / "scenarios.yaml"
        p = own if own.is_file() else default_validation_path()
    data = _read_file(p)
    name = p.name
    states = _states_of(ps)
    conditions = list(ps.conditions)
    r = _Reader(name, states, list(ps.settings), conditions)
    for k in data:
        if k not in ("schema_version", "scenarios"):
            hint = closest(k, ["schema_version", "scenarios"]) if isinstance(k, str) else []
            extra = f"; did you mean {hint[0]!r}?" if hint else ""
            raise r.fail("top level", f"unknown key {show_value(k)}{extra}")
    if data.get("schema_version", 1) != 1:
        raise r.fail("schema_version", f"unsupported version {show_value(data.get('schema_version'))}; this reader knows 1")
    items = data.get("scenarios")
    if not isinstance(items, list) or not items:
        raise r.fail("scenarios", f"must be a non-empty list of scenarios; got {show_value(items)}")
    out: list[Scenario] = []
    seen: dict[str, int] = {}
    for i, obj in enumerate(items):
        sc = r.scenario(obj, i)
        if sc.id in seen:
            raise r.fail(sc.entry, f"id {sc.id!r} is used twice (also scenarios[{seen[sc.id]}])")
        seen[sc.id] = i
        out.append(sc)
    return out


def _priors_of(priors: Any) -> PriorSet:
    """The priors a validation file is checked against: a PriorSet, a model's, a folder, or the shipped ones."""
    if isinstance(priors, PriorSet):
        return priors
    if isinstance(getattr(priors, "priors", None), PriorSet):  # a BackPainModel
        return priors.priors
    if priors is None:
        return load_priors(default_priors_dir())
    if isinstance(priors, str | os.PathLike):
        return load_priors(priors)
    raise BayesNetError(f"expected a BackPainModel, PriorSet or priors directory; got {type(priors).__name__}")
