"""Rule simulation: what a rule would have awarded over a past window, before it goes live."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.utils import timezone

from loyalty.models import EarningRule, RuleKind
from loyalty.rules import Action, RuleBook
from loyalty.selectors import buyer_effective_tiers, buyer_segment_map, cap_usage, cap_usage_since
from marketplace.models import EngagementEvent, Order, OrderStatus, Review

SIMULATION_CHUNK = 5000


def _actions_for(kind: str, start: datetime, end: datetime):
    """Yield chunks of past actions of one kind, as the award path would have seen them."""
    from loyalty.services import ENGAGEMENT_RULE_KIND, ORDER_FIELDS, _engagement_actions, _order_actions

    if kind in (RuleKind.SPEND, RuleKind.REPEAT_PURCHASE):
        qs = Order.objects.filter(status=OrderStatus.DELIVERED, delivered_at__gte=start, delivered_at__lt=end).order_by("pk")
        last = 0
        while True:
            chunk = list(qs.filter(pk__gt=last).values(*ORDER_FIELDS)[:SIMULATION_CHUNK])
            if not chunk:
                return
            last = chunk[-1]["id"]
            yield [a for a in _order_actions(chunk) if a.kind == kind]
    elif kind == RuleKind.REVIEW:
        rows = Review.objects.filter(created_at__gte=start, created_at__lt=end).values_list("pk", "buyer_id", "created_at")
        yield [Action(source_type="review", source_id=pk, buyer_id=b, kind=kind, occurred_at=at, reason="")
               for pk, b, at in rows]
    else:
        event_kind = {v: k for k, v in ENGAGEMENT_RULE_KIND.items()}[kind]
        qs = EngagementEvent.objects.filter(kind=event_kind, buyer__isnull=False, occurred_at__gte=start, occurred_at__lt=end)
        yield _engagement_actions(list(qs.values("id", "buyer_id", "kind", "occurred_at", "target_seller_id", "target_seller__craft_category")))


def rule_simulate(*, rule: EarningRule, start: datetime | None = None, end: datetime | None = None) -> dict:
    """Points and members the rule would have added over [start, end) given today's other rules.

    The rule is priced as active, with and without it in the rule book; its contribution is
    the difference, so precedence and stacking are reflected exactly. Caps start from what the
    ledger credited earlier in the same cap period, before ``start``.
    """
    end = end or timezone.now()
    start = start or end - timedelta(days=30)
    if end <= start:
        raise ValidationError({"end": "The end must be after the start."})
    kind = rule.promotion_of if rule.kind == RuleKind.PROMOTION else rule.kind
    if not kind:
        raise ValidationError({"promotion_of": "A promotion needs the kind it multiplies."})
    others = [r for r in EarningRule.objects.filter(is_active=True).select_related("target_tier") if r.pk != rule.pk]
    candidate = EarningRule(**{f.attname: getattr(rule, f.attname) for f in EarningRule._meta.concrete_fields})
    candidate.is_active = True
    without, with_rule = RuleBook(others), RuleBook([*others, candidate])
    needs_segment = any(r.target_segment for r in [*others, candidate])
    usage_without, usage_with = {}, {}
    seeded: set[int] = set()
    by_member: dict[int, int] = {}
    actions_seen = 0
    for chunk in _actions_for(kind, start, end):
        if not chunk:
            continue
        ids = {a.buyer_id for a in chunk}
        earlier = cap_usage(with_rule, buyer_ids=ids - seeded, since=cap_usage_since(start), before=start)
        usage_without.update(earlier)
        usage_with.update(earlier)
        seeded |= ids
        tiers = buyer_effective_tiers(buyer_ids=ids)
        segments = buyer_segment_map(buyer_ids=ids) if needs_segment else {}
        for a in sorted(chunk, key=lambda a: (a.occurred_at, a.source_id)):
            actions_seen += 1
            t, s = tiers.get(a.buyer_id), segments.get(a.buyer_id, "")
            delta = with_rule.price(a, tier=t, segment=s, usage=usage_with).points - without.price(
                a, tier=t, segment=s, usage=usage_without
            ).points
            if delta:
                by_member[a.buyer_id] = by_member.get(a.buyer_id, 0) + delta
    points = sum(by_member.values())
    members = sum(1 for v in by_member.values() if v)
    return {
        "rule": rule.name,
        "start": start,
        "end": end,
        "actions": actions_seen,
        "points": points,
        "members": members,
        "summary": f"This rule would have awarded {points} points to {members} members between "
                   f"{start:%Y-%m-%d} and {end:%Y-%m-%d}.",
    }
