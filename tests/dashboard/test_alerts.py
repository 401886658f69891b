from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from casework.models import Case, CaseKind
from core.models import OutboxMessage
from core.schedule import collect_beat_schedule
from dashboard import services
from dashboard.models import Alert, AlertStatus, AlertThreshold, Condition, KpiSnapshot
from dashboard.tasks import evaluate_alerts_task, record_snapshots_task
from marketplace.factories import OrderFactory, ReturnFactory
from marketplace.models import OrderStatus
from tests.dashboard.conftest import at

pytestmark = pytest.mark.django_db
OCT_31 = date(2026, 10, 31)


def only(kpi, condition, value, *, min_volume=1, window_days=31):
    """Turn every default threshold off except one, configured for the October fixture."""
    AlertThreshold.objects.update(is_active=False)
    threshold = AlertThreshold.objects.get(kpi=kpi, condition=condition)
    threshold.value = Decimal(value)
    threshold.min_volume = min_volume
    threshold.window_days = window_days
    threshold.is_active = True
    threshold.save()
    return threshold


def second_return_for_s1(market):
    order = OrderFactory(buyer=market.b3, seller=market.s1, placed_at=at(10, 14), status=OrderStatus.RETURNED)
    ReturnFactory(order=order)


def test_defaults_match_the_domain_brief(db):
    defaults = {(t.kpi, t.condition): t.value for t in AlertThreshold.objects.all()}
    assert defaults[("cancellation_rate", "above")] == Decimal("4")
    assert defaults[("return_rate", "above")] == Decimal("5")
    assert defaults[("time_to_first_sale", "above")] == Decimal("7")
    assert ("average_order_value", "drops_by") in defaults
    assert ("seller_retention_rate", "drops_by") in defaults


def test_return_rate_alert_records_numbers_notifies_team_and_opens_seller_cases(market):
    second_return_for_s1(market)
    only("return_rate", Condition.ABOVE, "5")

    opened = evaluate_alerts_task(as_of=OCT_31.isoformat())

    alert = Alert.objects.get()
    assert opened == [alert.pk]
    # Delivered in October: o1, o2, o3, o5 and the new order; returned: o3 and the new order.
    assert alert.value == pytest.approx(40.0)
    assert (alert.evidence["numerator"], alert.evidence["denominator"]) == (2, 5)
    assert alert.evidence["sellers"][0]["seller_id"] == market.s1.pk
    message = OutboxMessage.objects.get(category="kpi_alert")
    assert message.to == "seller-support@localhost"
    assert "Return rate" in message.subject and "Return rate for 1 Oct 2026 to 31 Oct 2026: 40.0%." in message.body
    case = Case.objects.get(kind=CaseKind.SELLER_QUALITY_ALERT)
    assert case.seller == market.s1 and case.evidence["alert_id"] == alert.pk
    assert alert.cases_opened == 1


def test_no_duplicate_alert_or_notification_while_one_is_open(market):
    only("return_rate", Condition.ABOVE, "5")

    services.alert_evaluate_all(as_of=OCT_31)
    services.alert_evaluate_all(as_of=OCT_31)

    assert Alert.objects.filter(status=AlertStatus.OPEN).count() == 1
    assert OutboxMessage.objects.filter(category="kpi_alert").count() == 1


def test_open_alert_resolves_when_the_kpi_recovers_and_can_fire_again(market):
    threshold = only("cancellation_rate", Condition.ABOVE, "4")
    services.alert_evaluate_all(as_of=OCT_31)
    threshold.value = Decimal("50")
    threshold.save()

    services.alert_evaluate_all(as_of=OCT_31)
    assert Alert.objects.get().status == AlertStatus.RESOLVED

    threshold.value = Decimal("10")
    threshold.save()
    services.alert_evaluate_all(as_of=OCT_31)
    assert Alert.objects.filter(status=AlertStatus.OPEN).count() == 1
    assert OutboxMessage.objects.filter(category="kpi_alert").count() == 2


def test_aov_drop_compares_with_the_previous_period(market):
    OrderFactory(buyer=market.b6, seller=market.s3, total_amount=Decimal("500.00"), placed_at=at(9, 20))
    only("average_order_value", Condition.DROPS_BY, "10")

    services.alert_evaluate_all(as_of=OCT_31)

    alert = Alert.objects.get()
    # September (08-31 .. 09-30): (20 + 70 + 500) / 3; October: 60.
    assert alert.baseline == pytest.approx(590 / 3, abs=0.01)
    assert alert.value == pytest.approx(60.0)
    assert OutboxMessage.objects.get(category="kpi_alert").to == "admins@localhost"


def test_rising_aov_does_not_alert(market):
    only("average_order_value", Condition.DROPS_BY, "10")
    assert services.alert_evaluate_all(as_of=OCT_31) == []


def test_small_volume_is_not_alerted(market):
    only("return_rate", Condition.ABOVE, "5", min_volume=100)
    assert services.alert_evaluate_all(as_of=OCT_31) == []


def test_time_to_first_sale_alert_for_onboarding_bottleneck(market):
    only("time_to_first_sale", Condition.ABOVE, "5")
    alert = services.alert_evaluate_all(as_of=OCT_31)[0]
    assert alert.value == pytest.approx(6.0)
    assert Case.objects.count() == 0


def test_threshold_out_of_range_is_rejected_with_a_clear_message(db):
    threshold = AlertThreshold(kpi="return_rate", condition=Condition.ABOVE, value=Decimal("150"), team="seller_support")
    with pytest.raises(ValidationError, match="between 0 and 100"):
        threshold.full_clean()
    drop = AlertThreshold(kpi="nps", condition=Condition.DROPS_BY, value=Decimal("0"), team="customer_success")
    with pytest.raises(ValidationError, match="percentage of the previous period"):
        drop.full_clean()


def test_only_admins_close_alerts(market, cs_user, admin_user):
    only("return_rate", Condition.ABOVE, "5")
    alert = services.alert_evaluate_all(as_of=OCT_31)[0]
    with pytest.raises(Exception, match="Only marketplace admins"):
        services.alert_resolve(alert_id=alert.pk, actor=cs_user, note="seen")
    assert services.alert_resolve(alert_id=alert.pk, actor=admin_user, note="Known carrier issue") == 1
    assert Alert.objects.get().status == AlertStatus.RESOLVED


def test_snapshots_store_every_kpi_and_rerun_overwrites(market):
    written = record_snapshots_task(as_of=OCT_31.isoformat())
    count = KpiSnapshot.objects.count()
    assert written == count > 11
    record_snapshots_task(as_of=OCT_31.isoformat())
    assert KpiSnapshot.objects.count() == count
    overall = KpiSnapshot.objects.get(as_of=OCT_31, kpi="return_rate", group_by="all")
    # Trailing 30 days ending 10-31 is 10-02 .. 10-31: o5 (10-03) is still in, nothing earlier was delivered.
    assert overall.value == pytest.approx(25.0)
    jewelry = KpiSnapshot.objects.get(as_of=OCT_31, kpi="cancellation_rate", group_by="category", group="jewelry")
    assert jewelry.value == pytest.approx(50.0)


def test_snapshots_and_alerts_run_daily_as_the_last_stage_of_the_nightly_pipeline():
    from workflows.stages import STAGES, kpis_and_alerts

    tasks = {entry["task"] for entry in collect_beat_schedule().values()}
    assert "core.pipeline.start" in tasks
    last_level = max(stage.level for stage in STAGES)
    assert kpis_and_alerts in [stage.finalize for stage in STAGES if stage.level == last_level]


def test_backfill_command_fills_the_sparkline_history(market):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("kpi_snapshots", days=3, end="2026-10-31", stdout=out)
    assert "for 3 day(s) ending 2026-10-31" in out.getvalue()
    assert sorted(set(KpiSnapshot.objects.filter(kpi="return_rate").values_list("as_of", flat=True))) == [
        date(2026, 10, 29), date(2026, 10, 30), date(2026, 10, 31)]
