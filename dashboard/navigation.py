"""Each role's menu: the pages it uses daily, grouped by task; everything else under "More"."""

from django.contrib import admin

from core.admin import SingletonAdmin
from core.roles import CUSTOMER_SUCCESS, SELLER_SUPPORT, is_marketplace_admin, user_roles

# role -> [(task, [app_label.model_name, ...])]. At most about twelve entries per role.
ROLE_MENUS: dict[str, list[tuple[str, list[str]]]] = {
    CUSTOMER_SUCCESS: [
        ("Work cases", ["casework.case", "sellers.onboardingqueuecase"]),
        ("Know the buyer", ["buyers.buyer", "buyers.buyerretention", "loyalty.loyaltymember", "loyalty.pointsentry"]),
        ("Read feedback", ["feedback.response", "feedback.responsetheme"]),
        ("Look up", ["sellers.seller", "marketplace.order", "marketplace.return"]),
    ],
    SELLER_SUPPORT: [
        ("Work cases", ["casework.case", "sellers.onboardingqueuecase", "sellers.inventoryauditcase"]),
        ("Run workshops", ["sellers.workshopsession", "sellers.workshopassignment", "sellers.workshop"]),
        ("Know the artisan", ["sellers.seller", "sellers.listing", "buyers.sellerdormancy"]),
        ("Look up", ["marketplace.order", "marketplace.return"]),
    ],
    "admin": [
        ("Cases", ["casework.case", "sellers.onboardingqueuecase", "sellers.inventoryauditcase"]),
        ("Onboarding", ["sellers.onboardingpolicy", "sellers.seller", "scoring.modelversion"]),
        ("Loyalty", ["loyalty.tier", "loyalty.badge", "loyalty.earningrule", "loyalty.reward"]),
        ("Feedback and alerts", ["feedback.survey", "dashboard.alertthreshold"]),
    ],
}


def _entry_url(*, request, model: dict) -> str | None:
    """The page this entry opens for the user, or None when there is none they may open.

    The admin lists a model when the user holds any of its permissions, and leaves admin_url None
    when they may only add; a singleton opens on its one row rather than on a list of one.
    """
    model_class = model.get("model")
    if model_class is not None and admin.site.is_registered(model_class):
        model_admin = admin.site.get_model_admin(model_class)
        if isinstance(model_admin, SingletonAdmin):
            return model_admin.singleton_url(request)
    return model.get("admin_url") or model.get("add_url")


def role_menu(*, request, available_apps) -> dict:
    """Groups of menu entries for the user's role, and the remaining pages they can open, as "More"."""
    user = request.user
    by_key = {}
    for app in available_apps or ():
        for model in app["models"]:
            url = _entry_url(request=request, model=model)
            if url:
                by_key[f"{app['app_label']}.{model['object_name'].lower()}"] = {**model, "app_label": app["app_label"], "admin_url": url}
    if is_marketplace_admin(user):
        plan = ROLE_MENUS["admin"]
    else:
        plan = [group for role in sorted(user_roles(user)) for group in ROLE_MENUS.get(role, [])]
    groups, used = [], set()
    for task, keys in plan:
        entries = [by_key[key] for key in keys if key in by_key and key not in used]
        used.update(key for key in keys if key in by_key)
        if entries:
            groups.append({"task": task, "entries": entries})
    more = [model for key, model in sorted(by_key.items(), key=lambda kv: str(kv[1]["name"])) if key not in used]
    return {"groups": groups, "more": more}
