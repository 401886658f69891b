from django.apps import AppConfig


class MarketplaceConfig(AppConfig):
    name = "marketplace"

    def ready(self):
        from core import roles

        roles.extend_role_permissions(
            roles.MARKETPLACE_ADMIN,
            # The policy is one row: admins add it if the late-order job has not yet, and change it.
            {"marketplace.lateorderpolicy": ("view", "add", "change"), "marketplace.lateordernotice": roles.VIEW},
        )
