"""Surveys, the responses that survey tools send us, and the themes staff code them into."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from core.formatting import day_and_time


class Moment(models.TextChoices):
    POST_PURCHASE = "post_purchase", "After a purchase"
    POST_ONBOARDING = "post_onboarding", "After onboarding"
    QUARTERLY_ARTISAN = "quarterly_artisan", "Quarterly artisan survey"
    AD_HOC = "ad_hoc", "Ad hoc"


class Survey(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=64, unique=True)
    purpose = models.TextField(blank=True)
    moment = models.CharField(max_length=32, choices=Moment.choices, default=Moment.AD_HOC)
    is_active = models.BooleanField(default=True)
    delay_days = models.PositiveSmallIntegerField(
        default=7, help_text="Invite N days after the moment (delivery or onboarding)."
    )
    min_gap_days = models.PositiveSmallIntegerField(
        default=90, help_text="Never invite the same person to any survey more often than this."
    )
    invite_url = models.URLField(blank=True, help_text="Link to the survey form put in invitations.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [models.CheckConstraint(condition=Q(moment__in=Moment.values), name="survey_known_moment")]

    def __str__(self):
        return self.name


class QuestionKind(models.TextChoices):
    NPS = "nps", "NPS (0-10)"
    CSAT = "csat", "CSAT (1-5)"
    RATING = "rating", "Rating"
    SINGLE_CHOICE = "single_choice", "Single choice"
    MULTIPLE_CHOICE = "multiple_choice", "Multiple choice"
    FREE_TEXT = "free_text", "Free text"


NUMERIC_KINDS = (QuestionKind.NPS, QuestionKind.CSAT, QuestionKind.RATING)
# Fixed scales; a rating question carries its own scale_min/scale_max.
KIND_SCALES = {QuestionKind.NPS: (0, 10), QuestionKind.CSAT: (1, 5)}


class Question(models.Model):
    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="questions")
    key = models.SlugField(max_length=64, help_text="Kiln's stable name for the question, used in the native API.")
    text = models.CharField(max_length=500)
    kind = models.CharField(max_length=20, choices=QuestionKind.choices)
    choices = models.JSONField(default=list, blank=True, help_text="Allowed labels for choice questions.")
    scale_min = models.SmallIntegerField(default=1)
    scale_max = models.SmallIntegerField(default=5)
    required = models.BooleanField(default=False)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["survey", "position", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["survey", "key"], name="question_unique_key_per_survey"),
            models.CheckConstraint(condition=Q(kind__in=QuestionKind.values), name="question_known_kind"),
            models.CheckConstraint(condition=Q(scale_max__gt=models.F("scale_min")), name="question_scale_ordered"),
        ]

    def __str__(self):
        return f"{self.survey.slug}:{self.key}"

    @property
    def bounds(self) -> tuple[int, int]:
        return KIND_SCALES.get(self.kind, (self.scale_min, self.scale_max))


class SourceKind(models.TextChoices):
    NATIVE = "native", "Native API"
    TYPEFORM = "typeform", "Typeform webhook"
    DELIGHTED = "delighted", "Delighted webhook"
    UPLOAD = "upload", "File export (CSV / JSON)"
    QUALTRICS = "qualtrics", "Qualtrics event subscription"
    SURVEYMONKEY = "surveymonkey", "SurveyMonkey webhook"
    ZIGPOLL = "zigpoll", "Zigpoll responses API (pull)"
    MEDALLIA = "medallia", "Medallia export (CSV / JSON)"
    HOTJAR = "hotjar", "Hotjar export (CSV / JSON)"


# Kinds whose deliveries arrive at /api/v1/feedback/webhooks/<slug>/.
WEBHOOK_KINDS = (SourceKind.TYPEFORM, SourceKind.DELIGHTED, SourceKind.QUALTRICS, SourceKind.SURVEYMONKEY)
# Kinds whose exports are imported through uploads with the source's saved column mapping.
UPLOAD_KINDS = (SourceKind.NATIVE, SourceKind.UPLOAD, SourceKind.MEDALLIA, SourceKind.HOTJAR, SourceKind.ZIGPOLL)


class FeedbackSource(models.Model):
    """Where responses come from. Webhook sources carry their signing secret."""

    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=64, unique=True, help_text="Appears in the webhook URL.")
    kind = models.CharField(max_length=16, choices=SourceKind.choices)
    survey = models.ForeignKey(
        Survey, on_delete=models.PROTECT, null=True, blank=True, related_name="sources",
        help_text="The survey a webhook or export maps onto.",
    )
    # Needed in clear to recompute HMACs, so it cannot be hashed; it is never shown back, never logged.
    secret = models.CharField(max_length=255, blank=True)
    column_mapping = models.JSONField(
        default=dict, blank=True,
        help_text=(
            'Export columns or provider fields to Kiln fields, e.g. {"Response ID": "external_id", "NPS": "q:nps", '
            '"metadata.order_id": "respondent.order_id"}. Nested provider fields use dotted paths.'
        ),
    )
    # Connectors that call the provider's API (Qualtrics, SurveyMonkey, Zigpoll).
    api_base_url = models.URLField(
        blank=True, help_text="The provider's API root, e.g. https://yul1.qualtrics.com, https://api.surveymonkey.com."
    )
    # Stored in clear for the same reason as the secret; never shown back. Empty: read from the
    # environment variable FEEDBACK_<SLUG>_API_TOKEN (slug upper-cased, dashes as underscores).
    api_token = models.CharField(max_length=255, blank=True)
    client_id = models.CharField(
        max_length=128, blank=True, help_text="SurveyMonkey: the app's client ID (API key), half of the signing key."
    )
    external_account = models.CharField(
        max_length=128, blank=True, help_text="Zigpoll: the account ID whose responses are pulled."
    )
    sync_cursor = models.CharField(
        max_length=255, blank=True, help_text="Zigpoll: where the next incremental pull starts (the last endCursor)."
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [models.CheckConstraint(condition=Q(kind__in=SourceKind.values), name="source_known_kind")]

    def __str__(self):
        return f"{self.name} ({self.kind})"

    def __repr__(self):
        return f"<FeedbackSource {self.slug} {self.kind}>"


class ExternalQuestion(models.Model):
    """A survey tool's field ID mapped onto one of Kiln's questions."""

    source = models.ForeignKey(FeedbackSource, on_delete=models.CASCADE, related_name="question_map")
    external_id = models.CharField(max_length=128)
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="external_ids")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "external_id"], name="external_question_unique_per_source")
        ]

    def __str__(self):
        return f"{self.source.slug}:{self.external_id} -> {self.question}"


class RespondentKind(models.TextChoices):
    BUYER = "buyer", "Buyer"
    SELLER = "seller", "Seller"
    UNKNOWN = "unknown", "Unknown"


class MatchStatus(models.TextChoices):
    MATCHED = "matched", "Matched"
    UNMATCHED = "unmatched", "Unmatched"


class ResponseQuerySet(models.QuerySet):
    def unmatched(self):
        return self.filter(match_status=MatchStatus.UNMATCHED)

    def detractors(self):
        return self.filter(nps__lte=6)

    def in_period(self, start, end):
        return self.filter(submitted_at__gte=start, submitted_at__lt=end)


class Response(models.Model):
    """One respondent's answers to one survey, exactly once per source and external ID.

    ``buyer`` is the buyer who answered. ``seller`` is the artisan the feedback is
    about: the respondent for artisan surveys, or the order's artisan for a buyer's
    post-purchase feedback.
    """

    # FK indexes that a composite index below already leads with are left out: every index costs
    # ingestion time on each insert (see bench/feedback_ingest.py).
    source = models.ForeignKey(FeedbackSource, on_delete=models.PROTECT, related_name="responses", db_index=False)
    external_id = models.CharField(max_length=128)
    survey = models.ForeignKey(Survey, on_delete=models.PROTECT, related_name="responses", db_index=False)
    respondent_kind = models.CharField(max_length=8, choices=RespondentKind.choices, default=RespondentKind.UNKNOWN)
    buyer = models.ForeignKey(
        "buyers.Buyer", on_delete=models.SET_NULL, null=True, blank=True, related_name="feedback_responses",
        db_index=False,
    )
    seller = models.ForeignKey(
        "sellers.Seller", on_delete=models.SET_NULL, null=True, blank=True, related_name="feedback_responses",
        db_index=False,
    )
    order = models.ForeignKey(
        "marketplace.Order", on_delete=models.SET_NULL, null=True, blank=True, related_name="feedback_responses"
    )
    identity = models.JSONField(default=dict, blank=True, help_text="The keys the tool sent: email, IDs, hidden fields.")
    match_status = models.CharField(max_length=10, choices=MatchStatus.choices, default=MatchStatus.UNMATCHED)
    matched_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    nps = models.SmallIntegerField(null=True, blank=True)
    csat = models.SmallIntegerField(null=True, blank=True)
    text = models.TextField(blank=True, help_text="All free-text answers, for coding and sentiment.")
    extras = models.JSONField(default=dict, blank=True, help_text="Answers the tool sent that map to no question.")
    sentiment = models.FloatField(default=0.0, help_text="-1 (negative) .. 1 (positive); 0 is neutral.")
    is_flagged = models.BooleanField(
        default=False, help_text="Detractor, CSAT <= 2, strongly negative, or coded with an urgent theme."
    )
    submitted_at = models.DateTimeField()
    received_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    revision = models.PositiveIntegerField(default=1, help_text="Bumped when a tool sends an update of the response.")
    coded_at = models.DateTimeField(null=True, blank=True, help_text="When themes were last assigned.")
    staff_coded_at = models.DateTimeField(
        null=True, blank=True, help_text="Set when staff confirmed the themes; such responses are training data."
    )

    objects = ResponseQuerySet.as_manager()

    class Meta:
        ordering = ["-submitted_at"]
        indexes = [
            models.Index(fields=["seller", "submitted_at"], name="fb_response_seller_idx"),
            models.Index(fields=["buyer", "submitted_at"], name="fb_response_buyer_idx"),
            models.Index(fields=["survey", "submitted_at"], name="fb_response_survey_idx"),
            models.Index(fields=["match_status", "received_at"], name="fb_response_match_idx"),
        ]
        constraints = [
            # The idempotency invariant: a tool's response is stored once, however often it is delivered.
            models.UniqueConstraint(fields=["source", "external_id"], name="response_unique_per_source"),
            models.CheckConstraint(condition=Q(nps__isnull=True) | Q(nps__gte=0, nps__lte=10), name="response_nps_0_10"),
            models.CheckConstraint(condition=Q(csat__isnull=True) | Q(csat__gte=1, csat__lte=5), name="response_csat_1_5"),
            models.CheckConstraint(condition=Q(sentiment__gte=-1, sentiment__lte=1), name="response_sentiment_range"),
            models.CheckConstraint(
                condition=Q(match_status=MatchStatus.UNMATCHED) | Q(buyer__isnull=False) | Q(seller__isnull=False),
                name="response_matched_has_subject",
            ),
            models.CheckConstraint(condition=Q(match_status__in=MatchStatus.values), name="response_known_match"),
        ]

    def __str__(self):
        return f"{self.source.slug}:{self.external_id}"


class Answer(models.Model):
    # The (response, question) unique index serves lookups by response.
    response = models.ForeignKey(Response, on_delete=models.CASCADE, related_name="answers", db_index=False)
    question = models.ForeignKey(Question, on_delete=models.PROTECT, related_name="answers")
    number = models.FloatField(null=True, blank=True)
    text = models.TextField(blank=True)
    choices = models.JSONField(default=list, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["response", "question"], name="answer_one_per_question")]

    def __str__(self):
        return f"{self.question.key}={self.number if self.number is not None else self.text or self.choices}"


class Theme(models.Model):
    """A reason for (dis)satisfaction that staff track, such as shipping delay."""

    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=64, unique=True)
    keywords = models.TextField(blank=True, help_text="One keyword or phrase per line; any match codes the theme.")
    is_urgent = models.BooleanField(default=False, help_text="A response with this theme opens a follow-up case.")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    @property
    def keyword_list(self) -> list[str]:
        return [line.strip().lower() for line in self.keywords.splitlines() if line.strip()]


class CodingOrigin(models.TextChoices):
    RULE = "rule", "Keyword rule"
    MODEL = "model", "Classifier"
    STAFF = "staff", "Staff"


class ResponseTheme(models.Model):
    response = models.ForeignKey(Response, on_delete=models.CASCADE, related_name="theme_codes")
    theme = models.ForeignKey(Theme, on_delete=models.CASCADE, related_name="codes")
    origin = models.CharField(max_length=8, choices=CodingOrigin.choices)
    confidence = models.FloatField(default=1.0)
    coded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["theme", "response"], name="fb_theme_response_idx")]
        constraints = [
            models.UniqueConstraint(fields=["response", "theme"], name="response_theme_once"),
            models.CheckConstraint(condition=Q(origin__in=CodingOrigin.values), name="response_theme_known_origin"),
        ]

    def __str__(self):
        return f"{self.response_id} {self.theme.slug} ({self.origin})"


class ThemeClassifier(models.Model):
    """A trained TF-IDF + logistic-regression model, stored as plain JSON parameters."""

    trained_at = models.DateTimeField(default=timezone.now)
    trained_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    training_size = models.PositiveIntegerField(default=0)
    holdout_size = models.PositiveIntegerField(default=0)
    metrics = models.JSONField(default=dict, help_text="Held-out precision/recall per theme, and the keyword baseline.")
    parameters = models.JSONField(default=dict, help_text="Vocabulary, IDF weights and per-theme coefficients.")
    is_active = models.BooleanField(default=False)

    class Meta:
        ordering = ["-trained_at"]
        constraints = [
            models.UniqueConstraint(fields=["is_active"], condition=Q(is_active=True), name="one_active_theme_classifier")
        ]

    def __str__(self):
        return f"Theme classifier trained {day_and_time(self.trained_at)}"


class SurveyInvitation(models.Model):
    """Who was asked to answer which survey, so nobody is over-surveyed."""

    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="invitations")
    buyer = models.ForeignKey("buyers.Buyer", on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    seller = models.ForeignKey("sellers.Seller", on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    order = models.ForeignKey("marketplace.Order", on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    period = models.CharField(max_length=16, blank=True, help_text="e.g. 2026Q3 for quarterly surveys.")
    dedupe_key = models.CharField(max_length=200, unique=True)
    invited_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-invited_at"]
        indexes = [
            models.Index(fields=["buyer", "invited_at"], name="fb_invite_buyer_idx"),
            models.Index(fields=["seller", "invited_at"], name="fb_invite_seller_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(Q(buyer__isnull=False) & Q(seller__isnull=True))
                | (Q(buyer__isnull=True) & Q(seller__isnull=False)),
                name="invitation_exactly_one_person",
            ),
        ]

    def __str__(self):
        return f"{self.survey.slug} -> {self.buyer_id or self.seller_id}"


class SyncKind(models.TextChoices):
    WEBHOOK = "webhook", "Webhook delivery"
    PULL = "pull", "Scheduled pull"
    UPLOAD = "upload", "Export upload"


class SyncStatus(models.TextChoices):
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class SyncRun(models.Model):
    """One import from a provider, with what it fetched, stored, skipped and rejected (and why)."""

    source = models.ForeignKey(FeedbackSource, on_delete=models.CASCADE, related_name="sync_runs")
    kind = models.CharField(max_length=8, choices=SyncKind.choices)
    status = models.CharField(max_length=10, choices=SyncStatus.choices, default=SyncStatus.RUNNING)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    fetched = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    duplicate = models.PositiveIntegerField(default=0, help_text="Already stored (same source and external ID).")
    rejected = models.PositiveIntegerField(default=0)
    rejections = models.JSONField(default=list, blank=True, help_text="Up to 100 of {external_id, errors}.")
    error = models.TextField(blank=True, help_text="Why the run failed, after retries.")
    cursor_before = models.CharField(max_length=255, blank=True)
    cursor_after = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-started_at", "-pk"]
        indexes = [models.Index(fields=["source", "-started_at"], name="feedback_syncrun_source_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=SyncKind.values), name="syncrun_known_kind"),
            models.CheckConstraint(condition=Q(status__in=SyncStatus.values), name="syncrun_known_status"),
        ]

    def __str__(self):
        return f"{self.source.slug}: {self.get_kind_display().lower()} on {day_and_time(self.started_at)} ({self.get_status_display().lower()})"
