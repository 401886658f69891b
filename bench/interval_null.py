"""Check of the holdout report's interval with no effect (docs/simulation.md, Benchmark).

    .venv/bin/python bench/interval_null.py /tmp/wt19_bench_1.log /tmp/wt19_bench_11.log

1. How often ``retention.impact.newcombe_interval`` excludes zero when both arms share one rate,
   at the zero-effect reminder's arm sizes and rates in the simulator (100,000 draws each).
2. The spread of the saved benchmark runs' reminder estimates against their own intervals: each
   lift over its interval's half-width / 1.96. With calibrated intervals these are close to
   standard normal, and their sum of squares follows a chi-square with one degree per run.
"""

import json
import os
import statistics
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

import django  # noqa: E402

django.setup()

from retention.impact import Z_95, newcombe_interval  # noqa: E402

# (treated, held out, retained rate): the reminder's arms in the simulator at mid size.
CASES = [(210, 85, 0.65), (200, 87, 0.70), (220, 85, 0.60)]
DRAWS = 100_000


def main():
    rng = np.random.default_rng(2026)
    for n1, n2, p in CASES:
        significant = 0
        for a, b in zip(rng.binomial(n1, p, DRAWS), rng.binomial(n2, p, DRAWS)):
            low, high = newcombe_interval(int(a), n1, int(b), n2)
            significant += low > 0 or high < 0
        print(f"treated {n1}, held out {n2}, rate {p}: significant in {significant / DRAWS:.4f} of {DRAWS:,} draws with no effect")
    z = []
    for path in sys.argv[1:]:
        for line in Path(path).read_text().splitlines():
            if line.startswith('{"seed"'):
                lift, (low, high) = json.loads(line)["estimate"]["points_expiry_reminder"]
                z.append(lift / ((high - low) / (2 * Z_95)))
    if len(z) > 1:
        print(f"{len(z)} saved runs: mean {statistics.fmean(z):+.3f}, standard deviation {statistics.stdev(z):.3f}, "
              f"sum of squares {sum(x * x for x in z):.2f} (chi-square with {len(z)} degrees of freedom)")


if __name__ == "__main__":
    main()
