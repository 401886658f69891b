"""Feedback ingestion endpoints: native (one and bulk), Typeform and Delighted webhooks, export upload."""

import logging

from django.db import transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import AuthenticationFailed, UnsupportedMediaType, ValidationError
from rest_framework.parsers import BaseParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from feedback import selectors, webhooks
from feedback.models import FeedbackSource, SourceKind
from feedback.parsing import Catalog, ItemError, parse_native_item
from feedback.services import Status, responses_ingest
from feedback.signatures import DELIGHTED_HEADER, SURVEYMONKEY_HEADER, TYPEFORM_HEADER
from feedback.uploads import upload_ingest, upload_preview, upload_rows_parse
from integrations.api import (
    ERROR_RESPONSES,
    IDEMPOTENCY_KEY_PARAMETER,
    IngestAPIView,
    idempotent,
    method_allowed_check,
    path_arguments_check,
    request_size_check,
)
from integrations.bulk import MAX_BULK_ITEMS, bulk_items_parse, bulk_summary
from integrations.errors import api_exception_handler
from integrations.fields import NEAR_FUTURE, EventDateTimeField

logger = logging.getLogger(__name__)

NATIVE_SOURCE_SLUG = "api"
WEBHOOK_UNAUTHENTICATED = "Unknown webhook source, or a missing or invalid signature."
SCOPE = "feedback:write"


def native_source(slug: str | None) -> FeedbackSource:
    if slug in (None, "", NATIVE_SOURCE_SLUG):
        source, _ = FeedbackSource.objects.get_or_create(
            slug=NATIVE_SOURCE_SLUG, defaults={"name": "Native API", "kind": SourceKind.NATIVE}
        )
        return source
    if not isinstance(slug, str):
        raise ValidationError({"source": ["Must be a source slug."]})
    source = FeedbackSource.objects.filter(slug=slug, kind__in=[SourceKind.NATIVE, SourceKind.UPLOAD], is_active=True).first()
    if source is None:
        raise ValidationError({"source": [f"Unknown native or upload source {slug!r}."]})
    return source


def _raise_item_error(exc: ItemError):
    raise ValidationError(exc.errors)


# --- schema -------------------------------------------------------------------

class RespondentSerializer(serializers.Serializer):
    email = serializers.EmailField(required=False)
    buyer_id = serializers.CharField(required=False, help_text="Buyer.external_id")
    seller_id = serializers.CharField(required=False, help_text="Seller.external_id")
    order_id = serializers.CharField(required=False, help_text="Order.external_id")
    external_id = serializers.CharField(required=False, help_text="Buyer or seller external ID, by survey audience")


class ResponseInSerializer(serializers.Serializer):
    """Documents the native format; validation is feedback.parsing.parse_native_item (fields named in 400s)."""

    external_id = serializers.CharField(max_length=128, help_text="The tool's response ID; unique per source.")
    source = serializers.CharField(required=False, help_text='Native or upload source slug; default "api".')
    survey = serializers.CharField(required=False, help_text="Survey slug (default: the source's survey).")
    submitted_at = serializers.DateTimeField(required=False)
    respondent = RespondentSerializer()
    answers = serializers.DictField(help_text="Question key (or mapped external question ID) to answer.")


class ItemOutSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    status = serializers.CharField(help_text="created, updated, duplicate or rejected")
    id = serializers.IntegerField(allow_null=True)
    external_id = serializers.CharField(allow_null=True)
    match_status = serializers.CharField(required=False)
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))
    code = serializers.CharField(required=False)


class BulkInSerializer(serializers.Serializer):
    source = serializers.CharField(required=False)
    items = serializers.ListField(child=ResponseInSerializer(), max_length=MAX_BULK_ITEMS)


class BulkOutSerializer(serializers.Serializer):
    summary = serializers.DictField(child=serializers.IntegerField())
    results = ItemOutSerializer(many=True)


class ResponseCreateApi(IngestAPIView):
    """One response in Kiln's native format."""

    required_scopes = [SCOPE]

    @extend_schema(
        operation_id="feedback_response_create",
        summary="Submit one survey response",
        request=ResponseInSerializer,
        parameters=[IDEMPOTENCY_KEY_PARAMETER],
        responses={201: ItemOutSerializer, 200: OpenApiResponse(ItemOutSerializer, description="Duplicate: the original result."), **ERROR_RESPONSES},
    )
    @idempotent
    def post(self, request):
        if not isinstance(request.data, dict):
            raise ValidationError({"body": ["Expected a JSON object."]})
        source = native_source(request.data.get("source"))
        try:
            parsed = parse_native_item(request.data, catalog=Catalog(source))
        except ItemError as exc:
            _raise_item_error(exc)
        (result,) = responses_ingest(source=source, items=[parsed])
        body = result.as_dict()
        return Response(body, status=status.HTTP_201_CREATED if result.status == Status.CREATED else status.HTTP_200_OK)


class ResponseBulkApi(IngestAPIView):
    """Up to 1,000 responses. Good items are kept; each bad item is rejected with its reasons."""

    required_scopes = [SCOPE]

    @extend_schema(
        operation_id="feedback_response_bulk",
        summary="Submit up to 1,000 survey responses",
        request=BulkInSerializer,
        parameters=[IDEMPOTENCY_KEY_PARAMETER],
        responses={200: BulkOutSerializer, **ERROR_RESPONSES},
    )
    @idempotent
    def post(self, request):
        items = bulk_items_parse(data=request.data)
        source = native_source(request.data.get("source") if isinstance(request.data, dict) else None)
        catalog = Catalog(source)
        parsed = []
        for item in items:
            try:
                parsed.append(parse_native_item(item, catalog=catalog))
            except ItemError as exc:
                parsed.append(exc)
        results = [r.as_dict() for r in responses_ingest(source=source, items=parsed)]
        return Response({"summary": bulk_summary(results), "results": results})


class RawBodyParser(BaseParser):
    """Webhooks are verified over the exact bytes received, so the view parses JSON itself."""

    media_type = "*/*"

    def parse(self, stream, media_type=None, parser_context=None):
        return None


class WebhookApi(APIView):
    """Typeform, Delighted, Qualtrics and SurveyMonkey post here; the source's kind picks the
    signature scheme, the accepted content type and the handling (feedback.webhooks).

    Authentication is the signature: an unknown source and a missing or wrong signature get the
    same 401 and nothing is stored; an authentic delivery of the wrong content type gets 415.
    """

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []
    parser_classes = [RawBodyParser]

    def get_exception_handler(self):
        return api_exception_handler

    def initial(self, request, *args, **kwargs):
        method_allowed_check(self, request)
        request_size_check(request)
        path_arguments_check(kwargs)
        super().initial(request, *args, **kwargs)

    def get_authenticate_header(self, request):
        # A bad signature is "not authenticated" (401), not "forbidden".
        return 'Signature realm="feedback-webhook"'

    @extend_schema(exclude=True)
    def head(self, request, slug: str):
        # SurveyMonkey checks a subscription URL with HEAD before it delivers; the same answer for
        # every slug, so it reveals nothing.
        return Response(status=status.HTTP_200_OK)

    @extend_schema(
        operation_id="feedback_webhook",
        summary="Receive a Typeform, Delighted, Qualtrics or SurveyMonkey webhook",
        description=(
            "Typeform: `Typeform-Signature: sha256=<base64 HMAC-SHA256 of the raw body>`. "
            "Delighted: `X-Delighted-Webhook-Signature: sha256=<hex HMAC-SHA256 of the raw body>`. "
            "Qualtrics (form-encoded `Topic`, `MSG`, `HMAC`): `HMAC` is the hex HMAC-SHA512 of `MSG` with the "
            "subscription's shared key; the response is then fetched (202). SurveyMonkey: `Sm-Signature: <base64 "
            "HMAC-SHA1 of the raw body, keyed '<client id>&<client secret>'>`; the response is then fetched (202)."
        ),
        # Only JSON is described: schemathesis cannot build negative form-encoded bodies (its test
        # client crashes), and the Qualtrics form's three fields are named in the description.
        request={"application/json": OpenApiTypes.OBJECT},
        parameters=[
            OpenApiParameter(TYPEFORM_HEADER, OpenApiTypes.STR, OpenApiParameter.HEADER, required=False),
            OpenApiParameter(DELIGHTED_HEADER, OpenApiTypes.STR, OpenApiParameter.HEADER, required=False),
            OpenApiParameter(SURVEYMONKEY_HEADER, OpenApiTypes.STR, OpenApiParameter.HEADER, required=False),
        ],
        responses={201: ItemOutSerializer, 200: ItemOutSerializer,
                   202: OpenApiResponse(ItemOutSerializer, description="Announced response accepted; it is fetched next."),
                   400: ERROR_RESPONSES[400],
                   401: OpenApiResponse(ERROR_RESPONSES[401].response, description="Unknown source, or a missing or bad signature."),
                   413: ERROR_RESPONSES[413]},
    )
    def post(self, request, slug: str):
        source = webhooks.webhook_source(slug)
        delivery = webhooks.Delivery(content_type=request.content_type, headers=request.headers, body=request.body)
        # An unknown slug and a bad signature get the same answer, so slugs cannot be discovered.
        if source is None or not webhooks.webhook_authentic(source=source, delivery=delivery):
            logger.warning("feedback webhook %s: unknown source or bad or missing signature", slug[:64])
            raise AuthenticationFailed(WEBHOOK_UNAUTHENTICATED)
        try:
            outcome = webhooks.webhook_receive(source=source, delivery=delivery)
        except webhooks.UnsupportedContentType as exc:
            raise UnsupportedMediaType(str(exc) or "(none)") from None
        except ItemError as exc:
            _raise_item_error(exc)
        return Response(outcome.body, status=outcome.status_code)


class UploadApi(IngestAPIView):
    """A survey tool's CSV or JSON export, mapped column by column; dry_run previews without storing."""

    required_scopes = [SCOPE]

    class InputSerializer(serializers.Serializer):
        source = serializers.SlugField()
        format = serializers.ChoiceField(choices=["csv", "json"])
        content = serializers.CharField(trim_whitespace=False)
        column_mapping = serializers.DictField(child=serializers.CharField(), required=False)
        dry_run = serializers.BooleanField(default=False)
        save_mapping = serializers.BooleanField(
            default=False, help_text="Keep column_mapping on the source, so the next export needs none."
        )

    @extend_schema(
        operation_id="feedback_upload",
        summary="Upload a survey export (CSV or JSON) with a column mapping",
        request=InputSerializer,
        parameters=[IDEMPOTENCY_KEY_PARAMETER],
        responses={200: OpenApiTypes.OBJECT, **ERROR_RESPONSES},
    )
    @idempotent
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        source = FeedbackSource.objects.filter(slug=data["source"], is_active=True).exclude(
            kind__in=[SourceKind.TYPEFORM, SourceKind.DELIGHTED]
        ).first()
        if source is None:
            raise ValidationError({"source": [f"Unknown upload source {data['source']!r}."]})
        try:
            rows = upload_rows_parse(content=data["content"], fmt=data["format"])
            with transaction.atomic():
                if data["dry_run"]:
                    outcome = upload_preview(source=source, rows=rows, column_mapping=data.get("column_mapping"))
                else:
                    outcome = upload_ingest(source=source, rows=rows, column_mapping=data.get("column_mapping"),
                                            save_mapping=data["save_mapping"])
        except ItemError as exc:
            _raise_item_error(exc)
        return Response(outcome)


class NpsReportApi(IngestAPIView):
    """NPS and CSAT with response counts, grouped by survey, category, seller, segment or period."""

    required_scopes = ["feedback:read"]

    class InputSerializer(serializers.Serializer):
        group_by = serializers.ChoiceField(choices=selectors.REPORT_GROUPS, default="survey")
        start = EventDateTimeField(required=False, max_future=NEAR_FUTURE)
        end = EventDateTimeField(required=False, max_future=NEAR_FUTURE)
        period = serializers.ChoiceField(choices=["day", "week", "month", "quarter"], default="month")
        survey = serializers.SlugField(required=False)

    @extend_schema(
        operation_id="feedback_nps_report",
        summary="NPS and CSAT per survey, category, seller, segment or period",
        parameters=[InputSerializer],
        responses={200: OpenApiTypes.OBJECT, 400: ERROR_RESPONSES[400], 401: ERROR_RESPONSES[401], 403: ERROR_RESPONSES[403]},
    )
    def get(self, request):
        serializer = self.InputSerializer(data=request.query_params)
        serializer.is_valid(raise_exception=True)
        return Response({"rows": selectors.nps_report(**serializer.validated_data)})
