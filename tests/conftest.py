"""Shared fixtures: priors, a model per setting, and a reference pgmpy inference."""

from __future__ import annotations

import os
import shutil
import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

import bayesnet
from bayesnet.data.priors import default_priors_dir, load_priors

# fast: CI's profile, derandomized so a run is reproducible (the same examples every time);
# long (BAYESNET_PROFILE=long): twenty times more examples, freshly random on every run
settings.register_profile(
    "fast",
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
settings.register_profile(
    "long", max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
settings.load_profile(os.environ.get("BAYESNET_PROFILE", "fast"))

from helpers import SETTINGS


@pytest.fixture(scope="session")
def priors_dir() -> Path:
    return default_priors_dir()


@pytest.fixture(scope="session")
def priors(priors_dir):
    return load_priors(priors_dir)


@pytest.fixture(scope="session")
def models(priors):
    return {s: bayesnet.BackPainModel(priors, s) for s in SETTINGS}


@pytest.fixture(scope="session")
def model(models):
    return models["primary_care"]


@pytest.fixture(scope="session")
def ve(models):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pgmpy.inference import VariableElimination
    return {s: VariableElimination(m.network) for s, m in models.items()}


@pytest.fixture
def priors_copy(tmp_path, priors_dir) -> Path:
    """A writable copy of the priors directory, for faulty-file tests."""
    dst = tmp_path / "priors"
    shutil.copytree(priors_dir, dst)
    return dst




@pytest.fixture(scope="session")
def executed_notebooks_dir(tmp_path_factory):
    """Every notebook of notebooks/ executed once per session (two at a time), for the notebook
    tests and the documentation build alike; failures are recorded in ``failures.json``."""
    import json

    from helpers import NOTEBOOKS_DIR, execute_notebooks

    out = tmp_path_factory.mktemp("executed_notebooks")
    failures = execute_notebooks(sorted(NOTEBOOKS_DIR.glob("*.ipynb")), out)
    (out / "failures.json").write_text(json.dumps(failures))
    return out


@pytest.fixture(scope="module")
def browser():
    """Headless Debian Chromium through Playwright, one per test module (the browser tests)."""
    from helpers import CHROMIUM_ARGS, browser_unavailable, chromium_path

    executable = chromium_path()
    if executable is None:
        browser_unavailable("Chromium is not installed (apt-get install chromium, or set BAYESNET_CHROMIUM)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        browser_unavailable("the playwright package is not installed (pip install '.[test]')")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


