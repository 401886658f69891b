"""Numbers as people read them: percentages, one or two decimals, money."""

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from django.utils import timezone
from django.utils.dateformat import format as date_format

# The marketplace prices in one currency; pages show its symbol in front of amounts.
CURRENCY_SYMBOL = "$"
DASH = "—"
# Django's own date rendering (admin lists, read-only fields, the date filter) uses these too,
# through the format module config/formats/en/formats.py.
DAY_FORMAT = "j M Y"
DAY_AND_TIME_FORMAT = "j M Y H:i"
TIME_OF_DAY_FORMAT = "H:i"


def _number(value):
    if value is None or value == "":
        return None
    try:
        return float(Decimal(str(value)))
    except (InvalidOperation, ValueError, TypeError):
        return None


def percent(value, decimals: int = 0) -> str:
    """A probability or share (0.9954) as a percentage ("100%", or "99.5%" with decimals=1)."""
    number = _number(value)
    return DASH if number is None else f"{number * 100:.{decimals}f}%"


def points(value) -> str:
    """A rate already in percent (18.46) as "18.5%"."""
    number = _number(value)
    return DASH if number is None else f"{number:.1f}%"


def point_difference(value) -> str:
    """A difference of two probabilities (0.042) in percentage points: "+4.2 pts"."""
    number = _number(value)
    if number is None:
        return DASH
    rounded = round(number * 100, 1)
    return f"{rounded:+.1f} pts" if rounded else "0.0 pts"


def point_difference_interval(low, high) -> str:
    """An interval of probability differences: "-1.5 to +3.0 pts"."""
    if _number(low) is None or _number(high) is None:
        return DASH
    return f"{_number(low) * 100:+.1f} to {_number(high) * 100:+.1f} pts"


def money(value) -> str:
    number = _number(value)
    if number is None:
        return DASH
    sign = "-" if number < 0 else ""
    return f"{sign}{CURRENCY_SYMBOL}{abs(number):,.2f}"


def decimal(value, decimals: int = 1) -> str:
    number = _number(value)
    return DASH if number is None else f"{number:,.{decimals}f}"


def quantity(value) -> str:
    """A count or a sum in a KPI's own terms: whole numbers without decimals, others with two
    (stored floats carry binary noise, 3534.5900000000006)."""
    number = _number(value)
    if number is None:
        return DASH
    return decimal(number, 0 if number.is_integer() else 2)


def day(moment) -> str:
    """A timestamp's date in the site's time zone, or a calendar date: "3 Dec 2026"."""
    if moment is None:
        return DASH
    return date_format(timezone.localtime(moment) if isinstance(moment, datetime) else moment, DAY_FORMAT)


def day_range(start, end) -> str:
    """A period of calendar dates, each as staff read dates: "3 Nov 2026 – 2 Dec 2026"."""
    return f"{day(start)} – {day(end)}"


def day_and_time(moment) -> str:
    """A timestamp in the site's time zone: "3 Dec 2026 14:07"."""
    return DASH if moment is None else date_format(timezone.localtime(moment), DAY_AND_TIME_FORMAT)


# An ISO date standing alone in a text ("Points expired on 2026-12-03"), not part of a longer code or timestamp.
_ISO_DATE_IN_TEXT = re.compile(r"(?<![\w-])(\d{4}-\d{2}-\d{2})(?![\w-])")


def _iso_date_as_day(match: re.Match) -> str:
    try:
        return day(date.fromisoformat(match.group(1)))
    except ValueError:
        return match.group(0)


def dates_as_days(text) -> str:
    """A stored text with its ISO dates as staff read dates: "Points expired on 3 Dec 2026"."""
    return _ISO_DATE_IN_TEXT.sub(_iso_date_as_day, text or "")


def days(value) -> str:
    number = _number(value)
    return DASH if number is None else f"{number:.1f} days"


def plural(count: int, noun: str) -> str:
    """"1 listing", "3 listings": a count with its noun (regular plurals only)."""
    return f"{count} {noun}" + ("" if count == 1 else "s")


def person_name(user) -> str:
    """A staff member as colleagues know them: their full name, else their login."""
    return user.get_full_name() or user.get_username()
