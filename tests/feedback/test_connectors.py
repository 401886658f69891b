"""Each connector against a local fake of its provider, replaying the documented payloads and errors."""

import json
from urllib.parse import urlencode

import pytest
from rest_framework.test import APIClient

from buyers.factories import BuyerFactory
from core.models import OutboxMessage
from feedback import connectors
from feedback.factories import FeedbackSourceFactory, QuestionFactory
from feedback.models import ExternalQuestion, FeedbackSource, QuestionKind, Response, SourceKind, SyncRun, SyncStatus
from feedback.signatures import qualtrics_hmac, surveymonkey_signature
from integrations.http import ProviderClient, ProviderError
from marketplace.factories import OrderFactory
from tests.feedback.conftest import load_payload
from tests.feedback.fake_provider import fake_provider  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db

QUALTRICS_PATH = "/API/v3/surveys/SV_cVn9uBwheR9hz01/responses/R_suq806jn8LGzhx7"
SURVEYMONKEY_PATH = "/v3/surveys/123456789/responses/987654321/details"


def map_questions(source, survey, **external_ids):
    questions = {q.key: q for q in survey.questions.all()}
    for external_id, key in external_ids.items():
        ExternalQuestion.objects.create(source=source, external_id=external_id, question=questions[key])


def webhook(client, source, body: bytes, content_type: str, **headers):
    return client.generic("POST", f"/api/v1/feedback/webhooks/{source.slug}/", body, content_type=content_type, **headers)


# --- Qualtrics --------------------------------------------------------------------------------------

@pytest.fixture
def qualtrics_source(survey, fake_provider):
    source = FeedbackSourceFactory(
        slug="qualtrics-post-purchase", kind=SourceKind.QUALTRICS, survey=survey, secret="qx-shared-key",
        api_base_url=fake_provider.url, api_token="qx-token",
        column_mapping={"values.orderId": "respondent.order_id", "values.customerEmail": "respondent.email"},
    )
    map_questions(source, survey, QID1="nps", QID2_TEXT="comment")
    return source


def qualtrics_delivery(*, shared_key="qx-shared-key", msg: dict | None = None) -> bytes:
    text = json.dumps(msg or load_payload("qualtrics_completed_response_msg.json"))
    return urlencode({
        "Topic": "kiln.surveyengine.completedResponse.SV_cVn9uBwheR9hz01",
        "MSG": text,
        "HMAC": qualtrics_hmac(shared_key=shared_key, msg=text),
    }).encode()


def test_a_qualtrics_completed_response_is_verified_then_fetched_and_mapped_to_its_order(
    client, qualtrics_source, fake_provider, django_capture_on_commit_callbacks
):
    order = OrderFactory(external_id="O-QX-100")
    fake_provider.answer(QUALTRICS_PATH, load_payload("qualtrics_get_response.json"))

    with django_capture_on_commit_callbacks(execute=True):
        reply = webhook(APIClient(), qualtrics_source, qualtrics_delivery(), "application/x-www-form-urlencoded")

    assert reply.status_code == 202
    assert reply.json() == {"status": "accepted", "external_id": "R_suq806jn8LGzhx7"}
    stored = Response.objects.get(source=qualtrics_source, external_id="R_suq806jn8LGzhx7")
    assert (stored.nps, stored.order_id, stored.buyer_id) == (9, order.pk, order.buyer_id)
    assert "lovelier" in stored.text
    assert stored.extras["values.distributionChannel"] == "email"
    assert fake_provider.seen(QUALTRICS_PATH)[0].headers["X-API-TOKEN"] == "qx-token"
    run = SyncRun.objects.get(source=qualtrics_source)
    assert (run.kind, run.status, run.fetched, run.created, run.duplicate, run.rejected) == ("webhook", "succeeded", 1, 1, 0, 0)


def test_a_qualtrics_delivery_with_a_bad_hmac_gets_401_and_nothing_is_fetched(qualtrics_source, fake_provider):
    reply = webhook(APIClient(), qualtrics_source, qualtrics_delivery(shared_key="guessed"), "application/x-www-form-urlencoded")

    assert reply.status_code == 401
    assert reply.json()["code"] == "authentication_failed"
    assert not fake_provider.requests and not Response.objects.exists() and not SyncRun.objects.exists()


def test_an_authentic_qualtrics_delivery_sent_as_json_gets_415(qualtrics_source, fake_provider):
    reply = webhook(APIClient(), qualtrics_source, qualtrics_delivery(), "application/json")

    assert reply.status_code == 415
    assert not fake_provider.requests


def test_a_qualtrics_response_id_that_is_not_an_id_is_a_400_naming_it(qualtrics_source, fake_provider):
    msg = {**load_payload("qualtrics_completed_response_msg.json"), "ResponseID": "../../admin"}

    reply = webhook(APIClient(), qualtrics_source, qualtrics_delivery(msg=msg), "application/x-www-form-urlencoded")

    assert reply.status_code == 400
    assert "MSG.ResponseID" in reply.json()["errors"]
    assert not fake_provider.requests


def test_a_replayed_qualtrics_delivery_is_a_duplicate_without_a_second_fetch(
    qualtrics_source, fake_provider, django_capture_on_commit_callbacks
):
    fake_provider.answer(QUALTRICS_PATH, load_payload("qualtrics_get_response.json"))
    with django_capture_on_commit_callbacks(execute=True):
        webhook(APIClient(), qualtrics_source, qualtrics_delivery(), "application/x-www-form-urlencoded")

    replay = webhook(APIClient(), qualtrics_source, qualtrics_delivery(), "application/x-www-form-urlencoded")

    assert replay.status_code == 200
    assert replay.json()["status"] == "duplicate"
    assert len(fake_provider.seen(QUALTRICS_PATH)) == 1
    assert Response.objects.filter(source=qualtrics_source).count() == 1


def test_the_qualtrics_fetch_retries_a_429_and_a_503_then_stores_the_response(qualtrics_source, fake_provider):
    fake_provider.answer(
        QUALTRICS_PATH,
        (429, {"meta": {"httpStatus": "429 - Too Many Requests"}}),
        (503, {"meta": {"httpStatus": "503 - Service Unavailable"}}),
        load_payload("qualtrics_get_response.json"),
    )

    run = connectors.webhook_response_fetch(
        source=qualtrics_source, survey_id="SV_cVn9uBwheR9hz01", response_id="R_suq806jn8LGzhx7"
    )

    assert (run.status, run.created) == (SyncStatus.SUCCEEDED, 1)
    assert len(fake_provider.seen(QUALTRICS_PATH)) == 3


def test_a_qualtrics_fetch_that_keeps_failing_is_recorded_with_its_last_error_and_raises_one_alert(
    qualtrics_source, fake_provider
):
    fake_provider.answer(QUALTRICS_PATH, (500, {"meta": {"httpStatus": "500 - Internal Server Error"}}))

    runs = [
        connectors.webhook_response_fetch(source=qualtrics_source, survey_id="SV_cVn9uBwheR9hz01", response_id="R_suq806jn8LGzhx7")
        for _ in range(4)
    ]

    assert [r.status for r in runs] == [SyncStatus.FAILED] * 4
    assert "answered 500" in runs[-1].error and "after 4 attempts" in runs[-1].error
    assert "qx-token" not in runs[-1].error
    alerts = OutboxMessage.objects.filter(category="connector_alert")
    assert alerts.count() == 1
    assert qualtrics_source.name in alerts.get().subject
    assert not Response.objects.exists()


def test_a_qualtrics_source_without_a_token_fails_visibly_instead_of_skipping(qualtrics_source, fake_provider):
    FeedbackSource.objects.filter(pk=qualtrics_source.pk).update(api_token="")
    qualtrics_source.refresh_from_db()

    run = connectors.webhook_response_fetch(source=qualtrics_source, survey_id="SV_x", response_id="R_x")

    assert run.status == SyncStatus.FAILED
    assert "API token" in run.error


def test_the_api_token_can_come_from_the_environment(qualtrics_source, monkeypatch):
    FeedbackSource.objects.filter(pk=qualtrics_source.pk).update(api_token="")
    qualtrics_source.refresh_from_db()
    monkeypatch.setenv("FEEDBACK_QUALTRICS_POST_PURCHASE_API_TOKEN", "from-env")

    assert connectors.source_api_token(qualtrics_source) == "from-env"


# --- SurveyMonkey -----------------------------------------------------------------------------------

@pytest.fixture
def surveymonkey_source(survey, fake_provider):
    source = FeedbackSourceFactory(
        slug="surveymonkey-post-purchase", kind=SourceKind.SURVEYMONKEY, survey=survey,
        client_id="sm-client-id", secret="sm-client-secret", api_base_url=fake_provider.url, api_token="sm-token",
        column_mapping={"custom_variables.order_id": "respondent.order_id", "custom_variables.buyer_id": "respondent.buyer_id"},
    )
    map_questions(source, survey, **{"667461690": "nps", "667461691": "comment"})
    return source


def surveymonkey_callback(client, source, event: dict, *, secret="sm-client-secret"):
    body = json.dumps(event).encode()
    signature = surveymonkey_signature(client_id="sm-client-id", client_secret=secret, body=body)
    return webhook(client, source, body, "application/vnd.surveymonkey.response.v1+json",
                   HTTP_SM_APIKEY="sm-client-id", HTTP_SM_SIGNATURE=signature)


def test_a_surveymonkey_response_completed_is_verified_then_fetched_with_custom_variables_mapped(
    surveymonkey_source, fake_provider, django_capture_on_commit_callbacks
):
    order = OrderFactory(external_id="O-SM-200")
    fake_provider.answer(SURVEYMONKEY_PATH, load_payload("surveymonkey_response_details.json"))

    with django_capture_on_commit_callbacks(execute=True):
        reply = surveymonkey_callback(APIClient(), surveymonkey_source, load_payload("surveymonkey_response_completed.json"))

    assert reply.status_code == 202
    stored = Response.objects.get(source=surveymonkey_source, external_id="987654321")
    assert (stored.nps, stored.order_id, stored.text) == (10, order.pk, "Parcel came a day early.")
    assert stored.extras["667461699"] == "Instagram"
    seen = fake_provider.seen(SURVEYMONKEY_PATH)[0]
    assert seen.headers["Authorization"] == "Bearer sm-token"
    assert seen.query == {"simple": "true"}


def test_a_surveymonkey_callback_with_a_bad_signature_gets_401(surveymonkey_source, fake_provider):
    reply = surveymonkey_callback(APIClient(), surveymonkey_source, load_payload("surveymonkey_response_completed.json"),
                                  secret="not-the-secret")

    assert reply.status_code == 401
    assert not fake_provider.requests


def test_other_surveymonkey_events_are_acknowledged_and_not_stored(surveymonkey_source, fake_provider):
    event = {**load_payload("surveymonkey_response_completed.json"), "event_type": "response_updated"}

    reply = surveymonkey_callback(APIClient(), surveymonkey_source, event)

    assert reply.status_code == 200
    assert reply.json()["status"] == "ignored"
    assert not fake_provider.requests


def test_surveymonkey_can_check_the_subscription_url_with_head(surveymonkey_source):
    assert APIClient().head(f"/api/v1/feedback/webhooks/{surveymonkey_source.slug}/").status_code == 200


# --- Zigpoll ----------------------------------------------------------------------------------------

@pytest.fixture
def zigpoll_source(survey, fake_provider):
    source = FeedbackSourceFactory(
        slug="zigpoll-post-purchase", kind=SourceKind.ZIGPOLL, survey=survey, api_base_url=fake_provider.url,
        api_token="zp-key", external_account="acc_kiln",
        column_mapping={"metadata.order_id": "respondent.order_id", "metadata.customer_id": "respondent.buyer_id",
                        "metadata.email": "respondent.email"},
    )
    map_questions(source, survey, slide_nps="nps", slide_comment="comment")
    return source


def test_a_zigpoll_sync_follows_the_cursor_across_pages_and_maps_metadata(zigpoll_source, fake_provider):
    order = OrderFactory(external_id="O-ZP-300")
    buyer = BuyerFactory(external_id="B-ZP-2")
    fake_provider.answer("/responses", load_payload("zigpoll_responses_page1.json"), load_payload("zigpoll_responses_page2.json"))

    run = connectors.zigpoll_sync(source=zigpoll_source)

    assert (run.status, run.fetched, run.created, run.rejected) == (SyncStatus.SUCCEEDED, 3, 3, 0)
    first, second = fake_provider.seen("/responses")
    assert first.query == {"accountId": "acc_kiln", "limit": "100"} and first.headers["Authorization"] == "zp-key"
    assert second.query["startCursor"] == "cursor-after-page-1"
    assert Response.objects.get(external_id="65f0a1b2c3d4e5f601234567").order_id == order.pk
    assert Response.objects.get(external_id="65f0a1b2c3d4e5f601234568").buyer_id == buyer.pk
    zigpoll_source.refresh_from_db()
    assert zigpoll_source.sync_cursor == run.cursor_after == "cursor-after-page-2"


def test_the_next_zigpoll_sync_starts_from_the_saved_cursor_and_counts_replays_as_duplicates(zigpoll_source, fake_provider):
    fake_provider.answer("/responses", load_payload("zigpoll_responses_page2.json"))
    connectors.zigpoll_sync(source=zigpoll_source)

    again = connectors.zigpoll_sync(source=zigpoll_source)

    assert fake_provider.seen("/responses")[-1].query["startCursor"] == "cursor-after-page-2"
    assert (again.created, again.duplicate) == (0, 1)
    assert Response.objects.filter(source=zigpoll_source).count() == 1


def test_a_zigpoll_429_is_retried_after_the_time_it_asks_for(zigpoll_source, fake_provider, monkeypatch):
    waits = []
    monkeypatch.setattr("integrations.http.time.sleep", waits.append)
    fake_provider.answer(
        "/responses", (429, {"message": "Too many requests"}, {"Retry-After": "7"}), load_payload("zigpoll_responses_page2.json")
    )

    run = connectors.zigpoll_sync(source=zigpoll_source)

    assert run.status == SyncStatus.SUCCEEDED
    assert waits == [7.0]


def test_a_zigpoll_failure_part_way_keeps_the_pages_already_stored_and_their_cursor(zigpoll_source, fake_provider):
    fake_provider.answer("/responses", load_payload("zigpoll_responses_page1.json"), (502, {"message": "Bad gateway"}))

    run = connectors.zigpoll_sync(source=zigpoll_source)

    assert run.status == SyncStatus.FAILED and "502" in run.error
    assert run.created == 2
    zigpoll_source.refresh_from_db()
    assert zigpoll_source.sync_cursor == "cursor-after-page-1"


def test_zigpoll_rows_that_cannot_be_stored_are_rejected_with_their_reasons(zigpoll_source, fake_provider):
    page = load_payload("zigpoll_responses_page2.json")
    page["data"].append({**page["data"][0], "_id": "65f0a1b2c3d4e5f60123456a", "createdAt": "2910-01-01T00:00:00Z"})
    page["data"].append("not an object")
    fake_provider.answer("/responses", page)

    run = connectors.zigpoll_sync(source=zigpoll_source)

    assert (run.fetched, run.created, run.rejected) == (3, 1, 2)
    assert run.rejections[0]["external_id"] == "65f0a1b2c3d4e5f60123456a"
    assert "submitted_at" in run.rejections[0]["errors"]


def test_the_beat_task_syncs_every_active_pull_source(zigpoll_source, fake_provider):
    from feedback.tasks import sync_pull_sources_task

    fake_provider.answer("/responses", load_payload("zigpoll_responses_page2.json"))

    assert sync_pull_sources_task() == {"zigpoll-post-purchase": "succeeded"}


# --- the shared client -------------------------------------------------------------------------------

def test_the_provider_client_does_not_retry_an_answer_that_will_not_change(fake_provider):
    fake_provider.answer("/gone", (404, {"message": "no such response"}))

    with ProviderClient(base_url=fake_provider.url, headers={}) as client, pytest.raises(ProviderError) as failure:
        client.get_json("/gone")

    assert failure.value.status == 404
    assert len(fake_provider.seen("/gone")) == 1


# --- Medallia and Hotjar exports -----------------------------------------------------------------------

def upload(body: dict):
    client = APIClient()
    from integrations.factories import ApiKeyFactory

    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {ApiKeyFactory(scopes=['feedback:write']).plain_key}")
    return client.post("/api/v1/feedback/uploads/", body, format="json")


def test_a_medallia_export_mapping_is_saved_and_reused_for_the_next_export(survey):
    source = FeedbackSourceFactory(slug="medallia-nps", kind=SourceKind.MEDALLIA, survey=survey)
    mapping = {"Survey ID": "external_id", "Response Date": "submitted_at", "Likelihood to Recommend": "q:nps",
               "Email": "respondent.email"}
    first = "Survey ID,Response Date,Likelihood to Recommend,Email\nM-1,2026-11-01T10:00:00Z,8,a@example.com\n"
    second = "Survey ID,Response Date,Likelihood to Recommend,Email\nM-2,2026-11-02T10:00:00Z,3,b@example.com\n"

    saved = upload({"source": source.slug, "format": "csv", "content": first, "column_mapping": mapping, "save_mapping": True})
    reused = upload({"source": source.slug, "format": "csv", "content": second})

    assert saved.status_code == reused.status_code == 200
    source.refresh_from_db()
    assert source.column_mapping == mapping
    assert sorted(Response.objects.filter(source=source).values_list("nps", flat=True)) == [3, 8]
    assert SyncRun.objects.filter(source=source, kind="upload", created=1).count() == 2


def test_a_hotjar_json_export_maps_nested_fields_by_dotted_path(survey):
    QuestionFactory(survey=survey, key="ease", kind=QuestionKind.RATING, scale_min=1, scale_max=5)
    source = FeedbackSourceFactory(
        slug="hotjar-feedback", kind=SourceKind.HOTJAR, survey=survey,
        column_mapping={"id": "external_id", "created": "submitted_at", "answers.ease": "q:ease",
                        "user.email": "respondent.email"},
    )
    export = [{"id": "HJ-1", "created": "2026-11-03T08:00:00Z", "answers": {"ease": 4}, "user": {"email": "c@example.com"}}]

    reply = upload({"source": source.slug, "format": "json", "content": json.dumps(export)})

    assert reply.status_code == 200
    assert reply.json()["summary"] == {"created": 1}
    assert Response.objects.get(source=source, external_id="HJ-1").identity == {"email": "c@example.com"}


def test_a_provider_answering_garbage_is_retried_then_reported_with_its_last_error(fake_provider):
    fake_provider.answer("/garbage", (200, b"<html>maintenance</html>"))

    with ProviderClient(base_url=fake_provider.url, headers={}) as client, pytest.raises(ProviderError) as failure:
        client.get_json("/garbage")

    assert "not JSON" in str(failure.value) and "after 4 attempts" in str(failure.value)
    assert len(fake_provider.seen("/garbage")) == 4


def test_sync_runs_with_their_counts_and_errors_are_listed_in_the_admin(zigpoll_source, fake_provider):
    from django.test import Client

    from core.factories import UserFactory

    fake_provider.answer("/responses", (503, {"message": "down"}))
    connectors.zigpoll_sync(source=zigpoll_source)
    browser = Client()
    browser.force_login(UserFactory(is_superuser=True))

    page = browser.get("/admin/feedback/syncrun/")
    sources = browser.get("/admin/feedback/feedbacksource/")

    assert page.status_code == sources.status_code == 200
    assert "answered 503" in page.content.decode()
    assert "Failed" in sources.content.decode()
    assert "zp-key" not in sources.content.decode() + browser.get(f"/admin/feedback/feedbacksource/{zigpoll_source.pk}/change/").content.decode()
