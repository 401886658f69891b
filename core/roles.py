"""Kiln's three staff roles and what each may see and change.

The matrix below is the single statement of least privilege. It is applied after
every ``migrate`` so that permissions for models added later are granted too.
"""

from django.contrib.auth.models import Group, Permission
from django.db.models import Q

CUSTOMER_SUCCESS = "Customer Success"
SELLER_SUPPORT = "Seller Support"
MARKETPLACE_ADMIN = "Marketplace Admin"
ALL_ROLES = (CUSTOMER_SUCCESS, SELLER_SUPPORT, MARKETPLACE_ADMIN)

# The team value on a Case that each role works.
ROLE_TEAM = {CUSTOMER_SUCCESS: "customer_success", SELLER_SUPPORT: "seller_support"}

VIEW = ("view",)
WORK = ("view", "change")
CONFIGURE = ("view", "add", "change", "delete")

# What both operational teams need to work their queues.
OPERATIONS_BASE: dict[str, tuple[str, ...]] = {
    "casework.case": WORK,
    "casework.caseevent": VIEW,
    "sellers.seller": VIEW,
    "sellers.listing": VIEW,
    "buyers.buyer": VIEW,
    "marketplace.order": VIEW,
    "marketplace.review": VIEW,
    "marketplace.return": VIEW,
}

# app_label.model -> actions, per role. Models not listed are invisible to the role.
# Policy models (bands, tiers, badges, rules, thresholds, model versions) are
# configurable by admins only; operational staff see what they need to do their work.
ROLE_PERMISSIONS: dict[str, dict[str, tuple[str, ...]]] = {
    CUSTOMER_SUCCESS: dict(OPERATIONS_BASE),
    SELLER_SUPPORT: dict(OPERATIONS_BASE),
    MARKETPLACE_ADMIN: {
        "casework.case": WORK,
        "casework.caseevent": VIEW,
        "sellers.seller": WORK,
        "sellers.listing": VIEW,
        "buyers.buyer": VIEW,
        "marketplace.order": VIEW,
        "marketplace.orderline": VIEW,
        "marketplace.review": VIEW,
        "marketplace.return": VIEW,
        "marketplace.engagementevent": VIEW,
        "core.outboxmessage": WORK,
        "core.pipelinerun": WORK,
        "core.pipelinestagerun": VIEW,
        # The outbound policy: recipients' preferences, caps and quiet hours, message wording.
        "core.contactpreference": CONFIGURE,
        "core.messagingpolicy": WORK,
        "core.messagetemplate": CONFIGURE,
    },
}


def extend_role_permissions(role: str, grants: dict[str, tuple[str, ...]]) -> None:
    """Lets an app add its own models to the matrix from its AppConfig.ready()."""
    ROLE_PERMISSIONS[role].update(grants)


def sync_role_permissions(**kwargs) -> None:
    for role in ALL_ROLES:
        group, _ = Group.objects.get_or_create(name=role)
        wanted = Q(pk__in=[])
        for model_label, actions in ROLE_PERMISSIONS[role].items():
            app_label, model = model_label.split(".")
            codenames = [f"{action}_{model}" for action in actions]
            wanted |= Q(content_type__app_label=app_label, content_type__model=model, codename__in=codenames)
        group.permissions.set(Permission.objects.filter(wanted))


def user_roles(user) -> set[str]:
    if not user.is_authenticated:
        return set()
    # Cached on the user object: one admin page asks many permission questions, and each
    # would otherwise re-read the user's groups.
    cached = getattr(user, "_kiln_roles", None)
    if cached is None:
        cached = {name for name in user.groups.values_list("name", flat=True) if name in ALL_ROLES}
        user._kiln_roles = cached
    return cached


def is_marketplace_admin(user) -> bool:
    # Services are also called without a person behind them (a task, a key with no role).
    if user is None or not user.is_authenticated:
        return False
    return user.is_superuser or MARKETPLACE_ADMIN in user_roles(user)


def user_teams(user) -> set[str]:
    return {ROLE_TEAM[role] for role in user_roles(user) if role in ROLE_TEAM}


def visible_teams(user) -> list[str]:
    """The case teams whose queues the user sees: every team for admins, their own otherwise."""
    teams = list(ROLE_TEAM.values())
    return teams if is_marketplace_admin(user) else [team for team in teams if team in user_teams(user)]


def can_work_team(user, team: str) -> bool:
    return is_marketplace_admin(user) or team in user_teams(user)
