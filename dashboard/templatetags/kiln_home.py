"""The "your work" panel at the top of each role's admin home."""

from django import template
from django.contrib import admin
from django.urls import NoReverseMatch, reverse

from casework.models import CaseKind, Team
from core.roles import CUSTOMER_SUCCESS, SELLER_SUPPORT, is_marketplace_admin, user_roles
from dashboard import selectors

register = template.Library()

# Admin models each role reaches for first, matched by model name so apps can land in any order.
ROLE_SHORTCUTS = {
    "admin": ("alertthreshold", "onboardingpolicy", "tier", "badge", "pointsrule", "survey", "theme", "modelversion"),
    SELLER_SUPPORT: ("workshopsession", "workshop", "seller"),
    CUSTOMER_SUCCESS: ("buyer", "response", "seller"),
}


def _shortcuts(request, names) -> list[dict]:
    found = []
    for name in names:
        for model, model_admin in admin.site._registry.items():
            if model._meta.model_name != name or not model_admin.has_view_permission(request):
                continue
            try:
                url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
            except NoReverseMatch:
                continue
            found.append({"label": str(model._meta.verbose_name_plural).capitalize(), "url": url,
                          "app": model._meta.app_config.verbose_name})
    return found


@register.inclusion_tag("dashboard/home_work.html", takes_context=True)
def kiln_home_work(context):
    request = context["request"]
    user = request.user
    is_admin = is_marketplace_admin(user)
    roles = user_roles(user)
    role_label = "Marketplace admin" if is_admin else (", ".join(sorted(roles)) or "Staff")
    kinds, teams = dict(CaseKind.choices), dict(Team.choices)
    try:
        case_list = reverse("admin:casework_case_changelist")
    except NoReverseMatch:
        case_list = None
    work = [{**row, "kind_label": kinds.get(row["kind"], row["kind"]), "team_label": teams.get(row["team"], row["team"])}
            for row in selectors.home_work(user=user)]
    shortcut_keys = ROLE_SHORTCUTS["admin"] if is_admin else tuple(
        name for role in sorted(roles) for name in ROLE_SHORTCUTS.get(role, ()))
    return {
        "role_label": role_label,
        "is_admin": is_admin,
        "work": work,
        "totals": {k: sum(row[k] for row in work) for k in ("open", "overdue", "due_soon", "mine", "unassigned")},
        "case_list": case_list,
        "dashboard_url": reverse("dashboard:index"),
        "alerts": selectors.open_alerts(limit=5) if is_admin else [],
        "shortcuts": _shortcuts(request, dict.fromkeys(shortcut_keys)),
    }


@register.inclusion_tag("admin/kiln/menu.html", takes_context=True)
def kiln_menu(context, compact=False):
    from dashboard.navigation import role_menu

    request = context["request"]
    menu = role_menu(user=request.user, available_apps=context.get("available_apps") or context.get("app_list"))
    return {**menu, "compact": compact, "current": request.path}
