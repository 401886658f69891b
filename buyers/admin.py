from django.contrib import admin

from buyers.models import Buyer


@admin.register(Buyer)
class BuyerAdmin(admin.ModelAdmin):
    list_display = ("name", "external_id", "email", "joined_at")
    search_fields = ("=id", "name", "email", "=external_id")
    date_hierarchy = "joined_at"
    show_full_result_count = False
    readonly_fields = ("created_at", "updated_at")
    exclude = ("synthetic_cadence_days", "synthetic_churned_at")
