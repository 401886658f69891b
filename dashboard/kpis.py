"""Every marketplace KPI, defined once.

Each KPI is a function ``kpi_<name>(*, period, segment, group_by)`` that runs a fixed
number of set-based queries (never one per seller, buyer or order) and returns
``{group: KpiValue}``; with ``group_by=None`` the only group is ``"all"``.
docs/kpis.md states the same definitions in words; tests/dashboard/test_kpis.py checks
them against hand-computed values.

Conventions shared by all KPIs:
- A period is a closed range of UTC dates [start, end]; timestamps are compared with
  ``start 00:00 <= t < (end + 1 day) 00:00``.
- "Sold" orders are orders that were not cancelled.
- Rates are percentages (0-100), durations are days, money is in the marketplace currency.
- The seller tier is the onboarding score band of the artisan's current score
  (low / mid / high risk at the admin-configured cut-offs); artisans without a score are "unscored".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from statistics import fmean
from typing import Callable

from django.apps import apps
from django.db.models import Case, CharField, Count, Exists, F, OuterRef, Q, Subquery, Sum, Value, When
from django.utils import timezone

from buyers.models import Buyer
from core import formatting
from marketplace.models import EngagementEvent, Order, OrderStatus
from sellers.models import CraftCategory, Seller, category_label

ALL = "all"
GROUP_BY_CHOICES = ("category", "tier")
# The same names as sellers.RiskTier, plus artisans without a score yet.
TIER_LOW_RISK = "low"
TIER_MID_RISK = "mid"
TIER_HIGH_RISK = "high"
TIER_UNSCORED = "unscored"
TIERS = {
    TIER_LOW_RISK: "Low risk (score ≥ high cut-off)",
    TIER_MID_RISK: "Mid risk",
    TIER_HIGH_RISK: "High risk (score < low cut-off)",
    TIER_UNSCORED: "Not scored yet",
}


def kpi_group_label(group: str) -> str:
    """A KPI breakdown group as staff read it: a craft category ("Jewelry"), a seller tier ("Mid risk"),
    or the whole marketplace for the "all" group."""
    if group == ALL:
        return "Marketplace"
    return TIERS.get(group) or category_label(group)


# DOMAIN.md defaults for the onboarding bands, used until an admin policy exists.
DEFAULT_BAND_CUTOFFS = (30, 70)
SECONDS_PER_DAY = 86400


@dataclass(frozen=True)
class Period:
    start: date
    end: date

    def __post_init__(self):
        if self.end < self.start:
            raise ValueError("The period ends before it starts.")

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def start_at(self) -> datetime:
        return datetime.combine(self.start, time.min, tzinfo=timezone.get_current_timezone())

    @property
    def end_before(self) -> datetime:
        """The first instant after the period."""
        return datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=timezone.get_current_timezone())

    def previous(self) -> Period:
        """The period of the same length that ends the day before this one starts."""
        return Period(start=self.start - timedelta(days=self.days), end=self.start - timedelta(days=1))

    @classmethod
    def trailing(cls, *, end: date, days: int) -> Period:
        return cls(start=end - timedelta(days=days - 1), end=end)


@dataclass(frozen=True)
class Segment:
    """Restricts a KPI to one craft category and/or one seller tier."""

    category: str | None = None
    tier: str | None = None

    def __post_init__(self):
        if self.category is not None and self.category not in CraftCategory.values:
            raise ValueError(f"Unknown category {self.category!r}.")
        if self.tier is not None and self.tier not in TIERS:
            raise ValueError(f"Unknown tier {self.tier!r}.")

    @property
    def is_all(self) -> bool:
        return self.category is None and self.tier is None


EVERYONE = Segment()


@dataclass
class KpiValue:
    value: float | None
    numerator: float = 0
    denominator: float = 0
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class KpiDefinition:
    key: str
    label: str
    unit: str  # "pct", "days", "money", "count", "score", "index" (a unitless statistic such as AUC or PSI)
    higher_is_better: bool
    function: Callable[..., dict[str, KpiValue]]
    group_bys: tuple[str, ...]
    definition: str


# --- helpers -----------------------------------------------------------------


def band_cutoffs() -> tuple[int, int]:
    """(low, high) score cut-offs of the onboarding bands from the active admin policy.

    Scores below ``low`` are high risk, scores at or above ``high`` are low risk.
    """
    try:
        policy_model = apps.get_model("sellers", "OnboardingPolicy")
    except LookupError:
        return DEFAULT_BAND_CUTOFFS
    row = policy_model.objects.filter(is_active=True).values_list("mid_min", "low_min").first()
    return (int(row[0]), int(row[1])) if row else DEFAULT_BAND_CUTOFFS


def _has_scores() -> bool:
    return apps.is_installed("scoring") and any(
        getattr(rel, "related_name", None) == "score" for rel in Seller._meta.related_objects
    )


def tier_expression(prefix: str, cutoffs: tuple[int, int]):
    """A SQL CASE naming the tier of the artisan reached through ``prefix`` ("" or "seller__")."""
    low, high = cutoffs
    if not _has_scores():
        return Value(TIER_UNSCORED, output_field=CharField())
    score = f"{prefix}score__score"
    return Case(
        When(**{f"{score}__gte": high}, then=Value(TIER_LOW_RISK)),
        When(**{f"{score}__gte": low}, then=Value(TIER_MID_RISK)),
        When(**{f"{score}__isnull": False}, then=Value(TIER_HIGH_RISK)),
        default=Value(TIER_UNSCORED),
        output_field=CharField(),
    )


def _segment_q(segment: Segment, prefix: str, cutoffs: tuple[int, int]) -> Q:
    q = Q()
    if segment.category:
        q &= Q(**{f"{prefix}craft_category": segment.category})
    if segment.tier:
        low, high = cutoffs
        score = f"{prefix}score__score"
        if segment.tier == TIER_UNSCORED:
            q &= Q(**{f"{score}__isnull": True}) if _has_scores() else Q()
        elif not _has_scores():
            q &= Q(pk__in=[])
        elif segment.tier == TIER_LOW_RISK:
            q &= Q(**{f"{score}__gte": high})
        elif segment.tier == TIER_MID_RISK:
            q &= Q(**{f"{score}__gte": low, f"{score}__lt": high})
        else:
            q &= Q(**{f"{score}__lt": low})
    return q


def _group_annotation(group_by: str | None, prefix: str, cutoffs) -> dict:
    if group_by is None:
        return {"group": Value(ALL, output_field=CharField())}
    if group_by == "category":
        return {"group": F(f"{prefix}craft_category")}
    if group_by == "tier":
        return {"group": tier_expression(prefix, cutoffs)}
    raise ValueError(f"Unknown grouping {group_by!r}.")


def _pct(numerator, denominator) -> float | None:
    return round(100.0 * float(numerator) / float(denominator), 4) if denominator else None


def _days(delta: timedelta) -> float:
    return delta.total_seconds() / SECONDS_PER_DAY


def _orders_in(period: Period, segment: Segment, cutoffs) -> "QuerySet[Order]":  # noqa: F821
    return Order.objects.filter(
        _segment_q(segment, "seller__", cutoffs), placed_at__gte=period.start_at, placed_at__lt=period.end_before
    )


def _ensure_all_groups(result: dict, group_by: str | None, empty: Callable[[], KpiValue]) -> dict:
    if group_by is None:
        result.setdefault(ALL, empty())
    return result


# --- order KPIs -------------------------------------------------------------------


def kpi_cancellation_rate(*, period: Period, segment: Segment = EVERYONE, group_by: str | None = None) -> dict[str, KpiValue]:
    """Orders placed in the period that were cancelled, as a share of all orders placed in it."""
    cutoffs = band_cutoffs()
    rows = (
        _orders_in(period, segment, cutoffs)
        .annotate(**_group_annotation(group_by, "seller__", cutoffs))
        .values("group")
        .annotate(total=Count("pk"), cancelled=Count("pk", filter=Q(status=OrderStatus.CANCELLED)))
        .order_by()
    )
    result = {row["group"]: KpiValue(_pct(row["cancelled"], row["total"]), row["cancelled"], row["total"]) for row in rows}
    return _ensure_all_groups(result, group_by, lambda: KpiValue(None))


def kpi_return_rate(*, period: Period, segment: Segment = EVERYONE, group_by: str | None = None) -> dict[str, KpiValue]:
    """Orders placed in the period that were returned, as a share of those that were delivered."""
    cutoffs = band_cutoffs()
    rows = (
        _orders_in(period, segment, cutoffs)
        .filter(delivered_at__isnull=False)
        .annotate(**_group_annotation(group_by, "seller__", cutoffs))
        .values("group")
        .annotate(delivered=Count("pk"), returned=Count("pk", filter=Q(returned_at__isnull=False)))
        .order_by()
    )
    result = {row["group"]: KpiValue(_pct(row["returned"], row["delivered"]), row["returned"], row["delivered"]) for row in rows}
    return _ensure_all_groups(result, group_by, lambda: KpiValue(None))


def kpi_average_order_value(*, period: Period, segment: Segment = EVERYONE, group_by: str | None = None) -> dict[str, KpiValue]:
    """Mean total of the sold (not cancelled) orders placed in the period."""
    cutoffs = band_cutoffs()
    rows = (
        _orders_in(period, segment, cutoffs)
        .exclude(status=OrderStatus.CANCELLED)
        .annotate(**_group_annotation(group_by, "seller__", cutoffs))
        .values("group")
        .annotate(revenue=Sum("total_amount"), orders=Count("pk"))
        .order_by()
    )
    result = {}
    for row in rows:
        revenue = row["revenue"] or Decimal("0")
        value = round(float(revenue) / row["orders"], 2) if row["orders"] else None
        result[row["group"]] = KpiValue(value, float(revenue), row["orders"])
    return _ensure_all_groups(result, group_by, lambda: KpiValue(None))


def kpi_repeat_purchase_rate(*, period: Period, segment: Segment = EVERYONE, group_by: str | None = None) -> dict[str, KpiValue]:
    """Buyers with two or more sold orders in the period, as a share of buyers with at least one.

    Per category or tier, only that segment's orders count.
    """
    cutoffs = band_cutoffs()
    per_buyer = (
        _orders_in(period, segment, cutoffs)
        .exclude(status=OrderStatus.CANCELLED)
        .annotate(**_group_annotation(group_by, "seller__", cutoffs))
        .values("group", "buyer_id")
        .annotate(orders=Count("pk"))
        .order_by()
    )
    # One grouped query; the buyer-level rows are folded in Python without further queries.
    result: dict[str, KpiValue] = {}
    for row in per_buyer:
        value = result.setdefault(row["group"], KpiValue(None))
        value.denominator += 1
        value.numerator += 1 if row["orders"] >= 2 else 0
    for value in result.values():
        value.value = _pct(value.numerator, value.denominator)
    return _ensure_all_groups(result, group_by, lambda: KpiValue(None))


def kpi_lifetime_value(*, period: Period, segment: Segment = EVERYONE, group_by: str | None = None) -> dict[str, KpiValue]:
    """Realised lifetime value: mean net spend to date of the buyers who bought in the period.

    For each buyer with a sold order in the period: the totals of all their sold orders placed
    up to the end of the period, minus refunds on returns. Per category or tier, only that
    segment's orders count.
    """
    cutoffs = band_cutoffs()
    active = _orders_in(period, segment, cutoffs).exclude(status=OrderStatus.CANCELLED)
    if group_by is None:
        history = Order.objects.filter(
            _segment_q(segment, "seller__", cutoffs),
            placed_at__lt=period.end_before,
            buyer_id__in=active.values("buyer_id"),
        ).exclude(status=OrderStatus.CANCELLED)
        totals = history.aggregate(
            gross=Sum("total_amount"), refunds=Sum("return_record__refund_amount"), buyers=Count("buyer_id", distinct=True)
        )
        net = float((totals["gross"] or 0) - (totals["refunds"] or 0))
        return {ALL: KpiValue(round(net / totals["buyers"], 2) if totals["buyers"] else None, net, totals["buyers"])}
    # Per (group, buyer): net spend to date and whether the buyer bought in the period, in one grouped
    # query; folded per group in Python. (A correlated EXISTS on the tier CASE was quadratic on PostgreSQL.)
    rows = (
        Order.objects.filter(_segment_q(segment, "seller__", cutoffs), placed_at__lt=period.end_before)
        .exclude(status=OrderStatus.CANCELLED)
        .annotate(**_group_annotation(group_by, "seller__", cutoffs))
        .values("group", "buyer_id")
        .annotate(
            gross=Sum("total_amount"),
            refunds=Sum("return_record__refund_amount"),
            in_period=Count("pk", filter=Q(placed_at__gte=period.start_at)),
        )
        .filter(in_period__gt=0)
        .order_by()
    )
    totals: dict[str, list[float]] = {}
    for row in rows:
        group = totals.setdefault(row["group"], [0.0, 0])
        group[0] += float((row["gross"] or 0) - (row["refunds"] or 0))
        group[1] += 1
    return {group: KpiValue(round(net / buyers, 2), net, buyers) for group, (net, buyers) in totals.items()}


# --- seller KPIs --------------------------------------------------------------------


def kpi_seller_retention_rate(*, period: Period, segment: Segment = EVERYONE, group_by: str | None = None) -> dict[str, KpiValue]:
    """Artisans who sold in the previous period of equal length and sold again in this one, as a share of the former."""
    cutoffs = band_cutoffs()
    previous = period.previous()
    sold = Order.objects.exclude(status=OrderStatus.CANCELLED).filter(seller_id=OuterRef("pk"))
    sold_before = sold.filter(placed_at__gte=previous.start_at, placed_at__lt=previous.end_before)
    sold_now = sold.filter(placed_at__gte=period.start_at, placed_at__lt=period.end_before)
    rows = (
        Seller.objects.filter(_segment_q(segment, "", cutoffs))
        .filter(Exists(sold_before))
        .annotate(**_group_annotation(group_by, "", cutoffs))
        .values("group")
        .annotate(base=Count("pk"), kept=Count("pk", filter=Q(Exists(sold_now))))
        .order_by()
    )
    result = {row["group"]: KpiValue(_pct(row["kept"], row["base"]), row["kept"], row["base"]) for row in rows}
    return _ensure_all_groups(result, group_by, lambda: KpiValue(None))


def kpi_time_to_first_sale(*, period: Period, segment: Segment = EVERYONE, group_by: str | None = None) -> dict[str, KpiValue]:
    """Mean days from approval to the first sold order, over artisans whose first sale fell in the period.

    A sale before approval (imported history) counts as 0 days.
    """
    cutoffs = band_cutoffs()
    sold = Order.objects.exclude(status=OrderStatus.CANCELLED).filter(seller_id=OuterRef("pk"))
    # "First sale in the period" = a sale in the period and none before it; both EXISTS probes use the
    # (seller, placed_at) index instead of a MIN over every order of every artisan.
    first_in_period = (
        sold.filter(placed_at__gte=period.start_at, placed_at__lt=period.end_before).order_by("placed_at").values("placed_at")[:1]
    )
    rows = (
        Seller.objects.filter(_segment_q(segment, "", cutoffs), approved_at__isnull=False)
        .filter(~Exists(sold.filter(placed_at__lt=period.start_at)))
        .annotate(first_sale=Subquery(first_in_period))
        .filter(first_sale__isnull=False)
        .annotate(**_group_annotation(group_by, "", cutoffs))
        .values_list("group", "approved_at", "first_sale")
    )
    waits: dict[str, list[float]] = {}
    for group, approved_at, first_sale in rows:
        waits.setdefault(group, []).append(max(0.0, _days(first_sale - approved_at)))
    result = {
        group: KpiValue(round(fmean(values), 4), round(sum(values), 4), len(values), {"max_days": round(max(values), 4)})
        for group, values in waits.items()
    }
    return _ensure_all_groups(result, group_by, lambda: KpiValue(None))


def kpi_onboarding_throughput(*, period: Period, segment: Segment = EVERYONE, group_by: str | None = None) -> dict[str, KpiValue]:
    """Artisans approved (onboarding finished, ready to sell) in the period; ``extra.per_week`` normalises by length."""
    cutoffs = band_cutoffs()
    rows = (
        Seller.objects.filter(
            _segment_q(segment, "", cutoffs), approved_at__gte=period.start_at, approved_at__lt=period.end_before
        )
        .annotate(**_group_annotation(group_by, "", cutoffs))
        .values("group")
        .annotate(n=Count("pk"))
        .order_by()
    )
    result = {
        row["group"]: KpiValue(row["n"], row["n"], period.days, {"per_week": round(7.0 * row["n"] / period.days, 4)})
        for row in rows
    }
    return _ensure_all_groups(result, group_by, lambda: KpiValue(0, 0, period.days, {"per_week": 0.0}))


def kpi_average_onboarding_time(*, period: Period, segment: Segment = EVERYONE, group_by: str | None = None) -> dict[str, KpiValue]:
    """Mean days from application to approval, over artisans approved in the period."""
    cutoffs = band_cutoffs()
    rows = (
        Seller.objects.filter(
            _segment_q(segment, "", cutoffs), approved_at__gte=period.start_at, approved_at__lt=period.end_before
        )
        .annotate(**_group_annotation(group_by, "", cutoffs))
        .values_list("group", "applied_at", "approved_at")
    )
    waits: dict[str, list[float]] = {}
    for group, applied_at, approved_at in rows:
        waits.setdefault(group, []).append(_days(approved_at - applied_at))
    result = {group: KpiValue(round(fmean(v), 4), round(sum(v), 4), len(v)) for group, v in waits.items()}
    return _ensure_all_groups(result, group_by, lambda: KpiValue(None))


# --- buyer experience KPIs -----------------------------------------------------------


def kpi_engagement_rate(*, period: Period, segment: Segment = EVERYONE, group_by: str | None = None) -> dict[str, KpiValue]:
    """Buyers who joined before the period ended and did anything recorded as engagement in it, as a share of them.

    Marketplace-wide: engagement is not attributed to a category or tier.
    """
    if not segment.is_all or group_by is not None:
        raise ValueError("Engagement rate is marketplace-wide; it has no category or tier breakdown.")
    engaged = EngagementEvent.objects.filter(
        buyer_id=OuterRef("pk"), occurred_at__gte=period.start_at, occurred_at__lt=period.end_before
    )
    totals = Buyer.objects.filter(joined_at__lt=period.end_before).aggregate(
        base=Count("pk"), engaged=Count("pk", filter=Q(Exists(engaged)))
    )
    return {ALL: KpiValue(_pct(totals["engaged"], totals["base"]), totals["engaged"], totals["base"])}


def _responses():
    try:
        return apps.get_model("feedback", "Response").objects.all()
    except LookupError:
        return None


def kpi_nps(*, period: Period, segment: Segment = EVERYONE, group_by: str | None = None) -> dict[str, KpiValue]:
    """Net promoter score of buyer feedback submitted in the period: % promoters (9-10) minus % detractors (0-6).

    Artisans' own survey answers are left out; per category or tier, the response's artisan decides.
    """
    responses = _responses()
    if responses is None:
        return {ALL: KpiValue(None)} if group_by is None else {}
    cutoffs = band_cutoffs()
    queryset = responses.filter(
        nps__isnull=False, submitted_at__gte=period.start_at, submitted_at__lt=period.end_before
    ).exclude(respondent_kind="seller")
    if not segment.is_all:
        queryset = queryset.filter(_segment_q(segment, "seller__", cutoffs))
    rows = (
        queryset.annotate(**_group_annotation(group_by, "seller__", cutoffs))
        .values("group")
        .annotate(n=Count("pk"), promoters=Count("pk", filter=Q(nps__gte=9)), detractors=Count("pk", filter=Q(nps__lte=6)))
        .order_by()
    )
    result = {}
    for row in rows:
        if group_by is not None and row["group"] is None:
            continue
        score = round(100.0 * (row["promoters"] - row["detractors"]) / row["n"], 4) if row["n"] else None
        result[row["group"]] = KpiValue(
            score, row["promoters"] - row["detractors"], row["n"], {"promoters": row["promoters"], "detractors": row["detractors"]}
        )
    return _ensure_all_groups(result, group_by, lambda: KpiValue(None))


def kpi_underperforming_listing_share(*, period: Period, segment: Segment = EVERYONE, group_by: str | None = None) -> dict[str, KpiValue]:
    """Share of judged listings that the latest nightly check found underperforming (marketplace.listing_health).

    A state, not a flow: the period is ignored and the daily snapshot keeps the history.
    """
    if not segment.is_all or group_by is not None:
        raise ValueError("Underperforming listing share is marketplace-wide; it has no breakdown.")
    from marketplace.listing_health import underperforming_share

    bad, judged = underperforming_share()
    return {ALL: KpiValue(_pct(bad, judged), bad, judged)}


def _active_model_drift() -> dict | None:
    if not apps.is_installed("scoring"):
        return None
    from scoring.drift import active_model_drift

    return active_model_drift()


def kpi_seller_score_drift(*, period: Period, segment: Segment = EVERYONE, group_by: str | None = None) -> dict[str, KpiValue]:
    """Largest feature PSI of the active seller-score model, as last measured (the period does not apply)."""
    drift = _active_model_drift()
    if drift is None or drift.get("max_psi") is None:
        return {ALL: KpiValue(None)}
    rows = drift["scored_rows"]
    detail = f"Largest drift: {drift['worst_feature']} (PSI {drift['max_psi']:.2f}) in {drift['version']}, measured {drift['checked_at'][:10]}."
    if drift["drifted_features"]:
        detail += " Drifted: " + ", ".join(drift["drifted_features"]) + "."
    return {ALL: KpiValue(drift["max_psi"], rows, rows, {"detail": detail, "model_version_id": drift["version_id"]})}


def kpi_seller_score_live_auc(*, period: Period, segment: Segment = EVERYONE, group_by: str | None = None) -> dict[str, KpiValue]:
    """ROC AUC of the active seller-score model on outcomes that have matured since it scored."""
    drift = _active_model_drift()
    live = (drift or {}).get("live")
    if not live:
        return {ALL: KpiValue(None)}
    detail = f"{drift['version']} on {live['rows']:,} artisans scored {live['as_of'][:10]}, measured {drift['checked_at'][:10]}."
    return {ALL: KpiValue(live["roc_auc"], live["rows"], live["rows"], {"detail": detail, "model_version_id": drift["version_id"]})}


KPIS: dict[str, KpiDefinition] = {
    definition.key: definition
    for definition in [
        KpiDefinition("repeat_purchase_rate", "Repeat purchase rate", "pct", True, kpi_repeat_purchase_rate, GROUP_BY_CHOICES,
                      "Buyers with 2+ sold orders in the period ÷ buyers with 1+."),
        KpiDefinition("seller_retention_rate", "Seller retention", "pct", True, kpi_seller_retention_rate, GROUP_BY_CHOICES,
                      "Artisans selling in the previous equal period who sold again ÷ artisans selling in the previous period."),
        KpiDefinition("lifetime_value", "Lifetime value", "money", True, kpi_lifetime_value, GROUP_BY_CHOICES,
                      "Net spend to date (sold orders − refunds) of buyers who bought in the period ÷ those buyers."),
        KpiDefinition("nps", "NPS", "score", True, kpi_nps, GROUP_BY_CHOICES,
                      "% promoters (9-10) − % detractors (0-6) of buyer NPS answers submitted in the period."),
        KpiDefinition("engagement_rate", "Engagement rate", "pct", True, kpi_engagement_rate, (),
                      "Buyers with an engagement event in the period ÷ buyers who had joined by its end."),
        KpiDefinition("cancellation_rate", "Cancellation rate", "pct", False, kpi_cancellation_rate, GROUP_BY_CHOICES,
                      "Cancelled orders ÷ orders placed in the period."),
        KpiDefinition("return_rate", "Return rate", "pct", False, kpi_return_rate, GROUP_BY_CHOICES,
                      "Returned orders ÷ delivered orders, of orders placed in the period."),
        KpiDefinition("average_order_value", "Average order value", "money", True, kpi_average_order_value, GROUP_BY_CHOICES,
                      "Revenue of sold orders placed in the period ÷ their number."),
        KpiDefinition("time_to_first_sale", "Time to first sale", "days", False, kpi_time_to_first_sale, GROUP_BY_CHOICES,
                      "Mean days from approval to first sold order, for artisans whose first sale fell in the period."),
        KpiDefinition("onboarding_throughput", "Onboarding throughput", "count", True, kpi_onboarding_throughput, GROUP_BY_CHOICES,
                      "Artisans approved in the period."),
        KpiDefinition("average_onboarding_time", "Average onboarding time", "days", False, kpi_average_onboarding_time,
                      GROUP_BY_CHOICES, "Mean days from application to approval, for artisans approved in the period."),
        KpiDefinition("underperforming_listing_share", "Underperforming listings", "pct", False, kpi_underperforming_listing_share,
                      (), "Active listings 60+ days old judged underperforming last night ÷ all judged (docs/kpis.md)."),
        KpiDefinition("seller_score_drift", "Seller-score input drift", "index", False, kpi_seller_score_drift, (),
                      "Largest population stability index of any feature of the active seller-score model, between its "
                      "training rows and the artisans it scored last; above 0.25 it reads a population it was not trained on."),
        KpiDefinition("seller_score_live_auc", "Seller-score live AUC", "index", True, kpi_seller_score_live_auc, (),
                      "ROC AUC of the active seller-score model's scores against the outcomes that have since matured; "
                      "0.5 is no better than chance."),
    ]
}


UNIT_SUFFIX = {"pct": "%", "days": " d", "money": "", "count": "", "score": "", "index": ""}


def format_value(value, unit: str) -> str:
    if value is None:
        return "–"
    if unit == "count":
        return f"{int(value):,}"
    if unit == "money":
        return formatting.money(value)
    if unit == "index":
        return f"{value:,.2f}"
    return f"{value:.1f}{UNIT_SUFFIX[unit]}"


def kpi_value_display(kpi: str, value) -> str:
    """A KPI's value as the dashboard tiles show it, wherever else it appears (alerts, lists, home)."""
    definition = KPIS.get(kpi)
    return format_value(value, definition.unit if definition else "index")


def kpi_numerator_display(kpi: str, value) -> str:
    """What a KPI's value is computed from, on top: money KPIs sum revenue or spend, so it reads as money;
    duration KPIs sum days, so it reads in days as their value does ("146.3 d"); the others count orders
    or buyers."""
    definition = KPIS.get(kpi)
    if definition and definition.unit == "money":
        return formatting.money(value)
    if definition and definition.unit == "days":
        return formatting.DASH if value is None else format_value(float(value), "days")
    return formatting.quantity(value)


def kpi_compute(*, key: str, period: Period, segment: Segment = EVERYONE, group_by: str | None = None) -> dict[str, KpiValue]:
    definition = KPIS[key]
    if group_by is not None and group_by not in definition.group_bys:
        raise ValueError(f"{definition.label} has no breakdown by {group_by}.")
    if not segment.is_all and not definition.group_bys:
        raise ValueError(f"{definition.label} is marketplace-wide; it cannot be filtered by category or tier.")
    return definition.function(period=period, segment=segment, group_by=group_by)


def kpi_compute_all(*, period: Period, segment: Segment = EVERYONE) -> dict[str, KpiValue]:
    """The headline value of every KPI that applies to the segment."""
    values = {}
    for key, definition in KPIS.items():
        if not segment.is_all and not definition.group_bys:
            continue
        values[key] = definition.function(period=period, segment=segment, group_by=None)[ALL]
    return values
