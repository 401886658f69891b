from django.urls import path
from django.views.generic import RedirectView

from core import views

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    path("messages/unsubscribe/<str:token>/", views.unsubscribe, name="messaging-unsubscribe"),
]
