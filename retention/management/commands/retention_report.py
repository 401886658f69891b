import json

from django.core.management.base import BaseCommand

from retention.interventions import intervention_report
from retention.recommendations import recommendations_evaluate


class Command(BaseCommand):
    help = "Print intervention impact (treated vs held out, 95% CI) and the recommendation hit rate."

    def add_arguments(self, parser):
        parser.add_argument("--include-open", action="store_true", help="Count assignments whose window is still open.")
        parser.add_argument("--recommendations", action="store_true", help="Also evaluate recommendations (hit rate@10).")

    def handle(self, *args, include_open=False, recommendations=False, **options):
        for row in intervention_report(include_open=include_open):
            self.stdout.write(json.dumps(row))
        if recommendations:
            self.stdout.write(json.dumps({"recommendations": recommendations_evaluate()}))
