"""The package's map (cifar_mlp/__init__.py's docstring) names every module of the package,
so that a new module cannot be left off it."""

import pkgutil
import re

import cifar_mlp


def test_the_map_names_every_module_of_the_package():
    named = set(re.findall(r"\b([a-z_]+)\b", cifar_mlp.__doc__))
    modules = {info.name for info in pkgutil.iter_modules(cifar_mlp.__path__)}
    assert modules - named == set()
