"""Retention API: a buyer's profile and recommendations, campaign audiences, intervention impact."""

from __future__ import annotations

from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions, serializers
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response

from buyers import selectors
from retention import audiences, impact
from buyers.models import CampaignAudience
from integrations.api import KilnAPIView

RETENTION_READ = "retention:read"


class RetentionAPIView(KilnAPIView):
    """Staff sessions (audience writes check the Marketplace Admin role in the service), or keys
    with retention:read for reads. Defining audiences stays a person's decision: keys cannot."""

    staff_may_write = True
    required_scopes = [RETENTION_READ]

    def get_required_scopes(self, request) -> list[str] | None:
        # None: no scope grants audience writes to a key.
        return [RETENTION_READ] if request.method in ("GET", "HEAD", "OPTIONS") else None


class ListingRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    artisan_id = serializers.IntegerField()
    artisan = serializers.CharField()
    price = serializers.DecimalField(max_digits=10, decimal_places=2)


class ArtisanRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    craft_category = serializers.CharField()


class BuyerRetentionProfileApi(RetentionAPIView):
    class OutputSerializer(serializers.Serializer):
        buyer_id = serializers.IntegerField()
        external_id = serializers.CharField()
        computed = serializers.BooleanField()
        computed_at = serializers.DateTimeField(allow_null=True)
        segment = serializers.CharField()
        segment_since = serializers.DateTimeField(allow_null=True)
        segment_history = serializers.ListField(child=serializers.DictField())
        order_count = serializers.IntegerField()
        frequency = serializers.IntegerField()
        recency_days = serializers.FloatField()
        age_days = serializers.FloatField()
        days_since_last_order = serializers.FloatField(allow_null=True)
        total_spend = serializers.DecimalField(max_digits=14, decimal_places=2)
        p_alive = serializers.FloatField()
        expected_purchases_90d = serializers.FloatField()
        expected_order_value = serializers.DecimalField(max_digits=12, decimal_places=2)
        clv = serializers.DecimalField(max_digits=14, decimal_places=2)
        churn_probability = serializers.FloatField()
        churn_band = serializers.CharField()
        churn_model_version = serializers.CharField()
        cadence_days = serializers.FloatField(allow_null=True)
        cadence_is_estimated = serializers.BooleanField()
        next_purchase_from = serializers.DateTimeField(allow_null=True)
        next_purchase_to = serializers.DateTimeField(allow_null=True)
        cadence_state = serializers.CharField()
        top_artisan = ArtisanRefSerializer(allow_null=True)
        reasons = serializers.ListField(child=serializers.CharField())

    @extend_schema(responses=OutputSerializer)
    def get(self, request, buyer_id: int):
        profile = selectors.buyer_retention_profile(buyer_id=buyer_id)
        if profile is None:
            raise exceptions.NotFound(f"No buyer with id {buyer_id}.")
        return Response(self.OutputSerializer(profile).data)


class BuyerRecommendationsApi(RetentionAPIView):
    class OutputSerializer(serializers.Serializer):
        buyer_id = serializers.IntegerField()
        computed_at = serializers.DateTimeField(allow_null=True)
        listings = ListingRefSerializer(many=True)
        artisans = ArtisanRefSerializer(many=True)

    @extend_schema(responses=OutputSerializer)
    def get(self, request, buyer_id: int):
        recommendations = selectors.buyer_recommendations(buyer_id=buyer_id)
        if recommendations is None:
            raise exceptions.NotFound(f"No buyer with id {buyer_id}.")
        return Response(self.OutputSerializer(recommendations).data)


class AudienceFilterSerializer(serializers.Serializer):
    segments = serializers.ListField(child=serializers.CharField(), required=False, default=list)
    churn_bands = serializers.ListField(child=serializers.CharField(), required=False, default=list)
    cadence_states = serializers.ListField(child=serializers.CharField(), required=False, default=list)
    points_expiring_within_days = serializers.IntegerField(required=False, allow_null=True, default=None)


def _query_filters(request) -> dict:
    """Filters from a query string: repeated or comma-separated values."""
    params = request.query_params
    data = {}
    for field in ("segments", "churn_bands", "cadence_states"):
        values = [part for value in params.getlist(field) for part in value.split(",") if part]
        data[field] = values
    data["points_expiring_within_days"] = params.get("points_expiring_within_days") or None
    return data


class AudienceOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = CampaignAudience
        fields = ["id", "name", "segments", "churn_bands", "cadence_states", "points_expiring_within_days", "created_at"]


class AudienceListApi(RetentionAPIView):
    class InputSerializer(AudienceFilterSerializer):
        name = serializers.CharField(max_length=120)

    @extend_schema(responses=AudienceOutputSerializer(many=True))
    def get(self, request):
        return Response(AudienceOutputSerializer(CampaignAudience.objects.order_by("name"), many=True).data)

    @extend_schema(request=InputSerializer, responses={201: AudienceOutputSerializer})
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        audience = audiences.audience_save(actor=request.user, name=data.pop("name"), filters=data)
        return Response(AudienceOutputSerializer(audience).data, status=201)


class AudienceMembersPagination(PageNumberPagination):
    page_size = 100
    max_page_size = 1000
    page_size_query_param = "page_size"


class AudienceMemberSerializer(serializers.Serializer):
    buyer_id = serializers.IntegerField()
    external_id = serializers.CharField()
    name = serializers.CharField()
    email = serializers.EmailField()
    segment = serializers.CharField()
    churn_band = serializers.CharField()
    churn_probability = serializers.FloatField()
    cadence_state = serializers.CharField()
    next_purchase_from = serializers.CharField()
    next_purchase_to = serializers.CharField()
    clv_12m = serializers.CharField()
    top_artisan = serializers.CharField()
    recommended_listings = serializers.ListField(child=serializers.DictField())
    reason_for_contact = serializers.CharField()


PaginatedAudienceMemberSerializer = inline_serializer(
    name="PaginatedAudienceMemberList",
    fields={
        "count": serializers.IntegerField(),
        "next": serializers.URLField(allow_null=True),
        "previous": serializers.URLField(allow_null=True),
        "results": AudienceMemberSerializer(many=True),
    },
)
PAGE_PARAMETERS = [
    OpenApiParameter("page", int, description="A page number of the paginated result."),
    OpenApiParameter("page_size", int, description="Members per page (default 100, at most 1000)."),
]
FILTER_PARAMETERS = [
    *(
        OpenApiParameter(name, str, many=True, explode=True, description="Repeated or comma-separated values.")
        for name in ("segments", "churn_bands", "cadence_states")
    ),
    OpenApiParameter("points_expiring_within_days", int),
]


def _members_response(view, request, filters: dict):
    members = audiences.audience_members(filters=filters)
    paginator = AudienceMembersPagination()
    page = paginator.paginate_queryset(members.values_list("buyer_id", flat=True), request, view=view)
    ids = list(page)
    rows = list(audiences.audience_rows(filters=filters, buyer_ids=ids)) if ids else []
    return paginator.get_paginated_response(AudienceMemberSerializer(rows, many=True).data)


class AudienceMembersApi(RetentionAPIView):
    @extend_schema(parameters=PAGE_PARAMETERS, responses=PaginatedAudienceMemberSerializer)
    def get(self, request, audience_id: int):
        audience = get_object_or_404(CampaignAudience, pk=audience_id)
        return _members_response(self, request, audiences.audience_filters_of(audience))


class AudiencePreviewApi(RetentionAPIView):
    """Members for filters given in the query string, without saving an audience."""

    @extend_schema(parameters=[*FILTER_PARAMETERS, *PAGE_PARAMETERS], responses=PaginatedAudienceMemberSerializer)
    def get(self, request):
        return _members_response(self, request, _query_filters(request))


class AudienceExportApi(RetentionAPIView):
    @extend_schema(
        responses={
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.STR, description="CSV attachment, one row per audience member, streamed."
            )
        }
    )
    def get(self, request, audience_id: int):
        audience = get_object_or_404(CampaignAudience, pk=audience_id)
        filters = audiences.audience_filters_of(audience)
        audiences.audience_filters_clean(filters)
        response = StreamingHttpResponse(audiences.audience_csv_lines(filters=filters), content_type="text/csv")
        stamp = timezone.now().strftime("%Y%m%d")
        response["Content-Disposition"] = f'attachment; filename="audience-{audience.pk}-{stamp}.csv"'
        return response


class InterventionImpactApi(RetentionAPIView):
    class OutputSerializer(serializers.Serializer):
        class KindSerializer(serializers.Serializer):
            kind = serializers.CharField()
            treated = serializers.IntegerField()
            treated_retained = serializers.IntegerField()
            treated_rate = serializers.FloatField(allow_null=True)
            treated_ci95 = serializers.ListField(
                child=serializers.FloatField(), min_length=2, max_length=2, allow_null=True, help_text="[low, high]"
            )
            held_out = serializers.IntegerField()
            held_out_retained = serializers.IntegerField()
            held_out_rate = serializers.FloatField(allow_null=True)
            held_out_ci95 = serializers.ListField(
                child=serializers.FloatField(), min_length=2, max_length=2, allow_null=True, help_text="[low, high]"
            )
            lift = serializers.FloatField(allow_null=True)
            lift_ci95 = serializers.ListField(
                child=serializers.FloatField(), min_length=2, max_length=2, allow_null=True, help_text="[low, high]"
            )

        kinds = KindSerializer(many=True)

    @extend_schema(
        parameters=[OpenApiParameter("include_open", bool, description="Count assignments whose window is still open.")],
        responses=OutputSerializer,
    )
    def get(self, request):
        include_open = request.query_params.get("include_open") in ("1", "true")
        return Response({"kinds": impact.intervention_report(include_open=include_open)})
