import pytest

from buyers.factories import BuyerFactory
from feedback.factories import FeedbackSourceFactory
from feedback.models import Response, SourceKind

pytestmark = pytest.mark.django_db
URL = "/api/v1/feedback/uploads/"

# The shape of a Zigpoll-style CSV export: one row per response, one column per question.
CSV = """Response ID,Date,Email,Order,How likely are you to recommend us?,Comments
zp-1,2026-02-01 10:00:00,ada@example.com,,10,Gorgeous mug
zp-2,2026-02-02 11:00:00,,O-404,3,Arrived late and cracked
zp-3,2026-02-03 12:00:00,ghost@example.com,,12,
"""
MAPPING = {
    "Response ID": "external_id",
    "Date": "submitted_at",
    "Email": "respondent.email",
    "Order": "respondent.order_id",
    "How likely are you to recommend us?": "q:nps",
    "Comments": "q:comment",
}


@pytest.fixture
def upload_source(survey):
    return FeedbackSourceFactory(slug="zigpoll-export", kind=SourceKind.UPLOAD, survey=survey, column_mapping=MAPPING)


def test_dry_run_previews_each_row_and_stores_nothing(client, upload_source):
    BuyerFactory(email="ada@example.com")

    reply = client.post(URL, {"source": "zigpoll-export", "format": "csv", "content": CSV, "dry_run": True}, format="json")

    assert reply.status_code == 200, reply.data
    rows = reply.data["results"]
    assert [r["status"] for r in rows] == ["would_create", "would_create", "rejected"]
    assert [r.get("match_status") for r in rows[:2]] == ["matched", "unmatched"]
    assert "answers.nps" in rows[2]["errors"]
    assert not Response.objects.exists()


def test_upload_stores_good_rows_once(client, upload_source):
    body = {"source": "zigpoll-export", "format": "csv", "content": CSV}

    first = client.post(URL, body, format="json")
    second = client.post(URL, body, format="json")

    assert first.data["summary"] == {"created": 2, "rejected": 1}
    assert second.data["summary"] == {"duplicate": 2, "rejected": 1}
    assert sorted(Response.objects.values_list("external_id", "nps")) == [("zp-1", 10), ("zp-2", 3)]


def test_json_export_with_mapping_in_the_request(client, upload_source):
    rows = '[{"id": "j-1", "score": 8, "mail": "x@example.com"}]'
    mapping = {"id": "external_id", "score": "q:nps", "mail": "respondent.email"}

    reply = client.post(URL, {"source": "zigpoll-export", "format": "json", "content": rows, "column_mapping": mapping},
                        format="json")

    assert reply.data["summary"] == {"created": 1}
    assert Response.objects.get().nps == 8


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"format": "csv", "content": CSV, "column_mapping": {"Response ID": "nonsense"}}, "column_mapping"),
        ({"format": "csv", "content": CSV, "column_mapping": {"Email": "respondent.email"}}, "column_mapping"),
        ({"format": "json", "content": "{not json"}, "content"),
        ({"format": "xml", "content": "<a/>"}, "format"),
    ],
)
def test_bad_upload_is_400_naming_the_field(client, upload_source, body, field):
    reply = client.post(URL, {"source": "zigpoll-export", **body}, format="json")

    assert reply.status_code == 400
    assert field in reply.data["errors"], reply.data
    assert not Response.objects.exists()
