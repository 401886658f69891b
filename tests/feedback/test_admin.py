import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from buyers.factories import BuyerFactory
from feedback.factories import FeedbackSourceFactory, ResponseFactory, ThemeFactory
from feedback.models import MatchStatus, Response, SourceKind
from tests.feedback.test_uploads import CSV, MAPPING

pytestmark = pytest.mark.django_db


def test_unmatched_list_and_match_by_picking_a_buyer(client, cs_user, survey, django_capture_on_commit_callbacks):
    from django.test import Client

    staff = Client()
    staff.force_login(cs_user)
    response = ResponseFactory(source__survey=survey, identity={"email": "who@example.com"}, nps=3)
    ResponseFactory(source__survey=survey, buyer=BuyerFactory())
    buyer = BuyerFactory()

    listing = staff.get(reverse("admin:feedback_response_changelist"), {"needs_match": "yes"})
    with django_capture_on_commit_callbacks(execute=True):
        saved = staff.post(reverse("admin:feedback_response_change", args=[response.pk]),
                           {"buyer": buyer.pk, "seller": "", "answers-TOTAL_FORMS": 0, "answers-INITIAL_FORMS": 0})

    assert listing.status_code == 200
    assert list(listing.context["cl"].result_list) == [response]
    assert saved.status_code == 302
    response.refresh_from_db()
    assert (response.buyer, response.match_status, response.matched_by) == (buyer, MatchStatus.MATCHED, cs_user)
    assert response.buyer.cases.get().kind == "detractor_followup"


def test_secret_is_write_only_in_the_source_admin(admin_user, survey):
    from django.test import Client

    staff = Client()
    staff.force_login(admin_user)
    source = FeedbackSourceFactory(kind=SourceKind.TYPEFORM, secret="s3cr3t-value", survey=survey)

    page = staff.get(reverse("admin:feedback_feedbacksource_change", args=[source.pk]))

    assert page.status_code == 200
    assert "s3cr3t-value" not in page.content.decode()


def test_customer_success_cannot_change_sources(cs_user, survey):
    from django.test import Client

    staff = Client()
    staff.force_login(cs_user)
    source = FeedbackSourceFactory(survey=survey)

    assert staff.get(reverse("admin:feedback_feedbacksource_change", args=[source.pk])).status_code == 403


def test_admin_upload_dry_run_then_store(admin_user, survey):
    from django.test import Client

    staff = Client()
    staff.force_login(admin_user)
    source = FeedbackSourceFactory(kind=SourceKind.UPLOAD, survey=survey, column_mapping=MAPPING)
    url = reverse("admin:feedback_feedbacksource_upload", args=[source.pk])

    def upload(dry_run):
        data = {"export": SimpleUploadedFile("export.csv", CSV.encode()), "format": "csv"}
        if dry_run:
            data["dry_run"] = "on"
        return staff.post(url, data)

    preview = upload(True)
    assert preview.status_code == 200
    assert preview.context["outcome"]["summary"] == {"would_create": 2, "rejected": 1}
    assert not Response.objects.exists()

    stored = upload(False)
    assert stored.context["outcome"]["summary"] == {"created": 2, "rejected": 1}
    assert Response.objects.count() == 2


def test_classifier_metrics_page_shows_precision_and_recall(admin_user):
    from django.test import Client

    from feedback.models import ThemeClassifier

    staff = Client()
    staff.force_login(admin_user)
    theme = ThemeFactory(name="Shipping delay")
    classifier = ThemeClassifier.objects.create(metrics={"themes": {theme.slug: {
        "name": theme.name, "support": 4, "precision": 0.75, "recall": 0.5, "keyword_precision": 1.0, "keyword_recall": 0.25}}})

    page = staff.get(reverse("admin:feedback_themeclassifier_change", args=[classifier.pk])).content.decode()

    assert "Shipping delay" in page and "0.75" in page and "0.25" in page


@pytest.mark.parametrize(
    "model", ["survey", "feedbacksource", "response", "theme", "themeclassifier", "surveyinvitation", "responsetheme"]
)
def test_every_feedback_changelist_and_add_page_renders_for_admins(admin_user, survey, model):
    from django.test import Client

    staff = Client()
    staff.force_login(admin_user)
    ResponseFactory(source__survey=survey, buyer=BuyerFactory(), nps=2, text="late")

    assert staff.get(reverse(f"admin:feedback_{model}_changelist")).status_code == 200
    if model in ("survey", "feedbacksource", "theme"):
        assert staff.get(reverse(f"admin:feedback_{model}_add")).status_code == 200


def test_response_change_page_renders_with_answers_and_themes(admin_user, survey, shipping_theme):
    from django.test import Client

    from feedback.factories import AnswerFactory

    staff = Client()
    staff.force_login(admin_user)
    response = ResponseFactory(source__survey=survey, text="slow")
    AnswerFactory(response=response, question=survey.questions.get(key="comment"), text="slow")

    page = staff.get(reverse("admin:feedback_response_change", args=[response.pk]))

    assert page.status_code == 200
    assert "Shipping delay" in page.content.decode()
