"""Member and configuration API. Thin: validate, call one service or selector, respond."""

from __future__ import annotations

from datetime import date

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, permissions, serializers
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response

from buyers.models import Buyer
from integrations.api import MAX_DATABASE_ID, KilnAPIView, query_int
from integrations.fields import NEAR_FUTURE, EventDateTimeField
from loyalty import badges, selectors, services, simulation, tiers
from loyalty.models import Badge, CapPeriod, EarningRule, RuleKind, Segment, Tier
from loyalty.recommend import member_reward_recommendations

READ_SCOPE, WRITE_SCOPE, ADMIN_SCOPE = "loyalty:read", "loyalty:write", "loyalty:admin"
# Longest look-back a power-user report accepts: ten years covers the whole history.
MAX_POWER_USER_DAYS = 3650
# Longest tier window or grace period, and the largest manual adjustment or badge threshold:
# far above any real value, far below the database integer columns' limits.
MAX_WINDOW_DAYS = 3650
MAX_ADJUSTMENT = 1_000_000


class LoyaltyAPIView(KilnAPIView):
    """Staff sessions (roles are checked in the services), or API keys with loyalty scopes."""

    staff_may_write = True
    # Configuration writes act with an administrator's role: a key needs loyalty:admin by name.
    write_scope = WRITE_SCOPE

    def get_required_scopes(self, request) -> list[str]:
        return [READ_SCOPE if request.method in permissions.SAFE_METHODS else self.write_scope]

    def actor(self, request):
        # A key caller acts as its ApiKeyClient, whose role comes from its explicit scopes.
        return request.user if request.user and request.user.is_authenticated else None

    def buyer(self, buyer_id: int) -> Buyer:
        return get_object_or_404(Buyer, pk=buyer_id)


def _month(value: str | None) -> date | None:
    if not value:
        return None
    try:
        year, month = value.split("-")
        first = date(int(year), int(month), 1)
    except ValueError:
        raise exceptions.ValidationError({"month": "Use YYYY-MM."}) from None
    # The selectors step to the next month; outside the years Kiln has data for, that only
    # overflows at 9999-12.
    if not 2000 <= first.year <= 2100:
        raise exceptions.ValidationError({"month": "A month between 2000-01 and 2100-12."})
    return first


MONTH_PARAM = OpenApiParameter("month", str, description="A calendar month, YYYY-MM.")
PAGE_PARAM = OpenApiParameter("page", int, description="A page number of the paginated result.")


def _paginated(name: str, item) -> serializers.Serializer:
    """The page envelope of DRF's PageNumberPagination around ``item`` rows."""
    return inline_serializer(
        name=name,
        fields={
            "count": serializers.IntegerField(),
            "next": serializers.URLField(allow_null=True),
            "previous": serializers.URLField(allow_null=True),
            "results": item(many=True),
        },
    )


class BalanceSerializer(serializers.Serializer):
    pending = serializers.IntegerField()
    active = serializers.IntegerField()
    expiring_soon = serializers.IntegerField()
    expiring_soon_days = serializers.IntegerField()
    next_expiry_at = serializers.DateTimeField(allow_null=True)
    ledger_total = serializers.IntegerField()


class RankSerializer(serializers.Serializer):
    rank = serializers.IntegerField(allow_null=True, help_text="Null until the member has earned points.")
    points = serializers.IntegerField()


class MonthRankSerializer(RankSerializer):
    month = serializers.CharField(help_text="YYYY-MM")


class RewardRecommendationSerializer(serializers.Serializer):
    reward_id = serializers.IntegerField()
    name = serializers.CharField()
    points_cost = serializers.IntegerField()
    affordable = serializers.BooleanField(help_text="True: redeemable now; false: affordable soon.")
    points_short = serializers.IntegerField()
    interest = serializers.FloatField()
    why = serializers.CharField()


class MemberLeaderboardSerializer(serializers.Serializer):
    overall = RankSerializer()
    month = MonthRankSerializer()


class MemberSummaryApi(LoyaltyAPIView):
    class OutputSerializer(serializers.Serializer):
        class TierProgressSerializer(serializers.Serializer):
            tier = serializers.CharField(allow_null=True)
            tier_name = serializers.CharField(allow_null=True)
            multiplier = serializers.CharField(help_text="A decimal, as a string.")
            perks = serializers.CharField()
            basis = serializers.CharField()
            window_days = serializers.IntegerField()
            value = serializers.CharField(help_text="The member's tier basis value: a decimal, as a string.")
            next_tier = serializers.CharField(allow_null=True)
            needed_for_next = serializers.CharField(allow_null=True, help_text="A decimal, as a string.")
            progress = serializers.FloatField()
            grace_until = serializers.DateTimeField(allow_null=True)

        class BadgeSerializer(serializers.Serializer):
            code = serializers.CharField()
            name = serializers.CharField()
            awarded_at = serializers.DateTimeField()
            period = serializers.CharField()

        buyer_id = serializers.IntegerField()
        name = serializers.CharField()
        balance = BalanceSerializer()
        tier = TierProgressSerializer()
        badges = BadgeSerializer(many=True)
        leaderboard = MemberLeaderboardSerializer()
        reward_recommendations = RewardRecommendationSerializer(many=True)

    @extend_schema(parameters=[MONTH_PARAM], responses=OutputSerializer)
    def get(self, request, buyer_id: int):
        buyer = self.buyer(buyer_id)
        month = _month(request.query_params.get("month")) or date.today().replace(day=1)
        return Response(
            {
                "buyer_id": buyer.pk,
                "name": buyer.name,
                "balance": selectors.member_balance(buyer_id=buyer.pk),
                "tier": tiers.tier_progress(buyer_id=buyer.pk),
                "badges": [
                    {"code": a.badge.code, "name": a.badge.name, "awarded_at": a.awarded_at, "period": a.period_key}
                    for a in selectors.member_badges(buyer_id=buyer.pk)
                ],
                "leaderboard": {
                    "overall": selectors.leaderboard_rank(buyer_id=buyer.pk),
                    "month": {"month": month.strftime("%Y-%m"), **selectors.leaderboard_rank(buyer_id=buyer.pk, month=month)},
                },
                "reward_recommendations": member_reward_recommendations(buyer_id=buyer.pk, limit=3),
            }
        )


class EntrySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    amount = serializers.IntegerField()
    kind = serializers.CharField()
    state = serializers.CharField()
    source_type = serializers.CharField()
    source_id = serializers.IntegerField(allow_null=True)
    reason = serializers.CharField()
    comment = serializers.CharField()
    rule = serializers.CharField(source="rule.name", allow_null=True, default=None)
    breakdown = serializers.JSONField()
    remaining = serializers.IntegerField()
    expires_at = serializers.DateTimeField(allow_null=True)
    available_at = serializers.DateTimeField(allow_null=True)


class MemberLedgerApi(LoyaltyAPIView):
    @extend_schema(parameters=[PAGE_PARAM], responses=_paginated("PaginatedEntryList", EntrySerializer))
    def get(self, request, buyer_id: int):
        buyer = self.buyer(buyer_id)
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(selectors.ledger_history(buyer_id=buyer.pk), request, view=self)
        return paginator.get_paginated_response(EntrySerializer(page, many=True).data)


class MemberAdjustApi(LoyaltyAPIView):
    class InputSerializer(serializers.Serializer):
        amount = serializers.IntegerField(min_value=-MAX_ADJUSTMENT, max_value=MAX_ADJUSTMENT)
        comment = serializers.CharField(allow_blank=True, required=False, default="", max_length=2000)

    @extend_schema(request=InputSerializer, responses={201: EntrySerializer})
    def post(self, request, buyer_id: int):
        buyer = self.buyer(buyer_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        entry = services.points_adjust(buyer_id=buyer.pk, actor=self.actor(request), **data.validated_data)
        return Response(EntrySerializer(entry).data, status=201)


class MemberRedeemApi(LoyaltyAPIView):
    class InputSerializer(serializers.Serializer):
        reward_id = serializers.IntegerField(min_value=1, max_value=MAX_DATABASE_ID)

    class OutputSerializer(serializers.Serializer):
        redemption_id = serializers.IntegerField()
        reward = serializers.CharField(help_text="The reward's name.")
        points = serializers.IntegerField()
        balance = BalanceSerializer()

    @extend_schema(request=InputSerializer, responses={201: OutputSerializer})
    def post(self, request, buyer_id: int):
        buyer = self.buyer(buyer_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        redemption = services.points_redeem(
            buyer_id=buyer.pk, reward_id=data.validated_data["reward_id"], actor=self.actor(request)
        )
        return Response(
            {"redemption_id": redemption.pk, "reward": redemption.reward.name, "points": redemption.points,
             "balance": selectors.member_balance(buyer_id=buyer.pk)},
            status=201,
        )


class MemberSuggestionsApi(LoyaltyAPIView):
    class OutputSerializer(serializers.Serializer):
        class SuggestionSerializer(serializers.Serializer):
            reward_id = serializers.IntegerField(min_value=1, max_value=MAX_DATABASE_ID)
            name = serializers.CharField()
            points_cost = serializers.IntegerField()
            affordable = serializers.BooleanField()
            interest = serializers.FloatField()
            why = serializers.CharField()

        results = SuggestionSerializer(many=True)

    @extend_schema(responses=OutputSerializer)
    def get(self, request, buyer_id: int):
        buyer = self.buyer(buyer_id)
        return Response({"results": selectors.reward_suggestions(buyer_id=buyer.pk)})


class LeaderboardApi(LoyaltyAPIView):
    class OutputSerializer(serializers.Serializer):
        class RowSerializer(serializers.Serializer):
            rank = serializers.IntegerField()
            buyer_id = serializers.IntegerField()
            name = serializers.CharField()
            points = serializers.IntegerField()

        month = serializers.DateField(allow_null=True, help_text="First day of the month, or null for all time.")
        category = serializers.CharField(allow_null=True)
        results = RowSerializer(many=True)

    @extend_schema(
        parameters=[MONTH_PARAM, OpenApiParameter("category", str, description="A craft category.")],
        responses=OutputSerializer,
    )
    def get(self, request):
        month = _month(request.query_params.get("month"))
        category = request.query_params.get("category") or None
        return Response({"month": month, "category": category,
                         "results": selectors.leaderboard(month=month, category=category)})


class PowerUsersApi(LoyaltyAPIView):
    class OutputSerializer(serializers.Serializer):
        class RowSerializer(serializers.Serializer):
            rank = serializers.IntegerField()
            buyer_id = serializers.IntegerField()
            active_days = serializers.IntegerField()
            actions = serializers.IntegerField()
            actions_per_week = serializers.FloatField()

        days = serializers.IntegerField()
        results = RowSerializer(many=True)

    @extend_schema(
        parameters=[OpenApiParameter("days", int, description=f"Look-back window in days (default 90, 1 to {MAX_POWER_USER_DAYS}).")],
        responses=OutputSerializer,
    )
    def get(self, request):
        days = query_int(request, "days", default=90, minimum=1, maximum=MAX_POWER_USER_DAYS)
        return Response({"days": days, "results": selectors.power_users(days=days)})


class RuleSerializer(serializers.ModelSerializer):
    points = serializers.DecimalField(max_digits=10, decimal_places=2, min_value=0)
    multiplier = serializers.DecimalField(max_digits=5, decimal_places=2, min_value=0, required=False)
    kind = serializers.ChoiceField(choices=RuleKind.choices)
    promotion_of = serializers.ChoiceField(choices=RuleKind.choices, required=False, allow_blank=True)
    cap_period = serializers.ChoiceField(choices=CapPeriod.choices, required=False, allow_blank=True)
    target_segment = serializers.ChoiceField(choices=Segment.choices, required=False, allow_blank=True)

    class Meta:
        model = EarningRule
        fields = ["id", "name", "kind", "is_active", "priority", "points", "applies_tier_multiplier", "promotion_of",
                  "multiplier", "exclusive", "target_tier", "target_segment", "starts_at", "ends_at", "cap_points", "cap_period"]
        read_only_fields = ["id"]

    def validate(self, attrs):
        if attrs.get("kind") == RuleKind.PROMOTION and not attrs.get("promotion_of"):
            raise serializers.ValidationError({"promotion_of": "A promotion names the kind of action it multiplies."})
        if (attrs.get("cap_points") is None) != (not attrs.get("cap_period")):
            raise serializers.ValidationError({"cap_period": "Give both a cap and its period, or neither."})
        if attrs.get("starts_at") and attrs.get("ends_at") and attrs["ends_at"] <= attrs["starts_at"]:
            raise serializers.ValidationError({"ends_at": "The window must end after it starts."})
        return attrs


class RuleCreateApi(LoyaltyAPIView):
    write_scope = ADMIN_SCOPE

    @extend_schema(request=RuleSerializer, responses={201: RuleSerializer})
    def post(self, request):
        from loyalty.services import rule_create

        data = RuleSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        rule = rule_create(actor=self.actor(request), **data.validated_data)
        return Response(RuleSerializer(rule).data, status=201)


class RulePrecedenceApi(LoyaltyAPIView):
    class OutputSerializer(serializers.Serializer):
        class StepSerializer(serializers.Serializer):
            step = serializers.IntegerField()
            rule_id = serializers.IntegerField()
            name = serializers.CharField()
            priority = serializers.IntegerField()
            stage = serializers.CharField(help_text="base or promotion")
            role = serializers.CharField()

        kind = serializers.CharField()
        precedence = StepSerializer(many=True)

    @extend_schema(
        parameters=[OpenApiParameter("kind", str, description="An action kind (default spend); not promotion.")],
        responses=OutputSerializer,
    )
    def get(self, request):
        kind = request.query_params.get("kind", RuleKind.SPEND)
        if kind not in RuleKind.values or kind == RuleKind.PROMOTION:
            raise exceptions.ValidationError({"kind": "An action kind (spend, review, story_share, ...)."})
        return Response({"kind": kind, "precedence": selectors.rule_precedence(kind=kind)})


class RuleSimulateApi(LoyaltyAPIView):
    class InputSerializer(serializers.Serializer):
        rule_id = serializers.IntegerField(required=False, min_value=1, max_value=MAX_DATABASE_ID)
        rule = RuleSerializer(required=False)
        start = EventDateTimeField(required=False, max_future=NEAR_FUTURE)
        end = EventDateTimeField(required=False, max_future=NEAR_FUTURE)

    class OutputSerializer(serializers.Serializer):
        rule = serializers.CharField()
        start = serializers.DateTimeField()
        end = serializers.DateTimeField()
        actions = serializers.IntegerField()
        points = serializers.IntegerField()
        members = serializers.IntegerField()
        summary = serializers.CharField()

    @extend_schema(request=InputSerializer, responses=OutputSerializer)
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        if "rule_id" in v:
            # A reference in the body, not the path: an unknown id is invalid input (400), not 404.
            rule = EarningRule.objects.filter(pk=v["rule_id"]).first()
            if rule is None:
                raise exceptions.ValidationError({"rule_id": f"No earning rule with id {v['rule_id']}."})
        elif "rule" in v:
            rule = EarningRule(**v["rule"])
        else:
            raise exceptions.ValidationError({"rule": "Give rule_id or a rule to simulate."})
        return Response(simulation.rule_simulate(rule=rule, start=v.get("start"), end=v.get("end")))


class TierInputSerializer(serializers.Serializer):
    tiers = serializers.ListField(child=serializers.DictField(), allow_empty=False)
    basis = serializers.CharField(required=False)
    window_days = serializers.IntegerField(required=False, min_value=1, max_value=MAX_WINDOW_DAYS)
    grace_days = serializers.IntegerField(required=False, min_value=0, max_value=MAX_WINDOW_DAYS)


class TierPreviewApi(LoyaltyAPIView):
    class OutputSerializer(serializers.Serializer):
        class TierCountSerializer(serializers.Serializer):
            code = serializers.CharField()
            threshold = serializers.CharField(help_text="A decimal, as a string.")
            members = serializers.IntegerField(help_text="Members who qualify for this tier.")
            members_after_recompute = serializers.IntegerField(
                help_text="Members the next recompute would leave here, with overrides and grace periods applied."
            )
            members_now = serializers.IntegerField()

        basis = serializers.CharField()
        window_days = serializers.IntegerField()
        grace_days = serializers.IntegerField()
        members = serializers.IntegerField()
        tiers = TierCountSerializer(many=True)
        no_tier = serializers.IntegerField()
        held_by_override = serializers.IntegerField()
        kept_by_grace = serializers.IntegerField()

    @extend_schema(request=TierInputSerializer, responses=OutputSerializer)
    def post(self, request):
        data = TierInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        return Response(
            tiers.tiers_preview(
                tiers=v["tiers"], basis=v.get("basis"), window_days=v.get("window_days"), grace_days=v.get("grace_days")
            )
        )


class TierConfigureApi(LoyaltyAPIView):
    write_scope = ADMIN_SCOPE

    class OutputSerializer(serializers.Serializer):
        class TierSerializer(serializers.Serializer):
            code = serializers.CharField()
            name = serializers.CharField()
            rank = serializers.IntegerField()
            threshold = serializers.FloatField()
            multiplier = serializers.FloatField()
            perks = serializers.CharField()

        tiers = TierSerializer(many=True)

    class SavedSerializer(serializers.Serializer):
        class TierSerializer(serializers.Serializer):
            code = serializers.CharField()
            rank = serializers.IntegerField()
            threshold = serializers.CharField(help_text="A decimal, as a string.")

        tiers = TierSerializer(many=True)

    @extend_schema(responses=OutputSerializer)
    def get(self, request):
        return Response({"tiers": list(Tier.objects.values("code", "name", "rank", "threshold", "multiplier", "perks"))})

    @extend_schema(request=TierInputSerializer, responses=SavedSerializer)
    def put(self, request):
        data = TierInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        saved = tiers.tiers_configure(actor=self.actor(request), **data.validated_data)
        return Response({"tiers": [{"code": t.code, "rank": t.rank, "threshold": str(t.threshold)} for t in saved]})


class BadgeThresholdApi(LoyaltyAPIView):
    class InputSerializer(serializers.Serializer):
        thresholds = serializers.ListField(
            child=serializers.IntegerField(min_value=1, max_value=MAX_ADJUSTMENT), allow_empty=False, max_length=50
        )
        as_of = EventDateTimeField(required=False)

    class OutputSerializer(serializers.Serializer):
        class RowSerializer(serializers.Serializer):
            threshold = serializers.IntegerField()
            qualifiers = serializers.IntegerField()
            non_qualifiers = serializers.IntegerField()
            repeat_rate_qualifiers = serializers.FloatField(allow_null=True)
            repeat_rate_non_qualifiers = serializers.FloatField(allow_null=True)
            lift = serializers.FloatField(allow_null=True)

        badge = serializers.CharField()
        metric = serializers.CharField()
        window_days = serializers.IntegerField()
        measured_from = serializers.DateTimeField()
        outcome_until = serializers.DateTimeField()
        population = serializers.IntegerField()
        rows = RowSerializer(many=True)

    @extend_schema(request=InputSerializer, responses=OutputSerializer)
    def post(self, request, badge_id: int):
        badge = get_object_or_404(Badge, pk=badge_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(badges.badge_threshold_analysis(badge=badge, **data.validated_data))


class MemberRewardRecommendationsApi(LoyaltyAPIView):
    """Rewards the member can afford now or soon, ranked by interests (docs/loyalty.md)."""

    class OutputSerializer(serializers.Serializer):
        results = RewardRecommendationSerializer(many=True)

    @extend_schema(responses=OutputSerializer)
    def get(self, request, buyer_id: int):
        from loyalty.recommend import member_reward_recommendations

        buyer = self.buyer(buyer_id)
        return Response({"results": member_reward_recommendations(buyer_id=buyer.pk)})


class CompetitionStandingsApi(LoyaltyAPIView):
    class OutputSerializer(serializers.Serializer):
        class RowSerializer(serializers.Serializer):
            rank = serializers.IntegerField()
            buyer_id = serializers.IntegerField()
            name = serializers.CharField()
            score = serializers.IntegerField()
            reached_at = serializers.DateTimeField()

        class AwardSerializer(serializers.Serializer):
            rank = serializers.IntegerField()
            buyer_id = serializers.IntegerField()
            score = serializers.IntegerField()
            bonus_points = serializers.IntegerField()
            reward = serializers.CharField(allow_null=True)
            note = serializers.CharField()

        id = serializers.IntegerField()
        name = serializers.CharField()
        starts_at = serializers.DateTimeField()
        ends_at = serializers.DateTimeField()
        counted_kinds = serializers.ListField(child=serializers.CharField())
        closed_at = serializers.DateTimeField(allow_null=True)
        tie_break = serializers.CharField()
        results = RowSerializer(many=True)
        awards = AwardSerializer(many=True)

    @extend_schema(
        parameters=[OpenApiParameter("limit", int, description="How many places (default 50, at most 500).")],
        responses=OutputSerializer,
    )
    def get(self, request, competition_id: int):
        from loyalty.competitions import competition_standings
        from loyalty.models import Competition

        competition = get_object_or_404(Competition, pk=competition_id)
        try:
            limit = int(request.query_params.get("limit", 50))
        except ValueError:
            raise exceptions.ValidationError({"limit": "A whole number between 1 and 500."}) from None
        if not 1 <= limit <= 500:
            raise exceptions.ValidationError({"limit": "A whole number between 1 and 500."})
        awards = competition.awards.select_related("prize", "reward").order_by("rank")
        return Response(
            {
                "id": competition.pk,
                "name": competition.name,
                "starts_at": competition.starts_at,
                "ends_at": competition.ends_at,
                "counted_kinds": competition.counted_kinds,
                "closed_at": competition.closed_at,
                "tie_break": "higher score; then earlier last counted action; then lower member id",
                "results": competition_standings(competition=competition, limit=limit),
                "awards": [
                    {"rank": a.rank, "buyer_id": a.buyer_id, "score": a.score, "bonus_points": a.prize.bonus_points,
                     "reward": a.reward.name if a.reward else None, "note": a.note}
                    for a in awards
                ],
            }
        )
