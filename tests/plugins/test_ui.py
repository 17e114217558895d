"""The Lake page of the Airflow UI: the FastAPI app, its registration, and the page in a real browser."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from lake_overview import build_lake, png

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


@pytest.fixture
def client(tmp_path, monkeypatch):
    from fastapi.testclient import TestClient

    from shoplake_airflow import settings as settings_mod
    from shoplake_airflow import ui

    lake = str(tmp_path / "lake")
    build_lake(lake)
    monkeypatch.setenv("SHOPLAKE_LAKE_ROOT", lake)
    settings_mod.settings.cache_clear()
    ui.app.dependency_overrides[ui.signed_in_user] = lambda: "tester"
    yield TestClient(ui.app)
    ui.app.dependency_overrides.clear()
    settings_mod.settings.cache_clear()


def test_the_page_shows_each_model_and_each_dataset_partition(client):
    page = client.get("/")
    assert page.status_code == 200
    text = page.text
    assert '<tr data-model="shop_model">' in text
    assert "0.8125" in text
    assert "12,000" in text
    assert '<tr data-model="draft_model">' in text
    assert 'data-by-language="sentiment_multilingual"' in text
    assert "cross-lingual transfer" in text
    assert (
        "learnt from labels of: en (1,500 rows); cross-lingual transfer (no labels of their own in training): de, th"
        in text
    )
    english = text.split('data-languages-note="sentiment_head">')[1].split("</p>")[0]
    assert "held one language only (en): no other language could be evaluated" in english
    tweets = text.split('<tr data-model="tweet_engagement">')[1].split("</tr>")[0]
    assert "median" in tweets
    assert "a constant baseline" in tweets
    assert "a constant baseline" not in text.split('<tr data-model="shop_model">')[1].split("</tr>")[0]
    gate = text.split('data-gate="shop_model">')[1].split("</table>")[0]  # the model beside its baselines
    assert "per-game rate (baseline)" in gate
    assert "promoted: beats the baseline" in gate
    lead = gate.split('data-baseline="per-game rate">')[1].split("</tr>")[0]  # the lead's interval beside its score
    assert "0.0125 – 0.11" in lead
    classes = text.split('data-per-class="shop_model">')[1].split("</table>")[0]  # every class, its interval, a note
    negative = classes.split('data-class="negative">')[1].split("</tr>")[0]
    assert "0.55" in negative
    assert "0 – 0.86" in negative
    assert "an anecdote: 4 held-out 1-star reviews" in negative
    assert 'data-class="positive"' in classes
    assert "none promoted" in text
    assert 'src="api/models/shop_model/plots/feature_importance.png"' in text
    assert '<base href="/">' in text  # plots and links resolve under the prefix the app is mounted at
    raw = text.split('data-dataset="raw/shop_events"')[1].split("</details>")[0]
    assert '<tr data-ds="2024-01-02">' in raw
    assert raw.index("2024-01-02") < raw.index("2024-01-01")
    assert '<td class="num quarantined warn">2</td>' in raw
    assert "price is not a number (2)" in text


def test_json_routes_and_plots(client):
    models = {m["name"]: m for m in client.get("/api/models").json()}
    assert models["shop_model"]["metrics"]["held_out_rows"] == 12000
    assert client.get("/api/models/shop_model").json()["current"] == "2024-01-01"
    plot = client.get("/api/models/shop_model/plots/roc.png")
    assert (plot.status_code, plot.headers["content-type"], plot.content) == (200, "image/png", png())
    sets = client.get("/api/datasets", params={"zone": "raw", "limit": 1}).json()
    assert [(d["name"], [p["ds"] for p in d["partitions"]], d["total_partitions"]) for d in sets] == [
        ("shop_events", ["2024-01-02"], 2)
    ]


def test_each_table_lists_its_commits_and_opens_a_day_at_an_older_version(client, tmp_path):
    import pyarrow as pa

    from shoplake.io.lake import write_partition

    write_partition(pa.table({"id": ["rerun"]}), str(tmp_path / "lake/raw/shop_events/ds=2024-01-01"))
    page = client.get("/").text
    raw = page.split('data-dataset="raw/shop_events"')[1].split('data-dataset="')[0]
    assert "Delta table version" in raw
    newest, older = raw.split('<tr data-version="')[1:3]
    assert "WRITE" in newest
    assert "2024-01-01" in newest
    link = older.split('href="')[1].split('"')[0]
    assert link.startswith("datasets/raw/shop_events/2024-01-02?version=")  # the commit of that day, openable
    first_write = [c for c in client.get("/api/datasets", params={"zone": "raw"}).json()[0]["commits"]
                   if c["ds"] == "2024-01-01"][-1]  # fmt: skip
    old = client.get(f"/datasets/raw/shop_events/2024-01-01?version={first_write['version']}")
    assert old.status_code == 200
    assert f"Table version {first_write['version']} (read-only)" in old.text
    assert "rerun" not in old.text.split('id="rows"')[1]  # the day as it was before the rerun: 5 rows
    assert client.get("/api/datasets/raw/shop_events/2024-01-01").json()["head"] == [["rerun"]]
    assert client.get("/api/datasets/raw/shop_events/2024-01-01", params={"version": 999}).status_code == 404
    assert client.get("/api/datasets/raw/shop_events/not-a-day").status_code == 422
    assert client.get("/api/datasets/raw/nothing_here/2024-01-01").status_code == 404


def test_unknown_names_and_bad_queries_are_clear_client_errors(client):
    assert client.get("/api/models/nope").status_code == 404
    assert "no model 'nope'" in client.get("/api/models/nope").json()["detail"]
    assert client.get("/api/models/shop_model/plots/metrics.json").status_code == 404
    assert client.get("/api/models/shop_model/plots/..%2F..%2Fcurrent.json").status_code == 404
    assert client.get("/api/datasets", params={"zone": "attic"}).status_code == 422
    # the page answers a bad value with the page and what it did, never raw JSON
    for asked, says in ((0, "showing 1"), (1000, "outside 1–400 partitions per dataset: showing 400"),
                        ("lots", "not a number of partitions: showing 14")):  # fmt: skip
        page = client.get("/", params={"limit": asked})
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert says in page.text.split('id="notice">')[1].split("</p>")[0]
    assert 'id="notice"' not in client.get("/", params={"limit": 3}).text
    assert client.get("/api/datasets", params={"limit": 1000}).status_code == 422  # the JSON route keeps its 422


def test_every_route_needs_a_signed_in_airflow_user(tmp_path):
    from fastapi.testclient import TestClient

    from shoplake_airflow import ui

    anonymous = TestClient(ui.app)
    for route in ("/", "/api/models", "/api/datasets", "/api/models/shop_model/plots/roc.png"):
        assert anonymous.get(route).status_code == 401, route


def test_airflow_loads_the_plugin_with_its_app_and_nav_entry():
    result = subprocess.run(
        [str(BIN / "airflow"), "plugins", "--output", "json"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert '"name": "shoplake"' in result.stdout
    assert '"url_prefix": "/shoplake"' in result.stdout
    assert '"url_route": "shoplake-lake"' in result.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.slow
@pytest.mark.integration
@pytest.mark.skipif(_chromium() is None, reason="needs Debian's chromium (apt-get install chromium)")
def test_a_user_signs_in_opens_lake_from_the_nav_and_sees_models_plots_and_partitions(tmp_path):
    """A real API server and a real browser: sign in, click "Lake", read the page inside the UI's frame."""
    playwright = pytest.importorskip("playwright.sync_api")
    lake = tmp_path / "lake"
    build_lake(str(lake))
    port = _free_port()
    (tmp_path / "airflow").mkdir()
    passwords = tmp_path / "airflow" / "passwords.json"
    passwords.write_text('{"admin": "lake-viewer-pw"}')
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        "SHOPLAKE_LAKE_ROOT": str(lake),
    }
    subprocess.run([str(BIN / "airflow"), "db", "migrate"], env=env, check=True, capture_output=True, timeout=300)
    log = (tmp_path / "api.log").open("w")
    server = subprocess.Popen(
        [str(BIN / "airflow"), "api-server", "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/v2/monitor/health", timeout=2).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    pytest.fail(f"the API server did not come up:\n{(tmp_path / 'api.log').read_text()[-3000:]}")
                time.sleep(1)
        for token in ("", "not-a-jwt"):  # the API server's own auth manager turns strangers away
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(urllib.request.Request(f"{base}/shoplake/", headers=headers), timeout=10)
            assert refused.value.code in (401, 403)
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=_chromium(), args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{base}/")
            page.get_by_label("Username").fill("admin")
            page.get_by_label("Password").fill("lake-viewer-pw")
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(f"{base}/")
            page.get_by_role("link", name="Lake").click()
            page.wait_for_url("**/plugin/shoplake-lake")
            frame = page.wait_for_selector("iframe", timeout=30_000).content_frame()
            frame.wait_for_selector("#model-table", timeout=30_000)
            models = frame.inner_text("#model-table")
            assert "shop_model\t2024-01-01\t—\tauc\t0.8125" in models
            assert "median (a constant baseline" in models
            assert "draft_model\tnone promoted" in models
            by_language = frame.inner_text('[data-by-language="sentiment_multilingual"]').splitlines()
            assert by_language[0].split("\t") == ["language", "n", "negatives", "AUC", "95% CI", "VADER AUC", "note"]
            assert by_language[2].split("\t") == [
                "de",
                "100",
                "40",
                "0.81",
                "0.79 – 0.83",
                "0.55",
                "cross-lingual transfer",
            ]
            assert by_language[4].startswith("th\t20\t5\t—\t—\t—\ttoo few negatives")
            images = frame.eval_on_selector_all(
                ".plots img", "els => els.map(e => [e.getAttribute('alt'), e.complete && e.naturalWidth])"
            )
            assert images == [["shop_model feature_importance.png", 3], ["shop_model roc.png", 3]]
            raw = frame.inner_text('[data-dataset="raw/shop_events"] table')
            assert raw.splitlines()[1:] == [
                "2024-01-02\t3\t0\tgood 3, in 3, quarantined 0",
                "2024-01-01\t5\t2\tgood 5, in 7, quarantined 2",
            ]
            page.screenshot(path=str(tmp_path / "lake.png"))
            browser.close()
    finally:
        os.killpg(server.pid, 15)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, 9)
        log.close()


@pytest.mark.parametrize(
    ("url", "status", "says"),
    [
        ("/datasets/raw/shop_events/2024-01-01?version=999", 404, "has versions 0–"),
        ("/datasets/raw/shop_events/2024-01-01?version=abc", 422, "version='abc' is not a number"),
        ("/datasets/raw/shop_events/2024-01-01?version=-1", 422, "give a whole number (0 or more)"),
        ("/datasets/raw/shop_events/2024-01-01?limit=0", 422, "limit=0 is out of range"),
        ("/datasets/raw/nothing_here/2024-01-01", 404, "no table raw/nothing_here"),
        ("/datasets/raw/shop_events/1999-01-01", 404, "holds no ds=1999-01-01"),
        ("/datasets/raw/shop_events/2024-13-45", 422, "YYYY-MM-DD"),
        ("/datasets/raw/shop_events/not-a-day", 422, "YYYY-MM-DD"),
        ("/datasets/nowhere/shop_events/2024-01-01", 404, "There is no zone 'nowhere'"),
    ],
)
def test_the_day_page_answers_a_wrong_table_day_or_version_with_a_page(client, url, status, says):
    answer = client.get(url)
    assert answer.status_code == status
    assert answer.headers["content-type"].startswith("text/html")
    assert says in answer.text.replace("&#39;", "'")
    assert '<a href=".">← the Lake page</a>' in answer.text  # a way back, not a dead end
    assert not answer.text.lstrip().startswith("{")


def test_the_day_page_keeps_wide_rows_and_long_values_readable(client):
    import pyarrow as pa

    from shoplake.io.lake import write_partition
    from shoplake_airflow import settings as settings_mod

    lake = settings_mod.settings().lake_root
    wide = {f"column_{i:02d}": [f"value {i}"] for i in range(43)}
    wide["review_text"] = ["a long review " * 40]
    write_partition(pa.table(wide), f"{lake}/curated/wide_reviews/ds=2024-01-01")
    page = client.get("/datasets/curated/wide_reviews/2024-01-01").text
    assert '<div class="scroll">' in page.split('id="rows"')[0]  # the table scrolls inside its box
    cell = page.split('title="a long review')[1]
    assert cell.split(">", 1)[1].startswith('<div class="cell">')  # clipped to one line, the whole value on hover
