"""Who a message goes to: the recipient context the outbox renders templates with.

It reads buyers, artisans, loyalty and orders, so it lives above them; core's outbound policy
calls it through ``core.messaging.recipient_contexts`` (registered in WorkflowsConfig.ready).
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Min, Sum
from django.utils import timezone


def recipient_contexts(addresses, *, now: datetime | None = None) -> dict[str, dict]:
    """Each address's own context: name, tier, points about to expire, recent artisans,
    recommended items and rewards. A handful of queries for any number of addresses."""
    from buyers.models import Buyer, BuyerRetention
    from loyalty.models import BuyerTier, EntryState, PointsEntry
    from loyalty.recommend import reward_recommendations
    from loyalty.selectors import program_get
    from marketplace.models import Order
    from sellers.models import Listing, Seller

    now = now or timezone.now()
    wanted = {a.lower() for a in addresses}
    out: dict[str, dict] = {a: {"address": a, "kind": "unknown", "name": ""} for a in wanted}
    teams = {v.lower() for v in settings.TEAM_EMAILS.values()}
    for address in wanted & teams:
        out[address].update(kind="team", name="team")
    for seller in Seller.objects.filter(email__in=wanted).order_by("-pk").only("pk", "name", "email"):
        out[seller.email.lower()].update(kind="artisan", name=seller.name, seller_id=seller.pk)
    buyers = {}
    for buyer in Buyer.objects.filter(email__in=wanted).order_by("-pk").only("pk", "name", "email"):
        buyers[buyer.email.lower()] = buyer.pk  # the oldest buyer with the address wins
    if not buyers:
        return out
    ids = list(buyers.values())
    tiers = dict(BuyerTier.objects.filter(buyer_id__in=ids, tier__isnull=False).values_list("buyer_id", "tier__name"))
    horizon = now + timedelta(days=program_get().reminder_days_before)
    expiring = {
        r["buyer_id"]: r
        for r in PointsEntry.objects.filter(
            buyer_id__in=ids, state=EntryState.ACTIVE, remaining__gt=0, expires_at__gt=now, expires_at__lte=horizon
        )
        .values("buyer_id")
        .annotate(points=Sum("remaining"), first=Min("expires_at"))
        .order_by()
    }
    recent: dict[int, list[str]] = {}
    for buyer_id, name in (
        Order.objects.filter(buyer_id__in=ids, placed_at__gte=now - timedelta(days=365))
        .order_by("buyer_id", "-placed_at")
        .values_list("buyer_id", "seller__name")
    ):
        names = recent.setdefault(buyer_id, [])
        if name not in names and len(names) < 3:
            names.append(name)
    picks = dict(BuyerRetention.objects.filter(buyer_id__in=ids).values_list("buyer_id", "recommended_listing_ids"))
    listing_ids = {i for v in picks.values() for i in (v or [])[:3]}
    titles = dict(Listing.objects.filter(pk__in=listing_ids, is_active=True).values_list("pk", "title"))
    rewards = reward_recommendations(buyer_ids=ids, now=now, limit=3)
    buyer_names = dict(Buyer.objects.filter(pk__in=ids).values_list("pk", "name"))
    for address, buyer_id in buyers.items():
        exp = expiring.get(buyer_id)
        out[address].update(
            kind="buyer",
            buyer_id=buyer_id,
            name=buyer_names[buyer_id],
            tier=tiers.get(buyer_id, ""),
            points_expiring=exp["points"] if exp else 0,
            points_expiring_on=f"{exp['first'].day} {exp['first']:%b %Y}" if exp else "",
            recent_artisans=recent.get(buyer_id, []),
            recommended_items=[titles[i] for i in (picks.get(buyer_id) or [])[:3] if i in titles],
            rewards=rewards.get(buyer_id, []),
        )
    return out


def sample_address() -> str | None:
    """The first buyer's address, for template previews."""
    from buyers.models import Buyer

    return Buyer.objects.order_by("pk").values_list("email", flat=True).first()
