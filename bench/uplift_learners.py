"""Which uplift learner orders the buyer churn queue best? Judged against the simulator's truth.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/kiln_sim .venv/bin/python bench/uplift_learners.py --seeds 1-10

It empties and rewrites the database it is given: use a scratch database.

Per seed, one exploration run of the simulator at the mid size (queue worked in random order,
as bench/simulation.py trains on). Every flagged buyer's *expected* effect of a worked case is
known to the simulator: reached share x (persuadable share at its churn probability if it would
have lapsed, minus the do-not-disturb share if it would have bought anyway). Each learner is
trained on one seed's closed outcomes (worked cases against the holdout, as
``retention.uplift.training_rows`` selects them) and orders every other seed's flagged buyers
week by week at the staff capacity; the figure is the mean expected effect of the cases it
works, averaged over all (training seed, other seed) pairs. Baselines: the workbench's order
(priority, then due date: what risk order means) and the lowest churn probability first.

The learners: Kiln's (``retention.uplift._fit``), the same T-learner with 100 times the
regularisation, an S-learner with centred arm interactions (Lin's regression adjustment) and an
X-learner. Their uplift does not run through the registry: this compares learners, not storage.
"""

import argparse
import json
import os
import sys
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")


def explored_rows(seed: int) -> list[dict]:
    """One exploration run's buyer churn assignments with features, outcome and expected effect."""
    from buyers.models import InterventionArm, InterventionAssignment
    from casework.models import CaseStatus
    from retention.uplift import features_from_evidence
    from simulation import params as P
    from simulation.engine import Simulator

    params = P.SimulationParams(seed=seed)
    simulator = Simulator(params)
    simulator.run(ordering="random")
    effect = params.effects[P.BUYER_CHURN]
    rows = []
    assignments = InterventionAssignment.objects.filter(kind=P.BUYER_CHURN, buyer__isnull=False).select_related("case")
    for a in assignments.order_by("pk"):
        truth = simulator.truth.get(a.pk)
        if truth is None:
            continue
        now = simulator.future.outcome("buyer", truth.subject_id, truth.flagged_at, truth.window_ends_at)
        bought_anyway = int(now) - truth.effect
        if bought_anyway:
            expected = -effect.do_not_disturb_share
        else:
            expected = effect.persuadable(truth.churn_probability)
        rows.append({
            "x": features_from_evidence(a.evidence),
            "treated": a.arm == InterventionArm.TREATED,
            "worked": a.case_id is not None and a.case.status == CaseStatus.RESOLVED,
            "bought": int(now),
            "expected": params.reached_share * expected,
            "flagged": truth.flagged_at.timestamp(),
            "case": [a.case.priority, a.case.due_at.timestamp(), a.case.pk] if a.case_id else None,
        })
    return rows


def _arrays(rows):
    X = np.asarray([r["x"] for r in rows], dtype=float)
    treated = np.asarray([r["treated"] for r in rows])
    worked = np.asarray([r["worked"] for r in rows])
    y = np.asarray([r["bought"] for r in rows])
    return X, treated, worked, y


def _logistic(C):
    from retention.uplift import _classifier

    return _classifier(0, C)


def kiln_learner(X, t, y):
    from retention.uplift import _fit

    return _fit(X, t, y, seed=0).uplift


def t_learner(C):
    def fit(X, t, y):
        treated, control = _logistic(C).fit(X[t], y[t]), _logistic(C).fit(X[~t], y[~t])
        return lambda Q: treated.predict_proba(Q)[:, 1] - control.predict_proba(Q)[:, 1]
    return fit


def centred_s_learner(X, t, y, C=0.05):
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    # Centred features: the arm's own column carries the average effect, and the interactions
    # only what varies around it (uncentred, the penalty spreads the average effect over them).
    scaler = StandardScaler().fit(X)

    def design(Q, arm):
        Z = scaler.transform(Q)
        column = np.full((len(Z), 1), float(arm)) if np.isscalar(arm) else arm.astype(float)[:, None]
        return np.hstack([Z, column, Z * column])

    model = LogisticRegression(C=C, max_iter=1000).fit(design(X, t), y)
    return lambda Q: model.predict_proba(design(Q, 1))[:, 1] - model.predict_proba(design(Q, 0))[:, 1]


def x_learner(X, t, y):
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    treated, control = _logistic(1.0).fit(X[t], y[t]), _logistic(1.0).fit(X[~t], y[~t])
    imputed_treated = y[t] - control.predict_proba(X[t])[:, 1]
    imputed_control = treated.predict_proba(X[~t])[:, 1] - y[~t]
    on_treated = make_pipeline(StandardScaler(), Ridge(alpha=10.0)).fit(X[t], imputed_treated)
    on_control = make_pipeline(StandardScaler(), Ridge(alpha=10.0)).fit(X[~t], imputed_control)
    share = t.mean()
    return lambda Q: share * on_control.predict(Q) + (1 - share) * on_treated.predict(Q)


LEARNERS = {
    "kiln T-learner (C=1)": kiln_learner,
    "T-learner, C=0.01": t_learner(0.01),
    "S-learner, centred interactions, C=0.05": centred_s_learner,
    "X-learner": x_learner,
}


def worked_value(rows, score, capacity: int) -> float:
    """Mean expected effect of the cases worked when each flag day's open cases are worked
    highest score first, ``capacity`` a day of flags (one flag day a simulated week)."""
    cases = [(i, r) for i, r in enumerate(rows) if r["case"] is not None]
    worked, values = set(), []
    for day in sorted({r["flagged"] for _, r in cases}):
        open_cases = [(i, r) for i, r in cases if r["flagged"] <= day and i not in worked]
        open_cases.sort(key=lambda pair: (-score[pair[0]], pair[1]["case"][1], pair[1]["case"][2]))
        for i, r in open_cases[:capacity]:
            worked.add(i)
            values.append(r["expected"])
    return float(np.mean(values)) if values else float("nan")


def compare(by_seed: dict[int, list[dict]], capacity: int) -> dict:
    seeds = sorted(by_seed)
    results = {}
    workbench, lowest_risk = [], []
    for seed in seeds:
        rows = by_seed[seed]
        X, _, _, _ = _arrays(rows)
        priority = np.asarray([-(r["case"][0] if r["case"] else 0) for r in rows], dtype=float)
        workbench.append(worked_value(rows, priority, capacity))
        lowest_risk.append(worked_value(rows, -X[:, 0], capacity))
    results["workbench order (risk)"] = workbench
    results["lowest churn probability first"] = lowest_risk
    for name, fit in LEARNERS.items():
        per_training_seed = []
        for seed in seeds:
            X, t, worked, y = _arrays(by_seed[seed])
            keep = ~t | worked  # worked cases against the holdout, as training_rows keeps them
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                uplift = fit(X[keep], t[keep], y[keep])
            per_training_seed.append(float(np.mean([
                worked_value(by_seed[other], uplift(_arrays(by_seed[other])[0]), capacity) for other in seeds if other != seed
            ])))
        results[name] = per_training_seed
    return {name: {"mean": round(float(np.mean(v)), 4), "min": round(float(np.min(v)), 4), "max": round(float(np.max(v)), 4)}
            for name, v in results.items()}


def _seed_range(text: str) -> list[int]:
    first, _, last = text.partition("-")
    return list(range(int(first), int(last or first) + 1))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", default="1-10", help="Seeds to explore, e.g. 1-10.")
    parser.add_argument("--save", metavar="FILE", help="Write each seed's rows here (one JSON line a seed).")
    parser.add_argument("--load", nargs="+", metavar="FILE", help="Compare from rows saved earlier instead of running.")
    args = parser.parse_args()

    import django

    django.setup()
    from simulation import params as P

    by_seed: dict[int, list[dict]] = {}
    if args.load:
        for path in args.load:
            for line in Path(path).read_text().splitlines():
                saved = json.loads(line)
                by_seed[saved["seed"]] = saved["rows"]
    else:
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        for seed in _seed_range(args.seeds):
            by_seed[seed] = explored_rows(seed)
            if args.save:
                with open(args.save, "a") as out:
                    out.write(json.dumps({"seed": seed, "rows": by_seed[seed]}) + "\n")
    print(json.dumps({"seeds": sorted(by_seed), **compare(by_seed, P.SimulationParams().customer_success_capacity)}, indent=2))


if __name__ == "__main__":
    main()
