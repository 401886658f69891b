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


# Identity keys that name a storefront row: the model to look the ID up in, and the page to link.
IDENTITY_TARGETS = {
    "order_id": (Order, "admin:marketplace_order_change"),
    "buyer_id": (Buyer, "admin:buyers_buyer_360"),
    "seller_id": (Seller, "admin:sellers_seller_360"),
}


def _identity_links(identity: dict) -> dict[str, str]:
    """Admin pages of the orders, buyers and artisans the storefront IDs name, where they exist."""
    links = {}
    for key, (model, url_name) in IDENTITY_TARGETS.items():
        if not identity.get(key):
            continue
        pk = model.objects.filter(external_id=identity[key]).values_list("pk", flat=True).first()
        if pk is not None:
            links[key] = reverse(url_name, args=[pk])
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
