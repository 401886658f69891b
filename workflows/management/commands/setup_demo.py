import io
import logging
import os
import sys
import time

from django.core.management import BaseCommand, call_command

from workflows import demo
from workflows.pipeline import pipeline_level_count, pipeline_run_inline

# Loggers that report every eager task, broker fallback or refused model at INFO/WARNING; the
# demo reports the same facts once, in its own summary lines.
QUIET_LOGGERS = ("celery", "celery.app.trace", "celery.redirected", "kombu", "kombu.connection", "scoring", "buyers",
                 "sellers", "loyalty", "feedback", "core", "dashboard", "marketplace")


class Step:
    """One line per step: a progress bar redrawn in place on a terminal, then the result and time."""

    WIDTH = 24

    def __init__(self, out, number: int, total: int, title: str, tty: bool):
        self.out, self.prefix, self.tty = out, f"[{number}/{total}] {title}", tty
        self.started = time.monotonic()
        self.update(0, 1)

    def update(self, done: int, total: int):
        if not self.tty:
            return
        filled = int(self.WIDTH * done / max(total, 1))
        self.out.write(f"\r{self.prefix} [{'#' * filled}{'.' * (self.WIDTH - filled)}]", ending="")
        self.out.flush()

    def finish(self, summary: str = ""):
        seconds = time.monotonic() - self.started
        end = f" [{'#' * self.WIDTH}]" if self.tty else ""
        self.out.write(f"\r{self.prefix}{end} {seconds:.0f}s" + (f": {summary}" if summary else ""))


class Command(BaseCommand):
    help = (
        "Build the demo marketplace once: data, configuration, models, queues and one login per role. "
        "Running it again keeps the database and every edit; --reset rebuilds from scratch."
    )

    def add_arguments(self, parser):
        # Sized so two craft categories each have enough history to train their own seller-score
        # model (scoring.training.CATEGORY_MIN_TRAIN_ROWS), while the build stays under a minute.
        parser.add_argument("--sellers", type=int, default=demo.DEMO_SELLERS)
        parser.add_argument("--buyers", type=int, default=demo.DEMO_BUYERS)
        parser.add_argument("--categories", default=",".join(demo.DEMO_CATEGORIES),
                            help="Comma-separated craft categories of the demo's artisans (default: %(default)s).")
        # Two years: the seller score learns from six-month outcomes and needs about 17 months of history.
        parser.add_argument("--months", type=int, default=24)
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument("--password", help="Password for every demo user (default: $DEMO_PASSWORD, else random).")
        parser.add_argument("--reset", action="store_true", help="Empty the database and build the demo again.")

    def handle(self, *args, **options):
        for name in QUIET_LOGGERS:
            logging.getLogger(name).setLevel(logging.ERROR)
        password = options["password"] or os.environ.get("DEMO_PASSWORD") or None
        if options["reset"]:
            call_command("flush", interactive=False, verbosity=0)
            self.stdout.write("Emptied the database; building the demo from scratch.")
        elif demo.demo_is_built():
            self._keep(password)
            return
        self._build(options, password)

    def _keep(self, password):
        self.stdout.write("The demo is already built: kept the database and every edit; no model was retrained "
                          "and no case was reopened.")
        if password:
            for login in demo.demo_users_create(password=password):
                self.stdout.write(f"  {login.role:<18} username: {login.username:<8} password: {login.password}")
            self.stdout.write("Passwords set from DEMO_PASSWORD.")
        else:
            self.stdout.write("Logins: " + ", ".join(username for username, *_ in demo.DEMO_USERS)
                              + " (passwords unchanged; they were printed when first created).")
            self.stdout.write("To set new passwords: DEMO_PASSWORD=<password> make demo. "
                              "To rebuild everything: python manage.py setup_demo --reset")
        self.stdout.write("Back-office: http://127.0.0.1:8000/admin/")

    def _build(self, options, password):
        from marketplace.generator.services import generate_marketplace
        from sellers.models import Seller

        categories = [c.strip() for c in options["categories"].split(",") if c.strip()]
        started = time.monotonic()
        tty = sys.stdout.isatty()
        steps = [
            "Generating the marketplace", "Configuring loyalty, feedback and workshops", "Training the models",
            "Routing artisan applications", "Deriving scores, retention, loyalty and KPIs", "Working a few onboarding cases",
            "Recording KPI history", "Creating logins",
        ]
        total = len(steps)

        def step(index):
            return Step(self.stdout, index + 1, total, steps[index], tty)

        current = step(0)
        if Seller.objects.exists():
            current.finish("kept the marketplace already in the database")
        else:
            result = generate_marketplace(sellers=options["sellers"], buyers=options["buyers"], months=options["months"],
                                          seed=options["seed"], categories=categories, progress=False)
            counts = result["counts"]
            current.finish(f"{counts['sellers']} artisans, {counts['buyers']} buyers, {counts['orders']} orders; "
                           + demo.demo_onboarding_flow(seed=options["seed"], months=options["months"],
                                                       categories=categories))
        current = step(1)
        lines = demo.demo_configuration_create(seed=options["seed"])
        current.finish("; ".join(lines))
        current = step(2)
        lines = demo.demo_models_train(seed=options["seed"])
        current.finish(lines[0] if len(lines) == 1 else f"{len(lines)} results")
        for line in lines if len(lines) > 1 else ():
            self.stdout.write(f"    {line}")
        current = step(3)
        current.finish("; ".join(demo.demo_onboarding_route()))
        current = step(4)
        stages, levels = [], pipeline_level_count()
        for stage, _seconds in pipeline_run_inline():
            stages.append(stage)
            current.update(len(stages), levels)
        current.finish(f"{len(stages)} pipeline levels")
        current = step(5)
        current.finish("; ".join(demo.demo_onboarding_progress() + demo.demo_workshop_seat()))
        current = step(6)
        # Two weeks of daily KPI history, so the dashboard's sparklines have a trend to show.
        call_command("kpi_snapshots", days=14, stdout=io.StringIO())
        current.finish("14 days")
        current = step(7)
        logins = demo.demo_users_create(password=password)
        current.finish()
        self.stdout.write(self.style.SUCCESS(f"Demo ready in {time.monotonic() - started:.0f}s. "
                                             "Back-office: http://127.0.0.1:8000/admin/"))
        for login in logins:
            self.stdout.write(f"  {login.role:<18} username: {login.username:<8} password: {login.password}")
        self.stdout.write("Running `make demo` again keeps all of this; `python manage.py setup_demo --reset` rebuilds it.")
