"""Session-wide fixtures: one synthetic data home in the real layouts, locally made weights and one runs folder,
shared by the tests that run experiments (a run done by one test is skipped, by its config hash, in the next)."""
import pytest

from _home import make_home, weights


@pytest.fixture(scope="session")
def world(tmp_path_factory):
    d = tmp_path_factory.mktemp("smoke")
    return {"home": make_home(d / "home"), "w": weights(d / "w"), "runs": d / "runs", "dir": d,
            "env": {"CXRVIT_CACHE": str(d / "cache")}}
