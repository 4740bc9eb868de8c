"""Clinical validation: published post-test probabilities against the model's posteriors.

The validation set (``priors/validation/scenarios.yaml``, described in
``priors/validation/README.md``) lists concrete clinical scenarios for which a study reports a
probability (or a likelihood ratio) with its interval: a red flag's post-test probability of
fracture, a Wells stratum's prevalence of pulmonary embolism, the frequency of the "classic
triad" among patients with an epidural abscess, and so on. Each is mapped to the network's
variables. None of these numbers is used to build the network; where a study shares data with a
number the network is built from, the scenario says so (``independent: false``).

:func:`validate` runs every scenario through the model of its setting and reports the published
value and interval beside the model's value and the interval that the uncertainty of the priors
gives it (the same parameter draws as :meth:`bayesnet.BackPainModel.uncertainty`), with whether
the model's point value lies inside the published interval and whether the two intervals
overlap. :func:`calibration_plot` draws published against model on log axes.
``bayesnet validate`` (:data:`validate_command`) is the command line.

Targets
-------
A scenario's target is an *event*: one condition (``condition: spinal_metastasis``), any of
several (``any_of: [pulmonary_embolism, dvt]``, e.g. "venous thromboembolism"), or all or any of
a set of variable states (``all_of: {fever: "yes", neuro_deficit: "yes"}``). Every probability
is computed exactly from the probability of evidence ``Z`` (a sum over the joint distribution):
``P(A | e) = Z(e, A) / Z(e)``; "any of" is summed over disjoint pieces,
``P(A1 or A2 | e) = P(A1 | e) + P(not A1, A2 | e)``, so no subtraction loses digits for rare
events. The same formula runs on the point tables and, vectorised, on every parameter draw.

Examples
--------
>>> from bayesnet.reasoning.validation import load_validation, validate
>>> scenarios = load_validation()
>>> len(scenarios) >= 12
True
>>> res = validate(draws=0)
>>> list(res.columns[:4])
['id', 'setting', 'target', 'measure']
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import numpy as np
import pandas as pd
import yaml

from bayesnet.data.priors import _Reader as _PriorsReader
from bayesnet.data.priors import _show, read_yaml_mapping
from bayesnet.errors import BayesNetError, ImpossibleEvidenceError, PriorsError, closest

if TYPE_CHECKING:  # pragma: no cover
    from bayesnet.data.priors import PriorSet
    from bayesnet.model import BackPainModel

__all__ = [
    "MEASURES",
    "Published",
    "Scenario",
    "Target",
    "ValidationFileError",
    "calibration_plot",
    "default_validation_path",
    "event_probability",
    "load_validation",
    "summary",
    "summary_line",
    "validate",
    "validate_command",
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


class _Reader(_PriorsReader):
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
            raise self.fail(entry, f"must be a non-empty text; got {_show(obj)}")
        return " ".join(obj.split())

    def integer(self, obj: Any, entry: str) -> int:
        if isinstance(obj, bool) or not isinstance(obj, int):
            raise self.fail(entry, f"must be a whole number; got {_show(obj)}")
        return int(obj)

    def variable(self, name: Any, entry: str, kinds: str = "variable") -> str:
        if not isinstance(name, str) or name not in self.states:
            hint = closest(name, self.states) if isinstance(name, str) else []
            extra = f"; did you mean {hint[0]!r}?" if hint else ""
            raise self.fail(entry, f"unknown {kinds} {_show(name)}{extra}")
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
                raise self.fail(entry, f"unknown state {_show(s)} of variable {var!r}{extra}")
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
            raise self.fail(entry, f"must be a mapping of variable to state; got {_show(obj)}")
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
            raise self.fail(entry, f"unknown key {_show(key)}{extra}")
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
            raise self.fail(entry, f"must be a mapping with value, low, high; got {_show(obj)}")
        for k in obj:
            if k not in _PUBLISHED_KEYS:
                hint = closest(k, _PUBLISHED_KEYS) if isinstance(k, str) else []
                extra = f"; did you mean {hint[0]!r}?" if hint else f"; allowed: {', '.join(sorted(_PUBLISHED_KEYS))}"
                raise self.fail(entry, f"unknown key {_show(k)}{extra}")
        if "value" not in obj:
            raise self.fail(entry, "missing required key 'value'")
        value = self.number(obj["value"], f"{entry}.value")
        interval = obj.get("interval", "reported")
        if interval not in ("reported", "wilson"):
            raise self.fail(f"{entry}.interval", f"must be 'reported' or 'wilson'; got {_show(interval)}")
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
            raise self.fail(entry, f"must be a mapping; got {_show(obj)}")
        sid = obj.get("id")
        if isinstance(sid, str) and sid:
            entry = f"scenarios[{index}] ({sid})"
        for k in obj:
            if k not in _SCENARIO_KEYS:
                hint = closest(k, _SCENARIO_KEYS) if isinstance(k, str) else []
                extra = f"; did you mean {hint[0]!r}?" if hint else ""
                raise self.fail(entry, f"unknown key {_show(k)}{extra}")
        for k in sorted(_REQUIRED):
            if k not in obj or obj[k] is None:
                raise self.fail(entry, f"missing required key {k!r}")
        if not isinstance(sid, str) or not _ID.match(sid):
            raise self.fail(f"{entry}.id", f"must be lower-case letters, digits and _; got {_show(sid)}")
        setting = obj["setting"]
        if setting not in self.settings:
            hint = closest(setting, self.settings) if isinstance(setting, str) else []
            extra = f"; did you mean {hint[0]!r}?" if hint else f"; settings are {', '.join(self.settings)}"
            raise self.fail(f"{entry}.setting", f"unknown setting {_show(setting)}{extra}")
        measure = obj.get("measure", "probability")
        if measure not in MEASURES:
            hint = closest(measure, MEASURES) if isinstance(measure, str) else []
            extra = f"; did you mean {hint[0]!r}?" if hint else f"; use {' or '.join(MEASURES)}"
            raise self.fail(f"{entry}.measure", f"unknown measure {_show(measure)}{extra}")
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
            raise self.fail(f"{entry}.independent", f"must be true or false; got {_show(independent)}")
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


def _resolve_priors(priors: Any) -> PriorSet:
    from bayesnet.data.priors import PriorSet, default_priors_dir, load_priors
    from bayesnet.model import BackPainModel

    if isinstance(priors, BackPainModel):
        return priors.priors
    if isinstance(priors, PriorSet):
        return priors
    if priors is None:
        from bayesnet.model import _cached_priors

        return _cached_priors(str(Path(default_priors_dir()).resolve()))
    if isinstance(priors, str | os.PathLike):
        return load_priors(priors)
    raise BayesNetError(f"expected a BackPainModel, PriorSet or priors directory; got {type(priors).__name__}")


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
    ps = _resolve_priors(priors)
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
            raise r.fail("top level", f"unknown key {_show(k)}{extra}")
    if data.get("schema_version", 1) != 1:
        raise r.fail("schema_version", f"unsupported version {_show(data.get('schema_version'))}; this reader knows 1")
    items = data.get("scenarios")
    if not isinstance(items, list) or not items:
        raise r.fail("scenarios", f"must be a non-empty list of scenarios; got {_show(items)}")
    out: list[Scenario] = []
    seen: dict[str, int] = {}
    for i, obj in enumerate(items):
        sc = r.scenario(obj, i)
        if sc.id in seen:
            raise r.fail(sc.entry, f"id {sc.id!r} is used twice (also scenarios[{seen[sc.id]}])")
        seen[sc.id] = i
        out.append(sc)
    return out


# --------------------------------------------------------------------------------------------
# computing


def _indicator(states: tuple[str, ...], allowed: Sequence[str]) -> np.ndarray:
    return np.array([1.0 if s in allowed else 0.0 for s in states])


def _evidence_probabilities(vt: Any, rows: Sequence[Mapping[str, np.ndarray]]) -> np.ndarray:
    """Z of every row of likelihoods under every draw of ``vt``: shape ``(n_draws, n_rows)``."""
    from bayesnet.inference.parametric_ve import EvidenceBatch, iter_condition_posteriors

    n = len(rows)
    lik: dict[str, np.ndarray] = {}
    for i, row in enumerate(rows):
        for v, w in row.items():
            if v not in lik:
                lik[v] = np.ones((n, len(vt.states[v])))
            lik[v][i] = w
    lik = {v: a for v, a in lik.items() if not np.all(a == 1.0)}
    batch = EvidenceBatch(n, lik)
    out = np.empty((vt.n, n))
    anchor = vt.calibrated_conditions[:1]
    for idx, d0, d1, _, z in iter_condition_posteriors(vt, batch, anchor):
        out[d0:d1, idx] = z
    return out


def event_probability(vt: Any, evidence: Mapping[str, Sequence[str]], target: Target) -> np.ndarray:
    """P(target | evidence) for every draw of ``vt`` (exact; see the module docstring).

    Parameters
    ----------
    vt : bayesnet.building.parametric.VectorTables
        Tables of one or more parameter draws (``VectorTables.from_tables(model.tables)`` for
        the point values).
    evidence : mapping
        Variable -> the states it is known to be in (one state, or several meaning "one of").
    target : Target

    Returns
    -------
    ndarray
        Shape ``(vt.n,)``; NaN for a draw under which the evidence is impossible.

    Examples
    --------
    >>> import bayesnet
    >>> from bayesnet.building.parametric import VectorTables
    >>> m = bayesnet.load_model()
    >>> t = Target("all", (("spinal_metastasis", ("yes",)),), "spinal_metastasis")
    >>> p = event_probability(VectorTables.from_tables(m.tables), {"history_of_cancer": ["yes"]}, t)
    >>> bool(abs(p[0] - m.diagnose({"history_of_cancer": "yes"}).ranking.loc["spinal_metastasis", "posterior"]) < 1e-12)
    True
    """
    from bayesnet.errors import UnknownNameError

    for v, s in [*evidence.items(), *target.items]:
        if v not in vt.states:
            raise UnknownNameError("variable", v, vt.states)
        for x in [s] if isinstance(s, str) else s:
            if x not in vt.states[v]:
                raise UnknownNameError("state", x, vt.states[v], context=f"of variable {v!r}")
    evidence = {v: (s,) if isinstance(s, str) else tuple(s) for v, s in evidence.items()}
    base = {v: _indicator(vt.states[v], s) for v, s in evidence.items()}
    rows: list[dict[str, np.ndarray]] = [base]
    if target.mode == "all":
        row = dict(base)
        for v, s in target.items:
            row[v] = row.get(v, np.ones(len(vt.states[v]))) * _indicator(vt.states[v], s)
        rows.append(row)
    else:  # disjoint pieces: A1, (not A1) A2, (not A1)(not A2) A3, ...
        for i, (v, s) in enumerate(target.items):
            row = dict(base)
            for u, t in target.items[:i]:
                row[u] = row.get(u, np.ones(len(vt.states[u]))) * (1.0 - _indicator(vt.states[u], t))
            row[v] = row.get(v, np.ones(len(vt.states[v]))) * _indicator(vt.states[v], s)
            rows.append(row)
    z = _evidence_probabilities(vt, rows)
    z0 = z[:, 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        p = z[:, 1:].sum(axis=1) / z0
    p = np.where(z0 > 0, p, np.nan)
    return np.clip(p, 0.0, 1.0)


def _measure(vt: Any, sc: Scenario) -> np.ndarray:
    if sc.measure == "probability":
        return event_probability(vt, sc.evidence, sc.target)
    p0 = event_probability(vt, sc.evidence, sc.target)
    p1 = event_probability(vt, {**sc.evidence, **sc.tests}, sc.target)
    with np.errstate(divide="ignore", invalid="ignore"):
        lr = (p1 / (1.0 - p1)) / (p0 / (1.0 - p0))
    return np.where(np.isfinite(lr) & (lr > 0), lr, np.nan)


def _fmt(x: float, measure: str) -> str:
    from bayesnet.present.display import format_probability

    if x is None or not math.isfinite(x):
        return "-"
    if measure == "likelihood_ratio":
        return f"{x:.3g}"
    return format_probability(x)


def _fmt_interval(v: float, lo: float, hi: float, measure: str) -> str:
    text = ("LR " if measure == "likelihood_ratio" else "") + _fmt(v, measure)
    if math.isfinite(lo) and math.isfinite(hi):
        text += f" [{_fmt(lo, measure)}, {_fmt(hi, measure)}]"
    return text


_COLUMNS = ["id", "setting", "target", "measure", "published", "low", "high", "model", "model_low", "model_high",
            "inside", "overlap", "ratio", "independent", "source", "excluded_draws"]


def validate(
    model_or_priors: Any = None,
    *,
    scenarios: Sequence[Scenario] | None = None,
    path: str | os.PathLike | None = None,
    draws: int = 500,
    seed: int = 0,
    level: float = 0.95,
) -> pd.DataFrame:
    """Run every validation scenario through the model of its setting.

    Parameters
    ----------
    model_or_priors : BackPainModel, PriorSet or path-like, optional
        The model to validate (any of its settings is rebuilt from its priors as needed);
        default: the shipped priors.
    scenarios : list of Scenario, optional
        Default: :func:`load_validation` of ``path``.
    path : path-like, optional
        A validation file (default: the shipped one).
    draws : int, default 500
        Parameter draws for the model's interval (the same draws, for the same seed, as
        :meth:`~bayesnet.BackPainModel.uncertainty`); 0 skips the intervals (NaN), and
        ``overlap`` then equals ``inside``.
    seed : int, default 0
    level : float, default 0.95
        Level of the model's interval.

    Returns
    -------
    DataFrame
        One row per scenario: ``id, setting, target, measure, published, low, high`` (the
        published value and 95% interval), ``model, model_low, model_high`` (the model's value
        under the point estimates and its interval over draws), ``inside`` (the model's value lies
        in the published interval), ``overlap`` (the two intervals overlap), ``ratio`` (model /
        published), ``independent``, ``source`` and ``excluded_draws`` (draws under which the
        evidence was impossible; 0 in practice). ``attrs`` holds ``draws``, ``seed``, ``level``
        and ``summary`` (see :func:`summary`).

    Raises
    ------
    ValidationFileError
        A bad validation file.
    ImpossibleEvidenceError
        A scenario whose evidence has probability zero under the model.
    BayesNetError
        Bad ``draws``, ``seed`` or ``level``.

    Examples
    --------
    >>> res = validate(draws=0)
    >>> bool(res["model"].between(0, 1).all() | (res["measure"] == "likelihood_ratio").any())
    True
    """
    from bayesnet.model import BackPainModel
    from bayesnet.reasoning.uncertainty import _state, check_level

    if isinstance(draws, bool) or not isinstance(draws, int | np.integer) or draws < 0:
        raise BayesNetError(f"draws must be a non-negative integer; got {draws!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise BayesNetError(f"seed must be a non-negative integer; got {seed!r}")
    level = check_level(level)
    ps = _resolve_priors(model_or_priors)
    if scenarios is None:
        scenarios = load_validation(path, ps)
    models: dict[str, BackPainModel] = {}
    if isinstance(model_or_priors, BackPainModel):
        models[model_or_priors.setting] = model_or_priors
    rows = []
    q = [(1.0 - level) / 2.0, (1.0 + level) / 2.0]
    for sc in scenarios:
        if sc.setting not in models:
            if sc.setting not in ps.settings:
                from bayesnet.errors import UnknownNameError

                raise UnknownNameError("setting", sc.setting, ps.settings)
            models[sc.setting] = BackPainModel(ps, sc.setting)
        model = models[sc.setting]
        st = _state(model)
        point = float(_measure(st.point, sc)[0])
        if not math.isfinite(point):
            raise ImpossibleEvidenceError(
                f"scenario {sc.id!r}: the evidence has probability zero under the model, so no value exists"
            )
        lo = hi = math.nan
        excluded = 0
        if draws:
            vals = _measure(st.get_draws(int(draws), int(seed)).tables, sc)
            ok = np.isfinite(vals)
            excluded = int((~ok).sum())
            if ok.any():
                lo, hi = (float(x) for x in np.quantile(vals[ok], q))
        pub = sc.published
        inside = pub.low <= point <= pub.high
        overlap = inside if not draws else bool(max(pub.low, lo) <= min(pub.high, hi))
        rows.append(
            {
                "id": sc.id,
                "setting": sc.setting,
                "target": sc.target.label,
                "measure": sc.measure,
                "published": pub.value,
                "low": pub.low,
                "high": pub.high,
                "model": point,
                "model_low": lo,
                "model_high": hi,
                "inside": bool(inside),
                "overlap": bool(overlap),
                "ratio": point / pub.value if pub.value > 0 else math.inf,
                "independent": sc.independent,
                "source": sc.source,
                "excluded_draws": excluded,
            }
        )
    df = pd.DataFrame(rows, columns=_COLUMNS)
    df.attrs.update({"draws": int(draws), "seed": int(seed), "level": level})
    df.attrs["summary"] = summary(df)
    return df


def summary(df: pd.DataFrame) -> dict[str, int]:
    """Counts: ``scenarios``, ``inside``, ``overlap`` and the same for the independent scenarios."""
    ind = df[df["independent"].astype(bool)]
    return {
        "scenarios": len(df),
        "inside": int(df["inside"].sum()),
        "overlap": int(df["overlap"].sum()),
        "independent": len(ind),
        "independent_inside": int(ind["inside"].sum()),
        "independent_overlap": int(ind["overlap"].sum()),
    }


def summary_line(df: pd.DataFrame) -> str:
    """The one-line summary printed by ``bayesnet validate``.

    >>> df = pd.DataFrame({"inside": [True, False], "overlap": [True, True], "independent": [True, False]})
    >>> df.attrs["draws"] = 500
    >>> summary_line(df)
    '1 of 2 scenarios: model value inside the published 95% interval; 2 of 2 intervals overlap (independent scenarios: 1 of 1 inside, 1 of 1 overlap)'
    """
    s = summary(df)
    n, k = s["scenarios"], s["independent"]
    with_intervals = bool(df.attrs.get("draws", 1))
    line = f"{s['inside']} of {n} scenarios: model value inside the published 95% interval; "
    line += f"{s['overlap']} of {n} intervals overlap" if with_intervals else "model intervals not computed (--draws 0)"
    if k < n:
        line += f" (independent scenarios: {s['independent_inside']} of {k} inside"
        line += f", {s['independent_overlap']} of {k} overlap)" if with_intervals else ")"
    return line


def _table(df: pd.DataFrame) -> str:
    out = pd.DataFrame(
        {
            "id": df["id"],
            "setting": df["setting"].str.replace("primary_care", "primary"),
            "target": df["target"].map(lambda s: s if len(s) <= 38 else s[:35] + "..."),
            "published [95% CI]": [
                _fmt_interval(v, lo, hi, m)
                for v, lo, hi, m in zip(df["published"], df["low"], df["high"], df["measure"], strict=True)
            ],
            "model [interval]": [
                _fmt_interval(v, lo, hi, m)
                for v, lo, hi, m in zip(df["model"], df["model_low"], df["model_high"], df["measure"], strict=True)
            ],
            "inside": df["inside"].map({True: "yes", False: "no"}),
            "overlap": df["overlap"].map({True: "yes", False: "no"}),
            "indep": df["independent"].map({True: "yes", False: "no"}),
        }
    )
    with pd.option_context("display.max_rows", None, "display.max_colwidth", 60, "display.width", 250):
        return out.to_string(index=False)


# --------------------------------------------------------------------------------------------
# figure


def calibration_plot(df: pd.DataFrame, ax: Any = None) -> Any:
    """Published against model value on log-log axes, with both intervals and the identity line.

    Parameters
    ----------
    df : DataFrame
        The result of :func:`validate`.
    ax : matplotlib Axes, optional
        Drawn on when given; otherwise a new figure (no pyplot state is touched).

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> ax = calibration_plot(validate(draws=0))
    >>> ax.get_xscale(), ax.get_yscale()
    ('log', 'log')
    """
    if ax is None:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(7.5, 7.0), layout="constrained")
        ax = fig.add_subplot()
    cols = ["published", "low", "high", "model", "model_low", "model_high"]
    data = df[cols].astype(float).to_numpy()
    positive = data[np.isfinite(data) & (data > 0)]
    lo_lim = max(float(positive.min()) / 2.0, 1e-9) if positive.size else 1e-4
    hi_lim = min(float(positive.max()) * 2.0, 1e3) if positive.size else 1.0
    floor = lo_lim

    def clip(a: np.ndarray) -> np.ndarray:
        return np.where(np.isfinite(a), np.maximum(a, floor), np.nan)

    ax.plot([lo_lim, hi_lim], [lo_lim, hi_lim], color="0.6", lw=1, ls="--", zorder=0, label="identity")
    styles = {
        (True, "probability"): ("o", "#1e8449", "inside, probability"),
        (False, "probability"): ("o", "#c0392b", "outside, probability"),
        (True, "likelihood_ratio"): ("s", "#1e8449", "inside, likelihood ratio"),
        (False, "likelihood_ratio"): ("s", "#c0392b", "outside, likelihood ratio"),
    }
    for (inside, measure), (marker, colour, label) in styles.items():
        sel = (df["inside"].astype(bool) == inside) & (df["measure"] == measure)
        if not sel.any():
            continue
        d = df[sel]
        x, y = clip(d["published"].to_numpy(float)), clip(d["model"].to_numpy(float))
        xerr = np.maximum(np.vstack([x - clip(d["low"].to_numpy(float)), clip(d["high"].to_numpy(float)) - x]), 0.0)
        ylo, yhi = clip(d["model_low"].to_numpy(float)), clip(d["model_high"].to_numpy(float))
        # with few draws the point value can fall outside the draws' interval: no negative bars
        yerr = np.maximum(np.vstack([np.nan_to_num(y - ylo), np.nan_to_num(yhi - y)]), 0.0)
        hollow = ~d["independent"].astype(bool).to_numpy()
        for mask, face in ((~hollow, colour), (hollow, "white")):
            if mask.any():
                ax.errorbar(x[mask], y[mask], xerr=xerr[:, mask], yerr=yerr[:, mask], fmt=marker, ms=6,
                            color=colour, mfc=face, ecolor=colour, elinewidth=0.9, capsize=2,
                            label=label if face == colour or not (~hollow).any() else None)
        for xi, yi, name in zip(x, y, d["id"], strict=True):
            ax.annotate(str(name), (xi, yi), fontsize=6, xytext=(3, 3), textcoords="offset points", color="0.25")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo_lim, hi_lim)
    ax.set_ylim(lo_lim, hi_lim)
    ax.set_xlabel("published value (95% interval)")
    ax.set_ylabel("model value (interval over parameter draws)")
    s = summary(df)
    ax.set_title(f"Clinical validation: {s['inside']} of {s['scenarios']} inside, "
                 f"{s['overlap']} of {s['scenarios']} overlap\n(hollow markers: not independent of the priors)",
                 fontsize=10)
    ax.legend(fontsize=7, loc="upper left")
    ax.grid(True, which="major", lw=0.3, color="0.85")
    return ax


# --------------------------------------------------------------------------------------------
# command line


def _records(df: pd.DataFrame) -> list[dict]:
    out = []
    for rec in df.to_dict("records"):
        clean = {}
        for k, v in rec.items():
            if hasattr(v, "item"):
                v = v.item()
            if isinstance(v, float) and not math.isfinite(v):
                v = None
            clean[k] = v
        out.append(clean)
    return out


@click.command("validate")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
@click.option("--draws", type=click.IntRange(min=0), default=500, show_default=True,
              help="Parameter draws for the model's interval (0 = no intervals).")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Seed of the draws.")
@click.option("--figure", "figure", type=click.Path(dir_okay=False), default=None,
              help="Also write the calibration figure (published against model, log scale) to this file "
              "(.png, .svg, .pdf).")
@click.option("--file", "path", type=click.Path(dir_okay=False), default=None,
              help="Another validation file (default: the shipped priors/validation/scenarios.yaml).")
@click.option("--priors", type=click.Path(), default=None,
              help="Folder of priors files to use instead of the shipped ones (see priors/README.md).")
def validate_command(as_json: bool, draws: int, seed: int, figure: str | None, path: str | None,
                     priors: str | None) -> None:
    """Compare the model with published post-test probabilities (clinical validation).

    Runs every scenario of the validation file in its setting and prints, per scenario, the
    published value with its 95% interval, the model's value with its interval over parameter
    draws, whether the model's value lies inside the published interval and whether the two
    intervals overlap; then a summary line. The exit status is 0 whatever the agreement (it is a
    report); 2 for a bad file.

    Example: bayesnet validate --figure validation.png
    """
    if figure is not None:
        suffix = Path(figure).suffix.lower()
        if suffix not in (".png", ".svg", ".pdf"):
            raise click.BadParameter(f"unsupported figure type {suffix or '(none)'!r}; use .png, .svg or .pdf",
                                     param_hint="'--figure'")
        if not Path(figure).resolve().parent.is_dir():
            raise click.BadParameter(f"directory of {figure!r} does not exist", param_hint="'--figure'")
    ps = _resolve_priors(priors)
    df = validate(ps, path=path, draws=draws, seed=seed)
    if figure is not None:
        ax = calibration_plot(df)
        ax.figure.savefig(figure, dpi=150)
    if as_json:
        out = {
            "draws": draws,
            "seed": seed,
            "level": df.attrs["level"],
            "summary": {**df.attrs["summary"], "line": summary_line(df)},
            "scenarios": _records(df),
        }
        if figure is not None:
            out["figure"] = str(figure)
        click.echo(json.dumps(out, indent=2))
    else:
        click.echo(_table(df))
        click.echo("")
        click.echo(summary_line(df))
        if figure is not None:
            click.echo(f"wrote the calibration figure to {figure}")
