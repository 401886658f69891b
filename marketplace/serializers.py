"""Input shapes for the storefront sync API. They check types and ranges only; the services
resolve external IDs and apply the lifecycle rules."""

from rest_framework import serializers

from integrations.fields import NEAR_FUTURE, EventDateTimeField
from marketplace.models import CancelReason, EngagementKind, ReturnReason
from sellers.models import CraftCategory

EXTERNAL_ID = {"max_length": 64, "allow_blank": False, "trim_whitespace": True}
MONEY = {"max_digits": 10, "decimal_places": 2, "min_value": 0}


class SellerInputSerializer(serializers.Serializer):
    external_id = serializers.CharField(**EXTERNAL_ID)
    name = serializers.CharField(max_length=200)
    email = serializers.EmailField()
    phone = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")
    craft_category = serializers.ChoiceField(choices=CraftCategory.choices)
    is_seasonal = serializers.BooleanField(required=False, default=False)
    years_experience = serializers.IntegerField(min_value=0, max_value=100, required=False, default=0)
    has_portfolio = serializers.BooleanField(required=False, default=False)
    applied_at = EventDateTimeField()


class BuyerInputSerializer(serializers.Serializer):
    external_id = serializers.CharField(**EXTERNAL_ID)
    name = serializers.CharField(max_length=200)
    email = serializers.EmailField()
    joined_at = EventDateTimeField()


class ListingInputSerializer(serializers.Serializer):
    external_id = serializers.CharField(**EXTERNAL_ID)
    seller = serializers.CharField(help_text="The seller's external ID.", **EXTERNAL_ID)
    title = serializers.CharField(max_length=200)
    category = serializers.ChoiceField(choices=CraftCategory.choices)
    price = serializers.DecimalField(**MONEY)
    stock_quantity = serializers.IntegerField(
        min_value=0, max_value=10_000_000, allow_null=True, required=False, default=None,
        help_text="Units in stock; null when the artisan does not track stock (made to order).",
    )
    is_seasonal = serializers.BooleanField(required=False, default=False)
    is_active = serializers.BooleanField(required=False, default=True)
    created_at = EventDateTimeField(required=False)


class OrderLineInputSerializer(serializers.Serializer):
    listing = serializers.CharField(help_text="The listing's external ID.", **EXTERNAL_ID)
    quantity = serializers.IntegerField(min_value=1, max_value=10_000)
    unit_price = serializers.DecimalField(**MONEY)


class OrderInputSerializer(serializers.Serializer):
    external_id = serializers.CharField(**EXTERNAL_ID)
    buyer = serializers.CharField(help_text="The buyer's external ID.", **EXTERNAL_ID)
    seller = serializers.CharField(help_text="The seller's external ID.", **EXTERNAL_ID)
    placed_at = EventDateTimeField()
    ship_by = EventDateTimeField(max_future=NEAR_FUTURE, help_text="The promised ship-by time; not before placed_at.")
    total_amount = serializers.DecimalField(
        max_digits=12, decimal_places=2, min_value=0, required=False,
        help_text="Defaults to the sum of the lines.",
    )
    lines = OrderLineInputSerializer(many=True, allow_empty=False, max_length=200)

    def validate(self, attrs):
        if attrs["ship_by"] < attrs["placed_at"]:
            raise serializers.ValidationError({"ship_by": ["Must not be before placed_at."]})
        return attrs


class OrderStatusInputSerializer(serializers.Serializer):
    STATUSES = ("shipped", "delivered", "cancelled", "returned")

    order = serializers.CharField(help_text="The order's external ID.", **EXTERNAL_ID)
    status = serializers.ChoiceField(choices=STATUSES)
    at = EventDateTimeField(help_text="When it happened on the storefront.")
    reason = serializers.CharField(
        required=False, allow_blank=True, default="",
        help_text=(
            f"Required for cancelled ({', '.join(CancelReason.values)}) "
            f"and returned ({', '.join(ReturnReason.values)})."
        ),
    )
    detail = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)
    refund_amount = serializers.DecimalField(
        max_digits=12, decimal_places=2, min_value=0, required=False,
        help_text="For returns; defaults to the order total.",
    )

    def validate(self, attrs):
        status = attrs["status"]
        if status == "cancelled" and attrs["reason"] not in CancelReason.values:
            raise serializers.ValidationError(
                {"reason": [f"A cancellation needs a reason, one of: {', '.join(CancelReason.values)}."]}
            )
        if status == "returned" and attrs["reason"] not in ReturnReason.values:
            raise serializers.ValidationError(
                {"reason": [f"A return needs a reason, one of: {', '.join(ReturnReason.values)}."]}
            )
        return attrs


class ReviewInputSerializer(serializers.Serializer):
    external_id = serializers.CharField(**EXTERNAL_ID)
    buyer = serializers.CharField(help_text="The buyer's external ID.", **EXTERNAL_ID)
    seller = serializers.CharField(help_text="The seller's external ID.", **EXTERNAL_ID)
    order = serializers.CharField(required=False, allow_null=True, default=None, max_length=64)
    rating = serializers.IntegerField(min_value=1, max_value=5)
    text = serializers.CharField(required=False, allow_blank=True, default="", max_length=20_000)
    created_at = EventDateTimeField()
    updated_at = EventDateTimeField(required=False, help_text="Defaults to created_at.")

    def validate(self, attrs):
        if attrs.get("updated_at") and attrs["updated_at"] < attrs["created_at"]:
            raise serializers.ValidationError({"updated_at": ["Must not be before created_at."]})
        return attrs


class EngagementEventInputSerializer(serializers.Serializer):
    external_id = serializers.CharField(**EXTERNAL_ID)
    kind = serializers.ChoiceField(choices=EngagementKind.choices)
    buyer = serializers.CharField(required=False, allow_null=True, default=None, max_length=64)
    seller = serializers.CharField(required=False, allow_null=True, default=None, max_length=64)
    target_seller = serializers.CharField(
        required=False, allow_null=True, default=None, max_length=64,
        help_text="The artisan a buyer followed, messaged or whose event they attended.",
    )
    occurred_at = EventDateTimeField()
    response_minutes = serializers.IntegerField(min_value=0, max_value=1_000_000, required=False, allow_null=True, default=None)

    def validate(self, attrs):
        if bool(attrs["buyer"]) == bool(attrs["seller"]):
            raise serializers.ValidationError({"buyer": ["Give exactly one actor: buyer or seller."]})
        return attrs


class ItemResultSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["created", "updated", "duplicate", "rejected"])
    id = serializers.IntegerField(allow_null=True)
    external_id = serializers.CharField(allow_null=True)
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))


class BulkItemResultSerializer(ItemResultSerializer):
    index = serializers.IntegerField()
    code = serializers.CharField(required=False)


class BulkSummarySerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    duplicate = serializers.IntegerField()
    rejected = serializers.IntegerField()


class BulkOutputSerializer(serializers.Serializer):
    summary = BulkSummarySerializer()
    results = BulkItemResultSerializer(many=True)
