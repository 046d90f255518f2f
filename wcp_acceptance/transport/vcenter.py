"""Read-only vCenter reader for Workload Management status (GET only; session login the one POST)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from wcp_acceptance.secret import Secret
from wcp_acceptance.transport.http import ApiError, ReadOnlySession
from wcp_acceptance.transport.nsx import path_id

CLUSTERS_PATH = "/api/vcenter/namespace-management/clusters"


class VcenterReader:
    """Read the Supervisor clusters of one vCenter (``url`` like ``https://vcenter.corp.local``)."""

    def __init__(self, url: str, ca_file: Path, username: str, password: Secret, timeout: float = 10.0, *,
                 connect_timeout: float | None = None, tries: int = 3, retry_after_cap: float = 5.0) -> None:
        self._session = ReadOnlySession(url, ca_file=ca_file, username=username, password=password,
                                        auth="vcenter-session", api_name="vCenter",
                                        timeout=(connect_timeout or timeout, timeout), tries=tries,
                                        retry_after_cap=retry_after_cap)

    def __repr__(self) -> str:
        return f"<VcenterReader {self._session.base_url} user={self._session.username}>"

    @property
    def calls(self) -> int:
        return self._session.calls

    def clusters(self) -> list[dict[str, Any]]:
        """Summaries of every cluster with Workload Management (``cluster``, ``config_status``, ...)."""
        body = self._session.get_json(CLUSTERS_PATH)
        if not isinstance(body, list):
            raise ApiError(self._session.target, f"GET {CLUSTERS_PATH} did not answer a list", (repr(body)[:500],))
        return body

    def cluster(self, moid: str) -> dict[str, Any]:
        """The ``Info`` of one Supervisor cluster (endpoints, DNS, CIDRs, network provider, status)."""
        path = f"{CLUSTERS_PATH}/{path_id(moid)}"
        body = self._session.get_json(path)
        if not isinstance(body, dict):
            raise ApiError(self._session.target, f"GET {path} did not answer an object", (repr(body)[:500],))
        return body

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> VcenterReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
