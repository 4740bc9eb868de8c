# Root conftest: keep pytest's doctest collection away from the module that runs the CLI.
collect_ignore = ["bayesnet/__main__.py"]
