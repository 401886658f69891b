"""Every Typeform answer kind can be stored: booleans (yes_no, legal), file uploads, payments and
Calendly bookings; answers mapped to no question are kept in extras."""

import pytest

from feedback.factories import QuestionFactory
from feedback.models import ExternalQuestion, QuestionKind, Response
from tests.feedback.conftest import load_payload
from tests.feedback.test_webhooks import post_typeform

pytestmark = pytest.mark.django_db

# Answer shapes as Typeform documents them for these field types.
PAYMENT = {"type": "payment", "payment": {"amount": "4.50", "last4": "4242", "name": "Ada Lovelace", "success": True},
           "field": {"id": "PaY1ment0001", "type": "payment"}}
FILE_UPLOAD = {"type": "file_url", "file_url": "https://api.typeform.com/forms/lT4Z3j/responses/a3a12ec67a1365927098a606107fac15/fields/Fi1eUp10ad01/files/photo.jpg",
               "field": {"id": "Fi1eUp10ad01", "type": "file_upload"}}
CALENDLY = {"type": "calendly", "calendly": {"event_uri": "https://api.calendly.com/scheduled_events/EV1",
                                             "invitee_uri": "https://api.calendly.com/scheduled_events/EV1/invitees/IN1"},
            "field": {"id": "Ca1end1y0001", "type": "calendly"}}


def payload_with(*extra_answers) -> dict:
    payload = load_payload("typeform_form_response.json")
    form = payload["form_response"]
    form["answers"].extend(extra_answers)
    form["definition"]["fields"].extend(
        {"id": a["field"]["id"], "title": f"{a['field']['type']} question", "type": a["field"]["type"], "ref": a["field"]["id"].lower()}
        for a in extra_answers
    )
    return payload


def map_field(source, field_id: str, **question):
    ExternalQuestion.objects.create(source=source, external_id=field_id, question=QuestionFactory(survey=source.survey, **question))


def test_a_yes_no_answer_mapped_to_a_yes_no_question_is_stored(client, typeform_source):
    map_field(typeform_source, "RUqkXSeXBXSd", key="would_buy_again", kind=QuestionKind.SINGLE_CHOICE, choices=["Yes", "No"])

    reply = post_typeform(client, typeform_source, load_payload("typeform_form_response.json"))

    assert reply.status_code == 201
    answer = Response.objects.get().answers.get(question__key="would_buy_again")
    assert answer.choices == ["Yes"]


def test_a_legal_acceptance_mapped_to_a_text_question_is_stored_as_yes(client, typeform_source):
    map_field(typeform_source, "gFFf3xAkJKsr", key="terms", kind=QuestionKind.FREE_TEXT)

    reply = post_typeform(client, typeform_source, load_payload("typeform_form_response.json"))

    assert reply.status_code == 201
    assert Response.objects.get().answers.get(question__key="terms").text == "yes"


def test_a_file_upload_mapped_to_a_text_question_keeps_the_file_url(client, typeform_source):
    map_field(typeform_source, "Fi1eUp10ad01", key="photo", kind=QuestionKind.FREE_TEXT)

    reply = post_typeform(client, typeform_source, payload_with(FILE_UPLOAD))

    assert reply.status_code == 201
    assert Response.objects.get().answers.get(question__key="photo").text == FILE_UPLOAD["file_url"]


def test_payment_and_calendly_answers_mapped_to_text_questions_are_summarised(client, typeform_source):
    map_field(typeform_source, "PaY1ment0001", key="deposit", kind=QuestionKind.FREE_TEXT)
    map_field(typeform_source, "Ca1end1y0001", key="workshop", kind=QuestionKind.FREE_TEXT)

    reply = post_typeform(client, typeform_source, payload_with(PAYMENT, CALENDLY))

    assert reply.status_code == 201
    answers = {a.question.key: a.text for a in Response.objects.get().answers.select_related("question")}
    assert answers["deposit"] == "amount: 4.50, name: Ada Lovelace, success: True"
    assert "4242" not in answers["deposit"]
    assert answers["workshop"].startswith("event_uri: https://api.calendly.com/scheduled_events/EV1")


def test_unmapped_answers_of_every_kind_are_kept_in_extras(client, typeform_source):
    reply = post_typeform(client, typeform_source, payload_with(PAYMENT, FILE_UPLOAD, CALENDLY))

    assert reply.status_code == 201
    extras = Response.objects.get().extras
    assert extras["payment question"] == {"amount": "4.50", "name": "Ada Lovelace", "success": True}
    assert extras["file_upload question"] == FILE_UPLOAD["file_url"]
    assert extras["calendly question"]["invitee_uri"].endswith("/IN1")
    assert True in extras.values()  # the unmapped yes_no and legal booleans
