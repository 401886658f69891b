"""A loyalty member's picture in staff's words: balance, tier progress and ledger lines."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.text import capfirst

from core.formatting import DASH, dates_as_days, day, decimal, money
from loyalty.models import PointsEntry, SourceType, TierBasis

# What each tier basis counts, for "226 points earned" and "$24.00 more to reach Glaze".
BASIS_AMOUNT: dict[str, Callable[[object], str]] = {
    TierBasis.POINTS_EARNED: lambda value: f"{decimal(value, 0)} points earned",
    TierBasis.QUALIFYING_SPEND: lambda value: f"{money(value)} qualifying spend",
    TierBasis.ENGAGEMENT: lambda value: f"{decimal(value, 0)} engagement actions",
}
BASIS_GAP: dict[str, Callable[[object], str]] = {
    TierBasis.QUALIFYING_SPEND: money,
}

# Ledger sources whose id is an order: staff open the order to see what earned the points.
ORDER_SOURCES = {SourceType.ORDER, SourceType.REPEAT_PURCHASE}


def basis_amount(value, basis: str) -> str:
    """A tier basis value, or a tier's threshold, in what the basis counts: "250 points earned",
    "$250.00 qualifying spend"."""
    return BASIS_AMOUNT.get(basis, lambda amount: f"{decimal(amount, 0)} {basis.replace('_', ' ')}")(value)


def human_datetime(moment) -> str:
    return DASH if moment is None else date_format(timezone.localtime(moment), "j M Y, H:i")


def balance_line(balance: dict) -> str:
    expiry = (
        f"next expiry {day(balance['next_expiry_at'])}"
        if balance["next_expiry_at"]
        else "no points due to expire"
    )
    return (
        f"{decimal(balance['active'], 0)} active · {decimal(balance['pending'], 0)} pending · "
        f"{decimal(balance['expiring_soon'], 0)} expiring within {balance['expiring_soon_days']} days ({expiry})"
    )


def tier_line(progress: dict) -> str:
    """ "Clay (×1.00): 226 points earned; 24 more to reach Glaze"."""
    gap = BASIS_GAP.get(progress["basis"], lambda value: decimal(value, 0))
    held = f"{progress['tier_name']} (×{progress['multiplier']})" if progress["tier_name"] else "No tier yet"
    line = f"{held}: {basis_amount(progress['value'], progress['basis'])}"
    if progress["next_tier"]:
        return f"{line}; {gap(progress['needed_for_next'])} more to reach {progress['next_tier_name']}"
    return f"{line}; highest tier" if progress["tier_name"] else line


def ledger_lines(entries: Iterable[PointsEntry], *, url_for: Callable[[str, int], str | None]) -> list[dict]:
    """One row per ledger entry, ready for a table. ``url_for("app.model", pk)`` says where the viewer
    may follow a source or rule (None: show it as text)."""
    lines = []
    for entry in entries:
        source_url = (
            url_for("marketplace.order", entry.source_id)
            if entry.source_type in ORDER_SOURCES and entry.source_id
            else None
        )
        lines.append(
            {
                "when": human_datetime(entry.created_at),
                "points": f"{entry.amount:+,d}",
                "positive": entry.amount > 0,
                "kind": entry.get_kind_display(),
                "state": entry.get_state_display(),
                # Stored reasons carry ISO dates ("Points expired on 2026-12-03"); staff read them as dates.
                "reason": capfirst(dates_as_days(entry.reason)),
                "comment": entry.comment,
                "source": entry.get_source_type_display(),
                "source_url": source_url,
                "rule": entry.rule.name if entry.rule_id else "",
                "rule_url": url_for("loyalty.earningrule", entry.rule_id) if entry.rule_id else None,
                "by": entry.created_by.get_username() if entry.created_by_id else "",
                "expires": day(entry.expires_at) if entry.amount > 0 and entry.expires_at else "",
            }
        )
    return lines
