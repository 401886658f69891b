import json

from django.core.management.base import BaseCommand, CommandError

from marketplace.generator.services import GeneratorError, generate_marketplace


class Command(BaseCommand):
    help = (
        "Write a reproducible synthetic marketplace (sellers, buyers, orders, reviews, events). See docs/generator.md."
    )

    def add_arguments(self, parser):
        parser.add_argument("--sellers", type=int, required=True)
        parser.add_argument("--buyers", type=int, required=True)
        parser.add_argument("--months", type=int, required=True)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--end", help="Window end date YYYY-MM-DD (default: today, UTC midnight).")
        parser.add_argument(
            "--categories", help="Comma-separated craft categories to draw artisans from (default: all)."
        )
        parser.add_argument(
            "--purchase-frequency",
            type=float,
            default=1.0,
            help="Divide every buyer's purchase cadence by this (2 = buyers order twice as often; default 1).",
        )
        parser.add_argument("--clear", action="store_true", help="Empty the marketplace tables first.")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, **options):
        categories = None
        if options["categories"] is not None:
            categories = [c.strip() for c in options["categories"].split(",") if c.strip()]
        try:
            summary = generate_marketplace(
                sellers=options["sellers"],
                buyers=options["buyers"],
                months=options["months"],
                seed=options["seed"],
                end=options["end"],
                categories=categories,
                clear=options["clear"],
                purchase_frequency=options["purchase_frequency"],
                progress=not options["no_progress"],
            )
        except GeneratorError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(json.dumps(summary, indent=2))
