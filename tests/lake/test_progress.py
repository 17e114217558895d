"""Progress lines of long work: loops with and without a known total, XGBoost rounds, Spark stages."""

from __future__ import annotations

import logging
import time

import pytest

from shoplake.progress import Progress, SparkProgress

LOGGER = "shoplake.test_progress"


def _messages(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER]


def test_long_runs_log_progress_with_rate_and_eta(caplog):
    log = logging.getLogger(LOGGER)
    with caplog.at_level(logging.INFO, logger=LOGGER):
        p = Progress(10, "rows scored", log, every_s=3600)
        p.update(4)  # not yet: the interval has not passed
        p.update(6)  # the end is always logged
        p.finish()  # already logged: no second line
    assert [m.split(" (")[0] for m in _messages(caplog)] == ["rows scored: 10 / 10"]
    assert "/s, ETA 0 s)" in _messages(caplog)[0]


def test_a_stream_of_unknown_length_logs_counts_and_rate_and_a_final_line(caplog):
    log = logging.getLogger(LOGGER)
    with caplog.at_level(logging.INFO, logger=LOGGER):
        p = Progress(None, "source reviews read", log, every_s=0)
        p.update(3)
        p.every_s = 3600
        p.update(2)
        p.finish()
    lines = _messages(caplog)
    assert [m.split(" (")[0] for m in lines] == ["source reviews read: 3", "source reviews read: 5"]
    assert all("ETA" not in m and m.endswith("/s)") for m in lines)


def test_slow_rates_keep_two_significant_digits(caplog):
    log = logging.getLogger(LOGGER)
    with caplog.at_level(logging.INFO, logger=LOGGER):
        p = Progress(100, "model fits", log, every_s=0)
        p.started -= 10.0  # 1 fit in 10 s
        p.update(1)
    assert "(0.1/s, ETA 990 s)" in _messages(caplog)[0]


def test_xgboost_training_logs_rounds_done_of_the_total_with_the_validation_auc(caplog):
    np = pytest.importorskip("numpy")
    xgb = pytest.importorskip("xgboost")
    from shoplake.ml.xgb import round_progress

    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3))
    y = (x[:, 0] > 0).astype(int)
    dtrain, dvalid = xgb.DMatrix(x[:150], label=y[:150]), xgb.DMatrix(x[150:], label=y[150:])
    callback = round_progress(8, "steam_purchase boosting rounds", every_s=0)
    with caplog.at_level(logging.INFO, logger="shoplake.ml.xgb"):
        params = {"eval_metric": "auc", "max_depth": 2}
        xgb.train(params, dtrain, 8, evals=[(dtrain, "train"), (dvalid, "valid")], callbacks=[callback])
    lines = [r.getMessage() for r in caplog.records if "boosting rounds" in r.getMessage()]
    assert len(lines) == 8
    assert lines[-1].startswith("steam_purchase boosting rounds (auc ")
    assert ": 8 / 8 (" in lines[-1]


class _Stage:
    def __init__(self, stage_id, done, total, name="parquet at x", failed=0):
        self.stageId, self.numCompletedTasks, self.numTasks = stage_id, done, total
        self.name, self.numFailedTasks = name, failed


class _Tracker:
    """A status tracker whose running stages the test sets (Spark's API: ids, then info per id)."""

    def __init__(self):
        self.stages: list[_Stage] = []

    def getActiveStageIds(self):
        return [s.stageId for s in self.stages]

    def getStageInfo(self, stage_id):
        return next((s for s in self.stages if s.stageId == stage_id), None)

    def getJobIdsForGroup(self, group=None):
        return []


class _Session:
    def __init__(self, tracker):
        self.sparkContext = type("Ctx", (), {"statusTracker": lambda _self: tracker})()


def test_spark_progress_sums_running_stages_and_names_the_busiest():
    tracker = _Tracker()
    progress = SparkProgress(_Session(tracker))
    assert progress.line() is None  # nothing running: nothing to say
    tracker.stages = [_Stage(3, 10, 200, "parquet at curate"), _Stage(4, 5, 5)]
    progress._last_poll -= 1.0
    line = progress.line()
    assert line.startswith("spark: 2 stages running, tasks 15 / 205 (")
    assert line.endswith("stage 3 'parquet at curate' 10 / 200")
    tracker.stages = [_Stage(3, 110, 200, "parquet at curate", failed=2)]
    progress._last_poll = time.monotonic() - 2.0  # 100 tasks in 2 s → 50/s, 90 left → ETA 2 s
    line = progress.line()
    assert "tasks 110 / 200 (50/s, ETA 2 s)" in line
    assert line.endswith(", 2 failed")


@pytest.mark.spark
def test_a_spark_step_logs_its_running_stage_while_it_runs(spark, caplog):
    def slow(rows):
        time.sleep(0.6)
        return rows

    with (
        caplog.at_level(logging.INFO, logger=LOGGER),
        SparkProgress(spark, every_s=0.2, logger=logging.getLogger(LOGGER)),
    ):
        assert spark.sparkContext.parallelize(range(8), 4).mapPartitions(slow).count() == 8
    lines = _messages(caplog)
    assert any(m.startswith("spark: 1 stage running, tasks ") and " / 4 (" in m for m in lines), lines
    assert lines[-1].startswith("spark: step finished in ")
    assert lines[-1].endswith("(1 Spark job)")


def test_beating_logs_while_one_long_call_gives_no_update(caplog):
    import logging
    import time

    from shoplake.progress import Progress

    caplog.set_level(logging.INFO)
    p = Progress(4096, "texts embedded", logging.getLogger("beat-test"), every_s=0.2)
    with p.beating():
        time.sleep(0.9)  # one chunk through a slow encoder: no update in between
        p.update(4096)
    working = [r.getMessage() for r in caplog.records if "so far, working" in r.getMessage()]
    assert len(working) >= 2
    assert working[0].startswith("texts embedded: 0 / 4096 so far, working (")
    time.sleep(0.5)
    after = len([r for r in caplog.records if "so far, working" in r.getMessage()])
    assert after == len(working)  # the beat stops with the block
