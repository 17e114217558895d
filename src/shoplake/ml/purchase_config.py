"""The purchase-model training config: light (no numpy, pandas or xgboost): DAG files read its defaults."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from shoplake.jobconfig import parse_job_args
from shoplake.paths import validate_ds

if TYPE_CHECKING:
    from shoplake.ml.purchase import XgbParams

TARGETS = ("steam_purchase", "voted_up")
#: model-zone name of each target's model
MODEL_NAMES = {"steam_purchase": "steam_purchase", "voted_up": "steam_voted_up"}


@dataclass(frozen=True)
class PurchaseTrainConfig:
    """Arguments of the training jobs (CLI flags are the kebab-case field names)."""

    ds: str
    lake_root: str
    window_days: int = 28
    target: str = "steam_purchase"
    test_fraction: float = 0.2
    valid_fraction: float = 0.1
    n_estimators: int = 400
    max_depth: int = 4
    learning_rate: float = 0.05
    subsample: float = 0.8
    colsample_bytree: float = 0.8
    min_child_weight: float = 1.0
    reg_lambda: float = 1.0
    scale_pos_weight: float = 0.0
    early_stopping_rounds: int = 30
    seed: int = 7
    device: str = "auto"
    mlflow_uri: str = ""
    backend: str = "local"
    #: a booster trained elsewhere (SageMaker's model.tar.gz or a model file): evaluate and publish it
    booster_path: str = ""
    #: only write SageMaker's train/validation channels here (the first task of the SageMaker backend)
    export_uri: str = ""
    min_rows: int = 200
    #: games with at least this many training rows get a one-hot feature (0 = no game features)
    app_min_reviews: int = 5

    def __post_init__(self) -> None:
        validate_ds(self.ds)
        if self.target not in TARGETS:
            raise ValueError(f"--target must be one of {TARGETS}")
        if self.window_days < 1:
            raise ValueError("--window-days must be >= 1")
        if not (0.05 <= self.test_fraction <= 0.5 and 0.0 <= self.valid_fraction <= 0.3):
            raise ValueError("--test-fraction must be within [0.05, 0.5] and --valid-fraction within [0, 0.3]")
        if not (self.n_estimators >= 1 and 1 <= self.max_depth <= 16 and 0 < self.learning_rate <= 1):
            raise ValueError("need --n-estimators >= 1, --max-depth in [1, 16], --learning-rate in (0, 1]")
        if not (0 < self.subsample <= 1 and 0 < self.colsample_bytree <= 1):
            raise ValueError("--subsample and --colsample-bytree must be within (0, 1]")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ValueError("--device must be auto, cpu or cuda")

    @classmethod
    def from_args(cls, argv: list[str] | None, doc: str | None) -> PurchaseTrainConfig:
        return parse_job_args(cls, argv, doc)

    @property
    def model_name(self) -> str:
        return MODEL_NAMES[self.target]

    @property
    def other_target(self) -> str:
        return next(t for t in TARGETS if t != self.target)

    def xgb_params(self) -> XgbParams:
        from shoplake.ml.purchase import XgbParams

        return XgbParams(
            n_estimators=self.n_estimators,
            max_depth=self.max_depth,
            learning_rate=self.learning_rate,
            subsample=self.subsample,
            colsample_bytree=self.colsample_bytree,
            min_child_weight=self.min_child_weight,
            reg_lambda=self.reg_lambda,
            scale_pos_weight=self.scale_pos_weight,
            early_stopping_rounds=self.early_stopping_rounds,
            seed=self.seed,
        )
