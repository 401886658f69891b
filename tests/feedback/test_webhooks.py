import json

import pytest

from buyers.factories import BuyerFactory
from feedback.models import Answer, Response
from feedback.signatures import delighted_signature, signature_valid, typeform_signature
from tests.feedback.conftest import load_payload

pytestmark = pytest.mark.django_db


def post_signed(client, source, payload: dict, *, header: str, sign):
    body = json.dumps(payload).encode()
    return client.generic(
        "POST", f"/api/v1/feedback/webhooks/{source.slug}/", body, content_type="application/json",
        **{header: sign(secret=source.secret, body=body)},
    )


def post_typeform(client, source, payload):
    return post_signed(client, source, payload, header="HTTP_TYPEFORM_SIGNATURE", sign=typeform_signature)


def post_delighted(client, source, payload):
    return post_signed(client, source, payload, header="HTTP_X_DELIGHTED_WEBHOOK_SIGNATURE", sign=delighted_signature)


def test_typeform_signature_matches_the_documented_scheme():
    # Typeform: HMAC-SHA256 of the raw body with the secret, base64-encoded, prefixed "sha256=".
    body = b'{"event_id":"LtWXD3crgy"}'
    signature = typeform_signature(secret="abc123", body=body)

    assert signature.startswith("sha256=") and signature.endswith("=")
    assert signature_valid(kind="typeform", secret="abc123", body=body, header=signature)
    assert not signature_valid(kind="typeform", secret="abc123", body=body + b" ", header=signature)
    assert not signature_valid(kind="typeform", secret="other", body=body, header=signature)
    assert not signature_valid(kind="typeform", secret="abc123", body=body, header=signature.removeprefix("sha256="))


def test_typeform_documented_example_maps_answers_and_hidden_fields(client, typeform_source):
    buyer = BuyerFactory(external_id="B-42")
    payload = load_payload("typeform_form_response.json")
    payload["form_response"]["hidden"] = {"buyer_id": "B-42"}

    reply = post_typeform(client, typeform_source, payload)

    assert reply.status_code == 201, reply.data
    response = Response.objects.get()
    assert response.external_id == "a3a12ec67a1365927098a606107fac15"
    assert response.buyer == buyer
    assert response.nps == 9
    assert response.text.startswith("It's cold right now!")
    assert dict(Answer.objects.filter(response=response).values_list("question__key", "text")) == {
        "nps": "", "comment": response.text, "city": "New York"
    }
    assert response.extras["Which pictures do you like? You can choose as many as you like."] == ["London", "Sydney"]
    assert response.submitted_at.isoformat() == "2018-01-18T18:17:02+00:00"


def test_typeform_example_without_known_identity_is_kept_unmatched_by_email(client, typeform_source):
    reply = post_typeform(client, typeform_source, load_payload("typeform_form_response.json"))

    assert reply.status_code == 201
    response = Response.objects.get()
    assert response.match_status == "unmatched"
    assert response.identity == {"email": "laura@example.com"}


def test_typeform_redelivery_is_a_duplicate(client, typeform_source):
    payload = load_payload("typeform_form_response.json")
    first = post_typeform(client, typeform_source, payload)

    again = post_typeform(client, typeform_source, payload)

    assert again.status_code == 200
    assert again.data["status"] == "duplicate" and again.data["id"] == first.data["id"]
    assert Response.objects.count() == 1


@pytest.mark.parametrize("signature", [None, "sha256=AAAA", "sha1=whatever"])
def test_typeform_bad_or_missing_signature_is_401_and_stores_nothing(client, typeform_source, signature):
    body = json.dumps(load_payload("typeform_form_response.json"))
    extra = {"HTTP_TYPEFORM_SIGNATURE": signature} if signature else {}

    reply = client.generic("POST", f"/api/v1/feedback/webhooks/{typeform_source.slug}/", body,
                           content_type="application/json", **extra)

    assert reply.status_code == 401
    assert not Response.objects.exists()


def test_typeform_nps_out_of_range_is_400_naming_the_answer(client, typeform_source):
    payload = load_payload("typeform_form_response.json")
    payload["form_response"]["answers"][9]["number"] = 11

    reply = post_typeform(client, typeform_source, payload)

    assert reply.status_code == 400
    assert "form_response.answers[9]" in reply.data["errors"]
    assert not Response.objects.exists()


def test_webhook_malformed_json_is_400(client, typeform_source):
    body = b'{"event_type": "form_response",'
    reply = client.generic("POST", f"/api/v1/feedback/webhooks/{typeform_source.slug}/", body,
                           content_type="application/json",
                           HTTP_TYPEFORM_SIGNATURE=typeform_signature(secret=typeform_source.secret, body=body))

    assert reply.status_code == 400
    assert "body" in reply.data["errors"]


def test_secret_never_appears_in_logs_or_responses(client, typeform_source, caplog):
    body = json.dumps(load_payload("typeform_form_response.json"))
    reply = client.generic("POST", f"/api/v1/feedback/webhooks/{typeform_source.slug}/", body,
                           content_type="application/json", HTTP_TYPEFORM_SIGNATURE="sha256=forged")

    assert reply.status_code == 401
    assert typeform_source.secret not in caplog.text
    assert typeform_source.secret not in reply.content.decode()
    assert typeform_source.secret not in repr(typeform_source)


def test_delighted_documented_example_is_stored_with_score_and_comment(client, delighted_source):
    buyer = BuyerFactory(email="paul_gravis@example.com")

    reply = post_delighted(client, delighted_source, load_payload("delighted_survey_response_updated.json"))

    assert reply.status_code == 201, reply.data
    response = Response.objects.get()
    assert (response.external_id, response.nps, response.buyer) == ("5435", 5, buyer)
    assert response.text == "Your service is slow, but nearly flawless! Keep up the good work!"
    assert response.is_flagged  # NPS 5 is a detractor


def test_delighted_later_update_changes_the_response_instead_of_adding_one(client, delighted_source):
    payload = load_payload("delighted_survey_response_updated.json")
    first = post_delighted(client, delighted_source, payload)
    payload["event_data"]["score"] = 9
    payload["event_data"]["comment"] = "Changed my mind, it was great."
    payload["event_data"]["updated_at"] += 60

    update = post_delighted(client, delighted_source, payload)
    replay = post_delighted(client, delighted_source, payload)

    assert update.status_code == 200 and update.data["status"] == "updated"
    assert update.data["id"] == first.data["id"]
    assert replay.data["status"] == "duplicate"
    response = Response.objects.get()
    assert (response.nps, response.revision) == (9, 2)
    assert response.text == "Changed my mind, it was great."
    assert Answer.objects.filter(response=response).count() == 2


def test_delighted_stale_update_does_not_overwrite_newer_data(client, delighted_source):
    payload = load_payload("delighted_survey_response_updated.json")
    newer = dict(payload, event_data={**payload["event_data"], "score": 10, "updated_at": payload["event_data"]["updated_at"] + 100})
    post_delighted(client, delighted_source, newer)

    stale = post_delighted(client, delighted_source, payload)

    assert stale.data["status"] == "duplicate"
    assert Response.objects.get().nps == 10


def test_delighted_signature_uses_hex_digest(client, delighted_source):
    body = json.dumps(load_payload("delighted_survey_response_updated.json")).encode()
    base64_signed = typeform_signature(secret=delighted_source.secret, body=body)

    reply = client.generic("POST", f"/api/v1/feedback/webhooks/{delighted_source.slug}/", body,
                           content_type="application/json", HTTP_X_DELIGHTED_WEBHOOK_SIGNATURE=base64_signed)

    assert reply.status_code == 401
    assert not Response.objects.exists()


def test_unknown_webhook_source_gets_the_same_401_as_a_bad_signature(client, typeform_source):
    unknown = client.post("/api/v1/feedback/webhooks/nope/", {}, format="json")
    bad_signature = client.generic(
        "POST", f"/api/v1/feedback/webhooks/{typeform_source.slug}/", b"{}", content_type="application/json",
        HTTP_TYPEFORM_SIGNATURE="sha256=forged",
    )

    assert unknown.status_code == bad_signature.status_code == 401
    assert unknown.json() == bad_signature.json()
    assert unknown["WWW-Authenticate"] == bad_signature["WWW-Authenticate"]


def test_a_signed_webhook_sent_as_plain_text_gets_415_and_stores_nothing(client, typeform_source):
    body = json.dumps({"event_id": "x"}).encode()

    reply = client.generic(
        "POST", f"/api/v1/feedback/webhooks/{typeform_source.slug}/", body, content_type="text/plain",
        HTTP_TYPEFORM_SIGNATURE=typeform_signature(secret=typeform_source.secret, body=body),
    )

    assert reply.status_code == 415
    assert reply.json()["code"] == "unsupported_media_type"
    assert not Response.objects.exists()
