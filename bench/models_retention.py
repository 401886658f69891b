"""Benchmark: every retention model on generated marketplaces, judged against the generator's truth.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/kiln_wt14_bench \
        .venv/bin/python bench/models_retention.py --seeds 1 2 3 4 5 --sellers 1000 --buyers 15000 --months 24

For each seed the database is cleared and a marketplace generated (end 2026-11-01), then:

- lifetime fits: the production ``lifetime_fits_run`` (calibration/holdout choice between BG/NBD,
  MBG/NBD and MBG/CNBD-k on the last 182 days); held-out RMSE per model for all buyers and for
  regular ones; CLV predicted on the calibration period against realised holdout spend;
- P(alive): ROC AUC of P(alive) against "days since the last order" for ranking buyers that are
  truly alive at the snapshot (``synthetic_churned_at`` after the data end);
- churn: ``churn_model_train`` (train at T-180 d, gate at T-90 d), then scored at the snapshot on
  buyers alive then and active within 365 days; the label is the generator's truth, churn within
  the next 90 days. Compared with recency alone and 1 - P(alive) alone, paired bootstrap CIs;
- recommendations: ``retention.recommendations.recommendation_evaluate`` (hit rate and NDCG at 10
  on each buyer's last order, against global popularity and "own artisans' best-sellers, then
  popularity"), with bootstrap CIs, and the diversity cap.

``run`` returns the markdown section (written to docs/models-retention.md by the command line).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

import django  # noqa: E402

END = "2026-11-01"
CHURN_TRUTH_DAYS = 90


def _setup():
    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    name = settings.DATABASES["default"]["NAME"]
    if settings.DATABASES["default"]["ENGINE"].endswith("postgresql") and "bench" not in str(name):
        raise SystemExit(f"Refusing to clear database {name!r}: its name must contain 'bench'.")
    call_command("migrate", verbosity=0)


def _clear_derived():
    from buyers.models import BuyerRetention, BuyerSegmentChange, LifetimeFit
    from scoring.models import ModelVersion

    BuyerSegmentChange.objects.all().delete()
    BuyerRetention.objects.all().delete()
    LifetimeFit.objects.all().delete()
    ModelVersion.objects.filter(kind="buyer_churn").delete()


def evaluate_seed(seed: int, *, sellers: int, buyers: int, months: int, with_recommendations: bool = True) -> dict:
    import numpy as np
    import pandas as pd
    from datetime import timedelta

    from retention.churn import ACTIVE_WITHIN_DAYS, BASELINE_P_ALIVE, BASELINE_RECENCY
    from retention.features import CHURN_FEATURES, churn_feature_frame
    from buyers.models import Buyer, BuyerRetention, FitKind, FitStatus, LifetimeFit
    from retention.services import retention_recompute
    from marketplace.generator.services import generate_marketplace
    from scoring.gate import gate_evaluate, weighted_auc
    from scoring.models import ModelVersion
    from scoring.registry import model_load

    timings = {}
    started = time.perf_counter()
    _clear_derived()
    summary = generate_marketplace(sellers=sellers, buyers=buyers, months=months, seed=seed, end=END, clear=True, progress=False)
    timings["generate"] = time.perf_counter() - started
    as_of = pd.Timestamp(END, tz="UTC").to_pydatetime()

    started = time.perf_counter()
    retention_recompute(as_of=as_of)
    timings["lifetime"] = time.perf_counter() - started
    fit = LifetimeFit.objects.get(kind=FitKind.BGNBD, status=FitStatus.ACTIVE)
    spend = LifetimeFit.objects.get(kind=FitKind.GAMMA_GAMMA, status=FitStatus.ACTIVE)
    evaluation = fit.evaluation

    # Truth at the snapshot.
    rows = pd.DataFrame.from_records(
        BuyerRetention.objects.filter(order_count__gt=0).values("buyer_id", "p_alive", "days_since_last_order"),
    ).set_index("buyer_id")
    churned_at = pd.Series(dict(Buyer.objects.filter(pk__in=rows.index).values_list("pk", "synthetic_churned_at")))
    churned_at = pd.to_datetime(churned_at, utc=True).reindex(rows.index)
    snapshot = pd.Timestamp(as_of)
    alive = (churned_at > snapshot).to_numpy()
    ones = np.ones((1, len(rows)))
    p_alive_auc = float(weighted_auc(alive, rows["p_alive"].to_numpy(), ones)[0])
    recency_auc = float(weighted_auc(alive, -rows["days_since_last_order"].to_numpy(), ones)[0])
    alive_ranking = gate_evaluate(
        y_true=alive, candidate=rows["p_alive"].to_numpy(), baselines={"recency": -rows["days_since_last_order"].to_numpy()}, seed=seed
    ).evaluation

    # Churn: train through production, evaluate on the generator's truth among the alive.
    from retention.churn import churn_model_train

    started = time.perf_counter()
    version, report = churn_model_train(as_of=as_of, seed=seed)
    timings["churn"] = time.perf_counter() - started
    estimator = model_load(ModelVersion.objects.get(pk=version.pk))
    features = churn_feature_frame(as_of=as_of, p_alive=rows["p_alive"])
    features = features[features["days_since_last_order"] <= ACTIVE_WITHIN_DAYS]
    truth_churn = churned_at.reindex(features.index)
    keep = (truth_churn > snapshot).to_numpy()
    features = features[keep]
    y = (truth_churn[keep] <= snapshot + timedelta(days=CHURN_TRUTH_DAYS)).astype(int).to_numpy()
    probability = estimator.predict_proba(features[CHURN_FEATURES].to_numpy(dtype=float))[:, 1]
    truth_gate = gate_evaluate(
        y_true=y,
        candidate=probability,
        baselines={
            BASELINE_RECENCY: features["days_since_last_order"].to_numpy(dtype=float),
            BASELINE_P_ALIVE: 1.0 - features["p_alive"].to_numpy(dtype=float),
        },
        seed=seed,
    ).evaluation

    # Recommendations.
    recs = None
    if with_recommendations:
        from retention.recommendations import recommendations_evaluate

        started = time.perf_counter()
        recs = recommendations_evaluate(as_of=as_of, seed=seed)
        timings["recommendations"] = time.perf_counter() - started

    return {
        "seed": seed,
        "orders": summary.get("counts", {}).get("orders"),
        "buyers": buyers,
        "chosen": fit.model,
        "k": fit.params.get("k"),
        "models": {
            name: {
                "label": m.get("label"),
                "rmse": m.get("rmse"),
                "total_error_pct": m.get("total_error_pct"),
                "regular_rmse": (m.get("regular") or {}).get("rmse"),
            }
            for name, m in (evaluation.get("models") or {}).items()
        },
        "n_regular": evaluation.get("n_regular"),
        "clv": spend.evaluation.get("clv") or evaluation.get("clv"),
        "p_alive_auc": p_alive_auc,
        "p_alive_ranking": alive_ranking,
        "recency_alive_auc": recency_auc,
        "churn_gate_observable": report["gate"],
        "churn_truth": truth_gate,
        "churn_activated": report["activated"],
        "recommendations": recs,
        "timings": timings,
    }


def _mean_worst(values, *, higher_is_better=True):
    import numpy as np

    values = [v for v in values if v is not None]
    if not values:
        return "n/a", "n/a"
    worst = min(values) if higher_is_better else max(values, key=abs)
    return f"{np.mean(values):.3f}", f"{worst:.3f}"


def _bootstrap_mean_ci(values, seed=0):
    import numpy as np

    values = np.asarray([v for v in values if v is not None], dtype=float)
    if len(values) < 2:
        return "n/a"
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(2000, len(values)))].mean(axis=1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    return f"[{lo:.3f}, {hi:.3f}]"


def render(results: list[dict], *, sellers: int, buyers: int, months: int) -> str:
    lines = [
        "## Retention models",
        "",
        f"Generated marketplaces: {sellers:,} artisans, {buyers:,} buyers, {months} months, end {END}; "
        f"seeds {', '.join(str(r['seed']) for r in results)}. Truth is the generator's `synthetic_churned_at`.",
        "Intervals on single-seed rows are 95 % paired bootstrap intervals over buyers (1,000 resamples); "
        "on the mean row, a bootstrap over seeds. Command: "
        f"`DATABASE_URL=postgres://postgres@127.0.0.1:5432/kiln_wt14_bench .venv/bin/python bench/models_retention.py "
        f"--seeds {' '.join(str(r['seed']) for r in results)} --sellers {sellers} --buyers {buyers} --months {months}`.",
        "",
        "### Purchase-count models (held-out 182 days, per-buyer RMSE of repeat purchases)",
        "",
        "| seed | chosen | BG/NBD RMSE | MBG/NBD RMSE | MBG/CNBD-k RMSE | BG/NBD regular | MBG/CNBD-k regular (n regular) | total error of chosen |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        m = r["models"]
        chosen = m.get(r["chosen"], {})
        lines.append(
            f"| {r['seed']} | {chosen.get('label', r['chosen'])} | {m.get('bgnbd', {}).get('rmse')} | {m.get('mbgnbd', {}).get('rmse')} | "
            f"{m.get('mbgcnbd', {}).get('rmse')} ({m.get('mbgcnbd', {}).get('label')}) | {m.get('bgnbd', {}).get('regular_rmse')} | "
            f"{m.get('mbgcnbd', {}).get('regular_rmse')} ({r['n_regular']}) | {chosen.get('total_error_pct')} % |"
        )
    lines += [
        "",
        "### CLV against realised holdout spend (calibration fit, chosen model × Gamma-Gamma)",
        "",
        "| seed | predicted | realised | error | decile 1 (pred / real) | decile 10 (pred / real) |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        c = r["clv"] or {}
        d = c.get("deciles") or [{}]
        lines.append(
            f"| {r['seed']} | {c.get('predicted_total', 0):,.0f} | {c.get('actual_total', 0):,.0f} | {c.get('error_pct')} % | "
            f"{d[0].get('predicted')} / {d[0].get('actual')} | {d[-1].get('predicted')} / {d[-1].get('actual')} |"
        )
    errors = [(r["clv"] or {}).get("error_pct") for r in results]
    mean_err, _ = _mean_worst(errors)
    worst_err = max((abs(e) for e in errors if e is not None), default=None)
    lines.append(f"| mean | | | {mean_err} % (worst |{worst_err}| %) | | |")
    lines += [
        "",
        "### P(alive) ranking buyers truly alive at the snapshot (ROC AUC)",
        "",
        "| seed | buyers | P(alive) | days since last order | difference (95 % CI) |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        rank = r["p_alive_ranking"]
        comp = rank["comparisons"][0]
        lines.append(
            f"| {r['seed']} | {rank['n_holdout']} | {r['p_alive_auc']:.3f} {rank['candidate']['ci']} | {r['recency_alive_auc']:.3f} | "
            f"{comp['diff']:+.4f} {comp['diff_ci']} |"
        )
    pm, pw = _mean_worst([r["p_alive_auc"] for r in results])
    rm, rw = _mean_worst([r["recency_alive_auc"] for r in results])
    lines.append(f"| mean (worst) | | {pm} ({pw}) {_bootstrap_mean_ci([r['p_alive_auc'] for r in results])} | {rm} ({rw}) | |")
    lines += [
        "",
        f"### Churn within {CHURN_TRUTH_DAYS} days among buyers alive at the snapshot (truth; ROC AUC, 95 % CI)",
        "",
        "| seed | n (churn rate) | classifier | recency | diff vs recency | 1 - P(alive) | diff vs P(alive) | gate passed (observable backtest) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        t = r["churn_truth"]
        comp = {c["name"]: c for c in t["comparisons"]}
        rec = next(v for k, v in comp.items() if k.startswith("recency"))
        pa = next(v for k, v in comp.items() if k.startswith("1 - P"))
        lines.append(
            f"| {r['seed']} | {t['n_holdout']} ({t['brier']['rate']:.1%}) | {t['candidate']['value']:.3f} {t['candidate']['ci']} | {rec['value']:.3f} | "
            f"{rec['diff']:+.3f} {rec['diff_ci']} | {pa['value']:.3f} | {pa['diff']:+.3f} {pa['diff_ci']} | "
            f"{'yes' if r['churn_gate_observable']['passed'] else 'no'} |"
        )
    aucs = [r["churn_truth"]["candidate"]["value"] for r in results]
    diff_low = [min(c["diff_ci"][0] for c in r["churn_truth"]["comparisons"]) for r in results]
    cm, cw = _mean_worst(aucs)
    lines.append(f"| mean (worst) | | {cm} ({cw}) {_bootstrap_mean_ci(aucs)} | | worst lower bound of any difference: {min(diff_low):+.3f} | | | |")
    lines += [
        "",
        "### Recommendations (last order of each buyer held out; 95 % bootstrap CI over buyers)",
        "",
        "| seed | model HR@10 | popularity HR@10 | own artisans' best-sellers HR@10 | model NDCG@10 | popularity NDCG@10 | own artisans NDCG@10 | re-purchases recommended | max per artisan in top 10 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        rec = r["recommendations"]
        h, n = rec["hit_rate"], rec["ndcg"]
        lines.append(
            f"| {r['seed']} | {h['model']['value']:.3f} {h['model']['ci']} | {h['popularity']['value']:.3f} (diff CI {h['popularity']['diff_ci']}) | "
            f"{h['own_artisans']['value']:.3f} (diff CI {h['own_artisans']['diff_ci']}) | {n['model']['value']:.3f} | "
            f"{n['popularity']['value']:.3f} (diff CI {n['popularity']['diff_ci']}) | {n['own_artisans']['value']:.3f} (diff CI {n['own_artisans']['diff_ci']}) | "
            f"{rec.get('repurchase_share', 0):.1%} | {rec.get('max_per_artisan')} |"
        )
    hm, hw = _mean_worst([r["recommendations"]["hit_rate"]["model"]["value"] for r in results])
    lines.append(f"| mean (worst) | {hm} ({hw}) | | | | | | | |")
    lines += ["", "Timings per seed (s): " + "; ".join(
        f"seed {r['seed']}: " + ", ".join(f"{k} {v:.0f}" for k, v in r["timings"].items()) for r in results
    ), ""]
    return "\n".join(lines)


def run(seeds: list[int], *, sellers: int, buyers: int, months: int) -> str:
    """Evaluate every retention model on each seed; return the markdown section."""
    _setup()
    results = []
    for seed in seeds:
        result = evaluate_seed(seed, sellers=sellers, buyers=buyers, months=months)
        print(f"seed {seed} done: {result['timings']}", flush=True)
        results.append(result)
    return render(results, sellers=sellers, buyers=buyers, months=months)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--sellers", type=int, default=1000)
    parser.add_argument("--buyers", type=int, default=15000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--output", default=str(ROOT / "docs" / "models-retention.md"))
    args = parser.parse_args()
    markdown = run(args.seeds, sellers=args.sellers, buyers=args.buyers, months=args.months)
    print(markdown)
    if args.output:
        Path(args.output).write_text(markdown + "\n")


if __name__ == "__main__":
    main()
