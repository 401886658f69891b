import hashlib
from collections import Counter
from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection
from django.db.models import Count, F, Q

from buyers.models import Buyer
from marketplace.generator.services import GeneratorError, generate_marketplace
from marketplace.models import EngagementEvent, Order, OrderLine, Return, Review
from sellers.factories import SellerFactory
from sellers.models import Listing, Seller

pytestmark = pytest.mark.django_db

END = "2026-06-30"
SMALL = {"sellers": 25, "buyers": 200, "months": 6, "end": END, "progress": False}

HASHED = [
    (
        Seller,
        [
            "id",
            "external_id",
            "name",
            "craft_category",
            "is_seasonal",
            "years_experience",
            "has_portfolio",
            "onboarding_status",
            "applied_at",
            "approved_at",
            "onboarded_at",
            "rejected_at",
            "synthetic_quality",
        ],
    ),
    (Listing, ["id", "seller_id", "external_id", "title", "price", "stock_quantity", "stock_updated_at", "is_active"]),
    (Buyer, ["id", "external_id", "name", "joined_at", "synthetic_cadence_days", "synthetic_churned_at"]),
    (
        Order,
        [
            "id",
            "external_id",
            "buyer_id",
            "seller_id",
            "status",
            "total_amount",
            "placed_at",
            "ship_by",
            "shipped_at",
            "delivered_at",
            "cancelled_at",
            "cancel_reason",
            "returned_at",
        ],
    ),
    (OrderLine, ["id", "order_id", "listing_id", "quantity", "unit_price"]),
    (Return, ["id", "order_id", "reason", "refund_amount", "created_at"]),
    (Review, ["id", "order_id", "buyer_id", "seller_id", "rating", "text", "created_at", "updated_at"]),
    (EngagementEvent, ["id", "buyer_id", "seller_id", "target_seller_id", "kind", "occurred_at", "response_minutes"]),
]


def rows_digest() -> str:
    digest = hashlib.sha256()
    for model, fields in HASHED:
        for row in model.objects.order_by("id").values_list(*fields):
            digest.update(repr(row).encode())
    return digest.hexdigest()


def table_counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model, _ in HASHED}


def test_same_seed_and_end_date_write_identical_rows_and_another_seed_does_not():
    first = generate_marketplace(seed=11, **SMALL)
    digest = rows_digest()

    again = generate_marketplace(seed=11, clear=True, **SMALL)
    assert rows_digest() == digest
    assert again["counts"] == first["counts"]

    generate_marketplace(seed=12, clear=True, **SMALL)
    assert rows_digest() != digest


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--sellers", "0", "--buyers", "10", "--months", "3"], "sellers must be at least 1"),
        (["--sellers", "5", "--buyers", "-4", "--months", "3"], "buyers must be at least 1"),
        (["--sellers", "5", "--buyers", "10", "--months", "0"], "months must be at least 1"),
        (
            ["--sellers", "5", "--buyers", "10", "--months", "3", "--categories", "jewelry,pottery"],
            "Unknown craft category: pottery",
        ),
        (["--sellers", "5", "--buyers", "10", "--months", "3", "--end", "not-a-date"], "end must be a date"),
        (
            ["--sellers", "5", "--buyers", "10", "--months", "3", "--purchase-frequency", "0"],
            "purchase_frequency must be above 0 and at most 20",
        ),
        (
            ["--sellers", "5", "--buyers", "10", "--months", "3", "--purchase-frequency", "nan"],
            "purchase_frequency must be above 0",
        ),
    ],
)
def test_bad_arguments_raise_command_error_and_write_nothing(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("generate_marketplace", *args, "--no-progress", stdout=StringIO())

    assert set(table_counts().values()) == {0}


def test_non_empty_database_is_refused_without_clear_and_left_untouched():
    SellerFactory()

    with pytest.raises(CommandError, match="--clear"):
        call_command(
            "generate_marketplace",
            "--sellers",
            "5",
            "--buyers",
            "20",
            "--months",
            "2",
            "--no-progress",
            stdout=StringIO(),
        )

    assert table_counts()["Seller"] == 1
    assert table_counts()["Order"] == 0


def test_command_prints_summary_whose_counts_match_the_rows():
    out = StringIO()
    call_command(
        "generate_marketplace",
        "--sellers",
        "20",
        "--buyers",
        "150",
        "--months",
        "4",
        "--seed",
        "3",
        "--end",
        END,
        "--no-progress",
        stdout=out,
    )

    counts = table_counts()
    assert f'"orders": {counts["Order"]}' in out.getvalue()
    assert f'"events": {counts["EngagementEvent"]}' in out.getvalue()
    assert counts["Order"] > 100


def test_categories_option_limits_artisans_to_those_categories():
    generate_marketplace(seed=5, categories=["jewelry", "ceramics"], **SMALL)

    assert set(Seller.objects.values_list("craft_category", flat=True)) <= {"jewelry", "ceramics"}
    assert set(Listing.objects.values_list("category", flat=True)) <= {"jewelry", "ceramics"}


def test_generated_rows_are_consistent_with_each_other():
    summary = generate_marketplace(seed=21, sellers=40, buyers=400, months=12, end=END, progress=False)
    if connection.vendor == "sqlite":
        connection.check_constraints()

    line_sums = Counter()
    for order_id, quantity, unit_price in OrderLine.objects.values_list("order_id", "quantity", "unit_price"):
        line_sums[order_id] += quantity * unit_price
    totals = dict(Order.objects.values_list("id", "total_amount"))
    assert len(totals) == summary["counts"]["orders"]
    assert line_sums == totals
    orders = Order.objects.annotate(
        n_lines=Count("lines"), foreign_lines=Count("lines", filter=~Q(lines__listing__seller=F("seller")))
    )
    assert set(orders.values_list("n_lines", flat=True)) == {1, 2, 3}
    assert not orders.filter(foreign_lines__gt=0).exists()
    statuses = Counter(Order.objects.values_list("status", flat=True))
    assert set(statuses) == {"placed", "shipped", "delivered", "cancelled", "returned"}
    assert not Order.objects.filter(status="cancelled", shipped_at__isnull=False).exists()
    assert (
        not Order.objects.filter(status="placed")
        .filter(Q(shipped_at__isnull=False) | Q(cancelled_at__isnull=False))
        .exists()
    )
    assert Return.objects.count() == statuses["returned"]
    assert not Return.objects.exclude(order__status="returned").exists()
    assert not Return.objects.filter(refund_amount__gt=F("order__total_amount")).exists()
    assert not Review.objects.exclude(order__status__in=["delivered", "returned"]).exists()
    assert not Review.objects.exclude(seller=F("order__seller")).exists()
    assert not Review.objects.filter(created_at__lt=F("order__delivered_at")).exists()
    # Nobody buys from an artisan before onboarding or after the buyer churned.
    assert not Order.objects.filter(placed_at__lt=F("seller__onboarded_at")).exists()
    assert not Order.objects.filter(placed_at__gte=F("buyer__synthetic_churned_at")).exists()
    assert not Order.objects.exclude(seller__onboarding_status="approved").exists()
    assert not Listing.objects.exclude(seller__onboarding_status="approved").exists()

    events = EngagementEvent.objects
    assert not events.filter(
        kind__in=["message", "follow_artisan", "event_attendance"], target_seller__isnull=True
    ).exists()
    assert (
        not events.filter(kind="message_reply")
        .filter(Q(response_minutes__isnull=True) | Q(seller__isnull=True))
        .exists()
    )
    assert not events.filter(kind__in=["listing_update", "message_reply"], buyer__isnull=False).exists()
    kinds = set(events.values_list("kind", flat=True))
    assert kinds == {
        "login",
        "message",
        "story_share",
        "follow_artisan",
        "event_attendance",
        "listing_update",
        "message_reply",
    }
    follows = events.filter(kind="follow_artisan").values("buyer", "target_seller").annotate(n=Count("id"))
    assert not follows.filter(n__gt=1).exists()


def test_newest_applicants_stay_applied_without_history_and_the_rest_are_mostly_approved():
    generate_marketplace(seed=8, sellers=100, buyers=100, months=6, end=END, progress=False)

    applied = Seller.objects.filter(onboarding_status="applied")
    assert applied.count() == 3
    newest = Seller.objects.order_by("-applied_at").values_list("id", flat=True)[:3]
    assert set(applied.values_list("id", flat=True)) == set(newest)
    assert not Listing.objects.filter(seller__in=applied).exists()
    assert Seller.objects.filter(onboarding_status="approved").count() >= 85
    assert not Seller.objects.filter(onboarding_status="approved", approved_at__isnull=True).exists()
    assert not Seller.objects.filter(approved_at__gt=F("applied_at") + timedelta(days=30)).exists()
    assert Seller.objects.filter(synthetic_quality__isnull=True).count() == 0


def test_buyers_have_cadence_and_churn_ground_truth_and_listings_carry_deliberate_inconsistencies():
    summary = generate_marketplace(seed=9, sellers=60, buyers=600, months=12, end=END, progress=False)

    assert not Buyer.objects.filter(synthetic_cadence_days__isnull=True).exists()
    assert not Buyer.objects.filter(synthetic_churned_at__isnull=True).exists()
    churned_share = Buyer.objects.filter(synthetic_churned_at__lte="2026-06-30T00:00:00Z").count() / 600
    assert 0.2 < churned_share < 0.7
    tracked = Listing.objects.filter(stock_quantity__isnull=False).count()
    made_to_order = Listing.objects.filter(stock_quantity__isnull=True).count()
    assert 0.15 < made_to_order / (tracked + made_to_order) < 0.35
    assert Listing.objects.filter(stock_quantity__isnull=False, stock_updated_at__lt="2026-04-01T00:00:00Z").exists()
    assert Order.objects.filter(cancel_reason="out_of_stock").exists()
    assert summary["rates"]["oversold_share_of_tracked"] > 0
    assert Decimal("0") < Listing.objects.order_by("price").first().price


def test_progress_false_prints_no_progress_bar(capsys):
    generate_marketplace(seed=2, sellers=10, buyers=50, months=2, end=END, progress=False)

    assert capsys.readouterr().err == ""
    assert Order.objects.exists()


def test_service_rejects_non_integer_counts_before_writing():
    with pytest.raises(GeneratorError, match="sellers must be an integer"):
        generate_marketplace(sellers="5", buyers=10, months=2, seed=1, end=END, progress=False)
    assert not Seller.objects.exists()


def test_purchase_frequency_shortens_cadence_and_multiplies_orders_per_buyer():
    generate_marketplace(seed=5, **SMALL)
    base_orders = Order.objects.count()
    base_cadence = sorted(Buyer.objects.values_list("synthetic_cadence_days", flat=True))

    generate_marketplace(seed=5, clear=True, purchase_frequency=3.0, **SMALL)
    cadence = sorted(Buyer.objects.values_list("synthetic_cadence_days", flat=True))

    # Same buyers, same draws: each cadence is the default one divided by three.
    assert cadence == pytest.approx([c / 3 for c in base_cadence], rel=1e-3)
    assert Order.objects.count() > 2 * base_orders


def _schema_snapshot() -> set:
    if connection.vendor != "postgresql":
        return set()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename IN ('marketplace_order', 'marketplace_engagementevent')"
        )
        names = {row[0] for row in cursor.fetchall()}
        cursor.execute(
            "SELECT conname FROM pg_constraint WHERE conrelid = 'marketplace_order'::regclass AND contype = 'f'"
        )
        return names | {row[0] for row in cursor.fetchall()}


def test_failure_midway_writes_nothing_and_keeps_indexes_and_foreign_keys(monkeypatch):
    from marketplace.generator import services

    before = _schema_snapshot()
    real = services.sample_buyer_chunk

    def fail_after_sampling(*args, **kwargs):
        real(*args, **kwargs)
        raise RuntimeError("sampling broke")

    monkeypatch.setattr(services, "sample_buyer_chunk", fail_after_sampling)

    with pytest.raises(RuntimeError, match="sampling broke"):
        generate_marketplace(seed=4, **SMALL)

    assert set(table_counts().values()) == {0}
    assert _schema_snapshot() == before
    if connection.vendor == "postgresql":
        assert len(before) >= 10


def test_a_successful_run_rebuilds_every_index_and_foreign_key_it_dropped():
    before = _schema_snapshot()

    generate_marketplace(seed=4, **SMALL)

    assert Order.objects.exists()
    assert _schema_snapshot() == before


@pytest.mark.parametrize("categories", [None, ["seasonal_ornaments"]])
def test_a_tiny_marketplace_with_one_artisan_and_one_buyer_is_written(categories):
    summary = generate_marketplace(
        sellers=1, buyers=1, months=1, seed=3, end=END, categories=categories, progress=False
    )

    assert Seller.objects.count() == 1
    assert Buyer.objects.count() == 1
    assert Order.objects.count() == summary["counts"]["orders"]


def test_a_row_breaking_a_database_constraint_aborts_the_whole_run(monkeypatch):
    from marketplace.generator import services

    real = services.sample_sellers

    def negative_prices(*args, **kwargs):
        frames, world = real(*args, **kwargs)
        frames["listings"]["price"] = -1.0
        return frames, world

    monkeypatch.setattr(services, "sample_sellers", negative_prices)

    with pytest.raises(IntegrityError):
        generate_marketplace(seed=4, **SMALL)

    assert set(table_counts().values()) == {0}


def test_nothing_but_promises_and_ground_truth_is_dated_after_the_window_end():
    generate_marketplace(seed=6, sellers=30, buyers=300, months=6, end=END, progress=False)
    end = "2026-06-30T00:00:00Z"

    assert not Order.objects.filter(
        Q(placed_at__gt=end) | Q(shipped_at__gt=end) | Q(delivered_at__gt=end) | Q(cancelled_at__gt=end)
        | Q(returned_at__gt=end)
    ).exists()
    assert not Review.objects.filter(Q(created_at__gt=end) | Q(updated_at__gt=end)).exists()
    assert not EngagementEvent.objects.filter(occurred_at__gt=end).exists()
    assert not Listing.objects.filter(Q(created_at__gt=end) | Q(stock_updated_at__gt=end)).exists()
    assert not Seller.objects.filter(Q(applied_at__gt=end) | Q(approved_at__gt=end) | Q(onboarded_at__gt=end)).exists()
    assert not Buyer.objects.filter(joined_at__gt=end).exists()
    assert Order.objects.filter(status__in=["placed", "shipped"]).exists()


def test_generated_tables_are_analysed_so_the_first_queries_are_planned_on_real_numbers():
    generate_marketplace(seed=3, **SMALL)

    # Statistics exist only once the table was analysed. Without them PostgreSQL guessed that 1.9
    # million delivered orders were 10,000 and read them all for one chunk, and SQLite judged the
    # demo's repeat purchases through the status index (36 s for one award chunk).
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT count(*) FROM pg_stats WHERE tablename = 'marketplace_order' AND attname = 'status'")
            assert cursor.fetchone()[0] == 1
        else:
            # One row per index; its first number is the table's row count.
            cursor.execute("SELECT stat FROM sqlite_stat1 WHERE tbl = 'marketplace_order'")
            counts = {int(stat.split()[0]) for (stat,) in cursor.fetchall()}
            assert counts == {Order.objects.count()}


@pytest.mark.skipif(
    connection.vendor == "postgresql",
    reason="PostgreSQL clears by TRUNCATE ... RESTART IDENTITY CASCADE; this is the path of the other databases",
)
def test_clear_also_empties_what_points_at_the_marketplace_and_restarts_its_ids():
    from loyalty.factories import EarnLotFactory
    from loyalty.models import PointsEntry

    generate_marketplace(seed=11, **SMALL)
    first_buyer_ids = sorted(Buyer.objects.values_list("pk", flat=True))[:3]
    # Points protect their buyer from an ordinary delete; a clear takes them with the buyers, as
    # TRUNCATE ... CASCADE does on PostgreSQL.
    EarnLotFactory(buyer=Buyer.objects.get(pk=first_buyer_ids[0]))

    generate_marketplace(seed=11, clear=True, **SMALL)

    assert not PointsEntry.objects.exists()
    assert sorted(Buyer.objects.values_list("pk", flat=True))[:3] == first_buyer_ids
