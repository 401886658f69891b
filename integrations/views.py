from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from integrations.api import ERROR_RESPONSES, IngestAPIView
from integrations.models import ApiKey


class ApiKeyIntrospectApi(IngestAPIView):
    """Lets a client check which key it is using and what that key may do."""

    required_scopes: list[str] = []

    class OutputSerializer(serializers.Serializer):
        name = serializers.CharField()
        prefix = serializers.CharField()
        scopes = serializers.ListField(child=serializers.CharField())

    @extend_schema(
        operation_id="api_key_introspect",
        summary="Describe the calling API key",
        responses={200: OutputSerializer, 401: ERROR_RESPONSES[401], 429: ERROR_RESPONSES[429]},
    )
    def get(self, request):
        if not isinstance(request.auth, ApiKey):
            return Response({"name": str(request.user), "prefix": "", "scopes": []})
        key = request.auth
        return Response(self.OutputSerializer({"name": key.name, "prefix": key.prefix, "scopes": key.scopes}).data)


