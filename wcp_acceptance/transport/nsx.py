"""Read-only NSX Policy API reader: cursor-paginated lists and single objects, GET only.

One :class:`~wcp_acceptance.transport.http.ReadOnlySession` per manager; a request goes to the
manager that last answered and moves on to the next when a manager cannot be reached. Lists follow
``cursor`` until none is returned (for search, also until the numeric cursor reaches
``result_count``, as a real search returns a cursor even on its last page).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from wcp_acceptance.secret import Secret
from wcp_acceptance.transport.http import ApiError, ApiUnreachable, ReadOnlySession, RequestLogEntry

POLICY_PREFIX = "/policy/api/v1"
NAT_SECTIONS = ("USER", "INTERNAL", "DEFAULT")
MAX_PAGE_SIZE = 1000
Objects = list[dict[str, Any]]  # a module-level name: inside NsxReader, ``list`` is the method
MAX_PAGES = 10_000  # 10 million objects: beyond that a cursor loop is a bug, not a big site


def policy_path(path: str) -> str:
    """``/infra/...`` -> ``/policy/api/v1/infra/...``; ``/api/...`` and ``/policy/...`` stay as given."""
    if not path.startswith("/"):
        path = "/" + path
    if path.startswith(("/api/", "/policy/")):
        return path
    return POLICY_PREFIX + path


def path_id(value: str) -> str:
    """Quote an object id for a URL path (NCP ids can hold ``:``, as in ``domain-c8:<uuid>``)."""
    return quote(value, safe="")


class NsxReader:
    """Read NSX Policy objects from ``managers`` (``https://host[:port]``), trusting ``ca_file`` only."""

    def __init__(self, managers: Sequence[str], ca_file: Path, username: str, password: Secret,
                 auth: Literal["session", "basic"] = "session", timeout: float = 10.0, page_size: int = 1000, *,
                 connect_timeout: float | None = None, tries: int = 3, retry_after_cap: float = 5.0) -> None:
        if not managers:
            raise ValueError("NsxReader needs at least one manager URL")
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size {page_size} is outside 1..{MAX_PAGE_SIZE}")
        if auth not in ("session", "basic"):
            raise ValueError(f"auth {auth!r} is not 'session' or 'basic'")
        self.page_size = page_size
        self.timeout = timeout
        self._sessions = [
            ReadOnlySession(url, ca_file=ca_file, username=username, password=password,
                            auth="nsx-session" if auth == "session" else "basic", api_name="NSX",
                            timeout=(connect_timeout or timeout, timeout), tries=tries,
                            retry_after_cap=retry_after_cap)
            for url in managers
        ]
        self._active = 0

    def __repr__(self) -> str:
        first = self._sessions[0]
        managers = ",".join(s.base_url for s in self._sessions)
        return f"<NsxReader {managers} user={first.username} auth={first.auth} page_size={self.page_size}>"

    @property
    def calls(self) -> int:
        """HTTP requests sent so far (GETs, retries and session login/logout)."""
        return sum(s.calls for s in self._sessions)

    @property
    def request_log(self) -> tuple[RequestLogEntry, ...]:
        return tuple(entry for s in self._sessions for entry in s.log)

    @property
    def manager(self) -> str:
        """The manager that answered last (or will be asked first)."""
        return self._sessions[self._active].base_url

    # ---- reading ----------------------------------------------------------------------------------
    def get(self, path: str, params: Mapping[str, str | int] | None = None) -> Any:
        """GET one object or page; ``path`` like ``/infra/lb-services/<id>`` or ``/api/v1/node/version``."""
        full = policy_path(path)
        order = [self._active, *(i for i in range(len(self._sessions)) if i != self._active)]
        failures: list[ApiUnreachable] = []
        for index in order:
            try:
                result = self._sessions[index].get_json(full, params)
            except ApiUnreachable as exc:
                failures.append(exc)
                continue
            self._active = index
            return result
        if len(failures) == 1:
            raise failures[0]
        causes = "; ".join(f"{f.target}: {f.cause}" for f in failures)
        raise ApiUnreachable("NSX managers " + ", ".join(s.base_url for s in self._sessions),
                             f"no manager could be reached: {causes}")

    def list(self, path: str, params: Mapping[str, str | int] | None = None) -> Objects:
        """Every object of a list endpoint, following ``cursor`` page by page (``page_size`` per page)."""
        full = policy_path(path)
        is_search = full.startswith(POLICY_PREFIX + "/search")
        query: dict[str, str | int] = {**(params or {}), "page_size": self.page_size}
        results: Objects = []
        seen: set[str] = set()
        total: int | None = None
        for page_number in range(1, MAX_PAGES + 1):
            page = self.get(full, query)
            if not isinstance(page, dict) or not isinstance(page.get("results"), list):
                raise ApiError(self._sessions[self._active].target,
                               f"GET {full} did not answer a list (no 'results' array) on page {page_number}",
                               (repr(page)[:500],))
            results.extend(page["results"])
            if isinstance(page.get("result_count"), int):
                total = page["result_count"] if total is None else total
            cursor = page.get("cursor")
            if not cursor or not page["results"]:
                return results
            cursor = str(cursor)
            if is_search and total is not None and cursor.isdigit() and int(cursor) >= total:
                return results
            if cursor in seen:
                raise ApiError(self._sessions[self._active].target,
                               f"GET {full} returned cursor {cursor!r} twice (page {page_number}); stopped to avoid "
                               "a loop")
            if total is not None and page_number > math.ceil(total / self.page_size) + 1:
                raise ApiError(self._sessions[self._active].target,
                               f"GET {full} still returns a cursor after {page_number} pages of {self.page_size} "
                               f"for result_count {total}")
            seen.add(cursor)
            query["cursor"] = cursor
        raise ApiError(self._sessions[self._active].target, f"GET {full}: more than {MAX_PAGES} pages")

    # ---- the objects the checks use ----------------------------------------------------------------
    def virtual_servers(self) -> Objects:
        return self.list("/infra/lb-virtual-servers")

    def lb_services(self) -> Objects:
        return self.list("/infra/lb-services")

    def lb_pools(self) -> Objects:
        return self.list("/infra/lb-pools")

    def tier1s(self) -> Objects:
        return self.list("/infra/tier-1s")

    def nat_rules(self, tier1_id: str, section: str = "USER") -> Objects:
        if section not in NAT_SECTIONS:
            raise ValueError(f"NAT section {section!r} is not one of {', '.join(NAT_SECTIONS)}")
        return self.list(f"/infra/tier-1s/{path_id(tier1_id)}/nat/{section}/nat-rules")

    def search(self, query: str) -> Objects:
        return self.list("/search/query", {"query": query})

    def version(self) -> dict[str, Any]:
        return dict(self.get("/api/v1/node/version"))

    # ---- lifecycle ------------------------------------------------------------------------------------
    def close(self) -> None:
        """Log out of every manager session (errors are logged, not raised)."""
        for session in self._sessions:
            session.close()

    def __enter__(self) -> NsxReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
