from django.urls import path

from core import apis

urlpatterns: list = [
    path("messaging/preferences/", apis.ContactPreferenceApi.as_view(), name="messaging-preferences"),
]
