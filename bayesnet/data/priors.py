"""Load and validate the sourced numbers in ``priors/``.

The priors directory holds three YAML files and a folder of settings, read with a safe YAML
loader only:

``risk_factors.yaml``
    Root variables and their states.
``conditions.yaml``
    Conditions: effects of risk factors (odds ratios, relative risks or proportions among cases)
    and causal links from other conditions.
``findings.yaml``
    Symptoms, signs and tests: the false-positive rate in patients without a serious cause
    (the *leak*) and the sensitivity of each linked condition.
``settings/<name>.yaml``
    One population each (``primary_care``, ``emergency``, ...): the prevalence of every risk
    factor and condition among its patients, and the test accuracies measured in it where they
    differ from the shared ones. A setting file elsewhere can be added with ``extra_settings``
    (a researcher's own population); ``based_on`` takes the numbers it leaves out from another
    setting, and each such number says so in its note.

Every number is a mapping with ``value``, ``source``, ``setting`` and ``grade`` (A, B or C), and
optionally ``low``/``high`` (95% interval) and ``note``. Nothing here imports pgmpy: this module
only reads and checks data. Every error is a :class:`~bayesnet.errors.PriorsError` naming the
file and the entry.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, ClassVar

import yaml
from pydantic import AfterValidator, BeforeValidator, ValidationInfo, field_validator, model_validator

from bayesnet.data.schema import Model, Prose, Text, check, either, fail, name_in, one_of, rule, unknown
from bayesnet.errors import PriorsError

__all__ = [
    "GRADES",
    "MAX_VARIABLES",
    "PROBABILITY_KINDS",
    "RATIO_KINDS",
    "Cause",
    "Condition",
    "Effect",
    "Finding",
    "Param",
    "PriorSet",
    "RiskFactor",
    "UniqueKeyLoader",
    "default_priors_dir",
    "is_setting_path",
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
_FILES = ("risk_factors.yaml", "conditions.yaml", "findings.yaml")
#: The folder of setting files inside the priors directory.
SETTINGS_DIR = "settings"
#: At most this many variables (risk factors, conditions and findings together). The compiled
#: network's build time grows faster than the number of findings (about 5 s with 200 more
#: findings than shipped, 40 s with 1,000 more, on one core); a file of 10,000 is refused at
#: once rather than left to run for hours.
MAX_VARIABLES = 1000


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
    counts: str = ""  # "events/total" where the number was counted, e.g. "17/25"
    origin: str = ""  # for a number another setting's file gave: its parameter name there

    @property
    def has_interval(self) -> bool:
        """True when a published or estimated 95% interval is recorded."""
        return not (math.isnan(self.low) or math.isnan(self.high))

    def with_value(self, value: float) -> Param:
        """Return a copy with another value (used by sensitivity and uncertainty analyses)."""
        return Param(**{**self.__dict__, "value": float(value)})


@dataclass(frozen=True)
class RiskFactor:
    """A risk factor: its states and its distribution in each setting, or given other risk factors.

    A factor with ``parents`` (e.g. osteoporosis, by age band and sex) has no per-setting
    prevalence: ``table`` gives P(yes | parents' states) from population data, the same in every
    setting, and its prevalence in a setting follows from the setting's age and sex.
    """

    name: str
    description: str
    states: tuple[str, ...]
    prevalence: dict[str, dict[str, Param]]  # setting -> state -> Param (the states' probabilities)
    parents: tuple[str, ...] = ()
    table: dict[tuple[str, ...], Param] = field(default_factory=dict)  # parents' states -> P(yes)


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
    definition: str  # "calibrated", "no_serious_condition" or "no_modelled_condition"
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
    #: True (findings.yaml schema 2): a link's sensitivity is P(finding | that condition) among all its cases,
    #: whatever other linked conditions they have; False (schema 1): P(finding | only that condition).
    marginal_links: bool = False


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
    #: setting -> finding -> the finding with the accuracies measured in that setting (only where they differ)
    finding_overrides: dict[str, dict[str, Finding]] = field(default_factory=dict)
    #: setting -> the file it was read from
    setting_files: dict[str, Path] = field(default_factory=dict)
    #: setting -> condition -> the condition with the risk-factor effects measured in that setting
    condition_overrides: dict[str, dict[str, Condition]] = field(default_factory=dict)

    def conditions_in(self, setting: str) -> dict[str, Condition]:
        """Every condition as the network of ``setting`` uses it (the setting's own effects where it has them)."""
        own = self.condition_overrides.get(setting, {})
        return {n: own.get(n, c) for n, c in self.conditions.items()}

    @property
    def default_setting(self) -> str:
        """The setting a model uses unless told otherwise (the first one)."""
        return next(iter(self.settings))

    def findings_in(self, setting: str) -> dict[str, Finding]:
        """Every finding as the network of ``setting`` uses it (the setting's own accuracies where it has them).

        >>> ps = load_priors()
        >>> ps.findings_in("primary_care")["fever"] is ps.findings["fever"]
        True
        """
        own = self.finding_overrides.get(setting, {})
        return {n: own.get(n, f) for n, f in self.findings.items()}

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
        def complement(yes: Param, no: Param) -> Param:
            return replace(no, value=1.0 - yes.value, low=1.0 - yes.high, high=1.0 - yes.low)

        rfs = {}
        for name, rf in self.risk_factors.items():
            if rf.parents:
                rfs[name] = replace(rf, table={k: fn(p) for k, p in rf.table.items()})
                continue
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
        def finding(f: Finding) -> Finding:
            return replace(f, leak={k: fn(p) for k, p in f.leak.items()}, links={k: fn(p) for k, p in f.links.items()})

        def effects(c: Condition) -> Condition:
            return replace(c, prevalence=conds[c.name].prevalence, effects=tuple(
                replace(e, param=fn(e.param), controls=None if e.controls is None else fn(e.controls)) for e in c.effects),
                causes=conds[c.name].causes)

        out = PriorSet(self.directory, self.settings, rfs, conds, {n: finding(f) for n, f in self.findings.items()},
                       self.digest, [fn(p) for p in self.params],
                       {s: {n: finding(f) for n, f in fs.items()} for s, fs in self.finding_overrides.items()},
                       self.setting_files,
                       {s: {n: effects(c) for n, c in cs.items()} for s, cs in self.condition_overrides.items()})
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
        >>> ps = load_priors().replace_values({("iv_drug_use", "prevalence[primary_care]"): 0.1})
        >>> [round(ps.risk_factors["iv_drug_use"].prevalence["primary_care"][s].value, 3) for s in ("yes", "no")]
        [0.1, 0.9]
        """
        values = {k: float(v) for k, v in values.items()}

        def sub(p: Param) -> Param:
            key = (p.node, p.parameter)
            return p.with_value(values[key]) if key in values else p

        return self.map_params(sub)


def is_setting_path(setting: str | os.PathLike) -> bool:
    """True when ``setting`` names a setting file rather than a shipped setting.

    >>> is_setting_path("emergency"), is_setting_path("my_clinic.yaml"), is_setting_path("data/clinic.yml")
    (False, True, True)
    """
    text = os.fspath(setting)
    return isinstance(setting, os.PathLike) or text.endswith((".yaml", ".yml")) or "/" in text or os.sep in text


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


class UniqueKeyLoader(_SAFE_LOADERS[-1]):  # type: ignore[misc,valid-type]
    """YAML's safe loader (libyaml's parser when available) that refuses a key written twice in one mapping.

    Plain YAML keeps the last of two equal keys and drops the first without a word; in a priors
    file that would silently replace a sourced number. Keys merged in with ``<<`` may still be
    overridden (that is what a merge is for). Only the safe constructors exist.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        if isinstance(node, yaml.MappingNode):
            first: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    seen = first.get(key)
                except TypeError:  # an unhashable key: the base class says so
                    continue
                if seen is not None:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key!r} (first given on line {seen})", key_node.start_mark)
                first[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


SAFE_LOADER = UniqueKeyLoader


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



# --------------------------------------------------------------------------------------------
# the files' schema (pydantic): what each entry must look like; names are checked against the
# context given to check(): the settings, then the risk factors, then the conditions


def exact_binomial_interval(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Clopper-Pearson interval of ``k`` events in ``n``: the narrowest interval a count allows.

    >>> [round(x, 3) for x in exact_binomial_interval(17, 25)]
    [0.465, 0.851]
    """
    from scipy.stats import beta

    a = (1.0 - level) / 2.0
    lo = 0.0 if k == 0 else float(beta.ppf(a, k, n - k + 1))
    hi = 1.0 if k == n else float(beta.ppf(1.0 - a, k + 1, n - k))
    return lo, hi


def _exact_text(k: int, n: int) -> str:
    lo, hi = exact_binomial_interval(k, n)
    return f"[{lo:.4g}, {hi:.4g}]"


def _counts(value: Any) -> str:
    """``"k/n"``: the events and the total a proportion was counted from."""
    parts = value.split("/") if isinstance(value, str) else []
    if len(parts) != 2 or not all(x.strip().isdigit() for x in parts) or not 0 <= int(parts[0]) <= int(parts[1]) or \
            int(parts[1]) == 0:
        raise fail(f"counts must be 'events/total' with 0 <= events <= total, total > 0; got {value!r}")
    return f"{int(parts[0])}/{int(parts[1])}"


def _grade(value: Any) -> str:
    grade = value.strip().upper() if isinstance(value, str) else None
    if grade not in GRADES:
        got = value if isinstance(value, str | int | float | None) else type(value).__name__
        raise fail(f"must be one of A, B, C; got {got!r}")
    return grade


def _note(value: Any) -> str:
    if not isinstance(value, str | int | float | None):
        raise fail(f"must be text; got a {type(value).__name__}")
    return "" if value is None else str(value).strip()


def _exact(given: Any, expected: Sequence[str], *at: str, what: str = "state", of: str = "") -> Any:
    """Refuse a key of the mapping ``given`` that is not ``expected`` (unless ``what`` is ``None``), then a missing one."""
    for s in given if isinstance(given, dict) and what else ():
        if s not in expected:
            raise fail(unknown(what, s, expected, "; states are {}", of), *at)
    for s in expected if isinstance(given, dict) else ():
        if s not in given:
            raise fail(f"missing {what or 'setting'} {s!r}{of}", *at)
    return given


def _linkable(name: Any, info: ValidationInfo) -> str:
    conditions = info.context["conditions"]
    if not isinstance(name, str) or name not in conditions:
        raise fail(unknown("condition", name, conditions))
    if conditions[name].definition != "calibrated":
        raise fail(f"{name!r} is defined as the absence of the other conditions and cannot be a parent")
    return name


Kind = Annotated[str, name_in(sorted(PROBABILITY_KINDS | RATIO_KINDS), "kind")]
#: The format version a file declares (1 or 2); any other value is refused, never ignored.
SchemaVersion = Annotated[int, rule(lambda v: type(v) is int and v in (1, 2), "must be 1 or 2; got {}")]
Grade = Annotated[str, BeforeValidator(_grade)]
Note = Annotated[str, BeforeValidator(_note)]
Probability = Annotated[float, rule(lambda x: 0 <= x <= 1, "is a probability (prevalence) and must lie in [0, 1]; got {}", True)]
StateName = Annotated[str, rule(lambda v: isinstance(v, str) and v.strip(), "state names must be quoted text (YAML reads "
                                "unquoted yes/no as true/false); got {}"), AfterValidator(str.strip)]
States = Annotated[list[StateName], rule(lambda v: isinstance(v, list) and len(v) >= 2, "must be a list of at least two "
                                         "state names; got {}"),
                   rule(lambda s: len(set(s)) == len(s), "state names must be unique; got {}", True), AfterValidator(tuple)]
RiskFactorName = Annotated[str, name_in("risk_factors", "risk factor")]


class ParamIn(Model):
    """One sourced number as written: value, source, setting, grade, optional interval and note."""

    what: ClassVar[str] = "a mapping with value, source, setting and grade"
    role: ClassVar[str] = ""  # with ``kinds``: what the number is, for "<role> must be <kinds>"
    kinds: ClassVar[tuple[str, ...]] = ()  # the kinds allowed (any when empty)
    kind: Kind
    value: float
    low: float = math.nan
    high: float = math.nan
    source: Text
    setting: Text
    grade: Grade
    note: Note = ""
    counts: Annotated[str, BeforeValidator(_counts)] | None = None

    @classmethod
    def not_a_mapping(cls, data: Any) -> str:
        if isinstance(data, int | float) and not isinstance(data, bool):
            return f"bare number {data!r} has no source; write it as {cls.what}"
        return super().not_a_mapping(data)

    @classmethod
    def prepare(cls, data: dict) -> dict:
        for k in ("value", "source", "setting", "grade"):
            if data.get(k) is None or (isinstance(data[k], str) and not data[k].strip()):
                raise fail(f"has no {k}; every number needs value, source, setting and grade")
        return data

    @field_validator("kind")
    @classmethod
    def _allowed(cls, kind: str) -> str:
        if cls.kinds and kind not in cls.kinds:
            raise fail(f"{cls.role} must be {', '.join(cls.kinds[:-1])} or {cls.kinds[-1]}; got {kind!r}")
        return kind

    @field_validator("value", "low", "high")
    @classmethod
    def _in_range(cls, x: float, info: ValidationInfo) -> float:
        kind = info.data.get("kind")
        if kind in PROBABILITY_KINDS and not 0.0 <= x <= 1.0:
            raise fail(f"is a probability ({kind}) and must lie in [0, 1]; got {x!r}")
        if kind in RATIO_KINDS and not x > 0.0:
            raise fail(f"is a ratio ({kind}) and must be > 0; got {x!r}")
        return x

    @model_validator(mode="after")
    def _interval(self) -> ParamIn:
        if math.isnan(self.low) != math.isnan(self.high):
            raise fail("give both 'low' and 'high' of the 95% interval, or neither")
        if not math.isnan(self.low) and not self.low <= self.value <= self.high:
            raise fail(f"interval [{self.low}, {self.high}] must contain the value {self.value}")
        if self.counts is not None:
            k, n = map(int, self.counts.split("/"))
            if self.kind not in PROBABILITY_KINDS:
                raise fail(f"counts go with a proportion, not a {self.kind}", "counts")
            if math.isnan(self.low):
                raise fail(f"counts {self.counts} are given: give the interval too (at least the exact one, "
                           f"{_exact_text(k, n)})")
            lo, hi = exact_binomial_interval(k, n)
            if self.low > lo + 5e-4 or self.high < hi - 5e-4:
                raise fail(f"interval [{self.low}, {self.high}] is narrower than the exact binomial interval of its "
                           f"counts {self.counts}: {_exact_text(k, n)}")
        return self

    def param(self, node: str, parameter: str, file: str, entry: str) -> Param:
        return Param(node, parameter, self.kind, self.value, self.low, self.high, self.source, self.setting, self.grade,
                     self.note, file, entry, self.counts or "")


class PrevalenceIn(ParamIn):
    kind: Kind = "prevalence"


class DistributionIn(Model):
    """A multi-state distribution: ``values`` (and ``low``/``high``) per state, one shared source."""

    values: dict[str, Probability]
    low: dict[str, Probability] | None = None
    high: dict[str, Probability] | None = None
    source: Text
    setting: Text
    grade: Grade
    note: Note = ""

    def check(self, states: tuple[str, ...], *at: str) -> None:
        for bound in ("values", "low", "high"):
            _exact(getattr(self, bound), states, *at, bound)
        if (self.low is None) != (self.high is None):
            raise fail("give both 'low' and 'high' of the 95% interval, or neither", *at)
        for s in states if self.low is not None else ():
            if not self.low[s] <= self.values[s] <= self.high[s]:
                raise fail(f"interval [{self.low[s]}, {self.high[s]}] must contain the value {self.values[s]}",
                           *at, "values", s)
        total = sum(self.values[s] for s in states)
        if abs(total - 1.0) > 1e-6:
            raise fail(f"probabilities must sum to 1; they sum to {total:.6g}", *at, "values")


class ByParentsIn(ParamIn):
    """P(yes) for one combination of the parents' states (``when``; a parent left out: any state)."""

    kind: Kind = "prevalence"
    when: dict[str, StateName]


class BinaryRiskFactorIn(Model):
    description: Text
    states: Annotated[Any, AfterValidator(lambda _: ("yes", "no"))] = ("yes", "no")
    depends_on: list[RiskFactorName] | None = None
    prevalence: list[ByParentsIn] | None = None

    @model_validator(mode="after")
    def _by_parents(self, info: ValidationInfo) -> BinaryRiskFactorIn:
        if (self.depends_on is None) != (self.prevalence is None):
            raise fail("'depends_on' and 'prevalence' go together: the prevalence by the parents' states")
        if self.depends_on is None:
            return self
        if self.states != ("yes", "no"):
            raise fail("only a yes/no risk factor can depend on others", "depends_on")
        rfs = info.context["root_factors"]
        for i, parent in enumerate(self.depends_on):
            if parent not in rfs:
                raise fail(f"{parent!r} is not a root risk factor (declared earlier, with a prevalence per setting)",
                           "depends_on", i)
        seen: dict[tuple[str, ...], int] = {}
        for i, entry in enumerate(self.prevalence):
            for parent, state in entry.when.items():
                if parent not in self.depends_on:
                    raise fail(unknown("parent", parent, self.depends_on), "prevalence", i, "when", parent)
                if state not in rfs[parent]:
                    raise fail(unknown("state", state, rfs[parent], of=f" of {parent!r}"), "prevalence", i, "when", parent)
            for combo in self._combos(entry.when, rfs):
                if combo in seen:
                    raise fail(f"{dict(zip(self.depends_on, combo, strict=True))} is covered twice (entries {seen[combo]} "
                               f"and {i})", "prevalence", i, "when")
                seen[combo] = i
        missing = [c for c in self._combos({}, rfs) if c not in seen]
        if missing:
            raise fail(f"no prevalence for {dict(zip(self.depends_on, missing[0], strict=True))}", "prevalence")
        return self

    def _combos(self, when: dict[str, str], rfs: dict[str, tuple[str, ...]]) -> list[tuple[str, ...]]:
        import itertools

        return list(itertools.product(*([when[p]] if p in when else rfs[p] for p in self.depends_on)))

    def risk_factor(self, name: str, file: str = "", rfs: dict[str, tuple[str, ...]] | None = None) -> RiskFactor:
        if self.depends_on is None:
            return RiskFactor(name, self.description, self.states, {})
        table = {}
        for i, entry in enumerate(self.prevalence):
            label = ",".join(f"{k}={v}" for k, v in entry.when.items())
            p = entry.param(name, f"prevalence[{label}]", file, f"risk_factors.{name}.prevalence[{i}]")
            table.update(dict.fromkeys(self._combos(entry.when, rfs), p))
        return RiskFactor(name, self.description, self.states, {}, tuple(self.depends_on), table)


class MultiStateRiskFactorIn(BinaryRiskFactorIn):
    states: Annotated[States, rule(lambda s: s != ("yes", "no"), "yes/no is the default: leave 'states' out", True)]


def _prevalence(rf: RiskFactor, setting: str, given: PrevalenceIn | DistributionIn, file: str, entry: str,
                note: str = "") -> dict[str, Param]:
    """A risk factor's distribution in one setting: state -> Param (``no`` mirrors ``yes`` for a yes/no factor)."""
    if isinstance(given, PrevalenceIn):
        p = given.param(rf.name, f"prevalence[{setting}]", file, entry)
        p = replace(p, note=(p.note + note).strip())
        return {"yes": p, "no": replace(p, value=1.0 - p.value, low=1.0 - p.high, high=1.0 - p.low)}
    return {s: Param(rf.name, f"prevalence[{setting}][{s}]", "prevalence", given.values[s],
                     (given.low or {}).get(s, math.nan), (given.high or {}).get(s, math.nan), given.source,
                     given.setting, given.grade, (given.note + note).strip(), file, f"{entry}.values.{s}")
            for s in rf.states}


class ControlsIn(ParamIn):
    kind: Kind = "proportion_of_cases"


class EffectIn(ParamIn):
    """A risk factor's effect: a sourced number naming the factor and its state(s) (default: the first)."""

    role, kinds = "a risk-factor effect", ("odds_ratio", "relative_risk", "lr_positive", "proportion_of_cases")
    factor: RiskFactorName
    state: Any = None
    states: Any = None
    controls: ControlsIn | None = None
    _chosen: tuple = ()

    @model_validator(mode="after")
    def _states_and_controls(self, info: ValidationInfo) -> EffectIn:
        valid = info.context["risk_factors"][self.factor].states
        key = next((k for k in ("states", "state") if k in self.model_fields_set), "state")
        given = getattr(self, key) if key in self.model_fields_set else valid[0]
        self._chosen = tuple(given) if isinstance(given, list) else (given,)
        for i, s in enumerate(self._chosen):
            if not isinstance(s, str) or s not in valid or s == valid[-1] and valid == ("yes", "no"):
                at = (key, i) if isinstance(given, list) else (key,)
                raise fail(unknown("state", s, valid, of=f" of risk factor {self.factor!r} (the effect applies to a "
                                   "non-reference state)"), *at)
        if len(valid) > 2 and valid[0] in self._chosen:
            raise fail(f"{valid[0]!r} is the reference state of {self.factor!r} and takes no effect", "states")
        if self.controls is not None and self.kind != "proportion_of_cases":
            raise fail("'controls' goes with kind proportion_of_cases only", "controls")
        return self

    def effect(self, node: str, file: str, entry: str) -> Effect:
        label = f"{self.factor}={'|'.join(self._chosen)}"
        controls = self.controls and self.controls.param(node, f"proportion_of_controls[{label}]", file, f"{entry}.controls")
        return Effect(self.factor, self._chosen, self.param(node, f"{self.kind}[{label}]", file, entry), controls)


class CauseIn(ParamIn):
    """A causal link: ``probability`` (P(this condition caused | parent present)) or
    ``proportion_of_cases`` (the share of this condition's cases that the parent causes)."""

    role, kinds = "a caused_by link", ("probability", "proportion_of_cases")
    kind: Kind = "probability"
    condition: str


class ConditionPrevalenceIn(PrevalenceIn):
    value: Annotated[float, rule(lambda x: 0 < x < 1, "a prevalence must lie strictly between 0 and 1; got {}", True)]


def _no_repeated_effects(effects: Sequence[EffectIn], *at: str | int) -> None:
    """Refuse a risk factor's state whose effect is given twice (it would be applied twice)."""
    seen: dict[tuple[str, str], int] = {}
    for i, e in enumerate(effects):
        for state in e._chosen:
            if (e.factor, state) in seen:
                raise fail(f"the effect of {e.factor}={state} is given twice (entries {seen[e.factor, state]} and {i}); "
                           "it would be applied twice", *at, i)
            seen[e.factor, state] = i


class ConditionIn(Model):
    description: Text
    serious: bool
    definition: Annotated[str, one_of("calibrated", "no_serious_condition", "no_modelled_condition")] = "calibrated"
    risk_factors: list[EffectIn] | None = None
    caused_by: list[CauseIn] | None = None

    @model_validator(mode="after")
    def _definition(self) -> ConditionIn:
        if self.definition != "calibrated" and (self.risk_factors or self.caused_by):
            raise fail(f"a condition defined as {self.definition!r} (the absence of the other conditions) takes no "
                       "risk_factors or caused_by")
        _no_repeated_effects(self.risk_factors or (), "risk_factors")
        for i, c in enumerate(self.caused_by or ()):
            if c.condition in [d.condition for d in (self.caused_by or ())[:i]]:
                raise fail(f"{c.condition!r} is given twice; each cause is one sourced number", "caused_by", i)
        return self

    def condition(self, name: str, file: str) -> Condition:
        e = f"conditions.{name}"
        return Condition(
            name, self.description, self.serious, self.definition, {},
            tuple(x.effect(name, file, f"{e}.risk_factors[{i}]") for i, x in enumerate(self.risk_factors or ())),
            tuple(Cause(c.condition, c.param(name, f"caused_by[{c.condition}]", file, f"{e}.caused_by[{i}]"))
                  for i, c in enumerate(self.caused_by or ())))


class LeakIn(ParamIn):
    role, kinds = "a leak", ("false_positive_rate", "specificity", "prevalence", "odds_ratio", "lr_negative", "lr_positive")
    relative_to: str | None = None

    @model_validator(mode="after")
    def _derived(self) -> LeakIn:
        if self.kind in ("odds_ratio", "lr_negative", "lr_positive") and self.relative_to is None:
            raise fail(f"a leak given as {self.kind} needs 'relative_to: <linked condition>' whose sensitivity it is "
                       "derived from")
        return self


class LeakByIn(Model):
    """One leak per state of a risk factor."""

    by: RiskFactorName
    values: dict[str, LeakIn]

    @field_validator("values", mode="before")
    @classmethod
    def _every_state(cls, values: Any, info: ValidationInfo) -> Any:
        by = info.data.get("by")
        return _exact(values, info.context["risk_factors"][by].states, of=f" of {by!r}") if by else values


class LinkIn(ParamIn):
    role, kinds = "a link", ("sensitivity", "proportion_of_cases", "odds_ratio", "lr_positive")


class FindingIn(Model):
    kind: Annotated[str, one_of("finding", "test")]
    description: Text
    states: Annotated[States, rule(lambda s: len(s) == 2, "findings and tests are binary: give two states, the "
                                   "positive one first", True)] | None = None
    leak: either(lambda v: isinstance(v, dict) and "by" in v, LeakByIn, LeakIn)
    links: Annotated[dict[Annotated[str, BeforeValidator(_linkable)], LinkIn],
                     rule(lambda v: v != {}, "at least one condition must be linked")]

    def leaks(self) -> dict[str, tuple[LeakIn, tuple[str, ...]]]:
        """Context state (``*`` for none) -> the leak and where it is written."""
        if isinstance(self.leak, LeakIn):
            return {"*": (self.leak, ("leak",))}
        return {s: (p, ("leak", "values", s)) for s, p in self.leak.values.items()}

    @model_validator(mode="after")
    def _relative_to(self) -> FindingIn:
        for p, at in self.leaks().values():
            link = self.links.get(p.relative_to) if p.relative_to is not None else None
            if p.relative_to is not None and link is None:
                raise fail(f"relative_to {p.relative_to!r} is not a linked condition of this finding", *at)
            if link is not None and link.kind not in ("sensitivity", "proportion_of_cases"):
                raise fail(f"relative_to {p.relative_to!r} must be linked by a sensitivity, not {link.kind}", *at)
        return self

    def finding(self, name: str, file: str) -> Finding:
        entry, by, leaks = f"findings.{name}", getattr(self.leak, "by", None), self.leaks()
        return Finding(
            name, self.kind, self.description, self.states or (("positive", "negative") if self.kind == "test" else ("yes", "no")),
            {k: p.param(name, "leak" if by is None else f"leak[{by}={k}]", file, ".".join((entry, *at)))
             for k, (p, at) in leaks.items()},
            by,
            {c: p.param(name, f"{p.kind}[{c}]", file, f"{entry}.links.{c}") for c, p in self.links.items()},
            {k: p.relative_to for k, (p, _) in leaks.items() if p.relative_to is not None})


class FindingInSettingIn(Model):
    """A finding's accuracies as measured in one setting: its leak, some of its links, or both."""

    leak: either(lambda v: isinstance(v, dict) and "by" in v, LeakByIn, LeakIn) | None = None
    links: dict[str, LinkIn] = {}

    def same_structure(self, base: Finding, *at: str) -> None:
        """Refuse what would change the network's structure: a new link, a leak of another form."""
        for c in self.links:
            if c not in base.links:
                raise fail(unknown("linked condition", c, base.links, of=" of this finding (a setting cannot add links)"),
                           *at, "links", c)
        if self.leak is not None and getattr(self.leak, "by", None) != base.leak_by:
            raise fail(f"the leak must have the same form as in findings.yaml (by: {base.leak_by})", *at, "leak")
        for k, p in ((k, p) for k, p in self._leaks().items() if p.relative_to is not None):
            if p.relative_to not in base.links:
                raise fail(f"relative_to {p.relative_to!r} is not a linked condition of this finding",
                           *at, *(("leak",) if k == "*" else ("leak", "values", k)))
        if self.leak is None and not self.links:
            raise fail("give the leak, some links or both", *at)

    def _leaks(self) -> dict[str, LeakIn]:
        if self.leak is None:
            return {}
        return {"*": self.leak} if isinstance(self.leak, LeakIn) else dict(self.leak.values)


class SettingFile(Model):
    """One population: ``settings/<name>.yaml``."""

    schema_version: SchemaVersion | None = None
    description: Prose
    default: bool = False
    based_on: str | None = None
    risk_factors: dict[RiskFactorName, either(lambda v: isinstance(v, dict) and "values" in v, DistributionIn,
                                              PrevalenceIn)] = {}
    conditions: dict[Annotated[str, name_in("calibrated", "condition with a prevalence")], ConditionPrevalenceIn] = {}
    findings: dict[Annotated[str, name_in("findings", "finding")], FindingInSettingIn] = {}
    effects: dict[Annotated[str, name_in("calibrated", "condition with a prevalence")], list[EffectIn]] = {}

    @model_validator(mode="after")
    def _complete(self, info: ValidationInfo) -> SettingFile:
        known, rfs = info.context["known"], info.context["risk_factors"]
        if self.based_on is not None and self.based_on not in known:
            raise fail(unknown("setting", self.based_on, known, "; settings are {}"), "based_on")
        for name, given in self.risk_factors.items():
            if rfs[name].parents:
                raise fail(f"{name!r} depends on {', '.join(rfs[name].parents)}: its prevalence is given by them in "
                           "risk_factors.yaml, not per setting", "risk_factors", name)
            states = rfs[name].states
            if isinstance(given, DistributionIn) and states == ("yes", "no"):
                raise fail("a yes/no risk factor takes one 'value' (the probability of yes), not 'values'",
                           "risk_factors", name)
            if isinstance(given, PrevalenceIn) and states != ("yes", "no"):
                raise fail(f"give 'values' for every state: {', '.join(states)}", "risk_factors", name)
            if isinstance(given, DistributionIn):
                given.check(states, "risk_factors", name)
        for name, given in self.findings.items():
            given.same_structure(info.context["findings"][name], "findings", name)
        for name, given in self.effects.items():
            _no_repeated_effects(given, "effects", name)
            have = {(e.factor, e.states) for e in info.context["conditions"][name].effects}
            for i, e in enumerate(given):
                if (e.factor, e._chosen) not in have:
                    raise fail(f"{name} has no effect of {e.factor}={'|'.join(e._chosen)} in conditions.yaml (a setting "
                               "can restate an effect measured in its population, not add one)", "effects", name, i)
        if self.based_on is None:
            roots = [n for n, rf in rfs.items() if not rf.parents]
            for group, names in (("risk_factors", roots), ("conditions", info.context["calibrated"])):
                missing = [n for n in names if n not in getattr(self, group)]
                if missing:
                    raise fail(f"no prevalence for {', '.join(map(repr, missing))}; give one for each, or name "
                               "a setting to take the others from with 'based_on'", group)
        return self


class RiskFactorsFile(Model):
    schema_version: SchemaVersion | None = None
    risk_factors: dict[str, either(lambda v: isinstance(v, dict) and v.get("states") not in (None, ["yes", "no"]),
                                   MultiStateRiskFactorIn, BinaryRiskFactorIn)]

    @model_validator(mode="before")
    @classmethod
    def _roots(cls, data: Any, info: ValidationInfo) -> Any:
        """The root factors (no depends_on) and their states, for the factors that depend on them."""
        rfs = data.get("risk_factors") if isinstance(data, dict) else None
        if isinstance(rfs, dict):
            info.context["risk_factors"] = list(rfs)
            info.context["root_factors"] = {
                n: tuple(v.get("states") or ("yes", "no")) for n, v in rfs.items()
                if isinstance(v, dict) and "depends_on" not in v and isinstance(v.get("states") or [], list)
                and all(isinstance(s, str) for s in v.get("states") or [])}
        return data


class ConditionsFile(Model):
    schema_version: SchemaVersion | None = None
    conditions: dict[str, ConditionIn]

    @model_validator(mode="after")
    def _causes(self) -> ConditionsFile:
        for name, c in self.conditions.items():
            for i, cause in enumerate(c.caused_by or ()):
                if cause.condition not in self.conditions:
                    raise fail(unknown("condition", cause.condition, self.conditions),
                               "conditions", name, "caused_by", i, "condition")
        import networkx as nx  # only here: reading the priors should not pay networkx's import at start-up

        try:
            cycle = [u for u, _ in nx.find_cycle(nx.DiGraph([(n, k.condition) for n, c in self.conditions.items()
                                                             for k in c.caused_by or ()]))]
        except nx.NetworkXNoCycle:
            return self
        raise fail(f"conditions cause each other in a cycle: {' -> '.join([*cycle, cycle[0]])}",
                   "conditions", cycle[0], "caused_by")


class FindingsFile(Model):
    schema_version: SchemaVersion = 1
    findings: dict[str, FindingIn]


def load_priors(directory: str | os.PathLike | None = None, *,
                extra_settings: Sequence[str | os.PathLike] = ()) -> PriorSet:
    """Read and validate a priors directory.

    Parameters
    ----------
    directory : path-like, optional
        Folder holding ``risk_factors.yaml``, ``conditions.yaml``, ``findings.yaml`` and the
        folder ``settings/``. Defaults to :func:`bayesnet.data.priors.default_priors_dir`.
    extra_settings : sequence of path-like, optional
        Setting files kept elsewhere (a population of your own), added after the shipped ones;
        each is named by its file name without ``.yaml``.

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
    >>> list(priors.settings)[:2]
    ['primary_care', 'emergency']
    """
    directory = Path(directory) if directory is not None else default_priors_dir()
    if not directory.is_dir():
        raise PriorsError(f"priors directory not found: {str(directory)!r}")
    digest = hashlib.sha256()
    raw = {}
    total = 0
    for name in _FILES:
        raw[name] = _read_yaml(directory, name)
        digest.update((directory / name).read_bytes())
        group = raw[name].get(name.removesuffix(".yaml"))
        total += len(group) if isinstance(group, dict) else 0
        if total > MAX_VARIABLES:
            raise PriorsError(f"{len(group)} entries bring the model to {total} variables; at most {MAX_VARIABLES} "
                              "are supported (the compiled network's build time grows faster than their number)",
                              file=name, entry=name.removesuffix(".yaml"))

    f = "risk_factors.yaml"
    ctx: dict[str, Any] = {"risk_factors": [], "root_factors": {}}
    rf_spec = check(RiskFactorsFile, raw[f], f, **ctx)
    roots = {n: s.states for n, s in rf_spec.risk_factors.items() if getattr(s, "depends_on", None) is None}
    risk_factors = {n: s.risk_factor(n, f, roots) for n, s in rf_spec.risk_factors.items()}
    f = "conditions.yaml"
    conditions = {n: s.condition(n, f) for n, s in check(ConditionsFile, raw[f], f,
                                                            risk_factors=risk_factors).conditions.items()}
    f = "findings.yaml"
    spec = check(FindingsFile, raw[f], f, risk_factors=risk_factors, conditions=conditions)
    findings = {n: replace(s.finding(n, f), marginal_links=spec.schema_version >= 2) for n, s in spec.findings.items()}

    names: dict[str, str] = {}
    for group, file in ((risk_factors, "risk_factors.yaml"), (conditions, "conditions.yaml"), (findings, "findings.yaml")):
        for n in group:
            if n in names:
                raise PriorsError(f"variable {n!r} is defined twice (also in {names[n]})", file=file, entry=n)
            names[n] = file

    ps = PriorSet(directory, {}, risk_factors, conditions, findings)
    for path, file, data in _setting_files(directory, extra_settings):
        digest.update(path.read_bytes())
        _add_setting(ps, path, file, data)
    ps.digest = digest.hexdigest()[:16]
    ps.params = _collect_params(ps)
    return ps


def _setting_files(directory: Path, extra: Sequence[str | os.PathLike]) -> list[tuple[Path, str, dict]]:
    """The setting files, each parsed once, the default first and each after its base: ``(path, name, data)``."""
    folder = directory / SETTINGS_DIR
    shipped = sorted(folder.glob("*.yaml")) if folder.is_dir() else []
    if not shipped:
        raise PriorsError(f"no setting files (*.yaml) in {str(folder)!r}; at least one setting is required",
                          file=SETTINGS_DIR)
    data = {p: read_yaml_mapping(p, f"{SETTINGS_DIR}/{p.name}") for p in shipped}
    defaults = [p for p in shipped if _is_default(data[p], f"{SETTINGS_DIR}/{p.name}")]
    if len(defaults) != 1:
        which = ", ".join(p.stem for p in defaults) or "none"
        raise PriorsError(f"exactly one setting file must say 'default: true'; found {which}", file=SETTINGS_DIR)
    paths = [(p, f"{SETTINGS_DIR}/{p.name}") for p in defaults + [p for p in shipped if p not in defaults]]
    for e in extra:
        path = Path(e)
        if not path.is_file():
            raise PriorsError("setting file not found", file=str(e))
        if path.suffix not in (".yaml", ".yml"):
            raise PriorsError("a setting file must be YAML (.yaml or .yml)", file=str(e))
        paths.append((path, str(e)))
        data[path] = read_yaml_mapping(path, str(e))
    # a setting comes after the one it is based on
    base = {p.stem: b if isinstance(b := data[p].get("based_on"), str) else None for p, _ in paths}
    ordered: list[tuple[Path, str]] = []
    while len(ordered) < len(paths):
        done = {p.stem for p, _ in ordered}
        ready = [(p, f) for p, f in paths if p.stem not in done and (base[p.stem] in done or not isinstance(
            base[p.stem], str) or base[p.stem] not in base)]
        if not ready:
            raise PriorsError("settings are based on each other in a cycle: " + ", ".join(
                f"{p.stem} -> {base[p.stem]}" for p, _ in paths if p.stem not in done), file=SETTINGS_DIR)
        ordered.append(ready[0])
    return [(p, f, data[p]) for p, f in ordered]


def _is_default(data: dict, file: str) -> bool:
    default = data.get("default", False)
    if not isinstance(default, bool):
        raise PriorsError(f"must be true or false; got {default!r}", file=file, entry="default")
    return default


def _add_setting(ps: PriorSet, path: Path, file: str, data: dict) -> None:
    """Add one parsed setting file to ``ps``: prevalences, and the accuracies and effects measured in it."""
    name = path.stem
    if name in ps.settings:
        raise PriorsError(f"setting {name!r} is defined twice (also in {ps.setting_files[name]})", file=file)
    calibrated = [n for n, c in ps.conditions.items() if c.definition == "calibrated"]
    spec = check(SettingFile, data, file, known=list(ps.settings), risk_factors=ps.risk_factors,
                 conditions=ps.conditions, calibrated=calibrated, findings=ps.findings)
    base = spec.based_on
    taken = f" (taken unchanged from setting {base!r})"
    for n, rf in ps.risk_factors.items():
        if rf.parents:
            continue
        if n in spec.risk_factors:
            rf.prevalence[name] = _prevalence(rf, name, spec.risk_factors[n], file, f"risk_factors.{n}")
        else:
            rf.prevalence[name] = {s: _renamed(p, base, name, taken) for s, p in rf.prevalence[base].items()}
    for n in calibrated:
        c = ps.conditions[n]
        if n in spec.conditions:
            c.prevalence[name] = spec.conditions[n].param(n, f"prevalence[{name}]", file, f"conditions.{n}")
        else:
            c.prevalence[name] = _renamed(c.prevalence[base], base, name, taken)
    own = {n: _finding_in(f, None, name, file, base) for n, f in ps.finding_overrides.get(base, {}).items()}
    for n, given in spec.findings.items():
        own[n] = _finding_in(own.get(n, ps.findings[n]), given, name, file)
    if own:
        ps.finding_overrides[name] = own
    mine = {n: _renamed_effects(c, base, name) for n, c in ps.condition_overrides.get(base, {}).items()}
    for n, given in spec.effects.items():
        c = mine.get(n, ps.conditions[n])
        new = {(e.factor, e._chosen): e.effect(n, file, f"effects.{n}[{i}]") for i, e in enumerate(given)}
        mine[n] = replace(c, effects=tuple(_suffixed(new[(e.factor, e.states)], name) if (e.factor, e.states) in new
                                           else e for e in c.effects))
    if mine:
        ps.condition_overrides[name] = mine
    ps.settings[name] = spec.description
    ps.setting_files[name] = path


def _suffixed(e: Effect, setting: str) -> Effect:
    """An effect restated in a setting: its parameters named ``...[setting]``."""
    return replace(e, param=replace(e.param, parameter=f"{e.param.parameter}[{setting}]"), controls=None if (
        e.controls is None) else replace(e.controls, parameter=f"{e.controls.parameter}[{setting}]"))


def _renamed_effects(c: Condition, base: str, name: str) -> Condition:
    """The effects setting ``base`` restated, used unchanged in setting ``name``."""
    taken = f" (taken unchanged from setting {base!r})"

    def rename(p: Param | None) -> Param | None:
        return p if p is None or not p.parameter.endswith(f"[{base}]") else _renamed(p, base, name, taken)
    return replace(c, effects=tuple(replace(e, param=rename(e.param), controls=rename(e.controls)) for e in c.effects))


def _renamed(p: Param, base: str, name: str, taken: str) -> Param:
    """A number of setting ``base`` used unchanged in setting ``name``: its parameter renamed, its note saying so."""
    head, sep, tail = p.parameter.rpartition(f"[{base}]")
    return replace(p, parameter=f"{head}[{name}]{tail}" if sep else p.parameter, note=(p.note + taken).strip(),
                   entry=f"{p.entry} (of setting {base})", origin=p.origin or p.parameter)


def _finding_in(f: Finding, g: FindingInSettingIn | None, setting: str, file: str, base: str = "") -> Finding:
    """``f`` with the leak and links ``g`` gives in ``setting`` (parameters suffixed ``[setting]``).

    Without ``g``, ``f`` holds the accuracies of setting ``base``, used unchanged in ``setting``.
    """
    if g is None:
        def rename(p: Param) -> Param:
            return _renamed(p, base, setting, f" (taken unchanged from setting {base!r})") if p.parameter.endswith(
                f"[{base}]") else p
        return replace(f, leak={k: rename(p) for k, p in f.leak.items()}, links={c: rename(p) for c, p in f.links.items()})
    entry = f"findings.{f.name}"
    leak, rel = dict(f.leak), dict(f.leak_relative_to)
    for k, p in g._leaks().items():
        at = ("leak",) if k == "*" else ("leak", "values", k)
        label = "leak" if f.leak_by is None else f"leak[{f.leak_by}={k}]"
        leak[k] = p.param(f.name, f"{label}[{setting}]", file, ".".join((entry, *at)))
        if p.relative_to is not None:
            rel[k] = p.relative_to
        else:
            rel.pop(k, None)
    links = dict(f.links)
    for c, p in g.links.items():
        links[c] = p.param(f.name, f"{p.kind}[{c}][{setting}]", file, f"{entry}.links.{c}")
    return replace(f, leak=leak, links=links, leak_relative_to=rel)


def _collect_params(ps: PriorSet, setting: str | None = None) -> list[Param]:
    """Every sourced number, in file order; with ``setting``, those the network of that setting reads.

    Without ``setting`` each number is listed once: the copies a setting takes unchanged from
    another (``based_on``) are left out.
    """
    if setting is None:
        return [p for p in _collect_params_all(ps) if not p.origin]
    return _collect_params_all(ps, setting)


def _collect_params_all(ps: PriorSet, setting: str | None = None) -> list[Param]:
    params: list[Param] = []
    for rf in ps.risk_factors.values():
        params.extend(dict.fromkeys(rf.table.values()))  # a factor by age and sex: each entry once
        for name, by_state in rf.prevalence.items():
            if setting is not None and name != setting:
                continue
            if rf.states == ("yes", "no"):
                params.append(by_state["yes"])
            else:
                params.extend(by_state[st] for st in rf.states)
    conds = ps.conditions.values() if setting is None else ps.conditions_in(setting).values()
    for c in conds:
        if setting is not None and c.definition != "calibrated":
            continue
        params.extend(p for name, p in c.prevalence.items() if setting is None or name == setting)
        for e in c.effects:
            params.append(e.param)
            if e.controls is not None:
                params.append(e.controls)
        params.extend(k.param for k in c.causes)
    if setting is None:  # the effects settings restate, once each
        params.extend(p for s_name, own in ps.condition_overrides.items() for c in own.values() for e in c.effects
                      for p in (e.param, e.controls) if p is not None and p.parameter.endswith(f"[{s_name}]"))
        finds = [*ps.findings.values(), *(f for own in ps.finding_overrides.values() for f in own.values())]
    else:
        finds = list(ps.findings_in(setting).values())
    seen: set[tuple[str, str]] = set()
    for f in finds:
        for p in (*f.leak.values(), *f.links.values()):
            if (p.node, p.parameter) not in seen:
                seen.add((p.node, p.parameter))
                params.append(p)
    return params
