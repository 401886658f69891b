"""Point competitions: admin-defined windows, counted actions, eligibility, prizes paid once.

Standings (set-based, one aggregate over the ledger):
  score      = points of earn entries (not cancelled) whose rule kind is counted and whose
               action happened in [starts_at, ends_at);
  eligible   = members at ``eligible_tier`` or above and/or in ``eligible_segment``;
  tie-break  = higher score first; then whoever reached their final score first (earlier time
               of their last counted action); then the lower member id. Every place is
               therefore distinct, and each prize rank names exactly one member.

Closing pays each prize through the ledger (a fixed-point lot whose source is the
CompetitionAward) and emails the winner through the outbox. Closing twice, or two workers
closing at once, pays nothing twice: the competition row is locked, ``closed_at`` is set once,
CompetitionAward is unique per (competition, rank) and per (competition, member), and the
ledger is unique per (source_type, source_id) for earn entries.
"""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Max, Q, Sum
from django.utils import timezone

from core.outbox import outbox_enqueue
from core.roles import is_marketplace_admin
from loyalty.models import (
    Competition,
    CompetitionAward,
    CompetitionPrize,
    EntryKind,
    EntryState,
    PointsEntry,
    Reward,
    RuleKind,
    SourceType,
)
from loyalty.rules import Action

COUNTABLE_KINDS = [k for k in RuleKind.values if k != RuleKind.PROMOTION]


def competition_validate(competition: Competition) -> None:
    errors = {}
    if competition.starts_at and competition.ends_at and competition.ends_at <= competition.starts_at:
        errors["ends_at"] = "The competition must close after it opens."
    kinds = competition.counted_kinds
    if not isinstance(kinds, list) or not kinds:
        errors["counted_kinds"] = f"Choose at least one action kind from {', '.join(COUNTABLE_KINDS)}."
    else:
        unknown = [k for k in kinds if k not in COUNTABLE_KINDS]
        if unknown:
            errors["counted_kinds"] = f"Unknown action kind(s) {', '.join(map(str, unknown))}; use {', '.join(COUNTABLE_KINDS)}."
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def competition_create(*, actor, prizes: list[dict], **fields) -> Competition:
    """A new competition with its prizes. Admin only; bad fields raise a ValidationError naming them."""
    if not is_marketplace_admin(actor):
        raise PermissionDenied("Only Marketplace Admins may define competitions.")
    competition = Competition(**fields)
    competition.full_clean()
    if not prizes:
        raise ValidationError({"prizes": "Give at least one prize."})
    ranks = [p.get("rank") for p in prizes]
    if len(set(ranks)) != len(ranks):
        raise ValidationError({"prizes": "Each rank may have only one prize."})
    competition.save()
    for i, spec in enumerate(prizes):
        prize = CompetitionPrize(competition=competition, **spec)
        if not prize.bonus_points and not prize.reward_id:
            raise ValidationError({f"prizes[{i}]": "A prize is bonus points, a reward, or both."})
        try:
            prize.full_clean(exclude=["competition"])
        except ValidationError as exc:
            raise ValidationError({f"prizes[{i}].{k}": v for k, v in exc.message_dict.items()}) from exc
        prize.save()
    return competition


def _eligible_filter(competition: Competition) -> Q:
    q = Q()
    if competition.eligible_tier_id:
        q &= Q(buyer__loyalty_tier__tier__rank__gte=competition.eligible_tier.rank)
    if competition.eligible_segment:
        q &= Q(buyer__retention__segment=competition.eligible_segment)
    return q


def competition_standings(*, competition: Competition, limit: int | None = 100) -> list[dict]:
    """Ranked entrants (see the module doc for the tie-break). One aggregate query."""
    rows = (
        PointsEntry.objects.filter(
            kind=EntryKind.EARN,
            rule__kind__in=competition.counted_kinds,
            occurred_at__gte=competition.starts_at,
            occurred_at__lt=competition.ends_at,
        )
        .exclude(state=EntryState.CANCELLED)
        .filter(_eligible_filter(competition))
        .values("buyer_id", "buyer__name")
        .annotate(score=Sum("amount"), reached_at=Max("occurred_at"))
        .filter(score__gt=0)
        .order_by("-score", "reached_at", "buyer_id")
    )
    if limit is not None:
        rows = rows[:limit]
    return [
        {"rank": i, "buyer_id": r["buyer_id"], "name": r["buyer__name"], "score": r["score"], "reached_at": r["reached_at"]}
        for i, r in enumerate(rows, start=1)
    ]


def competition_close(*, competition_id: int, now: datetime | None = None) -> list[CompetitionAward]:
    """Pay the prizes once. Safe to retry and to run concurrently; returns the awards."""
    from loyalty.services import points_award_fixed

    now = now or timezone.now()
    try:
        with transaction.atomic():
            competition = Competition.objects.select_for_update().get(pk=competition_id)
            if competition.closed_at is not None:
                return list(competition.awards.order_by("rank"))
            if now < competition.ends_at:
                raise ValidationError({"ends_at": f"{competition} runs until {competition.ends_at:%Y-%m-%d %H:%M}; close it after that."})
            prizes = list(competition.prizes.select_related("reward").order_by("rank"))
            deepest = prizes[-1].rank if prizes else 0
            standings = {row["rank"]: row for row in competition_standings(competition=competition, limit=deepest)}
            awards = []
            for prize in prizes:
                row = standings.get(prize.rank)
                if row is None:
                    continue  # fewer entrants than prizes
                award = CompetitionAward(
                    competition=competition, prize=prize, buyer_id=row["buyer_id"], rank=prize.rank, score=row["score"], awarded_at=now
                )
                if prize.reward_id:
                    # A stocked reward is claimed with a conditional UPDATE; an empty shelf is noted, not oversold.
                    taken = Reward.objects.filter(pk=prize.reward_id).filter(Q(stock__isnull=True) | Q(stock__gt=0))
                    if prize.reward.stock is not None:
                        taken = taken.update(stock=F("stock") - 1)
                    else:
                        taken = taken.count()
                    if taken:
                        award.reward_id = prize.reward_id
                    else:
                        award.note = f"{prize.reward} was out of stock"
                award.save()
                awards.append(award)
            points_award_fixed(
                actions=[
                    Action(source_type=SourceType.COMPETITION, source_id=a.pk, buyer_id=a.buyer_id, kind=None,
                           fixed_points=a.prize.bonus_points, occurred_at=now,
                           reason=f"Prize: #{a.rank} in {competition.name}")
                    for a in awards if a.prize.bonus_points
                ],
                now=now,
            )
            competition.closed_at = now
            competition.save(update_fields=["closed_at"])
            buyers = {a.buyer_id: a.buyer for a in CompetitionAward.objects.filter(pk__in=[a.pk for a in awards]).select_related("buyer")}
            for award in awards:
                prize_text = " and ".join(
                    ([f"{award.prize.bonus_points} bonus points"] if award.prize.bonus_points else [])
                    + ([str(award.prize.reward)] if award.reward_id else [])
                ) or award.note
                outbox_enqueue(
                    dedupe_key=f"loyalty:competition-prize:{award.pk}",
                    to=buyers[award.buyer_id].email,
                    category="competition_prize",
                    context={"rank": award.rank, "competition": competition.name, "score": award.score, "prize": prize_text},
                )
            return awards
    except IntegrityError:
        # Another close won the race between our read and our insert; its awards stand.
        return list(CompetitionAward.objects.filter(competition_id=competition_id).order_by("rank"))


def competitions_close_due(*, now: datetime | None = None) -> int:
    """The beat entry: close every competition whose window has ended. Returns how many closed."""
    now = now or timezone.now()
    due = list(Competition.objects.filter(closed_at__isnull=True, ends_at__lte=now).values_list("pk", flat=True))
    for pk in due:
        competition_close(competition_id=pk, now=now)
    return len(due)
