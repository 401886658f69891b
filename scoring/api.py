from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from integrations.api import ERROR_RESPONSES, ErrorSerializer, IngestAPIView
from scoring.models import ScoreBasis
from scoring.selectors import seller_score_current, seller_score_trend
from sellers.models import Seller


class SellerScoreApi(IngestAPIView):
    """An artisan's current score and the reasons behind it, so the marketplace can show its criteria."""

    required_scopes = ["scoring:read"]

    class OutputSerializer(serializers.Serializer):
        class ReasonSerializer(serializers.Serializer):
            text = serializers.CharField()
            contribution = serializers.IntegerField(help_text="Signed score points this factor adds or removes.")

        @extend_schema_field(ReasonSerializer(many=True))
        class ReasonListField(serializers.ListField):
            """The stored reasons; the view keeps each one's text and contribution."""

        class ModelVersionSerializer(serializers.Serializer):
            kind = serializers.CharField()
            category = serializers.CharField(allow_null=True, help_text="Null for the global model of a kind.")
            version = serializers.IntegerField()

        class HistoryPointSerializer(serializers.Serializer):
            score = serializers.IntegerField(min_value=0, max_value=100, allow_null=True)
            computed_at = serializers.DateTimeField()

        seller = serializers.CharField(source="seller.external_id")
        score = serializers.IntegerField(
            min_value=0, max_value=100, allow_null=True,
            help_text="Null when no validated model can score the artisan yet; `basis` says why.",
        )
        probability = serializers.FloatField(allow_null=True)
        basis = serializers.ChoiceField(choices=ScoreBasis.choices, help_text="What produced the score, or why there is none.")
        reasons = ReasonListField(child=serializers.DictField())
        cold_start = serializers.BooleanField()
        model_version = serializers.SerializerMethodField()
        computed_at = serializers.DateTimeField()
        history = serializers.SerializerMethodField()

        @extend_schema_field(ModelVersionSerializer(allow_null=True))
        def get_model_version(self, score):
            version = score.model_version
            if version is None:
                return None
            return {"kind": version.kind, "category": version.category, "version": version.version}

        @extend_schema_field(HistoryPointSerializer(many=True))
        def get_history(self, score):
            return [{"score": row.score, "computed_at": row.computed_at} for row in self.context["history"]]

    @extend_schema(
        responses={200: OutputSerializer, 404: OpenApiResponse(ErrorSerializer, description="Unknown seller or not scored yet."), **{k: v for k, v in ERROR_RESPONSES.items() if k in (401, 403, 429)}},
    )
    def get(self, request, external_id: str):
        seller = get_object_or_404(Seller, external_id=external_id)
        score = seller_score_current(seller=seller)
        if score is None:
            raise NotFound(f"Seller '{external_id}' has not been scored yet.")
        data = self.OutputSerializer(score, context={"history": seller_score_trend(seller=seller, limit=12)}).data
        data["reasons"] = [{"text": r["text"], "contribution": r["contribution"]} for r in score.reasons]
        return Response(data)
