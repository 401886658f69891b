from decimal import Decimal, InvalidOperation

from django import forms
from django.apps import apps
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import pluralize
from django.template.loader import render_to_string
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from core.admin import EmptyStateMixin, OwnHistoryMixin, ReadOnlyAdmin, RelatedAsTextMixin, SingletonAdmin, change_url
from core.formatting import dates_as_days, day
from loyalty import badges, member_view, selectors, services, simulation, tiers
from loyalty.competitions import COUNTABLE_KINDS, competition_close, competition_standings
from loyalty.configuration import PlainConfigurationForm
from loyalty.rules import rule_points_display
from loyalty.models import (
    Badge,
    BadgeAward,
    Competition,
    CompetitionAward,
    CompetitionPrize,
    EarningRule,
    LoyaltyMember,
    LoyaltyProgram,
    PointsEntry,
    Redemption,
    Reward,
    RuleKind,
    Tier,
    TierChange,
    TierOverride,
)


@admin.register(LoyaltyProgram)
class LoyaltyProgramAdmin(SingletonAdmin):
    form = PlainConfigurationForm
    list_display = ("__str__", "pending_days", "expiry_policy", "expiry_days", "tier_basis", "tier_window_days",
                    "downgrade_grace_days")


class TierForm(PlainConfigurationForm):
    class Meta:
        model = Tier
        fields = "__all__"

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        table = [{"code": t.code, "rank": t.rank, "threshold": t.threshold, "multiplier": t.multiplier}
                 for t in Tier.objects.exclude(pk=self.instance.pk)]
        table.append({"code": cleaned["code"], "rank": cleaned["rank"], "threshold": cleaned["threshold"],
                      "multiplier": cleaned["multiplier"]})
        try:
            tiers.tiers_validate(tiers=table)
        except ValidationError as exc:
            raise forms.ValidationError({"threshold": exc.message_dict["tiers"]}) from exc
        return cleaned


@admin.register(Tier)
class TierAdmin(admin.ModelAdmin):
    form = TierForm
    list_display = ("name", "code", "rank", "threshold_display", "multiplier", "member_count")
    ordering = ("rank",)
    readonly_fields = ("preview",)
    change_list_template = "admin/loyalty/tier/change_list.html"

    def get_queryset(self, request):
        from django.db.models import Count

        # The program's basis gives every threshold its unit; read with the rows, not once per row.
        return super().get_queryset(request).annotate(n_members=Count("members"), basis=selectors.tier_basis_subquery())

    @admin.display(description="threshold", ordering="threshold")
    def threshold_display(self, obj):
        return member_view.basis_amount(obj.threshold, obj.basis)

    @staticmethod
    def _preview():
        """Members per tier now, and where the saved thresholds put them at the next recompute."""
        configured = [{"code": t.code, "name": t.name, "rank": t.rank, "threshold": t.threshold, "multiplier": t.multiplier}
                      for t in Tier.objects.order_by("rank")]
        if not configured:
            return None
        try:
            result = tiers.tiers_preview(tiers=configured)
        except ValidationError:
            return None
        names = {t["code"]: t["name"] for t in configured}
        return {**result, "rows": [{**row, "name": names[row["code"]]} for row in result["tiers"]]}

    @admin.display(description="tier preview")
    def preview(self, obj):
        result = self._preview()
        if result is None:
            return "—"
        return format_html(
            "<table id='tier-preview'><tr><th>Tier</th><th>Threshold</th><th>Members now</th><th>After the next recompute</th></tr>{}</table>",
            format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                             ((r["name"], member_view.basis_amount(r["threshold"], result["basis"]), r["members_now"],
                               r["members_after_recompute"]) for r in result["rows"])),
        )

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "tier_preview": self.preview(None)}
        return super().changelist_view(request, extra_context=extra_context)

    @admin.display(description="members", ordering="n_members")
    def member_count(self, obj):
        return obj.n_members


@admin.register(EarningRule)
class EarningRuleAdmin(admin.ModelAdmin):
    form = PlainConfigurationForm
    list_display = ("name", "kind", "promotion_of", "priority", "points_display", "multiplier", "exclusive", "is_active",
                    "target_tier", "target_segment", "starts_at", "ends_at", "cap")
    list_filter = ("kind", "is_active")
    list_select_related = ("target_tier",)
    ordering = ("kind", "-priority", "id")
    actions = ("simulate_last_month",)
    readonly_fields = ("precedence",)

    @admin.display(description="earns", ordering="points")
    def points_display(self, obj):
        return rule_points_display(obj)

    @admin.display(description="cap")
    def cap(self, obj):
        return f"{obj.cap_points}/{obj.cap_period}" if obj.cap_points is not None else "—"

    @admin.display(description="precedence for this kind")
    def precedence(self, obj):
        if not obj.pk:
            return "Shown after saving."
        kind = obj.promotion_of if obj.kind == RuleKind.PROMOTION else obj.kind
        steps = selectors.rule_precedence(kind=kind)
        return format_html(
            "<ol>{}</ol>",
            format_html_join("", "<li>{} (priority {}, {}): {}</li>",
                             ((s["name"], s["priority"], s["stage"], s["role"]) for s in steps)),
        )

    @admin.action(description="Simulate over the last 30 days")
    def simulate_last_month(self, request, queryset):
        for rule in queryset[:5]:
            self.message_user(request, simulation.rule_simulate(rule=rule)["summary"])


@admin.register(Badge)
class BadgeAdmin(admin.ModelAdmin):
    form = PlainConfigurationForm
    list_display = ("name", "code", "metric", "threshold", "window_days", "repeatable", "points_bonus", "is_active")
    list_filter = ("metric", "is_active")
    actions = ("evaluate_now",)

    @admin.action(description="Evaluate now (award qualifying members)")
    def evaluate_now(self, request, queryset):
        from loyalty.tasks import evaluate_badges_task

        evaluate_badges_task.delay(list(queryset.values_list("pk", flat=True)))
        self.message_user(request, "Badge evaluation queued.")


class RevokeForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea, required=True)


@admin.register(BadgeAward)
class BadgeAwardAdmin(RelatedAsTextMixin, admin.ModelAdmin):
    list_display = ("badge", "buyer", "period_key", "metric_value", "awarded_at", "revoked_at", "revoke_link")
    list_filter = ("badge", ("revoked_at", admin.EmptyFieldListFilter))
    list_select_related = ("badge", "buyer")
    search_fields = ("buyer__name", "buyer__email", "buyer__external_id")
    readonly_fields = ("badge", "buyer", "period_key", "metric_value", "awarded_at", "revoked_at", "revoked_reason", "revoked_by")
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def get_urls(self):
        return [path("<int:award_id>/revoke/", self.admin_site.admin_view(self.revoke_view), name="loyalty_badgeaward_revoke"),
                *super().get_urls()]

    @admin.display(description="")
    def revoke_link(self, obj):
        if obj.revoked_at:
            return ""
        return format_html('<a href="{}">Revoke…</a>', reverse("admin:loyalty_badgeaward_revoke", args=[obj.pk]))

    def revoke_view(self, request, award_id: int):
        award = get_object_or_404(BadgeAward.objects.select_related("badge", "buyer"), pk=award_id)
        form = RevokeForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                badges.badge_revoke(award_id=award.pk, reason=form.cleaned_data["reason"], actor=request.user)
            except (ValidationError, PermissionDenied) as exc:
                form.add_error(None, "; ".join(getattr(exc, "messages", [str(exc)])))
            else:
                self.message_user(request, f"Revoked {award.badge} for {award.buyer}.")
                return redirect("admin:loyalty_badgeaward_changelist")
        context = {**self.admin_site.each_context(request), "title": f"Revoke {award.badge} from {award.buyer}",
                   "form": form, "opts": self.model._meta}
        return render(request, "admin/loyalty/form.html", context)


@admin.register(Reward)
class RewardAdmin(RelatedAsTextMixin, admin.ModelAdmin):
    form = PlainConfigurationForm
    list_display = ("name", "points_cost", "stock", "min_tier", "priority_tier", "priority_until", "category", "is_active")
    list_select_related = ("min_tier", "priority_tier")
    list_filter = ("is_active", "category")


@admin.register(TierOverride)
class TierOverrideAdmin(EmptyStateMixin, admin.ModelAdmin):
    empty_state = ("A tier override keeps a member in a chosen tier until a date, whatever their tier basis says. "
                   "Each one needs a reason, shown in the member's tier history.")

    list_display = ("buyer", "tier", "starts_at", "ends_at", "created_by", "reason")
    list_select_related = ("buyer", "tier", "created_by")
    search_fields = ("buyer__name", "buyer__email", "buyer__external_id")
    raw_id_fields = ("buyer",)
    fields = ("buyer", "tier", "reason", "starts_at", "ends_at")

    def has_change_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        tiers.tier_override_create(buyer_id=obj.buyer_id, tier_id=obj.tier_id, reason=obj.reason, ends_at=obj.ends_at,
                                   starts_at=obj.starts_at, actor=request.user)

    def response_add(self, request, obj, post_url_continue=None):
        return redirect("admin:loyalty_tieroverride_changelist")


class LedgerReadOnlyAdmin(ReadOnlyAdmin):
    show_full_result_count = False


@admin.register(PointsEntry)
class PointsEntryAdmin(LedgerReadOnlyAdmin):
    list_display = ("created_at", "buyer", "amount", "kind", "state", "source_type", "source_id", "rule", "reason_shown",
                    "remaining", "expires_at")
    list_filter = ("kind", "state", "source_type")
    list_select_related = ("buyer", "rule")
    search_fields = ("buyer__name", "buyer__email", "buyer__external_id")
    exclude = ("breakdown", "reason")
    readonly_fields = ("reason_shown", "breakdown_shown")

    @admin.display(description="reason")
    def reason_shown(self, entry):
        return dates_as_days(entry.reason)

    @admin.display(description="breakdown")
    def breakdown_shown(self, entry):
        # A lot is a points entry too: whoever reads this entry's page may open the lot's.
        lines = breakdown_lines(entry.breakdown or {},
                                lot_url=lambda pk: reverse("admin:loyalty_pointsentry_change", args=[pk]))
        return format_html_join(mark_safe("<br>"), "{}", ((line,) for line in lines)) if lines else "—"


def _plain_number(value) -> str:
    """ "40.0000" as 40 and "1.2500" as 1.25: the breakdown keeps Decimal's exponent, people don't."""
    try:
        return f"{Decimal(str(value)).normalize():f}"
    except (InvalidOperation, ValueError):
        return str(value)


def _rule_names(ids) -> dict[int, str]:
    return dict(EarningRule.objects.filter(pk__in=[int(i) for i in ids if str(i).isdigit()]).values_list("pk", "name"))


def breakdown_lines(breakdown: dict, *, lot_url) -> list:
    """A points entry's breakdown (see loyalty.rules.RuleBook.price) as labelled lines, unknown keys labelled from the key."""
    promo_ids = [*breakdown.get("promotions", []), *breakdown.get("skipped_exclusive_promotions", []),
                 *breakdown.get("shadowed_rules", []), *breakdown.get("promotion_points", {})]
    names = _rule_names([breakdown.get("rule"), *promo_ids])

    def rule_label(pk) -> str:
        name = names.get(int(pk)) if str(pk).isdigit() else None
        return f"{name} (#{pk})" if name else f"rule #{pk}"

    lines, shown = [], set()

    def add(key, line):
        if key in breakdown:
            shown.add(key)
            lines.append(line)

    if "rule" in breakdown:
        name = breakdown.get("rule_name") or names.get(breakdown["rule"])
        add("rule", f"Rule: {name} (#{breakdown['rule']})" if name else f"Rule: #{breakdown['rule']}")
        shown.add("rule_name")
    add("base_points", f"Base points: {_plain_number(breakdown.get('base_points'))}")
    if "tier_multiplier" in breakdown:
        tier_code = breakdown.get("tier")
        tier_name = Tier.objects.filter(code=tier_code).values_list("name", flat=True).first() or tier_code
        add("tier_multiplier", f"Tier multiplier: ×{_plain_number(breakdown['tier_multiplier'])}"
                               + (f" ({tier_name})" if tier_name else ""))
        shown.add("tier")
    elif "tier" in breakdown:
        add("tier", f"Tier: {breakdown['tier']}")
    if breakdown.get("promotions"):
        extras = breakdown.get("promotion_points") or {}
        for pk in breakdown["promotions"]:
            extra = extras.get(str(pk))
            lines.append(f"Promotion: {rule_label(pk)}" + (f", +{extra} points" if extra is not None else ""))
        shown.update({"promotions", "promotion_points"})
    add("promotion_multiplier", f"Promotion multiplier: ×{_plain_number(breakdown.get('promotion_multiplier'))}")
    for pk, wanted in (breakdown.get("promotion_capped_from") or {}).items():
        lines.append(f"Promotion {rule_label(pk)} capped from {wanted} points by its cap")
    shown.add("promotion_capped_from")
    if breakdown.get("skipped_exclusive_promotions"):
        add("skipped_exclusive_promotions", "Not applied (an exclusive promotion came first): "
            + ", ".join(rule_label(pk) for pk in breakdown["skipped_exclusive_promotions"]))
    if breakdown.get("shadowed_rules"):
        add("shadowed_rules", "Rules of lower priority not applied: "
            + ", ".join(rule_label(pk) for pk in breakdown["shadowed_rules"]))
    if "capped_from" in breakdown:
        add("capped_from", f"Capped from {breakdown['capped_from']} to the cap {breakdown.get('cap', '—')}")
        shown.add("cap")
    add("fixed", f"Fixed award of {breakdown.get('fixed')} points (no earning rule applies)")
    add("no_rule", f"No earning rule matched this {str(breakdown.get('no_rule', '')).replace('_', ' ')} action")
    if "lot" in breakdown:
        lot = breakdown["lot"]
        url = lot_url(lot) if lot else None
        add("lot", format_html('Spent from lot <a href="{}">#{}</a>', url, lot) if url else f"Spent from lot #{lot}")
    for key, value in breakdown.items():
        if key in shown or value in (None, "", [], {}):
            continue
        if isinstance(value, (list, tuple)):
            value = ", ".join(map(str, value))
        elif isinstance(value, dict):
            value = "; ".join(f"{k}: {v}" for k, v in value.items())
        lines.append(f"{key.replace('_', ' ').capitalize()}: {value}")
    return lines


@admin.register(TierChange)
class TierChangeAdmin(LedgerReadOnlyAdmin):
    list_display = ("created_at", "buyer", "from_tier", "to_tier", "cause", "basis_value", "detail_shown")
    list_filter = ("cause", "to_tier")
    list_select_related = ("buyer", "from_tier", "to_tier")
    search_fields = ("buyer__name", "buyer__email", "buyer__external_id")
    exclude = ("detail",)
    readonly_fields = ("detail_shown",)

    @admin.display(description="detail")
    def detail_shown(self, change):
        # An override's detail names its end date in ISO ("Override until 2026-12-31: ...").
        return dates_as_days(change.detail)


@admin.register(Redemption)
class RedemptionAdmin(EmptyStateMixin, LedgerReadOnlyAdmin):
    empty_state = ("Redemptions are rewards members have bought with their points. They appear here when a member "
                   "redeems a reward through the loyalty API; the points they spent are in the member's ledger.")

    list_display = ("created_at", "buyer", "reward", "points", "created_by")
    list_select_related = ("buyer", "reward", "created_by")
    search_fields = ("buyer__name", "buyer__email", "buyer__external_id")


class AdjustForm(forms.Form):
    amount = forms.IntegerField(help_text="Positive adds points, negative deducts active points.")
    comment = forms.CharField(widget=forms.Textarea, required=True, help_text="Why. Shown in the ledger.")


@admin.register(LoyaltyMember)
class LoyaltyMemberAdmin(OwnHistoryMixin, admin.ModelAdmin):
    """One member's loyalty picture for staff, with an adjust action that requires a comment."""

    # Points change through the ledger's services, never the admin form: "History" is the member's ledger.
    own_history_anchor = "member-ledger"

    list_display = ("name", "email", "external_id")
    search_fields = ("name", "email", "external_id")
    show_full_result_count = False
    fields = ("name", "email", "external_id", "balance", "tier", "badges", "leaderboard", "ledger", "adjust")
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        return [path("<int:buyer_id>/adjust/", self.admin_site.admin_view(self.adjust_view), name="loyalty_loyaltymember_adjust"),
                *super().get_urls()]

    def get_fields(self, request, obj=None):
        return [self._ledger_display(request) if name == "ledger" else name for name in self.fields]

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)

    def _ledger_display(self, request):
        # The ledger links only to pages the viewer may open, so its display is bound to the request;
        # one per request, because the form matches read-only fields by identity.
        display = getattr(request, "_kiln_member_ledger", None)
        if display is None:

            def ledger(obj):
                return self.ledger(obj, request)

            ledger.__name__ = "ledger"
            ledger.short_description = self.ledger.short_description
            display = request._kiln_member_ledger = ledger
        return display

    def _page_url(self, request, model_label: str, pk) -> str | None:
        return change_url(self.admin_site, request, apps.get_model(model_label), pk)

    @admin.display(description="balance")
    def balance(self, obj):
        return member_view.balance_line(selectors.member_balance(buyer_id=obj.pk))

    @admin.display(description="tier")
    def tier(self, obj):
        return member_view.tier_line(tiers.tier_progress(buyer_id=obj.pk))

    @admin.display(description="badges")
    def badges(self, obj):
        awards = selectors.member_badges(buyer_id=obj.pk)
        return ", ".join(f"{a.badge.name} ({day(a.awarded_at)})" for a in awards) or "No badges yet."

    @admin.display(description="leaderboard")
    def leaderboard(self, obj):
        r = selectors.leaderboard_rank(buyer_id=obj.pk)
        return f"#{r['rank']} with {r['points']} points earned" if r["rank"] else "not ranked yet"

    @admin.display(description="ledger (latest 50)")
    def ledger(self, obj, request=None):
        lines = member_view.ledger_lines(
            selectors.ledger_history(buyer_id=obj.pk)[:50],
            url_for=lambda model_label, pk: self._page_url(request, model_label, pk) if request else None,
        )
        return render_to_string("admin/loyalty/loyaltymember/ledger.html", {"lines": lines})

    @admin.display(description="")
    def adjust(self, obj):
        return format_html('<a class="button" href="{}">Adjust points…</a>', reverse("admin:loyalty_loyaltymember_adjust", args=[obj.pk]))

    def adjust_view(self, request, buyer_id: int):
        member = get_object_or_404(LoyaltyMember, pk=buyer_id)
        if not self.has_change_permission(request, member):
            raise PermissionDenied
        form = AdjustForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                services.points_adjust(buyer_id=member.pk, amount=form.cleaned_data["amount"],
                                       comment=form.cleaned_data["comment"], actor=request.user)
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            except PermissionDenied as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, f"Adjusted {member.name} by {form.cleaned_data['amount']:+d} points.")
                return redirect("admin:loyalty_loyaltymember_change", member.pk)
        context = {**self.admin_site.each_context(request), "title": f"Adjust points for {member.name}", "form": form,
                   "opts": self.model._meta}
        return render(request, "admin/loyalty/form.html", context)


# --- Point competitions -------------------------------------------------------------------


class CompetitionForm(forms.ModelForm):
    counted_kinds = forms.MultipleChoiceField(
        choices=[(k, RuleKind(k).label) for k in COUNTABLE_KINDS],
        widget=forms.CheckboxSelectMultiple,
        help_text="Points from these earning-rule kinds count towards the competition.",
    )

    class Meta:
        model = Competition
        fields = ("name", "description", "starts_at", "ends_at", "counted_kinds", "eligible_tier", "eligible_segment")


class CompetitionPrizeInline(admin.TabularInline):
    model = CompetitionPrize
    form = PlainConfigurationForm
    extra = 1
    fields = ("rank", "bonus_points", "reward")


@admin.register(Competition)
class CompetitionAdmin(EmptyStateMixin, admin.ModelAdmin):
    empty_state = ("A point competition ranks members by the points they earn from chosen actions between two dates; "
                   "when it closes, the top ranks are paid their prizes in bonus points or rewards.")

    form = CompetitionForm
    list_display = ("name", "starts_at", "ends_at", "eligible_tier", "eligible_segment", "closed_at")
    list_filter = ("eligible_segment",)
    inlines = [CompetitionPrizeInline]
    readonly_fields = ("closed_at", "standings")
    actions = ["close_competitions"]

    def get_fields(self, request, obj=None):
        return [*CompetitionForm.Meta.fields, "closed_at", "standings"]

    def get_readonly_fields(self, request, obj=None):
        # Once the prizes are paid the rules that decided them stay as they were.
        if obj is not None and obj.closed_at:
            return [*CompetitionForm.Meta.fields, "closed_at", "standings"]
        return self.readonly_fields

    @admin.display(description="Standings (top 20; ties: higher score, then earlier last action, then lower member id)")
    def standings(self, obj):
        if obj is None or not obj.pk:
            return "Save to see standings."
        rows = competition_standings(competition=obj, limit=20)
        if not rows:
            return "No entrants yet."
        return format_html_join(
            "", "<div>#{} {} — {} points</div>", ((r["rank"], r["name"], r["score"]) for r in rows)
        )

    @admin.action(description="Close and pay prizes (safe to repeat)", permissions=["change"])
    def close_competitions(self, request, queryset):
        closed, errors = 0, []
        for competition in queryset:
            try:
                competition_close(competition_id=competition.pk)
                closed += 1
            except ValidationError as exc:
                errors.extend(exc.messages)
        if errors:
            self.message_user(request, "; ".join(errors), level="error")
        self.message_user(request, f"{closed} competition{pluralize(closed)} closed; prizes are paid once.")


@admin.register(CompetitionAward)
class CompetitionAwardAdmin(LedgerReadOnlyAdmin):
    list_display = ("competition", "rank", "buyer", "score", "prize", "reward", "note", "awarded_at")
    list_select_related = ("competition", "buyer", "prize", "reward")
    list_filter = ("competition",)
