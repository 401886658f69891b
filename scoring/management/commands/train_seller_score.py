import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from scoring.training import HORIZON_DAYS, seller_score_train


class Command(BaseCommand):
    help = "Train the seller-score models (global + per category) on history; activate those that pass validation."

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument("--no-activate", action="store_true", help="Register candidates only.")
        parser.add_argument("--no-categories", action="store_true", help="Train the global model only.")
        parser.add_argument("--horizon-days", type=int, default=HORIZON_DAYS)

    def handle(self, *args, **options):
        try:
            result = seller_score_train(
                seed=options["seed"],
                activate=not options["no_activate"],
                categories=not options["no_categories"],
                horizon_days=options["horizon_days"],
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        summary = {
            "versions": [
                {
                    "version": str(v),
                    "roc_auc": v.metrics["roc_auc"],
                    "baseline_roc_auc": v.baseline_metrics["roc_auc"],
                    "brier": v.metrics["brier"],
                    "recall_high_return_cancel_not_low": v.metrics.get("recall_high_return_cancel_not_low"),
                    "n_train": v.metrics.get("n_train"),
                    "n_holdout": v.metrics.get("n"),
                }
                for v in result.versions
            ],
            "activated": [str(v) for v in result.activated],
            "refused": result.refused,
            "skipped_categories": result.skipped_categories,
        }
        self.stdout.write(json.dumps(summary, indent=2))
