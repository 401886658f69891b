"""Benchmark: do Kiln's holdout reports find the true effects, and does uplift ordering pay?

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/kiln_sim \\
        .venv/bin/python bench/simulation.py --seeds 20

It empties and rewrites the database it is given: use a scratch database.

Per seed s three simulated runs (simulation.engine) at the mid size of docs/simulation.md:
  1. explore (seed s): the buyer churn queue is worked in random order. Every intervention's
     holdout lift and 95% interval are checked against the simulator's true effect. An uplift
     T-learner is then trained on this run's closed outcomes and activated.
  2. risk and 3. uplift (both seed s + 1000, a marketplace the model has not seen, same
     subjects and same responses): the queue in risk order, then in uplift order, at the same
     staff capacity. Each run's true extra buyers retained per case worked is known to the
     simulator; the gain is uplift minus risk, with a t interval over the seeds. It is given twice:
     as realised (each worked case's effect as its persuadable / do-not-disturb coin fell) and in
     expectation over that coin (the same truth, without the coin's noise).
Coverage and bias are taken over all three runs of every seed. With --explore-only each seed
runs the exploration run alone (the holdout checks, without the ordering comparison).
"""

import argparse
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")


def t_interval(values):
    n = len(values)
    mean = statistics.fmean(values)
    if n < 2:
        return mean, (None, None)
    from scipy.stats import t

    half = t.ppf(0.975, n - 1) * statistics.stdev(values) / math.sqrt(n)
    return mean, (mean - half, mean + half)


def summarise(lines) -> dict:
    """Figures from the per-seed lines alone (the exploration run of each seed): what
    ``--summarise`` prints for the output of runs that were split across processes."""
    covered, errors, zero, zero_fp, gains, per_case = [], {}, 0, 0, [], {"risk": [], "uplift": []}
    expected_gains = []
    seeds = 0
    for line in lines:
        row = json.loads(line)
        for kind, truth in row["truth"].items():
            if truth is None or kind not in row["estimate"]:
                continue
            lift, (low, high) = row["estimate"][kind]
            covered.append(low <= truth <= high)
            errors.setdefault(kind, []).append(lift - truth)
            if kind == "points_expiry_reminder":
                zero += 1
                zero_fp += int(low > 0 or high < 0)
        seeds += 1
        if "extra_retained_per_case" not in row:
            continue  # an exploration run alone (--explore-only)
        for order in per_case:
            per_case[order].append(row["extra_retained_per_case"][order])
        gains.append(row["extra_retained_per_case"]["uplift"] - row["extra_retained_per_case"]["risk"])
        if "expected_retained_per_case" in row:
            expected_gains.append(row["expected_retained_per_case"]["uplift"] - row["expected_retained_per_case"]["risk"])
    mean_gain, gain_ci = t_interval(gains) if gains else (None, (None, None))
    return {
        "seeds": seeds,
        "coverage_95ci": round(sum(covered) / len(covered), 4) if covered else None,
        "intervals_checked": len(covered),
        "bias_by_kind": {k: round(statistics.fmean(v), 4) for k, v in errors.items()},
        "zero_effect_false_positive_rate": round(zero_fp / zero, 4) if zero else None,
        "zero_effect_runs": zero,
        "extra_retained_per_case_worked": {k: round(statistics.fmean(v), 4) for k, v in per_case.items() if v},
        "uplift_minus_risk_per_case_worked": None if mean_gain is None else round(mean_gain, 4),
        "uplift_minus_risk_ci95": [None if x is None else round(x, 4) for x in gain_ci],
        **_expected_gain(expected_gains),
    }


def _expected_gain(gains) -> dict:
    if not gains:
        return {}
    mean, ci = t_interval(gains)
    return {"expected_uplift_minus_risk_per_case_worked": round(mean, 4),
            "expected_uplift_minus_risk_ci95": [None if x is None else round(x, 4) for x in ci]}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--summarise", nargs="+", metavar="FILE", help="Summarise per-seed lines saved from earlier runs.")
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--buyers", type=int, default=None)
    parser.add_argument("--sellers", type=int, default=None)
    parser.add_argument("--flag-weeks", type=int, default=None, help="Weeks of flagging (a simulated month is about 4).")
    parser.add_argument("--explore-only", action="store_true",
                        help="Per seed only the exploration run: the holdout checks, no ordering comparison.")
    args = parser.parse_args()
    if args.summarise:
        lines = [line for path in args.summarise for line in Path(path).read_text().splitlines() if line.startswith('{"seed"')]
        print(json.dumps(summarise(lines), indent=2))
        return

    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.core.exceptions import ValidationError
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from buyers.models import QueueOrder
    from retention.uplift import model_kind, uplift_model_train, uplift_targeting_set
    from scoring.models import ModelVersion
    from scoring.registry import model_version_activate
    from simulation import params as P
    from simulation.engine import simulate

    overrides = {k: v for k, v in (("buyers", args.buyers), ("sellers", args.sellers), ("flag_weeks", args.flag_weeks)) if v}
    admin, _ = User.objects.get_or_create(username="sim-admin", defaults={"is_staff": True, "is_superuser": True})
    covered, errors, zero_runs, zero_false_positives, gains, per_case = [], {}, 0, 0, [], {"risk": [], "uplift": []}
    expected_gains = []
    started = time.monotonic()

    def score(result):
        nonlocal zero_runs, zero_false_positives
        for kind, truth in result.truth.items():
            row = result.lift(kind)
            if truth is None or row is None or row.lift_ci95 is None:
                continue
            low, high = row.lift_ci95
            covered.append(low <= truth <= high)
            errors.setdefault(kind, []).append(row.lift - truth)
            if kind == P.EXPIRY_REMINDER:
                zero_runs += 1
                zero_false_positives += int(row.significant)

    for seed in range(args.first_seed, args.first_seed + args.seeds):
        explore = simulate(P.SimulationParams(seed=seed, **overrides), ordering="random")
        score(explore)
        line = {
            "seed": seed,
            "truth": {k: None if v is None else round(v, 4) for k, v in explore.truth.items()},
            "estimate": {row.kind: [round(row.lift, 4), [round(x, 4) for x in row.lift_ci95]] for row in explore.report
                         if row.outcome == "retained" and row.lift is not None},
            # Subjects behind each interval: its critical value (retention.impact.anytime_z) follows them.
            "subjects": {row.kind: row.treated + row.held_out for row in explore.report
                         if row.outcome == "retained" and row.lift is not None},
        }
        if args.explore_only:
            print(json.dumps({**line, "seconds": [explore.seconds], "ingest_seconds": [explore.ingest_seconds]}), flush=True)
            continue
        ModelVersion.objects.filter(kind=model_kind(P.BUYER_CHURN)).delete()
        try:
            version = uplift_model_train(case_kind=P.BUYER_CHURN, as_of=explore.end, seed=seed)
        except ValidationError:
            version = None
        gate_passed = bool(version and version.metrics["gate"]["passed"])
        compare = P.SimulationParams(seed=seed + 1000, **overrides)
        risk = simulate(compare, ordering=QueueOrder.RISK)
        score(risk)
        if version is not None:
            # The simulated admin activates the learned model whatever its gate said, so the
            # comparison measures uplift ordering itself; the gate's verdict is printed beside it.
            model_version_activate(version=version, actor=admin, force=True)
            uplift_targeting_set(case_kind=P.BUYER_CHURN, order_by=QueueOrder.UPLIFT, actor=admin)
            uplift = simulate(compare, ordering=QueueOrder.UPLIFT)
            score(uplift)
        else:
            # Too few closed outcomes to learn from: the queue stays in risk order, so the
            # uplift policy retains exactly what risk order does.
            uplift = risk
        if risk.incremental_per_case.get(P.BUYER_CHURN) is None or uplift.incremental_per_case.get(P.BUYER_CHURN) is None:
            # No buyer churn case was worked (a marketplace too small to flag any): nothing to compare.
            print(json.dumps({**line, "seconds": [explore.seconds, risk.seconds, uplift.seconds], "cases_worked": 0}), flush=True)
            continue
        gain = uplift.incremental_per_case[P.BUYER_CHURN] - risk.incremental_per_case[P.BUYER_CHURN]
        gains.append(gain)
        expected_gains.append(uplift.expected_per_case[P.BUYER_CHURN] - risk.expected_per_case[P.BUYER_CHURN])
        per_case["risk"].append(risk.incremental_per_case[P.BUYER_CHURN])
        per_case["uplift"].append(uplift.incremental_per_case[P.BUYER_CHURN])
        print(json.dumps({
            "seed": seed,
            "seconds": [explore.seconds, risk.seconds, uplift.seconds],
            # Of which in the storefront sync through Kiln's ingestion, reactions included.
            "ingest_seconds": [explore.ingest_seconds, risk.ingest_seconds, uplift.ingest_seconds],
            "truth": line["truth"],
            "estimate": line["estimate"],
            "subjects": line["subjects"],
            "uplift_model": version is not None,
            "uplift_gate_passed": gate_passed,
            "cases_worked": risk.cases_worked[P.BUYER_CHURN],
            "extra_retained_per_case": {"risk": round(per_case["risk"][-1], 4), "uplift": round(per_case["uplift"][-1], 4)},
            "expected_retained_per_case": {order: round(run.expected_per_case[P.BUYER_CHURN], 4)
                                           for order, run in (("risk", risk), ("uplift", uplift))},
        }), flush=True)

    mean_gain, gain_ci = t_interval(gains) if gains else (None, (None, None))
    summary = {
        "seeds": args.seeds,
        "runs": (1 if args.explore_only else 3) * args.seeds,
        "coverage_95ci": round(sum(covered) / len(covered), 4) if covered else None,
        "intervals_checked": len(covered),
        "bias_by_kind": {k: round(statistics.fmean(v), 4) for k, v in errors.items()},
        "mean_abs_error_by_kind": {k: round(statistics.fmean(abs(x) for x in v), 4) for k, v in errors.items()},
        "zero_effect_false_positive_rate": round(zero_false_positives / zero_runs, 4) if zero_runs else None,
        "zero_effect_runs": zero_runs,
        "extra_retained_per_case_worked": {k: round(statistics.fmean(v), 4) for k, v in per_case.items() if v},
        "uplift_minus_risk_per_case_worked": None if mean_gain is None else round(mean_gain, 4),
        "uplift_minus_risk_ci95": [None if x is None else round(x, 4) for x in gain_ci],
        **_expected_gain(expected_gains),
        "seconds": round(time.monotonic() - started, 1),
    }
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
