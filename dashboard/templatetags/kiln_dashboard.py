from django import template

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
