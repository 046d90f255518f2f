"""The one redaction point: every artifact writer passes its text through :func:`redact`.

The :class:`~wcp_acceptance.secret.Secret` type keeps credentials out of what the suite prints; this is
the second wall, for what an appliance echoes back (an NSX error body that quotes a header, a URL with
``user:password@`` in a log line) and for any path that forgot the type. It masks:

- the ``user:password@`` of a URL;
- the values of ``Authorization``, ``Proxy-Authorization``, ``Cookie``, ``Set-Cookie``, ``X-XSRF-TOKEN``,
  ``X-Auth-Token`` and ``vmware-api-session-id`` headers, in ``Name: value`` or ``'Name': 'value'`` form;
- ``Bearer <token>``, JSON Web Tokens and PEM private key blocks;
- ``password=...``, ``token=...``, ``JSESSIONID=...`` and similar pairs (``=`` or a quoted JSON key);
- the run's own secret values, once :func:`register` (or :func:`register_secrets`) knows them.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from wcp_acceptance.secret import MASK, Secret

MIN_KNOWN_LENGTH = 4  # shorter registered values are not searched for: they would mask ordinary words

_HEADERS = r"authorization|proxy-authorization|set-cookie|cookie|x-xsrf-token|x-auth-token|vmware-api-session-id"
_KEYS = (r"password|passwd|passphrase|pwd|secret|client[_-]?secret|token|access[_-]?token|refresh[_-]?token"
         r"|api[_-]?key|jsessionid|xsrf-token|session[_-]?id|sessionid|private[_-]?key")

_Q = r"(?:[\"'`]|&#x27;|&#39;|&quot;|&#34;)"  # a quote, also as HTML escapes it
_END = r"[^\"'`\r\n<&]*"  # a header value ends at a quote, the line's end or HTML markup

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # PEM private keys, whole
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)", re.S),
     MASK),
    # scheme://user:password@host -> scheme://********@host (also user@ with an empty password)
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^\s/?#@\"'<>]*@"), rf"\1{MASK}@"),
    # user:password@host without a scheme (as an inventory's URL may be written)
    (re.compile(r"(?<![\w./:@-])[A-Za-z0-9._%+-]+:[^\s/@\"'<>]+@(?=[A-Za-z0-9\[])"), f"{MASK}@"),
    # header values: "Authorization: Basic abc", "'Cookie': 'JSESSIONID=x'", "X-XSRF-TOKEN=abc"
    (re.compile(rf"(?i)(?<![\w-])({_Q}?(?:{_HEADERS}){_Q}?\s*[:=]\s*{_Q}?){_END}"), rf"\1{MASK}"),
    # Bearer tokens
    (re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]+"), rf"\1{MASK}"),
    # JSON Web Tokens (Kubernetes service account tokens)
    (re.compile(r"\beyJ[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]*"), MASK),
    # key=value pairs and quoted JSON keys: password=x, "token": "x", 'password': 'x'
    (re.compile(rf"(?i)(?<![A-Za-z0-9])((?:{_KEYS})\s*=\s*{_Q}?)[^\s\"'`&;,<]+"), rf"\1{MASK}"),
    (re.compile(rf"(?i)({_Q}(?:{_KEYS}){_Q}\s*:\s*{_Q}){_END}"), rf"\1{MASK}"),
)

_known: set[str] = set()
_lock = threading.Lock()
_known_re: re.Pattern[str] | None = None


def register(*values: str) -> None:
    """Remember secret values of this run; :func:`redact` masks each wherever it appears."""
    global _known_re
    with _lock:
        added = {v for v in values if isinstance(v, str) and len(v) >= MIN_KNOWN_LENGTH} - _known
        if not added:
            return
        _known.update(added)
        _known_re = re.compile("|".join(re.escape(v) for v in sorted(_known, key=len, reverse=True)))


def forget() -> None:
    """Drop every registered value (for tests)."""
    global _known_re
    with _lock:
        _known.clear()
        _known_re = None


def _secrets_in(obj: object, seen: set[int]) -> Iterable[Secret]:
    if id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, Secret):
        yield obj
    elif isinstance(obj, BaseModel):
        for name in type(obj).model_fields:
            yield from _secrets_in(getattr(obj, name), seen)
    elif isinstance(obj, Mapping):
        for value in obj.values():
            yield from _secrets_in(value, seen)
    elif isinstance(obj, list | tuple | set | frozenset):
        for value in obj:
            yield from _secrets_in(value, seen)


def register_secrets(model: object) -> None:
    """Register every :class:`Secret` a loaded inventory (or any model) holds."""
    register(*(s.reveal() for s in _secrets_in(model, set())))


def redact(text: str) -> str:
    """``text`` with everything that looks like a credential, and every registered secret, masked."""
    if not text:
        return text
    known = _known_re
    if known is not None:
        text = known.sub(MASK, text)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact_data(obj: Any) -> Any:
    """A copy of JSON-like data (dicts, lists, tuples, strings) with every string (keys too) redacted."""
    if isinstance(obj, str):
        return redact(obj)
    if isinstance(obj, Mapping):
        return {redact_data(k): redact_data(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [redact_data(v) for v in obj]
    return obj


_installed = False


def install_log_redaction() -> None:
    """Every log record's message is redacted as it is made, so no handler (live logs, captured logs in a
    report, a file) ever formats a credential. Idempotent."""
    global _installed
    if _installed:
        return
    _installed = True
    make = logging.getLogRecordFactory()

    def redacting(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make(*args, **kwargs)
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a bad format string: leave it for logging to report
            return record
        record.msg, record.args = redact(message), None
        return record

    logging.setLogRecordFactory(redacting)


def redact_file(path: Path) -> None:
    """Rewrite a file another writer made (pytest-html's report.html, pytest's junit.xml) with credentials
    masked, atomically; a file that holds none, or is missing, is left as it is."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return
    masked = redact(text)
    if masked == text:
        return
    tmp = path.with_name(f".{path.name}.{os.getpid()}.redacted")
    try:
        tmp.write_text(masked, encoding="utf-8")
        tmp.replace(path)
    except OSError:
        tmp.unlink(missing_ok=True)
