from django.contrib import admin
from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from core.formatting import DASH
from core.messaging import KINDS, contact_mark_bounced, message_preview, preview_address_default
from core.models import (
    ContactPreference,
    MessageTemplate,
    MessagingPolicy,
    OutboxMessage,
    OutboxStatus,
)
from core.outbox import outbox_retry


def may_open(admin_site, request, model) -> bool:
    """Whether ``model`` has an admin on the site and the user may open its pages (view or change)."""
    return admin_site.is_registered(model) and admin_site.get_model_admin(model).has_view_or_change_permission(request)


def change_url(admin_site, request, model, pk) -> str | None:
    """The row's admin page, or None where the user could not open it: staff are never sent to a 403."""
    if not may_open(admin_site, request, model):
        return None
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[pk], current_app=admin_site.name)


class EmptyStateMixin:
    """A list that has no rows at all says what it is for and how its first row comes about, where Django
    shows only "0 API keys"; with the add page's link for users who may add. A list emptied by a filter or
    a search is not empty: it keeps Django's own page.

    The page is templates/admin/change_list.html, which every list extends.
    """

    # What the list holds and where its rows come from, in a sentence or two.
    empty_state: str = ""

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        context = getattr(response, "context_data", None)
        changelist = context.get("cl") if context else None
        if self.empty_state and changelist is not None and not changelist.result_count and not changelist.root_queryset.exists():
            add_url = None
            if self.has_add_permission(request):
                add_url = reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_add", current_app=self.admin_site.name)
            context["empty_state"] = {"text": self.empty_state, "add_url": add_url, "add_label": f"Add the first {self.opts.verbose_name}"}
        return response


class LabelledValuesFilter(admin.AllValuesFieldListFilter):
    """Django's filter over the values present in a column, with each value named as staff know it.

    For code columns without choices (an open "kind", a category copied from a listing), where the
    stock filter offers the raw codes. Made per column by ``labelled_values_filter``.
    """

    label = staticmethod(str)
    empty_label: str | None = None

    def choices(self, changelist):
        # Django yields "All", then one choice per present value in lookup order, then the empty one;
        # each display starts with the raw value (or the empty marker), a facet count may follow it.
        values = [str(value) for value in self.lookup_choices if value is not None]
        for index, choice in enumerate(super().choices(changelist)):
            if 1 <= index <= len(values):
                code = values[index - 1]
                choice = {**choice, "display": self.label(code) + choice["display"][len(code):]}
            elif index > len(values) and self.empty_label is not None:
                choice = {**choice, "display": self.empty_label + choice["display"][len(self.empty_value_display):]}
            yield choice


def labelled_values_filter(label, *, empty_label: str | None = None) -> type:
    """A list filter for ``("field", labelled_values_filter(label_function))`` in ``list_filter``;
    ``empty_label`` names the rows without a value (Django's "-" otherwise)."""
    return type("LabelledValuesFilter", (LabelledValuesFilter,), {"label": staticmethod(label), "empty_label": empty_label})


class RelatedAsTextMixin:
    """Read-only related objects link to their page only for users who may open it; others read them as text.

    Django links every read-only foreign key to the related change page, which is a 403 for a role the
    matrix does not let open that model (a feedback source, a staff user).
    """

    def _relation_text_display(self, field):
        # One display per field and admin: the form matches read-only fields by identity.
        displays = self.__dict__.setdefault("_relation_text_displays", {})
        if field.name not in displays:

            def related_text(obj):
                related = getattr(obj, field.name)
                return DASH if related is None else str(related)

            related_text.__name__ = field.name
            related_text.short_description = field.verbose_name
            displays[field.name] = related_text
        return displays[field.name]

    def _shown_as(self, request, name):
        if not isinstance(name, str):
            return name
        try:
            field = self.opts.get_field(name)
        except FieldDoesNotExist:
            return name
        if not (field.many_to_one or field.one_to_one) or not field.concrete:
            return name
        if may_open(self.admin_site, request, field.related_model):
            return name
        return self._relation_text_display(field)

    def get_readonly_fields(self, request, obj=None):
        return [self._shown_as(request, name) for name in super().get_readonly_fields(request, obj)]

    def get_fieldsets(self, request, obj=None):
        # Without change permission Django shows every field read-only, past get_readonly_fields.
        everything_read_only = obj is not None and not self.has_change_permission(request, obj)
        read_only = set(super().get_readonly_fields(request, obj))

        def shown(name):
            if isinstance(name, (list, tuple)):
                return type(name)(shown(inner) for inner in name)
            return self._shown_as(request, name) if everything_read_only or name in read_only else name

        return [(title, {**options, "fields": shown(options["fields"])}) for title, options in super().get_fieldsets(request, obj)]


class OwnHistoryMixin:
    """For rows that keep their own history (a case's events, an alert's acknowledgements) and show it on their page.

    Kiln's services change these rows, never an admin form, so Django's history page, which lists only
    admin-form edits, would always be empty. The page's "History" link goes to the page's own history
    section instead, and is left out for viewers who may not see that section; the history page's address
    (a bookmark, an old link) leads to the section too.
    """

    # The inline that shows the history (its section's id is Django's "<prefix>-group"), or else
    # the id of the section the page's template shows it in.
    own_history_inline: type | None = None
    own_history_anchor: str = ""

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if change and obj is not None:
            section = self.own_history_anchor
            if self.own_history_inline is not None:
                # Only an inline the viewer may see is on the page.
                shown = [formset for formset in context.get("inline_admin_formsets", ()) if isinstance(formset.opts, self.own_history_inline)]
                section = f"{shown[0].formset.prefix}-group" if shown else ""
            # Read by admin/change_form_object_tools.html in place of the link to Django's history page.
            context["own_history"] = {"url": f"#{section}" if section else ""}
        return super().render_change_form(request, context, add, change, form_url, obj)

    def history_view(self, request, object_id, extra_context=None):
        section = self.own_history_anchor
        if self.own_history_inline is not None:
            inline = self.own_history_inline(self.model, self.admin_site)
            section = f"{inline.get_formset(request).get_default_prefix()}-group"
        # The change page checks the row and the viewer as it does for any link to it.
        page = reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_change", args=[object_id], current_app=self.admin_site.name)
        return HttpResponseRedirect(f"{page}#{section}")


class ReadOnlyAdmin(RelatedAsTextMixin, admin.ModelAdmin):
    """For rows Kiln's recomputes write: staff read them, nobody types them in."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class SingletonAdmin(admin.ModelAdmin):
    """For a policy of which one row exists: it is added once, by whoever may add it, and never deleted.

    The menu links straight to the one row (or its add page), see ``singleton_url``.
    """

    def has_add_permission(self, request):
        return super().has_add_permission(request) and not self.model._default_manager.exists()

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        # Kiln's singleton tables allow only the row with pk 1 (a check constraint); a sequence may be past it.
        if not change:
            obj.pk = 1
        super().save_model(request, obj, form, change)

    def singleton_url(self, request) -> str | None:
        """The page the user can open for the one row: its change page, else its add page, else none."""
        existing = self.model._default_manager.values_list("pk", flat=True).first()
        if existing is not None:
            if self.has_view_or_change_permission(request):
                return reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_change", args=[existing])
            return None
        if self.has_add_permission(request):
            return reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_add")
        return None


# The "full picture" of a row draws on apps above the row's own (orders, feedback, loyalty,
# scores), so the presentation layer supplies it: "app_label.model_name" -> fn(obj) -> context.
PROFILE_CONTEXTS: dict = {}


def profile_context_register(model_label: str, function) -> None:
    PROFILE_CONTEXTS[model_label] = function


class Profile360Mixin:
    """A read-only "full picture" page per row, which the list and every case link to."""

    profile_template = ""

    def profile_context(self, obj) -> dict:
        return PROFILE_CONTEXTS[f"{self.opts.app_label}.{self.opts.model_name}"](obj)

    def get_urls(self):
        name = f"{self.opts.app_label}_{self.opts.model_name}_360"
        return [path("<int:object_id>/360/", self.admin_site.admin_view(self.profile_view), name=name), *super().get_urls()]

    def profile_view(self, request, object_id: int):
        if not self.has_view_permission(request):
            raise PermissionDenied
        obj = get_object_or_404(self.get_profile_queryset(), pk=object_id)
        context = {
            **self.admin_site.each_context(request),
            **self.profile_context(obj),
            "title": str(obj),
            "opts": self.opts,
            "original": obj,
            "can_edit": self.has_change_permission(request, obj),
        }
        return TemplateResponse(request, self.profile_template, context)

    def get_profile_queryset(self):
        return self.model._default_manager.all()

    @admin.display(description="name", ordering="name")
    def name_360(self, obj):
        url = reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_360", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, obj.name)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # The edit page links to the full picture, which is where staff who only read want to be.
        profile = reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_360", args=[object_id]) if str(object_id).isdigit() else None
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), "profile_url": profile})


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
    list_display = ("category", "to", "subject", "status", "suppressed_reason", "attempts", "created_at", "sent_at", "last_error")
    list_filter = ("status", "suppressed_reason", "category", "exempt")
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


@admin.register(ContactPreference)
class ContactPreferenceAdmin(admin.ModelAdmin):
    list_display = ("address", "channel", "muted_topics", "weekly_cap", "time_zone", "unsubscribed_at", "hard_bounced_at")
    list_filter = ("channel",)
    search_fields = ("address",)
    actions = ["mark_hard_bounced", "clear_suppression"]

    @admin.action(description="Mark as hard-bounced (stop all mail)", permissions=["change"])
    def mark_hard_bounced(self, request, queryset):
        for pref in queryset:
            contact_mark_bounced(address=pref.address, detail=f"marked by {request.user}")
        self.message_user(request, f"{queryset.count()} address(es) suppressed.")

    @admin.action(description="Clear unsubscribe and bounce (the person asked to hear again)", permissions=["change"])
    def clear_suppression(self, request, queryset):
        count = queryset.update(unsubscribed_at=None, hard_bounced_at=None, bounce_detail="")
        self.message_user(request, f"{count} address(es) may receive mail again.")


@admin.register(MessagingPolicy)
class MessagingPolicyAdmin(SingletonAdmin):
    list_display = ("__str__", "global_weekly_cap", "quiet_start_hour", "quiet_end_hour", "default_time_zone")


@admin.register(MessageTemplate)
class MessageTemplateAdmin(EmptyStateMixin, admin.ModelAdmin):
    """Admins reword a category's message; the preview renders it for a real recipient."""

    empty_state = ("A message template rewords the email of one category, such as the points expiry reminder. "
                   "Until a category has one, its built-in wording is sent.")

    list_display = ("category", "subject", "is_active", "updated_at")
    readonly_fields = ("preview",)
    fields = ("category", "subject", "body", "is_active", "preview")

    @admin.display(description="Preview (for ?preview_to=<address>, else the first buyer)")
    def preview(self, obj):
        if obj is None or not obj.pk:
            return "Save to preview."
        address = getattr(self, "_preview_to", "") or preview_address_default()
        shown = message_preview(category=obj.category, address=address, source=(obj.subject, obj.body))
        if shown["error"]:
            return format_html('<strong style="color:#ba2121">Does not render: {}</strong>', shown["error"])
        return format_html("<p>To: {}</p><p><strong>{}</strong></p><pre style='white-space:pre-wrap'>{}</pre>", address, shown["subject"], shown["body"])

    def change_view(self, request, object_id, form_url="", extra_context=None):
        self._preview_to = request.GET.get("preview_to", "")
        extra_context = {**(extra_context or {}), "known_categories": sorted(KINDS)}
        return super().change_view(request, object_id, form_url, extra_context)
