"""Sampling error over sequences and paired comparisons (tracking/analysis/stats.py)."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from tracking.analysis.metrics import compute_ope
from tracking.analysis.report import analyze, format_table, markdown_table
from tracking.analysis.stats import paired_comparison, standard_error
from tracking.analysis.loader import parse_results_spec

from test_analyze import _fake_dataset, _read_back, _write_run


def test_standard_error_hand_worked():
    # mean 0.4, deviations ±0.2 and 0 -> sample std 0.2, SE 0.2 / sqrt(3)
    assert standard_error([0.2, 0.4, 0.6]) == pytest.approx(0.2 / math.sqrt(3), abs=1e-15)
    # NaN dropped: deviations ±0.2 -> sample std sqrt(0.08), SE sqrt(0.08) / sqrt(2) = 0.2
    assert standard_error([0.2, float("nan"), 0.6]) == pytest.approx(0.2, abs=1e-15)
    assert math.isnan(standard_error([0.5]))


def test_paired_counts_and_mean_hand_worked():
    c = paired_comparison([0.5, 0.7, 0.2, 0.9], [0.4, 0.7, 0.3, 0.5], n_boot=0)
    assert (c.n, c.wins, c.losses, c.ties) == (4, 2, 1, 1)
    assert c.diff == pytest.approx((0.1 + 0.0 - 0.1 + 0.4) / 4, abs=1e-15)
    assert c.se == pytest.approx(np.std([0.1, 0.0, -0.1, 0.4], ddof=1) / 2, abs=1e-15)


def test_bootstrap_interval_matches_the_exact_bootstrap_distribution():
    """For n = 4 every one of the 4^4 equally likely resamples can be enumerated: the sampled percentile
    interval must sit on the exact one's quantiles (to within one atom of the discrete distribution)."""
    d = np.array([0.3, -0.1, 0.05, 0.5])
    means = np.sort([d[list(idx)].mean() for idx in itertools.product(range(4), repeat=4)])
    lo_exact, hi_exact = np.quantile(means, [0.025, 0.975])
    atoms = np.unique(means)
    step = np.max(np.diff(atoms))
    c = paired_comparison(d, np.zeros(4), n_boot=40000, seed=3)
    assert abs(c.ci_low - lo_exact) <= step + 1e-12 and abs(c.ci_high - hi_exact) <= step + 1e-12
    assert c.ci_low < c.diff < c.ci_high


def test_interval_covers_the_true_difference_at_about_the_nominal_rate():
    rng = np.random.default_rng(0)
    hits = 0
    trials = 300
    for t in range(trials):
        base = rng.uniform(0.2, 0.8, 40)  # per-sequence difficulty, shared by both trackers
        a = base + 0.05 + rng.normal(0, 0.1, 40)
        b = base + rng.normal(0, 0.1, 40)
        c = paired_comparison(a, b, n_boot=1000, seed=t)
        hits += c.ci_low <= 0.05 <= c.ci_high
    assert 0.88 <= hits / trials <= 0.99


def test_mismatched_lengths_are_an_error():
    with pytest.raises(ValueError, match="same sequences"):
        paired_comparison([0.1, 0.2], [0.1])


def test_report_shows_standard_error_and_paired_differences(tmp_path):
    seqs = _fake_dataset(n=6)
    good = _write_run(tmp_path, "good", "c", None, seqs, 1.0, 1)
    bad = _write_run(tmp_path, "bad", "c", None, seqs, 12.0, 2)
    an = analyze([parse_results_spec("bad:c"), parse_results_spec("good:c")], "fake", seqs, tmp_path, "pytracking")
    gts = [s.ground_truth for s in seqs]
    per_good = compute_ope(_read_back(good, seqs), gts, "pytracking").per_sequence_auc
    per_bad = compute_ope(_read_back(bad, seqs), gts, "pytracking").per_sequence_auc
    by = {t.label: t for t in an.trackers}
    assert by["good c"].mean["auc_se"] == pytest.approx(np.std(per_good, ddof=1) / math.sqrt(6), abs=1e-12)
    (comp,) = an.comparisons
    assert (comp["a"], comp["b"]) == ("good c", "bad c")  # rank order
    assert comp["diff"] == pytest.approx(np.mean(per_good - per_bad), abs=1e-12)
    assert comp["wins"] == int(np.sum(per_good > per_bad))
    assert "good c - bad c" in format_table(an) and "Paired differences" in markdown_table(an)
    # loss causes: every sequence counted once per tracker; an almost perfect tracker keeps every target
    for t in an.trackers:
        assert sum(t.failures[c] for c in ("kept", "look-alike", "occlusion/exit", "drift")) == 6
    assert by["good c"].failures["kept"] == 6
    assert "Loss causes" in markdown_table(an) and "occlusion/exit" in format_table(an)
