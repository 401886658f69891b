"""API keys from the command line.

    python manage.py api_key create --name storefront --scope storefront:write [--scope ...]
    python manage.py api_key list
    python manage.py api_key revoke <prefix>

``create`` prints the key once; only its hash is stored, so it cannot be shown again.
"""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from integrations.models import ApiKey
from integrations.services import api_key_create, api_key_revoke


class Command(BaseCommand):
    help = "Create, list or revoke API keys."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True)
        create = actions.add_parser("create", help="Create a key and print it once.")
        create.add_argument("--name", required=True)
        create.add_argument("--scope", action="append", required=True, dest="scopes",
                            help="A scope such as storefront:write; repeat for more. * allows every scope.")
        actions.add_parser("list", help="List keys (never the keys themselves).")
        revoke = actions.add_parser("revoke", help="Revoke a key by its prefix. Cannot be undone.")
        revoke.add_argument("prefix")

    def handle(self, *args, action: str, **options):
        getattr(self, f"handle_{action}")(**options)

    def handle_create(self, *, name: str, scopes: list[str], **options):
        try:
            api_key, plain = api_key_create(name=name, scopes=scopes)
        except ValidationError as exc:
            raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())) from None
        self.stdout.write(f"Created API key '{api_key.name}' (prefix {api_key.prefix}) with scopes {', '.join(api_key.scopes)}.")
        self.stdout.write("Store it now; it is shown only this once:")
        self.stdout.write(plain)

    def handle_list(self, **options):
        keys = ApiKey.objects.order_by("created")
        if not keys:
            self.stdout.write("No API keys.")
        for key in keys:
            state = "revoked" if key.revoked else ("expired" if key.has_expired else "active")
            self.stdout.write(f"{key.prefix}\t{state}\t{key.name}\t{','.join(key.scopes or [])}\t{key.created:%Y-%m-%d}")

    def handle_revoke(self, *, prefix: str, **options):
        api_key = ApiKey.objects.filter(prefix=prefix).first()
        if api_key is None:
            raise CommandError(f"No API key with prefix {prefix!r}.")
        api_key_revoke(api_key=api_key)
        self.stdout.write(f"Revoked API key '{api_key.name}' ({prefix}).")
