from django.contrib import admin
from django.contrib.auth import get_user_model
from rest_framework_api_key.admin import APIKeyModelAdmin

from core.admin import EmptyStateMixin
from integrations.models import ApiKey, IdempotencyRecord, PendingReaction


@admin.register(ApiKey)
class ApiKeyAdmin(EmptyStateMixin, APIKeyModelAdmin):
    """Creating a key shows it once in a message; only its hash is stored. Revoking cannot be undone."""

    empty_state = ("API keys let machine clients, such as the storefront or a feedback provider, call Kiln's API "
                   "with the scopes you grant. A new key is shown once, when it is created.")

    list_display = ("prefix", "name", "scopes", "owner", "created", "expiry_date", "_has_expired", "revoked")
    list_filter = ("revoked", "created")
    list_select_related = ("owner",)
    search_fields = ("name", "prefix", "owner__username")
    actions = ["revoke_keys"]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        # A plain choice of staff: the user lookup popup is the auth admin, which no role may open.
        if db_field.name == "owner":
            kwargs["queryset"] = get_user_model().objects.filter(is_active=True, is_staff=True).order_by("username")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.action(description="Revoke selected keys")
    def revoke_keys(self, request, queryset):
        count = queryset.filter(revoked=False).update(revoked=True)
        self.message_user(request, f"Revoked {count} key(s).")


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(admin.ModelAdmin):
    list_display = ("key", "api_key", "method", "path", "status_code", "created_at")
    list_select_related = ("api_key",)
    search_fields = ("=key", "path")
    show_full_result_count = False
    readonly_fields = [f.name for f in IdempotencyRecord._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(PendingReaction)
class PendingReactionAdmin(admin.ModelAdmin):
    list_display = ("task_path", "subject_id", "created_at")
    search_fields = ("task_path",)
    show_full_result_count = False
