from django.apps import AppConfig


class BuyersConfig(AppConfig):
    name = "buyers"

    def ready(self):
        from core import roles

        read = {
            "buyers.buyerretention": roles.VIEW,
            "buyers.buyersegmentchange": roles.VIEW,
            "buyers.sellerdormancy": roles.VIEW,
            "buyers.interventionassignment": roles.VIEW,
            "buyers.campaignaudience": roles.VIEW,
            "buyers.lifetimefit": roles.VIEW,
            "buyers.retentionsettings": roles.VIEW,
        }
        roles.extend_role_permissions(roles.CUSTOMER_SUCCESS, read)
        roles.extend_role_permissions(roles.SELLER_SUPPORT, read)
        # Thresholds and audiences are policy: only marketplace admins change them.
        roles.extend_role_permissions(
            roles.MARKETPLACE_ADMIN,
            read
            | {
                "buyers.retentionsettings": ("view", "add", "change"),
                "buyers.campaignaudience": roles.CONFIGURE,
                # Which queues are ordered by expected uplift is policy too.
                "buyers.uplifttargeting": ("view", "add", "change"),
            },
        )
