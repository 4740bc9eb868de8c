"""Every notebook in notebooks/ runs top to bottom, and is stored without outputs (nbclient)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

# declared in the "test" extra: a broken install fails here instead of skipping
import ipykernel  # noqa: F401 (the kernel the notebooks run in)
import nbclient
import nbformat

from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient.exceptions import CellExecutionError

NOTEBOOKS_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))
EXPECTED = [
    "01_quickstart.ipynb",
    "02_teaching_red_flags.ipynb",
    "03_batch_what_if.ipynb",
    "04_uncertainty_sensitivity.ipynb",
    "05_engine_vs_pgmpy_pyagrum.ipynb",
    "06_red_flag_rules.ipynb",
    "07_recalibration.ipynb",
]


class _ThisInterpreter(KernelSpecManager):
    """The ``python3`` kernel of the running interpreter (ipykernel's own spec, built on ``sys.executable``).

    Whatever kernelspecs are registered on the machine (a user-level ``python3`` pointing at another
    Python, say), the notebooks run in the environment running the tests; nothing is installed or
    registered.
    """

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        from ipykernel.kernelspec import RESOURCES, get_kernel_dict

        return KernelSpec(resource_dir=RESOURCES, **get_kernel_dict())


def _kernel_manager() -> KernelManager:
    return KernelManager(kernel_name="python3", kernel_spec_manager=_ThisInterpreter())


def test_kernel_is_this_interpreter():
    argv = _kernel_manager().kernel_spec.argv
    assert Path(argv[0]).resolve() == Path(sys.executable).resolve()


def test_every_notebook_is_listed_and_stripped():
    assert set(EXPECTED) <= {p.name for p in NOTEBOOKS}
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        for i, cell in enumerate(nb.cells):
            if cell.cell_type == "code":
                assert not cell.outputs, f"{path.name}: cell {i} has stored outputs (run notebooks/_build.py)"
                assert cell.execution_count is None, f"{path.name}: cell {i} has an execution count"


def test_notebooks_match_their_build_script(tmp_path):
    spec = importlib.util.spec_from_file_location("_nb_build", NOTEBOOKS_DIR / "_build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    def content(path: Path) -> list:
        nb = json.loads(path.read_text())  # cells only: the format version depends on the installed nbformat
        return [(c["cell_type"], "".join(c["source"])) for c in nb["cells"]]

    for built in module.build(tmp_path):
        stored = NOTEBOOKS_DIR / built.name
        assert content(built) == content(stored), f"{built.name} differs from notebooks/_build.py: rebuild it"


def _failing_cell(nb) -> tuple[int | None, str]:
    for i, cell in enumerate(nb.cells):
        if any(o.get("output_type") == "error" for o in cell.get("outputs", [])):
            return i, cell.source
    return None, ""


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path):
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        km=_kernel_manager(),
        kernel_name="python3",
        timeout=300,
        resources={"metadata": {"path": str(NOTEBOOKS_DIR)}},
    )
    try:
        client.execute()
    except CellExecutionError as exc:
        index, source = _failing_cell(nb)
        pytest.fail(
            f"{path.name}: cell {index} raised {exc.ename}: {exc.evalue}\n--- cell {index} ---\n{source}",
            pytrace=False,
        )
    if path.name == "01_quickstart.ipynb":
        # results display as their formatted tables with no HTML(...) boilerplate in the notebook
        assert "HTML(" not in "".join(c.source for c in nb.cells)
        shown = " ".join(str(o.get("data", {}).get("text/html", "")) for c in nb.cells for o in c.get("outputs", []))
        for view in ("bn-ranking", "bn-explanation", "bn-next-tests", "bn-uncertainty"):
            assert view in shown, f"01_quickstart.ipynb: no {view} table displayed"
