"""Dormant and declining artisans, judged against their own seasonal baseline.

For each approved artisan, over the recent window W = (as_of - 90d, as_of] and the same
months last year LY = (as_of - 455d, as_of - 365d]:
  - sales (orders), listing activity (listing updates + new listings) and messages answered;
  - fulfilment: share of orders shipped late (or not shipped past ship-by) in W against the
    previous 90 days.
A signal is *falling* when W < drop_ratio x LY and LY had enough activity to judge.
An artisan is flagged when sales are falling together with listing activity or messages,
or when fulfilment slips by more than the configured share.

Seasonality: because the baseline is the same months last year, an ornament maker's quiet
spring is compared with last spring (also quiet), so it is not a decline. In addition,
when LY itself was an off-season for the artisan (its sales below drop_ratio x the
artisan's average 90 days over the year before as_of), a quiet W is the normal off-season
and activity declines are not flagged.
Artisans with under a year of history are compared with the previous 90 days instead,
except seasonal artisans, who are left alone until they have a year of history.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from django.db import transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from marketplace.models import EngagementEvent, EngagementKind, Order, OrderStatus
from sellers.models import Listing, OnboardingStatus, Seller

WINDOW = timedelta(days=90)
YEAR = timedelta(days=365)
# Below this many events in the baseline period a ratio says nothing.
MIN_BASELINE_SALES = 4
MIN_BASELINE_ACTIVITY = 3
MIN_ORDERS_FOR_FULFILMENT = 5


def _counts(queryset, *, field: str, when: str, windows: dict) -> pd.DataFrame:
    annotations = {
        name: Count("pk", filter=Q(**{f"{when}__gt": start, f"{when}__lte": end})) for name, (start, end) in windows.items()
    }
    rows = queryset.values(field).annotate(**annotations).order_by()
    return pd.DataFrame.from_records(list(rows), columns=[field, *windows]).set_index(field)


def seller_activity_frame(*, as_of: datetime, seller_ids=None) -> pd.DataFrame:
    """Per approved artisan: activity counts in the windows the rules compare (5 queries)."""
    windows = {
        "now": (as_of - WINDOW, as_of),
        "prev": (as_of - 2 * WINDOW, as_of - WINDOW),
        "ly": (as_of - YEAR - WINDOW, as_of - YEAR),
        "year": (as_of - YEAR, as_of),
    }
    sellers = Seller.objects.filter(onboarding_status=OnboardingStatus.APPROVED)
    if seller_ids is not None:
        sellers = sellers.filter(pk__in=list(seller_ids))
    base = pd.DataFrame.from_records(
        sellers.values_list("pk", "is_seasonal", "approved_at").order_by(), columns=["seller_id", "is_seasonal", "approved_at"]
    ).set_index("seller_id")
    if base.empty:
        return base
    orders = Order.objects.filter(seller_id__in=base.index.tolist()).exclude(status=OrderStatus.CANCELLED)
    sales = _counts(orders, field="seller_id", when="placed_at", windows=windows).add_prefix("sales_")
    # The year before the baseline window, for the artisan's own seasonal profile.
    profile = _counts(
        orders, field="seller_id", when="placed_at", windows={"profile": (as_of - 2 * YEAR, as_of - YEAR)}
    ).add_prefix("sales_")
    events = EngagementEvent.objects.filter(seller_id__in=base.index.tolist())
    listing_updates = _counts(
        events.filter(kind=EngagementKind.LISTING_UPDATE), field="seller_id", when="occurred_at", windows=windows
    ).add_prefix("listing_")
    new_listings = _counts(
        Listing.objects.filter(seller_id__in=base.index.tolist()), field="seller_id", when="created_at", windows=windows
    ).add_prefix("newlisting_")
    messages = _counts(
        events.filter(kind=EngagementKind.MESSAGE_REPLY), field="seller_id", when="occurred_at", windows=windows
    ).add_prefix("messages_")
    late = Q(shipped_at__gt=F("ship_by")) | Q(shipped_at__isnull=True, ship_by__lt=as_of, status=OrderStatus.PLACED)
    fulfilment = orders.values("seller_id").annotate(
        late_now=Count("pk", filter=late & Q(placed_at__gt=as_of - WINDOW, placed_at__lte=as_of)),
        late_prev=Count("pk", filter=late & Q(placed_at__gt=as_of - 2 * WINDOW, placed_at__lte=as_of - WINDOW)),
    ).order_by()
    fulfilment = pd.DataFrame.from_records(list(fulfilment), columns=["seller_id", "late_now", "late_prev"]).set_index("seller_id")
    frame = base.join([sales, profile, listing_updates, new_listings, messages, fulfilment], how="left")
    numeric = [c for c in frame.columns if c not in ("is_seasonal", "approved_at")]
    frame[numeric] = frame[numeric].astype(float).fillna(0.0)
    for window in windows:
        frame[f"activity_{window}"] = frame[f"listing_{window}"] + frame[f"newlisting_{window}"]
    return frame


def seller_dormancy_assess(*, as_of: datetime, drop_ratio: float, late_share_rise: float, seller_ids=None) -> pd.DataFrame:
    """The rules above, vectorised. Columns: is_flagged, in_off_season, signals (dict), explanation."""
    frame = seller_activity_frame(as_of=as_of, seller_ids=seller_ids)
    if frame.empty:
        return frame
    approved = pd.to_datetime(frame["approved_at"], utc=True)
    has_year = (approved <= pd.Timestamp(as_of) - pd.Timedelta(YEAR)).fillna(False).to_numpy()
    seasonal = frame["is_seasonal"].to_numpy(dtype=bool)

    def baseline(prefix: str) -> np.ndarray:
        return np.where(has_year, frame[f"{prefix}_ly"], frame[f"{prefix}_prev"])

    sales_base, activity_base, messages_base = (np.asarray(baseline(p), dtype=float) for p in ("sales", "activity", "messages"))
    sales_now, activity_now, messages_now = frame["sales_now"].to_numpy(), frame["activity_now"].to_numpy(), frame["messages_now"].to_numpy()
    # Normal off-season: last year's same window was far below that year's average quarter.
    profile_quarter = frame["sales_profile"].to_numpy(dtype=float) / 4.0
    off_season = has_year & (profile_quarter >= MIN_BASELINE_SALES) & (frame["sales_ly"].to_numpy() < drop_ratio * profile_quarter)
    judged = (has_year | ~seasonal) & ~off_season

    sales_falling = judged & (sales_base >= MIN_BASELINE_SALES) & (sales_now < drop_ratio * sales_base)
    activity_falling = judged & (activity_base >= MIN_BASELINE_ACTIVITY) & (activity_now < drop_ratio * activity_base)
    messages_falling = judged & (messages_base >= MIN_BASELINE_ACTIVITY) & (messages_now < drop_ratio * messages_base)
    late_now_share = frame["late_now"].to_numpy() / np.maximum(sales_now, 1)
    late_prev_share = frame["late_prev"].to_numpy() / np.maximum(frame["sales_prev"].to_numpy(), 1)
    fulfilment_slipping = (sales_now >= MIN_ORDERS_FOR_FULFILMENT) & (late_now_share - late_prev_share > late_share_rise)
    flagged = (sales_falling & (activity_falling | messages_falling)) | fulfilment_slipping

    signals, explanations = [], []
    for i in range(len(frame)):
        # Explanation text per artisan; the decisions above are vectorised.
        baseline_name = "same 90 days last year" if has_year[i] else "previous 90 days"
        signal = {
            "baseline": baseline_name,
            "sales": [int(sales_now[i]), int(sales_base[i])],
            "listing_activity": [int(activity_now[i]), int(activity_base[i])],
            "messages_answered": [int(messages_now[i]), int(messages_base[i])],
            "late_share": [round(float(late_now_share[i]), 3), round(float(late_prev_share[i]), 3)],
            "sales_falling": bool(sales_falling[i]),
            "listing_activity_falling": bool(activity_falling[i]),
            "messages_falling": bool(messages_falling[i]),
            "fulfilment_slipping": bool(fulfilment_slipping[i]),
            "off_season": bool(off_season[i]),
        }
        parts = []
        if sales_falling[i]:
            parts.append(f"sales {int(sales_now[i])} vs {int(sales_base[i])} ({baseline_name})")
        if activity_falling[i]:
            parts.append(f"listing activity {int(activity_now[i])} vs {int(activity_base[i])}")
        if messages_falling[i]:
            parts.append(f"messages answered {int(messages_now[i])} vs {int(messages_base[i])}")
        if fulfilment_slipping[i]:
            parts.append(f"late shipments {late_now_share[i]:.0%} vs {late_prev_share[i]:.0%} the 90 days before")
        if off_season[i]:
            explanation = "Normal off-season for this artisan (quiet in the same months last year too); not flagged."
        elif flagged[i]:
            explanation = "Declining: " + "; ".join(parts) + "."
        else:
            explanation = "Activity in line with the artisan's own baseline."
        signals.append(signal)
        explanations.append(explanation)
    return pd.DataFrame(
        {"is_flagged": flagged, "in_off_season": off_season, "signals": signals, "explanation": explanations}, index=frame.index
    )


def seller_dormancy_recompute(*, as_of: datetime | None = None) -> list[int]:
    """Assess every approved artisan, upsert SellerDormancy rows, return the flagged ids."""
    from buyers.models import SellerDormancy
    from buyers.selectors import retention_settings_get

    as_of = as_of or timezone.now()
    settings = retention_settings_get()
    result = seller_dormancy_assess(as_of=as_of, drop_ratio=settings.dormant_drop_ratio, late_share_rise=settings.dormant_late_share_rise)
    if result.empty:
        return []
    now = timezone.now()
    rows = [
        SellerDormancy(
            seller_id=int(seller_id), computed_at=now, is_flagged=bool(row.is_flagged), in_off_season=bool(row.in_off_season),
            signals=row.signals, explanation=row.explanation,
        )
        for seller_id, row in zip(result.index, result.itertuples())
    ]
    with transaction.atomic():
        SellerDormancy.objects.bulk_create(
            rows, batch_size=2000, update_conflicts=True, unique_fields=["seller"],
            update_fields=["computed_at", "is_flagged", "in_off_season", "signals", "explanation"],
        )
    return [int(s) for s in result.index[result["is_flagged"].to_numpy(dtype=bool)]]
