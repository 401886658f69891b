from datetime import timedelta

import factory
from django.utils import timezone

from feedback.models import (
    Answer,
    FeedbackSource,
    MatchStatus,
    Moment,
    Question,
    QuestionKind,
    RespondentKind,
    Response,
    SourceKind,
    Survey,
    Theme,
)


class SurveyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Survey

    name = factory.Sequence(lambda n: f"Survey {n}")
    slug = factory.Sequence(lambda n: f"survey-{n}")
    purpose = "How did we do?"
    moment = Moment.POST_PURCHASE


class QuestionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Question

    survey = factory.SubFactory(SurveyFactory)
    key = factory.Sequence(lambda n: f"q{n}")
    text = "How likely are you to recommend us?"
    kind = QuestionKind.NPS
    position = factory.Sequence(lambda n: n)


class FeedbackSourceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FeedbackSource

    name = factory.Sequence(lambda n: f"Source {n}")
    slug = factory.Sequence(lambda n: f"source-{n}")
    kind = SourceKind.NATIVE
    survey = factory.SubFactory(SurveyFactory)


class ResponseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Response

    source = factory.SubFactory(FeedbackSourceFactory)
    survey = factory.SelfAttribute("source.survey")
    external_id = factory.Sequence(lambda n: f"resp-{n}")
    respondent_kind = RespondentKind.BUYER
    match_status = factory.LazyAttribute(
        lambda r: MatchStatus.MATCHED if (r.buyer or r.seller) else MatchStatus.UNMATCHED
    )
    buyer = None
    seller = None
    submitted_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=1))


class AnswerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Answer

    response = factory.SubFactory(ResponseFactory)
    question = factory.SubFactory(QuestionFactory)


class ThemeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Theme

    name = factory.Sequence(lambda n: f"Theme {n}")
    slug = factory.Sequence(lambda n: f"theme-{n}")
    keywords = ""
