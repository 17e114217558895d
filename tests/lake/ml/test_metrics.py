"""The paired lead of a model over a baseline (shoplake.ml.metrics): the interval of a difference, not two intervals."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from shoplake.ml.metrics import (
    auc_of_bins,
    auc_or_none,
    binned_auc_lead,
    paired_binned_auc_lead,
    paired_lead,
    too_few_of_a_class,
)


def test_a_real_lead_holds_on_the_paired_bootstrap_and_a_copy_of_the_baseline_does_not():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 400)
    baseline = y + rng.normal(0, 1.5, 400)
    better = y + rng.normal(0, 0.6, 400)
    lead = paired_lead(y, better, baseline, auc_or_none, seed=1)
    assert lead["lead"] == pytest.approx(roc_auc_score(y, better) - roc_auc_score(y, baseline))
    assert lead["ci95"][0] > 0
    assert lead["resamples"] == 1000
    same = paired_lead(y, baseline + 1e-9 * rng.normal(size=400), baseline, auc_or_none, seed=1)
    assert same["ci95"][0] <= 0 <= same["ci95"][1]


def test_an_error_metrics_lead_is_positive_when_the_model_errs_less():
    y = np.linspace(0, 10, 200)
    mae = lambda t, p: float(np.mean(np.abs(t - p)))  # noqa: E731
    lead = paired_lead(y, y + 0.1, y + 1.0, mae, higher_is_better=False, n_boot=200)
    assert lead["lead"] == pytest.approx(0.9)
    assert lead["ci95"][0] > 0


def test_resamples_where_the_metric_is_undefined_are_skipped_for_both():
    y = np.array([1] * 49 + [0])  # one negative: most resamples hold none
    lead = paired_lead(y, np.arange(50.0), np.zeros(50), auc_or_none, n_boot=300, seed=0)
    assert 0 < lead["resamples"] < 300


def test_the_auc_of_score_bins_is_the_auc_of_the_rows_with_ties_as_halves():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 1000)
    p = np.clip(0.5 * y + rng.normal(0.25, 0.25, 1000), 0, 0.9999)
    bins = np.floor(p * 20).astype(int)  # 20 bins: many ties
    pos, neg = np.bincount(bins[y == 1], minlength=20), np.bincount(bins[y == 0], minlength=20)
    assert auc_of_bins(pos, neg) == pytest.approx(roc_auc_score(y, bins))


def test_a_coin_flips_binned_auc_lead_over_a_constant_holds_zero_and_a_real_one_does_not():
    rng = np.random.default_rng(5)
    y = np.r_[np.ones(115, int), np.zeros(4, int)]  # the clickstream sample's held-out users: 115 churned, 4 stayed
    coin = np.floor(rng.random(119) * 100).astype(int)
    pos, neg = np.bincount(coin[y == 1], minlength=100), np.bincount(coin[y == 0], minlength=100)
    lead = binned_auc_lead(pos, neg)
    assert lead["ci95"][0] < 0 < lead["ci95"][1]
    y = rng.integers(0, 2, 600)
    good = np.clip(np.floor((0.4 * y + rng.random(600) * 0.6) * 100), 0, 99).astype(int)
    pos, neg = np.bincount(good[y == 1], minlength=100), np.bincount(good[y == 0], minlength=100)
    assert binned_auc_lead(pos, neg)["ci95"][0] > 0.1


def _cells(a_bins, b_bins, y):
    """Rows → counts per (A's bin, B's bin, class): what the churn job collects from Spark."""
    keys, counts = np.unique(np.c_[a_bins, b_bins, y], axis=0, return_counts=True)
    return np.c_[keys, counts]


def test_a_paired_lead_from_joint_bins_is_the_rows_lead_and_a_copy_of_the_champion_holds_zero():
    rng = np.random.default_rng(11)
    y = rng.integers(0, 2, 500)
    champion = np.clip(np.floor((0.15 * y + rng.random(500) * 0.85) * 100), 0, 99).astype(int)
    model = np.clip(np.floor((0.45 * y + rng.random(500) * 0.55) * 100), 0, 99).astype(int)
    lead = paired_binned_auc_lead(_cells(model, champion, y), bins=100, seed=2)
    assert lead["lead"] == pytest.approx(roc_auc_score(y, model) - roc_auc_score(y, champion))
    rows = paired_lead(y, model, champion, auc_or_none, seed=2)  # the same bootstrap, drawn over rows
    assert lead["ci95"][0] > 0
    assert lead["ci95"] == pytest.approx(rows["ci95"], abs=0.03)
    assert lead["resamples"] == 1000
    same = paired_binned_auc_lead(_cells(champion, champion, y), bins=100, seed=2)
    assert (same["lead"], same["ci95"]) == (0.0, [0.0, 0.0])  # a retrained copy does not replace its champion
    worse = paired_binned_auc_lead(_cells(champion, model, y), bins=100, seed=2)
    assert worse["ci95"][1] < 0


def test_a_cluster_bootstrap_resamples_whole_groups_and_is_wider_when_rows_of_a_group_move_together():
    rng = np.random.default_rng(7)
    games = np.repeat(np.arange(12), 25)  # 12 games, 25 reviews each, each game with its own rate
    y = (rng.random(300) < np.repeat(rng.uniform(0.1, 0.9, 12), 25)).astype(int)
    shared = np.repeat(rng.normal(0, 3, 12), 25)  # what a game's reviews have in common
    model, baseline = y + shared + rng.normal(0, 1, 300), y + rng.normal(0, 1.2, 300)
    rows = paired_lead(y, model, baseline, auc_or_none, n_boot=300, seed=1)
    clustered = paired_lead(y, model, baseline, auc_or_none, n_boot=300, seed=1, groups=games)
    assert rows["lead"] == clustered["lead"]
    width = lambda ci: ci[1] - ci[0]  # noqa: E731
    assert width(clustered["ci95"]) > width(rows["ci95"])


def test_held_out_rows_too_few_of_a_class_cannot_rank_a_model():
    assert too_few_of_a_class({"positive": 10, "negative": 500}, 30) == "10 positive rows among the 510 held out (< 30)"
    assert too_few_of_a_class({"positive": 100, "negative": 100}, 30) == ""
