import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from core.models import OutboxMessage
from core.roles import sync_role_permissions


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"staff{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@kiln.example")
    is_staff = True
    password = factory.django.Password("kiln-test-pass")

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        if create and extracted:
            groups = Group.objects.filter(name__in=extracted)
            if len(groups) < len(set(extracted)):
                # A transactional test that flushed with post_migrate inhibited removed the roles.
                sync_role_permissions()
            self.groups.add(*Group.objects.filter(name__in=extracted))


class OutboxMessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OutboxMessage

    dedupe_key = factory.Sequence(lambda n: f"test:{n}")
    to = "artisan@example.com"
    subject = "Hello"
    body = "Body"
    category = "test"
