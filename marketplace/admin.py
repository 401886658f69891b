from django.contrib import admin

from core.admin import SingletonAdmin
from core.formatting import money
from marketplace.models import EngagementEvent, LateOrderNotice, LateOrderPolicy, Order, OrderLine, Return, Review


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    extra = 0
    raw_id_fields = ("listing",)


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ("external_id", "buyer", "seller", "status", "total_display", "placed_at", "ship_by", "shipped_at")
    list_filter = ("status", "cancel_reason", "seller__craft_category")
    list_select_related = ("buyer", "seller")
    search_fields = ("=external_id", "buyer__name", "buyer__email", "=buyer__external_id", "seller__name", "=seller__external_id")
    raw_id_fields = ("buyer", "seller")
    show_full_result_count = False
    inlines = [OrderLineInline]

    @admin.display(description="Total amount", ordering="total_amount")
    def total_display(self, order):
        return money(order.total_amount)


@admin.register(Return)
class ReturnAdmin(admin.ModelAdmin):
    list_display = ("order", "reason", "refund_display", "created_at")
    list_filter = ("reason",)
    list_select_related = ("order",)
    raw_id_fields = ("order",)
    search_fields = ("=order__external_id",)
    show_full_result_count = False

    @admin.display(description="Refund amount", ordering="refund_amount")
    def refund_display(self, refund):
        return money(refund.refund_amount)


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin):
    list_display = ("seller", "buyer", "rating", "created_at")
    list_filter = ("rating",)
    list_select_related = ("seller", "buyer")
    raw_id_fields = ("order", "buyer", "seller")
    search_fields = ("=external_id", "seller__name", "buyer__name", "text")
    show_full_result_count = False


@admin.register(EngagementEvent)
class EngagementEventAdmin(admin.ModelAdmin):
    list_display = ("kind", "buyer", "seller", "target_seller", "occurred_at")
    list_filter = ("kind",)
    list_select_related = ("buyer", "seller", "target_seller")
    raw_id_fields = ("buyer", "seller", "target_seller")
    show_full_result_count = False


@admin.register(LateOrderPolicy)
class LateOrderPolicyAdmin(SingletonAdmin):
    """Admin-only configuration: the role matrix grants its permissions to Marketplace Admins alone."""

    list_display = ("__str__", "grace_hours", "lookback_days", "artisan_window_days", "artisan_min_orders", "artisan_late_rate")


@admin.register(LateOrderNotice)
class LateOrderNoticeAdmin(admin.ModelAdmin):
    list_display = ("order", "buyer", "seller", "arm", "detected_at", "message")
    list_filter = ("arm",)
    list_select_related = ("order", "buyer", "seller", "message")
    raw_id_fields = ("order", "buyer", "seller", "message")
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
