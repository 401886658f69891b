"""How staff read a feedback response: the keys the tool sent as labelled fields, sentiment in words."""

from __future__ import annotations

from django.urls import reverse
from django.utils.html import format_html, format_html_join

from buyers.models import Buyer
from core.formatting import DASH, decimal
from marketplace.models import Order
from sellers.models import Seller

# The identity keys a tool may send (feedback.parsing.IDENTITY_KEYS), as staff call them.
IDENTITY_LABELS = {
    "email": "Email",
    "order_id": "Order",
    "buyer_id": "Buyer ID",
    "seller_id": "Artisan ID",
    "external_id": "Respondent ID",
}

# Scores between these read as neutral: a word or two of mild praise is not a positive response.
NEUTRAL_BAND = (-0.2, 0.2)


def sentiment_label(score) -> str:
    if score is None:
        return DASH
    word = "negative" if score <= NEUTRAL_BAND[0] else "positive" if score >= NEUTRAL_BAND[1] else "neutral"
    return f"{decimal(score, 2)} ({word})"


def _identity_links(identity: dict) -> dict[str, str]:
    """Admin pages of the orders, buyers and artisans the storefront IDs name, where they exist."""
    links = {}
    if identity.get("order_id"):
        order = Order.objects.filter(external_id=identity["order_id"]).values_list("pk", flat=True).first()
        if order is not None:
            links["order_id"] = reverse("admin:marketplace_order_change", args=[order])
    if identity.get("buyer_id"):
        buyer = Buyer.objects.filter(external_id=identity["buyer_id"]).values_list("pk", flat=True).first()
        if buyer is not None:
            links["buyer_id"] = reverse("admin:buyers_buyer_360", args=[buyer])
    if identity.get("seller_id"):
        seller = Seller.objects.filter(external_id=identity["seller_id"]).values_list("pk", flat=True).first()
        if seller is not None:
            links["seller_id"] = reverse("admin:sellers_seller_360", args=[seller])
    return links


def identity_html(identity: dict | None) -> str:
    """The respondent keys as a list of "label: value", linking IDs Kiln knows to their pages."""
    if not identity:
        return "The survey tool sent no respondent keys."
    links = _identity_links(identity)
    rows = []
    for key, value in identity.items():
        label = IDENTITY_LABELS.get(key, key.replace("_", " ").capitalize())
        shown = format_html('<a href="{}">{}</a>', links[key], value) if key in links else format_html("{}", value)
        rows.append((label, shown))
    return format_html('<ul style="margin:0;padding-left:1.2em">{}</ul>', format_html_join("", "<li>{}: {}</li>", rows))
