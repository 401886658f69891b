from django.contrib import admin

from core.models import OutboxMessage, OutboxStatus
from core.outbox import outbox_retry


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
    list_display = ("category", "to", "subject", "status", "attempts", "created_at", "sent_at", "last_error")
    list_filter = ("status", "category")
    search_fields = ("to", "subject", "dedupe_key")
    actions = ["retry_failed"]
    show_full_result_count = False
    readonly_fields = [f.name for f in OutboxMessage._meta.fields]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Retry failed messages", permissions=["change"])
    def retry_failed(self, request, queryset):
        ids = list(queryset.filter(status=OutboxStatus.FAILED).values_list("pk", flat=True))
        count = outbox_retry(message_ids=ids)
        self.message_user(request, f"Queued {count} failed message(s) for another try.")
