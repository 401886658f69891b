from django.apps import AppConfig


class LoyaltyConfig(AppConfig):
    name = "loyalty"

    def ready(self):
        from core import roles

        configure = roles.CONFIGURE
        roles.extend_role_permissions(
            roles.MARKETPLACE_ADMIN,
            {
                "loyalty.loyaltyprogram": ("view", "change"),
                "loyalty.tier": configure,
                "loyalty.earningrule": configure,
                "loyalty.badge": configure,
                "loyalty.reward": configure,
                "loyalty.tieroverride": ("view", "add"),
                "loyalty.badgeaward": roles.WORK,
                "loyalty.pointsentry": roles.VIEW,
                "loyalty.tierchange": roles.VIEW,
                "loyalty.redemption": roles.VIEW,
                "loyalty.loyaltymember": roles.WORK,
                "loyalty.competition": configure,
                "loyalty.competitionprize": configure,
                "loyalty.competitionaward": roles.VIEW,
            },
        )
        for role in (roles.CUSTOMER_SUCCESS,):
            roles.extend_role_permissions(
                role,
                {
                    "loyalty.pointsentry": roles.VIEW,
                    "loyalty.loyaltymember": roles.WORK,
                    "loyalty.redemption": roles.VIEW,
                    "loyalty.badgeaward": roles.VIEW,
                    "loyalty.tierchange": roles.VIEW,
                    "loyalty.reward": roles.VIEW,
                    "loyalty.competition": roles.VIEW,
                    "loyalty.competitionaward": roles.VIEW,
                },
            )
