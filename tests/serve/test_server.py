"""The service as users meet it: uvicorn on 127.0.0.1 under concurrent HTTP clients, and the page in a real
browser (headless Debian chromium driven by Playwright; skipped where chromium is absent)."""

from __future__ import annotations

import contextlib
import json
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

pytestmark = pytest.mark.integration  # a real server on a port (and a browser)


@contextlib.contextmanager
def _serving(lake: str, sentiment_model: str):
    import uvicorn
    from object_stores import free_port
    from serve_lake import settings_for

    from shoplake.serve.app import create_app

    port = free_port()
    app = create_app(settings_for(lake, sentiment_model, pointer_ttl_s=5.0))
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def server(service_lake, tiny_sentiment_model):
    with _serving(service_lake, tiny_sentiment_model) as url:
        yield url


def test_many_concurrent_clients_get_consistent_answers(server):
    import httpx

    texts = ["fun", "awful", "fine I guess", "best purchase ever"]
    with httpx.Client(base_url=server, timeout=30) as c:
        one = c.post("/predict/sentiment", json={"texts": texts}).json()["predictions"]

        def call(i: int) -> tuple[int, list]:
            with httpx.Client(base_url=server, timeout=30) as own:
                r = own.post("/predict/sentiment", json={"texts": texts})
                r2 = own.get("/recommendations/u1")
                return r.status_code + r2.status_code, r.json()["predictions"]

        with ThreadPoolExecutor(16) as pool:
            results = list(pool.map(call, range(64)))
    assert all(code == 400 for code, _ in results)  # 200 + 200
    assert all(preds == one for _, preds in results)


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(_chromium() is None, reason="needs Debian's chromium (apt-get install chromium)")
def test_a_person_picks_a_model_types_and_sees_the_prediction(server):
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=_chromium(), args=["--no-sandbox"])
        page = browser.new_page()
        page.goto(server + "/")
        assert page.title() == "shoplake predictions"
        page.wait_for_function("document.getElementById('version').textContent.includes('current version')")

        page.fill("#text", "Loved it, fifty hours in and still fun")
        page.click("#predict")
        page.wait_for_function("document.getElementById('summary').textContent.includes('positive_prob')")
        assert '"sentiment_status": "scored"' in page.text_content("#result")

        page.select_option("#model", "engagement")
        page.wait_for_function("document.body.dataset.example === 'engagement'")  # the page's example is in place
        assert page.is_visible("#followers")
        page.fill("#text", "Flash sale #shopee gratis ongkir")
        page.fill("#followers", "12000")
        page.click("#predict")
        page.wait_for_function("document.getElementById('summary').textContent.includes('Predicted engagement')")
        assert '"model_version": "2022-12-22"' in page.text_content("#result")

        page.select_option("#model", "recommendations")
        page.wait_for_function("document.body.dataset.example === 'recommendations'")
        page.fill("#ident", "u1")
        page.click("#predict")
        page.wait_for_function("document.getElementById('summary').textContent.includes('(als)')")

        page.select_option("#model", "purchase")  # the rows box starts as the service's example: pressed as offered
        page.wait_for_function("/\"appid\": \\d+/.test(document.getElementById('rows').value)")
        page.click("#predict")
        page.wait_for_function("document.getElementById('summary').textContent.includes('P(purchase)')")
        page.fill("#rows", '[{"appid": 570, "review_chars": 120, "positive_prob": 0.9}]')
        page.click("#predict")
        page.wait_for_function("document.getElementById('result').textContent.includes('\"probability\"')")

        page.select_option("#model", "churn/telco")  # no telco model in this lake: the page says why
        assert "not available" in page.text_content("#version")
        page.click("#predict")
        page.wait_for_function("document.getElementById('result').className === 'error'")
        assert "telco_churn_weekly" in page.text_content("#result")
        browser.close()


@pytest.mark.skipif(_chromium() is None, reason="needs Debian's chromium (apt-get install chromium)")
def test_a_person_gives_a_review_its_title_and_the_stars_read_it(tmp_path, service_lake, tiny_sentiment_model):
    """The five-class model fitted on text and title: the page offers a title box, sends what is typed there, and a
    different title gives a different answer."""
    playwright = pytest.importorskip("playwright.sync_api")

    lake = _lake_with_titled_five_class_model(tmp_path, service_lake)
    with _serving(lake, tiny_sentiment_model) as url, playwright.sync_playwright() as p:
        browser, page = _open_page(p, url)
        assert not page.is_visible("#title")
        page.select_option("#model", "review_sentiment")
        page.wait_for_function("document.body.dataset.example === 'review_sentiment'")
        assert page.input_value("#title") == "Soft skin, strong scent"  # the service's example, title included

        def answer(title: str) -> str:
            page.fill("#text", "It smells lovely but fades in an hour")
            page.fill("#title", title)
            page.evaluate("document.getElementById('result').textContent = ''")
            page.click("#predict")
            page.wait_for_function("document.getElementById('summary').textContent.includes('stars')")
            return page.text_content("#result")

        untitled, titled = answer(""), answer("Disappointed, returned it")
        assert '"probabilities"' in untitled
        assert titled != untitled
        browser.close()


@pytest.mark.skipif(_chromium() is None, reason="needs Debian's chromium (apt-get install chromium)")
def test_every_pick_fills_that_models_own_example_and_predicts_on_it(tmp_path, service_lake, tiny_sentiment_model):
    """A newcomer picks each model in turn and presses Predict on what the page offers: every box holds that model's
    own example (never the last model's text or id), and each model the lake holds answers."""
    playwright = pytest.importorskip("playwright.sync_api")

    from shoplake.serve.schemas import EXAMPLE_PRODUCT_REVIEW, EXAMPLE_REVIEW, EXAMPLE_TWEET

    lake = _lake_with_titled_five_class_model(tmp_path, service_lake)
    with _serving(lake, tiny_sentiment_model) as url, playwright.sync_playwright() as p:
        browser, page = _open_page(p, url)
        options = page.eval_on_selector_all("#model option", "os => os.map(o => [o.value, o.textContent])")
        names = dict(options)
        assert "Steam" in names["sentiment"]
        assert "five classes" in names["review_sentiment"]
        predicted = {}
        for key, _ in options:
            page.select_option("#model", key)
            version = page.text_content("#version")
            if "not available" in version:  # this lake has no such model (Spark trains it): the page says what to run
                predicted[key] = "unavailable"
                continue
            page.wait_for_function(f"document.body.dataset.example === {key!r}")
            if key == "sentiment":
                assert page.input_value("#text") == EXAMPLE_REVIEW
            elif key == "review_sentiment":
                assert page.input_value("#text") == EXAMPLE_PRODUCT_REVIEW
                assert page.input_value("#title")
            elif key == "engagement":
                assert page.input_value("#text") == EXAMPLE_TWEET
                assert page.input_value("#hashtags") == "shopee, promo"
                assert page.input_value("#followers") == "1200"
            elif key == "purchase":
                rows = json.loads(page.input_value("#rows"))
                assert isinstance(rows[0]["appid"], int)
                assert any(v is not None for c, v in rows[0].items() if c not in ("appid", "recommendationid")), rows
            elif key == "recommendations":
                assert page.input_value("#ident") == "u1"
            elif key == "similar":
                assert page.input_value("#ident") == "p1"  # a product id, not the user id of the last pick
            page.evaluate("document.getElementById('summary').textContent = ''")
            page.click("#predict")
            page.wait_for_function("document.getElementById('summary').textContent !== ''")
            assert page.get_attribute("#result", "class") != "error", (key, page.text_content("#result"))
            predicted[key] = page.text_content("#summary")
        browser.close()
    assert {k for k, v in predicted.items() if v != "unavailable"} >= {
        "sentiment", "review_sentiment", "engagement", "purchase", "recommendations", "similar",
    }, predicted  # fmt: skip


def _lake_with_titled_five_class_model(tmp_path, service_lake) -> str:
    """A copy of the service's lake whose five-class model reads titles (a tiny head, promoted)."""
    from tiny_models import build_titled_five_class_head

    from shoplake.ml.registry import promote_if_not_worse

    lake = str(tmp_path / "lake")
    shutil.copytree(service_lake, lake)
    shutil.copytree(
        build_titled_five_class_head(tmp_path / "titled"), f"{lake}/model/review_sentiment/version=2026-11-30"
    )
    promote_if_not_worse(lake, "review_sentiment", "2026-11-30", metric="macro_f1", score=0.5)
    return lake


def _open_page(p, url: str):
    """Chromium on the service's page, once it shows the first model's version."""
    browser = p.chromium.launch(executable_path=_chromium(), args=["--no-sandbox"])
    page = browser.new_page()
    page.goto(url + "/")
    page.wait_for_function("document.getElementById('version').textContent.includes('current version')")
    return browser, page
