"""Read-only NSX Policy API reader: cursor-paginated lists and single objects, GET only.

One :class:`~wcp_acceptance.transport.http.ReadOnlySession` per manager; a request goes to the
manager that last answered and moves on to the next when a manager cannot be reached. Lists follow
``cursor`` until none is returned (for search, also until the numeric cursor reaches
``result_count``, as a real search returns a cursor even on its last page).

A list that cannot be whole is an error, never a shorter list: pages that add up to fewer objects
than ``result_count`` (``NSX returned 1,016 of 2,032 virtual servers``), a cursor seen before, and
a list that still sends a cursor after :data:`MAX_PAGES` pages or :data:`LIST_BUDGET_S` seconds.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import quote

from wcp_acceptance.secret import Secret
from wcp_acceptance.transport.http import ApiError, ApiUnreachable, ReadOnlySession, RequestLogEntry

POLICY_PREFIX = "/policy/api/v1"
NAT_SECTIONS = ("USER", "INTERNAL", "DEFAULT")
MAX_PAGE_SIZE = 1000
Objects = list[dict[str, Any]]  # a module-level name: inside NsxReader, ``list`` is the method
T = TypeVar("T")
Kept = list  # the builtin, for annotations inside NsxReader (whose ``list`` is a method)
MAX_PAGES = 1_000  # a million objects at 1,000 a page: beyond that a cursor loop is a bug, not a big site
LIST_BUDGET_S = 120.0  # one list may page for this long; each page is also bounded by the API timeout
# what a list holds, for messages ("NSX returned 1,016 of 2,032 virtual servers")
_NOUNS = (("/lb-virtual-servers", "virtual servers"), ("/nat-rules", "NAT rules"), ("/lb-services", "LB services"),
          ("/lb-pools", "LB pools"), ("/tier-1s", "Tier-1 gateways"), ("/search/", "search results"))


def _noun(path: str) -> str:
    return next((noun for marker, noun in _NOUNS if marker in path), "objects")  # nat-rules before tier-1s


def policy_path(path: str) -> str:
    """``/infra/...`` -> ``/policy/api/v1/infra/...``; ``/api/...`` and ``/policy/...`` stay as given."""
    if not path.startswith("/"):
        path = "/" + path
    if path.startswith(("/api/", "/policy/")):
        return path
    return POLICY_PREFIX + path


def _as_is(obj: dict[str, Any]) -> dict[str, Any]:
    return obj


def path_id(value: str) -> str:
    """Quote an object id for a URL path (NCP ids can hold ``:``, as in ``domain-c8:<uuid>``)."""
    return quote(value, safe="")


class NsxReader:
    """Read NSX Policy objects from ``managers`` (``https://host[:port]``), trusting ``ca_file`` only."""

    def __init__(self, managers: Sequence[str], ca_file: Path, username: str, password: Secret,
                 auth: Literal["session", "basic"] = "session", timeout: float = 10.0, page_size: int = 1000, *,
                 connect_timeout: float | None = None, tries: int = 3, retry_after_cap: float = 5.0,
                 max_pages: int = MAX_PAGES, list_budget_s: float = LIST_BUDGET_S) -> None:
        if not managers:
            raise ValueError("NsxReader needs at least one manager URL")
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size {page_size} is outside 1..{MAX_PAGE_SIZE}")
        if auth not in ("session", "basic"):
            raise ValueError(f"auth {auth!r} is not 'session' or 'basic'")
        self.page_size = page_size
        self.timeout = timeout
        self.max_pages = max(1, int(max_pages))
        self.list_budget_s = float(list_budget_s)
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
        return self.collect(path, _as_is, params)

    def collect(self, path: str, convert: Callable[[dict[str, Any]], T],
                params: Mapping[str, str | int] | None = None) -> Kept[T]:
        """``convert`` of every object of a list endpoint, applied page by page as the pages arrive.

        Only what ``convert`` returns is kept: a page's raw JSON is dropped before the next is asked
        for, so 20,000 virtual servers cost what their compact form costs, not their JSON."""
        full = policy_path(path)
        is_search = full.startswith(POLICY_PREFIX + "/search")
        query: dict[str, str | int] = {**(params or {}), "page_size": self.page_size}
        results: Kept[T] = []
        seen: set[str] = set()
        total: int | None = None  # the smallest result_count seen: objects may go while we page
        started = time.monotonic()
        for page_number in range(1, self.max_pages + 1):
            page = self.get(full, query)
            if not isinstance(page, dict) or not isinstance(page.get("results"), list):
                raise ApiError(self._target(), f"GET {full} did not answer a list (no 'results' array) on page "
                                               f"{page_number}", (repr(page)[:500],))
            objects = page["results"]
            for index, obj in enumerate(objects):
                if not isinstance(obj, dict):
                    raise ApiError(self._target(), f"GET {full} answered a {type(obj).__name__} where an object "
                                                   f"belongs (page {page_number}, item {index + 1}); the list is "
                                                   "not judged", (repr(obj)[:200],))
                results.append(convert(obj))
            count = page.get("result_count")
            if isinstance(count, int) and not isinstance(count, bool):
                total = count if total is None else min(total, count)
            cursor = page.get("cursor")
            del page
            if not cursor or not objects:
                return self._whole(full, results, total, page_number)
            cursor = str(cursor)
            if is_search and total is not None and cursor.isdigit() and int(cursor) >= total:
                return self._whole(full, results, total, page_number)
            if cursor in seen:
                raise ApiError(self._target(), f"GET {full} returned cursor {cursor!r} twice (page "
                                               f"{page_number}, {len(results):,} objects so far): the list would "
                                               "never end; stopped")
            if total is not None and page_number > math.ceil(total / self.page_size) + 1:
                raise ApiError(self._target(), f"GET {full} still returns a cursor after {page_number} pages of "
                                               f"{self.page_size} for result_count {total}")
            elapsed = time.monotonic() - started
            if elapsed > self.list_budget_s:
                raise ApiError(self._target(), f"GET {full} still returned a new cursor after {page_number} pages "
                                               f"and {elapsed:.1f} s ({len(results):,} objects); a list is bounded by "
                                               f"{self.max_pages:,} pages and {self.list_budget_s:g} s")
            seen.add(cursor)
            query["cursor"] = cursor
        raise ApiError(self._target(), f"GET {full} still returned a new cursor after {self.max_pages:,} pages "
                                       f"({len(results):,} objects in {time.monotonic() - started:.1f} s); a list is "
                                       f"bounded by {self.max_pages:,} pages and {self.list_budget_s:g} s")

    def _target(self) -> str:
        return self._sessions[self._active].target

    def _whole(self, full: str, results: Kept[T], total: int | None, pages: int) -> Kept[T]:
        """``results``, unless its pages add up to fewer objects than NSX said it holds."""
        if total is not None and len(results) < total:
            raise ApiError(self._target(), f"NSX returned {len(results):,} of {total:,} {_noun(full)} (GET {full}: "
                                           f"{pages} page{'s' if pages != 1 else ''} ended before result_count "
                                           f"{total:,}); the list is incomplete, so it is not judged")
        return results

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
