import gzip
import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from shoplake.config import Settings
from shoplake.ingest.steam_source import SourceError, fetch_api_reviews, read_saved_responses


def _review(rid, ts):
    return {"recommendationid": str(rid), "timestamp_created": ts, "review": f"r{rid}"}


def test_saved_responses_dict_and_list_shapes(tmp_path):
    with gzip.open(tmp_path / "review_10.json.gz", "wt") as fh:
        json.dump({"query_summary": {}, "reviews": {"1": _review(1, 5), "2": _review(2, 6)}}, fh)
    (tmp_path / "review_730.json").write_text(json.dumps({"reviews": [_review(3, 7)]}))
    (tmp_path / "notes.txt").write_text("ignored")
    recs = list(read_saved_responses(tmp_path))
    assert [(r.appid, r.review["recommendationid"], r.source) for r in recs] == [
        (10, "1", "review_10.json.gz"),
        (10, "2", "review_10.json.gz"),
        (730, "3", "review_730.json"),
    ]


def test_an_unreadable_file_is_skipped_with_its_reason_and_the_others_still_load(tmp_path):
    with pytest.raises(FileNotFoundError, match="SHOPLAKE_STEAM_SOURCE"):
        list(read_saved_responses(tmp_path))
    (tmp_path / "review_1.json").write_text("")  # 0 bytes
    (tmp_path / "review_2.json").write_text('{"reviews": {"5": {"recommendationid": "5"')  # truncated
    (tmp_path / "review_3.json").write_text(json.dumps({"reviews": 3}))
    with gzip.open(tmp_path / "review_4.json.gz", "wb") as fh:
        fh.write(json.dumps({"reviews": [_review(9, 7)]}).encode())
    (tmp_path / "review_5.json.gz").write_bytes((tmp_path / "review_4.json.gz").read_bytes()[:20])  # cut gzip
    (tmp_path / "review_6.json").write_text(json.dumps({"reviews": [_review(8, 7)]}))
    recs = list(read_saved_responses(tmp_path))
    errors = {r.source: r.error for r in recs if r.error}
    assert sorted(errors) == ["review_1.json", "review_2.json", "review_3.json", "review_5.json.gz"]
    assert "unreadable review response" in errors["review_1.json"]
    assert "expected an object or a list" in errors["review_3.json"]
    assert all(r.review is None for r in recs if r.error)
    assert [(r.appid, r.review["recommendationid"]) for r in recs if not r.error] == [(4, "9"), (6, "8")]


def test_real_sample_reads_every_review(steam_sample):
    recs = list(read_saved_responses(steam_sample))
    assert len(recs) == 22044  # SOURCE.md
    assert len({r.appid for r in recs}) == 101


class _FakeSteam(BaseHTTPRequestHandler):
    """Serves three pages of app 10 (newest first), one page of app 20; records the cursors asked for."""

    pages: ClassVar[dict] = {
        ("10", "*"): ([_review(30, 300), _review(29, 290)], "c1"),
        ("10", "c1"): ([_review(28, 280), _review(27, 100)], "c2"),
        ("10", "c2"): ([_review(26, 90)], "c3"),
        ("20", "*"): ([_review(40, 400)], "*"),
    }
    asked: ClassVar[list] = []

    def do_GET(self):
        parsed = urllib.parse.urlparse(self.path)
        appid = parsed.path.rsplit("/", 1)[-1]
        cursor = urllib.parse.parse_qs(parsed.query)["cursor"][0]
        self.asked.append((appid, cursor))
        reviews, nxt = self.pages[(appid, cursor)]
        body = json.dumps({"success": 1, "reviews": reviews, "cursor": nxt}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_live_endpoint_pages_until_the_window_start():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeSteam)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        _FakeSteam.asked.clear()
        url = f"http://127.0.0.1:{server.server_port}/appreviews/{{appid}}"
        recs = list(fetch_api_reviews((10, 20), start_ts=200, url_template=url))
    finally:
        server.shutdown()
    # page c1 already reaches before the window start (100 < 200): page c2 is never asked for
    assert _FakeSteam.asked == [("10", "*"), ("10", "c1"), ("20", "*")]
    assert [r.review["recommendationid"] for r in recs] == ["30", "29", "28", "27", "40"]
    assert {r.appid for r in recs} == {10, 20}


def test_live_endpoint_failure_is_an_error():
    def failing(url):
        return {"success": 2}

    with pytest.raises(SourceError, match="without success"):
        list(fetch_api_reviews((10,), start_ts=0, url_template="http://x/{appid}", get_json=failing))


def test_api_source_needs_app_ids():
    from shoplake.pipelines.steam_reviews import source_records
    from shoplake.window import Window

    cfg = Settings(lake_root="/tmp/x", steam_source="api")
    with pytest.raises(ValueError, match="SHOPLAKE_STEAM_APP_IDS"):
        source_records(cfg.steam_source_dir, Window.for_day("2019-03-01"), app_ids=cfg.steam_app_ids)
