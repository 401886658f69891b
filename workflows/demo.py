"""Builds the demo marketplace: data, derived scores and queues, and one login per role."""

import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from core import roles

# The demo marketplace: three craft categories, so that the two largest (ceramics and jewelry)
# each reach the rows a category needs for its own seller-score model.
DEMO_SELLERS = 240
DEMO_BUYERS = 3600
DEMO_CATEGORIES = ("ceramics", "jewelry", "textiles")
# Two years of orders allow 15 monthly snapshots; the nightly default keeps the newest 12 to bound
# its cost, but a marketplace this small learns from all of them.
DEMO_TRAINING_SNAPSHOTS = 15

DEMO_USERS = (
    ("cs", "Casey", "Success", roles.CUSTOMER_SUCCESS),
    ("support", "Sam", "Support", roles.SELLER_SUPPORT),
    ("admin", "Alex", "Admin", roles.MARKETPLACE_ADMIN),
)


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    role: str


def demo_is_built() -> bool:
    """Whether a previous run finished: logins get their passwords only as the last step."""
    from sellers.models import Seller

    User = get_user_model()
    admin = User.objects.filter(username=DEMO_USERS[-1][0]).first()
    return Seller.objects.exists() and admin is not None and admin.has_usable_password()


@transaction.atomic
def demo_users_create(*, password: str | None = None) -> list[DemoLogin]:
    """Create one staff user per role, or set all their passwords. Random passwords unless one is given."""
    User = get_user_model()
    logins = []
    for username, first, last, role in DEMO_USERS:
        user, _ = User.objects.get_or_create(username=username, defaults={"first_name": first, "last_name": last})
        user.email = f"{username}@kiln.demo"
        user.is_staff = True
        user.is_superuser = False
        chosen = password or secrets.token_urlsafe(9)
        user.set_password(chosen)
        user.save()
        user.groups.set([Group.objects.get(name=role)])
        logins.append(DemoLogin(username=username, password=chosen, role=role))
    return logins


def _auc_summary(metrics: dict, baseline: dict) -> str:
    auc, base = (metrics or {}).get("roc_auc"), (baseline or {}).get("roc_auc")
    if auc is None:
        return "no held-out ROC AUC"
    text = f"held-out ROC AUC {float(auc):.2f}"
    name = (baseline or {}).get("name") or "baseline"
    return f"{text} vs {name} {float(base):.2f}" if base is not None else text


def _demo_seller_model_override(result) -> list[str]:
    """A demo marketplace is far too small for the gate to tell a model from the mean rating with
    confidence, so the demo admin activates the global model as a recorded override: the demo then
    shows real scores, and the model card shows the refusal and the override beside it."""
    from scoring.registry import model_version_activate
    from scoring.training import KIND

    version = next((v for v in (result.versions if result else ()) if v.kind == KIND and v.category is None), None)
    if version is None or version in result.activated:
        return []
    model_version_activate(version=version, actor=_demo_staff("admin"), force=True)
    return [f"seller score: v{version.version} activated by the demo admin as a recorded override of the gate "
            "(a demo marketplace is too small to validate a model; see its model card)"]


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def demo_models_train(*, seed: int) -> list[str]:
    """Train the models the nightly run scores with; each is activated only if it passes validation."""
    from retention.churn import churn_model_train
    from scoring.training import seller_score_train

    trained = []
    try:
        result = seller_score_train(seed=seed, activate=True, max_snapshots=DEMO_TRAINING_SNAPSHOTS)
    except Exception as exc:  # noqa: BLE001 - a small demo may lack the history; the rest still runs
        trained.append(f"seller score: skipped ({_first_line(exc)})")
        result = None
    for version in result.versions if result else ():
        slot = version.kind.replace("_", " ") + (f" ({version.category})" if version.category else "")
        state = "activated" if version in result.activated else "kept as candidate"
        trained.append(f"{slot}: v{version.version} {state} ({_auc_summary(version.metrics, version.baseline_metrics)})")
        for reason in result.refused.get(str(version), []):
            trained.append(f"  not activated: {reason}")
    if result is not None and not result.versions:
        trained.append("seller score: no model trained")
    trained += _demo_seller_model_override(result)
    skipped = result.skipped_categories if result else {}
    if skipped:
        # One line for all of them: a small demo has too little history per category.
        trained.append(f"seller score per category: skipped for {len(skipped)} ({', '.join(sorted(skipped))}): "
                       f"{next(iter(skipped.values()))}")
    try:
        version, report = churn_model_train(seed=seed, activate=True)
    except Exception as exc:  # noqa: BLE001 - same: skipped with one line, scores fall back to 1 - P(alive)
        trained.append(f"buyer churn: skipped ({_first_line(exc)})")
        return trained
    state = "activated" if report.get("activated") else "kept as candidate"
    trained.append(f"buyer churn: v{version.version} {state} ({_auc_summary(version.metrics, version.baseline_metrics)})")
    for reason in report.get("activation_refused", []):
        trained.append(f"  not activated: {reason}")
    return trained


# --- Demo configuration: loyalty program, feedback, workshops, onboarding routing ---------------

DEMO_SOURCE_SLUG = "demo-storefront"
POST_PURCHASE_SLUG = "post-purchase"
ARTISAN_SLUG = "quarterly-artisan"
DEMO_RESPONSES = 300

# Free-text snippets, by tone. The keyword themes below are written to catch some of them.
_TEXT_GOOD = (
    "Lovely glaze, exactly like the photos. Will buy again.",
    "Beautiful piece and the artisan wrote a kind note.",
    "Great quality, well packed and arrived quickly.",
    "The maker answered my questions within the hour, great communication.",
    "Gorgeous work, my sister loved the gift.",
    "Solid craftsmanship, the weave is tight and even.",
)
_TEXT_MIXED = (
    "Nice item but shipping took longer than promised.",
    "Good piece, though I was confused by the return policy for international shipping.",
    "Fine overall; the colour is a bit different from the listing.",
    "Arrived late but the artisan kept me informed.",
    "Decent quality, the packaging could be better.",
    "I don't understand how the artisan rating is calculated.",
)
_TEXT_BAD = (
    "Parcel arrived two weeks late and nobody replied to my messages.",
    "The mug was cracked on arrival and the glaze was chipped. Poor quality.",
    "Still waiting, delayed shipping and no tracking number.",
    "The seller never answered my emails about the delay.",
    "Item broke after a week, very poor quality for the price.",
    "Who decides the seller score? It seems unfair and nobody explains it.",
    "Shipping policy was unclear, I was charged customs I did not expect.",
)

_THEMES = (
    ("shipping-delay", "Shipping delay", True, ("late", "delay", "delayed", "still waiting", "took longer", "no tracking")),
    ("shipping-policy-confusion", "Shipping policy confusion", False,
     ("return policy", "shipping policy", "customs", "international shipping", "unclear")),
    ("item-quality", "Item quality", False, ("cracked", "chipped", "broke", "poor quality", "quality", "colour is")),
    ("communication", "Communication", False,
     ("never answered", "nobody replied", "no reply", "communication", "kept me informed", "answered my")),
    ("score-transparency", "Score transparency", False,
     ("seller score", "artisan rating", "rating is calculated", "unfair", "nobody explains")),
)


def _demo_staff(username: str):
    """The demo login for one role (created without a usable password; demo_users_create sets it)."""
    User = get_user_model()
    for name, first, last, role in DEMO_USERS:
        if name == username:
            user, created = User.objects.get_or_create(
                username=name, defaults={"first_name": first, "last_name": last, "email": f"{name}@kiln.demo", "is_staff": True}
            )
            if created:
                user.set_unusable_password()
                user.save(update_fields=["password"])
            user.groups.add(Group.objects.get(name=role))
            return user
    raise ValueError(f"No demo user {username!r}.")


def _demo_loyalty(*, admin) -> str:
    from django.db.models import Max

    from loyalty.models import Badge, BadgeMetric, CapPeriod, EarningRule, Reward, RuleKind, Tier, TierBasis
    from loyalty.services import rule_create
    from loyalty.tiers import tiers_configure
    from marketplace.models import Order

    tiers = tiers_configure(
        tiers=[
            {"code": "clay", "name": "Clay", "rank": 1, "threshold": 0, "multiplier": "1.00",
             "perks": "Points on every purchase and engagement."},
            {"code": "glaze", "name": "Glaze", "rank": 2, "threshold": 250, "multiplier": "1.25",
             "perks": "25% more points; early access to drops."},
            {"code": "kiln", "name": "Kiln", "rank": 3, "threshold": 800, "multiplier": "1.50",
             "perks": "50% more points; priority on limited rewards; studio events."},
        ],
        actor=admin, basis=TierBasis.POINTS_EARNED, window_days=365, grace_days=30,
    )
    top = next(t for t in tiers if t.code == "kiln")

    last_delivery = Order.objects.aggregate(last=Max("delivered_at"))["last"]
    promo_end = (last_delivery or timezone.now()).replace(hour=0, minute=0, second=0, microsecond=0)
    rules = [
        {"name": "Spend: 1 point per currency unit", "kind": RuleKind.SPEND, "points": 1, "priority": 100},
        {"name": "Review written", "kind": RuleKind.REVIEW, "points": 20, "priority": 100,
         "cap_points": 60, "cap_period": CapPeriod.MONTH},
        {"name": "Story shared", "kind": RuleKind.STORY_SHARE, "points": 10, "priority": 100,
         "cap_points": 30, "cap_period": CapPeriod.WEEK},
        {"name": "Artisan followed", "kind": RuleKind.FOLLOW_ARTISAN, "points": 5, "priority": 100,
         "cap_points": 25, "cap_period": CapPeriod.MONTH},
        {"name": "Artisan event attended", "kind": RuleKind.EVENT_ATTENDANCE, "points": 30, "priority": 100,
         "cap_points": 60, "cap_period": CapPeriod.MONTH},
        {"name": "Repeat purchase from the same artisan", "kind": RuleKind.REPEAT_PURCHASE, "points": 25,
         "priority": 100, "cap_points": 100, "cap_period": CapPeriod.MONTH},
        {"name": "Autumn craft fair: double spend points", "kind": RuleKind.PROMOTION, "promotion_of": RuleKind.SPEND,
         "multiplier": 2, "priority": 200, "starts_at": promo_end - timedelta(days=30), "ends_at": promo_end},
    ]
    new_rules = 0
    for fields in rules:
        if not EarningRule.objects.filter(name=fields["name"]).exists():
            rule_create(actor=admin, **fields)
            new_rules += 1

    badges = [
        ("support-your-artisan", "Support your artisan", "Three orders from the same artisan within a year.",
         BadgeMetric.ORDERS_SAME_ARTISAN, 3, 50),
        ("storyteller", "Storyteller", "Shared three artisan stories within a year.", BadgeMetric.STORIES_SHARED, 3, 30),
        ("community", "Community", "Attended two artisan events within a year.", BadgeMetric.EVENTS_ATTENDED, 2, 40),
        ("follower", "Follower", "Follows five artisans.", BadgeMetric.ARTISANS_FOLLOWED, 5, 20),
    ]
    for code, name, description, metric, threshold, bonus in badges:
        Badge.objects.update_or_create(
            code=code,
            defaults={"name": name, "description": description, "metric": metric, "threshold": threshold,
                      "window_days": 365, "points_bonus": bonus, "is_active": True},
        )

    rewards = [
        ("Free shipping on your next order", "Any artisan, any destination.", 300, None),
        ("10 off your next purchase", "A voucher worth 10 in the shop currency.", 600, None),
        ("Virtual studio visit", "A live studio tour with one of our artisans.", 1500, top),
    ]
    for name, description, cost, min_tier in rewards:
        Reward.objects.update_or_create(
            name=name, defaults={"description": description, "points_cost": cost, "min_tier": min_tier, "is_active": True}
        )
    return (
        f"loyalty: {Tier.objects.count()} tiers, {EarningRule.objects.count()} earning rules ({new_rules} new), "
        f"{Badge.objects.count()} badges, {Reward.objects.count()} rewards"
    )


def _demo_surveys():
    from feedback.models import FeedbackSource, Moment, Question, QuestionKind, SourceKind, Survey

    surveys = {
        POST_PURCHASE_SLUG: (
            "Post-purchase NPS", Moment.POST_PURCHASE, "How buyers feel about an order once it has arrived.",
            [("nps", "How likely are you to recommend Kiln to a friend?", QuestionKind.NPS, True),
             ("csat", "How satisfied are you with this order?", QuestionKind.CSAT, False),
             ("comment", "What is the main reason for your score?", QuestionKind.FREE_TEXT, False)],
        ),
        ARTISAN_SLUG: (
            "Quarterly artisan survey", Moment.QUARTERLY_ARTISAN, "How artisans feel about selling on Kiln.",
            [("nps", "How likely are you to recommend selling on Kiln to another maker?", QuestionKind.NPS, True),
             ("support", "How satisfied are you with seller support?", QuestionKind.CSAT, False),
             ("comment", "What should Kiln improve for artisans?", QuestionKind.FREE_TEXT, False)],
        ),
    }
    for slug, (name, moment, purpose, questions) in surveys.items():
        survey, _ = Survey.objects.get_or_create(
            slug=slug, defaults={"name": name, "moment": moment, "purpose": purpose, "delay_days": 7, "min_gap_days": 90}
        )
        for position, (key, text, kind, required) in enumerate(questions):
            Question.objects.get_or_create(
                survey=survey, key=key,
                defaults={"text": text, "kind": kind, "required": required, "position": position},
            )
    source, _ = FeedbackSource.objects.get_or_create(
        slug=DEMO_SOURCE_SLUG, defaults={"name": "Storefront feedback form", "kind": SourceKind.NATIVE}
    )
    return source


def _demo_feedback(*, seed: int) -> str:
    import numpy as np

    from feedback.models import Response, ResponseTheme, Theme
    from feedback.parsing import Catalog, ItemError, parse_native_item
    from feedback.services import Status, responses_ingest
    from marketplace.models import Order, OrderStatus

    for slug, name, urgent, keywords in _THEMES:
        Theme.objects.update_or_create(
            slug=slug, defaults={"name": name, "is_urgent": urgent, "keywords": "\n".join(keywords), "is_active": True}
        )
    source = _demo_surveys()
    created = 0
    if not Response.objects.filter(source=source).exists():
        orders = list(
            Order.objects.filter(status=OrderStatus.DELIVERED, delivered_at__isnull=False)
            .order_by("pk")
            .values_list("external_id", "delivered_at", "seller__synthetic_quality")
        )
        rng = np.random.Generator(np.random.PCG64(seed))
        if orders:
            # Spread over the last months of the data: prefer the most recent ~third of deliveries.
            recent = orders[-max(DEMO_RESPONSES, len(orders) // 3):]
            picks = sorted(rng.choice(len(recent), size=min(DEMO_RESPONSES, len(recent)), replace=False).tolist())
            catalog = Catalog(source)
            now = timezone.now().replace(microsecond=0)
            items = []
            for index in picks:
                external_id, delivered_at, quality = recent[index]
                quality = 0.5 if quality is None else float(quality)
                nps = int(np.clip(np.rint(rng.normal(3.5 + 7.0 * quality, 1.8)), 0, 10))
                csat = int(np.clip(np.rint(1.0 + nps * 0.4 + rng.normal(0, 0.6)), 1, 5))
                pool = _TEXT_GOOD if nps >= 9 else _TEXT_MIXED if nps >= 7 else _TEXT_BAD
                answers = {"nps": nps, "csat": csat}
                if rng.random() < 0.8:
                    answers["comment"] = pool[int(rng.integers(len(pool)))]
                submitted = delivered_at + timedelta(days=int(rng.integers(3, 15)), hours=int(rng.integers(0, 24)))
                submitted = min(submitted, now)
                raw = {
                    "external_id": f"demo-{external_id}",
                    "survey": POST_PURCHASE_SLUG,
                    "submitted_at": submitted.isoformat(),
                    "respondent": {"order_id": external_id},
                    "answers": answers,
                }
                try:
                    items.append(parse_native_item(raw, catalog=catalog))
                except ItemError as exc:
                    items.append(exc)
            results = responses_ingest(source=source, items=items)
            created = sum(1 for r in results if r.status == Status.CREATED)
    responses = Response.objects.filter(source=source)
    return (
        f"feedback: {responses.count()} responses ({created} new, {responses.filter(nps__lte=6).count()} detractors), "
        f"{Theme.objects.count()} themes, {ResponseTheme.objects.filter(response__source=source).count()} theme codes"
    )


def _demo_workshops() -> str:
    from sellers.models import Workshop, WorkshopFormat, WorkshopSession

    base = timezone.now().replace(hour=16, minute=0, second=0, microsecond=0)
    workshops = [
        ("Selling your craft online: photos, listings and pricing",
         "Hands-on session for new artisans: listing photos, descriptions, pricing and stock.",
         [(7, WorkshopFormat.VIRTUAL, "https://meet.kiln.example/listings", 20),
          (21, WorkshopFormat.VIRTUAL, "https://meet.kiln.example/listings", 20),
          (35, WorkshopFormat.VIRTUAL, "https://meet.kiln.example/listings", 20)]),
        ("Shipping and packing fragile handmade goods",
         "Packing ceramics and glass, carriers, delivery promises and returns.",
         [(10, WorkshopFormat.VIRTUAL, "https://meet.kiln.example/shipping", 15),
          (28, WorkshopFormat.VIRTUAL, "https://meet.kiln.example/shipping", 15)]),
    ]
    for topic, description, sessions in workshops:
        workshop, created = Workshop.objects.get_or_create(
            topic=topic, defaults={"description": description, "mandatory_for_high_risk": True}
        )
        if created:
            for days, fmt, location, capacity in sessions:
                WorkshopSession.objects.create(
                    workshop=workshop, starts_at=base + timedelta(days=days), format=fmt, location=location, capacity=capacity
                )
    return f"workshops: {Workshop.objects.count()} workshops, {WorkshopSession.objects.count()} sessions"


def demo_configuration_create(*, seed: int) -> list[str]:
    """Configure the loyalty program, surveys, themes, feedback and workshops. Safe to run twice.

    Run before the nightly pipeline, which computes points, tiers and badges from this configuration.
    """
    admin = _demo_staff("admin")
    lines = []
    with transaction.atomic():
        lines.append(_demo_loyalty(admin=admin))
    lines.append(_demo_feedback(seed=seed))
    with transaction.atomic():
        lines.append(_demo_workshops())
    return lines


def demo_onboarding_route() -> list[str]:
    """Route the artisans still waiting in "applied" through the real application path (score, then
    route by the active policy). Needs the trained seller-score model."""
    from django.core.exceptions import ValidationError

    from sellers.models import OnboardingDecision, OnboardingStatus, Seller
    from workflows.onboarding import seller_application_process

    routed = 0
    for seller_id in Seller.objects.filter(onboarding_status=OnboardingStatus.APPLIED).order_by("pk").values_list("pk", flat=True):
        try:
            seller_application_process(seller_id=seller_id)
            routed += 1
        except ValidationError:
            continue
    return [f"onboarding: {routed} applications routed, {OnboardingDecision.objects.count()} decisions"]


def demo_workshop_seat() -> list[str]:
    """Seat one high-risk artisan (by current score under the active policy) in the next workshop session."""
    from django.core.exceptions import ValidationError

    from scoring.models import SellerScore
    from sellers.models import RiskTier, WorkshopAssignment, WorkshopSession
    from sellers.services import onboarding_policy_active, workshop_assign

    if not WorkshopAssignment.objects.exists():
        policy = onboarding_policy_active()
        high = next(
            (s.seller for s in SellerScore.objects.select_related("seller").order_by("-score", "seller_id")
             if s.score is not None and policy.tier_for(s.score) == RiskTier.HIGH),
            None,
        )
        session = WorkshopSession.objects.filter(starts_at__gt=timezone.now()).order_by("starts_at", "pk").first()
        if high is not None and session is not None:
            try:
                workshop_assign(session=session, seller=high, actor=_demo_staff("support"))
            except ValidationError:
                pass
    return [f"workshops: {WorkshopAssignment.objects.count()} seats assigned"]


def demo_onboarding_progress(*, share: float = 0.5) -> list[str]:
    """Customer success approves about half the manual reviews, so seller support has workshop seats to assign."""
    from django.core.exceptions import ValidationError

    from casework.models import Case, CaseKind
    from sellers.services import onboarding_review_decide

    reviews = list(Case.objects.active().filter(kind=CaseKind.ONBOARDING_REVIEW).select_related("seller").order_by("pk"))
    cs = _demo_staff("cs")
    approved = 0
    for case in reviews[: int(len(reviews) * share)]:
        try:
            onboarding_review_decide(seller=case.seller, decision="approve", actor=cs, note="Portfolio checked (demo).")
            approved += 1
        except ValidationError:
            continue
    waiting = Case.objects.active().filter(kind=CaseKind.WORKSHOP_ASSIGNMENT).count()
    return [f"{approved} reviews approved, {waiting} artisans waiting for a workshop seat"]


# --- A flow of new artisans across the demo's months -------------------------------------

FLOW_PREFIX = "DEMO-A"
_FIRST = ("Ada", "Bram", "Chiara", "Dev", "Elif", "Femi", "Greta", "Hugo", "Ines", "Jun", "Kofi", "Lena", "Mateo", "Noor",
          "Olu", "Priya", "Quinn", "Rosa", "Sami", "Tove", "Uma", "Vik", "Wren", "Yara", "Zed")
_CRAFT = ("Clay", "Loom", "Grain", "Ember", "Thread", "Birch", "Paper", "Glaze", "Stone", "Willow")


def demo_onboarding_flow(*, seed: int, months: int = 12, per_week: float = 1.2,
                         categories: list[str] | None = None) -> str:
    """New artisans applying week after week, decided, approved and making a first sale.

    Onboarding took about 14 days before tiered onboarding started halfway through the window and
    about 5 after (the brief's reported result); the first sale follows approval by a few days, so
    the dashboard's onboarding and time-to-first-sale tiles have values and trends. Applicants of
    the last ten days are left "applied" for the routing step. Runs once: later runs find the flow.
    """
    from decimal import Decimal

    import numpy as np

    from buyers.models import Buyer
    from casework.models import CaseKind
    from casework.services import cases_open_many
    from marketplace.models import Order, OrderLine, OrderStatus
    from sellers.models import CraftCategory, Listing, OnboardingStatus, Seller

    if Seller.objects.filter(external_id__startswith=FLOW_PREFIX).exists():
        return f"onboarding flow: kept ({Seller.objects.filter(external_id__startswith=FLOW_PREFIX).count()} artisans)"
    buyer_ids = list(Buyer.objects.order_by("pk").values_list("pk", flat=True))
    if not buyer_ids:
        return "onboarding flow: skipped (no buyers)"
    rng = np.random.Generator(np.random.PCG64(seed + 1))
    now = timezone.now().replace(microsecond=0)
    start = now - timedelta(days=30 * months)
    tiered_from = start + (now - start) / 2
    categories = list(categories or CraftCategory.values)
    sellers, plans = [], []
    weeks = int((now - start).days // 7)
    for week in range(weeks):
        # Applications pick up in the last month (a marketing push), so the queues have fresh work.
        for _ in range(int(rng.poisson(per_week * (5 if week >= weeks - 4 else 1)))):
            n = len(sellers)
            applied = start + timedelta(days=7 * week + float(rng.uniform(0, 7)))
            name = f"{_FIRST[n % len(_FIRST)]} {_CRAFT[(n // len(_FIRST)) % len(_CRAFT)]} Studio"
            seller = Seller(
                external_id=f"{FLOW_PREFIX}{n:05d}", name=name, email=f"{FLOW_PREFIX.lower()}{n:05d}@artisans.example",
                craft_category=categories[int(rng.integers(len(categories)))], years_experience=int(rng.integers(0, 12)),
                has_portfolio=bool(rng.random() < 0.6), applied_at=applied, onboarding_status=OnboardingStatus.APPLIED,
            )
            mean_days = 14.0 if applied < tiered_from else 5.0
            wait = float(np.clip(rng.normal(mean_days, mean_days / 4), 1.0, 30.0))
            decided = applied + timedelta(days=wait)
            if applied > now - timedelta(days=24) and (not seller.has_portfolio or seller.years_experience < 2):
                # Thin applications routed to customer success for a manual review earlier on.
                seller.onboarding_status = OnboardingStatus.MANUAL_REVIEW
            elif applied > now - timedelta(days=10) or decided >= now:
                pass  # still waiting: routed by the demo's routing step
            elif rng.random() < 0.12:
                seller.onboarding_status, seller.rejected_at = OnboardingStatus.REJECTED, decided
            else:
                seller.onboarding_status = OnboardingStatus.APPROVED
                seller.approved_at = seller.onboarded_at = decided
                first_sale_mean = 9.0 if applied < tiered_from else 4.0
                plans.append((n, decided + timedelta(days=float(np.clip(rng.normal(first_sale_mean, 2.0), 0.5, 30.0)))))
            sellers.append(seller)
    with transaction.atomic():
        Seller.objects.bulk_create(sellers, batch_size=500)
        saved = {s.external_id: s for s in Seller.objects.filter(external_id__startswith=FLOW_PREFIX)}
        listings, orders, lines = [], [], []
        for n, first_sale in plans:
            seller = saved[f"{FLOW_PREFIX}{n:05d}"]
            price = Decimal(str(round(float(rng.uniform(18, 120)), 2)))
            listing = Listing(seller=seller, external_id=f"{seller.external_id}-L1", title=f"{seller.name} signature piece",
                              category=seller.craft_category, price=price, stock_quantity=int(rng.integers(2, 20)),
                              stock_updated_at=seller.approved_at, created_at=seller.approved_at)
            listings.append(listing)
            sale = first_sale
            for k in range(1 + int(rng.poisson(3))):
                if sale >= now:
                    break
                delivered = sale + timedelta(days=5)
                status = OrderStatus.DELIVERED if delivered < now else OrderStatus.SHIPPED
                orders.append((listing, Order(
                    external_id=f"{seller.external_id}-O{k}", buyer_id=buyer_ids[int(rng.integers(len(buyer_ids)))],
                    seller=seller, status=status, total_amount=price, placed_at=sale, ship_by=sale + timedelta(days=3),
                    shipped_at=sale + timedelta(days=2), delivered_at=delivered if status == OrderStatus.DELIVERED else None,
                )))
                sale += timedelta(days=float(rng.exponential(20)))
        Listing.objects.bulk_create(listings, batch_size=500)
        Order.objects.bulk_create([order for _, order in orders], batch_size=500)
        lines = [OrderLine(order=order, listing=listing, quantity=1, unit_price=order.total_amount) for listing, order in orders]
        OrderLine.objects.bulk_create(lines, batch_size=500)
        reviews = [s for s in saved.values() if s.onboarding_status == OnboardingStatus.MANUAL_REVIEW]
        cases_open_many(kind=CaseKind.ONBOARDING_REVIEW, subject="seller", openings=[
            (s.pk, f"Thin application ({s.years_experience} years of experience, portfolio: {'yes' if s.has_portfolio else 'no'}): manual review, "
                   "then a mandatory workshop.", {"years_experience": s.years_experience, "has_portfolio": s.has_portfolio})
            for s in reviews
        ])
    approved = sum(1 for s in sellers if s.onboarding_status == OnboardingStatus.APPROVED)
    waiting = sum(1 for s in sellers if s.onboarding_status == OnboardingStatus.APPLIED)
    return f"onboarding flow: {len(sellers)} applications, {approved} approved, {waiting} waiting, {len(orders)} orders"
