"""The evaluation protocol: which seeds report, and how sure a reported figure is.

Seeds. Every episode resets its env with one integer seed. Seeds below :data:`REPORTING_SEED`
(10**6) are *tuning* seeds: any choice (a cost weight, a default, a model) may be made by looking
at them. Seeds from :data:`REPORTING_SEED` on are *reporting* seeds: they are used only to report
figures, never to choose anything. The two ranges are fixed here so that no script can blur them.

Intervals (95 % by default):

- a success rate carries n and its Wilson score interval (it stays inside [0, 1] and is not
  degenerate at 0/n or n/n, unlike the normal approximation);
- a mean (final distance to goal in pixels, return) carries a percentile bootstrap interval
  from a seeded resampling, so the same episodes give the same interval.

Comparing two settings on the *same* episodes (paired by seed):

- success: McNemar's test on the discordant episodes (exact binomial test when fewer than
  :data:`MCNEMAR_EXACT_BELOW` episodes differ, the continuity-corrected chi-square otherwise);
- means: a paired bootstrap interval for the mean difference B - A.

:func:`compare_paired` calls a change an "improvement" or a "regression" only where its test
rejects "no difference" at the chosen level; otherwise it says "no significant difference".
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

from pig_control.errors import UserInputError

#: First reporting seed: episodes with seeds from here on report figures and tune nothing.
REPORTING_SEED = 10**6
#: Tuning seeds are 0 .. TUNING_SEED_END - 1.
TUNING_SEED_END = REPORTING_SEED
#: Confidence level of every interval unless told otherwise.
CONFIDENCE = 0.95
#: Resamples of every bootstrap interval unless told otherwise.
BOOTSTRAP_RESAMPLES = 10_000
#: McNemar uses the exact binomial test below this many discordant episodes.
MCNEMAR_EXACT_BELOW = 25
#: Per-episode outcomes compared, and which direction is better.
HIGHER_IS_BETTER = {"success": True, "return": True, "final_distance": False}


def reporting_seeds(episodes: int, offset: int = 0) -> range:
    """Seeds of ``episodes`` reporting episodes, starting ``offset`` past :data:`REPORTING_SEED`."""
    if episodes < 0 or offset < 0:
        raise UserInputError(f"episodes and offset must be >= 0, got {episodes}, {offset}")
    return range(REPORTING_SEED + offset, REPORTING_SEED + offset + episodes)


def seed_split(first_seed: int, episodes: int) -> str:
    """``"reporting"`` or ``"tuning"`` for episodes ``first_seed .. first_seed + episodes - 1``.

    A run whose seeds straddle the boundary would mix the two sets: that is refused.
    """
    if first_seed < 0:
        raise UserInputError(f"seeds are non-negative, got {first_seed}")
    last = first_seed + max(episodes, 1) - 1
    if first_seed < REPORTING_SEED <= last:
        raise UserInputError(f"seeds {first_seed}..{last} straddle the reporting seed "
                             f"{REPORTING_SEED}: use only tuning seeds (< {REPORTING_SEED}) or "
                             f"only reporting seeds (>= {REPORTING_SEED})")
    return "reporting" if first_seed >= REPORTING_SEED else "tuning"


def _z(confidence: float) -> float:
    from scipy.stats import norm

    if not 0 < confidence < 1:
        raise UserInputError(f"confidence must be in (0, 1), got {confidence}")
    return float(norm.ppf(0.5 + confidence / 2))


def wilson_interval(successes: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Wilson score interval of a success probability from ``successes`` out of ``n`` trials."""
    if n < 1 or not 0 <= successes <= n:
        raise UserInputError(f"need 0 <= successes <= n and n >= 1, got {successes} of {n}")
    z = _z(confidence)
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    # At 0/n and n/n the bound is exactly 0 or 1; do not let rounding move it.
    low = max(0.0, centre - half) if successes > 0 else 0.0
    high = min(1.0, centre + half) if successes < n else 1.0
    return low, high


def _percentile_interval(samples: np.ndarray, confidence: float) -> tuple[float, float]:
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(samples, [tail, 100 - tail])
    return float(low), float(high)


def _as_finite_vector(values: Iterable[float], what: str) -> np.ndarray:
    array = np.asarray(list(values), dtype=float)
    if array.ndim != 1 or array.size == 0:
        raise UserInputError(f"{what}: need a non-empty list of numbers")
    if not np.all(np.isfinite(array)):
        raise UserInputError(f"{what}: values must be finite")
    return array


def bootstrap_mean_interval(values: Iterable[float], confidence: float = CONFIDENCE,
                            resamples: int = BOOTSTRAP_RESAMPLES,
                            seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values`` (same units as the values).

    ``seed`` fixes the resampling, so the same values always give the same interval.
    """
    array = _as_finite_vector(values, "bootstrap")
    _z(confidence)
    rng = np.random.default_rng(seed)
    index = rng.integers(0, array.size, size=(resamples, array.size))
    return _percentile_interval(array[index].mean(axis=1), confidence)


def success_summary(successes: Sequence[bool], confidence: float = CONFIDENCE) -> dict:
    """``{n, successes, rate, wilson_95: [low, high]}`` of per-episode success flags."""
    n, k = len(successes), int(sum(bool(s) for s in successes))
    low, high = wilson_interval(k, n, confidence)
    return {"n": n, "successes": k, "rate": k / n, _interval_key("wilson", confidence): [low, high]}


def mean_summary(values: Sequence[float], confidence: float = CONFIDENCE) -> dict:
    """``{n, mean, bootstrap_95: [low, high]}`` of per-episode values."""
    array = _as_finite_vector(values, "mean")
    low, high = bootstrap_mean_interval(array, confidence)
    return {"n": int(array.size), "mean": float(array.mean()),
            _interval_key("bootstrap", confidence): [low, high]}


def _interval_key(method: str, confidence: float) -> str:
    return f"{method}_{round(confidence * 100):d}"


def episode_summary(episodes: Sequence[dict], confidence: float = CONFIDENCE) -> dict:
    """Intervals of a list of per-episode outcomes (each with ``seed``, ``success``,
    ``final_distance``, ``return``): success with Wilson, the two means with the bootstrap, and
    which seed set the episodes come from. An env without a success criterion or a goal (DMC)
    records ``None`` for those outcomes; their summaries are then ``None``."""
    if not episodes:
        raise UserInputError("no episodes to summarize")
    seeds = [int(e["seed"]) for e in episodes]
    splits = {seed_split(s, 1) for s in seeds}
    successes = [e["success"] for e in episodes]
    distances = [e["final_distance"] for e in episodes]
    return {
        "seeds": splits.pop() if len(splits) == 1 else "mixed",
        "first_seed": min(seeds),
        "confidence": confidence,
        "success": (None if None in successes else success_summary(successes, confidence)),
        "final_distance": (None if None in distances
                           else mean_summary(distances, confidence)),
        "return": mean_summary([e["return"] for e in episodes], confidence),
    }


def mcnemar(successes_a: Sequence[bool], successes_b: Sequence[bool]) -> dict:
    """McNemar's test of paired success flags (episode i of A and of B share a seed).

    Returns the discordant counts (``only_a``: A succeeded and B failed; ``only_b``), the test
    used and its two-sided p-value.
    """
    if len(successes_a) != len(successes_b) or not successes_a:
        raise UserInputError(f"McNemar needs two equally long non-empty lists, got "
                             f"{len(successes_a)} and {len(successes_b)}")
    only_a = sum(bool(a) and not bool(b) for a, b in zip(successes_a, successes_b, strict=True))
    only_b = sum(bool(b) and not bool(a) for a, b in zip(successes_a, successes_b, strict=True))
    discordant = only_a + only_b
    if discordant == 0:
        test, p_value = "none (no discordant episodes)", 1.0
    elif discordant < MCNEMAR_EXACT_BELOW:
        from scipy.stats import binomtest

        test = "exact binomial"
        p_value = float(binomtest(only_b, discordant, 0.5).pvalue)
    else:
        from scipy.stats import chi2

        test = "chi-square, continuity corrected"
        statistic = (abs(only_a - only_b) - 1) ** 2 / discordant
        p_value = float(chi2.sf(statistic, df=1))
    return {"n": len(successes_a), "only_a": only_a, "only_b": only_b, "test": test,
            "p_value": min(1.0, p_value)}


def paired_bootstrap(values_a: Sequence[float], values_b: Sequence[float],
                     confidence: float = CONFIDENCE, resamples: int = BOOTSTRAP_RESAMPLES,
                     seed: int = 0) -> dict:
    """Mean of the paired differences B - A and its percentile bootstrap interval (episodes
    resampled with both settings' outcomes kept together)."""
    a = _as_finite_vector(values_a, "paired bootstrap A")
    b = _as_finite_vector(values_b, "paired bootstrap B")
    if a.size != b.size:
        raise UserInputError(f"paired bootstrap needs equally many episodes, got {a.size} "
                             f"and {b.size}")
    difference = b - a
    low, high = bootstrap_mean_interval(difference, confidence, resamples, seed)
    return {"n": int(a.size), "mean_difference": float(difference.mean()),
            _interval_key("bootstrap", confidence): [low, high]}


def _verdict(significant: bool, b_better: bool) -> str:
    if not significant:
        return "no significant difference"
    return "improvement" if b_better else "regression"


def compare_paired(episodes_a: Sequence[dict], episodes_b: Sequence[dict],
                   alpha: float = 1 - CONFIDENCE) -> dict:
    """Compare setting B against setting A on the same episodes, paired by seed.

    Success: McNemar at level ``alpha``. Final distance (lower is better) and return (higher is
    better): the paired bootstrap interval of B - A at confidence ``1 - alpha``; a difference
    counts only when that interval excludes 0. Each metric gets a ``verdict``: "improvement",
    "regression" or "no significant difference". Seeds must match exactly (same episodes).
    """
    if not 0 < alpha < 1:
        raise UserInputError(f"alpha must be in (0, 1), got {alpha}")
    by_seed_a = _by_seed(episodes_a, "A")
    by_seed_b = _by_seed(episodes_b, "B")
    if set(by_seed_a) != set(by_seed_b):
        only = sorted(set(by_seed_a) ^ set(by_seed_b))
        raise UserInputError(f"the two runs did not play the same episodes (seeds in one only: "
                             f"{only[:5]}{' ...' if len(only) > 5 else ''}); rerun them with "
                             "the same --seed and --episodes")
    seeds = sorted(by_seed_a)
    a = [by_seed_a[s] for s in seeds]
    b = [by_seed_b[s] for s in seeds]
    confidence = 1 - alpha
    success = mcnemar([e["success"] for e in a], [e["success"] for e in b])
    success.update(rate_a=float(np.mean([e["success"] for e in a])),
                   rate_b=float(np.mean([e["success"] for e in b])))
    success["verdict"] = _verdict(success["p_value"] < alpha,
                                  success["only_b"] > success["only_a"])
    out = {"n": len(seeds), "alpha": alpha, "success": success}
    for metric in ("final_distance", "return"):
        values_a = [e[metric] for e in a]
        values_b = [e[metric] for e in b]
        result = paired_bootstrap(values_a, values_b, confidence)
        low, high = result[_interval_key("bootstrap", confidence)]
        better = result["mean_difference"] > 0
        if not HIGHER_IS_BETTER[metric]:
            better = not better
        result.update(mean_a=float(np.mean(values_a)), mean_b=float(np.mean(values_b)),
                      verdict=_verdict(low > 0 or high < 0, better))
        out[metric] = result
    return out


def _by_seed(episodes: Sequence[dict], label: str) -> dict[int, dict]:
    if not episodes:
        raise UserInputError(f"run {label} has no episodes")
    table: dict[int, dict] = {}
    for episode in episodes:
        missing = {"seed", "success", "final_distance", "return"} - set(episode)
        if missing:
            raise UserInputError(f"run {label}: an episode lacks {sorted(missing)}")
        seed = int(episode["seed"])
        if seed in table:
            raise UserInputError(f"run {label}: seed {seed} appears twice")
        table[seed] = episode
    return table
