from django.urls import path

from retention import apis

urlpatterns = [
    path("<int:buyer_id>/retention/", apis.BuyerRetentionProfileApi.as_view(), name="retention-buyer-profile"),
    path("<int:buyer_id>/recommendations/", apis.BuyerRecommendationsApi.as_view(), name="retention-buyer-recommendations"),
    path("audiences/", apis.AudienceListApi.as_view(), name="retention-audience-list"),
    path("audiences/preview/", apis.AudiencePreviewApi.as_view(), name="retention-audience-preview"),
    path("audiences/<int:audience_id>/members/", apis.AudienceMembersApi.as_view(), name="retention-audience-members"),
    path("audiences/<int:audience_id>/export/", apis.AudienceExportApi.as_view(), name="retention-audience-export"),
    path("interventions/impact/", apis.InterventionImpactApi.as_view(), name="retention-intervention-impact"),
]
