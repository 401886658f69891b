import math
from decimal import Decimal

import pytest

from buyers.models import BuyerRetention, BuyerSegmentChange, FitKind, FitStatus, LifetimeFit
from retention.services import retention_recompute


def _row(buyer):
    return BuyerRetention.objects.get(buyer=buyer)


def test_recompute_writes_a_defined_row_for_every_buyer_including_one_time_and_no_purchase(small_base):
    result = retention_recompute()

    assert result["buyers"] == BuyerRetention.objects.count() == 46
    for row in BuyerRetention.objects.all():
        for value in (row.p_alive, row.expected_purchases_90d, float(row.clv), row.churn_probability, float(row.expected_order_value)):
            assert not math.isnan(value)
    never = _row(small_base["never"])
    assert (never.order_count, never.segment, never.cadence_state, float(never.clv)) == (0, "new", "no_purchase", 0.0)
    # Nothing to measure is stored as NULL, not as NaN or zero.
    assert (never.days_since_last_order, never.cadence_days, never.top_seller_id) == (None, None, None)
    assert (never.first_order_at, never.next_purchase_from, never.churn_model_version, never.lifetime_model) == (None, None, "", "")
    loyal = _row(small_base["loyal"])
    assert (loyal.order_count, loyal.total_spend, loyal.average_order_value) == (8, Decimal("640.00"), Decimal("80.00"))
    assert loyal.top_seller_id is not None and loyal.days_since_last_order == pytest.approx(10, abs=1)
    once = _row(small_base["once"])
    # The chosen count model lets a first purchase be the last: a one-time buyer is not surely alive.
    assert once.frequency == 0 and 0.0 < once.p_alive < 1.0 and once.cadence_is_estimated
    assert once.p_alive < _row(small_base["newbie"]).p_alive


def test_recompute_segments_buyers_by_the_documented_rules(small_base):
    retention_recompute()

    assert _row(small_base["newbie"]).segment == "new"
    assert _row(small_base["gone"]).segment == "churned"
    assert _row(small_base["lapsed"]).segment in ("lapsing", "churned")
    assert _row(small_base["loyal"]).segment == "high_value"
    assert _row(small_base["lapsed"]).p_alive < _row(small_base["loyal"]).p_alive


def test_cadence_is_the_median_gap_and_overdue_after_the_window(small_base):
    retention_recompute()

    loyal = _row(small_base["loyal"])
    assert loyal.cadence_days == pytest.approx(60, abs=1)
    assert loyal.cadence_state in ("early", "due")
    lapsed = _row(small_base["lapsed"])
    assert lapsed.cadence_days == pytest.approx(50, abs=1)
    assert lapsed.cadence_state == "overdue"


def test_order_times_and_the_next_purchase_window_are_stored_to_the_microsecond_in_utc(small_base):
    from datetime import timedelta

    from buyers.selectors import retention_settings_get
    from marketplace.models import Order

    retention_recompute()

    lapsed = _row(small_base["lapsed"])
    placed = sorted(Order.objects.filter(buyer=small_base["lapsed"]).values_list("placed_at", flat=True))
    assert (lapsed.first_order_at, lapsed.last_order_at) == (placed[0], placed[-1])
    assert lapsed.last_order_at.utcoffset() == timedelta(0) and placed[-1].microsecond  # the factory's times carry microseconds
    tolerance = retention_settings_get().cadence_tolerance
    window = timedelta(days=lapsed.cadence_days)
    assert abs(lapsed.next_purchase_from - (placed[-1] + window * (1 - tolerance))) <= timedelta(milliseconds=1)
    assert abs(lapsed.next_purchase_to - (placed[-1] + window * (1 + tolerance))) <= timedelta(milliseconds=1)
    never = _row(small_base["never"])
    assert (never.first_order_at, never.last_order_at, never.next_purchase_from) == (None, None, None)


def test_recompute_is_idempotent_and_keeps_segment_history_of_changes_only(small_base, now):
    retention_recompute(as_of=now)
    first_changes = BuyerSegmentChange.objects.count()
    first_rows = {r.buyer_id: (r.segment, round(r.p_alive, 6)) for r in BuyerRetention.objects.all()}

    retention_recompute(as_of=now)

    assert BuyerSegmentChange.objects.count() == first_changes == 46
    assert {r.buyer_id: (r.segment, round(r.p_alive, 6)) for r in BuyerRetention.objects.all()} == first_rows


def test_active_fits_are_stored_with_parameters(small_base):
    retention_recompute()

    bg = LifetimeFit.objects.get(kind=FitKind.BGNBD, status=FitStatus.ACTIVE)
    assert set(bg.params) >= {"r", "alpha", "a", "b"}
    assert bg.n_buyers == 45
    assert bg.log_likelihood < 0


def test_a_fit_that_fails_to_converge_is_stored_as_failed_and_the_previous_fit_stays(small_base, monkeypatch):
    retention_recompute()
    active_before = LifetimeFit.objects.get(kind=FitKind.BGNBD, status=FitStatus.ACTIVE)
    from buyers import lifetime

    monkeypatch.setattr(
        lifetime, "purchase_model_fit",
        lambda *a, **k: lifetime.FitResult(dict.fromkeys(lifetime.BGNBD_PARAMS, float("nan")), float("nan"), False, "Maximum number of iterations has been exceeded.", 35),
    )

    retention_recompute()

    failed = LifetimeFit.objects.get(kind=FitKind.BGNBD, status=FitStatus.FAILED)
    assert "iterations" in failed.message
    assert LifetimeFit.objects.get(kind=FitKind.BGNBD, status=FitStatus.ACTIVE).pk == active_before.pk
    assert not math.isnan(_row(small_base["loyal"]).p_alive)


def test_scoring_a_range_costs_the_same_number_of_queries_however_many_buyers_it_holds(small_base, buy):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from buyers.factories import BuyerFactory
    from retention.services import buyer_retention_score_range, lifetime_fits_run

    lifetime_fits_run()
    buyer_retention_score_range(start_id=0, end_id=10**9)  # first run also creates the settings row
    with CaptureQueriesContext(connection) as small:
        buyer_retention_score_range(start_id=0, end_id=10**9)
    for _ in range(25):
        buy(BuyerFactory(), 30)
    with CaptureQueriesContext(connection) as large:
        buyer_retention_score_range(start_id=0, end_id=10**9)

    # A query per buyer would add 25 statements. Only the segment-history insert for the newcomers
    # and, on SQLite (999 parameters per statement), one more batch of the bulk upsert may be added.
    assert len(large.captured_queries) <= len(small.captured_queries) + 2 <= 20


def test_chunked_recompute_gives_the_same_rows_as_one_chunk(small_base, now):
    retention_recompute(as_of=now, chunk_size=10**6)
    whole = {r.buyer_id: (r.segment, round(r.p_alive, 9), r.clv, r.cadence_state) for r in BuyerRetention.objects.all()}

    result = retention_recompute(as_of=now, chunk_size=4)

    assert result["buyers"] == 46
    assert {r.buyer_id: (r.segment, round(r.p_alive, 9), r.clv, r.cadence_state) for r in BuyerRetention.objects.all()} == whole


def test_a_marketplace_too_small_to_fit_is_scored_by_the_labelled_cadence_rule(db, buy):
    from buyers.factories import BuyerFactory
    from retention.services import RULE_LABEL

    recent, lapsed = BuyerFactory(), BuyerFactory()
    for days in (100, 70, 40, 10):
        buy(recent, days)
    for days in (700, 670, 640):
        buy(lapsed, days)

    retention_recompute()

    failed = LifetimeFit.objects.get(kind=FitKind.BGNBD, status=FitStatus.FAILED)
    assert "Too few buyers to fit" in failed.message
    assert not LifetimeFit.objects.filter(status=FitStatus.ACTIVE).exists()
    rows = {r.buyer_id: r for r in BuyerRetention.objects.all()}
    assert {rows[recent.pk].lifetime_model, rows[lapsed.pk].lifetime_model} == {RULE_LABEL}
    assert rows[recent.pk].p_alive == 1.0
    assert rows[lapsed.pk].p_alive < 0.01
    assert float(rows[recent.pk].clv) > 0
