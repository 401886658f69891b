from django.apps import AppConfig


class SellersConfig(AppConfig):
    name = "sellers"

    def ready(self):
        from core import roles
        from core.seeding import reseed_when_empty
        from sellers import workbench_actions

        workbench_actions.register()

        reseed_when_empty(
            app_config=self,
            model="sellers.OnboardingPolicy",
            migration="sellers.migrations.0003_default_onboarding_policy",
            function="create_default_policy",
        )

        # Seller support runs calls and workshops; customer success works manual reviews;
        # only marketplace admins change the onboarding bands.
        roles.extend_role_permissions(
            roles.SELLER_SUPPORT,
            {
                "sellers.onboardingpolicy": ("view",),
                "sellers.onboardingdecision": ("view",),
                "sellers.workshop": ("view", "add", "change"),
                "sellers.workshopsession": ("view", "add", "change"),
                "sellers.workshopassignment": ("view", "add", "change"),
                "sellers.onboardingqueuecase": ("view", "change"),
                "sellers.inventoryauditcase": ("view", "change"),
            },
        )
        roles.extend_role_permissions(
            roles.CUSTOMER_SUCCESS,
            {
                "sellers.onboardingpolicy": ("view",),
                "sellers.onboardingdecision": ("view",),
                "sellers.workshop": ("view",),
                "sellers.workshopsession": ("view",),
                "sellers.workshopassignment": ("view",),
                "sellers.onboardingqueuecase": ("view", "change"),
            },
        )
        roles.extend_role_permissions(
            roles.MARKETPLACE_ADMIN,
            {
                "sellers.onboardingpolicy": ("view", "add", "change"),
                "sellers.onboardingdecision": ("view",),
                "sellers.workshop": ("view", "add", "change"),
                "sellers.workshopsession": ("view", "add", "change"),
                "sellers.workshopassignment": ("view", "add", "change"),
                "sellers.onboardingqueuecase": ("view", "change"),
                "sellers.inventoryauditcase": ("view", "change"),
            },
        )
