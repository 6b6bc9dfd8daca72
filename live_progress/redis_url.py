"""Where Redis is: a plain Redis URL, or Redis Sentinel named the kombu way.

``sentinel://h1:26379;sentinel://h2:26379/0`` lists the sentinels, ``;``-separated, each
with its port; the master's name is REDIS_SENTINEL_MASTER. The database number and the
password (``sentinel://:secret@h1:26379``: the master's, not the sentinels') may be written on
any of the URLs and hold for all of them. Celery's result backend reads them from the first
URL and kombu's broker from whichever sentinel it happens to be connected through, so
``SentinelURL.url`` writes them on each: web, worker and broker then agree. Standard library
only: settings, web, worker and launcher all import it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

SENTINEL_SCHEME = "sentinel://"
# The password of a URL's user info, up to the last "@" before the host: "scheme://user:<pw>@".
_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:@/;]*:)[^;]*@(?P<host>[^@/;]*(?:[/;?#]|$))")


def safe_url(url: str) -> str:
    """``url`` for a log line or a message: each password replaced by ``**``, as Celery shows its
    broker (kombu's ``maybe_sanitize_url``: ``redis://:**@host:6379/0``), on every URL of a
    ``;``-separated sentinel list too; the rest as written."""
    return _PASSWORD.sub(r"\g<head>**@\g<host>", url)


def is_sentinel(url: str) -> bool:
    return url.startswith(SENTINEL_SCHEME)


@dataclass(frozen=True, slots=True)
class SentinelURL:
    sentinels: tuple[tuple[str, int], ...]
    db: int = 0
    username: str | None = None
    password: str | None = None

    @classmethod
    def parse(cls, url: str) -> SentinelURL:
        """The sentinels, database and credentials ``url`` names; a ValueError says what is wrong."""
        sentinels: list[tuple[str, int]] = []
        dbs: set[int] = set()
        credentials: set[tuple[str | None, str | None]] = set()
        for chunk in filter(None, (part.strip() for part in url.split(";"))):
            if not is_sentinel(chunk):
                raise ValueError(
                    f"{chunk!r} is not a sentinel:// URL (sentinel://host:26379;sentinel://host2:26379/0)."
                )
            parts = urlsplit(chunk)
            try:
                port = parts.port
            except ValueError:
                port = None
            if not parts.hostname or port is None:
                raise ValueError(f"{chunk!r} names no host and port (sentinel://host:26379).")
            if parts.query or parts.fragment:
                raise ValueError(f"{chunk!r} has options; none are read from a sentinel:// URL.")
            path = parts.path.strip("/")
            if path:
                if not path.isdigit():
                    raise ValueError(f"{chunk!r} ends in {path!r}, not a database number.")
                dbs.add(int(path))
            if parts.username or parts.password is not None:
                credentials.add(
                    (unquote(parts.username) if parts.username else None, unquote(parts.password or "") or None)
                )
            sentinels.append((parts.hostname, port))
        if not sentinels:
            raise ValueError("It names no sentinel.")
        if len(dbs) > 1:
            raise ValueError(f"Its URLs name different databases: {sorted(dbs)}.")
        if len(credentials) > 1:
            raise ValueError("Its URLs carry different credentials.")
        username, password = credentials.pop() if credentials else (None, None)
        return cls(tuple(sentinels), dbs.pop() if dbs else 0, username, password)

    @property
    def url(self) -> str:
        """The kombu-style URL for Celery and kombu: every sentinel with the database and credentials."""
        auth = ""
        if self.username or self.password:
            auth = f"{quote(self.username or '', safe='')}:{quote(self.password or '', safe='')}@"
        return ";".join(
            f"{SENTINEL_SCHEME}{auth}{f'[{host}]' if ':' in host else host}:{port}/{self.db}"
            for host, port in self.sentinels
        )

    def master_options(self) -> dict[str, object]:
        """What a redis-py ``Sentinel`` passes to its connections to the master."""
        return {"db": self.db, "username": self.username, "password": self.password}
