"""Validation scenarios: published post-test probabilities, read from a YAML file and checked.

The validation set (``priors/validation/scenarios.yaml``, described in
``priors/validation/README.md``) lists clinical scenarios for which a study reports a probability
(or a likelihood ratio) with its interval, each mapped to the network's variables. None of these
numbers is used to build the network; a scenario sharing data with a number the network is built
from says so (``independent: false``). This module only reads and checks the file;
:func:`bayesnet.reasoning.validation.validate` evaluates the scenarios.

Each scenario runs in the population its study enrolled: a shipped setting's name, or a
study-population setting file named relative to the validation file's folder
(``setting: settings/geersing_2012.yaml``; :attr:`Scenario.setting_file` is then its resolved
path). Intervals computed from counts are exact (Clopper-Pearson, :func:`exact_interval`);
``interval: wilson`` is refused in files of ``schema_version: 2`` and read as before in version 1.

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, ClassVar

import yaml
from pydantic import AfterValidator, BeforeValidator, Field, ValidationInfo, field_validator, model_validator

from bayesnet.data.priors import PriorSet, default_priors_dir, is_setting_path, load_priors, read_yaml_mapping
from bayesnet.data.schema import Model, Prose, check, fail, name_in, one_of, rule, show_value, unknown
from bayesnet.errors import BayesNetError, PriorsError

__all__ = [
    "MEASURES",
    "Published",
    "Scenario",
    "Target",
    "ValidationFileError",
    "default_validation_path",
    "exact_interval",
    "load_validation",
    "wilson_interval",
]

#: What a scenario's published number measures.
MEASURES = ("probability", "likelihood_ratio")
#: Quantile of the standard normal for a 95% interval.
_Z95 = 1.959963984540054
_ID = re.compile(r"^[a-z][a-z0-9_]*$")
#: The largest validation file read (bytes): the shipped one is about 30 kB.
MAX_FILE_BYTES = 5_000_000
#: The version of the validation file format this reader writes; version 1 files (no
#: ``interval: exact``, Wilson intervals from counts) are still read as they were.
SCHEMA_VERSION = 2


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
    interval: str = "reported"  # "reported" (as published) or "exact" (Clopper-Pearson, computed from the counts)


@dataclass(frozen=True)
class Scenario:
    """One validation scenario (see ``priors/validation/README.md`` for the fields)."""

    id: str
    title: str
    setting: str  # a shipped setting's name, or a setting file as written (relative to the file's folder)
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
    setting_file: str = ""  # the resolved path when ``setting`` names a setting file, else ""


def default_validation_path() -> Path:
    """The shipped validation file: ``validation/scenarios.yaml`` inside the priors directory."""
    from bayesnet.data.priors import default_priors_dir

    return default_priors_dir() / "validation" / "scenarios.yaml"


def exact_interval(events: int, total: int, level: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper-Pearson) interval of ``events`` in ``total``: the narrowest a count allows.

    The same interval as :func:`bayesnet.data.priors.exact_binomial_interval` (beta quantiles;
    0 and 1 at the ends).

    >>> [round(x, 4) for x in exact_interval(8, 63)]
    [0.0565, 0.235]
    """
    if isinstance(events, bool) or isinstance(total, bool) or total <= 0 or not 0 <= events <= total:
        raise BayesNetError(f"need 0 <= events <= total and total > 0; got {events}/{total}")
    if not 0.0 < level < 1.0:
        raise BayesNetError(f"level must lie strictly between 0 and 1; got {level!r}")
    from scipy.stats import beta

    a = (1.0 - level) / 2.0
    low = 0.0 if events == 0 else float(beta.ppf(a, events, total - events + 1))
    high = 1.0 if events == total else float(beta.ppf(1.0 - a, events + 1, total - events))
    return low, high


def wilson_interval(events: int, total: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion (read only from version-1 validation files).

    Narrower than the exact interval for small counts, so the project no longer uses it: a
    current file writes ``interval: exact``.

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
    return {**{n: tuple(rf.states) for n, rf in priors.risk_factors.items()},
            **dict.fromkeys(priors.conditions, ("yes", "no")), **{n: tuple(f.states) for n, f in priors.findings.items()}}


# --------------------------------------------------------------------------------------------
# the file's schema (pydantic); names are checked against the priors' (the context given to check())


def _variable(name: Any, info: ValidationInfo, kind: str = "variable", *at: int) -> str:
    if not isinstance(name, str) or name not in info.context["states"]:
        raise fail(unknown(kind, name, info.context["states"]), *at)
    return name


def _condition(name: Any, info: ValidationInfo, *at: int) -> str:
    if _variable(name, info, "condition", *at) not in info.context["conditions"]:
        raise fail(f"{name!r} is not a condition" + (" (a list names conditions; use a mapping variable: state for "
                   "other variables)" if at else f"; conditions are {', '.join(info.context['conditions'])}"), *at)
    return name


def _state_set(var: str, obj: Any, valid: tuple[str, ...]) -> tuple[str, ...]:
    """One state or a list of states of ``var`` (YAML's bare yes/no become booleans: accepted)."""
    out: list[str] = []
    for s in obj if isinstance(obj, list) else [obj]:
        s = ("yes" if s else "no") if isinstance(s, bool) else s
        if not isinstance(s, str) or s not in valid:
            raise fail(unknown("state", s, valid, "; states are {}", of=f" of variable {var!r}"), var)
        if s in out:
            raise fail(f"state {s!r} of {var!r} is listed twice", var)
        out.append(s)
    if not out or len(out) == len(valid):
        raise fail(f"give at least one state of {var!r}" if not out else
                   f"every state of {var!r} is listed, so it says nothing; leave it out", var)
    return tuple(s for s in valid if s in out)


def _assignments(obj: Any, info: ValidationInfo) -> dict[str, tuple[str, ...]]:
    if not isinstance(obj, dict | None):
        raise fail(f"must be a mapping of variable to state; got {show_value(obj)}")
    return {_variable(v, info): _state_set(v, s, info.context["states"][v]) for v, s in (obj or {}).items()}


def _event(obj: Any, info: ValidationInfo) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """A list of conditions, or a mapping of variable to state(s)."""
    if isinstance(obj, list):
        for i, name in enumerate(obj):
            if _condition(name, info, i) in obj[:i]:
                raise fail(f"{name!r} is listed twice", i)
    items = tuple((n, ("yes",)) for n in obj) if isinstance(obj, list) else tuple(_assignments(obj, info).items())
    if not items:
        raise fail("must list at least one condition" if isinstance(obj, list) else "must name at least one variable")
    return items


def _setting(name: Any, info: ValidationInfo) -> str:
    """A shipped setting's name, or a setting file (``.yaml``) relative to the validation file's folder."""
    if isinstance(name, str) and is_setting_path(name):
        path = Path(info.context["folder"]) / name
        if not path.is_file():
            raise fail(f"setting file {name!r} not found (looked for {path}); a setting file is named relative to "
                       "the validation file's folder, e.g. settings/<study>.yaml")
        return name
    if not isinstance(name, str) or name not in info.context["settings"]:
        raise fail(unknown("setting", name, info.context["settings"],
                           "; settings are {} (or a setting file such as settings/<study>.yaml)"))
    return name


Assignments = Annotated[dict, BeforeValidator(_assignments)]
Event = Annotated[Any, BeforeValidator(_event)]


class TargetIn(Model):
    what: ClassVar[str] = "a mapping with exactly one of: condition, any_of, all_of"
    condition: Annotated[str, BeforeValidator(_condition)] = ""
    any_of: Event = ()
    all_of: Event = ()

    @classmethod
    def prepare(cls, data: dict) -> dict:
        if len(data) != 1:
            raise fail(f"must be {cls.what}")
        return data

    def target(self) -> Target:
        (key,) = self.model_fields_set
        if key == "condition":
            return Target("all", ((self.condition, ("yes",)),), self.condition)
        mode, items = ("all" if key == "all_of" else "any"), getattr(self, key)
        label = (" & " if mode == "all" else " | ").join(v if s == ("yes",) else f"{v}={'/'.join(s)}" for v, s in items)
        return Target(mode, items, label)


class PublishedIn(Model):
    what: ClassVar[str] = "a mapping with value, low, high"
    value: float
    low: float | None = None
    high: float | None = None
    events: int | None = None
    total: int | None = None
    interval: Annotated[str, one_of("reported", "exact", "wilson")] = "reported"

    @model_validator(mode="after")
    def _counts(self, info: ValidationInfo) -> PublishedIn:
        k, n = self.events, self.total
        version = (info.context or {}).get("version", SCHEMA_VERSION)
        if self.interval == "wilson" and version != 1:
            raise fail("'interval: wilson' is refused: an interval computed from counts must be the exact "
                       "(Clopper-Pearson) binomial interval, never narrower; write 'interval: exact'", "interval")
        if self.interval == "exact" and version == 1:
            raise fail("'interval: exact' needs schema_version: 2", "interval")
        if (k is None) != (n is None):
            raise fail("give both 'events' and 'total', or neither")
        if n is not None and (n <= 0 or not 0 <= k <= n):
            raise fail(f"counts must satisfy 0 <= events <= total, total > 0; got {k}/{n}")
        if n is not None and abs(k / n - self.value) > 1e-3:
            raise fail(f"{self.value} does not match the counts {k}/{n} = {k / n:.4f}", "value")
        if self.interval in ("exact", "wilson") and n is None:
            name = "An exact" if self.interval == "exact" else "A Wilson"
            raise fail(f"{name} interval is computed from 'events' and 'total'; give them", "interval")
        if self.interval in ("exact", "wilson"):
            name, bounds = (("exact", exact_interval(k, n)) if self.interval == "exact"
                            else ("Wilson", wilson_interval(k, n)))
            for bound, x in zip(("low", "high"), bounds, strict=True):
                if getattr(self, bound) is not None and abs(getattr(self, bound) - x) > 1e-3:
                    raise fail(f"{getattr(self, bound)} is not the {name} bound {x:.4f} of {k}/{n}", bound)
                setattr(self, bound, x)
        if self.low is None or self.high is None:
            raise fail(f"missing required key {'low' if self.low is None else 'high'!r} (the 95% interval); with counts, "
                       "'interval: exact' computes it")
        if self.interval == "reported" and n is not None and version != 1:
            lo, hi = exact_interval(k, n)
            if self.low > lo + 1e-3 or self.high < hi - 1e-3:
                raise fail(f"the reported interval [{self.low}, {self.high}] is narrower than the exact binomial "
                           f"interval [{lo:.4f}, {hi:.4f}] of the counts {k}/{n}; use 'interval: exact'")
        return self


class ScenarioIn(Model):
    none_is_missing: ClassVar[bool] = True
    id: Annotated[str, rule(lambda v: isinstance(v, str) and _ID.match(v), "must be lower-case letters, digits and _; "
                            "got {}")]
    title: Prose
    setting: Annotated[str, BeforeValidator(_setting)]
    setting_reason: Prose
    measure: Annotated[str, name_in(MEASURES, "measure", "; use probability or likelihood_ratio")] = "probability"
    evidence: Assignments = {}
    tests: Annotated[Assignments, Field(validate_default=True)] = {}
    target: TargetIn
    published: PublishedIn
    source: Prose
    population: Prose
    independent: bool
    independence: Annotated[str, AfterValidator(lambda s: " ".join(s.split()))] = ""
    mapping: Prose
    note: Prose = ""

    @field_validator("tests")
    @classmethod
    def _tests(cls, tests: dict, info: ValidationInfo) -> dict:
        if info.data.get("measure") == "likelihood_ratio" and not tests:
            raise fail("a likelihood ratio needs 'tests': the findings whose ratio it is")
        if info.data.get("measure") == "probability" and tests:
            raise fail("'tests' go with measure: likelihood_ratio; put findings in 'evidence'")
        for v in tests:
            if v in info.data.get("evidence", ()):
                raise fail(f"{v!r} is also in 'evidence'", v)
        return tests

    @field_validator("published")
    @classmethod
    def _published(cls, p: PublishedIn, info: ValidationInfo) -> Published:
        measure = info.data.get("measure")
        if p.events is not None and measure == "likelihood_ratio":
            raise fail("counts go with a probability, not a likelihood ratio")
        for bound in ("value", "low", "high"):
            x = getattr(p, bound)
            if measure == "probability" and not 0.0 <= x <= 1.0:
                raise fail(f"is a probability and must lie in [0, 1]; got {x!r}", bound)
            if measure == "likelihood_ratio" and not x > 0.0:
                raise fail(f"is a likelihood ratio and must be > 0; got {x!r}", bound)
        if not p.low <= p.value <= p.high:
            raise fail(f"interval [{p.low}, {p.high}] must contain the value {p.value} (is low > high?)")
        return Published(p.value, p.low, p.high, p.events, p.total, p.interval)

    @model_validator(mode="after")
    def _consistent(self) -> ScenarioIn:
        for v in self.target.target().variables:
            if v in self.evidence or v in self.tests:
                raise fail(f"{v!r} is both observed and the target", "target")
        if not self.independent and not self.independence:
            raise fail("independent: false needs a note saying which numbers the study shares with the priors",
                       "independence")
        return self


class ScenarioFile(Model):
    schema_version: Annotated[Any, rule(lambda v: v in (1, SCHEMA_VERSION) and not isinstance(v, bool),
                                        f"unsupported version {{}}; this reader knows 1 and {SCHEMA_VERSION}")] = SCHEMA_VERSION
    scenarios: Annotated[list[ScenarioIn], rule(lambda v: isinstance(v, list) and v,
                                                "must be a non-empty list of scenarios; got {}")]

    @model_validator(mode="after")
    def _unique_ids(self) -> ScenarioFile:
        ids = [s.id for s in self.scenarios]
        for i, sid in enumerate(ids):
            if sid in ids[:i]:
                raise fail(f"id {sid!r} is used twice (also scenarios[{ids.index(sid)}])", "scenarios", i)
        return self


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
        shipped priors). A scenario may instead name a setting file relative to the validation
        file's folder (``settings/<study>.yaml``); it must exist.

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
    raw = _read_file(p)
    version = raw.get("schema_version", SCHEMA_VERSION) if isinstance(raw, dict) else SCHEMA_VERSION
    folder = p.resolve().parent
    data = check(ScenarioFile, raw, p.name, ValidationFileError, states=_states_of(ps), settings=list(ps.settings),
                 conditions=list(ps.conditions), version=version, folder=str(folder))
    return [Scenario(**{**dict(s), "target": s.target.target()}, file=p.name, entry=f"scenarios[{i}] ({s.id})",
                     setting_file=str((folder / s.setting).resolve()) if is_setting_path(s.setting) else "")
            for i, s in enumerate(data.scenarios)]


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
