import pytest
from django.urls import reverse

from buyers.factories import BuyerFactory
from feedback.models import Answer, MatchStatus, RespondentKind, Response
from integrations.factories import ApiKeyFactory
from integrations.models import IdempotencyRecord
from marketplace.factories import OrderFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/feedback/responses/"


def item(external_id="r-1", **overrides):
    body = {
        "external_id": external_id,
        "survey": "post-purchase",
        "submitted_at": "2026-03-01T12:00:00Z",
        "respondent": {"buyer_id": "B-1"},
        "answers": {"nps": 9, "comment": "Lovely glaze, arrived quickly", "topics": ["quality"]},
    }
    body.update(overrides)
    return body


def test_create_links_response_to_order_buyer_and_artisan(client, survey):
    order = OrderFactory(external_id="O-77")

    reply = client.post(URL, item(respondent={"order_id": "O-77"}), format="json")

    assert reply.status_code == 201, reply.data
    response = Response.objects.get(pk=reply.data["id"])
    assert (response.buyer_id, response.seller_id, response.order_id) == (order.buyer_id, order.seller_id, order.pk)
    assert response.respondent_kind == RespondentKind.BUYER
    assert response.match_status == MatchStatus.MATCHED
    assert response.nps == 9
    assert response.sentiment > 0
    assert Answer.objects.filter(response=response).count() == 3


def test_create_matches_buyer_by_email_case_insensitively(client, survey):
    buyer = BuyerFactory(email="Ada@Example.com")

    reply = client.post(URL, item(respondent={"email": "ada@example.COM"}), format="json")

    assert reply.status_code == 201
    assert Response.objects.get().buyer == buyer


def test_unknown_respondent_is_kept_unmatched(client, survey):
    reply = client.post(URL, item(respondent={"buyer_id": "nobody"}), format="json")

    assert reply.status_code == 201
    assert reply.data["match_status"] == "unmatched"
    assert Response.objects.unmatched().count() == 1


def test_replay_returns_original_result_as_duplicate(client, survey):
    BuyerFactory(external_id="B-1")
    first = client.post(URL, item(), format="json")

    second = client.post(URL, item(answers={"nps": 2}), format="json")

    assert second.status_code == 200
    assert second.data["status"] == "duplicate"
    assert second.data["id"] == first.data["id"]
    assert Response.objects.get().nps == 9


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"answers": {"nps": 11}}, "answers.nps"),
        ({"answers": {"nps": "nine"}}, "answers.nps"),
        ({"answers": {"nps": True}}, "answers.nps"),
        ({"answers": {"mood": "great"}}, "answers.mood"),
        ({"answers": {"csat": 0}}, "answers.csat"),
        ({"answers": {"topics": ["weather"]}}, "answers.topics"),
        ({"answers": {"stars": 7.5}}, "answers.stars"),
        ({"answers": {"comment": 12.5, "topics": "quality", "stars": [1]}}, "answers.stars"),
        ({"respondent": {}}, "respondent"),
        ({"respondent": {"email": "not-an-email"}}, "respondent.email"),
        ({"external_id": ""}, "external_id"),
        ({"survey": "nope"}, "survey"),
        ({"submitted_at": "yesterday"}, "submitted_at"),
        ({"answers": {}}, "answers"),
    ],
)
def test_invalid_input_is_400_naming_the_field_and_saves_nothing(client, survey, overrides, field):
    reply = client.post(URL, item(**overrides), format="json")

    assert reply.status_code == 400
    assert field in reply.data["errors"], reply.data
    assert not Response.objects.exists()
    assert not Answer.objects.exists()


def test_malformed_json_is_400_naming_the_body(client, survey):
    reply = client.post(URL, data='{"external_id": "x",', content_type="application/json")

    assert reply.status_code == 400
    assert "body" in reply.data["errors"]
    assert not Response.objects.exists()


def test_missing_key_is_401_and_stores_nothing(survey):
    from rest_framework.test import APIClient

    reply = APIClient().post(URL, item(), format="json")

    assert reply.status_code == 401
    assert not Response.objects.exists()


def test_wrong_key_is_401_and_key_without_scope_is_403(survey):
    from rest_framework.test import APIClient

    bad = APIClient()
    bad.credentials(HTTP_AUTHORIZATION="Api-Key nope.nope")
    storefront = APIClient()
    storefront.credentials(HTTP_AUTHORIZATION=f"Api-Key {ApiKeyFactory(scopes=['storefront:write']).plain_key}")

    assert bad.post(URL, item(), format="json").status_code == 401
    reply = storefront.post(URL, item(), format="json")
    assert reply.status_code == 403
    assert "feedback:write" in reply.data["detail"]
    assert not Response.objects.exists()


def test_oversize_body_is_413(client, survey, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2_000

    reply = client.post(URL, item(answers={"comment": "x" * 5_000}), format="json")

    assert reply.status_code == 413
    assert not Response.objects.exists()


def test_requests_are_throttled_per_key(client, survey, settings):
    from django.core.cache import cache

    cache.clear()
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"api_key": "2/min", "user": "2/min"}}
    from rest_framework.settings import api_settings

    api_settings.reload()
    try:
        codes = [client.post(URL, item(external_id=f"t{i}"), format="json").status_code for i in range(3)]
    finally:
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"api_key": "6000/min", "user": "600/min"}}
        api_settings.reload()
        cache.clear()
    assert codes == [201, 201, 429]
    assert Response.objects.count() == 2


def test_idempotency_key_replays_the_first_answer(client, survey):
    first = client.post(URL, item(), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    replay = client.post(URL, item(), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    reused = client.post(URL, item(external_id="other"), format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    assert first.status_code == replay.status_code == 201
    assert replay.data == first.data
    assert replay["Idempotent-Replayed"] == "true"
    assert reused.status_code == 422
    assert Response.objects.count() == 1
    assert IdempotencyRecord.objects.count() == 1


def test_schema_documents_the_feedback_endpoints(client):
    reply = client.get(reverse("api-schema"), {"format": "json"})

    paths = reply.json()["paths"]
    for path in ("/api/v1/feedback/responses/", "/api/v1/feedback/responses/bulk/", "/api/v1/feedback/uploads/",
                 "/api/v1/feedback/webhooks/{slug}/"):
        assert path in paths
