from django import template

from core import formatting

register = template.Library()

register.filter("percent", formatting.percent)
register.filter("rate", formatting.points)
register.filter("money", formatting.money)
register.filter("decimal", formatting.decimal)
register.filter("days", formatting.days)
register.filter("dates_as_days", formatting.dates_as_days)


@register.filter
def has_editable_fields(adminform, inline_admin_formsets) -> bool:
    """Whether a change page has anything to save: an editable field or an inline that can change."""
    if adminform is not None and adminform.form.fields:
        return True
    return any(
        formset.has_add_permission or formset.has_change_permission or formset.has_delete_permission
        for formset in inline_admin_formsets or ()
    )
