"""How staff see a buyer's retention numbers: rounded, in words, with the model that produced them.

A probability is shown as a percentage with one decimal, CLV to the cent, each followed by its source, so a
one-time buyer reads "P(alive) 38.3% (MBG/NBD (fit #4))" and "churn 61.7% (buyer_churn v3)".
"""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from core import formatting
from core.formatting import money, percent
from sellers.models import Listing, Seller


@admin.display(description="churn probability", ordering="churn_probability")
def churn_label(row) -> str:
    if not row.order_count:
        return "— (no purchase yet)"
    return f"{percent(row.churn_probability, 1)} ({row.churn_model_version or '1 - P(alive)'})"


@admin.display(description="P(alive)", ordering="p_alive")
def p_alive_label(row) -> str:
    if not row.order_count:
        return "— (no purchase yet)"
    return f"{percent(row.p_alive, 1)} ({row.lifetime_model or 'no model'})"


@admin.display(description="12-month CLV", ordering="clv")
def clv_label(row) -> str:
    if not row.order_count:
        return "—"
    return money(row.clv)


def _links(rows, url_name: str, label) -> str:
    if not rows:
        return "None recommended."
    items = format_html_join("", '<li><a href="{}">{}</a></li>', ((reverse(url_name, args=[row.pk]), label(row)) for row in rows))
    return format_html('<ul style="margin:0;padding-left:1.2em">{}</ul>', items)


def _in_stored_order(model, ids) -> list:
    # The recompute stores the recommendations best first; ids of rows since deleted are skipped.
    found = model.objects.in_bulk(list(ids or []))
    return [found[pk] for pk in ids or [] if pk in found]


def recommended_listings_html(row) -> str:
    return _links(_in_stored_order(Listing, row.recommended_listing_ids), "admin:sellers_listing_change", lambda listing: listing.title)


def recommended_artisans_html(row) -> str:
    return _links(_in_stored_order(Seller, row.recommended_seller_ids), "admin:sellers_seller_360", lambda seller: seller.name)


def _reason_text(reason) -> str:
    if isinstance(reason, dict):
        text = reason.get("text") or reason.get("feature") or formatting.DASH
        contribution = reason.get("contribution")
        return text if contribution is None else f"{text} ({float(contribution):+g})"
    return str(reason)


def reasons_html(reasons) -> str:
    """Why the segment and band were given, one line each; model reasons carry their signed contribution."""
    if not reasons:
        return "No reasons recorded."
    return format_html('<ul style="margin:0;padding-left:1.2em">{}</ul>', format_html_join("", "<li>{}</li>", ((_reason_text(r),) for r in reasons)))


# The dormancy check's signals (retention.dormancy): [now, baseline] counts, shares and verdicts.
DORMANCY_COUNTS = (
    ("sales", "Sales"),
    ("listing_activity", "Listing activity"),
    ("messages_answered", "Messages answered"),
)
DORMANCY_VERDICTS = (
    ("sales_falling", "Sales falling"),
    ("listing_activity_falling", "Listing activity falling"),
    ("messages_falling", "Messages answered falling"),
    ("fulfilment_slipping", "Fulfilment slipping"),
    ("off_season", "Normal off-season"),
)


def dormancy_signals_html(signals) -> str:
    if not signals:
        return "No signals recorded."
    baseline = signals.get("baseline") or "baseline"
    rows = []
    for key, label in DORMANCY_COUNTS:
        pair = signals.get(key)
        if pair:
            rows.append((label, f"{pair[0]:,} in the last 90 days vs {pair[1]:,} ({baseline})"))
    late = signals.get("late_share")
    if late:
        rows.append(("Late shipments", f"{formatting.percent(late[0])} vs {formatting.percent(late[1])} the 90 days before"))
    for key, label in DORMANCY_VERDICTS:
        if key in signals:
            rows.append((label, "yes" if signals[key] else "no"))
    return format_html('<ul style="margin:0;padding-left:1.2em">{}</ul>', format_html_join("", "<li>{}: {}</li>", rows))
