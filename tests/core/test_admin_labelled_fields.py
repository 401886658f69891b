"""Admin pages show stored JSON and floats as labelled, formatted fields."""

from datetime import datetime, timedelta, timezone as dt_timezone

import pytest
from django.urls import reverse
from django.utils import timezone

from buyers.factories import InterventionAssignmentFactory
from buyers.models import LifetimeFit
from dashboard.models import KpiSnapshot
from loyalty.factories import EarningRuleFactory, EarnLotFactory, TierFactory
from scoring.models import ModelVersion, ScoreRun, SellerScoreHistory
from sellers.factories import SellerFactory

pytestmark = pytest.mark.django_db


def _page(client, user, url):
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def test_intervention_evidence_is_labelled(client, cs_user):
    assignment = InterventionAssignmentFactory(evidence={"churn_probability": 0.891, "total_spend": "1234.50",
                                                         "cadence_days": 30.25, "mystery_key": "kept"})
    html = _page(client, cs_user, reverse("admin:buyers_interventionassignment_change", args=[assignment.pk]))
    assert "89.1%" in html and "$1,234.50" in html and "30.2 days" in html
    assert "Mystery key" in html
    assert "churn_probability" not in html


def test_points_entry_breakdown_is_labelled_with_a_lot_link(client, cs_user):
    tier = TierFactory(code="glaze", name="Glaze", multiplier="1.25")
    rule = EarningRuleFactory(name="Spend points")
    lot = EarnLotFactory()
    priced = EarnLotFactory(breakdown={"rule": rule.pk, "rule_name": rule.name, "base_points": "40.0000", "tier": tier.code,
                                       "tier_multiplier": "1.25", "capped_from": 500, "cap": "200/month"})
    spent = EarnLotFactory(amount=-5, remaining=0, kind="expire", state="posted", expires_at=None, breakdown={"lot": lot.pk})
    html = _page(client, cs_user, reverse("admin:loyalty_pointsentry_change", args=[priced.pk]))
    assert f"Rule: Spend points (#{rule.pk})" in html and "Base points: 40<" in html
    assert "Tier multiplier: ×1.25 (Glaze)" in html and "Capped from 500 to the cap 200/month" in html
    assert "base_points" not in html
    html = _page(client, cs_user, reverse("admin:loyalty_pointsentry_change", args=[spent.pk]))
    lot_url = reverse("admin:loyalty_pointsentry_change", args=[lot.pk])
    assert f'Spent from lot <a href="{lot_url}">#{lot.pk}</a>' in html
    assert "{&quot;lot&quot;" not in html


def test_model_trusted_types_and_run_population_are_readable(client, support_user, admin_user):
    now = timezone.now()
    version = ModelVersion.objects.create(
        kind="seller_health", version=1, window_start=now - timedelta(days=30), window_end=now, seed=0, features=[], metrics={}, baseline_metrics={},
        artifact=b"", artifact_sha256="0" * 64, trusted_types=["sklearn.linear_model.LogisticRegression", "numpy.dtype"],
    )
    html = _page(client, support_user, reverse("admin:scoring_modelversion_change", args=[version.pk]))
    assert "sklearn.linear_model.LogisticRegression<br>numpy.dtype" in html
    assert "[&quot;sklearn" not in html
    run = ScoreRun.objects.create(as_of=now, population={
        "as_of": "2026-12-03T14:41:33+00:00", "priors": {"ceramics": {"cancel_rate": 0.0312345}},
        "season_share": {"seasonal": 0.2466, "other": 0.25}, "order_level": {"seasonal": 2.3456, "other": 3.1}})
    html = _page(client, admin_user, reverse("admin:scoring_scorerun_change", args=[run.pk]))
    assert "Share of a year&#x27;s orders in the last 90 days" in html and "seasonal 25%" in html
    assert "0.0312" in html and "cancel rate" in html
    assert "&quot;priors&quot;" not in html and "0.0312345" not in html


def test_score_history_run_key_is_a_readable_label(client, django_user_model):
    seller = SellerFactory()
    as_of = datetime(2026, 12, 3, 14, 41, 33, 788646, tzinfo=dt_timezone.utc)
    row = SellerScoreHistory.objects.create(seller=seller, score=70, basis="model", computed_at=as_of,
                                            run_key=f"nightly:{as_of.isoformat()}")
    superuser = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    for url in (reverse("admin:scoring_sellerscorehistory_changelist"),
                reverse("admin:scoring_sellerscorehistory_change", args=[row.pk])):
        html = _page(client, superuser, url)
        assert "Nightly run, 3 Dec 2026" in html
        assert "nightly:2026-12-03T14:41:33.788646+00:00" not in html


def test_kpi_snapshot_list_rounds_values(client, admin_user):
    KpiSnapshot.objects.create(as_of=timezone.localdate(), kpi="average_order_value", value=3534.5900000000006,
                               numerator=3534.5900000000006, denominator=12.0)
    html = _page(client, admin_user, reverse("admin:dashboard_kpisnapshot_changelist"))
    assert "$3,534.59" in html and "3,534.59" in html and ">12<" in html
    assert "3534.5900000000006" not in html


def test_kpi_snapshot_list_names_each_group(client, admin_user):
    for group_by, group in (("tier", "mid"), ("category", "jewelry"), ("all", "all")):
        KpiSnapshot.objects.create(as_of=timezone.localdate(), kpi="return_rate", group_by=group_by, group=group,
                                   value=4.5, numerator=9, denominator=200)
    html = _page(client, admin_user, reverse("admin:dashboard_kpisnapshot_changelist"))
    for label in ("Mid risk", "Jewelry", "Marketplace"):
        assert f'<td class="field-group_display">{label}</td>' in html, label
    assert ">mid<" not in html and ">jewelry<" not in html


def test_lifetime_fit_model_filter_names_the_models(client, cs_user):
    for kind, model in (("bgnbd", "mbgcnbd"), ("gamma_gamma", "gamma_gamma"), ("bgnbd", "rule")):
        LifetimeFit.objects.create(kind=kind, status="superseded", model=model, observation_end=timezone.now())
    html = _page(client, cs_user, reverse("admin:buyers_lifetimefit_changelist"))
    for code, label in (("mbgcnbd", "MBG/CNBD-k"), ("gamma_gamma", "Gamma-Gamma"), ("rule", "Cadence rule (too few buyers)")):
        assert f'model={code}">{label}</a>' in html, label
    assert ">mbgcnbd<" not in html and ">gamma_gamma<" not in html


def test_lifetime_fit_shows_sensible_decimals(client, cs_user):
    fit = LifetimeFit.objects.create(kind="bgnbd", status="active", model="bgnbd", params={"r": 0.24312345678},
                                     log_likelihood=-12832.57095695307, n_buyers=12345, observation_end=timezone.now())
    html = _page(client, cs_user, reverse("admin:buyers_lifetimefit_change", args=[fit.pk]))
    assert "-12,832.57" in html and "12,345" in html
    assert "-12832.57095695307" not in html
