from django.urls import path

from loyalty import apis

urlpatterns = [
    path("members/<int:buyer_id>/", apis.MemberSummaryApi.as_view(), name="loyalty-member"),
    path("members/<int:buyer_id>/ledger/", apis.MemberLedgerApi.as_view(), name="loyalty-member-ledger"),
    path("members/<int:buyer_id>/adjustments/", apis.MemberAdjustApi.as_view(), name="loyalty-member-adjust"),
    path("members/<int:buyer_id>/redemptions/", apis.MemberRedeemApi.as_view(), name="loyalty-member-redeem"),
    path("members/<int:buyer_id>/suggestions/", apis.MemberSuggestionsApi.as_view(), name="loyalty-member-suggestions"),
    path(
        "members/<int:buyer_id>/reward-recommendations/",
        apis.MemberRewardRecommendationsApi.as_view(),
        name="loyalty-member-reward-recommendations",
    ),
    path("competitions/<int:competition_id>/standings/", apis.CompetitionStandingsApi.as_view(), name="loyalty-competition-standings"),
    path("leaderboard/", apis.LeaderboardApi.as_view(), name="loyalty-leaderboard"),
    path("power-users/", apis.PowerUsersApi.as_view(), name="loyalty-power-users"),
    path("rules/", apis.RuleCreateApi.as_view(), name="loyalty-rules"),
    path("rules/precedence/", apis.RulePrecedenceApi.as_view(), name="loyalty-rule-precedence"),
    path("rules/simulate/", apis.RuleSimulateApi.as_view(), name="loyalty-rule-simulate"),
    path("tiers/", apis.TierConfigureApi.as_view(), name="loyalty-tiers"),
    path("tiers/preview/", apis.TierPreviewApi.as_view(), name="loyalty-tier-preview"),
    path("badges/<int:badge_id>/threshold-analysis/", apis.BadgeThresholdApi.as_view(), name="loyalty-badge-thresholds"),
]
