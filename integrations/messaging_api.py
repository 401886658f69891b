"""Contact preferences API: the storefront (or staff) records how each person wants to hear from Kiln."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, permissions, serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.response import Response
from rest_framework.views import APIView

from core.messaging import TOPICS, preference_set
from core.models import ContactPreference
from integrations.api import ServiceErrorsMixin
from integrations.authentication import ApiKeyAuthentication
from integrations.models import ApiKey

READ_SCOPE, WRITE_SCOPE = "messaging:read", "messaging:write"


class MessagingAccess(permissions.BasePermission):
    """Staff sessions, or API keys with the messaging scopes."""

    def has_permission(self, request, view) -> bool:
        scope = READ_SCOPE if request.method in permissions.SAFE_METHODS else WRITE_SCOPE
        if isinstance(request.auth, ApiKey):
            if request.auth.has_scopes([scope]):
                return True
            self.message = f"This API key lacks the scope: {scope}."
            return False
        user = request.user
        if user is None or not user.is_authenticated:
            raise exceptions.NotAuthenticated()
        if not user.is_staff:
            self.message = "Contact preferences are for Kiln staff and the storefront."
            return False
        return True


class PreferenceSerializer(serializers.Serializer):
    address = serializers.EmailField()
    channel = serializers.CharField()
    muted_topics = serializers.ListField(child=serializers.CharField())
    weekly_cap = serializers.IntegerField(allow_null=True)
    time_zone = serializers.CharField(allow_blank=True)
    unsubscribed_at = serializers.DateTimeField(allow_null=True, read_only=True)
    hard_bounced_at = serializers.DateTimeField(allow_null=True, read_only=True)


class ContactPreferenceApi(ServiceErrorsMixin, APIView):
    authentication_classes = [SessionAuthentication, ApiKeyAuthentication]
    permission_classes = [MessagingAccess]

    class InputSerializer(serializers.Serializer):
        address = serializers.EmailField()
        channel = serializers.CharField(required=False)
        muted_topics = serializers.JSONField(required=False, help_text=f"Topics to mute: {', '.join(TOPICS)}.")
        weekly_cap = serializers.IntegerField(required=False, allow_null=True)
        time_zone = serializers.CharField(required=False, allow_blank=True)

    @extend_schema(parameters=[OpenApiParameter("address", str, required=True)], responses=PreferenceSerializer)
    def get(self, request):
        address = (request.query_params.get("address") or "").strip().lower()
        if not address:
            raise exceptions.ValidationError({"address": "Give the email address."})
        pref = ContactPreference.objects.filter(address=address).first() or ContactPreference(address=address)
        return Response(PreferenceSerializer(pref).data)

    @extend_schema(request=InputSerializer, responses=PreferenceSerializer)
    def put(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        pref = preference_set(address=fields.pop("address"), **fields)
        return Response(PreferenceSerializer(pref).data)
