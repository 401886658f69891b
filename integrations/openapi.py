from drf_spectacular.openapi import AutoSchema


class KilnAutoSchema(AutoSchema):
    """Names nested serializers after their view, so two views' ``OutputSerializer`` stay distinct."""

    def get_serializer_name(self, serializer, direction):
        qualname = type(serializer).__qualname__
        if "." in qualname:
            return qualname.replace("Serializer", "").replace(".", "")
        return super().get_serializer_name(serializer, direction)


ERROR_COMPONENT = {
    "type": "object",
    "properties": {
        "code": {"type": "string"},
        "detail": {"type": "string"},
        "errors": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
    },
    "required": ["code", "detail", "errors"],
}


def error_responses_hook(result, generator, request, public):
    """Documents on every operation the error answers the shared API layer can give to any of
    them (integrations.api.COMMON_ERROR_DESCRIPTIONS), so the schema lists every status an
    operation returns: 404 where the path names an object or a page, 415 where a body is accepted."""
    from integrations.api import COMMON_ERROR_DESCRIPTIONS

    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("Error", ERROR_COMPONENT)
    error_content = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            # DRF's page-number pagination answers 404 for a page past the end (or page=0).
            paginated = any(p.get("name") == "page" and p.get("in") == "query" for p in operation.get("parameters", []))
            for code, description in COMMON_ERROR_DESCRIPTIONS.items():
                if code == 404 and "{" not in path and not paginated:
                    continue
                if code == 415 and "requestBody" not in operation:
                    continue
                operation["responses"].setdefault(str(code), {"description": description, "content": error_content})
    return result
