from drf_spectacular.openapi import AutoSchema


class KilnAutoSchema(AutoSchema):
    """Names nested serializers after their view, so two views' ``OutputSerializer`` stay distinct."""

    def get_serializer_name(self, serializer, direction):
        qualname = type(serializer).__qualname__
        if "." in qualname:
            return qualname.replace("Serializer", "").replace(".", "")
        return super().get_serializer_name(serializer, direction)
