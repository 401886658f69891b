import json

from django.core.management.base import BaseCommand

from retention.impact import impact_report
from retention.recommendations import recommendations_evaluate


class Command(BaseCommand):
    help = "Print each intervention's lift over its holdout (95% CI, cases still needed) and the recommendation hit rate."

    def add_arguments(self, parser):
        parser.add_argument("--include-open", action="store_true", help="Count assignments whose window is still open.")
        parser.add_argument("--recommendations", action="store_true", help="Also evaluate recommendations (hit rate@10).")

    def handle(self, *args, include_open=False, recommendations=False, **options):
        for row in impact_report(include_open=include_open):
            self.stdout.write(json.dumps(row.as_dict()))
        if recommendations:
            self.stdout.write(json.dumps({"recommendations": recommendations_evaluate()}))
