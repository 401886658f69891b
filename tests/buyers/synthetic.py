"""A small, fast marketplace for retention tests, written with bulk_create.

Each buyer buys every ~cadence days from a favourite artisan (sometimes another one)
and logs in while alive; after an exponential lifetime the buyer churns and goes quiet.
"""

from datetime import timedelta
from decimal import Decimal

import numpy as np
from django.utils import timezone

from buyers.models import Buyer
from marketplace.models import EngagementEvent, EngagementKind, Order, OrderLine, OrderStatus
from sellers.models import CraftCategory, Listing, Seller


def build_marketplace(*, buyers: int = 300, sellers: int = 12, days: int = 540, seed: int = 7, follow_share: float = 0.3):
    rng = np.random.default_rng(seed)
    now = timezone.now().replace(microsecond=0)
    start = now - timedelta(days=days)
    seller_rows = Seller.objects.bulk_create(
        [
            Seller(
                external_id=f"RS{seed}-{i}", name=f"Artisan {i}", email=f"a{i}@x.example",
                craft_category=CraftCategory.values[i % len(CraftCategory.values)],
                onboarding_status="approved", applied_at=start - timedelta(days=30), approved_at=start - timedelta(days=25),
            )
            for i in range(sellers)
        ]
    )
    listings = Listing.objects.bulk_create(
        [
            Listing(
                seller=s, external_id=f"RL{seed}-{s.pk}-{j}", title=f"Piece {s.pk}-{j}", category=s.craft_category,
                price=Decimal("30.00") + j, created_at=start - timedelta(days=20),
            )
            for s in seller_rows
            for j in range(4)
        ]
    )
    by_seller = {}
    for listing in listings:
        by_seller.setdefault(listing.seller_id, []).append(listing)
    popularity = rng.dirichlet(np.ones(sellers) * 0.8)
    buyer_rows = Buyer.objects.bulk_create(
        [Buyer(external_id=f"RB{seed}-{i}", name=f"Buyer {i}", email=f"b{i}@x.example", joined_at=start) for i in range(buyers)]
    )
    orders, lines, events, truth = [], [], [], {}
    n = 0
    for buyer in buyer_rows:
        cadence = rng.choice([30.0, 60.0, 100.0])
        life = rng.exponential(300)
        joined = rng.uniform(0, days * 0.6)
        churn_day = joined + life
        favourite = rng.choice(sellers, p=popularity)
        day = joined + rng.exponential(7)
        truth[buyer.pk] = {"churn_day": churn_day, "favourite": seller_rows[favourite].pk}
        while day < min(days, churn_day):
            seller = seller_rows[favourite if rng.random() < 0.7 else rng.choice(sellers, p=popularity)]
            placed = start + timedelta(days=float(day))
            listing = by_seller[seller.pk][int(rng.integers(0, 4))]
            n += 1
            orders.append(
                Order(
                    external_id=f"RO{seed}-{n}", buyer=buyer, seller=seller, status=OrderStatus.PLACED,
                    total_amount=listing.price, placed_at=placed, ship_by=placed + timedelta(days=3),
                )
            )
            lines.append((n - 1, listing))
            day += rng.gamma(4, cadence / 4)
        login_rate = 1.5 / cadence
        alive_until = min(days, churn_day)
        t = joined
        while True:
            t += rng.exponential(1 / login_rate)
            if t >= alive_until:
                break
            events.append(EngagementEvent(buyer=buyer, kind=EngagementKind.LOGIN, occurred_at=start + timedelta(days=float(t))))
        if rng.random() < follow_share:
            events.append(
                EngagementEvent(
                    buyer=buyer, kind=EngagementKind.FOLLOW_ARTISAN, target_seller=seller_rows[favourite],
                    occurred_at=start + timedelta(days=float(joined + 1)),
                )
            )
    Order.objects.bulk_create(orders, batch_size=2000)
    OrderLine.objects.bulk_create(
        [OrderLine(order=orders[i], listing=listing, quantity=1, unit_price=listing.price) for i, listing in lines], batch_size=2000
    )
    EngagementEvent.objects.bulk_create(events, batch_size=2000)
    return {"now": now, "start": start, "buyers": buyer_rows, "sellers": seller_rows, "listings": listings, "truth": truth}
