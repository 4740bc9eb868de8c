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

    >>> format_probability(0.000123)
    '0.012%'
    >>> format_probability(0.4567)
    '45.7%'
    >>> format_probability(0.0000123), format_probability(0.0)
    ('0.0012%', '0%')

    Below one in a million it says so rather than switching to scientific notation (a value
    printed as ``1.0e-05%`` is easily misread); the full value is in the data itself:

    >>> format_probability(3e-9), format_probability(1.0)
    ('<0.0001%', '100.0%')
    """
    pct = 100.0 * p
    if pct == 0:
        return "0%"
    if pct >= 10:
        return f"{pct:.1f}%"
    if pct >= 1:
        return f"{pct:.2f}%"
    if pct >= 0.01:
        return f"{pct:.3f}%"
    if pct >= 1e-4:  # two significant digits, in plain decimals
        return f"{pct:.{1 - math.floor(math.log10(pct))}f}%"
    if pct > 0:
        return "<0.0001%"
    return f"{pct}%"  # negative or NaN: shown as it is, never disguised as a probability


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
