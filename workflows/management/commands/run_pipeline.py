from django.core.management import BaseCommand, CommandError

from workflows.pipeline import pipeline_retry_latest, pipeline_run_inline, pipeline_start


class Command(BaseCommand):
    help = "Run the nightly recompute now: in this process (--inline) or fanned out to the Celery workers."

    def add_arguments(self, parser):
        parser.add_argument("--inline", action="store_true", help="Run every stage in this process.")
        parser.add_argument("--chunk-size", type=int, help="Keys per chunk (default: PIPELINE_CHUNK_SIZE).")
        parser.add_argument(
            "--retry", action="store_true", help="Resume the latest run if it failed; its finished stages are kept."
        )

    def handle(self, *args, **options):
        if options["chunk_size"] is not None and options["chunk_size"] < 1:
            raise CommandError("--chunk-size must be a positive number of keys.")
        if options["retry"]:
            run = pipeline_retry_latest()
            if run is None:
                raise CommandError("The latest pipeline run did not fail (or another run holds the lease): nothing to retry.")
            self.stdout.write(f"Pipeline run #{run.pk}: retrying from its first unfinished level.")
            return
        if options["inline"]:
            try:
                for stage, seconds in pipeline_run_inline(chunk_size=options["chunk_size"], progress=self.stdout.write):
                    self.stdout.write(f"  {stage}: {seconds:.1f}s")
            except RuntimeError as exc:
                raise CommandError(str(exc)) from exc
            self.stdout.write(self.style.SUCCESS("Pipeline finished."))
            return
        run = pipeline_start(trigger="manual", chunk_size=options["chunk_size"])
        self.stdout.write(f"Pipeline run #{run.pk}: {run.status}. Follow it in the admin under Pipeline runs.")
