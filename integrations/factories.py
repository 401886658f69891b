import factory

from integrations.models import ApiKey


class ApiKeyFactory(factory.django.DjangoModelFactory):
    """Builds a stored key; the plain key is on ``obj.plain_key`` (it is never stored)."""

    class Meta:
        model = ApiKey

    name = factory.Sequence(lambda n: f"client-{n}")
    scopes = factory.LazyFunction(lambda: ["storefront:write"])

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        obj, key = model_class.objects.create_key(**kwargs)
        obj.plain_key = key
        return obj
