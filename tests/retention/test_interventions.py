from datetime import timedelta

import pytest
from django.utils import timezone

from buyers.factories import BuyerFactory, BuyerRetentionFactory, RetentionSettingsFactory
from retention.impact import anytime_z, intervention_report, newcombe_interval
from retention.interventions import buyer_churn_cases_open, holdout_draw
from buyers.models import InterventionArm, InterventionAssignment, Segment
from casework.models import Case, CaseKind, Team
from marketplace.factories import OrderFactory


def _at_risk(**extra):
    defaults = dict(
        segment=Segment.LAPSING, churn_band="high", churn_probability=0.8, order_count=6, total_spend=400, p_alive=0.3,
        days_since_last_order=150, cadence_days=60, cadence_state="overdue",
    )
    return BuyerRetentionFactory(**(defaults | extra))


def test_at_risk_high_value_buyers_get_one_customer_success_case_with_evidence(db):
    RetentionSettingsFactory(holdout_share=0.0)
    risky = _at_risk()
    _at_risk(order_count=1, total_spend=30)  # not high value
    _at_risk(churn_band="medium", churn_probability=0.4)  # not at high risk
    _at_risk(segment=Segment.CHURNED)  # already gone

    result = buyer_churn_cases_open()
    again = buyer_churn_cases_open()

    case = Case.objects.get()
    assert (case.kind, case.team, case.buyer_id) == (CaseKind.BUYER_CHURN_RISK, Team.CUSTOMER_SUCCESS, risky.buyer_id)
    assert case.evidence["churn_probability"] == 0.8 and case.evidence["orders"] == 6
    assert "high churn risk" in case.reason and "60-day cadence" in case.reason
    assert "(6 orders, $400.00 spent)" in case.reason
    assert result["cases_opened"] == 1 and again["cases_opened"] == 0 and again["new"] == 0
    assert InterventionAssignment.objects.get().case_id == case.pk


def test_held_out_buyers_get_no_case_and_stay_held_out_on_later_runs(db):
    RetentionSettingsFactory(holdout_share=0.5)
    rows = [_at_risk() for _ in range(40)]

    buyer_churn_cases_open()
    buyer_churn_cases_open(as_of=timezone.now() + timedelta(days=3))

    held = set(InterventionAssignment.objects.filter(arm=InterventionArm.HOLDOUT).values_list("buyer_id", flat=True))
    treated = set(InterventionAssignment.objects.filter(arm=InterventionArm.TREATED).values_list("buyer_id", flat=True))
    assert InterventionAssignment.objects.count() == 40
    assert 8 <= len(held) <= 32 and held | treated == {r.buyer_id for r in rows}
    assert set(Case.objects.values_list("buyer_id", flat=True)) == treated


def test_holdout_draw_is_deterministic_and_roughly_uniform():
    day = timezone.now()
    draws = [holdout_draw(kind="buyer_churn_risk", subject_id=i, flagged_at=day) for i in range(2000)]

    assert draws == [holdout_draw(kind="buyer_churn_risk", subject_id=i, flagged_at=day) for i in range(2000)]
    assert 0.45 < sum(d < 0.5 for d in draws) / 2000 < 0.55


def _draws(n=400):
    day = timezone.now()
    return [holdout_draw(kind="buyer_churn_risk", subject_id=i, flagged_at=day) for i in range(n)]


def test_holdout_draw_is_keyed_by_the_installation_salt(settings):
    settings.HOLDOUT_SALT = "installation-a"
    first = _draws()
    assert first == _draws()
    settings.HOLDOUT_SALT = "installation-b"
    second = _draws()

    # Independent draws put a subject in the same arm (held out below 0.3) with chance 0.58.
    same_arm = sum((a < 0.3) == (b < 0.3) for a, b in zip(first, second))
    assert 0.45 * 400 < same_arm < 0.72 * 400


def test_holdout_draw_without_a_salt_is_keyed_by_the_secret_key(settings):
    settings.HOLDOUT_SALT = ""
    settings.SECRET_KEY = "first-installation-key"
    first = _draws()
    settings.SECRET_KEY = "second-installation-key"
    assert _draws() != first


def test_the_same_buyers_flagged_the_same_day_get_other_arms_in_another_installation(db, settings):
    RetentionSettingsFactory(holdout_share=0.5)
    rows = [_at_risk() for _ in range(60)]
    day = timezone.now()

    def arms(salt):
        settings.HOLDOUT_SALT = salt
        InterventionAssignment.objects.all().delete()
        Case.objects.all().delete()
        buyer_churn_cases_open(as_of=day)
        return dict(InterventionAssignment.objects.values_list("buyer_id", "arm"))

    first, again, other = arms("installation-a"), arms("installation-a"), arms("installation-b")
    assert first == again and set(first) == {r.buyer_id for r in rows}
    assert sum(first[b] != other[b] for b in first) >= 10  # 30 expected at a 50% holdout


def _thirty_and_thirty():
    flagged = timezone.now() - timedelta(days=100)
    for i in range(60):
        buyer = BuyerFactory()
        arm = InterventionArm.TREATED if i < 30 else InterventionArm.HOLDOUT
        InterventionAssignment.objects.create(
            kind=CaseKind.BUYER_CHURN_RISK, buyer=buyer, arm=arm, flagged_at=flagged, window_ends_at=flagged + timedelta(days=90)
        )
        # 24 of 30 treated came back, 9 of 30 held out did.
        if (arm == InterventionArm.TREATED and i < 24) or (arm == InterventionArm.HOLDOUT and i < 39):
            OrderFactory(buyer=buyer, placed_at=flagged + timedelta(days=20))


def test_report_compares_retention_of_treated_and_held_out_with_intervals(db):
    _thirty_and_thirty()

    (row,) = intervention_report()

    assert (row["treated"], row["treated_retained"], row["held_out"], row["held_out_retained"]) == (30, 24, 30, 9)
    assert row["lift"] == pytest.approx(0.5)
    low, high = row["lift_ci95"]
    assert low < 0.5 < high and low > 0
    # The same interval as the "Did it work?" page: the confidence sequence at 60 subjects.
    assert (low, high) == pytest.approx(newcombe_interval(24, 30, 9, 30, anytime_z(60)), abs=1e-4)
    assert row["treated_ci95"][0] < 0.8 < row["treated_ci95"][1]


def test_impact_api_gives_the_report_to_staff_and_401_to_anyone_else(db, cs_client):
    from django.urls import reverse
    from rest_framework.test import APIClient

    _thirty_and_thirty()
    url = reverse("retention-intervention-impact")

    assert APIClient().get(url).status_code == 401
    body = cs_client.get(url).json()
    (row,) = body["kinds"]
    assert (row["kind"], row["treated"], row["treated_retained"], row["held_out"], row["held_out_retained"]) == (CaseKind.BUYER_CHURN_RISK, 30, 24, 30, 9)
    assert row["lift_ci95"] == pytest.approx(list(newcombe_interval(24, 30, 9, 30, anytime_z(60))), abs=1e-4)


def test_report_ignores_assignments_whose_window_is_still_open(db):
    flagged = timezone.now() - timedelta(days=10)
    InterventionAssignment.objects.create(
        kind=CaseKind.BUYER_CHURN_RISK, buyer=BuyerFactory(), arm=InterventionArm.TREATED, flagged_at=flagged,
        window_ends_at=flagged + timedelta(days=90),
    )

    assert intervention_report() == []
    assert intervention_report(include_open=True)[0]["treated"] == 1
