"""The "your work" panel at the top of each role's admin home."""

from django import template
from django.urls import NoReverseMatch, reverse

from casework.models import CaseKind, Team
from core.roles import is_marketplace_admin, user_roles
from dashboard import selectors

register = template.Library()

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
    return {
        "role_label": role_label,
        "is_admin": is_admin,
        "work": work,
        "totals": {k: sum(row[k] for row in work) for k in ("open", "overdue", "due_soon", "mine", "unassigned")},
        "case_list": case_list,
        "dashboard_url": reverse("dashboard:index"),
        "alerts": selectors.open_alerts(limit=5) if is_admin else [],
    }


@register.inclusion_tag("admin/kiln/menu.html", takes_context=True)
def kiln_menu(context, compact=False):
    from dashboard.navigation import role_menu

    request = context["request"]
    menu = role_menu(request=request, available_apps=context.get("available_apps") or context.get("app_list"))
    return {**menu, "compact": compact, "current": request.path}
