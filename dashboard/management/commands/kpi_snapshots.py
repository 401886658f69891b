from datetime import date

from django.core.management.base import BaseCommand, CommandError

from dashboard.services import default_as_of, snapshot_backfill


class Command(BaseCommand):
    help = "Store daily KPI snapshots for the last N days (fills the dashboard sparklines)."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=90)
        parser.add_argument("--end", help="Last day YYYY-MM-DD (default: yesterday).")

    def handle(self, *args, **options):
        if not 1 <= options["days"] <= 730:
            raise CommandError("--days must be between 1 and 730.")
        try:
            end = date.fromisoformat(options["end"]) if options["end"] else default_as_of()
        except ValueError as exc:
            raise CommandError(f"--end: {exc}") from exc
        rows = snapshot_backfill(end=end, days=options["days"])
        self.stdout.write(f"Stored {rows} KPI snapshot rows for {options['days']} day(s) ending {end}.")
