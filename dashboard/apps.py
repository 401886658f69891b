from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "dashboard"
    verbose_name = "Operations dashboard"

    def ready(self):
        from core.admin import profile_context_register
        from core.seeding import reseed_when_empty
        from dashboard.buyer_profile import buyer_360_get
        from dashboard.seller_profile import seller_360_get

        profile_context_register("buyers.buyer", lambda buyer: buyer_360_get(buyer=buyer))
        profile_context_register("sellers.seller", lambda seller: seller_360_get(seller=seller))

        reseed_when_empty(
            app_config=self,
            model="dashboard.AlertThreshold",
            migration="dashboard.migrations.0002_default_thresholds",
            function="seed",
            later=("dashboard.migrations.0003_underperforming_listing_kpi", "dashboard.migrations.0004_model_drift_kpis"),
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
