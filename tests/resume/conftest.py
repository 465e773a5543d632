"""What the crash and power-loss tests compare a resumed run with."""

from __future__ import annotations

import json

import pytest

from tests.resume.test_crash import Site


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Site:
    """A run no process interrupted: the orders and positions every resumed run must match."""
    site = Site(tmp_path_factory.mktemp("baseline"), protect=True)
    code, out, _ = site.cli("run", "--json")
    assert (code, json.loads(out)["state"]) == (0, "done")
    return site
