from django.apps import AppConfig


class ScoringConfig(AppConfig):
    name = "scoring"
    verbose_name = "Seller scoring"

    def ready(self):
        from core import roles

        # Model versions are policy: only admins activate or roll back (the admin actions check too).
        roles.extend_role_permissions(
            roles.MARKETPLACE_ADMIN,
            {
                "scoring.modelversion": ("view", "change"),
                "scoring.modelversionevent": ("view",),
                "scoring.sellerscore": ("view",),
                "scoring.sellerscorehistory": ("view",),
                "scoring.scorerun": ("view",),
            },
        )
        for role in (roles.CUSTOMER_SUCCESS, roles.SELLER_SUPPORT):
            roles.extend_role_permissions(
                role,
                {
                    "scoring.modelversion": ("view",),
                    "scoring.sellerscore": ("view",),
                    "scoring.sellerscorehistory": ("view",),
                },
            )
