"""Helpers shared by the tests (importable, unlike conftest)."""

from __future__ import annotations

import os
import shutil
import warnings
from pathlib import Path

import pytest

SETTINGS = ("primary_care", "emergency", "emergency_suspected_pe", "suspected_cauda_equina")


def query(ve, variable, evidence=None, virtual=None):
    """P(variable = first state | evidence) straight from pgmpy."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f = ve.query([variable], evidence=evidence or None, virtual_evidence=virtual, show_progress=False)
    return dict(zip(f.state_names[variable], f.values))


# ---------------------------------------------------------------------------------- notebooks
NOTEBOOKS_DIR = Path(__file__).resolve().parent.parent / "notebooks"


def notebook_kernel_manager():
    """A kernel manager for the ``python3`` kernel of the running interpreter.

    Whatever kernelspecs are registered on the machine (a user-level ``python3`` pointing at another
    Python, say), the notebooks run in the environment running the tests; nothing is installed or
    registered.
    """
    from ipykernel.kernelspec import RESOURCES, get_kernel_dict
    from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
    from jupyter_client.manager import KernelManager

    class ThisInterpreter(KernelSpecManager):
        def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
            return KernelSpec(resource_dir=RESOURCES, **get_kernel_dict())

    return KernelManager(kernel_name="python3", kernel_spec_manager=ThisInterpreter())


def execute_notebooks(paths, out_dir, workers: int = 2) -> dict[str, str]:
    """Run every notebook top to bottom (from ``notebooks/``), writing each executed copy to ``out_dir``.

    Returns ``{name: message}`` for the notebooks that failed (the failing cell, its error and its
    source); the executed copy of a failed notebook is written too, up to the failing cell.
    """
    from concurrent.futures import ThreadPoolExecutor

    import nbclient
    import nbformat
    from nbclient.exceptions import CellExecutionError

    def run(path) -> tuple[str, str | None]:
        nb = nbformat.read(path, as_version=4)
        client = nbclient.NotebookClient(nb, km=notebook_kernel_manager(), kernel_name="python3", timeout=300,
                                         resources={"metadata": {"path": str(NOTEBOOKS_DIR)}})
        error = None
        try:
            client.execute()
        except CellExecutionError as exc:
            index, source = next(((i, c.source) for i, c in enumerate(nb.cells)
                                  if any(o.get("output_type") == "error" for o in c.get("outputs", []))), (None, ""))
            error = f"{path.name}: cell {index} raised {exc.ename}: {exc.evalue}\n--- cell {index} ---\n{source}"
        nbformat.write(nb, out_dir / path.name)
        return path.name, error

    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(run, paths))
    return {name: error for name, error in results if error is not None}


# ---------------------------------------------------------------------------------- browser tests
REQUIRED = os.environ.get("BAYESNET_REQUIRE_BROWSER") == "1"
# Flags for a closed network and a root user: no sandbox, no background connections to Google.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]


def browser_unavailable(reason: str) -> None:
    if REQUIRED:
        pytest.fail(f"{reason} (BAYESNET_REQUIRE_BROWSER=1: the browser tests must run)", pytrace=False)
    pytest.skip(reason)


def chromium_path() -> str | None:
    """Debian's Chromium: ``$BAYESNET_CHROMIUM``, else ``chromium`` / ``chromium-browser`` on the PATH."""
    env = os.environ.get("BAYESNET_CHROMIUM")
    if env:
        return env if Path(env).exists() else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


#: Every visible element inside an element (shadow roots included) within it horizontally, and none clipping
#: its content sideways (a scroll bar or hidden overflow): [] when what is in it fits. Called with the element.
OVERFLOW_JS = """(output) => {
  const box = output.getBoundingClientRect();
  const bad = [];
  const name = (el) => el.tagName.toLowerCase() + '.' + String(el.className || '').split(' ').slice(0, 3).join('.');
  const visit = (root) => {
    for (const el of root.querySelectorAll('*')) {
      if (el.shadowRoot) visit(el.shadowRoot);
      if (['STYLE', 'SCRIPT', 'LINK'].includes(el.tagName) || !el.getClientRects().length) continue;
      const b = el.getBoundingClientRect();
      if (b.width === 0 || b.height === 0) continue;
      if (b.right > box.right + 1 || b.left < box.left - 1)
        bad.push(`${name(el)} [${(el.innerText || '').slice(0, 40)}] spans `
                 + `${Math.round(b.left)}-${Math.round(b.right)} px`);
      if (getComputedStyle(el).overflowX !== 'visible' && el.scrollWidth > el.clientWidth + 1)
        bad.push(`${name(el)} clips ${el.scrollWidth} px of content to ${el.clientWidth}`);
    }
  };
  visit(output);
  return bad;
}"""
