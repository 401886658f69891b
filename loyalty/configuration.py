"""The loyalty configuration's rules in plain words, next to the field they concern.

The models' check constraints stay the last line of defence; without these checks an admin
typing a 0 threshold reads the constraint's name ("Constraint "loyalty_badge_threshold_positive"
is violated.") above the form instead of what to change.
"""

from __future__ import annotations

from collections.abc import Callable

from django import forms

from loyalty.models import Badge, CompetitionPrize, EarningRule, LoyaltyProgram, Reward, RuleKind, Tier


def _at_least(minimum, message: str) -> Callable[[object], str | None]:
    def check(value):
        return message if value is not None and value < minimum else None

    return check


# model -> field -> check of the field's own value; each mirrors one of the model's check constraints.
FIELD_RULES: dict[type, dict[str, Callable]] = {
    Badge: {
        "threshold": _at_least(1, "The threshold must be at least 1."),
        "window_days": _at_least(1, "The window must be at least 1 day."),
    },
    Tier: {
        "threshold": _at_least(0, "The threshold cannot be negative."),
        "multiplier": _at_least(0, "The multiplier cannot be negative."),
    },
    EarningRule: {
        "points": _at_least(0, "Points cannot be negative."),
        "multiplier": _at_least(0, "The multiplier cannot be negative."),
    },
    Reward: {
        "points_cost": _at_least(1, "The cost must be at least 1 point."),
    },
    LoyaltyProgram: {
        "expiry_days": _at_least(1, "Points must stay valid for at least 1 day."),
    },
    CompetitionPrize: {
        "rank": _at_least(1, "The rank must be at least 1 (1 = first place)."),
    },
}


def _earning_rule_errors(values: dict) -> dict[str, str]:
    errors = {}
    if values.get("kind") == RuleKind.PROMOTION and not values.get("promotion_of"):
        errors["promotion_of"] = "Choose the kind of rule this promotion multiplies."
    has_points, has_period = values.get("cap_points") is not None, bool(values.get("cap_period"))
    if has_points and not has_period:
        errors["cap_period"] = "Choose the period the cap applies to, or clear the cap points."
    if has_period and not has_points:
        errors["cap_points"] = "Enter how many points the cap allows per period, or choose “No cap”."
    starts_at, ends_at = values.get("starts_at"), values.get("ends_at")
    if starts_at and ends_at and ends_at <= starts_at:
        errors["ends_at"] = "The end must be after the start."
    return errors


def _reward_errors(values: dict) -> dict[str, str]:
    if values.get("priority_until") and not values.get("priority_tier"):
        return {"priority_tier": "Choose the tier that has priority until the given date, or clear the date."}
    return {}


def _prize_errors(values: dict) -> dict[str, str]:
    if not values.get("bonus_points") and not values.get("reward"):
        return {"bonus_points": "Give bonus points, a reward, or both."}
    return {}


# model -> check across fields: field -> message.
CROSS_FIELD_RULES: dict[type, Callable[[dict], dict[str, str]]] = {
    EarningRule: _earning_rule_errors,
    Reward: _reward_errors,
    CompetitionPrize: _prize_errors,
}


def configuration_errors(model: type, values: dict) -> dict[str, str]:
    """Field -> plain-words message for each rule of ``model`` that ``values`` break."""
    errors = {}
    for field, check in FIELD_RULES.get(model, {}).items():
        message = check(values.get(field))
        if message:
            errors[field] = message
    for field, message in CROSS_FIELD_RULES.get(model, lambda values: {})(values).items():
        errors.setdefault(field, message)
    return errors


class PlainConfigurationForm(forms.ModelForm):
    """Puts a configuration rule's message on the field to change.

    A field with an error is left out of the model's constraint checks, so the raw constraint
    message does not show as well.
    """

    def clean(self):
        cleaned = super().clean()
        for field, message in configuration_errors(self._meta.model, cleaned).items():
            if field not in self.fields:
                self.add_error(None, message)
            elif field not in self.errors:
                self.add_error(field, message)
        return cleaned
