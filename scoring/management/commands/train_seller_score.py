import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from scoring.training import HORIZON_DAYS, seller_score_train


class Command(BaseCommand):
    help = "Train the seller-score models (global, cold-start, per category); activate those the gate passes."

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument("--no-activate", action="store_true", help="Register candidates only.")
        parser.add_argument("--no-categories", action="store_true", help="Train the global and cold-start models only.")
        parser.add_argument("--horizon-days", type=int, default=HORIZON_DAYS)
        parser.add_argument(
            "--permute-labels", type=int, metavar="SEED",
            help="Self-test of the gate: train on shuffled training labels (seeded). Nothing may activate.",
        )
        parser.add_argument(
            "--noise-features", type=int, metavar="SEED",
            help="Self-test of the gate: train on random features (seeded). Nothing may activate.",
        )

    def handle(self, *args, **options):
        if options["permute_labels"] is not None and options["noise_features"] is not None:
            raise CommandError("Choose one of --permute-labels and --noise-features.")
        try:
            result = seller_score_train(
                seed=options["seed"],
                activate=not options["no_activate"],
                categories=not options["no_categories"],
                horizon_days=options["horizon_days"],
                permute_labels=options["permute_labels"],
                noise_features=options["noise_features"],
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        summary = {
            "versions": [
                {
                    "version": str(v),
                    "roc_auc": v.metrics["roc_auc"],
                    "roc_auc_ci": (v.metrics.get("evaluation") or {}).get("candidate", {}).get("ci"),
                    "best_baseline": v.baseline_metrics.get("name"),
                    "best_baseline_roc_auc": v.baseline_metrics.get("roc_auc"),
                    "brier": v.metrics["brier"],
                    "gate_passed": v.metrics["gate"]["passed"],
                    "dropped_features": [d["name"] for d in v.metrics.get("dropped_features", [])],
                    "n_train": v.metrics.get("n_train"),
                    "n_holdout": v.metrics.get("n"),
                }
                for v in result.versions
            ],
            "activated": [str(v) for v in result.activated],
            "refused": result.refused,
            "skipped": result.skipped,
        }
        self.stdout.write(json.dumps(summary, indent=2))
