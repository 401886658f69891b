from django.apps import AppConfig


class WorkflowsConfig(AppConfig):
    """The orchestration layer: every sequence that crosses apps (see docs/architecture.md)."""

    name = "workflows"
    verbose_name = "Kiln workflows"

    def ready(self):
        from workflows import reactions

        reactions.connect()
