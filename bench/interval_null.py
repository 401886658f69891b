"""Check of the holdout report's interval with no effect (docs/simulation.md, Benchmark).

    .venv/bin/python bench/interval_null.py /tmp/wt19_bench_1.log /tmp/wt19_bench_11.log

1. How often ``retention.impact.newcombe_interval`` excludes zero when both arms share one rate,
   at the zero-effect reminder's arm sizes and rates in the simulator (100,000 draws each), at
   a single look with 1.96 and with the report's confidence-sequence critical value.
2. Read as the live report is read: experiments with no effect, looked at every 10 closed
   subjects from 30 to 1,000; how many are called significant at some look, with 1.96 and with
   the confidence sequence (10,000 experiments per rate).
3. The spread of the saved benchmark runs' reminder estimates against their own intervals: each
   lift over its interval's half-width / its critical value. With calibrated intervals these are
   close to standard normal, and their sum of squares follows a chi-square with one degree per run.
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

from retention.impact import Z_95, anytime_z, newcombe_interval  # noqa: E402

# (treated, held out, retained rate): the reminder's arms in the simulator at mid size.
CASES = [(210, 85, 0.65), (200, 87, 0.70), (220, 85, 0.60)]
DRAWS = 100_000
EXPERIMENTS = 10_000
LOOKS = range(30, 1_001, 10)


def _excludes_zero(x1, n1, x2, n2, z) -> bool:
    if n1 == 0 or n2 == 0:
        return False
    low, high = newcombe_interval(x1, n1, x2, n2, z)
    return low > 0 or high < 0


def main():
    rng = np.random.default_rng(2026)
    for n1, n2, p in CASES:
        fixed = anytime = 0
        z_n = anytime_z(n1 + n2)
        for a, b in zip(rng.binomial(n1, p, DRAWS), rng.binomial(n2, p, DRAWS)):
            fixed += _excludes_zero(int(a), n1, int(b), n2, Z_95)
            anytime += _excludes_zero(int(a), n1, int(b), n2, z_n)
        print(f"treated {n1}, held out {n2}, rate {p}: significant in {fixed / DRAWS:.4f} (1.96) and {anytime / DRAWS:.4f} "
              f"(confidence sequence, z {z_n:.3f}) of {DRAWS:,} draws with no effect")
    for p in (0.65, 0.3):
        ever_fixed = ever_anytime = 0
        for _ in range(EXPERIMENTS):
            held = rng.random(LOOKS[-1]) < 0.3
            kept = rng.random(LOOKS[-1]) < p
            fixed = anytime = False
            for n in LOOKS:
                h, k = held[:n], kept[:n]
                counts = (int((k & ~h).sum()), int((~h).sum()), int((k & h).sum()), int(h.sum()))
                fixed = fixed or _excludes_zero(*counts, Z_95)
                anytime = anytime or _excludes_zero(*counts, anytime_z(n))
            ever_fixed += fixed
            ever_anytime += anytime
        print(f"rate {p}, 30% held out, read every 10 subjects from 30 to 1,000: significant at some look in "
              f"{ever_fixed / EXPERIMENTS:.4f} (1.96) and {ever_anytime / EXPERIMENTS:.4f} (confidence sequence) of {EXPERIMENTS:,}")
    z = []
    for path in sys.argv[1:]:
        for line in Path(path).read_text().splitlines():
            if line.startswith('{"seed"'):
                row = json.loads(line)
                lift, (low, high) = row["estimate"]["points_expiry_reminder"]
                # Runs logged before the confidence sequence carry no subject counts: 1.96 was their z.
                subjects = row.get("subjects", {}).get("points_expiry_reminder")
                z.append(lift / ((high - low) / (2 * (anytime_z(subjects) if subjects else Z_95))))
    if len(z) > 1:
        print(f"{len(z)} saved runs: mean {statistics.fmean(z):+.3f}, standard deviation {statistics.stdev(z):.3f}, "
              f"sum of squares {sum(x * x for x in z):.2f} (chi-square with {len(z)} degrees of freedom)")


if __name__ == "__main__":
    main()
