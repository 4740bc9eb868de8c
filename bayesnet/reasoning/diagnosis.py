"""The result of a diagnosis: ranked differential and per-finding explanations."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from bayesnet.data.labels import inline, setting_place, state_label, variable_label
from bayesnet.errors import UnknownNameError
from bayesnet.formatting import format_probability, render
from bayesnet.inference.evidence import Evidence
from bayesnet.reasoning.results import Explanation, Ranking, as_result

if TYPE_CHECKING:  # pragma: no cover
    from bayesnet.model import BackPainModel

__all__ = ["Diagnosis", "log_odds"]

def log_odds(p: float) -> float:
    """Natural log-odds, exact: certainty is infinite (``+inf`` at 1, ``-inf`` at 0), never clipped.

    >>> round(log_odds(0.5), 6)
    0.0
    >>> log_odds(1.0), log_odds(0.0)
    (inf, -inf)
    """
    p = float(p)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"log_odds needs a probability in [0, 1]; got {p!r}")
    if p == 0.0:
        return -math.inf
    if p == 1.0:
        return math.inf
    return math.log(p) - math.log1p(-p)


def _weight(post_log_odds: float, without_log_odds: float) -> float:
    """Change in log-odds a finding made; NaN when the condition is equally certain with and without it."""
    if math.isinf(post_log_odds) and post_log_odds == without_log_odds:
        return math.nan  # inf - inf: the odds were infinite (or zero) either way, the finding moved nothing
    return post_log_odds - without_log_odds


def _exp(x: float) -> float:
    if math.isnan(x):
        return math.nan
    return math.inf if x > 709.0 else math.exp(x)


class Diagnosis:
    """Posterior probabilities of every condition for one patient.

    Attributes
    ----------
    setting : str
    evidence : Evidence
        The validated evidence.
    ranking : Ranking (a DataFrame)
        Indexed by condition; columns ``prior``, ``posterior``, ``likelihood_ratio`` (posterior
        odds / prior odds) and ``serious``; sorted by posterior, descending. ``attrs`` holds the
        setting and the evidence; in Jupyter it displays as the diagnosis does.
    """

    def __init__(self, model: BackPainModel, evidence: Evidence, posteriors: Mapping[str, float] | np.ndarray):
        self.model = model
        self.setting = model.setting
        self.evidence = evidence
        names, prior, serious = model._condition_arrays()
        if isinstance(posteriors, np.ndarray):  # P(yes) in the model's condition order
            post = np.asarray(posteriors, dtype=float).reshape(-1)
        else:
            post = np.array([posteriors[c] for c in model.conditions], dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            lr = (post / (1.0 - post)) / (prior / (1.0 - prior))
        lr = np.where(post >= 1.0, np.inf, np.where(post <= 0.0, 0.0, lr))
        # ties (equal priors, to rounding) keep the model's condition order, whatever the last bits
        order = np.argsort(-np.round(post, 13), kind="stable")
        self.ranking = Ranking(
            {"prior": prior[order], "posterior": post[order], "likelihood_ratio": lr[order], "serious": serious[order]},
            index=pd.Index(names[order], dtype=object, name="condition"),
        )
        self.ranking.attrs.update(setting=self.setting, evidence=dict(evidence.hard),
                                  soft_evidence=dict(evidence.soft_dicts))

    @property
    def leading_serious(self) -> str:
        """The most probable serious condition."""
        r = self.ranking
        return str(r.index[r["serious"]][0])

    def explain(self, condition: str) -> pd.DataFrame:
        """How much each piece of evidence moved one condition.

        For each observed variable, the posterior is recomputed without it; its contribution is
        the change in log-odds this removal undoes (the weight of evidence), and
        ``likelihood_ratio`` is ``exp(contribution)``: the factor by which that finding
        multiplied the odds, given the rest of the evidence. When findings are conditionally
        independent given the condition the contributions add up to the total change in
        log-odds; otherwise they describe each finding's marginal effect, not a decomposition.

        Nothing is clipped. A finding that makes the condition certain (the condition itself
        observed, or a finding impossible without it) has contribution ``+inf`` and
        ``likelihood_ratio`` ``inf`` (``-inf`` and ``0`` if it rules the condition out). When the
        condition is certain with and without a finding, that finding's weight is undefined:
        contribution and likelihood ratio are NaN. In both cases ``attrs["note"]`` says why
        (otherwise it is empty).

        Parameters
        ----------
        condition : str
            A condition id.

        Returns
        -------
        DataFrame
            Columns ``variable, state, kind, contribution, likelihood_ratio,
            posterior_without``, sorted by absolute contribution. ``attrs`` holds ``prior``
            and ``posterior`` of the condition.

        Examples
        --------
        >>> import bayesnet
        >>> dx = bayesnet.load_model().diagnose({"history_of_cancer": "yes", "fever": "no"})
        >>> dx.explain("spinal_metastasis").iloc[0]["variable"]
        'history_of_cancer'
        """
        if condition not in self.model.conditions:
            raise UnknownNameError("condition", condition, self.model.conditions)
        posterior = float(self.ranking.loc[condition, "posterior"])
        lo_post = log_odds(posterior)
        rows = []
        for var in self.evidence.variables:
            without = self.evidence.without(var)
            p = float(self.model.marginals(without, [condition])[condition][0])
            contribution = _weight(lo_post, log_odds(p))
            value = self.evidence.hard.get(var)
            if value is None:
                value = ", ".join(f"{s}:{w:.3g}" for s, w in self.evidence.soft_dicts[var].items())
            rows.append((var, value, self.model.tables.kinds[var], contribution, _exp(contribution), p))
        df = pd.DataFrame(
            rows, columns=["variable", "state", "kind", "contribution", "likelihood_ratio", "posterior_without"]
        )
        if len(df):
            df = df.reindex(df["contribution"].abs().sort_values(ascending=False, kind="stable").index)
        df = df.reset_index(drop=True)
        df.attrs.update(condition=condition, prior=float(self.ranking.loc[condition, "prior"]), posterior=posterior,
                        note=self._certainty_note(condition, posterior, df))
        return as_result(df, Explanation)

    def _certainty_note(self, condition: str, posterior: float, ex: pd.DataFrame) -> str:
        """Why some weights of ``explain`` are infinite or undefined ("" when none is)."""
        if 0.0 < posterior < 1.0:
            return ""
        state = "yes" if posterior >= 1.0 else "no"
        if condition in self.evidence.hard:
            why = f"{condition} is observed ({self.evidence.hard[condition]})"
        else:
            why = f"{condition} is certain given the evidence (P(yes) = {posterior:g})"
        parts = [why]
        made = ex["variable"][np.isinf(ex["contribution"].to_numpy(dtype=float))].tolist()
        if made:
            sign, lr = ("+inf", "inf") if state == "yes" else ("-inf", "0")
            parts.append(f"{', '.join(made)} made it {'certain' if state == 'yes' else 'impossible'}: "
                         f"contribution {sign}, likelihood ratio {lr}")
        undefined = ex["variable"][np.isnan(ex["contribution"].to_numpy(dtype=float))].tolist()
        if undefined:
            parts.append(f"it is certain with or without {', '.join(undefined)}, whose weight is undefined (NaN)")
        return "; ".join(parts) + "."

    def summary(self, condition: str | None = None, top: int = 4, *, explanation: pd.DataFrame | None = None) -> str:
        """One plain-language paragraph on why a condition has the probability it has (for teaching).

        Parameters
        ----------
        condition : str, optional
            Default: the leading serious condition.
        top : int
            How many of the strongest findings to name.
        explanation : DataFrame, optional
            ``self.explain(condition)`` when already computed (it is not computed again).

        Examples
        --------
        >>> import bayesnet
        >>> dx = bayesnet.load_model().diagnose({"history_of_cancer": "yes", "age_group": "70_plus"})
        >>> print(dx.summary("spinal_metastasis"))  # doctest: +ELLIPSIS
        In primary care, spinal metastasis starts at 0.320%. History of cancer = yes raised its odds 5.1-fold...
        """
        condition = condition or self.leading_serious
        ex = self.explain(condition) if explanation is None else explanation
        if ex.attrs.get("condition", condition) != condition:
            raise ValueError(f"the explanation given is of {ex.attrs['condition']!r}, not of {condition!r}")
        prior, post = ex.attrs["prior"], ex.attrs["posterior"]
        label = inline(variable_label(condition))
        where = setting_place(self.setting)
        text = [f"In {where}, {label} starts at {format_probability(prior)}."]
        if not len(ex):
            text.append("Nothing is known about the patient yet, so that is also where it stays.")
            return " ".join(text)
        shown = ex[ex["contribution"].abs() > 0.01].head(top)
        phrases = []
        for i, r in enumerate(shown.itertuples()):
            name = variable_label(r.variable)
            state = state_label(r.variable, r.state) if r.variable in self.evidence.hard else r.state
            what = f"{name if i == 0 else inline(name)} = {state}"
            factor = r.likelihood_ratio
            if math.isinf(factor):
                phrases.append(f"{what} made it certain")
            elif factor == 0.0:
                phrases.append(f"{what} ruled it out")
            elif factor >= 1:
                phrases.append(f"{what} raised its odds {_fold(factor)}")
            else:
                phrases.append(f"{what} lowered them {_fold(1 / factor)}")
        alone = len(ex) == 1  # one finding: no "rest of the evidence", nothing "together"
        if phrases:
            text.append(_join(phrases) + ("." if alone else ", each given the rest of the evidence."))
        undefined = int(ex["contribution"].isna().sum())
        rest = len(ex) - len(shown) - undefined
        if rest > 0:
            text.append("The other finding changed it less." if rest == 1 else f"The other {rest} findings changed it less.")
        if undefined:
            text.append("The other finding could not change it." if undefined == 1
                        else f"The other {undefined} findings could not change it.")
        direction = "up" if post >= prior else "down"
        together = "That brings it" if alone else "Together the evidence brings it"
        if post >= 1.0 or post <= 0.0:
            text.append(f"{together} {direction} to {format_probability(post)} (certain).")
        else:
            text.append(
                f"{together} {direction} to {format_probability(post)} "
                f"({(post / (1.0 - post)) / (prior / (1.0 - prior)):.3g} times the prior odds)."
            )
        return " ".join(text)

    def to_dict(self) -> dict:
        """Plain-Python form (the CLI's ``--json`` output)."""
        return {
            "setting": self.setting,
            "evidence": {**self.evidence.hard, **self.evidence.soft_dicts},
            "ranking": [
                {
                    "condition": c,
                    "prior": float(r.prior),
                    "posterior": float(r.posterior),
                    "likelihood_ratio": _json_number(r.likelihood_ratio),
                    "serious": bool(r.serious),
                }
                for c, r in self.ranking.iterrows()
            ],
        }

    def __repr__(self) -> str:
        text = render(self, "diagnosis", "text")
        return text if text is not None else f"<Diagnosis ({self.setting}): leading serious {self.leading_serious}>"

    def _repr_html_(self) -> str | None:
        return render(self, "diagnosis", "html")


def _fold(x: float) -> str:
    return f"{x:.0f}-fold" if x >= 10 else f"{x:.1f}-fold"


def _join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _json_number(x: float) -> float | None:
    return None if not np.isfinite(x) else float(x)
