"""Red-flag rules judged on synthetic cohorts: exact accuracy, intervals, decision curves.

A *rule* is a boolean combination (``any``, ``all``, ``not``) of tests ``variable: state`` or
``variable: [states]`` on what can be observed of a patient (risk factors, findings, tests), with
a name, a citation and the population it was made for; :func:`load_rule` reads one from a YAML
or JSON file (format below), :func:`shipped_rules` lists the published rules shipped in
``priors/rules/``. :func:`evaluate_rule` says how a rule performs in the model's setting: for
every serious condition and for "any serious condition" (at least one), its sensitivity,
specificity, positive and negative predictive values, the share of patients it flags and the
number flagged per serious case found, each with a 95% interval, and the net benefit across
threshold probabilities (:meth:`RuleEvaluation.decision_curve`).

Exact computation
-----------------
The rule's variables are split into disjoint *cubes*: products of state sets, one set per
variable, on each of which the rule is constant (a Shannon expansion on the rule's tests: the
first undecided test splits the cube into the part where it holds and the part where it does
not). Each cube is one row of evidence for the junction-tree engine, the indicator of its state
sets as likelihoods: the log-evidence gives ``P(cube)``, the posteriors ``P(condition | cube)``,
and a second pass with every serious condition observed absent gives ``P(cube, no serious
condition)``, so that "any serious" is exact and not a sum over conditions that co-occur. The
cells of the 2x2 table of each condition are sums over the cubes where the rule fires, or over
those where it does not (whichever side has fewer cubes), the other side following from the
condition's marginal probability. ``enumeration="configurations"`` uses one cube per joint
state of the rule's variables instead (the same numbers, many more rows; kept as a check).

Intervals
---------
Every number is recomputed under each parameter draw of :meth:`BackPainModel.parameter_draws`
(the published intervals, exactly as :mod:`bayesnet.reasoning.uncertainty` draws them), one
engine row per draw and cube (:meth:`~bayesnet.inference.engine.CompiledNetwork.with_tables`).
With ``cohort_size=n`` each draw also simulates a study of ``n`` patients: the number flagged
``F ~ Binomial(n, P(flag))``, then for each condition the true positives ``~ Binomial(F, PPV)``
and the false negatives ``~ Binomial(n - F, P(condition | not flagged))`` (the multinomial of
the four cells, with one number flagged shared by all conditions). The interval is the central
``level`` range of the metric over the draws: it combines parameter and sampling uncertainty and
is the range in which a study of ``n`` patients of this population would find the metric
(predictive). Without ``cohort_size`` it reflects parameter uncertainty alone (an infinite
cohort). In a small simulated cohort a metric can be undefined (no case of a rare condition: no
sensitivity); such draws are left out of its interval and the share of draws in which it was
defined is the ``defined`` column. The number flagged per case found is ``1 / PPV``, its interval
the reciprocal of the PPV's (infinite when a cohort can find no case).

Sampled cohort
--------------
``cohort=N`` also draws ``N`` patients by forward sampling (:meth:`BackPainModel.sample_cohort`)
and reports the rule's metrics counted in them with exact (Clopper-Pearson) 95% intervals for
proportions (:attr:`RuleEvaluation.cohort`): the sampling error of one synthetic study.

File format
-----------
.. code-block:: yaml

    schema_version: 1
    name: Deyo & Diehl 1988 cancer red flags
    citation: "Deyo RA, Diehl AK. J Gen Intern Med 1988;3:230-238"
    population: adults with back pain at a walk-in clinic
    setting: primary_care           # optional: the shipped setting closest to that population
    description: free text          # optional
    items:                          # optional: the published items and what each maps to
      - item: Age 50 years or older
        maps_to: "age_group: [50_to_69, 70_plus]"
      - item: Elevated ESR
        maps_to: null               # no variable: not part of the rule below
        note: left out (the rule as quoted is the historical items alone)
    rule:
      any:
        - age_group: [50_to_69, 70_plus]
        - history_of_cancer: "yes"
        - all: [{fever: "yes"}, {iv_drug_use: "yes"}]
        - not: {sex: male}

A mapping of several ``variable: state`` entries means all of them; ``any``/``all`` take a
non-empty list, ``not`` one expression. YAML's bare ``yes``/``no`` are read as the states
``yes``/``no``. Every problem (unknown field, variable or state, a condition in a rule, an
empty list, a malformed expression) raises :class:`RuleFileError` naming the file and the entry.

Examples
--------
>>> import bayesnet
>>> from bayesnet.reasoning.rules import evaluate_rule, parse_rule
>>> model = bayesnet.load_model()
>>> rule = parse_rule({"name": "cancer history", "rule": {"history_of_cancer": "yes"}}, model.states)
>>> res = evaluate_rule(model, rule, draws=0)
>>> round(float(res.table.loc[("cancer history", "spinal_metastasis"), ("sensitivity", "value")]), 3)
0.56
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

import numpy as np
import pandas as pd

from bayesnet.data.priors import SAFE_LOADER, PriorsError, default_priors_dir, read_yaml_mapping
from bayesnet.errors import BayesNetError, UnknownNameError, closest
from bayesnet.formatting import render
from bayesnet.reasoning.uncertainty import ParameterDraws, check_draws, check_level

if TYPE_CHECKING:  # pragma: no cover
    from bayesnet.inference.engine import CompiledNetwork
    from bayesnet.model import BackPainModel

__all__ = [
    "ANY_SERIOUS",
    "METRICS",
    "AllOf",
    "AnyOf",
    "Not",
    "Rule",
    "RuleEvaluation",
    "RuleFileError",
    "Test",
    "evaluate_rule",
    "load_rule",
    "parse_expression",
    "parse_rule",
    "rule_cubes",
    "shipped_rules",
]

#: The pseudo-condition "at least one serious condition".
ANY_SERIOUS = "any_serious"
#: The metrics reported, in order.
METRICS = ("sensitivity", "specificity", "ppv", "npv", "flagged", "flagged_per_case")
#: Fields of a rule file.
FIELDS = ("schema_version", "name", "citation", "population", "setting", "description", "items", "rule")
ITEM_FIELDS = ("item", "maps_to", "note")
#: Largest number of cubes (engine rows per draw) a rule may need.
MAX_CUBES = 65_536
#: Largest rule file read.
MAX_FILE_BYTES = 1_000_000
#: Engine rows per call when several cubes share a call (draws x cubes).
ROWS_PER_CALL = 2048
_OBSERVABLE = ("risk_factor", "finding", "test")


class RuleFileError(PriorsError):
    """A rule (file or mapping) is malformed or names something the model does not know.

    The message names the file and the entry, e.g.
    ``my_rule.yaml: rule.any[2]: unknown variable 'fevr'; did you mean 'fever'?``.
    """


# --------------------------------------------------------------------------------------------
# expressions


@dataclass(frozen=True)
class Test:
    """``variable`` is in one of ``states``."""

    __test__ = False  # not a pytest test class

    variable: str
    states: tuple[str, ...]

    def describe(self) -> str:
        return f"{self.variable}={self.states[0]}" if len(self.states) == 1 else \
            f"{self.variable} in {{{', '.join(self.states)}}}"


@dataclass(frozen=True)
class AnyOf:
    """At least one of ``terms`` holds."""

    terms: tuple[Expr, ...]

    def describe(self) -> str:
        return " OR ".join(_paren(t) for t in self.terms)


@dataclass(frozen=True)
class AllOf:
    """Every one of ``terms`` holds."""

    terms: tuple[Expr, ...]

    def describe(self) -> str:
        return " AND ".join(_paren(t) for t in self.terms)


@dataclass(frozen=True)
class Not:
    """``term`` does not hold."""

    term: Expr

    def describe(self) -> str:
        return f"NOT {_paren(self.term)}"


Expr = Union[Test, AnyOf, AllOf, Not]  # noqa: UP007 (a runtime alias used in annotations of the classes above)


def _paren(e: Expr) -> str:
    return f"({e.describe()})" if isinstance(e, AnyOf | AllOf) and len(e.terms) > 1 else e.describe()


def _walk(e: Expr) -> Iterable[Test]:
    if isinstance(e, Test):
        yield e
    elif isinstance(e, Not):
        yield from _walk(e.term)
    else:
        for t in e.terms:
            yield from _walk(t)


def _where(at: str, key: str | int) -> str:
    return f"{at}[{key}]" if isinstance(key, int) else (f"{at}.{key}" if at else str(key))


def parse_expression(obj: Any, states: Mapping[str, Sequence[str]], kinds: Mapping[str, str] | None = None, *,
                     at: str = "rule", file: str | None = None) -> Expr:
    """Validate the mapping form of an expression (see the module docstring) and build it.

    Parameters
    ----------
    obj : mapping
        ``{"any": [...]}``, ``{"all": [...]}``, ``{"not": {...}}`` or ``{variable: state or [states], ...}``.
    states : mapping
        Variable -> its states (``model.states``).
    kinds : mapping, optional
        Variable -> kind (``model.tables.kinds``); conditions are refused.
    at : str
        Where ``obj`` sits, for messages (default ``rule``).
    file : str, optional
        File named in messages.

    Raises
    ------
    RuleFileError
        Naming the entry: an unknown variable or state (with the closest valid name), a condition,
        an empty list, a malformed expression.

    Examples
    --------
    >>> import bayesnet
    >>> m = bayesnet.load_model()
    >>> parse_expression({"any": [{"fever": "yes"}, {"age_group": ["50_to_69", "70_plus"]}]}, m.states).describe()
    'fever=yes OR age_group in {50_to_69, 70_plus}'
    """

    def fail(message: str, where: str) -> RuleFileError:
        return RuleFileError(message, file=file, entry=where)

    if not isinstance(obj, Mapping):
        raise fail(f"an expression must be a mapping (any:, all:, not: or variable: state); got "
                   f"{type(obj).__name__} {_short(obj)}", at)
    if not obj:
        raise fail("empty expression (write any:, all:, not: or variable: state)", at)
    ops = [k for k in obj if k in ("any", "all", "not")]
    if ops and len(obj) > 1:
        others = [str(k) for k in obj if k != ops[0]]
        raise fail(f"{ops[0]!r} must be alone in its mapping; found also {', '.join(map(repr, others))} (put the "
                   f"other tests in a list under all: or any:)", at)
    if ops:
        op = ops[0]
        value = obj[op]
        where = _where(at, op)
        if op == "not":
            if isinstance(value, list):
                raise fail("not: takes one expression, not a list (wrap several in any: or all:)", where)
            return Not(parse_expression(value, states, kinds, at=where, file=file))
        if not isinstance(value, list):
            raise fail(f"{op}: takes a list of expressions; got {type(value).__name__} {_short(value)}", where)
        if not value:
            raise fail(f"{op}: takes a non-empty list of expressions", where)
        terms = tuple(parse_expression(v, states, kinds, at=_where(where, i), file=file) for i, v in enumerate(value))
        return AnyOf(terms) if op == "any" else AllOf(terms)
    tests = []
    for var, value in obj.items():
        where = _where(at, str(var))
        if not isinstance(var, str) or var not in states:
            hint = closest(var, [*states, "any", "all", "not"])
            msg = f"unknown variable {var!r}" + (f"; did you mean {hint[0]!r}?" if hint else "")
            raise fail(msg, at)
        if kinds is not None and kinds.get(var) not in _OBSERVABLE:
            raise fail(f"{var!r} is a {kinds.get(var)}; a rule tests what can be observed (risk factors, findings, "
                       f"tests), and its accuracy is measured against the conditions", at)
        valid = tuple(states[var])
        values = value if isinstance(value, list) else [value]
        if not values:
            raise fail(f"empty list of states of {var!r}; states are {', '.join(valid)}", where)
        chosen: list[str] = []
        for s in values:
            s = ("yes" if s else "no") if isinstance(s, bool) else s  # YAML's bare yes/no
            if not isinstance(s, str) or s not in valid:
                hint = closest(s, valid)
                msg = f"unknown state {s!r} of variable {var!r}; states are {', '.join(valid)}" + (
                    f" (did you mean {hint[0]!r}?)" if hint and len(valid) > 2 else "")
                raise fail(msg, where)
            if s in chosen:
                raise fail(f"state {s!r} of {var!r} given twice", where)
            chosen.append(s)
        tests.append(Test(var, tuple(s for s in valid if s in chosen)))
    return tests[0] if len(tests) == 1 else AllOf(tuple(tests))


def _short(obj: Any) -> str:
    text = repr(obj)
    return text if len(text) <= 60 else text[:57] + "..."


# --------------------------------------------------------------------------------------------
# rules


@dataclass(frozen=True)
class Rule:
    """A red-flag rule: who gets flagged, and where it comes from.

    Attributes
    ----------
    name : str
    expression : Test, AnyOf, AllOf or Not
    citation, population, setting, description : str
        ``setting`` is the shipped setting closest to the rule's population ("" if not given).
    items : tuple of dict
        The published items with what each maps to (``maps_to`` None: no variable).
    file : str
        The file it was read from ("" for a rule built in Python).
    """

    name: str
    expression: Expr
    citation: str = ""
    population: str = ""
    setting: str = ""
    description: str = ""
    items: tuple[dict, ...] = ()
    file: str = ""

    @property
    def variables(self) -> tuple[str, ...]:
        """The variables the rule tests, in order of first appearance."""
        return tuple(dict.fromkeys(t.variable for t in _walk(self.expression)))

    @property
    def unmapped(self) -> tuple[str, ...]:
        """The published items with no variable in the model (left out of the rule)."""
        return tuple(str(i["item"]) for i in self.items if i.get("maps_to") is None)

    def describe(self) -> str:
        """The rule as one line of text."""
        return self.expression.describe()

    def fires(self, data: pd.DataFrame | Mapping[str, Any]) -> np.ndarray:
        """Whether the rule flags each row of ``data`` (columns: the rule's variables, values: states).

        Examples
        --------
        >>> import bayesnet, pandas as pd
        >>> m = bayesnet.load_model()
        >>> r = parse_rule({"name": "x", "rule": {"any": [{"fever": "yes"}, {"sex": "male"}]}}, m.states)
        >>> r.fires(pd.DataFrame({"fever": ["yes", "no", "no"], "sex": ["female", "male", "female"]})).tolist()
        [True, True, False]
        """
        frame = data if isinstance(data, pd.DataFrame) else pd.DataFrame({k: [v] for k, v in data.items()})
        missing = [v for v in self.variables if v not in frame.columns]
        if missing:
            raise UnknownNameError("column", missing[0], list(map(str, frame.columns)),
                                   context=f"(rule {self.name!r} tests it)")

        def ev(e: Expr) -> np.ndarray:
            if isinstance(e, Test):
                return frame[e.variable].astype(object).isin(e.states).to_numpy()
            if isinstance(e, Not):
                return ~ev(e.term)
            parts = [ev(t) for t in e.terms]
            return np.logical_or.reduce(parts) if isinstance(e, AnyOf) else np.logical_and.reduce(parts)

        return np.asarray(ev(self.expression), dtype=bool)

    def to_dict(self) -> dict:
        """Plain-Python form (the CLI's ``--json``)."""
        return {"name": self.name, "citation": self.citation, "population": self.population, "setting": self.setting,
                "file": self.file, "rule": self.describe(), "variables": list(self.variables),
                "unmapped": list(self.unmapped)}


def _text_field(data: Mapping, key: str, file: str | None, required: bool = False) -> str:
    value = data.get(key)
    if value is None:
        if required:
            raise RuleFileError(f"the field {key!r} is required", file=file, entry=key)
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise RuleFileError(f"{key} must be a non-empty text; got {_short(value)}", file=file, entry=key)
    return value.strip()


def parse_rule(data: Mapping[str, Any], states: Mapping[str, Sequence[str]], kinds: Mapping[str, str] | None = None,
               *, file: str | None = None) -> Rule:
    """Validate the mapping form of a rule (a parsed rule file) against the model's variables and build it.

    Parameters
    ----------
    data : mapping
        Fields as in the module docstring: ``name`` and ``rule`` required.
    states : mapping
        Variable -> states (``model.states``).
    kinds : mapping, optional
        Variable -> kind (``model.tables.kinds``): conditions are refused in a rule.
    file : str, optional
        Named in messages, and kept in ``Rule.file``.

    Raises
    ------
    RuleFileError
    """
    if not isinstance(data, Mapping):
        raise RuleFileError(f"a rule must be a mapping of fields; got {type(data).__name__}", file=file)
    for key in data:
        if key not in FIELDS:
            hint = closest(key, FIELDS)
            raise RuleFileError(f"unknown field {key!r}" + (f"; did you mean {hint[0]!r}?" if hint else
                                f"; fields are {', '.join(FIELDS)}"), file=file, entry=str(key))
    version = data.get("schema_version", 1)
    if version != 1 or isinstance(version, bool):
        raise RuleFileError(f"schema_version must be 1; got {version!r}", file=file, entry="schema_version")
    name = _text_field(data, "name", file, required=True)
    if "rule" not in data:
        raise RuleFileError("the field 'rule' is required (the expression: any:, all:, not: or variable: state)",
                            file=file, entry="rule")
    expression = parse_expression(data["rule"], states, kinds, at="rule", file=file)
    items = data.get("items") or []
    if not isinstance(items, list):
        raise RuleFileError(f"items must be a list; got {type(items).__name__}", file=file, entry="items")
    parsed_items = []
    for i, item in enumerate(items):
        where = f"items[{i}]"
        if not isinstance(item, Mapping) or not isinstance(item.get("item"), str):
            raise RuleFileError("each item is a mapping with a text 'item' (and 'maps_to', 'note')", file=file,
                                entry=where)
        for key in item:
            if key not in ITEM_FIELDS:
                raise RuleFileError(f"unknown field {key!r} of an item; fields are {', '.join(ITEM_FIELDS)}",
                                    file=file, entry=where)
        if "maps_to" not in item:
            raise RuleFileError("say what the item maps to (maps_to: a variable test, or null for none)",
                                file=file, entry=where)
        maps_to, note = item.get("maps_to"), item.get("note")
        if maps_to is not None and not isinstance(maps_to, str):
            raise RuleFileError(f"maps_to must be a text or null; got {_short(maps_to)}", file=file, entry=where)
        if note is not None and not isinstance(note, str):
            raise RuleFileError(f"note must be a text; got {_short(note)}", file=file, entry=where)
        parsed_items.append({"item": item["item"], "maps_to": maps_to, "note": note or ""})
    return Rule(name=name, expression=expression, citation=_text_field(data, "citation", file),
                population=_text_field(data, "population", file), setting=_text_field(data, "setting", file),
                description=_text_field(data, "description", file), items=tuple(parsed_items), file=file or "")


def _rules_dir() -> Path:
    return default_priors_dir() / "rules"


def shipped_rules() -> dict[str, Path]:
    """The published rules shipped with the package: name (file stem) -> path.

    Examples
    --------
    >>> sorted(shipped_rules())[:2]
    ['acp_aps_2007', 'deyo_diehl_1988']
    """
    folder = _rules_dir()
    if not folder.is_dir():
        return {}
    return {p.stem: p for p in sorted(folder.iterdir()) if p.suffix in (".yaml", ".yml", ".json")}


def _no_duplicates(pairs: list[tuple[Any, Any]]) -> dict:
    out: dict = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"duplicate key {k!r}")
        out[k] = v
    return out


def _read(path: Path) -> Any:
    name = path.name
    if not path.exists():
        raise RuleFileError("file not found", file=str(path))
    if not path.is_file():
        raise RuleFileError("not a file", file=str(path))
    if path.stat().st_size > MAX_FILE_BYTES:
        raise RuleFileError(f"file is too large (at most {MAX_FILE_BYTES} bytes)", file=name)
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(path.read_bytes().decode("utf-8"), object_pairs_hook=_no_duplicates)
        except UnicodeDecodeError:
            raise RuleFileError("not a UTF-8 text file", file=name) from None
        except json.JSONDecodeError as exc:
            raise RuleFileError(f"not valid JSON: {exc.msg}", file=name, entry=f"line {exc.lineno}") from None
        except (ValueError, RecursionError) as exc:
            raise RuleFileError(f"not valid JSON: {exc}", file=name) from None
        if not isinstance(data, dict):
            raise RuleFileError(f"top level must be an object; got {type(data).__name__}", file=name)
        return data
    return read_yaml_mapping(path, name, RuleFileError, SAFE_LOADER)


def load_rule(source: str | os.PathLike | Mapping | Rule, model: BackPainModel) -> Rule:
    """A rule from a file (YAML or JSON), a shipped rule's name, a mapping, or a :class:`Rule`, checked against ``model``.

    Examples
    --------
    >>> import bayesnet
    >>> m = bayesnet.load_model()
    >>> load_rule("perc_kline_2004", m).variables[:2]
    ('age_group', 'tachycardia')
    """
    states, kinds = model.states, model.tables.kinds
    if isinstance(source, Rule):
        parse_expression(_as_mapping(source.expression), states, kinds, file=source.file or None)  # names still valid
        return source
    if isinstance(source, Mapping):
        data = source if "rule" in source or "name" in source else {"name": "rule", "rule": source}
        return parse_rule(data, states, kinds)
    if not isinstance(source, str | os.PathLike):
        raise RuleFileError(f"a rule is a file, a shipped rule's name, a mapping or a Rule; got "
                            f"{type(source).__name__}")
    path = Path(source)
    if not path.exists() and isinstance(source, str) and path.suffix == "" and os.sep not in source:
        shipped = shipped_rules()
        if source in shipped:
            path = shipped[source]
        else:
            raise UnknownNameError("rule", source, shipped, context="(neither a file nor a shipped rule)")
    return parse_rule(_read(path), states, kinds, file=str(path.name if path.parent == _rules_dir() else path))


def _as_mapping(e: Expr) -> dict:
    if isinstance(e, Test):
        return {e.variable: list(e.states)}
    if isinstance(e, Not):
        return {"not": _as_mapping(e.term)}
    return {"any" if isinstance(e, AnyOf) else "all": [_as_mapping(t) for t in e.terms]}


# --------------------------------------------------------------------------------------------
# cubes


def rule_cubes(rule: Rule, states: Mapping[str, Sequence[str]], *, enumeration: str = "cubes",
               limit: int = MAX_CUBES) -> tuple[list[tuple[int, ...]], list[tuple[int, ...]]]:
    """Disjoint cubes covering the joint states of the rule's variables: those where it fires, those where it does not.

    A cube is a tuple of bit masks, one per variable of ``rule.variables`` (bit ``i`` set: state
    ``i`` allowed). ``enumeration="configurations"``: one cube per joint state.

    Examples
    --------
    >>> import bayesnet
    >>> m = bayesnet.load_model()
    >>> r = parse_rule({"name": "x", "rule": {"any": [{"fever": "yes"}, {"iv_drug_use": "yes"}]}}, m.states)
    >>> fire, quiet = rule_cubes(r, m.states)
    >>> len(fire), quiet
    (2, [(2, 2)])
    """
    variables = rule.variables
    index = {v: i for i, v in enumerate(variables)}
    cards = [len(states[v]) for v in variables]
    masks = {t: sum(1 << list(states[t.variable]).index(s) for s in t.states) for t in _walk(rule.expression)}
    full = tuple((1 << c) - 1 for c in cards)

    def value(e: Expr, cube: tuple[int, ...]) -> bool | None:
        if isinstance(e, Test):
            m = cube[index[e.variable]]
            s = masks[e]
            return True if m & ~s == 0 else (False if m & s == 0 else None)
        if isinstance(e, Not):
            v = value(e.term, cube)
            return None if v is None else not v
        vals = [value(t, cube) for t in e.terms]
        if isinstance(e, AnyOf):
            return True if any(v is True for v in vals) else (False if all(v is False for v in vals) else None)
        return False if any(v is False for v in vals) else (True if all(v is True for v in vals) else None)

    def undecided(e: Expr, cube: tuple[int, ...]) -> Test | None:
        for t in _walk(e):
            if value(t, cube) is None:
                return t
        return None

    fire: list[tuple[int, ...]] = []
    quiet: list[tuple[int, ...]] = []
    if enumeration == "configurations":
        import itertools

        for codes in itertools.product(*[range(c) for c in cards]):
            cube = tuple(1 << c for c in codes)
            (fire if value(rule.expression, cube) else quiet).append(cube)
            if len(fire) + len(quiet) > limit:
                raise BayesNetError(f"rule {rule.name!r} has more than {limit} joint states to enumerate; use "
                                    "enumeration='cubes'")
        return fire, quiet
    if enumeration != "cubes":
        raise UnknownNameError("enumeration", enumeration, ["cubes", "configurations"])
    stack = [full]
    while stack:
        cube = stack.pop()
        v = value(rule.expression, cube)
        if v is not None:
            (fire if v else quiet).append(cube)
            if len(fire) + len(quiet) > limit:
                raise BayesNetError(f"rule {rule.name!r} needs more than {limit} evidence rows per draw; simplify it")
            continue
        t = undecided(rule.expression, cube)
        i, s = index[t.variable], masks[t]
        for part in (cube[i] & ~s, cube[i] & s):  # the first pushed is explored last: keeps the order natural
            stack.append(cube[:i] + (part,) + cube[i + 1:])
    return fire, quiet


# --------------------------------------------------------------------------------------------
# exact cells


def _indicator(mask: int, card: int) -> np.ndarray:
    return np.array([1.0 if mask >> i & 1 else 0.0 for i in range(card)])


def _cube_sums(net: CompiledNetwork, cubes: Sequence[tuple[int, ...]], variables: Sequence[str], cards: Sequence[int],
               serious: Sequence[str], n_rows: int, per_call: int, repeated: Any) -> tuple[np.ndarray, ...]:
    """Sums over ``cubes`` of ``P(cube)``, ``P(cube, C=yes)`` and ``P(cube, no serious condition)`` in each row of ``net``.

    ``net`` has ``n_rows`` rows (1: the point values; draws). Several cubes share one call through
    ``repeated(g)``, the network with the rows repeated ``g`` times (row ``s * n_rows + d``: cube
    ``s``, draw ``d``). Returns ``(z (rows,), zc (rows, conditions), znone (rows,))``.
    """
    z = np.zeros(n_rows)
    zc = np.zeros((n_rows, len(serious)))
    znone = np.zeros(n_rows)
    absent = {c: np.array([0.0 if s == "yes" else 1.0 for s in net.states[c]]) for c in serious}
    yes = [list(net.states[c]).index("yes") for c in serious]
    for g0 in range(0, len(cubes), per_call):
        chunk = cubes[g0:g0 + per_call]
        g = per_call if len(cubes) > per_call else len(chunk)  # a short last chunk is padded, same network
        sub = repeated(g)
        lik = {}
        for j, v in enumerate(variables):
            rows = np.ones((g, cards[j]))
            for s, cube in enumerate(chunk):
                rows[s] = _indicator(cube[j], cards[j])
            # padding rows (a short last chunk) observe nothing; they are cut from the sums below
            if not np.all(rows == 1.0):
                lik[v] = np.repeat(rows, n_rows, axis=0)
        if not lik:  # one cube covering everything (a rule that always or never fires)
            lik = {variables[0]: np.ones((g * n_rows, cards[0]))}
        probs, log_ev = sub.propagate(lik, n_rows=g * n_rows, targets=list(serious))
        offsets = np.cumsum([0] + [sub.cardinality[c] for c in serious])[:-1]
        with np.errstate(invalid="ignore"):
            pz = np.where(log_ev > -np.inf, np.exp(log_ev), 0.0)
            post = np.nan_to_num(probs[:, offsets + np.array(yes, dtype=int)], nan=0.0)
        lik_none = {**lik, **{c: a for c, a in absent.items()}}
        _, log_none = sub.propagate(lik_none, n_rows=g * n_rows, targets=[])
        pnone = np.where(log_none > -np.inf, np.exp(log_none), 0.0)
        k = len(chunk)
        z += pz.reshape(g, n_rows)[:k].sum(axis=0)
        zc += (pz[:, None] * post).reshape(g, n_rows, -1)[:k].sum(axis=0)
        znone += pnone.reshape(g, n_rows)[:k].sum(axis=0)
    return z, zc, znone


def _totals(net: CompiledNetwork, serious: Sequence[str], n_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """``P(C = yes)`` for every serious condition ``(rows, conditions)`` and ``P(no serious condition)`` ``(rows,)``."""
    probs, _ = net.propagate({}, n_rows=n_rows, targets=list(serious))
    offsets = np.cumsum([0] + [net.cardinality[c] for c in serious])[:-1]
    yes = np.array([list(net.states[c]).index("yes") for c in serious], dtype=int)
    none_lik = {c: np.array([0.0 if s == "yes" else 1.0 for s in net.states[c]]) for c in serious}
    _, log_none = net.propagate(none_lik, n_rows=n_rows, targets=[])
    return probs[:, offsets + yes], np.exp(log_none)


def _cells(rule: Rule, fire: list, quiet: list, net: CompiledNetwork, states: Mapping, serious: Sequence[str],
           n_rows: int, repeated: Any) -> np.ndarray:
    """The 2x2 cells ``(rows, conditions + 1, 4)``: TP, FP, FN, TN as shares of the population; last: any serious."""
    variables = rule.variables
    cards = [len(states[v]) for v in variables]
    prev, pnone = _totals(net, serious, n_rows)
    p = np.concatenate([prev, (1.0 - pnone)[:, None]], axis=1)  # P(D) per condition, then any serious
    per_call = max(1, ROWS_PER_CALL // n_rows)
    side_fires = len(fire) <= len(quiet)
    cubes = fire if side_fires else quiet
    if cubes:
        z, zc, znone = _cube_sums(net, cubes, variables, cards, serious, n_rows, per_call, repeated)
    else:
        z, zc, znone = np.zeros(n_rows), np.zeros((n_rows, len(serious))), np.zeros(n_rows)
    zd = np.concatenate([zc, (z - znone)[:, None]], axis=1)  # P(side, D)
    z = z[:, None]
    if side_fires:  # the cubes are where the rule fires
        tp, fp = zd, z - zd
        fn = p - tp
        tn = 1.0 - z - fn
    else:  # the cubes are where it does not
        fn, tn = zd, z - zd
        tp = p - fn
        fp = (1.0 - z) - tp
    cells = np.stack([tp, fp, fn, tn], axis=2)
    return np.clip(cells, 0.0, 1.0)  # rounding below zero (a rule that catches every case) is cut


# --------------------------------------------------------------------------------------------
# metrics


def _metrics(cells: np.ndarray) -> dict[str, np.ndarray]:
    """Every metric of cells ``(..., 4)`` (shares or counts); NaN where undefined, inf flagged per case with no case found."""
    tp, fp, fn, tn = (cells[..., i] for i in range(4))
    total = tp + fp + fn + tn
    with np.errstate(divide="ignore", invalid="ignore"):
        out = {
            "sensitivity": np.where(tp + fn > 0, tp / (tp + fn), np.nan),
            "specificity": np.where(tn + fp > 0, tn / (tn + fp), np.nan),
            "ppv": np.where(tp + fp > 0, tp / (tp + fp), np.nan),
            "npv": np.where(tn + fn > 0, tn / (tn + fn), np.nan),
            "flagged": np.where(total > 0, (tp + fp) / total, np.nan),
        }
        out["flagged_per_case"] = np.where(tp + fp > 0, np.where(tp > 0, (tp + fp) / np.where(tp > 0, tp, 1.0),
                                                                   np.inf), np.nan)
    return out


def _sample_counts(cells: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Counts of a study of ``n`` patients per draw: cells ``(draws, D, 4)`` -> counts ``(draws, D, 4)``.

    The number flagged is drawn once per draw (shared by every condition), then each condition's
    true positives among the flagged and false negatives among the others.
    """
    flag = np.clip(cells[:, -1, 0] + cells[:, -1, 1], 0.0, 1.0)  # P(flag), the same for every condition
    f = rng.binomial(n, flag)  # (draws,)
    with np.errstate(divide="ignore", invalid="ignore"):
        ppv = np.where(flag[:, None] > 0, cells[..., 0] / flag[:, None], 0.0)
        miss = np.where(flag[:, None] < 1, cells[..., 2] / (1.0 - flag[:, None]), 0.0)
    tp = rng.binomial(f[:, None], np.clip(ppv, 0.0, 1.0))
    fn = rng.binomial((n - f)[:, None], np.clip(miss, 0.0, 1.0))
    return np.stack([tp, f[:, None] - tp, fn, (n - f)[:, None] - fn], axis=2).astype(float)


def _interval(values: np.ndarray, level: float, metric: str, ppv: np.ndarray | None = None) -> tuple:
    """``(low, high, defined)`` over draws (axis 0) of ``values`` ``(draws, D)``."""
    q = [(1.0 - level) / 2.0, (1.0 + level) / 2.0]
    if metric == "flagged_per_case":  # the reciprocal of the PPV's interval
        lo_p, hi_p, defined = _interval(ppv, level, "ppv")
        with np.errstate(divide="ignore"):
            return 1.0 / hi_p, 1.0 / lo_p, defined
    ok = np.isfinite(values)
    defined = ok.mean(axis=0)
    if ok.all():
        lo, hi = np.quantile(values, q, axis=0)
    else:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: NaN, said by defined = 0
            lo, hi = np.nanquantile(np.where(ok, values, np.nan), q, axis=0)
    return lo, hi, defined


def _check_positive(value: Any, what: str, allow_none: bool = True) -> int | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise BayesNetError(f"{what} must be a positive integer{' or None' if allow_none else ''}; got {value!r}")
    return int(value)


def _check_seed(seed: Any) -> Any:
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise BayesNetError(f"seed must be a non-negative integer or None; got {seed!r}")
    return int(seed)


def _clopper_pearson(k: np.ndarray, n: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    from scipy.stats import beta

    a = (1.0 - level) / 2.0
    k, n = np.asarray(k, dtype=float), np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        lo = np.where(k > 0, beta.ppf(a, k, n - k + 1), 0.0)
        hi = np.where(k < n, beta.ppf(1 - a, k + 1, n - k), 1.0)
    return np.where(n > 0, lo, np.nan), np.where(n > 0, hi, np.nan)


# --------------------------------------------------------------------------------------------
# results


@dataclass
class RuleEvaluation:
    """How one or several rules perform in a setting (the result of :func:`evaluate_rule`).

    Attributes
    ----------
    rules : list of Rule
    conditions : list of str
        The serious conditions, then :data:`ANY_SERIOUS`.
    metrics : DataFrame
        Long form: one row per rule, condition and metric, columns ``rule, condition, metric,
        value, low, high, defined`` (``value``: exact, under the published values; ``low``,
        ``high``: the interval; ``defined``: share of draws in which the metric was defined; with
        ``draws=0`` the interval columns are NaN: not computed).
    cells : DataFrame
        Index ``(rule, condition)``: the exact 2x2 table as shares of the population,
        ``true_positive, false_positive, false_negative, true_negative, prevalence``.
    cell_draws : ndarray
        ``(rules, draws, conditions, 4)``: the cells under each parameter draw (shares) or, with
        ``cohort_size``, the simulated counts of each draw's study.
    cohort : DataFrame or None
        The metrics counted in a forward-sampled cohort (``cohort=N``): ``rule, condition, metric,
        value, low, high, numerator, denominator`` (exact binomial intervals).
    setting, draws, seed, level, cohort_size, cohort_n : as given
    cubes : dict
        Rule name -> the number of evidence rows per draw its exact evaluation used.
    """

    rules: list[Rule]
    conditions: list[str]
    metrics: pd.DataFrame
    cells: pd.DataFrame
    cell_draws: np.ndarray
    setting: str
    draws: int
    seed: Any
    level: float
    cohort_size: int | None
    cohort: pd.DataFrame | None = None
    cohort_n: int | None = None
    cubes: dict[str, int] = field(default_factory=dict)
    redrawn: dict[str, int] = field(default_factory=dict)

    @property
    def table(self) -> pd.DataFrame:
        """Wide form: index ``(rule, condition)``, columns ``(metric, statistic)`` with statistics ``value, low, high``."""
        wide = self.metrics.pivot_table(index=["rule", "condition"], columns="metric",
                                        values=["value", "low", "high"], sort=False, dropna=False)
        wide = wide.swaplevel(0, 1, axis=1)
        cols = pd.MultiIndex.from_product([list(METRICS), ["value", "low", "high"]], names=["metric", "statistic"])
        order = pd.MultiIndex.from_tuples([(r.name, c) for r in self.rules for c in self.conditions],
                                          names=["rule", "condition"])
        return wide.reindex(index=order, columns=cols)

    def compare(self, condition: str = ANY_SERIOUS) -> pd.DataFrame:
        """The rules side by side for one condition: index rule, columns ``(metric, statistic)``.

        Examples
        --------
        >>> import bayesnet
        >>> m = bayesnet.load_model()
        >>> res = evaluate_rule(m, ["deyo_diehl_1988", "downie_2013"], draws=0)
        >>> res.compare().shape
        (2, 18)
        """
        if condition not in self.conditions:
            raise UnknownNameError("condition", condition, self.conditions)
        return self.table.xs(condition, level="condition")

    def decision_curve(self, condition: str = ANY_SERIOUS, thresholds: Sequence[float] | None = None) -> pd.DataFrame:
        """Net benefit of each rule, of flagging everyone and of flagging no one, across threshold probabilities.

        ``net benefit = TP/N - FP/N * pt / (1 - pt)`` (Vickers & Elkin 2006, Med Decis Making
        26:565), ``pt`` the threshold probability at which one would act; flagging everyone has
        ``prevalence - (1 - prevalence) * pt / (1 - pt)``, flagging no one 0. A rule's net benefit
        crosses 0 at ``pt = PPV``.

        Parameters
        ----------
        condition : str, default "any_serious"
        thresholds : sequence of float, optional
            In [0, 1); default 101 points from 0 to 1.5 times the largest PPV (and prevalence)
            among the rules, at most 0.99.

        Returns
        -------
        DataFrame
            Columns ``strategy, threshold, net_benefit, low, high`` (the interval over the draws:
            parameter uncertainty, and the study's sampling with ``cohort_size``; NaN without draws).
        """
        if condition not in self.conditions:
            raise UnknownNameError("condition", condition, self.conditions)
        j = self.conditions.index(condition)
        point = np.stack([self.cells.xs(condition, level="condition").loc[r.name, ["true_positive", "false_positive",
                                                                                   "false_negative", "true_negative"]]
                          .to_numpy(dtype=float) for r in self.rules])  # (rules, 4)
        prevalence = float(point[0, 0] + point[0, 2])
        if thresholds is None:
            m = _metrics(point)
            top = np.nanmax(np.concatenate([m["ppv"], [prevalence]]))
            thresholds = np.linspace(0.0, min(0.99, max(1.5 * top, 0.01)), 101)
        pt = np.asarray(thresholds, dtype=float).reshape(-1)
        if pt.size == 0 or not np.all(np.isfinite(pt)) or pt.min() < 0 or pt.max() >= 1:
            raise BayesNetError("thresholds must be probabilities in [0, 1)")
        w = pt / (1.0 - pt)
        q = [(1.0 - self.level) / 2.0, (1.0 + self.level) / 2.0]
        rows = []

        def add(name: str, nb: np.ndarray, nb_draws: np.ndarray | None) -> None:
            if nb_draws is None or nb_draws.shape[0] == 0:
                lo = hi = np.full(pt.shape, np.nan)
            else:
                lo, hi = np.quantile(nb_draws, q, axis=0)
            rows.append(pd.DataFrame({"strategy": name, "threshold": pt, "net_benefit": nb, "low": lo, "high": hi}))

        draws = self.cell_draws[:, :, j, :] if self.cell_draws.size else None  # (rules, draws, 4)
        if draws is not None:
            total = draws.sum(axis=2, keepdims=True)
            draws = draws / np.where(total > 0, total, 1.0)
        for i, r in enumerate(self.rules):
            nb = point[i, 0] - point[i, 1] * w
            nbd = None if draws is None else draws[i, :, 0:1] - draws[i, :, 1:2] * w[None, :]
            add(r.name, nb, nbd)
        everyone = prevalence - (1.0 - prevalence) * w
        ed = None if draws is None else (draws[0, :, 0:1] + draws[0, :, 2:3]) - (draws[0, :, 1:2] + draws[0, :, 3:4]) * w
        add("flag everyone", everyone, ed)
        add("flag no one", np.zeros_like(pt), None if draws is None else np.zeros((draws.shape[1], pt.size)))
        out = pd.concat(rows, ignore_index=True)
        out.attrs.update({"condition": condition, "setting": self.setting, "draws": self.draws,
                          "cohort_size": self.cohort_size, "level": self.level})
        return out

    def to_dict(self) -> dict:
        """Plain-Python form (the CLI's ``--json``): settings, rules, metrics and the sampled cohort."""

        def clean(v: Any) -> Any:
            if hasattr(v, "item"):
                v = v.item()
            return None if isinstance(v, float) and not math.isfinite(v) else v

        out = {"setting": self.setting, "draws": self.draws, "seed": self.seed, "level": self.level,
               "cohort_size": self.cohort_size, "rules": [r.to_dict() for r in self.rules],
               "metrics": [{k: clean(v) for k, v in rec.items()} for rec in self.metrics.to_dict("records")]}
        if self.cohort is not None:
            out["cohort"] = {"n": self.cohort_n,
                             "metrics": [{k: clean(v) for k, v in rec.items()} for rec in self.cohort.to_dict("records")]}
        return out

    def __repr__(self) -> str:
        text = render(self, "rule_evaluation", "text")
        if text is not None:
            return text
        return (f"<RuleEvaluation ({self.setting}): {', '.join(r.name for r in self.rules)}; draws={self.draws}, "
                f"cohort_size={self.cohort_size}>")

    def _repr_html_(self) -> str | None:
        html = render(self, "rule_evaluation", "html")
        return html if html is not None else self.compare()._repr_html_()


# --------------------------------------------------------------------------------------------
# the analysis


def evaluate_rule(
    model: BackPainModel,
    rule: Any,
    *,
    draws: int = 1000,
    seed: int | None = 0,
    cohort_size: int | None = None,
    level: float = 0.95,
    cohort: int | None = None,
    enumeration: str = "cubes",
) -> RuleEvaluation:
    """How a red-flag rule (or several, side by side) performs in the model's setting.

    Parameters
    ----------
    model : BackPainModel
        Its setting is the population.
    rule : Rule, path, shipped rule name, mapping, or a list of these
        See :func:`load_rule`.
    draws : int or ParameterDraws, default 1000
        Parameter draws for the intervals (0: exact values only, interval columns NaN), or draws
        already made for this model's setting (:meth:`BackPainModel.parameter_draws`), to share
        them between analyses.
    seed : int or None, default 0
        Seed of the parameter draws (the same draws as :meth:`BackPainModel.uncertainty` with
        that seed), of the simulated studies and of the sampled cohort.
    cohort_size : int, optional
        Patients in the study the intervals simulate (sampling and parameter uncertainty);
        ``None``: parameter uncertainty alone.
    level : float, default 0.95
    cohort : int, optional
        Also forward-sample this many patients and count the metrics in them (``.cohort``).
    enumeration : {"cubes", "configurations"}
        Evidence rows of the exact computation (module docstring); the same numbers.

    Returns
    -------
    RuleEvaluation

    Raises
    ------
    RuleFileError, UnknownNameError
        A bad rule (the message names the file and the entry).
    BayesNetError
        Bad ``draws``, ``seed``, ``cohort_size``, ``level`` or ``cohort``.

    Examples
    --------
    >>> import bayesnet
    >>> model = bayesnet.load_model()
    >>> res = evaluate_rule(model, "deyo_diehl_1988", draws=100, cohort_size=1000)
    >>> row = res.table.loc[("Deyo & Diehl 1988 cancer red flags", "spinal_metastasis")]
    >>> round(float(row[("sensitivity", "value")]), 3), bool(row[("sensitivity", "low")] <= row[("sensitivity", "value")])
    (0.961, True)
    """
    given = None
    if isinstance(draws, ParameterDraws):
        given = draws
        if draws.space.setting != model.setting or list(draws.space.keys) != list(model.parameter_space.keys):
            raise BayesNetError(f"the parameter draws given are of setting {draws.space.setting!r}, not of the "
                                f"model's {model.setting!r}")
        draws = draws.n
    elif isinstance(draws, bool) or not isinstance(draws, int | np.integer) or draws < 0:
        raise BayesNetError(f"draws must be a non-negative integer or ParameterDraws; got {draws!r}")
    draws = int(draws) if draws == 0 else check_draws(draws)
    level = check_level(level)
    seed = _check_seed(seed)
    cohort_size = _check_positive(cohort_size, "cohort_size")
    cohort = _check_positive(cohort, "cohort")
    sources = list(rule) if isinstance(rule, list | tuple) else [rule]
    if not sources:
        raise BayesNetError("give at least one rule")
    rules = [load_rule(r, model) for r in sources]
    names = [r.name for r in rules]
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup is not None:
        raise BayesNetError(f"two rules are named {dup!r}; give each rule its own name")
    states = model.states
    serious = list(model.serious_conditions)
    conditions = [*serious, ANY_SERIOUS]
    pd_ = given if given is not None else (model.parameter_draws(draws, seed) if draws else None)
    rng = np.random.default_rng(None if seed is None else [seed, 16])
    records, cell_rows, all_draws, cubes_used = [], [], [], {}
    for r in rules:
        fire, quiet = rule_cubes(r, states, enumeration=enumeration)
        cubes_used[r.name] = min(len(fire), len(quiet))
        keep = [*r.variables, *serious]
        base = model.engine.restricted(keep)

        def repeated_point(g: int, base: Any = base) -> Any:
            return base

        point = _cells(r, fire, quiet, base, states, serious, 1, repeated_point)[0]  # (D, 4)
        if pd_ is not None:
            def repeated(g: int, keep: list = keep) -> Any:
                return pd_.network(model.engine, g).restricted(keep)

            cd = _cells(r, fire, quiet, repeated(1), states, serious, draws, repeated)  # (draws, D, 4)
            sim = _sample_counts(cd, cohort_size, rng) if cohort_size else cd
        else:
            sim = np.zeros((0, len(conditions), 4))
        all_draws.append(sim)
        pm = _metrics(point)
        dm = _metrics(sim) if sim.shape[0] else None
        for metric in METRICS:
            if dm is not None:
                lo, hi, defined = _interval(dm[metric], level, metric, dm["ppv"])
            else:
                lo = hi = np.full(len(conditions), np.nan)
                defined = np.full(len(conditions), np.nan)
            for k, c in enumerate(conditions):
                records.append({"rule": r.name, "condition": c, "metric": metric, "value": float(pm[metric][k]),
                                "low": float(lo[k]), "high": float(hi[k]), "defined": float(defined[k])})
        for k, c in enumerate(conditions):
            tp, fp, fn, tn = (float(x) for x in point[k])
            cell_rows.append({"rule": r.name, "condition": c, "true_positive": tp, "false_positive": fp,
                              "false_negative": fn, "true_negative": tn, "prevalence": tp + fn})
    metrics = pd.DataFrame(records, columns=["rule", "condition", "metric", "value", "low", "high", "defined"])
    cells = pd.DataFrame(cell_rows).set_index(["rule", "condition"])
    result = RuleEvaluation(rules=rules, conditions=conditions, metrics=metrics, cells=cells,
                            cell_draws=np.stack(all_draws), setting=model.setting, draws=draws, seed=seed, level=level,
                            cohort_size=cohort_size, cubes=cubes_used,
                            redrawn=dict(pd_.redrawn) if pd_ is not None else {})
    if cohort:
        result.cohort = _sampled(model, rules, serious, conditions, cohort, seed, level)
        result.cohort_n = cohort
    return result


def _sampled(model: BackPainModel, rules: list[Rule], serious: list[str], conditions: list[str], n: int, seed: Any,
             level: float) -> pd.DataFrame:
    """The metrics counted in ``n`` forward-sampled patients, with exact binomial intervals."""
    from bayesnet.reasoning.whatif import sample_cohort

    columns = list(dict.fromkeys([v for r in rules for v in r.variables] + serious))
    data = sample_cohort(model, n, seed=seed, columns=columns)
    truth = np.stack([data[c].astype(object).eq("yes").to_numpy() for c in serious], axis=1)
    truth = np.concatenate([truth, truth.any(axis=1, keepdims=True)], axis=1)  # (n, D)
    records = []
    for r in rules:
        flag = r.fires(data)[:, None]
        tp = (flag & truth).sum(axis=0)
        fp = (flag & ~truth).sum(axis=0)
        fn = (~flag & truth).sum(axis=0)
        tn = (~flag & ~truth).sum(axis=0)
        pairs = {"sensitivity": (tp, tp + fn), "specificity": (tn, tn + fp), "ppv": (tp, tp + fp),
                 "npv": (tn, tn + fn), "flagged": (tp + fp, np.full(tp.shape, n))}
        bounds = {}
        for metric, (k, d) in pairs.items():
            lo, hi = _clopper_pearson(k, d, level)
            with np.errstate(invalid="ignore", divide="ignore"):
                value = np.where(d > 0, k / np.where(d > 0, d, 1), np.nan)
            bounds[metric] = (value, lo, hi, k, d)
        v, lo, hi, k, d = bounds["ppv"]
        with np.errstate(divide="ignore", invalid="ignore"):
            bounds["flagged_per_case"] = (1.0 / v, 1.0 / hi, 1.0 / lo, d, k)
        for metric in METRICS:
            v, lo, hi, k, d = bounds[metric]
            for j, c in enumerate(conditions):
                records.append({"rule": r.name, "condition": c, "metric": metric, "value": float(v[j]),
                                "low": float(lo[j]), "high": float(hi[j]), "numerator": int(k[j]),
                                "denominator": int(d[j])})
    out = pd.DataFrame(records)
    out.attrs.update({"n": n, "seed": seed, "level": level, "setting": model.setting})
    return out
