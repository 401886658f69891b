from django.contrib import admin

from sellers.models import Listing, Seller


@admin.register(Seller)
class SellerAdmin(admin.ModelAdmin):
    list_display = ("name", "external_id", "craft_category", "onboarding_status", "is_seasonal", "applied_at")
    list_filter = ("craft_category", "onboarding_status", "is_seasonal")
    search_fields = ("=id", "name", "email", "=external_id")
    date_hierarchy = "applied_at"
    show_full_result_count = False
    readonly_fields = ("created_at", "updated_at")
    exclude = ("synthetic_quality",)


@admin.register(Listing)
class ListingAdmin(admin.ModelAdmin):
    list_display = ("title", "seller", "category", "price", "stock_quantity", "stock_updated_at", "is_seasonal", "is_active")
    list_filter = ("category", "is_seasonal", "is_active")
    list_select_related = ("seller",)
    search_fields = ("title", "=external_id", "seller__name", "=seller__external_id")
    raw_id_fields = ("seller",)
    show_full_result_count = False
