"""The development and CI environment is locked: `make` installs exactly the pinned versions.

pyproject.toml keeps open ranges for the library's users; requirements-dev.lock pins every
package of the core and the dev extra, their dependencies included, to versions that satisfy
those ranges, and the Makefile installs with it (`make lock` refreshes it deliberately).
"""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).parent.parent
LOCK = ROOT / "requirements-dev.lock"


def _pins() -> dict[str, str]:
    """The lock's pins for this platform and Python (a pin may differ by environment marker)."""
    pins = {}
    for line in LOCK.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            requirement = Requirement(line)
            if requirement.marker and not requirement.marker.evaluate():
                continue
            [spec] = requirement.specifier
            assert spec.operator == "==", line
            pins[canonicalize_name(requirement.name)] = spec.version
    return pins


def _declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    return [Requirement(r) for r in declared]


def _installed_closure() -> set[str]:
    """Every distribution the installed tradefsm[dev] needs here, dependencies included."""
    names: set[str] = set()
    seen: set[tuple[str, str]] = set()
    todo = [("tradefsm", ""), ("tradefsm", "dev")]
    while todo:
        dist, extra = todo.pop()
        if (dist, extra) in seen:
            continue
        seen.add((dist, extra))
        for text in metadata.requires(dist) or []:
            requirement = Requirement(text)
            if requirement.marker and not requirement.marker.evaluate({"extra": extra}):
                continue
            name = canonicalize_name(requirement.name)
            names.add(name)
            todo += [(name, e) for e in {"", *requirement.extras}]
    return names


def test_the_lock_pins_every_declared_dependency_within_its_range() -> None:
    pins = _pins()
    for requirement in _declared():
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is not in {LOCK.name}: run `make lock`"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"{name}=={pins[name]} in {LOCK.name} is outside {requirement}: run `make lock`"
        )


def test_the_lock_pins_every_installed_dependency_at_its_installed_version() -> None:
    pins = _pins()
    for name in _installed_closure():
        assert name in pins, f"{name} is installed for tradefsm[dev] but not pinned"
        assert metadata.version(name) == pins[name], f"{name}: run `make install`"


def test_make_installs_with_the_lock_and_can_refresh_it() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^\$\(STAMP\): pyproject\.toml \$\(LOCK\)$", makefile, re.MULTILINE)
    assert "LOCK := requirements-dev.lock" in makefile
    assert "pip install --quiet -c $(LOCK) -e '.[dev]'" in makefile
    recipe = makefile.split("\nlock:\n", 1)[1].split("\n\n", 1)[0]
    assert "pip install --quiet 'uv==$(UV_VERSION)'" in recipe
    assert "uv pip compile pyproject.toml --extra dev" in recipe
    assert "make lock" in (ROOT / "README.md").read_text(encoding="utf-8")
