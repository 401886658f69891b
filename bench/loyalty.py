"""Benchmark: the loyalty engine's bulk paths against the equivalent raw SQL statements.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/kiln_bench_loyalty \
        .venv/bin/python bench/loyalty.py --scale 1.0      # 2,000,000 orders, 200,000 buyers

--scale multiplies the defaults (2,000,000 delivered orders, 200,000 buyers, 400,000 story
shares). The script migrates the database, wipes its marketplace and loyalty tables (it refuses
a database whose name lacks "bench"), generates data with generate_series, then times, for each
step, Kiln's service (chunked ORM + bulk writes, as the Celery tasks run it) against hand-written
set-based SQL that produces the same rows in scratch copies of the tables (same indexes and
constraints, ``LIKE ... INCLUDING ALL``):

1. award points for every delivered order (spend rule with a dated promotion, repeat-purchase bonus);
2. activate pending lots and expire lots past their expiry date (expire entries + allocations);
3. recompute tiers for every buyer (points earned in a rolling window);
4. evaluate two badges in bulk (support your artisan, storyteller with a points bonus).

Each step reports seconds and SQL statements for both sides and the time ratio (service / raw),
and checks that both produced the same totals. Results go to bench/results/loyalty.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

import django  # noqa: E402

django.setup()

from decimal import Decimal  # noqa: E402

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from loyalty import badges, services, tiers  # noqa: E402
from loyalty.models import (  # noqa: E402
    Badge,
    BadgeMetric,
    BuyerTier,
    EarningRule,
    LoyaltyProgram,
    PointsEntry,
    RuleKind,
    Tier,
)
from loyalty.selectors import ledger_verify  # noqa: E402

from bench.measure import measured  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "loyalty.json"




def sql(statement: str, params=None):
    with connection.cursor() as cursor:
        cursor.execute(statement, params or [])
        return cursor.fetchall() if cursor.description else cursor.rowcount


def generate(*, orders: int, buyers: int, sellers: int, stories: int) -> None:
    sql("SELECT setseed(0.42)")
    sql("""
        TRUNCATE loyalty_allocation, loyalty_redemption, loyalty_pointsentry, loyalty_badgeaward, loyalty_tierchange,
                 loyalty_buyertier, loyalty_tieroverride, loyalty_loyaltyaccount, loyalty_earningrule, loyalty_badge,
                 loyalty_reward, loyalty_tier, marketplace_engagementevent, marketplace_review, marketplace_return,
                 marketplace_orderline, marketplace_order, buyers_buyer, sellers_listing, sellers_seller
        RESTART IDENTITY CASCADE
    """)
    sql("""
        INSERT INTO sellers_seller (external_id, name, email, phone, craft_category, is_seasonal, years_experience,
            has_portfolio, onboarding_status, applied_at, approved_at, created_at, updated_at)
        SELECT 'BS' || i, 'Artisan ' || i, 'bs' || i || '@example.com', '',
               (ARRAY['jewelry','home_decor','ceramics','textiles','woodwork','paper_goods'])[1 + i %% 6],
               false, 3, true, 'approved', now() - interval '900 days', now() - interval '890 days', now(), now()
        FROM generate_series(1, %s) i
    """, [sellers])
    sql("""
        INSERT INTO buyers_buyer (external_id, name, email, joined_at, created_at, updated_at)
        SELECT 'BB' || i, 'Buyer ' || i, 'bb' || i || '@example.com', now() - interval '800 days', now(), now()
        FROM generate_series(1, %s) i
    """, [buyers])
    # Skewed buyers (some buy a lot) with a favourite artisan or two, so repeat purchases exist.
    sql("""
        INSERT INTO marketplace_order (external_id, buyer_id, seller_id, status, total_amount, placed_at, ship_by,
            shipped_at, delivered_at, cancel_reason)
        SELECT 'BO' || i, b, 1 + ((b * 7 + (random() * 2)::int) %% %s), 'delivered', round((10 + random() * 190)::numeric, 2),
               d - interval '6 days', d - interval '3 days', d - interval '3 days', d, ''
        FROM (SELECT i, 1 + floor(power(random(), 2) * %s)::bigint AS b,
                     now() - random() * interval '500 days' - interval '1 hour' AS d
              FROM generate_series(1, %s) i) g
    """, [sellers, buyers, orders])
    sql("""
        INSERT INTO marketplace_engagementevent (kind, occurred_at, buyer_id, target_seller_id)
        SELECT 'story_share', now() - random() * interval '400 days', 1 + floor(power(random(), 2) * %s)::bigint, NULL
        FROM generate_series(1, %s) i
    """, [buyers, stories])
    sql("ANALYZE")


def configure(now) -> None:
    LoyaltyProgram.objects.update_or_create(pk=1, defaults=dict(
        pending_days=14, expiry_policy="days_after_earning", expiry_days=365, tier_basis="points_earned",
        tier_window_days=365, downgrade_grace_days=30))
    Tier.objects.create(code="member", name="Member", rank=0, threshold=0, multiplier=1)
    Tier.objects.create(code="silver", name="Silver", rank=1, threshold=1000, multiplier=Decimal("1.25"))
    Tier.objects.create(code="gold", name="Gold", rank=2, threshold=4000, multiplier=Decimal("1.5"))
    EarningRule.objects.create(name="1 point per unit", kind=RuleKind.SPEND, points=1, priority=100)
    EarningRule.objects.create(name="Double points, last 30 days", kind=RuleKind.PROMOTION, promotion_of=RuleKind.SPEND,
                               multiplier=2, starts_at=now - timezone.timedelta(days=30), ends_at=now + timezone.timedelta(days=1))
    EarningRule.objects.create(name="Repeat purchase bonus", kind=RuleKind.REPEAT_PURCHASE, points=25, priority=100)
    Badge.objects.create(code="support-your-artisan", name="Support your artisan", metric=BadgeMetric.ORDERS_SAME_ARTISAN,
                         threshold=3, window_days=365)
    Badge.objects.create(code="storyteller", name="Storyteller", metric=BadgeMetric.STORIES_SHARED, threshold=3,
                         window_days=365, points_bonus=50)


def scratch_tables() -> None:
    for name in ("pointsentry", "allocation", "buyertier", "tierchange", "badgeaward"):
        sql(f"DROP TABLE IF EXISTS bench_{name}")
        sql(f"CREATE TABLE bench_{name} (LIKE loyalty_{name} INCLUDING ALL)")


ENTRY_COLUMNS = ("buyer_id, amount, remaining, kind, state, source_type, source_id, rule_id, reason, comment, breakdown, "
                 "seller_id, category, occurred_at, available_at, expires_at, created_at")


def raw_award(now) -> list[int]:
    spend = EarningRule.objects.get(kind=RuleKind.SPEND)
    promo = EarningRule.objects.get(kind=RuleKind.PROMOTION)
    repeat = EarningRule.objects.get(kind=RuleKind.REPEAT_PURCHASE)
    counts = []
    counts.append(sql(f"""
        INSERT INTO bench_pointsentry ({ENTRY_COLUMNS})
        SELECT o.buyer_id, p.pts, p.pts, 'earn',
               CASE WHEN o.delivered_at + interval '14 days' > %(now)s THEN 'pending' ELSE 'active' END,
               'order', o.id, %(spend)s, 'Order ' || o.external_id || ' delivered', '', '{{}}'::jsonb, o.seller_id,
               s.craft_category, o.delivered_at, o.delivered_at + interval '14 days', o.delivered_at + interval '379 days', %(now)s
        FROM marketplace_order o
        JOIN sellers_seller s ON s.id = o.seller_id
        LEFT JOIN loyalty_buyertier bt ON bt.buyer_id = o.buyer_id
        LEFT JOIN loyalty_tier t ON t.id = bt.tier_id
        CROSS JOIN LATERAL (SELECT floor(o.total_amount * COALESCE(t.multiplier, 1)
            * CASE WHEN o.delivered_at >= %(ps)s AND o.delivered_at < %(pe)s THEN 2 ELSE 1 END)::int AS pts) p
        WHERE o.status = 'delivered' AND p.pts > 0
        ON CONFLICT DO NOTHING
    """, {"now": now, "spend": spend.pk, "ps": promo.starts_at, "pe": promo.ends_at}))
    counts.append(sql(f"""
        INSERT INTO bench_pointsentry ({ENTRY_COLUMNS})
        SELECT o.buyer_id, 25, 25, 'earn',
               CASE WHEN o.delivered_at + interval '14 days' > %(now)s THEN 'pending' ELSE 'active' END,
               'repeat_purchase', o.id, %(repeat)s, 'Repeat purchase', '', '{{}}'::jsonb, o.seller_id, s.craft_category,
               o.delivered_at, o.delivered_at + interval '14 days', o.delivered_at + interval '379 days', %(now)s
        FROM (SELECT *, min(delivered_at) OVER (PARTITION BY buyer_id, seller_id) AS first_delivery
              FROM marketplace_order WHERE status = 'delivered') o
        JOIN sellers_seller s ON s.id = o.seller_id
        WHERE o.delivered_at > o.first_delivery
        ON CONFLICT DO NOTHING
    """, {"now": now, "repeat": repeat.pk}))
    return counts


def raw_activate_and_expire(now) -> int:
    sql("UPDATE bench_pointsentry SET state = 'active' WHERE state = 'pending' AND available_at <= %s", [now])
    sql(f"""
        WITH due AS (
            SELECT id, buyer_id, remaining, expires_at FROM bench_pointsentry
            WHERE state = 'active' AND expires_at <= %(now)s AND remaining > 0 FOR UPDATE
        ), debit AS (
            INSERT INTO bench_pointsentry ({ENTRY_COLUMNS})
            SELECT buyer_id, -remaining, 0, 'expire', 'posted', 'expiry', NULL, NULL,
                   'Points expired on ' || to_char(expires_at, 'YYYY-MM-DD'), '', jsonb_build_object('lot', id),
                   NULL, '', %(now)s, NULL, NULL, %(now)s
            FROM due
            RETURNING id, (breakdown ->> 'lot')::bigint AS lot_id, -amount AS amount
        )
        INSERT INTO bench_allocation (debit_id, lot_id, amount) SELECT id, lot_id, amount FROM debit
    """, {"now": now})
    return sql("UPDATE bench_pointsentry SET state = 'expired', remaining = 0 WHERE state = 'active' AND expires_at <= %s", [now])


def raw_tiers(now) -> int:
    sql("""
        INSERT INTO bench_buyertier (buyer_id, tier_id, basis_value, since, below_since, computed_at, override_id)
        SELECT b.id,
               (SELECT t.id FROM loyalty_tier t WHERE t.threshold <= COALESCE(v.points, 0) ORDER BY t.threshold DESC LIMIT 1),
               COALESCE(v.points, 0), %(now)s, NULL, %(now)s, NULL
        FROM buyers_buyer b
        LEFT JOIN (SELECT buyer_id, sum(amount) AS points FROM bench_pointsentry
                   WHERE kind = 'earn' AND state <> 'cancelled' AND occurred_at >= %(since)s AND occurred_at < %(now)s
                   GROUP BY buyer_id) v ON v.buyer_id = b.id
        ON CONFLICT (buyer_id) DO UPDATE SET tier_id = excluded.tier_id, basis_value = excluded.basis_value,
            computed_at = excluded.computed_at
    """, {"now": now, "since": now - timezone.timedelta(days=365)})
    return sql("""
        INSERT INTO bench_tierchange (buyer_id, from_tier_id, to_tier_id, cause, basis_value, detail, override_id, created_at)
        SELECT buyer_id, NULL, tier_id, 'recompute', basis_value, 'points earned', NULL, %s FROM bench_buyertier
        WHERE tier_id IS NOT NULL
    """, [now])


def raw_badges(now) -> int:
    support = Badge.objects.get(code="support-your-artisan")
    story = Badge.objects.get(code="storyteller")
    since = now - timezone.timedelta(days=365)
    a = sql("""
        INSERT INTO bench_badgeaward (badge_id, buyer_id, period_key, metric_value, awarded_at, revoked_reason)
        SELECT %(badge)s, buyer_id, 'once', max(n), %(now)s, '' FROM (
            SELECT buyer_id, seller_id, count(*) AS n FROM marketplace_order
            WHERE status = 'delivered' AND delivered_at >= %(since)s AND delivered_at < %(now)s
            GROUP BY buyer_id, seller_id HAVING count(*) >= 3) x
        GROUP BY buyer_id
        ON CONFLICT DO NOTHING
    """, {"badge": support.pk, "now": now, "since": since})
    b = sql("""
        INSERT INTO bench_badgeaward (badge_id, buyer_id, period_key, metric_value, awarded_at, revoked_reason)
        SELECT %(badge)s, buyer_id, 'once', count(*), %(now)s, '' FROM marketplace_engagementevent
        WHERE kind = 'story_share' AND buyer_id IS NOT NULL AND occurred_at >= %(since)s AND occurred_at < %(now)s
        GROUP BY buyer_id HAVING count(*) >= 3
        ON CONFLICT DO NOTHING
    """, {"badge": story.pk, "now": now, "since": since})
    sql(f"""
        INSERT INTO bench_pointsentry ({ENTRY_COLUMNS})
        SELECT a.buyer_id, 50, 50, 'earn', 'active', 'badge', a.id, NULL, 'Badge earned: Storyteller', '', '{{}}'::jsonb,
               NULL, '', a.awarded_at, a.awarded_at, a.awarded_at + interval '365 days', %(now)s
        FROM bench_badgeaward a
        WHERE a.badge_id = %(badge)s AND a.revoked_at IS NULL
        ON CONFLICT DO NOTHING
    """, {"badge": story.pk, "now": now})
    return a + b


def step(name, results, service_fn, raw_fn, check):
    with measured() as svc:
        svc["result"] = service_fn()
    with measured() as raw:
        raw["result"] = raw_fn()
    ok, detail = check()
    ratio = round(svc["seconds"] / raw["seconds"], 2) if raw["seconds"] else None
    results[name] = {"service": svc, "raw_sql": raw, "time_ratio": ratio, "same_result": ok, "check": detail}
    print(f"{name:<22} service {svc['seconds']:>8.2f}s {svc['queries']:>7} queries | raw SQL {raw['seconds']:>7.2f}s "
          f"{raw['queries']:>3} statements | ratio {ratio}x | same result: {ok} ({detail})", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=0.1, help="1.0 = 2,000,000 orders and 200,000 buyers")
    parser.add_argument("--orders", type=int, default=None, help="override the number of orders (buyers follow --scale)")
    parser.add_argument("--skip-generate", action="store_true", help="reuse the data already in the database")
    args = parser.parse_args()
    db = connection.settings_dict["NAME"]
    if connection.vendor != "postgresql" or "bench" not in db:
        sys.exit(f"Refusing to run against {connection.vendor} database {db!r}: use a PostgreSQL database named *bench*.")
    orders, buyers = args.orders or int(2_000_000 * args.scale), int(200_000 * args.scale)
    sellers, stories = max(50, orders // 1000), buyers * 2
    call_command("migrate", verbosity=0)
    results: dict = {"scale": args.scale, "orders": orders, "buyers": buyers, "sellers": sellers, "story_shares": stories}
    print(f"database {db}: {orders:,} orders, {buyers:,} buyers, {sellers:,} sellers, {stories:,} story shares", flush=True)
    if not args.skip_generate:
        t = time.perf_counter()
        generate(orders=orders, buyers=buyers, sellers=sellers, stories=stories)
        results["generate_seconds"] = round(time.perf_counter() - t, 1)
        print(f"generated in {results['generate_seconds']}s", flush=True)
    now = timezone.now()
    configure(now)
    scratch_tables()

    def award_all():
        total, after = 0, 0
        while True:
            created, last = services.points_award_delivered_orders(after_id=after, now=now)
            if last is None:
                return total
            total, after = total + created, last

    def same_totals(table_filter=""):
        mine = sql(f"SELECT count(*), COALESCE(sum(amount), 0) FROM loyalty_pointsentry {table_filter}")[0]
        theirs = sql(f"SELECT count(*), COALESCE(sum(amount), 0) FROM bench_pointsentry {table_filter}")[0]
        return mine == theirs, f"rows/points {mine[0]}/{mine[1]} vs {theirs[0]}/{theirs[1]}"

    step("award_orders", results, award_all, lambda: raw_award(now), lambda: same_totals())

    def expire_all():
        services.points_activate_due(now=now)
        total = 0
        while handled := services.points_expire_due(now=now):
            total += handled
        return total

    step("activate_and_expire", results, expire_all, lambda: raw_activate_and_expire(now),
         lambda: same_totals("WHERE kind = 'expire'"))

    step("recompute_tiers", results, lambda: tiers.tiers_recompute(now=now), lambda: raw_tiers(now),
         lambda: (lambda a, b: (a == b, f"per tier {a} vs {b}"))(
             sorted(sql("SELECT tier_id, count(*) FROM loyalty_buyertier GROUP BY 1")),
             sorted(sql("SELECT tier_id, count(*) FROM bench_buyertier GROUP BY 1"))))

    step("evaluate_badges", results, lambda: badges.badges_evaluate(now=now), lambda: raw_badges(now),
         lambda: (lambda a, b: (a == b, f"awards per badge {a} vs {b}"))(
             sorted(sql("SELECT badge_id, count(*) FROM loyalty_badgeaward GROUP BY 1")),
             sorted(sql("SELECT badge_id, count(*) FROM bench_badgeaward GROUP BY 1"))))

    with measured() as again:
        again["result"] = award_all()
    results["award_orders_rerun"] = again
    print(f"{'award_orders (rerun)':<22} service {again['seconds']:>8.2f}s {again['queries']:>7} queries | "
          f"{again['result']} new entries (idempotent catch-up)", flush=True)

    with measured() as verify:
        verify["result"] = len(ledger_verify())
    results["ledger_verify"] = verify
    print(f"{'ledger_verify':<22} {verify['seconds']:.2f}s, members whose cached lots disagree with the ledger: "
          f"{verify['result']}", flush=True)
    results["ledger_entries"] = PointsEntry.objects.count()
    results["members_with_tier"] = BuyerTier.objects.exclude(tier=None).count()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2, default=str))
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
