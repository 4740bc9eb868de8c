"""The compiled engine, under its public name (``from bayesnet.engine import compile_network``).

The code lives in :mod:`bayesnet.inference.engine`.
"""

from bayesnet.inference.engine import *  # noqa: F403
from bayesnet.inference.engine import __all__  # noqa: F401
