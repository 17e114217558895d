"""DagBag integrity and house policies for every DAG file."""

import subprocess
import sys
import time
from pathlib import Path

import pytest

DAGS = Path(__file__).resolve().parents[2] / "dags"
DAG_FILES = sorted(p for p in DAGS.glob("*.py") if not p.name.startswith("_"))
#: every DAG is tagged with its source, what it does (stages) and what runs it (engines); subjects are optional
SOURCES = {"steam", "sparkify", "telco", "clickstream", "sephora", "twitter", "lake"}  # lake: every source's tables
STAGES = {"ingest", "training", "scoring", "maintenance"}
ENGINES = {"spark", "mllib", "xgboost", "gpu", "delta"}
SUBJECTS = {"sentiment", "purchase", "churn", "recommendations", "tweets", "reviews"}
ALLOWED_TAGS = SOURCES | STAGES | ENGINES | SUBJECTS
HEAVY = ("pandas", "pyspark", "torch", "transformers", "xgboost", "pymongoarrow", "pymongo", "boto3")
PARSE_BUDGET_S = 2.0


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS))


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}
    assert len(dagbag.dags) >= 1


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_each_file_parses_within_budget(path, dagbag):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS), collect_dags=False)
    start = time.perf_counter()
    found = bag.process_file(str(path))
    elapsed = time.perf_counter() - start
    assert found, f"{path.name} defines no DAG"
    assert elapsed < PARSE_BUDGET_S, f"{path.name} took {elapsed:.2f}s to parse"


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_no_heavy_imports_at_parse_time(path):
    code = (
        f"import sys, runpy\nrunpy.run_path({str(path)!r})\nprint(','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1:] in ([], [""]), f"imported at parse time: {out.stdout}"


def test_policies(dagbag):
    for dag_id, dag in dagbag.dags.items():
        assert Path(dag.fileloc).stem == dag_id, "file stem == dag_id"
        assert dag.doc_md, f"{dag_id}: Markdown doc_md"
        assert dag_id in dag.doc_md, f"{dag_id}: doc_md names the DAG"
        tags = set(dag.tags)
        assert tags <= ALLOWED_TAGS, f"{dag_id}: tags {dag.tags}"
        assert len(tags & SOURCES) == 1, f"{dag_id}: one source tag of {sorted(SOURCES)}"
        assert tags & STAGES, f"{dag_id}: a stage tag of {sorted(STAGES)}"
        assert tags & ENGINES, f"{dag_id}: an engine tag of {sorted(ENGINES)}"
        assert dag.description, f"{dag_id}: a one-line description (the DAG list shows it)"
        assert "\n" not in dag.description, dag_id
        assert len(dag.description) <= 120, dag_id
        assert dag.catchup is False, f"{dag_id}: catchup must be explicit and off"
        # any day a source holds can be run: a logical date before start_date would silently run no task
        assert dag.start_date.year <= 2000, f"{dag_id}: start_date {dag.start_date}"
        assert 1 <= dag.max_active_runs <= 4
        assert "ds" in dag.params, f"{dag_id}: a ds Param names the day of a manual run"
        for name in dag.params:
            assert dag.params.get_param(name).description, f"{dag_id}: Param {name} needs a description"
        # one rule for ds: every DAG starts by resolving it, and every job takes it from there
        assert dag.get_task("resolve_partition").upstream_task_ids == set(), dag_id
        for task in dag.tasks:
            assert task.retries >= 2, f"{dag_id}.{task.task_id}: retries >= 2"
            assert task.owner not in ("", None, "airflow"), f"{dag_id}.{task.task_id}: owner"


def test_steam_dag_shape(dagbag):
    dag = dagbag.dags["steam_reviews_daily"]
    assert type(dag.timetable).__name__ == "CronDataIntervalTimetable"
    assert sorted(dag.task_ids) == [
        "build_features",
        "check_curated",
        "check_enriched",
        "curate_steam_reviews",
        "extract_reviews",
        "load_reviews",
        "resolve_partition",
        "score_sentiment",
    ]
    assert dag.get_task("load_reviews").upstream_task_ids == {"resolve_partition"}
    assert dag.get_task("curate_steam_reviews").upstream_task_ids == {"extract_reviews"}
    assert dag.get_task("extract_reviews").upstream_task_ids == {"load_reviews", "resolve_partition"}
    assert dag.get_task("check_curated").upstream_task_ids == {"curate_steam_reviews", "extract_reviews"}
    assert dag.get_task("score_sentiment").upstream_task_ids == {"check_curated"}
    score = dag.get_task("score_sentiment")
    assert (score.queue, score.pool) == ("gpu", "gpu")
    assert score.argv[1].endswith("jobs/gpu/score_sentiment.py")
    assert " --precision auto --compile false" in " ".join(score.argv)  # SHOPLAKE_SENTIMENT_PRECISION / _COMPILE
    inlets = {t.task_id: [a.name for a in t.inlets] for t in dag.tasks if t.inlets}
    assert inlets == {
        "curate_steam_reviews": ["raw.steam_reviews"],
        "score_sentiment": ["curated.steam_reviews", "model.sentiment_head", "model.sentiment_multilingual"],
        "build_features": ["curated.steam_reviews", "enriched.steam_reviews"],
    }
    outlets = {t.task_id: [a.name for a in t.outlets] for t in dag.tasks if t.outlets}
    assert outlets == {
        "extract_reviews": ["raw.steam_reviews"],
        "check_curated": ["curated.steam_reviews"],
        "build_features": ["enriched.steam_purchase_features"],
        "check_enriched": ["enriched.steam_reviews"],
    }


def test_purchase_training_dag_shape(dagbag):
    dag = dagbag.dags["steam_purchase_model_weekly"]
    assert sorted(dag.task_ids) == [
        "check_features", "check_model", "choose_train_purchase_model_backend", "publish_copy", "resolve_partition",
        "train_purchase_model", "train_purchase_model_spark",
    ]  # fmt: skip
    assert dag.get_task("publish_copy").upstream_task_ids == {"check_model"}
    assert dag.get_task("check_features").upstream_task_ids == {"resolve_partition"}
    # data-aware: a day of features triggers it (and the weekly cron); check_features gates on min_new_days
    assert type(dag.timetable).__name__ == "AssetOrTimeSchedule"
    assert "enriched.steam_purchase_features" in str(dag.timetable.asset_condition)
    assert dag.params["min_new_days"] == 7
    # SHOPLAKE_TRAIN_BACKEND=auto: a branch on the window's rows picks the local or the Spark job
    choose = dag.get_task("choose_train_purchase_model_backend")
    assert choose.upstream_task_ids == {"check_features"}
    assert choose.downstream_task_ids == {"train_purchase_model", "train_purchase_model_spark"}
    assert dag.get_task("check_model").upstream_task_ids == {
        "check_features", "train_purchase_model", "train_purchase_model_spark"
    }  # fmt: skip
    assert dag.get_task("check_model").trigger_rule == "none_failed_min_one_success"
    assert [a.name for a in dag.get_task("check_model").outlets] == ["model.steam_purchase"]
    assert [a.name for a in dag.get_task("check_features").inlets] == ["enriched.steam_purchase_features"]
    for name in dag.params:
        assert dag.params.get_param(name).description, f"Param {name} needs a description"


@pytest.mark.parametrize(
    ("dag_id", "curate"),
    [
        ("sparkify_churn_daily", "curate_churn_source"),
        ("telco_churn_weekly", "curate_churn_source"),
        ("clickstream_churn_daily", "curate_churn_source"),
    ],
)
def test_churn_dag_shape(dagbag, dag_id, curate):
    dag = dagbag.dags[dag_id]
    source = dag_id.split("_")[0]
    events = "telco_customers" if source == "telco" else f"{source}_events"
    up = {t: dag.get_task(t).upstream_task_ids for t in dag.task_ids}
    assert up == {
        "resolve_partition": set(),
        curate: {"resolve_partition"},
        "check_curated": {"resolve_partition", curate},
        "build_churn_features": {"check_curated"},
        "check_features": {"resolve_partition", "build_churn_features"},
        "train_churn_models": {"check_features"},
        "check_model": {"resolve_partition", "train_churn_models"},
        "predict_churn": {"check_model", "check_features"},  # straight from the branch when training is skipped
        "check_predictions": {"resolve_partition", "predict_churn"},
    }
    assert dag.get_task("predict_churn").trigger_rule == "none_failed_min_one_success"
    assert type(dag.get_task("check_features")).__name__ == "_BranchPythonDecoratedOperator"
    outlets = {t.task_id: [a.name for a in t.outlets] for t in dag.tasks if t.outlets}
    assert outlets == {
        "check_curated": [f"raw.{events}", f"curated.{events}"],
        "check_features": [f"enriched.{source}_churn_features"],
        "check_model": [f"model.{source}_churn"],
        "check_predictions": [f"enriched.{source}_churn_predictions"],
    }
    inlets = {t.task_id: [a.name for a in t.inlets] for t in dag.tasks if t.inlets}
    assert inlets == {
        "build_churn_features": [f"curated.{events}"],
        "train_churn_models": [f"enriched.{source}_churn_features"],
        "predict_churn": [f"enriched.{source}_churn_features", f"model.{source}_churn"],
    }
    train = dag.get_task("train_churn_models")
    assert "jobs/spark/train_churn_models.py" in train.application
    assert "{{ params.models | join(',') }}" in train.application_args
    assert ("window_days" in dag.params) is (source != "telco")
    assert ("churn_pages" in dag.params) is (source == "sparkify")
    assert ("label_horizon_hours" in dag.params) is (source == "clickstream")
    for name in dag.params:
        assert dag.params.get_param(name).description, f"Param {name} needs a description"
