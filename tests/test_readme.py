"""The README's set-up commands stay true: CI runs the same test command."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    test_cmd = 'python3 -m venv .venv && .venv/bin/pip install -q ".[test]" && .venv/bin/python -m pytest -q'
    assert test_cmd in readme
    assert test_cmd in ci
    assert "python3 -m venv .venv && .venv/bin/pip install -q . && .venv/bin/bayesnet diagnose" in readme
    assert readme.count("not a medical device") == 1
