from django.urls import path

from scoring.api import SellerScoreApi

urlpatterns = [
    path("sellers/<str:external_id>/score/", SellerScoreApi.as_view(), name="scoring-seller-score"),
]
