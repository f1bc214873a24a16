"""The experiments/ layout (issue 19): rooms with a map, and the old flat module names as
deprecated aliases."""

import importlib
import sys
from pathlib import Path

import pytest

import driftrec.experiments as experiments
from driftrec.experiments import MOVED

ROOT = Path(experiments.__file__).parent


def test_the_package_docstring_is_a_map_of_every_room():
    rooms = sorted(p.name for p in ROOT.iterdir() if p.is_dir() and p.name != "__pycache__")
    assert rooms == ["cli", "common", "configs", "diagnostics", "offline", "online", "studies", "sweeps"]
    for room in rooms:
        assert f"- ``{room}``:" in experiments.__doc__, room
        if room != "configs":  # data only
            assert importlib.import_module(f"driftrec.experiments.{room}").__doc__, room
    # no module left outside a room
    assert [p.name for p in ROOT.glob("*.py")] == ["__init__.py"]


@pytest.mark.parametrize("old", sorted(MOVED))
def test_old_module_names_still_import_with_a_deprecation_warning(old):
    name, new = f"driftrec.experiments.{old}", f"driftrec.experiments.{MOVED[old]}"
    sys.modules.pop(name, None)
    with pytest.warns(DeprecationWarning, match=f"{name} moved to {new}"):
        module = importlib.import_module(name)
    assert module is importlib.import_module(new)
    sys.modules.pop(name, None)


def test_unknown_names_are_not_aliased():
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("driftrec.experiments.no_such_module")


def test_no_module_of_the_package_is_over_400_lines():
    """Issue 19: small modules, each with one job."""
    package = ROOT.parent
    rooms = ("encoders", "simulators", "envs", "agents", "experiments")
    files = [package / "__init__.py", *(f for room in rooms for f in (package / room).rglob("*.py"))]
    long = {str(f.relative_to(package)): n for f in files if (n := len(f.read_text().splitlines())) > 400}
    assert len(files) > 50 and not long, long
