from django.apps import AppConfig


class WorkflowsConfig(AppConfig):
    """The orchestration layer: every sequence that crosses apps (see docs/architecture.md)."""

    name = "workflows"
    verbose_name = "Kiln workflows"

    def ready(self):
        from core.messaging import recipient_contexts_register
        from workflows import reactions
        from workflows.recipients import recipient_contexts, sample_address

        reactions.connect()
        recipient_contexts_register(recipient_contexts, sample_address=sample_address)
