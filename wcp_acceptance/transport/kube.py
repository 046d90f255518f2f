"""Read-only Kubernetes API access with the official ``kubernetes`` client.

:class:`KubeReader` owns its own ``ApiClient`` and ``Configuration`` (the library's global default
configuration is never read or written), trusts exactly the CA it is given (or the kubeconfig's),
ignores proxy and CA environment variables, and sends nothing but GET: a guard in the REST layer
refuses any other verb before a connection is opened.

Lists are chunked (``limit`` 500 + ``continue`` until the server stops sending one) and parsed
as plain JSON dicts (fast: no model deserialisation). Every call carries ``_request_timeout``
(connect timeout, read timeout), and the client does not retry. A list is bounded by
:data:`MAX_PAGES` pages and :data:`LIST_BUDGET_S` seconds, and a ``continue`` token seen before
ends it at once. A server that could not be connected to is remembered as down for the run: later
calls raise at once, saying so. An answer cut mid-transfer names the request and the exception.

Failures raise :class:`KubeObservationError` subclasses with a readable cause (HTTP status, reason
and the Status message; a timeout states its seconds; TLS and connection errors say so). The
bearer token never appears in a repr, a message or a log record.
"""

from __future__ import annotations

import http.client
import json
import logging
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import quote, urlsplit

import urllib3
from kubernetes import client as k8s
from kubernetes.client import rest
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException
from kubernetes.config.kube_config import load_kube_config

from wcp_acceptance.finding import ObservationError
from wcp_acceptance.secret import Secret
from wcp_acceptance.targets import ServicePort

log = logging.getLogger(__name__)

PAGE_SIZE = 500
MAX_PAGES = 1_000  # 500,000 objects: a server that never stops sending ``continue`` is an error, not a hang
LIST_BUDGET_S = 120.0  # one list may page for this long; each page is also bounded by the timeout
EVIDENCE_CHARS = 2000
JsonDict = dict[str, Any]


class KubeObservationError(ObservationError):
    """The Kubernetes API could not be observed; ``status``/``reason`` are set when it answered."""

    def __init__(self, target: str, cause: str, evidence: Iterable[str] = (), *, status: int | None = None,
                 reason: str | None = None) -> None:
        super().__init__(target, cause, evidence)
        self.status = status
        self.reason = reason


class KubeApiError(KubeObservationError):
    """The API answered with an error Status (401, 403, 404, 410, 5xx...) or an unreadable body."""


class KubeTimeout(KubeObservationError):
    """No answer within the timeout."""


class KubeUnreachable(KubeObservationError):
    """No connection: refused, reset, no route, or no connection within the timeout."""


class KubeTlsError(KubeObservationError):
    """The server's certificate is not trusted by the CA, or not valid for the server's name."""


class KubeConfigError(KubeObservationError):
    """The kubeconfig is missing, unreadable, or lacks the requested context."""


class KubeWriteRefused(RuntimeError):
    """Something tried to send a request other than GET through a reader."""


class _ReadOnlyRest(rest.RESTClientObject):
    """The REST layer under the ApiClient: the last stop before urllib3, so the guard cannot be bypassed."""

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> rest.RESTResponse:
        if method.upper() != "GET":
            raise KubeWriteRefused(f"read-only Kubernetes reader: refused {method.upper()} {urlsplit(url).path}")
        return super().request(method, url, *args, **kwargs)


def _configuration() -> k8s.Configuration:
    # proxy "" (not None): do not take HTTPS_PROXY/ALL_PROXY from the environment
    cfg = k8s.Configuration(proxy="", no_proxy="")
    cfg.retries = False  # urllib3 must not retry: the timeout is the whole wait
    cfg.verify_ssl = True
    return cfg


class KubeReader:
    """GET-only view of one Kubernetes API server (a Supervisor's kube-apiserver)."""

    def __init__(self, configuration: k8s.Configuration, timeout: float, source: str, *,
                 connect_timeout: float | None = None, list_budget_s: float = LIST_BUDGET_S) -> None:
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, got {timeout}")
        if connect_timeout is not None and connect_timeout <= 0:
            raise ValueError(f"connect_timeout must be positive, got {connect_timeout}")
        self.timeout = float(timeout)
        self.connect_timeout = float(connect_timeout) if connect_timeout is not None else self.timeout
        self.list_budget_s = float(list_budget_s)
        self.down: str | None = None  # why the server is not asked again this run (set on a failed connect)
        self.server = configuration.host
        self.source = source
        self._api_client = k8s.ApiClient(configuration)
        self._api_client.rest_client = _ReadOnlyRest(configuration)
        self.list_calls = 0  # list requests sent (one per page)
        self.calls = 0  # all requests sent

    # ---- construction ------------------------------------------------------------------------
    @classmethod
    def from_kubeconfig(cls, path: Path | str, context: str | None = None, timeout: float = 10.0, *,
                        connect_timeout: float | None = None) -> KubeReader:
        """Server, CA and credentials from a kubeconfig file (``context`` or its current context)."""
        cfg = _configuration()
        try:
            load_kube_config(config_file=str(path), context=context, client_configuration=cfg,
                             persist_config=False)
        except (ConfigException, OSError, ValueError, TypeError, KeyError) as error:
            where = f"kubeconfig {path}" + (f" context {context!r}" if context else "")
            raise KubeConfigError(where, f"cannot load the kubeconfig: {error}") from None
        cfg.retries = False
        return cls(cfg, timeout, f"kubeconfig {path}" + (f" context {context}" if context else ""),
                   connect_timeout=connect_timeout)

    @classmethod
    def from_token(cls, server: str, token: Secret, ca_file: Path | str, timeout: float = 10.0, *,
                   connect_timeout: float | None = None, list_budget_s: float = LIST_BUDGET_S) -> KubeReader:
        """A bearer token (e.g. a service account's) and the CA that signed the server's certificate."""
        if not isinstance(token, Secret):
            raise TypeError("token must be a wcp_acceptance.secret.Secret")
        cfg = _configuration()
        cfg.host = server.rstrip("/")
        cfg.ssl_ca_cert = str(ca_file)
        cfg.api_key = {"authorization": token.reveal()}
        cfg.api_key_prefix = {"authorization": "Bearer"}
        return cls(cfg, timeout, f"token {token.source}", connect_timeout=connect_timeout,
                   list_budget_s=list_budget_s)

    def __repr__(self) -> str:
        return (f"<KubeReader {self.server} ({self.source}) timeout={self.timeout:g}s "
                f"connect_timeout={self.connect_timeout:g}s>")

    def close(self) -> None:
        self._api_client.close()
        self._api_client.rest_client.pool_manager.clear()

    def __enter__(self) -> KubeReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- reads ---------------------------------------------------------------------------------
    def version(self) -> JsonDict:
        """``GET /version``: gitVersion, major, minor, platform..."""
        return self._get("/version")

    def services(self) -> list[JsonDict]:
        """Every Service in every namespace (chunked list)."""
        return self._list("/api/v1/services")

    def namespaces(self) -> list[JsonDict]:
        return self._list("/api/v1/namespaces")

    def pods(self, namespace: str | None = None) -> list[JsonDict]:
        """Pods of ``namespace``, or of all namespaces when it is None."""
        if namespace is None:
            return self._list("/api/v1/pods")
        return self._list(f"/api/v1/namespaces/{quote(namespace, safe='')}/pods")

    def config_map(self, namespace: str, name: str) -> JsonDict:
        return self._get(f"/api/v1/namespaces/{quote(namespace, safe='')}/configmaps/{quote(name, safe='')}")

    def service(self, namespace: str, name: str) -> JsonDict:
        """One Service (a single GET); a missing one raises KubeApiError with status 404."""
        return self._get(f"/api/v1/namespaces/{quote(namespace, safe='')}/services/{quote(name, safe='')}")

    def cluster_ip_service_ports(self, *, also: Callable[[list[JsonDict]], object] | None = None) -> list[ServicePort]:
        """Every (Service, port, protocol) that has a ClusterIP: what NCP gives a DLB virtual server.

        Each page of Services becomes its ports as it arrives (and goes to ``also``, which keeps what else it
        needs of it, e.g. NCP's error annotations); the Services' JSON is not kept."""
        ports: list[ServicePort] = []

        def page(items: list[JsonDict]) -> None:
            ports.extend(service_ports_with_cluster_ip(items))
            if also is not None:
                also(items)

        self._list("/api/v1/services", each_page=page)
        return ports

    def each_page(self, path: str, handle: Callable[[list[JsonDict]], object]) -> None:
        """Every page of a chunked list (e.g. ``/api/v1/pods``) to ``handle``, as it arrives; nothing is kept."""
        self._list(path, each_page=handle)

    # ---- plumbing ------------------------------------------------------------------------------
    def _list(self, path: str, *, each_page: Callable[[list[JsonDict]], object] | None = None) -> list[JsonDict]:
        """Every item of a chunked list; with ``each_page``, each page goes there instead and none is kept."""
        items: list[JsonDict] = []
        got = 0
        token: str | None = None
        seen: set[str] = set()
        started = time.monotonic()
        for page in range(1, MAX_PAGES + 1):
            self.list_calls += 1
            body = self._get(path, limit=PAGE_SIZE, **({"continue": token} if token else {}))
            page_items = body.get("items") or []
            if not isinstance(page_items, list) or not all(isinstance(item, dict) for item in page_items):
                raise KubeApiError(self._target(path), f"page {page} of the list has 'items' that are not a list "
                                                       "of objects; the list is not judged")
            got += len(page_items)
            if each_page is None:
                items.extend(page_items)
            else:
                each_page(page_items)
            token = (body.get("metadata") or {}).get("continue") or None
            if token is None:
                return items
            token = str(token)
            if token in seen:
                raise KubeApiError(self._target(path), f"the server sent the same 'continue' token again on page "
                                                       f"{page} ({got:,} items so far): the list would never "
                                                       "end; stopped")
            seen.add(token)
            elapsed = time.monotonic() - started
            if elapsed > self.list_budget_s:
                raise KubeApiError(self._target(path), f"the server kept sending 'continue' after {page} pages of "
                                                       f"{PAGE_SIZE} and {elapsed:.1f} s; a list is bounded by "
                                                       f"{MAX_PAGES:,} pages and {self.list_budget_s:g} s")
        raise KubeApiError(self._target(path), f"the server kept sending 'continue' after {MAX_PAGES} pages of "
                                               f"{PAGE_SIZE} ({time.monotonic() - started:.1f} s); a list is bounded "
                                               f"by {MAX_PAGES:,} pages and {self.list_budget_s:g} s")

    def _target(self, path: str) -> str:
        return f"Kubernetes API {self.server} GET {path}"

    def _send(self, path: str, query: dict[str, Any]) -> bytes:
        """One GET through the client's ApiClient (its auth, TLS and the read-only REST layer).

        Not through ``CoreV1Api``: importing that generated module costs 1.4 s of CPU per run, and
        the reader needs no model class (answers are read as plain JSON)."""
        request = self._api_client.param_serialize(method="GET", resource_path=path, query_params=list(query.items()),
                                                   header_params={"Accept": "application/json"},
                                                   auth_settings=["BearerToken"])
        response = self._api_client.call_api(*request, _request_timeout=(self.connect_timeout, self.timeout))
        response.read()
        if not 200 <= response.status <= 299:  # as the generated API does when content is not preloaded
            raise ApiException.from_response(http_resp=response, body=None, data=None)
        data: bytes = response.data or b""
        return data

    def _get(self, path: str, **query: Any) -> JsonDict:
        target = self._target(path)
        if self.down is not None:
            raise KubeUnreachable(target, f"{self.down}; not asked again this run")
        self.calls += 1
        try:
            raw = self._send(path, query)
        except ApiException as error:
            self._raise_api_exception(target, error)
        except urllib3.exceptions.HTTPError as error:
            self._raise_transport(target, error)
        except (OSError, http.client.HTTPException) as error:
            raise KubeUnreachable(target, f"connection failed: {error.__class__.__name__}: {error}") from None
        try:
            body = json.loads(raw)
        except ValueError:
            raise KubeApiError(target, f"the answer is not JSON ({len(raw)} bytes)",
                               [raw[:EVIDENCE_CHARS].decode("utf-8", "replace")]) from None
        if not isinstance(body, dict):
            raise KubeApiError(target, f"the answer is JSON but not an object: {type(body).__name__}")
        return body

    def _raise_api_exception(self, target: str, error: ApiException) -> NoReturn:
        status = int(error.status or 0)
        if status == 0:  # the REST layer wraps TLS failures as status 0
            text = str(error.reason or "")
            if "SSL" in text or "CERTIFICATE" in text.upper():
                detail = text.replace("\n", ": ")
                raise KubeTlsError(target, f"TLS verification failed with the configured CA: {detail}") from None
            raise KubeUnreachable(target, text.replace("\n", ": ") or "no answer") from None
        body = error.body if isinstance(error.body, str) else (error.body or b"").decode("utf-8", "replace")
        reason, message = str(error.reason or ""), ""
        try:
            status_body = json.loads(body)
            if isinstance(status_body, dict) and status_body.get("kind") == "Status":
                reason = str(status_body.get("reason") or reason)
                message = str(status_body.get("message") or "")
        except ValueError:
            message = body[:200]
        cause = f"HTTP {status} {reason}" + (f": {message}" if message and message != reason else "")
        hint = {
            401: "the credentials were refused (token expired or wrong, or a kubeconfig for another server)",
            403: "the user may not read this resource (RBAC)",
            410: "the list's continue token expired; the list must restart",
            429: "the API server is throttling requests",
        }.get(status)
        if hint:
            cause += f" ({hint})"
        raise KubeApiError(target, cause, [body[:EVIDENCE_CHARS]] if body else [], status=status,
                           reason=reason) from None

    def _raise_transport(self, target: str, error: urllib3.exceptions.HTTPError) -> NoReturn:
        inner: BaseException = error
        if isinstance(error, urllib3.exceptions.MaxRetryError) and error.reason is not None:
            inner = error.reason
        if isinstance(inner, urllib3.exceptions.NewConnectionError):  # before TimeoutError: it subclasses it
            self._mark_down(_errno_text(inner))
            raise KubeUnreachable(target, f"cannot connect: {_errno_text(inner)}") from None
        if isinstance(inner, urllib3.exceptions.ConnectTimeoutError):
            self._mark_down(f"connect timeout {self.connect_timeout:g} s")
            raise KubeTimeout(target, f"no connection within the {self.connect_timeout:g} s connect timeout") from None
        if isinstance(inner, urllib3.exceptions.TimeoutError):
            raise KubeTimeout(target, f"no answer within the {self.timeout:g} s timeout") from None
        if isinstance(inner, urllib3.exceptions.SSLError):
            raise KubeTlsError(target, f"TLS verification failed with the configured CA: {inner}") from None
        if isinstance(inner, urllib3.exceptions.ProtocolError):
            raise KubeApiError(target, f"the answer broke off mid-transfer ({inner.__class__.__name__}: "
                                       f"{_root_text(inner)})") from None
        raise KubeUnreachable(target, f"{inner.__class__.__name__}: {inner}") from None

    def _mark_down(self, why: str) -> None:
        when = datetime.now(UTC).strftime("%H:%M:%S UTC")
        self.down = f"the Kubernetes API at {self.server} did not answer at {when} ({why})"
        log.info("%s; not asked again this run", self.down)


def _root_text(error: BaseException) -> str:
    """``ProtocolError('Response ended prematurely')`` or the IncompleteRead it wraps, without reprs."""
    inner = error.args[1] if len(error.args) > 1 and isinstance(error.args[1], BaseException) else None
    text = str(error.args[0]) if error.args else str(error)
    if inner is None or str(inner) in text:
        return text
    return f"{text}: {type(inner).__name__}: {inner}"


def _errno_text(error: BaseException) -> str:
    text = str(error)
    return text.split(": ", 1)[1] if ": " in text else text


def has_cluster_ip(service: JsonDict) -> bool:
    """A Service has a ClusterIP unless it is ExternalName or headless (clusterIP None/""/"None")."""
    spec = service.get("spec") or {}
    return spec.get("type", "ClusterIP") != "ExternalName" and spec.get("clusterIP") not in (None, "", "None")


def service_ports_with_cluster_ip(services: Iterable[JsonDict]) -> list[ServicePort]:
    """One :class:`ServicePort` per (Service, port, protocol) with a ClusterIP (NodePort and
    LoadBalancer Services included: they have one too)."""
    out: list[ServicePort] = []
    for svc in services:
        if not has_cluster_ip(svc):
            continue
        meta, spec = svc.get("metadata") or {}, svc.get("spec") or {}
        for port in spec.get("ports") or []:
            out.append(ServicePort(namespace=str(meta.get("namespace", "")), name=str(meta.get("name", "")),
                                   cluster_ip=str(spec["clusterIP"]), port=int(port["port"]),
                                   protocol=str(port.get("protocol") or "TCP")))
    return out
