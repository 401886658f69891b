"""Numbers as people read them: percentages, one or two decimals, money."""

from decimal import Decimal, InvalidOperation

# The marketplace prices in one currency; pages show its symbol in front of amounts.
CURRENCY_SYMBOL = "$"
DASH = "—"


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


def days(value) -> str:
    number = _number(value)
    return DASH if number is None else f"{number:.1f} days"


def person_name(user) -> str:
    """A staff member as colleagues know them: their full name, else their login."""
    return user.get_full_name() or user.get_username()
