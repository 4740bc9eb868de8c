"""Load and validate the sourced numbers in ``priors/``.

The priors directory holds four YAML files, read with :func:`yaml.safe_load` only:

``settings.yaml``
    The clinical settings (``primary_care``, ``emergency``) and their descriptions.
``risk_factors.yaml``
    Root variables and their prevalence among patients presenting with back pain, per setting.
``conditions.yaml``
    Conditions: prevalence per setting, effects of risk factors (odds ratios, relative
    risks or proportions among cases) and causal links from other conditions.
``findings.yaml``
    Symptoms, signs and tests: the false-positive rate in patients without a serious cause
    (the *leak*) and the sensitivity of each linked condition.

Every number is a mapping with ``value``, ``source``, ``setting`` and ``grade`` (A, B or C), and
optionally ``low``/``high`` (95% interval) and ``note``. Nothing here imports pgmpy: this module
only reads and checks data. Every error is a :class:`~bayesnet.errors.PriorsError` naming the
file and the entry.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from bayesnet.errors import PriorsError, closest

__all__ = [
    "GRADES",
    "PROBABILITY_KINDS",
    "RATIO_KINDS",
    "Cause",
    "Condition",
    "Effect",
    "Finding",
    "Param",
    "PriorSet",
    "RiskFactor",
    "default_priors_dir",
    "load_priors",
]

GRADES = {"A": "primary study or meta-analysis", "B": "review or guideline quoting one", "C": "expert estimate"}
PROBABILITY_KINDS = {
    "prevalence",
    "probability",
    "sensitivity",
    "specificity",
    "false_positive_rate",
    "proportion_of_cases",
}
RATIO_KINDS = {"odds_ratio", "relative_risk", "lr_positive", "lr_negative"}
_PARAM_KEYS = {"value", "low", "high", "source", "setting", "grade", "note", "kind"}
_FILES = ("settings.yaml", "risk_factors.yaml", "conditions.yaml", "findings.yaml")


@dataclass(frozen=True)
class Param:
    """One sourced number.

    Attributes
    ----------
    node : str
        The variable the number belongs to.
    parameter : str
        Which number of that variable, e.g. ``prevalence[primary_care]`` or
        ``sensitivity[spinal_metastasis]``.
    kind : str
        What the number measures (``prevalence``, ``sensitivity``, ``odds_ratio``...).
    value, low, high : float
        The point value and, where published, its 95% interval (``nan`` when absent).
    source, setting, grade, note : str
        Citation, population it was measured in, evidence grade and free note.
    file, entry : str
        Where it was read from, for error messages.
    """

    node: str
    parameter: str
    kind: str
    value: float
    low: float
    high: float
    source: str
    setting: str
    grade: str
    note: str
    file: str
    entry: str

    @property
    def has_interval(self) -> bool:
        """True when a published or estimated 95% interval is recorded."""
        return not (math.isnan(self.low) or math.isnan(self.high))

    def with_value(self, value: float) -> Param:
        """Return a copy with another value (used by sensitivity and uncertainty analyses)."""
        return Param(**{**self.__dict__, "value": float(value)})


@dataclass(frozen=True)
class RiskFactor:
    """A root variable: its states and its distribution in each setting."""

    name: str
    description: str
    states: tuple[str, ...]
    prevalence: dict[str, dict[str, Param]]  # setting -> state -> Param (the states' probabilities)


@dataclass(frozen=True)
class Effect:
    """The effect of one risk-factor state (or group of states) on a condition."""

    factor: str
    states: tuple[str, ...]
    param: Param  # kind: odds_ratio | relative_risk | proportion_of_cases
    controls: Param | None = None  # optional proportion among non-cases (overrides the setting's prevalence)


@dataclass(frozen=True)
class Cause:
    """A causal link from another condition: P(this condition caused by the parent | parent)."""

    condition: str
    param: Param


@dataclass(frozen=True)
class Condition:
    """A condition node."""

    name: str
    description: str
    serious: bool
    definition: str  # "calibrated" or "no_serious_condition"
    prevalence: dict[str, Param]
    effects: tuple[Effect, ...] = ()
    causes: tuple[Cause, ...] = ()


@dataclass(frozen=True)
class Finding:
    """A finding or test node (leaky noisy-OR over its conditions)."""

    name: str
    kind: str  # "finding" or "test"
    description: str
    states: tuple[str, str]  # (present/positive state, absent/negative state)
    leak: dict[str, Param]  # context state -> Param (key "*" when the leak has no context)
    leak_by: str | None
    links: dict[str, Param]  # condition -> Param (sensitivity, odds_ratio or lr_positive)
    leak_relative_to: dict[str, str] = field(default_factory=dict)  # context -> condition, for derived leaks


@dataclass
class PriorSet:
    """Every sourced number of the model, validated.

    Use :func:`load_priors` to make one. ``params`` lists every number once.
    """

    directory: Path
    settings: dict[str, str]
    risk_factors: dict[str, RiskFactor]
    conditions: dict[str, Condition]
    findings: dict[str, Finding]
    digest: str = ""
    params: list[Param] = field(default_factory=list)

    @property
    def variables(self) -> list[str]:
        """All variable names: risk factors, conditions, findings and tests."""
        return [*self.risk_factors, *self.conditions, *self.findings]

    def map_params(self, fn: Callable[[Param], Param]) -> PriorSet:
        """Return a copy with ``fn`` applied to every parameter (value, interval, anything).

        ``fn`` receives each :class:`Param` and returns its replacement. The ``no`` state of a
        yes/no risk factor follows its ``yes`` state (value ``1 - p``, interval mirrored), as when
        the priors are loaded; the ``controls`` of a risk-factor effect are mapped too.

        Examples
        --------
        >>> ps = load_priors()
        >>> len(ps.map_params(lambda p: p).params) == len(ps.params)
        True
        """
        from dataclasses import replace

        def complement(yes: Param, no: Param) -> Param:
            return replace(no, value=1.0 - yes.value, low=1.0 - yes.high, high=1.0 - yes.low)

        rfs = {}
        for name, rf in self.risk_factors.items():
            prevalence = {}
            for setting, dist in rf.prevalence.items():
                if rf.states == ("yes", "no"):
                    yes = fn(dist["yes"])
                    prevalence[setting] = {"yes": yes, "no": complement(yes, dist["no"])}
                else:
                    prevalence[setting] = {k: fn(p) for k, p in dist.items()}
            rfs[name] = replace(rf, prevalence=prevalence)
        conds = {
            name: replace(
                c,
                prevalence={s: fn(p) for s, p in c.prevalence.items()},
                effects=tuple(
                    replace(e, param=fn(e.param), controls=None if e.controls is None else fn(e.controls))
                    for e in c.effects
                ),
                causes=tuple(replace(k, param=fn(k.param)) for k in c.causes),
            )
            for name, c in self.conditions.items()
        }
        finds = {
            name: replace(f, leak={k: fn(p) for k, p in f.leak.items()}, links={k: fn(p) for k, p in f.links.items()})
            for name, f in self.findings.items()
        }
        out = PriorSet(self.directory, self.settings, rfs, conds, finds, self.digest)
        out.params = [fn(p) for p in self.params]
        return out

    def params_for(self, setting: str) -> list[Param]:
        """The parameters the network of one setting is built from, in file order.

        >>> ps = load_priors()
        >>> len(ps.params_for("primary_care")) < len(ps.params)
        True
        """
        return _collect_params(self, setting)

    def replace_values(self, values: Mapping[tuple[str, str], float]) -> PriorSet:
        """Return a copy with some parameters' values replaced.

        Parameters
        ----------
        values : mapping
            ``(node, parameter)`` -> new value. For a yes/no risk factor the ``no`` state becomes
            ``1 - value``.

        Examples
        --------
        >>> ps = load_priors().replace_values({("history_of_cancer", "prevalence[primary_care]"): 0.1})
        >>> [round(ps.risk_factors["history_of_cancer"].prevalence["primary_care"][s].value, 3) for s in ("yes", "no")]
        [0.1, 0.9]
        """
        values = {k: float(v) for k, v in values.items()}

        def sub(p: Param) -> Param:
            key = (p.node, p.parameter)
            return p.with_value(values[key]) if key in values else p

        return self.map_params(sub)


def default_priors_dir() -> Path:
    """Locate the priors directory.

    Order: the ``BAYESNET_PRIORS`` environment variable; the copy shipped inside the installed
    package (``bayesnet/_priors``); the ``priors/`` folder of a source checkout.
    """
    env = os.environ.get("BAYESNET_PRIORS")
    if env:
        return Path(env)
    shipped = resources.files("bayesnet") / "_priors"
    if shipped.is_dir():
        return Path(str(shipped))
    return Path(__file__).resolve().parents[2] / "priors"


# --------------------------------------------------------------------------------------------
# reading


class Reader:
    """Validation helpers that know which file they are reading."""

    def __init__(self, file: str):
        self.file = file

    def fail(self, entry: str, message: str) -> PriorsError:
        return PriorsError(message, file=self.file, entry=entry)

    def mapping(self, obj: Any, entry: str, what: str = "a mapping") -> dict:
        if not isinstance(obj, dict):
            raise self.fail(entry, f"must be {what}; got {show_value(obj)}")
        return obj

    def keys(self, obj: dict, entry: str, allowed: set[str], required: set[str] = frozenset()) -> None:
        for k in obj:
            if k not in allowed:
                hint = closest(k, allowed)
                extra = f"; did you mean {hint[0]!r}?" if hint else f"; allowed keys: {', '.join(sorted(allowed))}"
                raise self.fail(entry, f"unknown key {k!r}{extra}")
        for k in sorted(required):
            if k not in obj:
                raise self.fail(entry, f"missing required key {k!r}")

    def text(self, obj: Any, entry: str, name: str) -> str:
        if not isinstance(obj, str) or not obj.strip():
            raise self.fail(f"{entry}.{name}", f"must be a non-empty text; got {show_value(obj)}")
        return obj.strip()

    def number(self, obj: Any, entry: str) -> float:
        if isinstance(obj, bool) or not isinstance(obj, int | float):
            raise self.fail(entry, f"must be a number; got {show_value(obj)}")
        x = float(obj)
        if not math.isfinite(x):
            raise self.fail(entry, f"must be a finite number; got {obj!r}")
        return x

    def param(self, obj: Any, entry: str, node: str, parameter: str, kind: str | None = None) -> Param:
        """Read one sourced number."""
        if isinstance(obj, int | float) and not isinstance(obj, bool):
            raise self.fail(
                entry,
                f"bare number {obj!r} has no source; write it as a mapping with value, source, setting and grade",
            )
        obj = self.mapping(obj, entry, "a mapping with value, source, setting and grade")
        self.keys(obj, entry, _PARAM_KEYS)
        for k in ("value", "source", "setting", "grade"):
            if k not in obj or obj[k] is None or (isinstance(obj[k], str) and not obj[k].strip()):
                what = "no source" if k == "source" else f"no {k}"
                raise self.fail(entry, f"has {what}; every number needs value, source, setting and grade")
        kind = obj.get("kind", kind)
        if kind is None:
            raise self.fail(entry, "missing required key 'kind'")
        kinds = PROBABILITY_KINDS | RATIO_KINDS
        if not isinstance(kind, str) or kind not in kinds:
            raise self.fail(f"{entry}.kind", _unknown("kind", kind, sorted(kinds)))
        value = self.number(obj["value"], f"{entry}.value")
        low = self.number(obj["low"], f"{entry}.low") if "low" in obj else math.nan
        high = self.number(obj["high"], f"{entry}.high") if "high" in obj else math.nan
        if ("low" in obj) != ("high" in obj):
            raise self.fail(entry, "give both 'low' and 'high' of the 95% interval, or neither")
        for name, x in (("value", value), ("low", low), ("high", high)):
            if math.isnan(x):
                continue
            if kind in PROBABILITY_KINDS and not 0.0 <= x <= 1.0:
                raise self.fail(f"{entry}.{name}", f"is a probability ({kind}) and must lie in [0, 1]; got {x!r}")
            if kind in RATIO_KINDS and not x > 0.0:
                raise self.fail(f"{entry}.{name}", f"is a ratio ({kind}) and must be > 0; got {x!r}")
        if not math.isnan(low) and not low <= value <= high:
            raise self.fail(entry, f"interval [{low}, {high}] must contain the value {value}")
        grade = obj["grade"].strip().upper() if isinstance(obj["grade"], str) else None
        if grade not in GRADES:
            got = obj["grade"] if isinstance(obj["grade"], str | int | float | None) else type(obj["grade"]).__name__
            raise self.fail(f"{entry}.grade", f"must be one of A, B, C; got {got!r}")
        note = obj.get("note", "")
        if note is None:
            note = ""
        if not isinstance(note, str | int | float):
            raise self.fail(f"{entry}.note", f"must be text; got a {type(note).__name__}")
        return Param(
            node=node,
            parameter=parameter,
            kind=kind,
            value=value,
            low=low,
            high=high,
            source=self.text(obj["source"], entry, "source"),
            setting=self.text(obj["setting"], entry, "setting"),
            grade=grade,
            note=str(note).strip(),
            file=self.file,
            entry=entry,
        )


def show_value(obj: Any) -> str:
    text = repr(obj)
    return text if len(text) <= 60 else text[:57] + "..."


def _read_yaml(directory: Path, name: str) -> Any:
    path = directory / name
    if not path.is_file():
        raise PriorsError(
            f"file not found in priors directory {str(directory)!r}; expected {', '.join(_FILES)}",
            file=name,
        )
    return read_yaml_mapping(path, name)


#: YAML loaders that never construct Python objects (libyaml's C loader when available: ~10x faster)
_SAFE_LOADERS = tuple(c for c in (yaml.SafeLoader, getattr(yaml, "CSafeLoader", None)) if c is not None)
SAFE_LOADER = _SAFE_LOADERS[-1]


def read_yaml_mapping(path: Path, name: str, error: type[PriorsError] = PriorsError,
                      loader: type = SAFE_LOADER) -> dict:
    """Parse a YAML file that must hold a mapping, with a safe loader only.

    Every problem (invalid YAML, nesting beyond the recursion limit, not UTF-8, empty, not a
    mapping) raises ``error`` naming the file, never a parser exception. ``loader`` must be a
    safe loader (e.g. a subclass of ``yaml.SafeLoader`` refusing duplicate keys): no YAML tag
    that could construct Python objects is ever honoured.
    """
    if not (isinstance(loader, type) and issubclass(loader, _SAFE_LOADERS)):
        raise TypeError("read_yaml_mapping accepts only safe YAML loaders (subclasses of yaml.SafeLoader)")
    try:
        text = path.read_bytes().decode("utf-8")
        data = yaml.load(text, Loader=loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "parse"
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise error(f"not valid YAML (safe subset only): {problem}", file=name, entry=where) from None
    except UnicodeDecodeError:
        raise error("not a UTF-8 text file", file=name) from None
    except RecursionError:
        raise error("not valid YAML: nested too deeply", file=name) from None
    if data is None:
        raise error("file is empty", file=name)
    if not isinstance(data, dict):
        raise error(f"top level must be a mapping; got {type(data).__name__}", file=name)
    return data


def _binary_states(kind: str) -> tuple[str, str]:
    return ("positive", "negative") if kind == "test" else ("yes", "no")


def _states(r: Reader, obj: Any, entry: str, default: tuple[str, ...]) -> tuple[str, ...]:
    if obj is None:
        return default
    if not isinstance(obj, list) or len(obj) < 2:
        raise r.fail(entry, f"must be a list of at least two state names; got {show_value(obj)}")
    out = []
    for i, s in enumerate(obj):
        if isinstance(s, bool) or not isinstance(s, str) or not s.strip():
            raise r.fail(
                f"{entry}[{i}]",
                f"state names must be quoted text (YAML reads unquoted yes/no as true/false); got {show_value(s)}",
            )
        out.append(s.strip())
    if len(set(out)) != len(out):
        raise r.fail(entry, f"state names must be unique; got {out}")
    return tuple(out)


def load_priors(directory: str | os.PathLike | None = None) -> PriorSet:
    """Read and validate a priors directory.

    Parameters
    ----------
    directory : path-like, optional
        Folder holding ``settings.yaml``, ``risk_factors.yaml``, ``conditions.yaml`` and
        ``findings.yaml``. Defaults to :func:`default_priors_dir`.

    Returns
    -------
    PriorSet

    Raises
    ------
    PriorsError
        If a file is missing, is not valid YAML, or an entry is malformed (wrong type,
        probability out of range, missing source, distribution not summing to one, unknown
        variable...). The message names the file and the entry.

    Examples
    --------
    >>> priors = load_priors()
    >>> sorted(priors.settings)
    ['emergency', 'primary_care']
    """
    directory = Path(directory) if directory is not None else default_priors_dir()
    if not directory.is_dir():
        raise PriorsError(f"priors directory not found: {str(directory)!r}")
    digest = hashlib.sha256()
    raw = {}
    for name in _FILES:
        raw[name] = _read_yaml(directory, name)
        digest.update((directory / name).read_bytes())

    settings = _load_settings(raw["settings.yaml"])
    risk_factors = _load_risk_factors(raw["risk_factors.yaml"], settings)
    conditions = _load_conditions(raw["conditions.yaml"], settings, risk_factors)
    findings = _load_findings(raw["findings.yaml"], risk_factors, conditions)

    names: dict[str, str] = {}
    for group, file in ((risk_factors, "risk_factors.yaml"), (conditions, "conditions.yaml"), (findings, "findings.yaml")):
        for n in group:
            if n in names:
                raise PriorsError(f"variable {n!r} is defined twice (also in {names[n]})", file=file, entry=n)
            names[n] = file

    ps = PriorSet(directory, settings, risk_factors, conditions, findings, digest.hexdigest()[:16])
    ps.params = _collect_params(ps)
    return ps


def _load_settings(data: dict) -> dict[str, str]:
    r = Reader("settings.yaml")
    r.keys(data, "top level", {"schema_version", "settings", "default"}, {"settings"})
    settings = r.mapping(data["settings"], "settings")
    out = {}
    for name, desc in settings.items():
        out[str(name)] = r.text(desc, "settings", str(name))
    if not out:
        raise r.fail("settings", "at least one setting is required")
    return out


def _per_setting(r: Reader, obj: Any, entry: str, settings: dict[str, str]):
    """Yield ``(setting, value, entry)`` for a per-setting mapping, which must name every setting."""
    prev = r.mapping(obj, entry)
    for setting in settings:
        if setting not in prev:
            raise r.fail(entry, f"missing setting {setting!r}")
    for setting, value in prev.items():
        e = f"{entry}.{setting}"
        if setting not in settings:
            raise r.fail(e, f"unknown setting {setting!r}; settings are {', '.join(settings)}")
        yield setting, value, e


def _load_risk_factors(data: dict, settings: dict[str, str]) -> dict[str, RiskFactor]:
    r = Reader("risk_factors.yaml")
    r.keys(data, "top level", {"schema_version", "risk_factors"}, {"risk_factors"})
    out = {}
    for name, spec in r.mapping(data["risk_factors"], "risk_factors").items():
        entry = f"risk_factors.{name}"
        spec = r.mapping(spec, entry)
        r.keys(spec, entry, {"description", "states", "prevalence"}, {"description", "prevalence"})
        states = _states(r, spec.get("states"), f"{entry}.states", ("yes", "no"))
        by_setting: dict[str, dict[str, Param]] = {}
        for setting, obj, e in _per_setting(r, spec["prevalence"], f"{entry}.prevalence", settings):
            if len(states) == 2 and states == ("yes", "no"):
                p = r.param(obj, e, name, f"prevalence[{setting}]", "prevalence")
                q = Param(**{**p.__dict__, "value": 1.0 - p.value, "low": 1.0 - p.high, "high": 1.0 - p.low})
                by_setting[setting] = {"yes": p, "no": q}
            else:
                by_setting[setting] = _distribution(r, obj, e, name, setting, states)
        out[name] = RiskFactor(name, r.text(spec["description"], entry, "description"), states, by_setting)
    return out


def _distribution(r: Reader, obj: Any, entry: str, node: str, setting: str, states: tuple[str, ...]) -> dict[str, Param]:
    """A multi-state distribution: ``values`` per state with one shared source."""
    obj = r.mapping(obj, entry)
    r.keys(obj, entry, {"values", "low", "high", "source", "setting", "grade", "note"}, {"values", "source", "setting", "grade"})
    values = r.mapping(obj["values"], f"{entry}.values")
    for s in values:
        if s not in states:
            raise r.fail(f"{entry}.values", f"unknown state {s!r}; states are {', '.join(states)}")
    out = {}
    total = 0.0
    for s in states:
        if s not in values:
            raise r.fail(f"{entry}.values", f"missing state {s!r}")
        item = {k: obj[k] for k in ("source", "setting", "grade", "note") if k in obj}
        item["value"] = values[s]
        for bound in ("low", "high"):
            if bound in obj:
                item[bound] = r.mapping(obj[bound], f"{entry}.{bound}").get(s)
                if item[bound] is None:
                    raise r.fail(f"{entry}.{bound}", f"missing state {s!r}")
        p = r.param(item, f"{entry}.values.{s}", node, f"prevalence[{setting}][{s}]", "prevalence")
        out[s] = p
        total += p.value
    if abs(total - 1.0) > 1e-6:
        raise r.fail(f"{entry}.values", f"probabilities must sum to 1; they sum to {total:.6g}")
    return out


def _load_conditions(data: dict, settings: dict[str, str], rfs: dict[str, RiskFactor]) -> dict[str, Condition]:
    r = Reader("conditions.yaml")
    r.keys(data, "top level", {"schema_version", "conditions"}, {"conditions"})
    conds = r.mapping(data["conditions"], "conditions")
    out = {}
    for name, spec in conds.items():
        entry = f"conditions.{name}"
        spec = r.mapping(spec, entry)
        r.keys(
            spec,
            entry,
            {"description", "serious", "definition", "prevalence", "risk_factors", "caused_by"},
            {"description", "serious"},
        )
        serious = spec["serious"]
        if not isinstance(serious, bool):
            raise r.fail(f"{entry}.serious", f"must be true or false; got {show_value(serious)}")
        definition = spec.get("definition", "calibrated")
        if definition not in ("calibrated", "no_serious_condition"):
            raise r.fail(f"{entry}.definition", f"must be 'calibrated' or 'no_serious_condition'; got {definition!r}")
        prevalence: dict[str, Param] = {}
        effects: list[Effect] = []
        causes: list[Cause] = []
        if definition == "calibrated":
            for setting, obj, e in _per_setting(r, spec.get("prevalence"), f"{entry}.prevalence", settings):
                p = r.param(obj, e, name, f"prevalence[{setting}]", "prevalence")
                if not 0.0 < p.value < 1.0:
                    raise r.fail(f"{e}.value", f"a prevalence must lie strictly between 0 and 1; got {p.value}")
                prevalence[setting] = p
            for i, eff in enumerate(spec.get("risk_factors") or []):
                effects.append(_effect(r, eff, f"{entry}.risk_factors[{i}]", name, rfs))
            for i, c in enumerate(spec.get("caused_by") or []):
                e = f"{entry}.caused_by[{i}]"
                c = r.mapping(c, e)
                parent = c.get("condition")
                if not isinstance(parent, str) or parent not in conds:
                    raise r.fail(f"{e}.condition", _unknown("condition", parent, conds))
                item = {k: v for k, v in c.items() if k != "condition"}
                causes.append(Cause(parent, r.param(item, e, name, f"caused_by[{parent}]", "probability")))
        elif spec.get("prevalence") or spec.get("risk_factors") or spec.get("caused_by"):
            raise r.fail(entry, "a condition defined as 'no_serious_condition' takes no prevalence, risk_factors or caused_by")
        out[name] = Condition(
            name,
            r.text(spec["description"], entry, "description"),
            serious,
            definition,
            prevalence,
            tuple(effects),
            tuple(causes),
        )
    _check_acyclic(out)
    return out


def _unknown(kind: str, name: Any, choices) -> str:
    if not isinstance(name, str | int | float | bool | None):  # a list or mapping: name its type, never expand it
        return f"the {kind} must be a name; got a {type(name).__name__}"
    hint = closest(name, list(choices))
    return f"unknown {kind} {name!r}" + (f"; did you mean {hint[0]!r}?" if hint else "")


def _effect(r: Reader, eff: Any, entry: str, node: str, rfs: dict[str, RiskFactor]) -> Effect:
    eff = r.mapping(eff, entry)
    factor = eff.get("factor")
    if not isinstance(factor, str) or factor not in rfs:
        raise r.fail(f"{entry}.factor", _unknown("risk factor", factor, rfs))
    rf = rfs[factor]
    raw_states = eff.get("states", eff.get("state", rf.states[0]))
    states = tuple(raw_states) if isinstance(raw_states, list) else (raw_states,)
    for s in states:
        if s not in rf.states or s == rf.states[-1] and rf.states == ("yes", "no"):
            raise r.fail(f"{entry}.state", f"{_unknown('state', s, rf.states)} of risk factor {factor!r} (the effect applies to a non-reference state)")
    if len(rf.states) > 2 and rf.states[0] in states:
        raise r.fail(f"{entry}.states", f"{rf.states[0]!r} is the reference state of {factor!r} and takes no effect")
    item = {k: v for k, v in eff.items() if k not in ("factor", "state", "states", "controls")}
    label = f"{factor}={'|'.join(states)}"
    param = r.param(item, entry, node, f"{item.get('kind', 'effect')}[{label}]")
    if param.kind not in ("odds_ratio", "relative_risk", "proportion_of_cases", "lr_positive"):
        raise r.fail(
            f"{entry}.kind",
            f"a risk-factor effect must be odds_ratio, relative_risk, lr_positive or proportion_of_cases; got {param.kind!r}",
        )
    controls = None
    if "controls" in eff:
        controls = r.param(eff["controls"], f"{entry}.controls", node, f"proportion_of_controls[{label}]", "proportion_of_cases")
        if param.kind != "proportion_of_cases":
            raise r.fail(f"{entry}.controls", "'controls' goes with kind proportion_of_cases only")
    return Effect(factor, states, param, controls)


def _check_acyclic(conds: dict[str, Condition]) -> None:
    state: dict[str, int] = {}

    def visit(n: str, path: list[str]) -> None:
        if state.get(n) == 2:
            return
        if state.get(n) == 1:
            raise PriorsError(f"conditions cause each other in a cycle: {' -> '.join([*path, n])}", file="conditions.yaml", entry=f"conditions.{n}.caused_by")
        state[n] = 1
        for c in conds[n].causes:
            visit(c.condition, [*path, n])
        state[n] = 2

    for n in conds:
        visit(n, [])


def _load_findings(data: dict, rfs: dict[str, RiskFactor], conds: dict[str, Condition]) -> dict[str, Finding]:
    r = Reader("findings.yaml")
    r.keys(data, "top level", {"schema_version", "findings"}, {"findings"})
    out = {}
    for name, spec in r.mapping(data["findings"], "findings").items():
        entry = f"findings.{name}"
        spec = r.mapping(spec, entry)
        r.keys(spec, entry, {"kind", "description", "states", "leak", "links"}, {"kind", "description", "leak", "links"})
        kind = spec["kind"]
        if kind not in ("finding", "test"):
            raise r.fail(f"{entry}.kind", f"must be 'finding' or 'test'; got {show_value(kind)}")
        states = _states(r, spec.get("states"), f"{entry}.states", _binary_states(kind))
        if len(states) != 2:
            raise r.fail(f"{entry}.states", "findings and tests are binary: give two states, the positive one first")
        leak_spec = r.mapping(spec["leak"], f"{entry}.leak")
        leak: dict[str, Param] = {}
        relative_to: dict[str, str] = {}
        leak_by = None
        if "by" in leak_spec:
            r.keys(leak_spec, f"{entry}.leak", {"by", "values"}, {"by", "values"})
            leak_by = leak_spec["by"]
            if not isinstance(leak_by, str) or leak_by not in rfs:
                raise r.fail(f"{entry}.leak.by", _unknown("risk factor", leak_by, rfs))
            vals = r.mapping(leak_spec["values"], f"{entry}.leak.values")
            for s in rfs[leak_by].states:
                if s not in vals:
                    raise r.fail(f"{entry}.leak.values", f"missing state {s!r} of {leak_by!r}")
            for s, obj in vals.items():
                if s not in rfs[leak_by].states:
                    raise r.fail(f"{entry}.leak.values", _unknown("state", s, rfs[leak_by].states))
                obj = r.mapping(obj, f"{entry}.leak.values.{s}")
                if "relative_to" in obj:
                    relative_to[s] = obj["relative_to"]
                obj = {k: v for k, v in obj.items() if k != "relative_to"}
                leak[s] = r.param(obj, f"{entry}.leak.values.{s}", name, f"leak[{leak_by}={s}]")
        else:
            if "relative_to" in leak_spec:
                relative_to["*"] = leak_spec["relative_to"]
            obj = {k: v for k, v in leak_spec.items() if k != "relative_to"}
            leak["*"] = r.param(obj, f"{entry}.leak", name, "leak")
        for key, p in leak.items():
            if p.kind not in ("false_positive_rate", "specificity", "odds_ratio", "lr_negative", "prevalence"):
                raise r.fail(p.entry, f"a leak must be false_positive_rate, specificity, prevalence, odds_ratio or lr_negative; got {p.kind!r}")
            if p.kind in ("odds_ratio", "lr_negative") and key not in relative_to:
                raise r.fail(p.entry, f"a leak given as {p.kind} needs 'relative_to: <linked condition>' whose sensitivity it is derived from")
        links = r.mapping(spec["links"], f"{entry}.links")
        if not links:
            raise r.fail(f"{entry}.links", "at least one condition must be linked")
        parsed: dict[str, Param] = {}
        for cond, obj in links.items():
            e = f"{entry}.links.{cond}"
            if cond not in conds:
                raise r.fail(e, _unknown("condition", cond, conds))
            if conds[cond].definition != "calibrated":
                raise r.fail(e, f"{cond!r} is defined as the absence of serious conditions and cannot be a parent")
            p = r.param(obj, e, name, f"link[{cond}]")
            if p.kind not in ("sensitivity", "proportion_of_cases", "odds_ratio", "lr_positive"):
                raise r.fail(f"{e}.kind", f"a link must be sensitivity, proportion_of_cases, odds_ratio or lr_positive; got {p.kind!r}")
            parsed[cond] = Param(**{**p.__dict__, "parameter": f"{p.kind}[{cond}]"})
        for key, cond in relative_to.items():
            if cond not in parsed:
                raise r.fail(leak[key].entry, f"relative_to {cond!r} is not a linked condition of {name!r}")
            if parsed[cond].kind not in ("sensitivity", "proportion_of_cases"):
                raise r.fail(leak[key].entry, f"relative_to {cond!r} must be linked by a sensitivity, not {parsed[cond].kind}")
        out[name] = Finding(
            name, kind, r.text(spec["description"], entry, "description"), states, leak, leak_by, parsed, relative_to
        )
    return out


def _collect_params(ps: PriorSet, setting: str | None = None) -> list[Param]:
    """Every sourced number, in file order; with ``setting``, only those the network of that setting reads."""
    params: list[Param] = []
    for rf in ps.risk_factors.values():
        for name, by_state in rf.prevalence.items():
            if setting is not None and name != setting:
                continue
            if rf.states == ("yes", "no"):
                params.append(by_state["yes"])
            else:
                params.extend(by_state[st] for st in rf.states)
    for c in ps.conditions.values():
        if setting is not None and c.definition != "calibrated":
            continue
        params.extend(p for name, p in c.prevalence.items() if setting is None or name == setting)
        for e in c.effects:
            params.append(e.param)
            if e.controls is not None:
                params.append(e.controls)
        params.extend(k.param for k in c.causes)
    for f in ps.findings.values():
        params.extend(f.leak.values())
        params.extend(f.links.values())
    return params
