"""Turn numbers *as reported* into the probabilities the network needs.

The priors files store what a paper reports (a sensitivity, a specificity, an odds ratio, a
relative risk, a likelihood ratio, a proportion among cases); these pure functions derive model
parameters from them, so that no number is ever converted by hand. They are written with numpy
and work on scalars and on arrays alike (one value per parameter draw); the table builder
(:func:`bayesnet.building.parametric.build_vectorised`) calls them and checks their results
(a derived probability outside [0, 1] is a :class:`~bayesnet.errors.PriorsError` there, or a
flagged draw).

References
----------
Henrion M. Some practical issues in constructing belief networks. Uncertainty in Artificial
Intelligence 3, 1989 (leaky noisy-OR).
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit as _expit
from scipy.special import logit as _logit

__all__ = [
    "case_share",
    "effect_log_odds_ratio",
    "expit",
    "from_odds",
    "leak_from",
    "logit",
    "noisy_or_link",
    "odds",
    "sensitivity_from",
]

#: Kinds of a risk-factor effect used directly as an odds ratio.
RATIO_EFFECTS = ("odds_ratio", "relative_risk")


def odds(p):
    """Odds of a probability.

    >>> float(odds(0.2))
    0.25
    """
    return np.divide(p, np.subtract(1.0, p))


def from_odds(o):
    """Probability from odds.

    >>> float(from_odds(0.25))
    0.2
    """
    return np.divide(o, np.add(1.0, o))


def logit(p):
    """Log-odds of a probability.

    >>> round(float(logit(0.2)), 6)  # log(0.25)
    -1.386294
    """
    return _logit(p)


def expit(x):
    """Inverse of :func:`logit`.

    >>> float(expit(0.0))
    0.5
    """
    return _expit(x)


def case_share(kind: str, value, control_share):
    """Share of cases in the covered risk-factor states, from an effect reported as ``kind``.

    ``proportion_of_cases`` is that share; ``lr_positive`` (likelihood ratio of the risk factor
    for the condition) gives it as the ratio times the share among non-cases ``control_share``.

    >>> float(case_share("proportion_of_cases", 0.31, 0.02))
    0.31
    >>> round(float(case_share("lr_positive", 6.2, 0.05)), 6)
    0.31
    """
    if kind == "proportion_of_cases":
        return np.asarray(value, dtype=float) * 1.0
    if kind == "lr_positive":
        return np.multiply(value, control_share)
    raise ValueError(f"no share of cases from an effect of kind {kind!r}")


def effect_log_odds_ratio(kind: str, value, control_share=None):
    """Log odds ratio of a condition between the covered risk-factor states and the others.

    ``odds_ratio`` and ``relative_risk`` are used as odds ratios (the conditions are rare in
    back-pain populations, where the two agree). ``proportion_of_cases`` and ``lr_positive``
    give the share of cases in the covered states (:func:`case_share`), compared on the logit
    scale with the share of the same states among patients without the condition,
    ``control_share`` (``1 - specificity`` of the risk factor as a test, or the setting's
    prevalence of those states, which is what non-cases look like when the condition is rare).
    Both shares must lie strictly between 0 and 1 (the caller checks).

    >>> round(float(np.exp(effect_log_odds_ratio("odds_ratio", 5.3))), 12)
    5.3
    >>> round(float(np.exp(effect_log_odds_ratio("proportion_of_cases", 0.31, 0.02))), 4)  # (0.31 * 0.98) / (0.69 * 0.02)
    22.0145
    """
    if kind in RATIO_EFFECTS:
        return np.log(value)
    return logit(case_share(kind, value, control_share)) - logit(control_share)


def leak_from(kind: str, value, sensitivity=None):
    """P(finding | no linked condition), the leak, from a number reported as ``kind``.

    ``false_positive_rate`` or ``prevalence`` (among patients without the conditions) are used
    as is, ``specificity`` gives one minus it. ``odds_ratio`` is the ratio of the odds of the
    finding in cases of the ``relative_to`` condition (whose ``sensitivity`` is given) to its
    odds in non-cases: the leak has odds ``odds(sensitivity) / ratio`` (1 when the sensitivity
    is 1). ``lr_negative`` gives ``1 - (1 - sensitivity) / LR-`` (LR- = (1 - sens) / spec), and
    ``lr_positive`` gives ``sensitivity / LR+``.

    >>> round(float(leak_from("specificity", 0.725)), 12)
    0.275
    >>> round(float(leak_from("lr_negative", 0.2, 0.9)), 12)  # 1 - 0.1 / 0.2
    0.5
    >>> round(float(leak_from("lr_positive", 1.6, 0.08)), 12)  # 0.08 / 1.6
    0.05
    """
    if kind in ("false_positive_rate", "prevalence"):
        return np.asarray(value, dtype=float) * 1.0
    if kind == "specificity":
        return np.subtract(1.0, value)
    if kind == "odds_ratio":
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(np.less(sensitivity, 1.0), from_odds(odds(sensitivity) / np.asarray(value)), 1.0)
    if kind == "lr_negative":
        return 1.0 - np.subtract(1.0, sensitivity) / np.asarray(value)
    if kind == "lr_positive":
        return np.asarray(sensitivity, dtype=float) / np.asarray(value)
    raise ValueError(f"no leak from a number of kind {kind!r}")


def sensitivity_from(kind: str, value, leak):
    """P(finding | only this condition present), from a link reported as ``kind``.

    ``sensitivity`` and ``proportion_of_cases`` are used as is; ``odds_ratio`` gives the
    probability whose odds are the leak's odds times the ratio; ``lr_positive`` gives LR+
    times the false-positive rate (the leak).

    >>> round(float(sensitivity_from("lr_positive", 6.2, 0.05)), 12)
    0.31
    >>> round(float(sensitivity_from("odds_ratio", 4.0, 0.2)), 12)  # odds 0.25 * 4 = 1
    0.5
    """
    if kind in ("sensitivity", "proportion_of_cases"):
        return np.asarray(value, dtype=float) * 1.0
    if kind == "odds_ratio":
        return from_odds(odds(leak) * np.asarray(value))
    if kind == "lr_positive":
        return np.multiply(value, leak)
    raise ValueError(f"no sensitivity from a link of kind {kind!r}")


def noisy_or_link(sensitivity, leak):
    """Link probability of a leaky noisy-OR that reproduces a sensitivity.

    With leak ``l`` and sensitivity ``s`` (probability of the finding when only this
    condition is present), the link probability is ``1 - (1 - s) / (1 - l)``, clipped to
    [0, 1]. A sensitivity below the leak would need a negative link (a noisy-OR link cannot
    make a finding less likely): the builder rejects it before calling this.

    >>> round(float(noisy_or_link(0.9, 0.1)), 6)
    0.888889
    """
    return np.clip(1.0 - np.subtract(1.0, sensitivity) / np.subtract(1.0, leak), 0.0, 1.0)
