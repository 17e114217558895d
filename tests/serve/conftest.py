"""A lake with the service's models, built once for the service's tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="package")
def lake(tmp_path_factory) -> str:
    pytest.importorskip("xgboost")
    from serve_lake import build

    root = str(tmp_path_factory.mktemp("serve") / "lake")
    build(root)
    return root
