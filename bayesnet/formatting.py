"""The one number formatter and the renderer registry shared by every layer.

Results (a diagnosis, say) are computed in :mod:`bayesnet.reasoning`, but drawn in
:mod:`bayesnet.present`. A result class asks :func:`render` for its text or HTML form; the
presentation layer registers the renderers when it is imported (``import bayesnet`` does), so
the computing modules never import the drawing ones.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

__all__ = ["format_probability", "register_renderer", "render"]

_RENDERERS: dict[tuple[str, str], Callable[[Any], str]] = {}
#: called once, on the first lookup that finds no renderer (the package installs the import of the
#: presentation modules here, which register theirs; this module imports nothing of the package)
_LOADERS: list[Callable[[], None]] = []


def format_probability(p: float) -> str:
    """Readable percentage keeping small probabilities visible.

    Three significant digits down to 0.01%, two below; the precision is chosen from the rounded
    value, so numbers that differ by float noise print alike (9.99999e-05 and 1e-4 are both
    ``0.010%``). Near certainty the digits follow the distance from 100%, so 0.99995 is not
    shown as ``100.0%``. Below one in a million (and above 1 minus that) it says so rather than
    switching to scientific notation; the full value is in the data itself.

    >>> format_probability(0.000123)
    '0.012%'
    >>> format_probability(0.4567)
    '45.7%'
    >>> format_probability(0.0000123), format_probability(0.0)
    ('0.0012%', '0%')
    >>> format_probability(9.99999e-05), format_probability(1e-4)
    ('0.010%', '0.010%')
    >>> format_probability(0.99995), format_probability(1.0), format_probability(1 - 1e-9)
    ('99.995%', '100.0%', '>99.9999%')
    >>> format_probability(3e-9)
    '<0.0001%'
    """
    pct = 100.0 * p
    if pct == 0:
        return "0%"
    if not 0 < pct <= 100:
        return f"{pct}%"  # negative, above 1 or NaN: shown as it is, never disguised as a probability
    if pct == 100:
        return "100.0%"
    if pct >= 99.95:  # the first significant digit of the distance from certainty
        rest = float(f"{100.0 - pct:.1g}")
        if rest < 1e-4:
            return ">99.9999%"
        return f"{100.0 - rest:.{-math.floor(math.log10(rest))}f}%"
    if round(pct, 1) >= 10:
        return f"{pct:.1f}%"
    if round(pct, 2) >= 1:
        return f"{pct:.2f}%"
    if round(pct, 3) >= 0.01:
        return f"{pct:.3f}%"
    shown = float(f"{pct:.2g}")  # two significant digits, in plain decimals
    if shown < 1e-4:
        return "<0.0001%"
    return f"{shown:.{1 - math.floor(math.log10(shown))}f}%"


def add_renderer_loader(loader: Callable[[], None]) -> None:
    """Run ``loader()`` (once) before the first lookup that finds no renderer."""
    _LOADERS.append(loader)


def register_renderer(kind: str, fmt: str, fn: Callable[[Any], str]) -> None:
    """Register ``fn(result) -> str`` as the ``fmt`` (``"text"`` or ``"html"``) form of results of ``kind``."""
    _RENDERERS[(kind, fmt)] = fn


def render(obj: Any, kind: str, fmt: str) -> str | None:
    """The registered ``fmt`` form of ``obj``, or None when no renderer is registered.

    >>> render(object(), "nothing registered", "text") is None
    True
    """
    fn = _RENDERERS.get((kind, fmt))
    while fn is None and _LOADERS:
        _LOADERS.pop(0)()
        fn = _RENDERERS.get((kind, fmt))
    return None if fn is None else fn(obj)
