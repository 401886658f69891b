from datetime import timedelta

from django import forms
from django.utils import timezone

from dashboard.kpis import TIERS, Period, Segment
from sellers.models import CraftCategory

ALLOWED_PARAMS = ("start", "end", "category", "tier", "breakdown")
MAX_RANGE_DAYS = 731
DEFAULT_DAYS = 30


def default_period() -> Period:
    return Period.trailing(end=timezone.localdate() - timedelta(days=1), days=DEFAULT_DAYS)


class DashboardFilterForm(forms.Form):
    start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    category = forms.ChoiceField(required=False, choices=[("", "All categories"), *CraftCategory.choices])
    tier = forms.ChoiceField(required=False, choices=[("", "All seller tiers"), *TIERS.items()])
    breakdown = forms.ChoiceField(required=False, choices=[("category", "by category"), ("tier", "by seller tier")])

    def __init__(self, data=None, **kwargs):
        self.unknown = sorted(set(data or {}) - set(ALLOWED_PARAMS)) if data is not None else []
        super().__init__(data, **kwargs)

    def clean(self):
        cleaned = super().clean()
        if self.unknown:
            raise forms.ValidationError(
                f"Unknown filter {', '.join(repr(k) for k in self.unknown)}. Use only: {', '.join(ALLOWED_PARAMS)}."
            )
        fallback = default_period()
        end = cleaned.get("end") or fallback.end
        start = cleaned.get("start") or (end - timedelta(days=DEFAULT_DAYS - 1))
        if "start" in self.errors or "end" in self.errors:
            return cleaned
        if start > end:
            raise forms.ValidationError(f"The start date ({start}) is after the end date ({end}).")
        if (end - start).days + 1 > MAX_RANGE_DAYS:
            raise forms.ValidationError(f"Pick at most {MAX_RANGE_DAYS} days; {start} to {end} is longer.")
        if end > timezone.localdate():
            raise forms.ValidationError(f"The end date ({end}) is in the future.")
        cleaned["period"] = Period(start=start, end=end)
        cleaned["segment"] = Segment(category=cleaned.get("category") or None, tier=cleaned.get("tier") or None)
        cleaned["breakdown"] = cleaned.get("breakdown") or "category"
        return cleaned

    def error_messages_list(self) -> list[str]:
        messages = []
        for field, errors in self.errors.items():
            for error in errors:
                messages.append(error if field == "__all__" else f"{field}: {error}")
        return messages
