import re
from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from buyers.factories import BuyerFactory, BuyerRetentionFactory, CampaignAudienceFactory
from buyers.models import BuyerRetention, InterventionArm, InterventionAssignment, RetentionSettings
from casework.models import CaseKind
from sellers.factories import SellerFactory


def test_only_marketplace_admin_may_change_retention_settings(client, cs_user, admin_user):
    RetentionSettings.objects.create(pk=1)
    url = reverse("admin:buyers_retentionsettings_change", args=[1])

    client.force_login(cs_user)
    cs_post = client.post(url, {"holdout_share": "0.3"})
    client.force_login(admin_user)
    page = client.get(url)

    assert cs_post.status_code == 403
    assert RetentionSettings.objects.get().holdout_share == 0.1
    assert page.status_code == 200


def test_admin_exports_an_audience_as_csv(client, admin_user):
    BuyerRetentionFactory(segment="lapsing", top_seller=SellerFactory(name="Kiln Works"))
    audience = CampaignAudienceFactory(segments=["lapsing"])
    client.force_login(admin_user)

    response = client.post(
        reverse("admin:buyers_campaignaudience_changelist"), {"action": "export_csv", "_selected_action": [audience.pk]}
    )

    body = b"".join(response.streaming_content).decode()
    assert response["Content-Type"] == "text/csv"
    assert "reason_for_contact" in body.splitlines()[0]
    assert "Kiln Works" in body


def test_impact_view_shows_treated_and_held_out_rates(client, cs_user):
    flagged = timezone.now() - timedelta(days=120)
    for arm in (InterventionArm.TREATED, InterventionArm.HOLDOUT):
        InterventionAssignment.objects.create(
            kind=CaseKind.BUYER_CHURN_RISK, buyer=BuyerFactory(), arm=arm, flagged_at=flagged, window_ends_at=flagged + timedelta(days=90)
        )
    client.force_login(cs_user)

    response = client.get(reverse("admin:buyers_intervention_impact"))

    body = response.content.decode()
    assert response.status_code == 200
    assert "<td>Buyer at churn risk</td>" in body and "buyer_churn_risk" not in body
    assert "%" in body and "0.000" not in body


def test_intervention_list_names_the_play_instead_of_its_code(client, cs_user):
    from buyers.factories import InterventionAssignmentFactory

    InterventionAssignmentFactory(kind=CaseKind.BUYER_CHURN_RISK)
    client.force_login(cs_user)

    page = client.get(reverse("admin:buyers_interventionassignment_changelist")).content.decode()
    filtered = client.get(reverse("admin:buyers_interventionassignment_changelist"), {"kind": "buyer_churn_risk"})

    assert "Buyer at churn risk" in page and ">buyer_churn_risk<" not in page
    assert filtered.status_code == 200 and "Buyer at churn risk" in filtered.content.decode()


def test_settings_service_lets_only_admins_change_thresholds_and_keeps_bands_ordered(cs_user, admin_user):
    import pytest
    from django.core.exceptions import PermissionDenied, ValidationError

    from retention.services import retention_settings_update

    with pytest.raises(PermissionDenied):
        retention_settings_update(actor=cs_user, holdout_share=0.2)
    with pytest.raises(ValidationError):
        retention_settings_update(actor=admin_user, churn_band_medium_from=0.7, churn_band_high_from=0.6)

    updated = retention_settings_update(actor=admin_user, holdout_share=0.2)

    assert updated.holdout_share == RetentionSettings.objects.get().holdout_share == 0.2
    assert RetentionSettings.objects.get().churn_band_high_from == 0.6


def test_retention_admin_pages_render_for_staff(client, admin_user, small_base):
    from retention.services import retention_recompute
    from retention.dormancy import seller_dormancy_recompute

    retention_recompute()
    seller_dormancy_recompute()
    client.force_login(admin_user)

    for name in (
        "buyerretention", "buyersegmentchange", "lifetimefit", "sellerdormancy", "retentionsettings",
        "campaignaudience", "interventionassignment",
    ):
        response = client.get(reverse(f"admin:buyers_{name}_changelist"))
        assert response.status_code == 200, name


def test_lifetime_fit_page_shows_the_model_choice_buckets_and_clv_deciles_without_raw_json(client, admin_user, small_base):
    from buyers.models import FitKind, FitStatus, LifetimeFit
    from retention.services import retention_recompute

    retention_recompute()
    fit = LifetimeFit.objects.get(kind=FitKind.BGNBD, status=FitStatus.ACTIVE)
    client.force_login(admin_user)

    listing = client.get(reverse("admin:buyers_lifetimefit_changelist"))
    page = client.get(reverse("admin:buyers_lifetimefit_change", args=[fit.pk]))

    assert listing.status_code == page.status_code == 200
    body = page.content.decode()
    assert "chosen" in body and "RMSE" in body
    assert "repeat purchases in calibration" in body
    assert "by decile of predicted CLV" in body
    assert '"rmse"' not in body and "{&quot;" not in body


def test_fit_list_says_whether_each_fit_converged_and_keeps_the_optimiser_message_for_the_fit_page(client, admin_user):
    from buyers.models import FitKind, FitStatus, LifetimeFit

    failed = LifetimeFit.objects.create(
        kind=FitKind.BGNBD, status=FitStatus.FAILED, model="mbgnbd", message="Maximum number of iterations has been exceeded.",
        observation_end=timezone.now(),
    )
    LifetimeFit.objects.create(
        kind=FitKind.GAMMA_GAMMA, status=FitStatus.ACTIVE, model="gamma_gamma",
        message="CONVERGENCE: RELATIVE REDUCTION OF F <= FACTR*EPSMCH", observation_end=timezone.now(),
    )
    LifetimeFit.objects.create(
        kind=FitKind.BGNBD, status=FitStatus.FAILED, model="rule", message="Too few buyers to fit: 3 with a purchase",
        observation_end=timezone.now(),
    )
    client.force_login(admin_user)

    listing = client.get(reverse("admin:buyers_lifetimefit_changelist")).content.decode()
    page = client.get(reverse("admin:buyers_lifetimefit_change", args=[failed.pk])).content.decode()

    for outcome in ("Did not converge", "Converged", "Not fitted: too few buyers"):
        assert f'<td class="field-outcome">{outcome}</td>' in listing, outcome
    assert "CONVERGENCE" not in listing and "Maximum number of iterations" not in listing
    # The status beside a fit that never ran must not claim it failed to converge.
    assert "Failed to converge" not in listing and listing.count('<td class="field-status">Failed, not used</td>') == 2
    assert "optimiser&#x27;s message (as reported)" in page.lower() or "optimiser's message (as reported)" in page.lower()
    assert "Maximum number of iterations has been exceeded." in page and "Did not converge" in page


def test_retention_list_shows_rounded_labelled_probabilities_with_their_models(client, admin_user):
    BuyerRetentionFactory(order_count=1, p_alive=0.38271, churn_probability=0.61234, churn_model_version="buyer_churn v3", lifetime_model="MBG/NBD (fit #4)")
    client.force_login(admin_user)

    body = client.get(reverse("admin:buyers_buyerretention_changelist")).content.decode()

    assert "38.3% (MBG/NBD (fit #4))" in body
    assert "61.2% (buyer_churn v3)" in body
    assert "0.38271" not in body


def test_retention_reasons_read_money_percentages_and_plurals(client, admin_user, small_base):
    from retention.services import retention_recompute

    retention_recompute()
    client.force_login(admin_user)

    reasons = " ".join(" ".join(row.reasons) for row in BuyerRetention.objects.all())
    page = client.get(reverse("admin:buyers_buyer_360", args=[small_base["loyal"].pk])).content.decode()

    assert "order(s)" not in reasons and "CLV $" in reasons and "CLV $" in page
    assert not re.search(r"P\(alive\) 0\.\d\d", reasons), reasons
