"""Write the network in the exchange formats of other Bayesian-network tools (via pgmpy)."""

from __future__ import annotations

import warnings
from pathlib import Path

from bayesnet.errors import BayesNetError, UnknownNameError

__all__ = ["FORMATS", "export_network", "read_network"]

FORMATS = {
    "bif": ("BIFWriter", "write_bif", "BIFReader"),
    "xmlbif": ("XMLBIFWriter", "write_xmlbif", "XMLBIFReader"),
    "xdsl": ("XDSLWriter", "write_xdsl", "XDSLReader"),
    "net": ("NETWriter", "write_net", "NETReader"),
}


def export_network(network, fmt: str, path: str | Path) -> Path:
    """Write ``network`` to ``path`` in ``fmt`` (bif, xmlbif, xdsl for GeNIe, net for Hugin).

    Returns
    -------
    Path
        The file written.
    """
    from bayesnet._pgmpy import readwrite as rw

    if fmt not in FORMATS:
        raise UnknownNameError("format", fmt, FORMATS)
    path = Path(path)
    if path.parent and not path.parent.exists():
        raise BayesNetError(f"cannot write {str(path)!r}: folder {str(path.parent)!r} does not exist")
    writer_name, method, _ = FORMATS[fmt]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        getattr(getattr(rw, writer_name)(network), method)(str(path))
    return path


def read_network(path: str | Path, fmt: str):
    """Read a network written by :func:`export_network` back into pgmpy."""
    from bayesnet._pgmpy import readwrite as rw

    if fmt not in FORMATS:
        raise UnknownNameError("format", fmt, FORMATS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return getattr(rw, FORMATS[fmt][2])(str(path)).get_model()
