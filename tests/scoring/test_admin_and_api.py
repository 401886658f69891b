from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone
from rest_framework.test import APIClient

from core import roles
from core.factories import UserFactory
from integrations.services import api_key_create
from scoring.factories import SellerScoreFactory, trained_seller_model
from scoring.models import ModelStatus, ModelVersion
from sellers.factories import SellerFactory


def _action(client, action, version):
    return client.post("/admin/scoring/modelversion/", {"action": action, "_selected_action": [version.pk]}, follow=True)


@pytest.mark.django_db
def test_admin_sees_metrics_and_calibration_of_a_version(client, admin_user):
    version = trained_seller_model(activate=False)
    client.force_login(admin_user)

    page = client.get(f"/admin/scoring/modelversion/{version.pk}/change/").content.decode()

    assert "mean rating" in page and "late-shipment rate" in page
    assert "Passes the gate" in page


@pytest.mark.django_db
def test_a_version_without_held_out_row_counts_still_shows_its_card(client, admin_user):
    version = trained_seller_model(activate=False)
    metrics = dict(version.metrics)
    metrics.pop("n", None)
    metrics["evaluation"] = {k: v for k, v in (metrics.get("evaluation") or {}).items() if k != "n_holdout"}
    ModelVersion.objects.filter(pk=version.pk).update(metrics=metrics)
    client.force_login(admin_user)

    page = client.get(f"/admin/scoring/modelversion/{version.pk}/change/").content.decode()

    assert "Gate decision" in page and "held-out rows</th><td>—" in page



@pytest.mark.django_db
def test_a_version_s_history_link_leads_to_its_own_events_and_only_for_those_who_see_them(client, admin_user, cs_user):
    version = trained_seller_model(activate=False)
    change = f"/admin/scoring/modelversion/{version.pk}/change/"
    generic = f"/admin/scoring/modelversion/{version.pk}/history/"

    client.force_login(admin_user)
    admin_page = client.get(change).content.decode()
    answer = client.get(generic)
    client.force_login(cs_user)
    reader_page = client.get(change).content.decode()

    assert '<a href="#events-group" class="historylink">History</a>' in admin_page and 'id="events-group"' in admin_page
    assert answer.status_code == 302 and answer["Location"] == f"{change}#events-group"
    # Customer success may read the version but not its events: no link to a section it would not find.
    assert 'id="events-group"' not in reader_page and "historylink" not in reader_page
    assert generic not in admin_page and generic not in reader_page

@pytest.mark.django_db
def test_admin_activates_and_rolls_back_from_the_admin(client, admin_user):
    first = trained_seller_model(seed=1)
    second = trained_seller_model(seed=2, cancel_effect=3.0, activate=False)
    client.force_login(admin_user)

    _action(client, "activate_selected", second)
    second.refresh_from_db()
    assert second.status == ModelStatus.ACTIVE

    _action(client, "roll_back_slot", second)
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == (ModelStatus.ACTIVE, ModelStatus.RETIRED)


@pytest.mark.django_db
def test_admin_activation_of_a_weaker_model_is_refused_with_the_reason(client, admin_user):
    trained_seller_model(seed=1)
    weaker = trained_seller_model(seed=2, permute_labels=7, activate=False)
    client.force_login(admin_user)

    response = _action(client, "activate_selected", weaker)

    weaker.refresh_from_db()
    assert weaker.status == ModelStatus.CANDIDATE
    assert "Not activated" in response.content.decode() and "incumbent:" in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("role", [roles.CUSTOMER_SUCCESS, roles.SELLER_SUPPORT])
def test_staff_other_than_admins_cannot_activate_models(client, role):
    user = UserFactory(roles=[role])
    candidate = trained_seller_model(activate=False)
    client.force_login(user)

    assert client.get(f"/admin/scoring/modelversion/{candidate.pk}/change/").status_code == 200  # may look
    _action(client, "force_activate_selected", candidate)

    assert ModelVersion.objects.get(pk=candidate.pk).status == ModelStatus.CANDIDATE


@pytest.mark.django_db
def test_permission_matrix_for_onboarding_and_models():
    def can(role, codename):
        return Permission.objects.filter(group__name=role, codename=codename).exists()

    assert can(roles.SELLER_SUPPORT, "add_workshopassignment")
    assert not can(roles.CUSTOMER_SUCCESS, "add_workshopassignment")
    assert can(roles.CUSTOMER_SUCCESS, "change_onboardingqueuecase")
    assert can(roles.MARKETPLACE_ADMIN, "change_onboardingpolicy")
    assert not can(roles.SELLER_SUPPORT, "change_onboardingpolicy")
    assert not can(roles.CUSTOMER_SUCCESS, "change_onboardingpolicy")
    assert can(roles.MARKETPLACE_ADMIN, "change_modelversion")
    assert not can(roles.SELLER_SUPPORT, "change_modelversion")
    assert not can(roles.CUSTOMER_SUCCESS, "change_modelversion")


@pytest.mark.django_db
def test_api_returns_the_current_score_with_reasons():
    score = SellerScoreFactory(seller=SellerFactory(external_id="S-77"), score=64)
    _key, raw = api_key_create(name="storefront", scopes=["scoring:read"])
    client = APIClient()

    response = client.get("/api/v1/scoring/sellers/S-77/score/", HTTP_AUTHORIZATION=f"Api-Key {raw}")

    assert response.status_code == 200
    body = response.json()
    assert (body["seller"], body["score"]) == ("S-77", 64)
    assert body["reasons"][0] == {"text": "late shipments 18% of orders (category average 6%)", "contribution": -14}
    assert score.seller.external_id == "S-77"


@pytest.mark.django_db
def test_api_answers_404_for_an_unknown_seller_and_401_without_credentials(admin_user):
    client = APIClient()
    assert client.get("/api/v1/scoring/sellers/S-404/score/").status_code == 401

    client.force_login(admin_user)
    response = client.get("/api/v1/scoring/sellers/S-404/score/")
    assert response.status_code == 404

    SellerFactory(external_id="S-NEW")
    response = client.get("/api/v1/scoring/sellers/S-NEW/score/")
    assert response.status_code == 404 and "not been scored yet" in response.json()["detail"]


@pytest.mark.django_db
def test_seller_page_shows_score_reasons_and_trend(client, cs_user):
    from scoring.services import seller_rescore

    trained_seller_model()
    seller = SellerFactory()
    seller_rescore(seller_id=seller.pk)
    client.force_login(cs_user)

    page = client.get(f"/admin/sellers/seller/{seller.pk}/change/").content.decode()

    score = seller.score
    # Trend entry; a new artisan the model cannot score yet reads "not scored", never "None".
    assert f"{'not scored' if score.score is None else score.score} (" in page
    assert "None (" not in page
    assert score.reasons and score.reasons[0]["text"] in page.replace("&#x27;", "'")


@pytest.mark.django_db
def test_an_application_stamped_ahead_of_the_clock_is_still_scored():
    from datetime import timedelta

    from django.utils import timezone

    from sellers.models import OnboardingStatus
    from workflows.onboarding import seller_rescore

    trained_seller_model()
    seller = SellerFactory(onboarding_status=OnboardingStatus.APPLIED, applied_at=timezone.now() + timedelta(seconds=30), approved_at=None)

    score = seller_rescore(seller_id=seller.pk)

    # No sales and no validated new-artisan model: routed by policy to a call, not skipped.
    assert score.basis == "not_enough_history" and score.score is None
    seller.refresh_from_db()
    assert seller.onboarding_status == OnboardingStatus.CALL_PENDING


def _version(kind, category=None, version=1):
    now = timezone.now()
    return ModelVersion.objects.create(
        kind=kind, category=category, version=version, window_start=now - timedelta(days=30), window_end=now, seed=0,
        features=[], metrics={}, baseline_metrics={}, artifact=b"", artifact_sha256="0" * 64,
    )


@pytest.mark.django_db
def test_model_version_list_and_filters_name_kinds_and_slots(client, admin_user):
    _version("seller_score", "ceramics")
    _version("seller_score")
    _version("buyer_churn")
    client.force_login(admin_user)

    page = client.get("/admin/scoring/modelversion/").content.decode()
    filtered = client.get("/admin/scoring/modelversion/", {"category__isnull": "True"}).content.decode()

    for text in ('kind=buyer_churn">Buyer churn</a>', 'kind=seller_score">Seller score</a>',
                 'category=ceramics">Ceramics</a>', 'category__isnull=True">Global (all categories)</a>',
                 '<td class="field-slot">Ceramics</td>', '<td class="field-slot">Global (all categories)</td>'):
        assert text in page, text
    assert page.count(">Seller score</a>") == 3  # two rows' links and the filter
    for code in (">buyer_churn<", ">seller_score<", ">ceramics<", ">-</a>", ">global<"):
        assert code not in page, code
    assert filtered.count('<td class="field-slot">Global (all categories)</td>') == 2
