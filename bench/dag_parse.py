"""DAG parse time per file, against a one-task baseline DAG parsed in the same run.

python bench/dag_parse.py [--repeat 10]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

DAGS = Path(__file__).resolve().parents[1] / "dags"
BASELINE = """
import pendulum
from airflow.sdk import dag, task

@dag(schedule=None, start_date=pendulum.datetime(2019, 1, 1, tz="UTC"), catchup=False)
def baseline_dag():
    @task
    def noop():
        return None
    noop()

baseline_dag()
"""


def parse_seconds(path: Path, repeat: int) -> float:
    from airflow.dag_processing.dagbag import DagBag

    times = []
    for _ in range(repeat):
        bag = DagBag(dag_folder=str(path.parent), collect_dags=False)
        t0 = time.perf_counter()
        found = bag.process_file(str(path))
        times.append(time.perf_counter() - t0)
        if not found:
            raise SystemExit(f"{path} defines no DAG: {bag.import_errors}")
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--repeat", type=int, default=10)
    a = p.parse_args(argv)
    sys.path[:0] = [str(DAGS.parent / "plugins"), str(DAGS)]
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "baseline_dag.py"
        base.write_text(BASELINE)
        parse_seconds(base, 1)  # warm imports shared by every file
        t_base = parse_seconds(base, a.repeat)
        print(f"{'file':32} {'median parse ms':>16} {'x baseline':>11}")  # noqa: T201
        print(f"{'(one-task baseline)':32} {t_base * 1000:16.1f} {1.0:11.2f}")  # noqa: T201
        for path in sorted(DAGS.glob("*.py")):
            t = parse_seconds(path, a.repeat)
            print(f"{path.name:32} {t * 1000:16.1f} {t / t_base:11.2f}")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
