"""Django's database session store, minus session keys PostgreSQL cannot look up.

A ``sessionid`` cookie containing a NUL made the session lookup raise DataError (a 500 on every
endpoint that reads the session). Such a key is now treated like any unknown key: no session.
"""

from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore


class SessionStore(DatabaseSessionStore):
    def _validate_session_key(self, key):
        return super()._validate_session_key(key) and "\x00" not in key
