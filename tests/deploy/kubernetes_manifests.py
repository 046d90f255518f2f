"""The Kubernetes manifests under deploy/kubernetes: the shared ones and one directory per site."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
KUBE_DIR = ROOT / "deploy" / "kubernetes"
KUBERNETES_VERSION = "1.30"  # the oldest release the manifests support (CronJob timeZone, podFailurePolicy)
SITES = sorted(path.parent.name for path in KUBE_DIR.glob("*/cronjob.yaml"))


def documents(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc]


def manifest_files() -> list[Path]:
    return sorted(KUBE_DIR.rglob("*.yaml"))


def one(site: str, name: str, kind: str) -> dict[str, Any]:
    docs = [doc for doc in documents(KUBE_DIR / site / name) if doc["kind"] == kind]
    assert len(docs) == 1, f"{site}/{name}: expected one {kind}, found {len(docs)}"
    return docs[0]


def cronjob(site: str) -> dict[str, Any]:
    return one(site, "cronjob.yaml", "CronJob")


def secret(site: str) -> dict[str, Any]:
    return one(site, "secret.yaml", "Secret")


def pvc(site: str) -> dict[str, Any]:
    return one(site, "pvc.yaml", "PersistentVolumeClaim")


def pod_spec(site: str) -> dict[str, Any]:
    return cronjob(site)["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def container(site: str) -> dict[str, Any]:
    containers = pod_spec(site)["containers"]
    assert len(containers) == 1, f"{site}: one container expected"
    return containers[0]


def mount_of(site: str, volume_source: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The (volume, mount) pair of the one volume of this source type (secret, persistentVolumeClaim ...)."""
    volumes = [v for v in pod_spec(site)["volumes"] if volume_source in v]
    assert len(volumes) == 1, f"{site}: expected one {volume_source} volume, found {volumes}"
    mounts = [m for m in container(site)["volumeMounts"] if m["name"] == volumes[0]["name"]]
    assert len(mounts) == 1, f"{site}: volume {volumes[0]['name']} is mounted {len(mounts)} times"
    return volumes[0], mounts[0]
