"""Every notebook in notebooks/ runs top to bottom, and is stored without outputs (nbclient)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

# declared in the "test" extra: a broken install fails here instead of skipping
import ipykernel  # noqa: F401 (the kernel the notebooks run in)
import nbclient  # noqa: F401 (runs them: helpers.execute_notebooks)
import nbformat
import pytest

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
    "08_explorer_inline.ipynb",
]


def _kernel_manager():
    from helpers import notebook_kernel_manager

    return notebook_kernel_manager()


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


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path, executed_notebooks_dir):
    # the notebooks run once per session (conftest's executed_notebooks_dir, which the docs build reuses)
    failures = json.loads((executed_notebooks_dir / "failures.json").read_text())
    if path.name in failures:
        pytest.fail(failures[path.name], pytrace=False)
    nb = nbformat.read(executed_notebooks_dir / path.name, as_version=4)
    unrun = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.execution_count is None]
    assert not unrun, f"{path.name}: cells {unrun} did not run"
    if path.name == "01_quickstart.ipynb":
        # results display as their formatted tables with no HTML(...) boilerplate in the notebook
        assert "HTML(" not in "".join(c.source for c in nb.cells)
        shown = " ".join(str(o.get("data", {}).get("text/html", "")) for c in nb.cells for o in c.get("outputs", []))
        for view in ("bn-ranking", "bn-explanation", "bn-next-tests", "bn-uncertainty"):
            assert view in shown, f"01_quickstart.ipynb: no {view} table displayed"
