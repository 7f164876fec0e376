"""Registers the repository root as the package ``powers_of_ten`` so tests import it by that name."""

import importlib.util
import pathlib
import sys

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]


def _register_package(name: str) -> None:
    if name in sys.modules:
        return
    spec = importlib.util.spec_from_file_location(
        name, REPO_ROOT / "__init__.py", submodule_search_locations=[str(REPO_ROOT)]
    )
    package = importlib.util.module_from_spec(spec)
    sys.modules[name] = package
    spec.loader.exec_module(package)


_register_package("powers_of_ten")
