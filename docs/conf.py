"""Sphinx configuration of the bayesnet documentation site.

Build (warnings are errors; the notebooks and the concept pages are executed)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

``tests/test_docs.py`` runs the same build in the test suite. The API reference is generated from
the numpydoc docstrings (autosummary); the tutorials are the notebooks of ``notebooks/``, the
sources table and the command-line help are generated at build time (``_ext/bayesnet_docs.py``).
"""

from __future__ import annotations

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))

import bayesnet

project = "bayesnet"
author = "the bayesnet authors"
copyright = "2026, the bayesnet authors"
version = release = bayesnet.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_nb",
    "bayesnet_docs",
]

root_doc = "index"
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = [
    "_build",
    "evidence_notes",  # research notes kept beside the docs, not part of the site
    "Thumbs.db",
    ".DS_Store",
    "**.ipynb_checkpoints",
    "_generated/cli.md",  # included by cli.md
]
templates_path = ["_templates"]

# every reference must resolve (nitpicky); third-party names are not linked (no intersphinx: the
# build runs offline), so references to them are not reported
nitpicky = True
nitpick_ignore_regex = [
    (r"py:.*", (r"(pandas|pd|numpy|np|scipy|pgmpy|matplotlib|networkx|nx|click|panel|pn|bokeh|dask|distributed|"
                r"pydantic|pyarrow|yaml|opt_einsum|collections|typing|os|pathlib|concurrent|numbers|io|itertools|"
                r"contextlib|datetime|benchmarks)(\..*)?")),
    # internal layers, not part of the reference (the API pages document what users call): the
    # docstrings of the public objects name them for readers of the code
    (r"py:.*", (r"bayesnet\.(building|data|formatting|io\.batch|inference\.(junction_tree|relevance|elimination|evidence|reference))"
                r"(\..*)?")),
]


# ---- autodoc, autosummary, numpydoc
autosummary_generate = True
autosummary_imported_members = False
autosummary_ignore_module_all = False  # a module page documents the names in its __all__
autodoc_typehints = "none"  # numpydoc's Parameters section states the types
autodoc_member_order = "bysource"
numpydoc_show_class_members = False  # the class template lists the methods
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_validation_checks: set[str] = set()

# ---- MyST and MyST-NB
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
# the concept pages are executed at build time (a cell that raises fails the build); the tutorials
# are executed by _ext/bayesnet_docs.py, from notebooks/ as the test suite runs them, and shown as given
nb_execution_mode = "force"
nb_execution_timeout = 600
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_execution_in_temp = False
nb_merge_streams = True
nb_execution_excludepatterns = ["tutorials/*"]

# ---- HTML
html_theme = "pydata_sphinx_theme"
html_title = f"bayesnet {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
    "secondary_sidebar_items": {"**": ["page-toc"], "sources": []},  # the sources table takes the width
}
html_show_sourcelink = False
# pages with no section to navigate: the content takes the width
html_sidebars = {"sources": [], "model_card": [], "cli": [], "index": []}
html_static_path = ["_static"]
html_css_files = ["bayesnet.css"]
