"""Turn numbers *as reported* into the probabilities the network needs.

The priors files store what a paper reports (a sensitivity, a specificity, an odds ratio, a
proportion among cases); these pure functions derive model parameters from them, so that no
number is ever converted by hand.

References
----------
Henrion M. Some practical issues in constructing belief networks. Uncertainty in Artificial
Intelligence 3, 1989 (leaky noisy-OR).
"""

from __future__ import annotations

import math

from bayesnet.data.priors import Effect, Finding, Param, RiskFactor
from bayesnet.errors import PriorsError

__all__ = [
    "effect_log_odds_ratios",
    "expit",
    "from_odds",
    "leak_probability",
    "link_sensitivity",
    "logit",
    "noisy_or_link",
    "odds",
]


def odds(p: float) -> float:
    """Odds of a probability.

    >>> odds(0.2)
    0.25
    """
    return p / (1.0 - p)


def from_odds(o: float) -> float:
    """Probability from odds.

    >>> from_odds(0.25)
    0.2
    """
    return o / (1.0 + o)


def logit(p: float) -> float:
    """Log-odds of a probability."""
    return math.log(p) - math.log1p(-p)


def expit(x: float) -> float:
    """Inverse of :func:`logit`."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def _fail(p: Param, message: str) -> PriorsError:
    return PriorsError(message, file=p.file, entry=p.entry)


def effect_log_odds_ratios(effect: Effect, factor: RiskFactor, setting: str) -> dict[str, float]:
    """Log odds ratio of the condition for each risk-factor state the effect covers.

    ``odds_ratio`` and ``relative_risk`` are used as odds ratios (the conditions are rare in
    back-pain populations, where the two agree). ``proportion_of_cases`` is the share of cases
    in the covered states; it is compared with the share of the same states among patients
    without the condition (``controls`` when given, else the setting's prevalence of those
    states, which is what non-cases look like when the condition is rare). ``lr_positive`` gives
    the share among cases as the likelihood ratio times the share among non-cases.

    >>> import math
    >>> from bayesnet.data.priors import load_priors
    >>> ps = load_priors()
    >>> eff = ps.conditions["spinal_metastasis"].effects[0]
    >>> lor = effect_log_odds_ratios(eff, ps.risk_factors[eff.factor], "primary_care")
    >>> round(math.exp(lor["yes"]), 1)
    22.0
    """
    p = effect.param
    if p.kind in ("odds_ratio", "relative_risk"):
        lor = math.log(p.value)
    else:
        if effect.controls is not None:
            p_ctrl = effect.controls.value
        else:
            p_ctrl = sum(factor.prevalence[setting][s].value for s in effect.states)
        p_case = p.value if p.kind == "proportion_of_cases" else p.value * p_ctrl
        if not (0.0 < p_case < 1.0 and 0.0 < p_ctrl < 1.0):
            raise _fail(p, f"proportion among cases ({p_case}) and among controls ({p_ctrl}) must lie strictly between 0 and 1 to give an odds ratio")
        lor = logit(p_case) - logit(p_ctrl)
    return dict.fromkeys(effect.states, lor)


def leak_probability(finding: Finding, context: str) -> float:
    """P(finding present | no linked condition present), in one context of the leak.

    Kinds: ``false_positive_rate`` or ``prevalence`` (used as is), ``specificity`` (one minus),
    ``odds_ratio`` (the leak whose odds, times the ratio, give the odds of the sensitivity of
    the ``relative_to`` condition), ``lr_negative`` (1 - (1 - sensitivity) / LR-).
    """
    p = finding.leak[context]
    if p.kind in ("false_positive_rate", "prevalence"):
        leak = p.value
    elif p.kind == "specificity":
        leak = 1.0 - p.value
    else:
        cond = finding.leak_relative_to[context]
        sens = finding.links[cond].value
        if p.kind == "odds_ratio":
            leak = from_odds(odds(sens) / p.value) if sens < 1.0 else 1.0
        else:  # lr_negative
            leak = 1.0 - (1.0 - sens) / p.value
    if not 0.0 <= leak < 1.0:
        raise _fail(p, f"gives a false-positive rate of {leak:.4g}, outside [0, 1)")
    return leak


def link_sensitivity(finding: Finding, condition: str, leak: float) -> float:
    """Sensitivity of the finding for one condition, given the leak of the same context.

    ``sensitivity``/``proportion_of_cases`` are used as is; ``odds_ratio`` gives the
    probability whose odds are the leak's odds times the ratio; ``lr_positive`` gives
    LR+ times the false-positive rate.
    """
    p = finding.links[condition]
    if p.kind in ("sensitivity", "proportion_of_cases"):
        s = p.value
    elif p.kind == "odds_ratio":
        s = from_odds(odds(leak) * p.value)
    else:  # lr_positive
        s = p.value * leak
    if not 0.0 <= s <= 1.0:
        raise _fail(p, f"gives a sensitivity of {s:.4g}, outside [0, 1]")
    return s


def noisy_or_link(sensitivity: float, leak: float, param: Param | None = None) -> float:
    """Link probability of a leaky noisy-OR that reproduces a sensitivity.

    With leak ``l`` and sensitivity ``s`` (probability of the finding when only this
    condition is present), the link probability is ``1 - (1 - s) / (1 - l)``.

    >>> round(noisy_or_link(0.9, 0.1), 6)
    0.888889

    Raises
    ------
    PriorsError
        If the sensitivity is below the leak: a noisy-OR link cannot make a finding less
        likely, so such a finding is evidence against the condition and must be modelled
        differently.
    """
    if sensitivity < leak - 1e-12:
        msg = (
            f"sensitivity {sensitivity:.4g} is below the false-positive rate {leak:.4g}; "
            "a noisy-OR link can only raise the chance of a finding"
        )
        if param is not None:
            raise _fail(param, msg)
        raise PriorsError(msg)
    return max(0.0, 1.0 - (1.0 - sensitivity) / (1.0 - leak))
