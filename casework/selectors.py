"""Reads for case pages: a case's history as staff read it."""

from django.contrib.auth import get_user_model

from casework.models import CaseEvent, CaseStatus
from core.formatting import DASH, person_name


def case_history_names(*, case_id: int) -> dict[str, str]:
    """The staff a case's history names by login (assignee changes store the login), by their names."""
    logins = set()
    for from_value, to_value in CaseEvent.objects.filter(case_id=case_id, field="assignee").values_list("from_value", "to_value"):
        logins.update(value for value in (from_value, to_value) if value)
    if not logins:
        return {}
    users = get_user_model().objects.filter(**{f"{get_user_model().USERNAME_FIELD}__in": logins})
    return {user.get_username(): person_name(user) for user in users}


def case_event_value(field: str, value: str, *, names: dict[str, str]) -> str:
    """One side of a recorded change as the case page shows it: "In progress", "Casey Success", "—"."""
    if not value:
        return DASH
    if field == "status":
        return dict(CaseStatus.choices).get(value, value)
    if field == "assignee":
        return names.get(value, value)
    return value
