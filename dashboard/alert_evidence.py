"""A KPI alert's numbers as labelled fields, with links to the KPI, its threshold and the artisans behind it.

The nightly check stores the evidence as JSON (dashboard.services.alert_evaluate); staff read it here, never raw.
"""

from __future__ import annotations

from datetime import date
from urllib.parse import urlencode

from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html, format_html_join

from core import formatting
from dashboard.kpis import KPIS, kpi_numerator_display, kpi_value_display
from dashboard.models import Alert, threshold_display
from dashboard.report import user_may_open
from sellers.models import CraftCategory, Seller

# Evidence keys shown in their own rows below; any other key still shows, labelled from the key.
KNOWN_KEYS = {"numerator", "denominator", "extra", "as_of", "window_days", "previous", "by_category", "sellers"}
# Keys of the KPI's "extra" that name an object rather than describe the breach.
EXTRA_HIDDEN = {"model_version_id"}



def _day(value) -> str:
    try:
        return formatting.day(date.fromisoformat(str(value)))
    except ValueError:
        return str(value) if value else formatting.DASH


def _label(key: str) -> str:
    return key.replace("_", " ").capitalize()


def _plain(value) -> str:
    if value is None or value == "":
        return formatting.DASH
    if isinstance(value, float):
        return formatting.decimal(value, 2)
    return str(value)


def _extra_value(kpi: str, key: str, value) -> str:
    """A KPI's extra figure; a duration KPI's "…_days" figures are days like its value ("91.3 d")."""
    definition = KPIS.get(kpi)
    if definition and definition.unit == "days" and key.endswith("_days") and isinstance(value, (int, float)):
        return kpi_value_display(kpi, value)
    return _plain(value)


def _url(name: str, *args) -> str | None:
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return None


def dashboard_link(alert: Alert) -> str | None:
    """The dashboard over the alert's own window, so the tile shows the value that breached."""
    url = _url("dashboard:index")
    if url is None:
        return None
    return f"{url}?{urlencode({'start': alert.period_start.isoformat(), 'end': alert.period_end.isoformat()})}"


def _sellers(rows: list[dict], user) -> str:
    names = Seller.objects.in_bulk([row.get("seller_id") for row in rows if row.get("seller_id")])
    may_open = user is None or user_may_open(user, "sellers_seller_change")
    items = []
    for row in rows:
        seller = names.get(row.get("seller_id"))
        name = seller.name if seller else f"Artisan #{row.get('seller_id')}"
        url = _url("admin:sellers_seller_360", row.get("seller_id")) if seller and may_open else None
        who = format_html('<a href="{}">{}</a>', url, name) if url else name
        items.append(format_html(
            "<li>{}: {} of {} orders ({})</li>", who, formatting.quantity(row.get("bad_orders")), formatting.quantity(row.get("orders")),
            formatting.points(row.get("rate")),
        ))
    return format_html("<ul>{}</ul>", format_html_join("", "{}", ((item,) for item in items)))


def alert_evidence_fields(alert: Alert, *, user=None) -> list[tuple[str, str]]:
    """(label, HTML-safe value) rows for the alert page, in reading order."""
    evidence = alert.evidence if isinstance(alert.evidence, dict) else {}
    definition = KPIS.get(alert.kpi)
    kpi_label = definition.label if definition else _label(alert.kpi)
    link = dashboard_link(alert)
    kpi_html = format_html('<a href="{}">{}</a>', link, kpi_label) if link else kpi_label
    if definition:
        kpi_html = format_html('{} <div class="help">{}</div>', kpi_html, definition.definition)
    threshold_text = threshold_display(alert.kpi, alert.threshold.condition, alert.threshold_value)
    threshold_url = _url("admin:dashboard_alertthreshold_change", alert.threshold_id)
    if threshold_url and (user is None or user_may_open(user, "dashboard_alertthreshold_change")):
        threshold_text = format_html('<a href="{}">{}</a>', threshold_url, threshold_text)
    fields = [
        ("KPI", kpi_html),
        ("Value", kpi_value_display(alert.kpi, alert.value)),
        ("Threshold", threshold_text),
        ("Numerator", kpi_numerator_display(alert.kpi, evidence.get("numerator"))),
        ("Denominator", formatting.quantity(evidence.get("denominator"))),
        ("Day measured", _day(evidence.get("as_of") or alert.period_end)),
        ("Window", format_html("{} days: {} to {}", evidence.get("window_days") or (alert.period_end - alert.period_start).days + 1,
                               formatting.day(alert.period_start), formatting.day(alert.period_end))),
    ]
    previous = evidence.get("previous")
    if alert.baseline is not None or isinstance(previous, dict):
        previous = previous if isinstance(previous, dict) else {}
        fields.append(("Previous period", format_html(
            "{} ({} of {})", kpi_value_display(alert.kpi, previous.get("value", alert.baseline)),
            kpi_numerator_display(alert.kpi, previous.get("numerator")), formatting.quantity(previous.get("denominator")),
        )))
    extra = evidence.get("extra") or {}
    if isinstance(extra, dict):
        for key, value in extra.items():
            if key in EXTRA_HIDDEN:
                continue
            fields.append(("Detail" if key == "detail" else _label(key), _extra_value(alert.kpi, key, value)))
        if extra.get("model_version_id"):
            url = _url("admin:scoring_modelversion_change", extra["model_version_id"])
            fields.append(("Model", format_html('<a href="{}">model #{}</a>', url, extra["model_version_id"]) if url
                           else f"model #{extra['model_version_id']}"))
    by_category = evidence.get("by_category")
    if isinstance(by_category, dict) and by_category:
        labels = dict(CraftCategory.choices)
        fields.append(("By category", format_html("<ul>{}</ul>", format_html_join(
            "", "<li>{}: {}</li>",
            ((labels.get(group, _label(group)), kpi_value_display(alert.kpi, value)) for group, value in by_category.items()),
        ))))
    sellers = evidence.get("sellers")
    if isinstance(sellers, list) and sellers:
        fields.append(("Artisans driving it", _sellers(sellers, user)))
    for key, value in evidence.items():
        if key not in KNOWN_KEYS:
            fields.append((_label(key), _plain(value)))
    fields.append(("Seller cases opened", formatting.quantity(alert.cases_opened)))
    fields.append(("Opened", formatting.day_and_time(alert.opened_at)))
    fields.append(("Last seen", formatting.day_and_time(alert.last_seen_at)))
    return fields
