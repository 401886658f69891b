from django.urls import path

from integrations.views import ApiKeyIntrospectApi

urlpatterns = [
    path("key/", ApiKeyIntrospectApi.as_view(), name="api-key-introspect"),
]
