"""Churn job config (light: no Spark import), shared by the four churn jobs and read by the DAGs for defaults."""

from __future__ import annotations

from dataclasses import dataclass

from shoplake.jobconfig import parse_job_args
from shoplake.paths import validate_ds
from shoplake.transforms.churn_sources import DATASETS, SOURCES


@dataclass(frozen=True)
class ChurnJobConfig:
    """Arguments of the churn jobs (CLI flags are the kebab-case field names)."""

    source: str
    ds: str
    lake_root: str
    #: the source's files (sparkify: the folder holding log_data/; telco: the CSV; clickstream: a CSV glob)
    source_path: str = ""
    window_days: int = 30
    #: Sparkify pages whose visit means churn, comma-separated
    churn_pages: str = "Cancellation Confirmation"
    #: clickstream: users with no event in the last this-many hours of the window have churned
    label_horizon_hours: float = 168.0
    models: str = "logistic_regression,random_forest,gbt,linear_svc"
    folds: int = 3
    grid: str = "small"
    test_fraction: float = 0.25
    seed: int = 42
    balance: bool = True
    parallelism: int = 2
    #: fewest users of each class (churned, stayed) needed to train; thinner labels skip training
    min_class_users: int = 10

    def __post_init__(self) -> None:
        validate_ds(self.ds)
        if self.source not in SOURCES:
            raise ValueError(f"--source must be one of {SOURCES}, got {self.source!r}")
        if self.window_days < 1 or self.label_horizon_hours <= 0:
            raise ValueError("--window-days must be >= 1 and --label-horizon-hours > 0")
        if not self.pages:
            raise ValueError("--churn-pages names at least one page")
        if self.min_class_users < 2 * self.folds:
            raise ValueError(f"--min-class-users must be >= 2 x --folds ({2 * self.folds})")

    @classmethod
    def from_args(cls, argv: list[str] | None, doc: str | None) -> ChurnJobConfig:
        return parse_job_args(cls, argv, doc)

    @property
    def pages(self) -> tuple[str, ...]:
        return tuple(p.strip() for p in self.churn_pages.split(",") if p.strip())

    @property
    def model_list(self) -> tuple[str, ...]:
        return tuple(m.strip() for m in self.models.split(",") if m.strip())

    @property
    def events_dataset(self) -> str:
        return DATASETS[self.source]

    @property
    def features_dataset(self) -> str:
        return f"{self.source}_churn_features"

    @property
    def predictions_dataset(self) -> str:
        return f"{self.source}_churn_predictions"

    @property
    def model_name(self) -> str:
        return f"{self.source}_churn"


def label_gate(users: int, churned: int, min_class_users: int) -> str:
    """Why a features partition cannot train a churn model (``""`` when it can).

    Both classes need ``min_class_users`` users: cross-validation folds and the held-out split each need some of
    the minority class, and a handful of churners gives scores that say nothing.
    """
    stayed = users - churned
    if churned < min_class_users or stayed < min_class_users:
        return (
            f"{churned} churned and {stayed} retained users; training needs >= {min_class_users} of each "
            "(widen window_days, change the churn definition or lower min_class_users)"
        )
    return ""
