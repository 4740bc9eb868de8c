"""bayesnet: a Bayesian network for the serious causes of back pain.

A research and teaching tool, not a medical device.

Examples
--------
>>> import bayesnet
>>> model = bayesnet.load_model(setting="primary_care")
>>> sorted(model.conditions)[:3]
['aortic_aneurysm', 'cauda_equina_syndrome', 'compression_fracture']
"""

from bayesnet import formatting as _formatting
from bayesnet.errors import BayesNetError, EvidenceError, ImpossibleEvidenceError, PriorsError, UnknownNameError

def _load_renderers() -> None:
    """The text and HTML renderers of every result (the presentation modules register them on import)."""
    from bayesnet.present import display as _display  # noqa: F401
    from bayesnet.present import recalibration as _recalibration  # noqa: F401
    from bayesnet.present import rules as _rules  # noqa: F401


# every import of a submodule (bayesnet.model, ...) runs this file first: the renderers load on the first
# result displayed, however the model was reached
_formatting.add_renderer_loader(_load_renderers)

#: the model layer (pandas, scipy, pgmpy) loads on first use, so ``bayesnet --help`` answers at once
_LAZY = {"BackPainModel": "bayesnet.model", "load_model": "bayesnet.model", "load_priors": "bayesnet.data.priors"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'bayesnet' has no attribute {name!r}")


__version__ = "0.1.0"

__all__ = [
    "BackPainModel",
    "BayesNetError",
    "EvidenceError",
    "ImpossibleEvidenceError",
    "PriorsError",
    "UnknownNameError",
    "__version__",
    "load_model",
    "load_priors",
]
