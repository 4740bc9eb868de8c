# Root conftest: keep pytest's doctest collection away from the module that runs the CLI, and give
# the engine's docstring examples a compiled network (pgmpy's bundled "asia") to run against.
import numpy as np
import pandas as pd
import pytest

collect_ignore = ["bayesnet/__main__.py"]


@pytest.fixture(autouse=True)
def _doctest_names(doctest_namespace):
    doctest_namespace.setdefault("np", np)
    doctest_namespace.setdefault("pd", pd)
    if "net" not in doctest_namespace:
        from benchmarks.harness import load_reference
        from bayesnet.inference.engine import compile_network

        doctest_namespace["net"] = compile_network(load_reference("asia"))
