"""Validation at the door for values that later processing depends on.

A 201 followed by a background failure is a defect: the nightly pipeline (pandas) cannot hold a
date past 2262, and a seller applying in 2910 was stored and then never scored. Every date a
client reports as a fact must therefore lie between EARLIEST_EVENT_AT and now plus a small
clock skew; a date that is a promise or a window edge (ship-by, a simulation's end) may lie in
the near future, up to ``max_future``.
"""

from datetime import UTC, datetime, timedelta

from django.utils import timezone
from rest_framework import serializers

# Clients' clocks drift; five minutes ahead is still "now".
CLOCK_SKEW = timedelta(minutes=5)
# Kiln holds no marketplace history before this; older dates are typos (0202 for 2020).
EARLIEST_EVENT_AT = datetime(2000, 1, 1, tzinfo=UTC)
# Promises and planning windows: a year ahead at most.
NEAR_FUTURE = timedelta(days=366)


def event_time_problem(value: datetime, *, max_future: timedelta = CLOCK_SKEW, now: datetime | None = None) -> str | None:
    """Why ``value`` cannot be stored as an event time, or None when it can."""
    if timezone.is_naive(value):
        value = value.replace(tzinfo=UTC)
    latest = (now or timezone.now()) + max_future
    if value < EARLIEST_EVENT_AT:
        return f"Must not be before {EARLIEST_EVENT_AT:%Y-%m-%d}."
    if value > latest:
        if max_future == CLOCK_SKEW:
            return "Must not be in the future (up to 5 minutes of clock skew are allowed)."
        return f"Must not be more than {max_future.days} days in the future."
    return None


class EventDateTimeField(serializers.DateTimeField):
    """An ISO 8601 date-time between 2000-01-01 and now (+ clock skew, or ``max_future``)."""

    def __init__(self, *args, max_future: timedelta = CLOCK_SKEW, **kwargs):
        self.max_future = max_future
        super().__init__(*args, **kwargs)

    def to_internal_value(self, value):
        parsed = super().to_internal_value(value)
        problem = event_time_problem(parsed, max_future=self.max_future)
        if problem:
            raise serializers.ValidationError(problem)
        return parsed
