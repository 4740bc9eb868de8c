"""Build-time content of the documentation site, generated from the code so it cannot go stale.

At ``builder-inited`` this extension writes, into the (git-ignored) source folders:

* ``tutorials/*.ipynb``: the notebooks of ``notebooks/`` (stored without outputs). They are
  executed as the test suite runs them, from the ``notebooks/`` folder (notebook 05 reads the
  benchmark harness next to it) in a kernel of the interpreter building the docs, in background
  threads while Sphinx reads the other pages; each tutorial page is the executed notebook. A cell
  that raises fails the build, naming the notebook and the cell. Executed copies are kept in the
  doctree folder, keyed by the notebook and the code, data and benchmark files, so an unchanged
  checkout does not run them again. When ``BAYESNET_DOCS_EXECUTED_NOTEBOOKS`` names a folder of
  notebooks already executed (same names), those are shown instead;
* ``_generated/sources.csv``: :meth:`bayesnet.BackPainModel.sources`, one row per sourced number;
* ``_generated/cli.md``: the ``--help`` text of ``bayesnet`` and of every command, as the command
  line prints it (and it clears ``api/generated``, autosummary's pages, before autosummary writes
  them again);

and it registers a ``python3`` kernel that runs the interpreter building the docs (so the
notebooks and the concept pages run against this bayesnet whatever kernels are installed).

It also resolves the public aliases of documented objects: ``bayesnet.load_model`` is
``bayesnet.model.load_model``, ``bayesnet.engine.compile_network`` is
``bayesnet.inference.engine.compile_network``; a cross-reference written with either name finds
the page.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.errors import ExtensionError
from sphinx.util import logging

logger = logging.getLogger(__name__)

DOCS = Path(__file__).resolve().parent.parent
ROOT = DOCS.parent
NOTEBOOKS = ROOT / "notebooks"
GENERATED = DOCS / "_generated"
TUTORIALS = DOCS / "tutorials"
API_STUBS = DOCS / "api" / "generated"
EXECUTED_ENV = "BAYESNET_DOCS_EXECUTED_NOTEBOOKS"

#: where a documented object lives (key) and the public names it is also known by (values)
ALIASES = {
    "bayesnet.model.": ["bayesnet."],
    "bayesnet.errors.": ["bayesnet."],
    "bayesnet.data.priors.": ["bayesnet."],
    "bayesnet.inference.engine.": ["bayesnet.engine."],
}
#: what the outputs of a notebook depend on besides the notebook (its cache key)
CODE_FOLDERS = ("bayesnet", "priors", "benchmarks")
#: outputs that only load a live widget's JavaScript into a running notebook (Panel, HoloViews):
#: a static page has no kernel to talk to, so they are left out of the tutorial pages
WIDGET_LOADER_TYPES = {"application/javascript", "application/vnd.holoviews_load.v0+json",
                       "application/vnd.holoviews_exec.v0+json"}
NOTEBOOK_TIMEOUT = 600


def _write_if_changed(path: Path, data: bytes) -> None:
    """Write ``data`` only when it differs (unchanged files keep their time: no needless rebuilds)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and path.read_bytes() == data:
        return
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def code_digest() -> str:
    """A hash of every file the notebooks' outputs depend on, besides the notebooks themselves."""
    h = hashlib.sha256()
    for folder in CODE_FOLDERS:
        for path in sorted((ROOT / folder).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                h.update(str(path.relative_to(ROOT)).encode())
                h.update(path.read_bytes())
    return h.hexdigest()


def execute_notebook(source: Path, target: Path) -> None:
    """Run ``source`` top to bottom from ``notebooks/`` and write it, with its outputs, to ``target``."""
    import nbclient
    import nbformat
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(source, as_version=4)
    client = nbclient.NotebookClient(nb, kernel_name="python3", timeout=NOTEBOOK_TIMEOUT,
                                     resources={"metadata": {"path": str(NOTEBOOKS)}})
    try:
        client.execute()
    except CellExecutionError as exc:
        index = next((i for i, cell in enumerate(nb.cells)
                      if any(o.get("output_type") == "error" for o in cell.get("outputs", []))), None)
        raise ExtensionError(f"{source.name}: cell {index} raised {exc.ename}: {exc.evalue}") from None
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    nbformat.write(nb, tmp)
    tmp.replace(target)


class Tutorials:
    """The notebooks as tutorials: executed in the background while Sphinx reads the other pages.

    ``tutorials/NAME.ipynb`` holds the stored notebook (so Sphinx finds the page); when Sphinx
    reads it (``source-read``) its text is replaced by the executed notebook, waiting for that
    run if it is still going. A tutorial is re-read when its executed copy changes (the notebook,
    the code or the data changed), whatever the file times say.
    """

    def __init__(self, app: Sphinx):
        names = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))
        self.executed: dict[str, Path] = {}
        self.futures = {}
        self.pool: ThreadPoolExecutor | None = None
        self.digest = code_digest()
        given = os.environ.get(EXECUTED_ENV)
        if given:
            folder = Path(given)
            missing = [n for n in names if not (folder / n).is_file()]
            if missing:
                raise ExtensionError(f"{EXECUTED_ENV}={given}: no executed copy of {', '.join(missing)}")
            self.executed = {n: folder / n for n in names}
        else:
            cache = Path(app.doctreedir) / "bayesnet_tutorials"
            digest = self.digest
            todo = []
            for name in names:
                source = NOTEBOOKS / name
                key = hashlib.sha256(source.read_bytes() + digest.encode()).hexdigest()[:20]
                self.executed[name] = cache / f"{source.stem}.{key}.ipynb"
                if not self.executed[name].is_file():
                    for old in cache.glob(f"{source.stem}.*.ipynb"):
                        old.unlink()
                    todo.append(name)
            if todo:
                # each notebook runs in its own kernel process: side by side, one per core
                workers = min(len(todo), max(1, int(os.environ.get("BAYESNET_DOCS_JOBS", os.cpu_count() or 1))))
                self.pool = ThreadPoolExecutor(workers, thread_name_prefix="bayesnet-tutorial")
                self.futures = {n: self.pool.submit(_timed_execute, NOTEBOOKS / n, self.executed[n]) for n in todo}
                logger.info(f"bayesnet docs: executing {len(todo)} notebooks, {workers} at a time")
        for name in names:
            _write_if_changed(TUTORIALS / name, (NOTEBOOKS / name).read_bytes())
        for stale in TUTORIALS.glob("*.ipynb"):
            if stale.name not in self.executed:
                stale.unlink()

    @staticmethod
    def docname(name: str) -> str:
        return f"tutorials/{Path(name).stem}"

    def key(self, name: str) -> str:
        return str(self.executed[name])

    def executed_text(self, name: str) -> str:
        future = self.futures.pop(name, None)
        if future is not None:
            logger.info(f"bayesnet docs: executed {name} in {future.result():.1f} s")
        return self.executed[name].read_text(encoding="utf-8")

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None


def _timed_execute(source: Path, target: Path) -> float:
    start = time.perf_counter()
    execute_notebook(source, target)
    return time.perf_counter() - start


def outdated(app: Sphinx, env, added, changed, removed) -> list[str]:
    """Pages to read again although their files did not change.

    When the code, data or benchmark files changed since the last build, every page: the API
    pages' docstrings, the concept pages' outputs and the tutorials may all differ (Sphinx itself
    only looks at the pages' own files). Otherwise the tutorials whose executed copy changed.
    """
    tut = app.bayesnet_tutorials
    previous = getattr(env, "bayesnet_code_digest", None)
    env.bayesnet_code_digest = tut.digest
    if previous is not None and previous != tut.digest:
        return sorted(set(env.found_docs) - set(added))
    keys = getattr(env, "bayesnet_tutorial_keys", {})
    return [tut.docname(n) for n in tut.executed if keys.get(tut.docname(n)) != tut.key(n)
            and tut.docname(n) not in added]


def without_widget_loaders(text: str) -> str:
    """A notebook's JSON without widget loaders: the HoloViews types of every output, and the outputs
    that carried nothing else (:data:`WIDGET_LOADER_TYPES`)."""
    nb = json.loads(text)
    for cell in nb.get("cells", []):
        kept = []
        for out in cell.get("outputs", []):
            data = out.get("data")
            if data:
                if set(data) <= WIDGET_LOADER_TYPES:
                    continue
                out["data"] = {k: v for k, v in data.items() if not k.startswith("application/vnd.holoviews")}
            kept.append(out)
        if "outputs" in cell:
            cell["outputs"] = kept
    return json.dumps(nb)


def tutorial_source(app: Sphinx, docname: str, source: list[str]) -> None:
    """The executed notebook in place of the stored one."""
    tut = app.bayesnet_tutorials
    for name in tut.executed:
        if tut.docname(name) == docname:
            source[0] = without_widget_loaders(tut.executed_text(name))
            if not hasattr(app.env, "bayesnet_tutorial_keys"):
                app.env.bayesnet_tutorial_keys = {}
            app.env.bayesnet_tutorial_keys[docname] = tut.key(name)


def write_sources() -> int:
    """``_generated/sources.csv`` from the model's sources table; returns the number of rows."""
    import bayesnet

    table = bayesnet.load_model().sources()
    buf = io.StringIO()
    table.to_csv(buf, index=False, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\n")
    _write_if_changed(GENERATED / "sources.csv", buf.getvalue().encode())
    return len(table)


def _help(args: list[str]) -> str:
    """What ``bayesnet ARGS --help`` prints in an 80-column terminal (the real command, run in this process)."""
    from click.testing import CliRunner

    from bayesnet.cli import cli

    # click wraps help at the terminal's width less 2: 78 in an 80-column terminal
    result = CliRunner().invoke(cli, [*args, "--help"], prog_name="bayesnet", terminal_width=78)
    if result.exit_code != 0:
        raise RuntimeError(f"bayesnet {' '.join(args)} --help exited with {result.exit_code}: {result.output}")
    return result.output.rstrip() + "\n"


def write_cli() -> list[str]:
    """``_generated/cli.md``: the help of the group and of each command; returns the command names."""
    import click

    from bayesnet.cli import cli

    ctx = click.Context(cli, info_name="bayesnet")
    commands = cli.list_commands(ctx)
    parts = ["(cli-bayesnet)=", "## `bayesnet`", "", "```text", _help([]).rstrip(), "```", ""]
    for name in commands:
        parts += [f"(cli-{name})=", f"## `bayesnet {name}`", "", "```text", _help([name]).rstrip(), "```", ""]
    _write_if_changed(GENERATED / "cli.md", "\n".join(parts).encode())
    return commands


def register_kernel(app: Sphinx) -> None:
    """A ``python3`` kernel spec for this interpreter, first on ``JUPYTER_PATH``."""
    from ipykernel.kernelspec import get_kernel_dict

    base = Path(app.doctreedir) / "jupyter"
    spec = base / "kernels" / "python3"
    spec.mkdir(parents=True, exist_ok=True)
    kernel = get_kernel_dict()
    kernel["argv"][0] = sys.executable
    (spec / "kernel.json").write_text(json.dumps(kernel, indent=1))
    paths = [str(base), *filter(None, os.environ.get("JUPYTER_PATH", "").split(os.pathsep))]
    os.environ["JUPYTER_PATH"] = os.pathsep.join(dict.fromkeys(paths))


def generate(app: Sphinx) -> None:
    register_kernel(app)
    app.bayesnet_tutorials = Tutorials(app)
    rows = write_sources()
    commands = write_cli()
    logger.info(f"bayesnet docs: {len(app.bayesnet_tutorials.executed)} tutorials, {rows} sources, "
                f"{len(commands)} commands")


def clear_stubs(app: Sphinx, config) -> None:
    """Remove autosummary's pages of the last build (``api/generated``) before it writes this build's.

    Autosummary never deletes a page: a stale one (an object renamed or moved) would still be read
    and clash with the new one.
    """
    shutil.rmtree(API_STUBS, ignore_errors=True)


def finish(app: Sphinx, exception) -> None:
    tutorials = getattr(app, "bayesnet_tutorials", None)
    if tutorials is not None:
        tutorials.close()


def _alias_targets(target: str) -> list[str]:
    out = []
    for home, publics in ALIASES.items():
        for public in publics:
            if target.startswith(public) and not target.startswith(home):
                out.append(home + target[len(public):])
            if target.startswith(home):
                out.append(public + target[len(home):])
    return out


def resolve_alias(app: Sphinx, env, node, contnode):
    """A reference to a public alias (or to the home) of a documented object, relative names included."""
    if node.get("refdomain") != "py":
        return None
    domain = env.get_domain("py")
    target = node["reftarget"].lstrip("~.")
    module, cls = node.get("py:module"), node.get("py:class")
    names = [target]
    if module:
        names += [f"{module}.{cls}.{target}"] if cls else []
        names.append(f"{module}.{target}")
    for name in names:
        for alias in [name, *_alias_targets(name)]:
            if alias == node["reftarget"]:
                continue
            new = node.deepcopy()
            new["reftarget"] = alias
            res = domain.resolve_xref(env, node["refdoc"], app.builder, node["reftype"], alias, new, contnode)
            if res is not None:
                return res
    # a name relative to its class or module (``BackPainModel.posteriors``, ``Explorer``): the one
    # documented object whose full name ends with it
    if "." not in target or target.split(".")[0][:1].isupper():
        matches = {entry.node_id: name for name, entry in domain.find_obj(env, None, None, target, node["reftype"], 1)
                   if not entry.aliased}  # an object documented under its public name is listed at its home too
        matches = list(matches.values())
        if len(matches) == 1:
            new = node.deepcopy()
            new["reftarget"] = matches[0]
            return domain.resolve_xref(env, node["refdoc"], app.builder, node["reftype"], matches[0], new, contnode)
    return None


def setup(app: Sphinx) -> dict:
    app.connect("config-inited", clear_stubs)
    app.connect("builder-inited", generate)
    app.connect("env-get-outdated", outdated)
    app.connect("source-read", tutorial_source)
    app.connect("missing-reference", resolve_alias)
    app.connect("build-finished", finish)
    # the tutorials run in threads of the main process: reading in parallel (-j) would fork them away
    return {"parallel_read_safe": False, "parallel_write_safe": True}


__all__ = ["ALIASES", "Tutorials", "code_digest", "execute_notebook", "setup", "write_cli", "write_sources"]
