"""The evaluation protocol: seed sets, Wilson and bootstrap intervals, paired comparisons."""

import numpy as np
import pytest
from scipy.stats import binomtest

from pig_control import protocol
from pig_control.errors import UserInputError


def test_seed_sets_are_disjoint_and_straddling_is_refused():
    assert protocol.REPORTING_SEED == 10**6
    assert list(protocol.reporting_seeds(3)) == [10**6, 10**6 + 1, 10**6 + 2]
    assert protocol.seed_split(0, 400) == "tuning"
    assert protocol.seed_split(10**6 - 5, 5) == "tuning"
    assert protocol.seed_split(10**6, 200) == "reporting"
    with pytest.raises(UserInputError, match="straddle"):
        protocol.seed_split(10**6 - 5, 6)


@pytest.mark.parametrize("k, n, low, high", [
    # Newcombe (1998), Stat. Med. 17:857, Table I, method 3 (Wilson score without correction)
    (81, 263, 0.2553, 0.3662),
    (15, 148, 0.0624, 0.1605),
    (0, 20, 0.0, 0.1611),
    (1, 29, 0.0061, 0.1718),
])
def test_wilson_matches_textbook_values(k, n, low, high):
    got = protocol.wilson_interval(k, n)
    assert got == pytest.approx((low, high), abs=5e-5)


@pytest.mark.parametrize("k, n", [(0, 1), (0, 200), (200, 200), (7, 9), (96, 100), (500, 1000)])
def test_wilson_matches_scipy_and_is_exact_at_the_ends(k, n):
    low, high = protocol.wilson_interval(k, n)
    reference = binomtest(k, n).proportion_ci(0.95, method="wilson")
    assert (low, high) == pytest.approx((reference.low, reference.high), abs=1e-12)
    if k == 0:
        assert low == 0.0 and high == pytest.approx(1.96**2 / (n + 1.96**2), rel=1e-3)
    if k == n:
        assert high == 1.0 and low == pytest.approx(n / (n + 1.96**2), rel=1e-3)
    assert 0 <= low <= k / n <= high <= 1


def test_wilson_rejects_impossible_counts():
    for k, n in [(1, 0), (-1, 5), (6, 5)]:
        with pytest.raises(UserInputError):
            protocol.wilson_interval(k, n)


def test_bootstrap_interval_is_deterministic_and_near_the_normal_interval():
    values = np.random.default_rng(1).normal(3.0, 2.0, size=400)
    low, high = protocol.bootstrap_mean_interval(values)
    assert (low, high) == protocol.bootstrap_mean_interval(values)
    half = 1.96 * values.std(ddof=1) / np.sqrt(values.size)
    assert low == pytest.approx(values.mean() - half, abs=0.03)
    assert high == pytest.approx(values.mean() + half, abs=0.03)
    assert protocol.bootstrap_mean_interval([2.5] * 10) == (2.5, 2.5)
    with pytest.raises(UserInputError):
        protocol.bootstrap_mean_interval([1.0, float("nan")])


@pytest.mark.parametrize("only_a, only_b, same", [(0, 6, 20), (2, 9, 50), (4, 5, 10), (1, 0, 3)])
def test_mcnemar_small_counts_is_the_exact_binomial_test(only_a, only_b, same):
    a = [True] * only_a + [False] * only_b + [True] * same
    b = [False] * only_a + [True] * only_b + [True] * same
    result = protocol.mcnemar(a, b)
    assert (result["only_a"], result["only_b"]) == (only_a, only_b)
    assert result["test"] == "exact binomial"
    expected = binomtest(only_b, only_a + only_b, 0.5).pvalue
    assert result["p_value"] == pytest.approx(expected, rel=1e-12)


def test_mcnemar_large_counts_uses_the_corrected_chi_square():
    # 10 vs 30 discordant: statistic (|10 - 30| - 1)^2 / 40 = 9.025, p = 0.002663
    a = [True] * 10 + [False] * 30 + [False] * 60
    b = [False] * 10 + [True] * 30 + [False] * 60
    result = protocol.mcnemar(a, b)
    assert result["test"].startswith("chi-square")
    assert result["p_value"] == pytest.approx(0.0026635, rel=1e-3)
    assert protocol.mcnemar([True, False], [True, False])["p_value"] == 1.0
    with pytest.raises(UserInputError):
        protocol.mcnemar([True], [True, False])


def _episodes(successes, distances, returns, first_seed=10**6):
    return [{"seed": first_seed + i, "success": bool(s), "final_distance": float(d),
             "return": float(r)}
            for i, (s, d, r) in enumerate(zip(successes, distances, returns, strict=True))]


def test_compare_paired_calls_a_few_episodes_noise():
    # 480 vs 474 of 500 (the kind of difference once called an improvement): 10 vs 4 discordant
    rng = np.random.default_rng(0)
    a_success = [True] * 470 + [True] * 10 + [False] * 4 + [False] * 16
    b_success = [True] * 470 + [False] * 10 + [True] * 4 + [False] * 16
    distances = rng.uniform(0, 2, 500)
    returns = rng.normal(-50, 5, 500)
    a = _episodes(a_success, distances, returns)
    b = _episodes(b_success, distances + rng.normal(0, 0.01, 500), returns)
    result = protocol.compare_paired(a, b)
    assert result["success"]["rate_a"] == 0.96 and result["success"]["rate_b"] == 0.948
    assert result["success"]["p_value"] > 0.05
    assert result["success"]["verdict"] == "no significant difference"
    assert result["return"]["verdict"] == "no significant difference"
    assert result["return"]["mean_difference"] == 0.0


def test_compare_paired_finds_a_real_change_in_each_direction():
    n = 200
    rng = np.random.default_rng(3)
    a = _episodes([i % 2 == 0 for i in range(n)], rng.uniform(1, 2, n), rng.normal(-60, 5, n))
    b = _episodes([True] * n, [e["final_distance"] - 0.5 for e in a],
                  [e["return"] + 3 for e in a])
    metrics = ("success", "final_distance", "return")
    result = protocol.compare_paired(a, b)
    assert [result[m]["verdict"] for m in metrics] == ["improvement"] * 3
    reverse = protocol.compare_paired(b, a)
    assert [reverse[m]["verdict"] for m in metrics] == ["regression"] * 3
    assert result["final_distance"]["mean_difference"] == pytest.approx(-0.5)


def test_compare_paired_pairs_by_seed_and_refuses_different_episodes():
    a = _episodes([True, False, True], [0.1, 3.0, 0.2], [-1.0, -9.0, -2.0])
    shuffled = [a[2], a[0], a[1]]
    result = protocol.compare_paired(a, shuffled)
    assert result["success"]["only_a"] == result["success"]["only_b"] == 0
    assert result["return"]["mean_difference"] == 0.0
    with pytest.raises(UserInputError, match="same episodes"):
        protocol.compare_paired(a, _episodes([True] * 3, [0.1] * 3, [0.0] * 3, first_seed=0))
    with pytest.raises(UserInputError, match="twice"):
        protocol.compare_paired(a + a[:1], a)


def test_episode_summary_reports_n_intervals_and_seed_set():
    episodes = _episodes([True] * 9 + [False], [0.5] * 10, [-3.0] * 10)
    summary = protocol.episode_summary(episodes)
    assert summary["seeds"] == "reporting" and summary["first_seed"] == 10**6
    assert summary["success"]["n"] == 10 and summary["success"]["successes"] == 9
    assert summary["success"]["wilson_95"] == list(protocol.wilson_interval(9, 10))
    assert summary["final_distance"]["bootstrap_95"] == [0.5, 0.5]
    tuning = protocol.episode_summary(_episodes([True], [0.1], [0.0], first_seed=0))
    assert tuning["seeds"] == "tuning"
