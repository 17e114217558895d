"""One way to publish a trained model: :func:`publish_model_version`, called by every pipeline's training.

The tail every training shares, in this order:

1. **Gate against the named baselines** (``Gate.baselines``: e.g. a per-game rate, a constant, the majority class),
   scored on the same held-out rows as the model. A model that does not beat the strongest of them is never
   promoted, and the version says so (``metrics.json`` → ``gate``). The comparison is MLflow's model validation
   (``mlflow.validate_evaluation_results``), and the verdict is tagged on the MLflow run (``gate.*``).
2. **Score the champion** on the same rows (``Gate.champion_score``; its recorded score where it cannot be).
3. **Write the version**: the model's files plus ``metrics.json`` (with the gate's verdict) and
   ``config.json.snapshot``, committed as ``model/<name>/version=<ds>/`` (a file commit: nothing half-copied).
4. **Track it in MLflow** the same way for every model: one run, one new version of the registered model ``<name>``.
5. **Move the champion pointer last** — ``model/<name>/current.json`` — when the model beats its strongest baseline
   and is not worse than the champion; then MLflow's ``champion`` alias follows it. When the strongest baseline
   wins and the version can serve it (``Gate.servable``: the purchase model's per-game rate from its game table,
   the tweet model's median, a majority class from the class shares the pointer carries), the pointer names *the
   baseline* (``"model"``, ``"baseline"``): it is what gets served, with its score.

**The source of truth is the lake's ``current.json``**: scoring jobs, the service and the Lake page read it, and it
exists without any tracking server. MLflow's ``champion`` alias is derived from it — moved only after the pointer
moved, to the MLflow version recorded in the pointer (``mlflow_version``) — so a tracking outage never changes what
is served, and a pointer moved by hand (a rollback) is what the next promotion compares against.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, is_dataclass, replace
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

METRICS_FILE = "metrics.json"
CONFIG_SNAPSHOT = "config.json.snapshot"


@dataclass(frozen=True)
class Gate:
    """How a new version is judged, on one set of held-out rows.

    Attributes:
        metric: the gating metric's name (``auc``, ``macro_f1``, ``mae``, ``ndcg_at_10``…).
        score: the new model's value of it.
        higher_is_better: False for an error (MAE).
        baselines: named baselines' values on the same rows (``{"per-game rate": 0.83, "constant": 0.5}``).
        champion_score: re-scores the champion (its pointer) on the same rows; None, returning None or raising:
            its recorded score is used (the failure logged). It may return ``{"score", "lead"}`` — the lead the
            model's paired bootstrap over the champion's predictions of the same rows — and then the model replaces
            the champion only when that interval is above zero (not merely not worse).
        servable: baselines this version's files can serve, with the pointer fields that name them
            (``{"median": {"model": "median"}}``): when the strongest baseline wins and is servable, *it* is
            published as the champion — a baseline is a legitimate champion, served the same way.
        leads: the model's lead over each named baseline on a paired bootstrap of the same held-out rows
            (:func:`shoplake.ml.metrics.paired_lead`: ``{"lead", "ci95", "resamples"}``, positive = the model
            better whatever the metric's direction). The model beats its strongest baseline only when the lower
            bound of that interval is above zero: a lead inside the noise is no lead.
        unranked: why these held-out rows cannot rank a model above a baseline at all (too few rows of a class:
            ``"4 retained users < 30"``); ``""`` when they can. Non-empty: the model does not beat its baseline.
        vetoes: other evaluations the model lost beyond noise (``{"unseen games": "why"}``): a model that beats its
            strongest baseline here but loses there is not promoted, and the verdict says which.
    """

    metric: str
    score: float
    higher_is_better: bool = True
    baselines: Mapping[str, float] = field(default_factory=dict)
    champion_score: Callable[[dict[str, Any]], float | Mapping[str, Any] | None] | None = None
    servable: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    leads: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    unranked: str = ""
    vetoes: Mapping[str, str] = field(default_factory=dict)

    def better(self, a: float, b: float) -> bool:
        """Whether ``a`` beats ``b`` strictly on this metric."""
        return a > b if self.higher_is_better else a < b

    def strongest_baseline(self) -> tuple[str, float] | None:
        """The baseline hardest to beat, or None without any."""
        if not self.baselines:
            return None
        pick = max if self.higher_is_better else min
        name = pick(self.baselines, key=lambda k: self.baselines[k])
        return name, float(self.baselines[name])


@dataclass(frozen=True)
class Tracking:
    """What MLflow records of the run (see :func:`shoplake.ml.tracking.track_version`)."""

    mlflow_uri: str
    params: Mapping[str, Any] = field(default_factory=dict)
    metrics: Mapping[str, Any] = field(default_factory=dict)
    booster: Any = None
    tags: Mapping[str, str] = field(default_factory=dict)
    experiment: str = ""
    #: the registered version's source below the committed version (a Spark model saved in ``model/``)
    model_subdir: str = ""
    #: files of the version not logged as the run's artifacts (weights the registered version's source holds)
    skip_artifacts: tuple[str, ...] = ()


#: ``off``: a model that does not beat its strongest baseline may still be promoted (the verdict says so) — for a
#: deployment that must serve *a* model while its data is too thin for one to earn its place; ``on`` by default
BASELINE_GATE_ENV = "SHOPLAKE_BASELINE_GATE"


def baseline_gate_on() -> bool:
    """Whether losing to the strongest baseline blocks promotion (``SHOPLAKE_BASELINE_GATE``, default ``on``)."""
    value = os.environ.get(BASELINE_GATE_ENV, "on").strip().lower()
    if value not in ("on", "off"):
        raise ValueError(f"{BASELINE_GATE_ENV}={value!r}: use on or off")
    return value == "on"


def _rescored(gate: Gate, champion: dict[str, Any]) -> float | Mapping[str, Any] | None:
    """The champion re-scored on this run's held-out rows; None (then its recorded score is used) when there is no
    re-scoring or the champion cannot be scored (unreadable files, an older model's features…)."""
    if gate.champion_score is None:
        return None
    try:
        return gate.champion_score(champion)
    except Exception as exc:
        log.warning("champion %s not scorable on these held-out rows (%s); its recorded %s is used",
                    champion.get("path"), exc, gate.metric)  # fmt: skip
        return None


def beats_baseline(gate: Gate, baseline: float) -> bool:
    """Whether the model beats ``baseline`` on the gate's metric, decided by MLflow's own model validation
    (``mlflow.validate_evaluation_results`` with a ``MetricThreshold``: candidate against baseline, greater or
    smaller is better as the metric says, a strict improvement)."""
    import mlflow
    from mlflow.models import MetricThreshold
    from mlflow.models.evaluation import EvaluationResult
    from mlflow.models.evaluation.validation import ModelValidationFailedException

    threshold = MetricThreshold(min_absolute_change=STRICTLY, greater_is_better=gate.higher_is_better)
    try:
        mlflow.validate_evaluation_results(
            {gate.metric: threshold},
            EvaluationResult({gate.metric: float(gate.score)}, {}),
            EvaluationResult({gate.metric: float(baseline)}, {}),
        )
    except ModelValidationFailedException as exc:
        log.info("MLflow model validation: %s", str(exc).strip().splitlines()[-1])
        return False
    return True


#: the smallest improvement over a baseline that counts (MLflow's ``min_absolute_change`` must be positive)
STRICTLY = 1e-12


def _fmt_ci(ci: Any) -> str:
    return f"[{ci[0]:+.4f}, {ci[1]:+.4f}]" if ci else "[undefined]"


def _against_baseline(gate: Gate, strongest: tuple[str, float] | None) -> tuple[bool, str, dict[str, Any] | None]:
    """``(beats, why not, the lead)`` of the model against its strongest baseline: a strict improvement (MLflow's
    validation), on rows that can rank (``Gate.unranked``), by a lead whose paired-bootstrap interval is above 0."""
    if strongest is None:
        return True, "", None
    name, score = strongest
    lead = gate.leads.get(name)
    model = f"the model's {gate.metric} {gate.score:.4f}"
    if gate.unranked:
        return False, (f"these held-out rows cannot rank a model above the baseline {name!r}: {gate.unranked} "
                       f"({model} against {score:.4f} is not evidence)"), lead  # fmt: skip
    if not beats_baseline(gate, score):
        return False, f"{model} does not beat the baseline {name!r} ({score:.4f}) on the same held-out rows", lead
    if lead is not None and not (lead.get("ci95") and lead["ci95"][0] > 0):
        return False, (f"{model} against the baseline {name!r} ({score:.4f}) is a lead within the noise: its "
                       f"paired-bootstrap 95 % interval {_fmt_ci(lead.get('ci95'))} on the same held-out rows is not "
                       "above zero"), lead  # fmt: skip
    if gate.vetoes:
        lost = "; ".join(f"{where}: {why}" for where, why in gate.vetoes.items())
        return False, f"{model} beats the baseline {name!r} ({score:.4f}) but loses elsewhere — {lost}", lead
    return True, "", lead


def verdict(gate: Gate, champion: dict[str, Any] | None, ds: str) -> dict[str, Any]:
    """The gate's decision before anything is written: ``{"metric", "score", "higher_is_better", "baseline",
    "baseline_score", "beats_baseline", "leads", "unranked", "vetoes", "champion_version", "champion_score",
    "champion_lead", "serves", "published_score", "promote", "reason"}``."""
    strongest = gate.strongest_baseline()
    beats, why, lead = _against_baseline(gate, strongest)
    enforced = baseline_gate_on()
    champ, champ_lead = None, None
    if champion is not None and champion.get("version") != ds:  # a rerun of the champion's own day replaces it
        champ = _rescored(gate, champion)
        if isinstance(champ, Mapping):  # re-scored with the model's paired lead over it
            champ, champ_lead = champ.get("score"), champ.get("lead")
        if champ is None and isinstance(champion.get(gate.metric), int | float):
            champ = float(champion[gate.metric])
    serves_baseline = not beats and enforced and strongest is not None and strongest[0] in gate.servable
    published = strongest[1] if serves_baseline else gate.score  # type: ignore[index]
    # where the champion's predictions were re-scored, the paired lead decides (its point scores may differ in the
    # last bit from the model's on a rerun of the same model: "worse" by 1e-16 is no verdict)
    not_worse = (champ_lead is not None and not serves_baseline) or champ is None or published == champ \
        or gate.better(published, champ)  # fmt: skip
    # a model replaces a champion whose predictions were re-scored only by a lead beyond noise over it
    holds = serves_baseline or champ_lead is None or bool(champ_lead.get("ci95") and champ_lead["ci95"][0] > 0)
    if serves_baseline and not_worse:
        reason = f"the baseline {strongest[0]!r} is published as the champion: {why}"  # type: ignore[index]
    elif not beats and enforced:
        reason = f"not promoted: {why}"
    elif not not_worse:
        reason = f"not promoted: {gate.metric} {published:.4f} is worse than the champion's {champ:.4f}"
    elif not holds:
        reason = (f"not promoted: the model's {gate.metric} {published:.4f} against the champion's {champ:.4f} "
                  f"(version {champion.get('version')}) is a lead within the noise, paired-bootstrap 95 % interval "  # type: ignore[union-attr]
                  f"{_fmt_ci(champ_lead.get('ci95'))} on the same held-out rows: the champion stays")  # type: ignore[union-attr]  # fmt: skip
    elif not beats:
        reason = f"promoted although {why}: {BASELINE_GATE_ENV}=off"
    else:
        reason = "promoted" + (f": beats the baseline {strongest[0]!r} ({strongest[1]:.4f})" if strongest else "")
        if lead is not None:
            reason += f", lead {_fmt_ci(lead.get('ci95'))} (paired bootstrap 95 %)"
    return {
        "metric": gate.metric,
        "score": gate.score,
        "higher_is_better": gate.higher_is_better,
        "baselines": dict(gate.baselines),
        "baseline": strongest[0] if strongest else None,
        "baseline_score": strongest[1] if strongest else None,
        "beats_baseline": beats,
        "leads": {k: dict(v) for k, v in gate.leads.items()},
        "unranked": gate.unranked,
        "vetoes": dict(gate.vetoes),
        "champion_version": champion.get("version") if champion else None,
        "champion_score": champ,
        "champion_lead": dict(champ_lead) if champ_lead else None,
        "serves": strongest[0] if serves_baseline else "model",  # type: ignore[index]
        "published_score": published,
        "promote": (beats or not enforced or serves_baseline) and not_worse and holds,
        "reason": reason,
    }


def publish_model_version(
    *,
    lake_root: str,
    name: str,
    ds: str,
    gate: Gate,
    metrics: dict[str, Any],
    config: Any,
    local_dir: Path,
    staged: str | None = None,
    tracking: Tracking | None = None,
    pointer: Mapping[str, Any] | None = None,
    cards: Callable[[dict[str, Any]], Mapping[str, str]] | None = None,
) -> dict[str, Any]:
    """Write, gate, track and (maybe) promote one version of model ``name`` for ``ds``; see the module docstring.

    Args:
        gate: the metric, the model's score, the named baselines and the champion's re-scoring.
        metrics: the version's ``metrics.json`` (the gate's verdict is added under ``gate``).
        config: the run's config (a dataclass or a dict), saved as ``config.json.snapshot``.
        local_dir: a local folder with the version's files (model, plots); ``metrics.json`` and the config
            snapshot are written into it. MLflow logs its files as the run's artifacts.
        staged: a lake folder a Spark job saved the model to; ``local_dir``'s files join it and it is committed
            as the version (deleted if anything fails first). None: ``local_dir`` is the whole version.
        tracking: what MLflow records (None: not tracked, e.g. tracking off for this run).
        pointer: more fields for ``current.json`` when promoted (the winning model's name, a revision…).
        cards: documents that say the gate's verdict (a model card): called with it, returns ``{file name: text}``.

    Returns:
        ``{"path", "promoted", "metric", "score", "baseline", "baseline_score", "champion_score", "reason"}`` and
        ``mlflow_run_id`` / ``mlflow_model_version`` when tracked (small: for XCom).
    """
    from shoplake.ml.registry import promote_if_not_worse, read_current
    from shoplake.ml.tracking import set_champion

    decided = verdict(gate, read_current(lake_root, name), ds)
    metrics = {**metrics, "gate": {k: v for k, v in decided.items() if k != "promote"}}
    snapshot = asdict(config) if is_dataclass(config) else dict(config)
    documents = {METRICS_FILE: json.dumps(metrics, indent=2, sort_keys=True, default=str),
                 CONFIG_SNAPSHOT: json.dumps(snapshot, indent=2, sort_keys=True, default=str)}  # fmt: skip
    if cards is not None:
        documents.update(cards(metrics["gate"]))
    for file, text in documents.items():
        (local_dir / file).write_text(text)
    path = _commit(local_dir, lake_root, name, ds, staged)
    if tracking is not None:  # the verdict where MLflow users look for it: the run's tags
        verdict_tags = {"gate.reason": decided["reason"], "gate.beats_baseline": str(decided["beats_baseline"]),
                        "gate.baseline": str(decided["baseline"]), "gate.promote": str(decided["promote"]),
                        "gate.serves": str(decided["serves"])}  # fmt: skip
        tracking = replace(tracking, tags={**tracking.tags, **verdict_tags})
    tracked = _track(tracking, path, local_dir, lake_root, name, ds, gate) if tracking is not None else {}
    promoted = False
    if decided["promote"]:
        extra = {**(pointer or {}), **({"mlflow_version": tracked["model_version"]} if tracked else {}),
                 "verdict": _pointer_verdict(decided)}  # fmt: skip
        if decided["serves"] != "model":  # the version serves its winning baseline, named in the pointer
            extra = {**extra, **gate.servable[decided["serves"]], "baseline": decided["serves"]}
        moved = promote_if_not_worse(
            lake_root, name, ds, metric=gate.metric, score=decided["published_score"],
            higher_is_better=gate.higher_is_better,
            champion_score=lambda _c: decided["champion_score"], extra=extra,
        )  # fmt: skip
        promoted = moved["promoted"]
        if promoted and tracked:  # the alias follows the pointer, never the other way round
            set_champion(tracked["tracking_uri"], name, tracked["model_version"])
    log.info("model %s version %s: %s", name, ds, decided["reason"] if promoted or not decided["promote"] else
             "not promoted: the champion moved meanwhile")  # fmt: skip
    return {
        "path": path,
        "promoted": promoted,
        "metric": gate.metric,
        "score": gate.score,
        "baseline": decided["baseline"],
        "baseline_score": decided["baseline_score"],
        "champion_score": decided["champion_score"],
        "serves": decided["serves"],
        "reason": decided["reason"],
        **{f"mlflow_{k}": v for k, v in tracked.items() if k != "tracking_uri"},
    }


def _pointer_verdict(decided: dict[str, Any]) -> dict[str, Any]:
    """What the pointer carries of the gate's verdict (the service's ``GET /models`` shows it): the reason, the
    baseline, the lead's paired-bootstrap interval over it and why the rows could not rank, if they could not."""
    lead = decided["leads"].get(decided["baseline"]) or {}
    return {"reason": decided["reason"], "baseline": decided["baseline"], "lead_ci95": lead.get("ci95"),
            "unranked": decided["unranked"]}  # fmt: skip


def _commit(local_dir: Path, lake_root: str, name: str, ds: str, staged: str | None) -> str:
    """``local_dir`` (joined to the ``staged`` lake folder when a Spark job saved the model there) committed as
    ``model/<name>/version=<ds>/``; a failed commit leaves nothing staged."""
    from shoplake.io.lake import filesystem
    from shoplake.ml.registry import commit_version, publish_dir

    if staged is None:
        return publish_dir(local_dir, lake_root, name, ds)
    fs, root = filesystem(staged)
    try:
        for f in sorted(local_dir.iterdir()):
            if f.is_file():
                fs.put_file(str(f), f"{root.rstrip('/')}/{f.name}")
        return commit_version(staged, lake_root, name, ds)
    finally:
        if fs.exists(root):  # moved into the version on success; a failed commit leaves nothing staged
            fs.rm(root, recursive=True)


def _track(
    tracking: Tracking, path: str, local_dir: Path, lake_root: str, name: str, ds: str, gate: Gate
) -> dict[str, str]:
    """One MLflow run and one new version of the registered model ``name`` (its source the committed version)."""
    from shoplake.ml.tracking import track_version

    source = f"{path}/{tracking.model_subdir}" if tracking.model_subdir else path
    for heavy in tracking.skip_artifacts:  # the lake version holds them; the run logs what is left
        target = local_dir / heavy
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    return track_version(
        tracking.mlflow_uri, lake_root, model_name=name, ds=ds, params=dict(tracking.params),
        metrics={**tracking.metrics, f"gate_{gate.metric}": gate.score}, artifacts_dir=local_dir,
        model_source=source, booster=tracking.booster, tags=dict(tracking.tags), experiment=tracking.experiment,
    )  # fmt: skip
