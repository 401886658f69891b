from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "dashboard"
    verbose_name = "Operations dashboard"

    def ready(self):
        from core.seeding import reseed_when_empty

        reseed_when_empty(
            app_config=self,
            model="dashboard.AlertThreshold",
            migration="dashboard.migrations.0002_default_thresholds",
            function="seed",
        )

        from core.roles import CUSTOMER_SUCCESS, MARKETPLACE_ADMIN, SELLER_SUPPORT, extend_role_permissions

        # Everyone on staff reads alerts; only admins edit thresholds or close alerts.
        for role in (CUSTOMER_SUCCESS, SELLER_SUPPORT):
            extend_role_permissions(
                role, {"dashboard.alert": ("view",), "dashboard.alertthreshold": ("view",), "sellers.listinghealth": ("view",)}
            )
        extend_role_permissions(
            MARKETPLACE_ADMIN,
            {"dashboard.alert": ("view", "change"), "dashboard.alertthreshold": ("view", "add", "change", "delete"),
             "dashboard.kpisnapshot": ("view",), "sellers.listinghealth": ("view",)},
        )
