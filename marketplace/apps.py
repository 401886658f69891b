from django.apps import AppConfig


class MarketplaceConfig(AppConfig):
    name = "marketplace"

    def ready(self):
        from core import roles

        roles.extend_role_permissions(
            roles.MARKETPLACE_ADMIN,
            {"marketplace.lateorderpolicy": roles.WORK, "marketplace.lateordernotice": roles.VIEW},
        )
