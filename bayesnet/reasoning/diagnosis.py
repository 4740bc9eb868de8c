"""The result of a diagnosis: ranked differential and per-finding explanations."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from bayesnet.errors import UnknownNameError
from bayesnet.inference.evidence import Evidence
from bayesnet.formatting import format_probability, render

if TYPE_CHECKING:  # pragma: no cover
    from bayesnet.model import BackPainModel

__all__ = ["Diagnosis", "log_odds"]

_EPS = 1e-15


def log_odds(p: float) -> float:
    """Natural log-odds, clipped so that certainty gives a large finite number.

    >>> round(log_odds(0.5), 6)
    0.0
    """
    p = min(max(float(p), _EPS), 1.0 - _EPS)
    return math.log(p) - math.log1p(-p)


class Diagnosis:
    """Posterior probabilities of every condition for one patient.

    Attributes
    ----------
    setting : str
    evidence : Evidence
        The validated evidence.
    ranking : DataFrame
        Indexed by condition; columns ``prior``, ``posterior``, ``likelihood_ratio`` (posterior
        odds / prior odds) and ``serious``; sorted by posterior, descending.
    """

    def __init__(self, model: BackPainModel, evidence: Evidence, posteriors: dict[str, float]):
        self.model = model
        self.setting = model.setting
        self.evidence = evidence
        conds = model.conditions
        prior = model._prior_vector()
        post = np.array([posteriors[c] for c in conds], dtype=float)
        serious = np.array([model.priors.conditions[c].serious for c in conds])
        with np.errstate(divide="ignore", invalid="ignore"):
            lr = (post / (1.0 - post)) / (prior / (1.0 - prior))
        lr = np.where(post >= 1.0, np.inf, np.where(post <= 0.0, 0.0, lr))
        order = np.argsort(-post, kind="stable")
        self.ranking = pd.DataFrame(
            {"prior": prior[order], "posterior": post[order], "likelihood_ratio": lr[order], "serious": serious[order]},
            index=pd.Index(np.asarray(conds, dtype=object)[order], dtype=object, name="condition"),
        )

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
        rows = []
        for var in self.evidence.variables:
            without = self.evidence.without(var)
            p = float(self.model.marginals(without, [condition])[condition][0])
            contribution = log_odds(posterior) - log_odds(p)
            value = self.evidence.hard.get(var)
            if value is None:
                value = ", ".join(f"{s}:{w:.3g}" for s, w in self.evidence.soft_dicts[var].items())
            rows.append(
                {
                    "variable": var,
                    "state": value,
                    "kind": self.model.tables.kinds[var],
                    "contribution": contribution,
                    "likelihood_ratio": math.exp(contribution),
                    "posterior_without": p,
                }
            )
        df = pd.DataFrame(
            rows, columns=["variable", "state", "kind", "contribution", "likelihood_ratio", "posterior_without"]
        )
        if len(df):
            df = df.reindex(df["contribution"].abs().sort_values(ascending=False, kind="stable").index)
        df = df.reset_index(drop=True)
        df.attrs.update(condition=condition, prior=float(self.ranking.loc[condition, "prior"]), posterior=posterior)
        return df

    def summary(self, condition: str | None = None, max_findings: int = 4) -> str:
        """One plain-language paragraph on why a condition has the probability it has (for teaching).

        Parameters
        ----------
        condition : str, optional
            Default: the leading serious condition.
        max_findings : int
            How many of the strongest findings to name.

        Examples
        --------
        >>> import bayesnet
        >>> dx = bayesnet.load_model().diagnose({"history_of_cancer": "yes", "age_group": "70_plus"})
        >>> print(dx.summary("spinal_metastasis"))  # doctest: +ELLIPSIS
        In primary care, spinal metastasis starts at 0.320%. History of cancer = yes raised its odds 12-fold...
        """
        condition = condition or self.leading_serious
        ex = self.explain(condition)
        prior, post = ex.attrs["prior"], ex.attrs["posterior"]
        label = condition.replace("_", " ")
        where = self.setting.replace("_", " ")
        text = [f"In {where}, {label} starts at {format_probability(prior)}."]
        if not len(ex):
            text.append("Nothing is known about the patient yet, so that is also where it stays.")
            return " ".join(text)
        shown = ex[ex["contribution"].abs() > 0.01].head(max_findings)
        phrases = []
        for i, r in enumerate(shown.itertuples()):
            what = f"{r.variable.replace('_', ' ')} = {r.state}"
            if i == 0:
                what = what[0].upper() + what[1:]
            factor = r.likelihood_ratio
            if factor >= 1:
                phrases.append(f"{what} raised its odds {_fold(factor)}")
            else:
                phrases.append(f"{what} lowered them {_fold(1 / factor)}")
        if phrases:
            text.append(_join(phrases) + ", each given the rest of the evidence.")
        rest = len(ex) - len(shown)
        if rest > 0:
            text.append("The other finding changed it less." if rest == 1 else f"The other {rest} findings changed it less.")
        direction = "up" if post >= prior else "down"
        text.append(
            f"Together the evidence brings it {direction} to {format_probability(post)} "
            f"(odds x{_odds_ratio(post, prior):.3g} the prior odds)."
        )
        return " ".join(text)

    def to_dict(self) -> dict:
        """Plain-Python form (the CLI's ``--json`` output)."""
        evidence: dict = dict(self.evidence.hard)
        evidence.update(self.evidence.soft_dicts)
        return {
            "setting": self.setting,
            "evidence": evidence,
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
    if x >= 10:
        return f"{x:.0f}-fold"
    return f"{x:.1f}-fold"


def _join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _odds_ratio(post: float, prior: float) -> float:
    if post >= 1.0:
        return math.inf
    if post <= 0.0:
        return 0.0
    return (post / (1.0 - post)) / (prior / (1.0 - prior))


def _json_number(x: float) -> float | None:
    return None if not np.isfinite(x) else float(x)
