"""bayesnet: a Bayesian network for the serious causes of back pain."""

__version__ = "0.1.0"
