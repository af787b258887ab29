"""The statistics of a wording experiment, with `math` alone (no SciPy for two formulas).

- `wilson`: the Wilson score interval for a proportion (Wilson 1927; Newcombe 1998,
  method 3, no continuity correction). Unlike "rate ± 1.96 standard errors" it stays
  inside 0 to 1 and behaves with the small counts a charity's first weeks give.
- `two_proportions`: the two-sided two-proportion z-test with the pooled proportion
  (the same test as Pearson's chi-square on the 2×2 table: z² = X²).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

Z95 = 1.959963984540054  # the standard normal's 97.5th percentile: a two-sided 95 %
ALPHA = 0.05


def normal_cdf(x: float) -> float:
    """P(Z ≤ x) for a standard normal Z."""
    return 0.5 * math.erfc(-x / math.sqrt(2))


def wilson(successes: int, trials: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval for `successes` out of `trials` (0 to 1 when there
    were no trials: nothing is known)."""
    if trials <= 0:
        return 0.0, 1.0
    if not 0 <= successes <= trials:
        raise ValueError(f"{successes} successes out of {trials} trials")
    p = successes / trials
    z2 = z * z
    denominator = 1 + z2 / trials
    centre = (p + z2 / (2 * trials)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials))
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True, slots=True)
class Test:
    z: float  # positive when the first proportion is the larger
    p: float  # two-sided

    def significant(self, alpha: float = ALPHA) -> bool:
        return self.p < alpha


def two_proportions(x1: int, n1: int, x2: int, n2: int) -> Test:
    """Is x1/n1 different from x2/n2? The pooled two-proportion z-test, two-sided.
    With no trials on a side, or no variation at all (every answer the same), there
    is nothing to tell apart: z = 0, p = 1."""
    if n1 <= 0 or n2 <= 0:
        return Test(0.0, 1.0)
    pooled = (x1 + x2) / (n1 + n2)
    spread = pooled * (1 - pooled) * (1 / n1 + 1 / n2)
    if spread <= 0:
        return Test(0.0, 1.0)
    z = (x1 / n1 - x2 / n2) / math.sqrt(spread)
    return Test(z, math.erfc(abs(z) / math.sqrt(2)))


def p_text(p: float) -> str:
    """A p-value as people read it: "p = 0.012", "p < 0.001"."""
    if p < 0.001:
        return "p < 0.001"
    return f"p = {p:.2g}" if p < 0.1 else f"p = {p:.2f}"
