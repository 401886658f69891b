from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "API keys and ingestion"

    def ready(self):
        from core import roles
        from integrations import schema  # noqa: F401 - registers the OpenAPI security scheme

        # Keys are credentials: only Marketplace Admins create and revoke them.
        roles.extend_role_permissions(
            roles.MARKETPLACE_ADMIN,
            {
                "integrations.apikey": ("view", "add", "change"),
                "integrations.idempotencyrecord": ("view",),
                "integrations.pendingreaction": ("view",),
            },
        )
