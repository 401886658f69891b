"""Storefront sync API: a single and a bulk endpoint per kind of object, all built from the
shared ingestion machinery (integrations/api.py, integrations/bulk.py)."""

from collections.abc import Callable

from django.db import DataError, IntegrityError, transaction
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response

from integrations.api import ERROR_RESPONSES, IDEMPOTENCY_KEY_PARAMETER, IngestAPIView, idempotent
from integrations.bulk import (
    CREATED,
    MAX_BULK_ITEMS,
    ItemResult,
    bulk_items_parse,
    bulk_objects_only,
    bulk_run,
    bulk_summary,
    bulk_validate,
    gc_paused,
)
from integrations.reactions import reactions_batched
from marketplace import serializers as inputs
from marketplace import services
from marketplace.selectors import ExternalRefs, external_refs_for_items

STOREFRONT_WRITE = "storefront:write"


class StorefrontApi(IngestAPIView):
    required_scopes = [STOREFRONT_WRITE]
    input_serializer: type[serializers.Serializer]
    service: Callable[..., ItemResult]

    def handle_item(self, item, refs: ExternalRefs, validator: serializers.Serializer | None = None) -> ItemResult:
        # One validator instance is reused across a bulk request's items.
        validator = validator or self.input_serializer()
        return type(self).service(data=validator.run_validation(item), refs=refs)


class StorefrontSingleApi(StorefrontApi):
    @idempotent
    def post(self, request):
        if not isinstance(request.data, dict):
            raise serializers.ValidationError({"body": ["Expected a JSON object."]})
        try:
            with transaction.atomic():
                result = self.handle_item(request.data, ExternalRefs())
        except (IntegrityError, DataError) as exc:
            # A database constraint the validation did not foresee (e.g. an application date moved
            # after the approval date): a 400 with the constraint's message, nothing saved.
            raise serializers.ValidationError({"non_field_errors": [f"Rejected by the database: {exc}".strip()]}) from None
        code = status.HTTP_201_CREATED if result.status == CREATED else status.HTTP_200_OK
        return Response(result.as_dict(), status=code)


class StorefrontBulkApi(StorefrontApi):
    def run_objects(self, items: list[dict]) -> list[dict]:
        refs = external_refs_for_items(items=items, fields=self.ref_fields)
        if self.bulk_service is not None:
            # Input validation is the API's; the set-based service receives validated items only.
            candidates, results = bulk_validate(serializer_class=self.input_serializer, items=items)
            return type(self).bulk_service(candidates=candidates, results=results, total=len(items), refs=refs)
        validator = self.input_serializer()
        return bulk_run(items=items, handle=lambda item: self.handle_item(item, refs, validator))

    ref_fields: dict[str, str] = {}
    # A set-based service taking (candidates, results, total, refs) and answering per item, where one exists.
    bulk_service: Callable[..., list[dict]] | None = None

    @idempotent
    def post(self, request):
        with gc_paused():
            items = bulk_items_parse(data=request.data)
            with reactions_batched():
                results = bulk_objects_only(items=items, run=self.run_objects)
        return Response({"summary": bulk_summary(results), "results": results})


def _without_refs(service):
    def call(*, data, refs):
        return service(data=data)

    return call


def _endpoint_pair(
    *, name: str, noun: str, input_serializer, service, ref_fields: dict[str, str], description: str, bulk_service=None
):
    single_responses = {
        201: OpenApiResponse(inputs.ItemResultSerializer, description="Created."),
        200: OpenApiResponse(inputs.ItemResultSerializer, description="Updated, or `duplicate`: already known, nothing changed."),
        **ERROR_RESPONSES,
    }
    if name == "OrderStatus":
        single_responses[409] = OpenApiResponse(
            ERROR_RESPONSES[400].response, description="An earlier lifecycle step has not arrived; `missing` names it."
        )
    single = extend_schema_view(
        post=extend_schema(
            operation_id=f"storefront_{noun}_sync",
            summary=f"Sync one {noun.replace('_', ' ')}",
            description=description,
            tags=["storefront"],
            request=input_serializer,
            parameters=[IDEMPOTENCY_KEY_PARAMETER],
            responses=single_responses,
        )
    )(type(f"{name}SyncApi", (StorefrontSingleApi,), {
        "input_serializer": input_serializer, "service": staticmethod(service), "__doc__": description,
    }))
    bulk = extend_schema_view(
        post=extend_schema(
            operation_id=f"storefront_{noun}_sync_bulk",
            summary=f"Sync up to {MAX_BULK_ITEMS} {noun.replace('_', ' ')} items",
            description=(
                f"{description}\n\nEach item is processed in its own transaction: good items are kept, bad ones are "
                "rejected one by one with their errors. The answer lists one result per item, by index."
            ),
            tags=["storefront"],
            request=inline_serializer(name=f"{name}BulkRequest", fields={
                "items": input_serializer(many=True, max_length=MAX_BULK_ITEMS),
            }),
            parameters=[IDEMPOTENCY_KEY_PARAMETER],
            responses={200: inputs.BulkOutputSerializer, **ERROR_RESPONSES},
        )
    )(type(f"{name}SyncBulkApi", (StorefrontBulkApi,), {
        "input_serializer": input_serializer, "service": staticmethod(service), "ref_fields": ref_fields,
        "bulk_service": staticmethod(bulk_service) if bulk_service else None, "__doc__": description,
    }))
    return single, bulk


SellerSyncApi, SellerSyncBulkApi = _endpoint_pair(
    name="Seller", noun="seller", input_serializer=inputs.SellerInputSerializer,
    service=_without_refs(services.seller_upsert), ref_fields={},
    description="Upsert an artisan by external ID. A new external ID is a new application: it is scored and routed.",
)
BuyerSyncApi, BuyerSyncBulkApi = _endpoint_pair(
    name="Buyer", noun="buyer", input_serializer=inputs.BuyerInputSerializer,
    service=_without_refs(services.buyer_upsert), ref_fields={},
    description="Upsert a buyer by external ID.",
)
ListingSyncApi, ListingSyncBulkApi = _endpoint_pair(
    name="Listing", noun="listing", input_serializer=inputs.ListingInputSerializer,
    service=services.listing_upsert, ref_fields={"seller": "seller"},
    description="Upsert a listing and its stock by external ID. `stock_quantity: null` means stock is not tracked.",
)
OrderSyncApi, OrderSyncBulkApi = _endpoint_pair(
    name="Order", noun="order", input_serializer=inputs.OrderInputSerializer,
    service=services.order_create, bulk_service=services.order_bulk_create,
    ref_fields={"external_id": "order", "buyer": "buyer", "seller": "seller", "lines.listing": "listing"},
    description=(
        "Create a placed order with its lines. Tracked stock is taken; a quantity above stock is rejected. "
        "Orders are immutable: resending an external ID answers `duplicate`."
    ),
)
OrderStatusSyncApi, OrderStatusSyncBulkApi = _endpoint_pair(
    name="OrderStatus", noun="order_status", input_serializer=inputs.OrderStatusInputSerializer,
    # The set-based service locks and reads the orders itself; nothing to prefetch.
    service=services.order_status_change, bulk_service=services.order_status_bulk_change, ref_fields={},
    description=(
        "Move an order to shipped, delivered, cancelled (with a reason) or returned (with a reason; creates a "
        "Return). A step whose predecessors have not arrived gets 409 naming them; an impossible step (e.g. a "
        "return of a cancelled order, a delivery time before the shipment) gets 400; a step already passed "
        "answers `duplicate`."
    ),
)
ReviewSyncApi, ReviewSyncBulkApi = _endpoint_pair(
    name="Review", noun="review", input_serializer=inputs.ReviewInputSerializer,
    service=services.review_upsert, ref_fields={"buyer": "buyer", "seller": "seller", "order": "order"},
    description="Create a review, or apply an edit of its rating or text, by external ID.",
)
EngagementEventSyncApi, EngagementEventSyncBulkApi = _endpoint_pair(
    name="EngagementEvent", noun="engagement_event", input_serializer=inputs.EngagementEventInputSerializer,
    service=services.engagement_event_create,
    ref_fields={"buyer": "buyer", "seller": "seller", "target_seller": "seller"},
    description="Record an engagement event (exactly one actor: buyer or seller). Resending answers `duplicate`.",
)
