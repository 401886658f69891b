from django import template

from core.formatting import person_name
from dashboard.kpis import kpi_value_display
from dashboard.models import threshold_display

register = template.Library()


@register.filter
def kd_cell(value):
    """A table cell: numbers rounded to 2 places (integers as is), text as is, missing as a dash."""
    if value is None or value == "":
        return "–"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return value
    if isinstance(value, int) or float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}"


@register.filter
def kpi_value(value, kpi):
    """A KPI value formatted as its tile shows it: {{ alert.value|kpi_value:alert.kpi }}."""
    return kpi_value_display(kpi, value)


@register.filter
def alert_threshold(alert):
    """The alert's threshold in the KPI's unit: "is above 5.0%", "drops by more than 10.0% from the previous period"."""
    return threshold_display(alert.kpi, alert.threshold.condition, alert.threshold_value)


@register.filter
def person(user) -> str:
    """A staff member by name, as colleagues know them (core.formatting.person_name)."""
    return person_name(user) if user else ""
