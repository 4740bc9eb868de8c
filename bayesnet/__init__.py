"""bayesnet: a Bayesian network for the serious causes of back pain.

A research and teaching tool, not a medical device.

Examples
--------
>>> import bayesnet
>>> model = bayesnet.load_model(setting="primary_care")
>>> sorted(model.conditions)[:3]
['aortic_aneurysm', 'cauda_equina_syndrome', 'compression_fracture']
"""

from bayesnet.data.priors import load_priors
from bayesnet.errors import BayesNetError, EvidenceError, ImpossibleEvidenceError, PriorsError, UnknownNameError
from bayesnet.model import BackPainModel, load_model
from bayesnet.present import display as _display  # noqa: F401  (registers the text and HTML renderers)
from bayesnet.present import recalibration as _recalibration  # noqa: F401  (its renderers)
from bayesnet.present import rules as _rules  # noqa: F401  (its renderers)

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
