"""The public entry point: :func:`load_model` and :class:`BackPainModel`."""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bayesnet.building.network import Tables, build_network, build_tables, chain_families, chain_orders, engine_network
from bayesnet.data.priors import PriorSet, default_priors_dir, is_setting_path, load_priors
from bayesnet.errors import UnknownNameError
from bayesnet.inference.evidence import Evidence, normalise_evidence
from bayesnet.inference.reference import ReferenceInference

__all__ = ["BackPainModel", "load_model", "sources_table"]

_SOURCE_COLUMNS = ["node", "parameter", "kind", "value", "low", "high", "counts", "source", "setting", "grade", "note",
                   "file"]


def sources_table(priors: PriorSet) -> pd.DataFrame:
    """One row per sourced number of ``priors``, each once (see :meth:`BackPainModel.sources`)."""
    used: dict[tuple[str, str], list[str]] = {}
    for s in priors.settings:
        for p in priors.params_for(s):
            used.setdefault((p.node, p.origin or p.parameter), []).append(s)
    rows = [{**{c: getattr(p, c) for c in _SOURCE_COLUMNS}, "settings": " ".join(used.get((p.node, p.parameter), []))}
            for p in priors.params]
    return pd.DataFrame(rows, columns=[*_SOURCE_COLUMNS, "settings"])


@lru_cache(maxsize=8)
def _cached_priors(directory: str, extra: tuple[str, ...] = (), stamp: tuple = ()) -> PriorSet:
    return load_priors(directory, extra_settings=extra)


def load_model(setting: str | os.PathLike = "primary_care",
               priors: str | os.PathLike | PriorSet | None = None) -> BackPainModel:
    """Build the back-pain network for one clinical setting.

    Parameters
    ----------
    setting : str or path-like, default "primary_care"
        A shipped setting (``primary_care``, ``emergency``, ``emergency_suspected_pe``,
        ``suspected_cauda_equina``) or the path of a setting file of your own (a ``.yaml`` file
        in the format of ``priors/settings/``; its name is the file name). The setting fixes
        the pre-test probabilities, and the test accuracies measured in it.
    priors : path-like or PriorSet, optional
        A priors directory (default: the one shipped with the package) or already loaded priors.

    Returns
    -------
    BackPainModel

    Examples
    --------
    >>> import bayesnet
    >>> model = bayesnet.load_model()
    >>> dx = model.diagnose({"history_of_cancer": "yes", "age_group": "70_plus"})
    >>> dx.ranking.index[0]
    'mechanical_pain'
    """
    extra = (str(Path(setting).resolve()),) if is_setting_path(setting) else ()
    if isinstance(priors, PriorSet):
        ps = load_priors(priors.directory, extra_settings=extra) if extra else priors
    else:
        directory = Path(priors) if priors is not None else default_priors_dir()
        stamp = tuple((os.stat(e).st_mtime_ns, os.stat(e).st_size) for e in extra if os.path.isfile(e))
        ps = _cached_priors(str(directory.resolve()), extra, stamp)
    return BackPainModel(ps, Path(setting).stem if extra else str(setting))


def _ratio(log_joint: np.ndarray, log_evidence: np.ndarray) -> np.ndarray:
    """``P(e, every condition no) / P(e)`` from the two log-evidences (rows with ``log P(e) = -inf`` are the
    caller's to mark)."""
    with np.errstate(invalid="ignore", over="ignore"):
        return np.exp(log_joint - log_evidence)


class BackPainModel:
    """The back-pain Bayesian network in one setting, with diagnosis helpers.

    Parameters
    ----------
    priors : PriorSet
        Validated priors.
    setting : str
        One of ``priors.settings``.

    Attributes
    ----------
    network : pgmpy.models.DiscreteBayesianNetwork
        The network; every table was computed from ``priors``.
    setting : str
    priors : PriorSet
    tables : Tables
        The same tables as plain numpy arrays.
    """

    def __init__(self, priors: PriorSet, setting: str = "primary_care"):
        if setting not in priors.settings:
            raise UnknownNameError("setting", setting, priors.settings)
        self.priors = priors
        self.setting = setting
        self.tables: Tables = build_tables(priors, setting)
        self.network = build_network(self.tables)
        self._reference_inference: ReferenceInference | None = None
        self._engine = None
        self._engine_network = None
        self._absence: tuple | None | bool = False  # built on first use (see _absence_engines)
        self._prior_cache: dict[str, float] | None = None
        self._prior_array: np.ndarray | None = None
        self._condition_cache: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._conditions: tuple[str, ...] | None = None

    # ------------------------------------------------------------------ description
    @property
    def conditions(self) -> list[str]:
        """Condition ids: mechanical pain (no modelled condition) first, then the other non-serious
        conditions, then the serious ones."""
        if self._conditions is None:
            conds = [v for v, k in self.tables.kinds.items() if k == "condition"]
            spec = self.priors.conditions
            defined = [c for c in conds if spec[c].definition != "calibrated"]
            non_serious = [c for c in conds if not spec[c].serious and c not in defined]
            self._conditions = (*defined, *non_serious, *(c for c in conds if spec[c].serious))
        return list(self._conditions)

    @property
    def serious_conditions(self) -> list[str]:
        """Conditions flagged as serious in the priors."""
        return [c for c in self.conditions if self.priors.conditions[c].serious]

    @property
    def states(self) -> dict[str, tuple[str, ...]]:
        """Variable -> its states, in table order."""
        return dict(self.tables.states)

    def variables(self) -> pd.DataFrame:
        """Every variable with its kind, states, parents and description.

        Returns
        -------
        DataFrame
            Columns ``name, kind, states, parents, description``, one row per variable, in layer
            order (risk factors, conditions, findings, tests).
        """
        order = {"risk_factor": 0, "condition": 1, "finding": 2, "test": 3}
        rows = [
            {
                "name": v,
                "kind": self.tables.kinds[v],
                "states": list(self.tables.states[v]),
                "parents": list(self.tables.parents[v]),
                "description": self.tables.descriptions[v],
            }
            for v in self.tables.states
        ]
        df = pd.DataFrame(rows)
        df["_order"] = df["kind"].map(order)
        return df.sort_values("_order", kind="stable").drop(columns="_order").reset_index(drop=True)

    def sources(self) -> pd.DataFrame:
        """Every number the network rests on, with its source.

        Returns
        -------
        DataFrame
            One row per number: ``node, parameter, kind, value, low, high, counts, source, setting,
            grade, note, file, settings``. ``setting`` is the population the number was measured
            in; ``settings`` the models that use it (a setting file with ``based_on`` takes the
            numbers it does not restate from another setting: they are listed once, under it).
        """
        return sources_table(self.priors)

    # ------------------------------------------------------------------ inference
    def check_evidence(self, evidence: Mapping | None) -> Evidence:
        """Validate evidence (see :func:`bayesnet.inference.evidence.normalise_evidence`)."""
        return normalise_evidence(evidence, self.tables.states)

    @property
    def _reference(self) -> ReferenceInference:
        """pgmpy variable elimination on this network (built on first use)."""
        if self._reference_inference is None:
            self._reference_inference = ReferenceInference(self.network)
        return self._reference_inference

    @property
    def engine_network(self):
        """The pgmpy network the compiled engine runs: ``network`` with each absence node
        (``mechanical_pain``) as a chain of two-parent nodes, in the order (of
        :func:`~bayesnet.building.network.chain_orders`) whose junction tree is smallest. The same
        distribution over the model's variables, with small cliques."""
        if self._engine_network is None:
            from bayesnet.inference.junction_tree import build_junction_tree

            def cliques(families: dict[str, list[str]]) -> list[list[str]]:
                names = list(families)
                index = {v: i for i, v in enumerate(names)}
                cards = [len(self.tables.states.get(v, ("yes", "no"))) for v in names]  # chain nodes are yes/no
                jt = build_junction_tree({index[v]: [index[p] for p in ps] for v, ps in families.items()}, cards, "best")
                return [[names[u] for u in c] for c in jt.cliques]

            def table_size(families: dict[str, list[str]]) -> int:
                return sum(math.prod(len(self.tables.states.get(v, ("yes", "no"))) for v in c) for c in cliques(families))

            absent = [c for c, spec in self.priors.conditions.items() if spec.definition != "calibrated"]
            base = {v: list(ps) for v, ps in self.tables.parents.items() if v not in absent}
            without = cliques(base)
            orders = {a: min(chain_orders(self.tables.parents[a], without),
                             key=lambda order, a=a: table_size({**base, **chain_families(a, order)}))
                      for a in absent}
            self._engine_network = engine_network(self.tables, absent, orders)
        return self._engine_network

    @property
    def engine(self):
        """The compiled exact engine for this network (built on first use).

        The absence node ``mechanical_pain`` runs as a chain of internal two-parent nodes
        (:func:`~bayesnet.building.network.engine_network`), so its variables include them.
        """
        if self._engine is None:
            from bayesnet.inference.engine import compile_network

            self._engine = compile_network(self.engine_network)
        return self._engine

    def _absence_engines(self) -> tuple | None:
        """The batch path's two compiled networks, or None where it does not apply (built on first use).

        ``mechanical_pain`` is "yes" exactly when every other condition is "no", so
        ``P(mechanical_pain = yes | e) = P(e, every condition no) / P(e)``. The first network is
        this one without ``mechanical_pain``: every other condition's posterior and ``log P(e)``.
        The second holds every condition at "no" (:func:`~bayesnet.building.network.clamped`): its
        log-evidence is ``log P(e, every condition no)``. Their junction trees hold 3,900 table
        entries together against the 7,500 of :attr:`engine`, whose chain carries the absence node
        through every clique of conditions; the answers are the same (to rounding: tested against
        :attr:`engine` and pgmpy in ``tests/test_model_batch.py``).

        Returns
        -------
        tuple or None
            ``(free network, clamped network, its indicators as {name: (states, "yes")}, absence
            nodes, other conditions)``.
        """
        if self._absence is False:
            from bayesnet.building.network import clamp_name, clamped, without
            from bayesnet.inference.engine import compile_network

            absent = [c for c in self.conditions if self.priors.conditions[c].definition != "calibrated"]
            others = [c for c in self.conditions if c not in absent]
            yes_no = all(tuple(self.tables.states[c]) == ("yes", "no") for c in self.conditions)
            childless = not any(set(absent) & set(ps) for ps in self.tables.parents.values())
            if not absent or not yes_no or not childless or len(absent) != 1:
                self._absence = None
            else:
                free_tables = without(self.tables, absent)
                free = compile_network(build_network(free_tables))
                held = compile_network(build_network(clamped(free_tables, dict.fromkeys(others, "no"))))
                indicators = {clamp_name(c, "no"): (("yes", "no"), "yes") for c in others}
                self._absence = (free, held, indicators, absent, others)
        return self._absence or None

    def _two_pass(self, hard: pd.DataFrame, chunk_size: int | None, errors: str) -> pd.DataFrame | None:
        """:meth:`posteriors` of hard-evidence rows through :meth:`_absence_engines` (None where it does not apply).

        It applies when no row observes a condition. A row the first network cannot answer (a bad
        state, impossible evidence) sends the whole call back to :attr:`engine` with ``errors="raise"``
        (which raises the engine's own error); with ``errors="report"`` such rows get NaN and the same
        message as from :attr:`engine`.
        """
        parts = self._absence_engines()
        if parts is None:
            return None
        free, held, indicators, absent, others = parts
        cond_cols = [c for c in hard.columns if c in self.priors.conditions]
        if cond_cols and hard[cond_cols].notna().to_numpy().any():
            return None
        rows = free.encode(hard.drop(columns=cond_cols) if cond_cols else hard)
        first = free.evaluate(rows, targets=others, chunk_size=chunk_size)
        failed = first.errors.to_numpy() != ""
        if failed.any() and errors == "raise":
            return None
        second = held.evaluate(rows.with_observed(indicators), targets=[], chunk_size=chunk_size)
        p_none = _ratio(second.log_evidence.to_numpy(), first.log_evidence.to_numpy())
        p_none[failed] = np.nan
        out = pd.DataFrame({absent[0]: p_none, **{c: first.posteriors[(c, "yes")].to_numpy() for c in others}},
                           index=hard.index)[self.conditions]
        if errors == "report":
            out["error"] = first.errors.to_numpy()
        return out

    def _propagate_conditions(self, lik: Mapping[str, np.ndarray], n: int) -> tuple[np.ndarray, np.ndarray]:
        """``engine.propagate(lik, n, targets=conditions)`` through :meth:`_absence_engines` where it applies.

        The same numbers as :attr:`engine` (tested to 1e-12 in ``tests/test_next_tests.py``): every
        condition's (yes, no) in :attr:`conditions` order and ``log P(row)``, from the network without
        ``mechanical_pain`` and, for it, the one with every condition held at "no". Likelihoods on a
        condition go to :attr:`engine`.
        """
        conds = self.conditions
        parts = self._absence_engines()
        if parts is None or any(v in self.priors.conditions for v in lik):
            return self.engine.propagate(lik, n_rows=n, targets=conds)
        free, held, indicators, absent, others = parts
        p_other, log_ev = free.propagate(lik, n_rows=n, targets=others)
        held_lik = dict(lik)
        for name, (states, state) in indicators.items():
            held_lik[name] = (np.asarray(states) == state).astype(float)
        _, log_none = held.propagate(held_lik, n_rows=n, targets=[])
        p_none = _ratio(log_none, log_ev)
        p_none[~np.isfinite(log_ev)] = np.nan
        columns = {c: p_other[:, 2 * j : 2 * j + 2] for j, c in enumerate(others)}
        columns[absent[0]] = np.stack([p_none, 1.0 - p_none], axis=1)
        return np.concatenate([columns[c] for c in conds], axis=1), log_ev

    def marginals(
        self,
        evidence: Mapping | Evidence | None = None,
        targets: list[str] | None = None,
        *,
        method: str = "engine",
    ) -> dict[str, np.ndarray]:
        """Posterior distribution of each target variable (default: the conditions).

        Parameters
        ----------
        evidence : mapping or Evidence, optional
        targets : list of str, optional
        method : {"engine", "pgmpy"}, default "engine"
            ``engine`` uses the compiled junction tree (:mod:`bayesnet.inference.engine`); ``pgmpy`` runs
            pgmpy's variable elimination. Both are exact and agree to 1e-9 (tested).
        """
        ev = evidence if isinstance(evidence, Evidence) else self.check_evidence(evidence)
        targets = self.conditions if targets is None else list(targets)
        for t in targets:
            if t not in self.tables.states:
                raise UnknownNameError("variable", t, self.tables.states)
        if method == "pgmpy":
            return self._reference.marginals(ev, targets)
        if method != "engine":
            raise UnknownNameError("method", method, ["engine", "pgmpy"])
        if ev.soft:
            lik = {v: w.reshape(1, -1) for v, w in ev.likelihoods().items()}
            post = self.engine.posteriors_from_likelihoods(lik, n_rows=1, targets=targets)
            return {t: np.asarray(post[t], dtype=float).reshape(-1) for t in targets}
        post = self.engine.posteriors_dict(ev.hard, targets=targets)
        return {t: np.asarray(post[t], dtype=float).reshape(-1) for t in targets}

    def posteriors(
        self, scenarios: pd.DataFrame, *, errors: str = "raise", chunk_size: int | None = None
    ) -> pd.DataFrame:
        """P(condition = yes) for every row of a table of scenarios.

        Parameters
        ----------
        scenarios : DataFrame
            One row per scenario; columns are variable ids, values are state names;
            NaN/None means not observed. Rows may observe different variables. A cell may
            also hold soft evidence: a dict ``{state: likelihood}`` or the same as a JSON
            string (``'{"yes": 0.8, "no": 0.2}'``, as read from a CSV file).
        errors : {"raise", "report"}, default "raise"
            ``raise``: a bad state or an impossible row raises, naming the row.
            ``report``: such rows get NaN posteriors and a message in an ``error`` column;
            every other row is still computed.
        chunk_size : int, optional
            Rows per vectorised chunk (memory stays bounded whatever the batch size).

        Returns
        -------
        DataFrame
            Same index as ``scenarios``; one column per condition.

        Examples
        --------
        >>> import pandas as pd, bayesnet
        >>> df = pd.DataFrame({"fever": ["yes", None], "iv_drug_use": ["yes", "no"]})
        >>> post = bayesnet.load_model().posteriors(df)
        >>> post.shape
        (2, 15)
        """
        if not isinstance(scenarios, pd.DataFrame):
            from bayesnet.errors import EvidenceError

            raise EvidenceError(f"scenarios must be a pandas DataFrame; got {type(scenarios).__name__}")
        if errors not in ("raise", "report"):
            raise UnknownNameError("errors option", errors, ["raise", "report"])
        from bayesnet.inference.evidence import split_soft

        conds = self.conditions
        hard, soft, soft_errors = split_soft(scenarios, self.tables.states)
        if errors == "raise":
            if soft_errors:
                from bayesnet.errors import EvidenceError

                raise EvidenceError(soft_errors[min(soft_errors)])
            fast = None if soft else self._two_pass(hard, chunk_size, "raise")
            if fast is not None:
                return fast.set_axis(scenarios.index)
            post = self.engine.posteriors(hard, targets=conds, chunk_size=chunk_size, likelihoods=soft or None)
            return pd.DataFrame({c: post[(c, "yes")].to_numpy() for c in conds}, index=scenarios.index)
        out = None if soft else self._two_pass(hard, chunk_size, "report")
        if out is not None:
            out = out.set_axis(scenarios.index)
        else:
            res = self.engine.evaluate(hard, targets=conds, chunk_size=chunk_size, likelihoods=soft or None)
            out = pd.DataFrame({c: res.posteriors[(c, "yes")].to_numpy() for c in conds}, index=scenarios.index)
            out["error"] = res.errors.to_numpy()
        if soft_errors:
            rows = sorted(soft_errors)
            out.iloc[rows, : len(conds)] = np.nan
            err = out["error"].to_numpy(dtype=object).copy()
            for r in rows:
                err[r] = "; ".join(m for m in (soft_errors[r], err[r]) if m and m != "evidence has probability zero")
            out["error"] = err
        return out

    def prior_probabilities(self) -> dict[str, float]:
        """P(condition = yes) with no evidence, in this setting."""
        if self._prior_cache is None:
            m = self.marginals(None)
            self._prior_cache = {c: float(m[c][0]) for c in self.conditions}
        return dict(self._prior_cache)

    def _prior_vector(self) -> np.ndarray:
        """Prior P(yes) of each condition, in ``conditions`` order (cached; do not modify)."""
        if self._prior_array is None:
            prior = self.prior_probabilities()
            self._prior_array = np.array([prior[c] for c in self.conditions])
        return self._prior_array

    def _condition_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(names, prior, serious)`` of the conditions as arrays, in ``conditions`` order (cached; do not modify)."""
        if self._condition_cache is None:
            serious = np.array([self.priors.conditions[c].serious for c in self.conditions], dtype=bool)
            self._condition_cache = (np.asarray(self.conditions, dtype=object), self._prior_vector(), serious)
        return self._condition_cache

    def diagnose(self, evidence: Mapping | None = None):
        """Rank the conditions given what is known about a patient.

        Parameters
        ----------
        evidence : mapping, optional
            ``{variable: state}``; a value may also be a dict of likelihoods for a finding
            reported with uncertainty, e.g. ``{"fever": {"yes": 0.8, "no": 0.2}}``.

        Returns
        -------
        Diagnosis
            With ``.ranking`` (prior, posterior, likelihood ratio per condition, sorted) and
            ``.explain(condition)``.

        Raises
        ------
        UnknownNameError, EvidenceError, ImpossibleEvidenceError

        Examples
        --------
        >>> import bayesnet
        >>> dx = bayesnet.load_model().diagnose({"saddle_anaesthesia": "yes", "urinary_retention": "yes"})
        >>> dx.leading_serious
        'cauda_equina_syndrome'
        """
        from bayesnet.reasoning.diagnosis import Diagnosis

        ev = self.check_evidence(evidence)
        post = self.marginals(ev)
        return Diagnosis(self, ev, np.array([post[c][0] for c in self.conditions], dtype=float))

    def next_tests(
        self,
        evidence: Mapping | None = None,
        *,
        condition: str | None = None,
        threshold: float | None = None,
        candidates: Iterable[str] | None = None,
        include_risk_factors: bool = False,
        sort_by: str | None = None,
    ) -> pd.DataFrame:
        """Rank unobserved findings and tests by expected value of information.

        See :func:`bayesnet.reasoning.next_tests.next_tests` for the options (``condition``,
        ``threshold``, ``candidates``, ``include_risk_factors``, ``sort_by``).

        Examples
        --------
        >>> import bayesnet
        >>> nt = bayesnet.load_model().next_tests({"iv_drug_use": "yes", "fever": "yes"})
        >>> nt.index[0]
        'mri_discitis'
        """
        from bayesnet.reasoning.next_tests import next_tests

        return next_tests(self, evidence, condition=condition, threshold=threshold, candidates=candidates,
                          include_risk_factors=include_risk_factors, sort_by=sort_by)

    # ------------------------------------------------------------------ parameter uncertainty
    @property
    def parameter_space(self):
        """The sourced numbers this setting's tables use, as a :class:`~bayesnet.building.parametric.ParameterSpace` (cached).

        Examples
        --------
        >>> import bayesnet
        >>> m = bayesnet.load_model()
        >>> m.parameter_space is m.parameter_space, m.parameter_space.setting
        (True, 'primary_care')
        """
        space = self.__dict__.get("_parameter_space")
        if space is None:
            from bayesnet.building.parametric import parameter_space

            space = self.__dict__["_parameter_space"] = parameter_space(self)
        return space

    def parameter_draws(self, draws: int = 1000, seed=0):
        """Consistent parameter sets and their tables (:func:`bayesnet.reasoning.uncertainty.draw_parameters`).

        The draws of the last two ``(draws, seed)`` pairs are kept, together with their
        engine networks, so that :meth:`uncertainty`, :meth:`uncertainty_batch` and
        :func:`~bayesnet.reasoning.validation.validate` with the same seed share them;
        ``seed=None`` draws fresh randomness every call (nothing kept).

        Examples
        --------
        >>> import bayesnet
        >>> m = bayesnet.load_model()
        >>> d = m.parameter_draws(50, seed=3)
        >>> d.n, d is m.parameter_draws(50, seed=3)
        (50, True)
        """
        from bayesnet.reasoning.uncertainty import draw_parameters

        if seed is None:
            return draw_parameters(self.parameter_space, draws, seed)
        cache = self.__dict__.setdefault("_parameter_draws", {})
        key = (draws, seed)
        out = cache.get(key)
        if out is None:
            out = draw_parameters(self.parameter_space, draws, seed)
            if len(cache) >= 2:
                cache.pop(next(iter(cache)))
            cache[key] = out
        return out

    def uncertainty(
        self,
        evidence: Mapping | None = None,
        *,
        draws: int = 1000,
        seed: int | None = 0,
        level: float = 0.95,
        progress: bool | None = None,
    ) -> pd.DataFrame:
        """Each posterior with a 95% interval from the uncertainty of the published numbers.

        Parameter sets are drawn from distributions fitted to each number's interval (grade-C
        numbers are wide) and the tables are rebuilt vectorised over draws; see
        :func:`bayesnet.reasoning.uncertainty.uncertainty` (``level``, ``progress``).

        Returns
        -------
        DataFrame
            Indexed by condition: ``posterior`` (point estimate), ``low``, ``high`` (interval),
            ``median``, ``mean``, ``sd`` and ``excluded_draws`` (draws under which the evidence
            is impossible, left out of the statistics with an
            :class:`~bayesnet.reasoning.uncertainty.ExcludedDrawsWarning`; 0 in practice).

        Examples
        --------
        >>> import bayesnet
        >>> u = bayesnet.load_model().uncertainty({"history_of_cancer": "yes"}, draws=200, seed=1)
        >>> bool((u["low"] <= u["posterior"]).all() and (u["posterior"] <= u["high"]).all())
        True
        """
        from bayesnet.reasoning.uncertainty import uncertainty

        return uncertainty(self, evidence, draws=draws, seed=seed, level=level, progress=progress)

    def posterior_draws(
        self, evidence: Mapping | None = None, *, draws: int = 1000, seed: int | None = 0
    ) -> pd.DataFrame:
        """Each condition's posterior under every parameter draw (index ``draw``, one column per condition).

        The draws behind :meth:`uncertainty` (same seed, same draws), for ArviZ, xarray or
        seaborn; see :func:`bayesnet.reasoning.uncertainty.posterior_draws`.

        Examples
        --------
        >>> import bayesnet
        >>> bayesnet.load_model().posterior_draws({"fever": "yes"}, draws=50).shape
        (50, 15)
        """
        from bayesnet.reasoning.uncertainty import posterior_draws

        return posterior_draws(self, evidence, draws=draws, seed=seed)

    def uncertainty_batch(
        self,
        scenarios: pd.DataFrame | Sequence[Mapping],
        *,
        draws: int = 1000,
        seed: int | None = 0,
        level: float = 0.95,
        progress: bool | None = None,
        long: bool = False,
        chunk_size: int = 256,
    ) -> pd.DataFrame:
        """:meth:`uncertainty` for every row of a table of scenarios (see :func:`bayesnet.reasoning.uncertainty.uncertainty_batch`)."""
        from bayesnet.reasoning.uncertainty import uncertainty_batch

        return uncertainty_batch(self, scenarios, draws=draws, seed=seed, level=level, progress=progress, long=long,
                                 chunk_size=chunk_size)

    def sensitivity(self, evidence: Mapping | None, condition: str, *, parameters: Any = None) -> pd.DataFrame:
        """One-way sensitivity of a posterior to every parameter across its published interval.

        Tornado data, sorted by swing; see :func:`bayesnet.reasoning.sensitivity.sensitivity`.

        Examples
        --------
        >>> import bayesnet
        >>> tor = bayesnet.load_model().sensitivity({"d_dimer": "negative", "dyspnoea": "yes"}, "pulmonary_embolism")
        >>> tor.iloc[0]["node"]
        'pulmonary_embolism'
        """
        from bayesnet.reasoning.sensitivity import sensitivity

        return sensitivity(self, evidence, condition, parameters=parameters)

    def most_probable(self, evidence: Mapping | None = None, k: int = 5) -> pd.DataFrame:
        """The ``k`` most probable joint configurations of the conditions (see :func:`bayesnet.reasoning.joint.most_probable`).

        Examples
        --------
        >>> import bayesnet
        >>> mp = bayesnet.load_model().most_probable({"history_of_cancer": "yes", "age_group": "70_plus"}, k=3)
        >>> mp.iloc[0]["present"]
        'none (mechanical pain)'
        """
        from bayesnet.reasoning.joint import most_probable

        return most_probable(self, evidence, k)

    def what_if(
        self,
        variables: Sequence[str] | Mapping[str, Sequence[str | None]],
        *,
        evidence: Mapping | None = None,
        settings: str | Sequence[str] | None = None,
        conditions: str | Sequence[str] | None = None,
        tidy: bool = True,
    ) -> pd.DataFrame:
        """Posteriors over a grid of scenarios (every combination of ``variables``' states), tidy.

        See :func:`bayesnet.reasoning.whatif.what_if` (``evidence``, ``settings``, ``conditions``, ``tidy``).

        Examples
        --------
        >>> import bayesnet
        >>> df = bayesnet.load_model().what_if(["fever", "iv_drug_use"], settings=["primary_care", "emergency"])
        >>> len(df)  # 2 settings x 4 scenarios x 15 conditions
        120
        """
        from bayesnet.reasoning.whatif import what_if

        return what_if(self, variables, evidence=evidence, settings=settings, conditions=conditions, tidy=tidy)

    def sweep(
        self,
        variable: str,
        *,
        states: Sequence[str | None] | None = None,
        evidence: Mapping | None = None,
        settings: str | Sequence[str] | None = None,
        conditions: str | Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Posteriors as one variable takes each of its states (see :func:`bayesnet.reasoning.whatif.sweep`)."""
        from bayesnet.reasoning.whatif import sweep

        return sweep(self, variable, states=states, evidence=evidence, settings=settings, conditions=conditions)

    def scenario_grid(
        self,
        variables: Sequence[str] | Mapping[str, Sequence[str | None]],
        *,
        evidence: Mapping | None = None,
    ) -> pd.DataFrame:
        """A table of scenarios, one per combination of states (see :func:`bayesnet.reasoning.whatif.scenario_grid`)."""
        from bayesnet.reasoning.whatif import scenario_grid

        return scenario_grid(self, variables, evidence=evidence)

    def recalibrate(
        self,
        counts,
        *,
        parameters: Sequence[Any] | None = None,
        label: str | None = None,
        grade: str | None = None,
        missing: str = "error",
        ignore_columns: Sequence[str] = (),
        exclude: Sequence[Any] = (),
    ):
        """Update this setting's numbers with your own counts, the published values as the prior.

        ``counts`` is a table of counts (columns ``node, parameter, events, total``; ``events_ref,
        total_ref`` for a ratio; optional ``kind``) or patient-level rows (columns named after
        variables), as a DataFrame or the path of a CSV file. Returns a
        :class:`~bayesnet.reasoning.recalibration.Recalibration`: ``.model`` (this setting with the
        moved numbers restated), ``.report`` (prior, data, posterior and how far each number moved),
        ``.save(path)`` (a setting file, ``based_on`` this setting, loadable with ``load_model(path)``).
        See :func:`bayesnet.reasoning.recalibration.recalibrate` for the update rule and the options.

        Examples
        --------
        >>> import bayesnet, pandas as pd
        >>> model = bayesnet.load_model("emergency_suspected_pe")
        >>> counts = pd.DataFrame({"node": ["pulmonary_embolism"], "parameter": ["prevalence"],
        ...                        "events": [30], "total": [400]})
        >>> res = model.recalibrate(counts, label="our audit")
        >>> float(res.report.iloc[0]["posterior_value"]), res.model.setting
        (0.051284, 'emergency_suspected_pe')
        """
        from bayesnet.reasoning.recalibration import recalibrate

        return recalibrate(self, counts, parameters=parameters, label=label, grade=grade, missing=missing,
                           ignore_columns=ignore_columns, exclude=exclude)

    def evaluate_rule(
        self,
        rule: Any,
        *,
        draws: int = 1000,
        seed: int | None = 0,
        cohort_size: int | None = None,
        level: float = 0.95,
        cohort: int | None = None,
        enumeration: str = "cubes",
    ):
        """How a red-flag rule (or several, side by side) performs in this setting.

        Per serious condition and for any serious condition: sensitivity, specificity, PPV, NPV,
        the share flagged and the number flagged per serious case found, exact under the published
        values, with intervals over ``draws`` parameter draws (and a simulated study of
        ``cohort_size`` patients); ``cohort=N`` adds the metrics counted in N forward-sampled
        patients. ``rule``: a rule file (YAML/JSON), a shipped rule's name (``deyo_diehl_1988``,
        ``acp_aps_2007``, ``downie_2013``, ``perc_kline_2004``), a mapping, a ``Rule``, or a list of
        these. See :func:`bayesnet.reasoning.rules.evaluate_rule`.

        Returns
        -------
        RuleEvaluation
            ``.metrics`` (long), ``.table`` (wide), ``.compare(condition)``, ``.cells``,
            ``.decision_curve(condition)``, ``.cohort``.

        Examples
        --------
        >>> import bayesnet
        >>> res = bayesnet.load_model().evaluate_rule("deyo_diehl_1988", draws=0)
        >>> round(float(res.compare().loc["Deyo & Diehl 1988 cancer red flags", ("sensitivity", "value")]), 3)
        0.761
        """
        from bayesnet.reasoning.rules import evaluate_rule

        return evaluate_rule(self, rule, draws=draws, seed=seed, cohort_size=cohort_size, level=level,
                             cohort=cohort, enumeration=enumeration)

    def sample_cohort(
        self,
        n: int,
        *,
        seed: int | np.random.Generator | None = None,
        evidence: Mapping | None = None,
        columns: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """A synthetic cohort drawn from the network (see :func:`bayesnet.reasoning.whatif.sample_cohort`)."""
        from bayesnet.reasoning.whatif import sample_cohort

        return sample_cohort(self, n, seed=seed, evidence=evidence, columns=columns)

    def with_setting(self, setting: str) -> BackPainModel:
        """The model of another setting built from the same priors (cached on this model).

        Examples
        --------
        >>> import bayesnet
        >>> bayesnet.load_model().with_setting("emergency").setting
        'emergency'
        """
        if setting == self.setting:
            return self
        if setting not in self.priors.settings:
            raise UnknownNameError("setting", setting, self.priors.settings)
        cache = self.__dict__.setdefault("_siblings", {})
        if setting not in cache:
            cache[setting] = type(self)(self.priors, setting)
        return cache[setting]

    def validate(
        self,
        *,
        path: str | os.PathLike | None = None,
        draws: int = 500,
        seed: int = 0,
        level: float = 0.95,
    ) -> pd.DataFrame:
        """Run the validation scenarios (published post-test probabilities) through the model.

        Each scenario runs in its own setting (:meth:`with_setting`). See
        :func:`bayesnet.reasoning.validation.validate` for the columns.

        Parameters
        ----------
        path : path-like, optional
            A validation file (default: the priors' own ``validation/scenarios.yaml``, else the
            shipped one).
        draws : int, default 500
            Parameter draws for the model's interval (0: no intervals).
        seed : int, default 0
        level : float, default 0.95

        Examples
        --------
        >>> import bayesnet
        >>> res = bayesnet.load_model().validate(draws=0)
        >>> int(res["inside"].sum()) <= len(res)
        True
        """
        from bayesnet.reasoning.validation import validate

        return validate(self, path=path, draws=draws, seed=seed, level=level)

    def __repr__(self) -> str:
        n = len(self.tables.states)
        return f"<BackPainModel setting={self.setting!r}: {n} variables, {len(self.conditions)} conditions>"
