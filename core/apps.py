from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Kiln core"

    def ready(self):
        from core.roles import sync_role_permissions

        # Permissions only exist after every app has migrated, so the role matrix is
        # applied after each migrate run rather than inside one app's migration.
        post_migrate.connect(sync_role_permissions, dispatch_uid="kiln-sync-role-permissions")
