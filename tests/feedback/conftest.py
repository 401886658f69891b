import json
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from feedback.factories import FeedbackSourceFactory, QuestionFactory, SurveyFactory, ThemeFactory
from feedback.models import ExternalQuestion, Moment, QuestionKind, SourceKind
from integrations.factories import ApiKeyFactory

PAYLOADS = Path(__file__).parent / "payloads"


def load_payload(name: str) -> dict:
    return json.loads((PAYLOADS / name).read_text())


@pytest.fixture
def survey(db):
    survey = SurveyFactory(slug="post-purchase", name="After your order", moment=Moment.POST_PURCHASE)
    QuestionFactory(survey=survey, key="nps", kind=QuestionKind.NPS, position=1)
    QuestionFactory(survey=survey, key="csat", kind=QuestionKind.CSAT, text="How satisfied are you?", position=2)
    QuestionFactory(survey=survey, key="comment", kind=QuestionKind.FREE_TEXT, text="Anything else?", position=3)
    QuestionFactory(
        survey=survey, key="topics", kind=QuestionKind.MULTIPLE_CHOICE, choices=["shipping", "quality", "price"], position=4
    )
    QuestionFactory(survey=survey, key="stars", kind=QuestionKind.RATING, scale_min=1, scale_max=5, position=5)
    return survey


@pytest.fixture
def artisan_survey(db):
    survey = SurveyFactory(slug="artisan-quarterly", name="Quarterly artisan survey", moment=Moment.QUARTERLY_ARTISAN)
    QuestionFactory(survey=survey, key="nps", kind=QuestionKind.NPS)
    QuestionFactory(survey=survey, key="comment", kind=QuestionKind.FREE_TEXT)
    return survey


@pytest.fixture
def api_key(db):
    return ApiKeyFactory(scopes=["feedback:write", "feedback:read"])


@pytest.fixture
def client(api_key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {api_key.plain_key}")
    return client


@pytest.fixture
def typeform_source(survey):
    source = FeedbackSourceFactory(slug="typeform-weather", kind=SourceKind.TYPEFORM, survey=survey, secret="tf-secret-123")
    questions = {q.key: q for q in survey.questions.all()}
    ExternalQuestion.objects.create(source=source, external_id="NRsxU591jIW9", question=questions["nps"])
    ExternalQuestion.objects.create(source=source, external_id="DlXFaesGBpoF", question=questions["comment"])
    city = QuestionFactory(survey=survey, key="city", kind=QuestionKind.SINGLE_CHOICE, text="Favourite city?")
    ExternalQuestion.objects.create(source=source, external_id="M5tXK5kG7IeA", question=city)
    return source


@pytest.fixture
def delighted_source(survey):
    return FeedbackSourceFactory(slug="delighted-nps", kind=SourceKind.DELIGHTED, survey=survey, secret="delighted-api-key")


@pytest.fixture
def shipping_theme(db):
    return ThemeFactory(slug="shipping-delay", name="Shipping delay", keywords="late\nslow\ndelay\nstill waiting")


@pytest.fixture
def urgent_theme(db):
    return ThemeFactory(slug="damaged", name="Item arrived damaged", keywords="broken\ncracked\nshattered", is_urgent=True)
