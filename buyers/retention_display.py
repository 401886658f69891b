"""How staff see a buyer's retention numbers: rounded, in words, with the model that produced them.

A probability is shown as a percentage with one decimal, CLV to the cent, each followed by its source, so a
one-time buyer reads "P(alive) 38.3% (MBG/NBD (fit #4))" and "churn 61.7% (buyer_churn v3)".
"""

from __future__ import annotations

from django.contrib import admin

from core.formatting import money, percent


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
