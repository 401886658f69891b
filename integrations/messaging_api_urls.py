from django.urls import path

from integrations import messaging_api as apis

urlpatterns: list = [
    path("messaging/preferences/", apis.ContactPreferenceApi.as_view(), name="messaging-preferences"),
]
