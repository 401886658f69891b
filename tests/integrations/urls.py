"""A tiny endpoint built only from the shared machinery, so the machinery is tested on its own."""

from django.urls import include, path
from django.utils import timezone
from rest_framework import serializers, status
from rest_framework.response import Response

from buyers.models import Buyer
from integrations.api import IngestAPIView, idempotent
from integrations.bulk import CREATED, DUPLICATE, ItemResult, bulk_items_parse, bulk_run, bulk_summary


class ProbeSerializer(serializers.Serializer):
    external_id = serializers.CharField(max_length=64)
    name = serializers.CharField(max_length=200)
    age = serializers.IntegerField(min_value=0, required=False)


def probe_upsert(item: dict) -> ItemResult:
    data = ProbeSerializer(data=item)
    data.is_valid(raise_exception=True)
    buyer, created = Buyer.objects.get_or_create(
        external_id=data.validated_data["external_id"],
        defaults={"name": data.validated_data["name"], "email": "probe@example.com", "joined_at": timezone.now()},
    )
    return ItemResult(status=CREATED if created else DUPLICATE, id=buyer.pk, external_id=buyer.external_id)


class ProbeApi(IngestAPIView):
    required_scopes = ["probe:write"]

    def get(self, request):
        return Response({"ok": True})

    @idempotent
    def post(self, request):
        result = probe_upsert(request.data if isinstance(request.data, dict) else {})
        return Response(result.as_dict(), status=status.HTTP_201_CREATED if result.status == CREATED else 200)


class ProbeBulkApi(IngestAPIView):
    required_scopes = ["probe:write"]

    @idempotent
    def post(self, request):
        items = bulk_items_parse(data=request.data)
        results = bulk_run(items=items, handle=probe_upsert)
        return Response({"summary": bulk_summary(results), "results": results})


urlpatterns = [
    path("probe/", ProbeApi.as_view()),
    path("probe/bulk/", ProbeBulkApi.as_view()),
    path("", include("config.urls")),
]
