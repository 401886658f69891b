import time

from django.core.management import BaseCommand, call_command

from core.demo import (
    demo_configuration_create,
    demo_models_train,
    demo_onboarding_route,
    demo_users_create,
    demo_workshop_seat,
)
from core.pipeline import pipeline_run_inline
from sellers.models import Seller


class Command(BaseCommand):
    help = "Fill an empty database with a small demo marketplace, derive its scores and queues, and create one login per role."

    def add_arguments(self, parser):
        parser.add_argument("--sellers", type=int, default=60)
        parser.add_argument("--buyers", type=int, default=600)
        parser.add_argument("--months", type=int, default=12)
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument("--password", help="Use this password for every demo user instead of fresh random ones.")

    def handle(self, *args, **options):
        started = time.monotonic()
        if Seller.objects.exists():
            self.stdout.write("The database already holds a marketplace; keeping it.")
        else:
            call_command(
                "generate_marketplace",
                sellers=options["sellers"],
                buyers=options["buyers"],
                months=options["months"],
                seed=options["seed"],
                stdout=self.stdout,
            )
        self.stdout.write("Configuring loyalty, feedback and workshops…")
        for line in demo_configuration_create(seed=options["seed"]):
            self.stdout.write(f"  {line}")
        self.stdout.write("Training and validating the scoring models…")
        for line in demo_models_train(seed=options["seed"]):
            self.stdout.write(f"  {line}")
        self.stdout.write("Routing pending artisan applications…")
        for line in demo_onboarding_route():
            self.stdout.write(f"  {line}")
        self.stdout.write("Deriving scores, retention, loyalty and KPIs…")
        for stage, seconds in pipeline_run_inline(progress=self.stdout.write):
            self.stdout.write(f"  {stage}: {seconds:.1f}s")
        for line in demo_workshop_seat():
            self.stdout.write(f"  {line}")
        # Two weeks of daily KPI history, so the dashboard's sparklines have a trend to show.
        call_command("kpi_snapshots", days=14, stdout=self.stdout)
        logins = demo_users_create(password=options["password"])
        self.stdout.write(self.style.SUCCESS(f"Demo ready in {time.monotonic() - started:.0f}s."))
        self.stdout.write("Back-office: http://127.0.0.1:8000/admin/")
        for login in logins:
            self.stdout.write(f"  {login.role:<18} username: {login.username:<8} password: {login.password}")
