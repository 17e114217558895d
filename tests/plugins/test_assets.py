"""Asset identities: one URI per name, and the same ones wherever the lake is (a moved lake keeps its assets)."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

LIST_ASSETS = """
import json
from airflow.sdk import Asset
import shoplake_airflow.assets as a

def walk(value):
    if isinstance(value, Asset):
        yield (value.name, value.uri)
    elif isinstance(value, dict):
        for v in value.values():
            yield from walk(v)
    elif isinstance(value, tuple):
        for v in value:
            yield from walk(v)

print(json.dumps(sorted({key for value in vars(a).values() for key in walk(value)})))
"""


def _assets_under(lake_root: str, results_root: str = "") -> list[tuple[str, str]]:
    env = {**os.environ, "SHOPLAKE_LAKE_ROOT": lake_root, "SHOPLAKE_RESULTS_ROOT": results_root}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "plugins"), env.get("PYTHONPATH", "")])
    out = subprocess.run([sys.executable, "-c", LIST_ASSETS], env=env, capture_output=True, text=True, check=True)
    return [tuple(x) for x in json.loads(out.stdout)]


def test_assets_keep_their_identity_when_the_lake_moves(tmp_path):
    here = _assets_under(str(tmp_path / "lake"))
    assert len(here) > 40  # every zone of every pipeline, the churn sources' included
    assert _assets_under("s3://another-bucket/lake", "gs://partner/results") == here
    names = [name for name, _ in here]
    uris = [uri for _, uri in here]
    assert len(set(names)) == len(names) == len(set(uris)), "one URI per asset name and one name per URI"
    for name, uri in here:
        zone, dataset = name.split(".", 1)
        assert uri == f"x-shoplake://{'results' if zone == 'results' else 'lake/' + zone}/{dataset}"
        assert str(tmp_path) not in uri
