"""A case's evidence as labelled fields, with links to the objects it names.

Services that open cases store their evidence as JSON; staff read it here, never raw.
"""

from datetime import datetime

from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from core import formatting


def yes_no(value) -> str:
    return "Yes" if value else "No"


def _now_vs_before(fmt=str):
    """A [now, baseline] pair from the dormancy signals as "3 now vs 12 before"."""
    def shown(value):
        if isinstance(value, (list, tuple)) and len(value) == 2:
            return f"{fmt(value[0])} now vs {fmt(value[1])} before"
        return str(value)
    return shown

def _moment(value) -> str:
    """A stored ISO timestamp ("2026-12-03T17:39:00+00:00") as staff read times: "3 Dec 2026 17:39"."""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, timezone.get_default_timezone())
    return formatting.day_and_time(moment)


# key -> (label, formatter). Keys not listed still show, with a label made from the key.
FIELDS: dict[str, tuple[str, object]] = {
    "score": ("Score", lambda v: formatting.decimal(v, 0)),
    "model_version": ("Model version", str),
    "cold_start": ("Cold start", yes_no),
    "churn_probability": ("Churn risk", lambda v: formatting.percent(v, 1)),
    "churn_band": ("Churn band", str),
    "churn_model": ("Churn model", str),
    "p_alive": ("P(alive)", lambda v: formatting.percent(v, 1)),
    "segment": ("Segment", lambda v: str(v).replace("_", " ")),
    "orders": ("Orders", str),
    "total_spend": ("Total spend", formatting.money),
    "clv_12m": ("CLV (12 months)", formatting.money),
    "days_since_last_order": ("Days since last order", lambda v: formatting.decimal(v, 0)),
    "cadence_days": ("Usual cadence", formatting.days),
    "cadence_state": ("Cadence", lambda v: str(v).replace("_", " ")),
    "top_artisan": ("Top artisan", str),
    "audited_at": ("Audited", lambda v: _moment(v)),
    "flagged_listings": ("Flagged listings", str),
    "nps": ("NPS answer", str),
    "csat": ("CSAT answer", str),
    "urgent_themes": ("Urgent themes", lambda v: ", ".join(map(str, v)) or formatting.DASH),
    "excerpt": ("Excerpt", str),
    "source": ("Feedback source", str),
    "external_id": ("External ID", str),
    "kpi": ("KPI", lambda v: str(v).replace("_", " ")),
    "rate": ("Rate", formatting.points),
    "orders_count": ("Orders", str),
    "bad_orders": ("Orders affected", str),
    # Dormancy signals: each 90-day figure against the artisan's own baseline.
    "baseline": ("Compared with", str),
    "sales": ("Sales", _now_vs_before()),
    "listing_activity": ("Listing activity", _now_vs_before()),
    "messages_answered": ("Messages answered", _now_vs_before()),
    "late_share": ("Late shipments", _now_vs_before(formatting.percent)),
    "sales_falling": ("Sales falling", yes_no),
    "listing_activity_falling": ("Listing activity falling", yes_no),
    "messages_falling": ("Messages falling", yes_no),
    "fulfilment_slipping": ("Fulfilment slipping", yes_no),
    "off_season": ("Normal off-season", yes_no),
}

# key -> admin URL name of the object the id points at.
LINKS = {
    "response_id": ("Feedback response", "admin:feedback_response_change"),
    "about_seller_id": ("About artisan", "admin:sellers_seller_change"),
    "seller_id": ("Artisan", "admin:sellers_seller_change"),
    "buyer_id": ("Buyer", "admin:buyers_buyer_change"),
    "alert_id": ("KPI alert", "admin:dashboard_alert_change"),
    "model_version_id": ("Model", "admin:scoring_modelversion_change"),
}

HIDDEN = {"listings", "reasons", "previous", "by_category"}


def _link(url_name: str, pk, text=None):
    try:
        url = reverse(url_name, args=[pk])
    except NoReverseMatch:
        return text or f"#{pk}"
    return format_html('<a href="{}">{}</a>', url, text or f"#{pk}")


def _reason_rows(reasons):
    def one(reason):
        if isinstance(reason, dict):
            contribution = reason.get("contribution")
            text = reason.get("text", "")
            if contribution is None:
                return format_html("<li>{}</li>", text)
            colour = "#070" if float(contribution) >= 0 else "#b00"
            return format_html("<li>{}: <b style='color:{}'>{}</b></li>", text, colour, f"{int(round(float(contribution))):+d}")
        return format_html("<li>{}</li>", reason)

    return format_html("<ul class='kiln-reasons'>{}</ul>", mark_safe("".join(one(r) for r in reasons)))


def _listing_rows(listings):
    return format_html(
        "<ul class='kiln-listings'>{}</ul>",
        format_html_join(
            "", "<li>{}: {}</li>",
            ((_link("admin:sellers_listing_change", row.get("listing_id"), row.get("title") or f"listing #{row.get('listing_id')}"),
              "; ".join(row.get("problems", []))) for row in listings if isinstance(row, dict)),
        ),
    )


def evidence_rows(evidence) -> list[tuple[str, str]]:
    """(label, safe html) pairs in a stable order: known fields first, then the rest."""
    if not isinstance(evidence, dict) or not evidence:
        return []
    rows = []
    for key, (label, fmt) in FIELDS.items():
        if key in evidence and evidence[key] not in (None, ""):
            rows.append((label, format_html("{}", fmt(evidence[key]))))
    for key, (label, url_name) in LINKS.items():
        if evidence.get(key):
            rows.append((label, _link(url_name, evidence[key])))
    if evidence.get("reasons"):
        rows.append(("Reasons", _reason_rows(evidence["reasons"])))
    if evidence.get("listings"):
        rows.append(("Listings", _listing_rows(evidence["listings"])))
    for key, value in evidence.items():
        if key in FIELDS or key in LINKS or key in HIDDEN or value in (None, "", [], {}):
            continue
        if isinstance(value, bool):
            value = yes_no(value)
        elif isinstance(value, float):
            value = formatting.decimal(value, 2)
        elif isinstance(value, (list, tuple)):
            value = ", ".join(map(str, value))
        elif isinstance(value, dict):
            value = "; ".join(f"{k.replace('_', ' ')}: {v}" for k, v in value.items())
        rows.append((key.replace("_", " ").capitalize(), format_html("{}", value)))
    return rows


def evidence_html(evidence):
    rows = evidence_rows(evidence)
    if not rows:
        return formatting.DASH
    return format_html(
        "<table class='kiln-evidence'>{}</table>",
        format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", rows),
    )
