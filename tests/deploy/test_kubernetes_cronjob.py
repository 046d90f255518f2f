"""What each site's CronJob promises: one run at a time, bounded, given time to finish its report after
SIGTERM, a verdict that is not retried away, the image's own arguments, and a pod that cannot escalate."""

from __future__ import annotations

import re

import pytest

from tests.deploy.kubernetes_manifests import SITES, container, cronjob, mount_of, pod_spec, pvc, secret

SUITE_SIGTERM_BOUND_S = 10  # the suite finishes its report within about 10 s of SIGTERM
INVENTORY = "/etc/wcp-acceptance/inventory.yaml"
REPORT_DIR = "/reports"

pytestmark = pytest.mark.parametrize("site", SITES)


def job_spec(site: str) -> dict:
    return cronjob(site)["spec"]["jobTemplate"]["spec"]


def test_runs_of_a_site_never_overlap_and_a_late_start_is_dropped(site: str) -> None:
    spec = cronjob(site)["spec"]
    assert spec["concurrencyPolicy"] == "Forbid"
    assert 0 < spec["startingDeadlineSeconds"] <= 6 * 3600
    assert spec["timeZone"] == "Etc/UTC", "the schedule must not move with the controller's zone"
    minute, hour, *every_day = spec["schedule"].split()
    assert every_day == ["*", "*", "*"], f"{spec['schedule']!r} is not nightly"
    assert minute.isdigit()
    assert hour.isdigit()
    assert 0 <= int(hour) < 6


def test_history_keeps_a_week_of_runs(site: str) -> None:
    spec = cronjob(site)["spec"]
    assert 1 <= spec["successfulJobsHistoryLimit"] <= 14
    assert 1 <= spec["failedJobsHistoryLimit"] <= 14


def test_a_run_has_a_deadline_and_at_most_one_retry(site: str) -> None:
    spec = job_spec(site)
    assert 0 < spec["activeDeadlineSeconds"] <= 2 * 3600
    assert spec["backoffLimit"] in (0, 1)
    assert pod_spec(site)["restartPolicy"] == "Never"


def test_after_sigterm_the_pod_has_time_to_finish_its_report(site: str) -> None:
    grace = pod_spec(site)["terminationGracePeriodSeconds"]
    assert grace > SUITE_SIGTERM_BOUND_S, (
        f"terminationGracePeriodSeconds {grace}: the suite needs {SUITE_SIGTERM_BOUND_S} s after SIGTERM to write"
    )
    assert grace < job_spec(site)["activeDeadlineSeconds"]


def test_a_verdict_is_not_retried_away(site: str) -> None:
    """Exit 1 (unhealthy) and 4 (bad inventory) fail the Job at once; an evicted pod does not count."""
    rules = job_spec(site)["podFailurePolicy"]["rules"]
    fail_codes = {
        code
        for rule in rules
        if rule["action"] == "FailJob" and rule.get("onExitCodes", {}).get("operator") == "In"
        for code in rule["onExitCodes"]["values"]
    }
    assert fail_codes == {1, 4}
    names = {rule["onExitCodes"].get("containerName") for rule in rules if "onExitCodes" in rule}
    assert names == {container(site)["name"]}
    ignored = [rule for rule in rules if rule["action"] == "Ignore"]
    assert [c["type"] for rule in ignored for c in rule["onPodConditions"]] == ["DisruptionTarget"]


def test_the_container_runs_the_site_inventory_into_the_report_claim(site: str) -> None:
    c = container(site)
    assert "command" not in c, "the image's entrypoint (tini, then the script) must stay"
    assert c["args"] == ["run", "--inventory", INVENTORY, "--report-dir", REPORT_DIR]
    assert re.fullmatch(r"[\w.\-/:]+:[\w.\-]+", c["image"]), "pin the image by tag (or digest), never latest"
    assert not c["image"].endswith(":latest")


def test_the_inventory_and_its_secrets_come_from_the_site_secret_read_only(site: str) -> None:
    volume, mount = mount_of(site, "secret")
    assert volume["secret"]["secretName"] == secret(site)["metadata"]["name"]
    assert mount["readOnly"] is True
    assert f"{mount['mountPath']}/inventory.yaml" == INVENTORY
    assert "inventory.yaml" in secret(site)["stringData"]
    assert volume["secret"]["defaultMode"] & 0o077 == 0o040, "owner and group (fsGroup) read, nobody else"


def test_reports_go_to_the_site_claim(site: str) -> None:
    volume, mount = mount_of(site, "persistentVolumeClaim")
    assert volume["persistentVolumeClaim"]["claimName"] == pvc(site)["metadata"]["name"]
    assert mount["mountPath"] == REPORT_DIR
    assert not mount.get("readOnly", False)


def test_secrets_are_never_written_in_the_cronjob(site: str) -> None:
    c = container(site)
    for env in c.get("env", []):
        if re.search(r"PASS|TOKEN|SECRET|KEY|CRED", env["name"], re.IGNORECASE):
            assert "value" not in env, f"{env['name']} is written in the CronJob; use valueFrom.secretKeyRef"
            assert "secretKeyRef" in env["valueFrom"]
    assert all("configMapRef" not in source for source in c.get("envFrom", []))
    text = repr(cronjob(site))
    leaked = [key for key, value in secret(site)["stringData"].items() if value.strip() and value.strip() in text]
    assert leaked == [], f"values of the Secret appear in the CronJob: {leaked}"


def test_the_pod_meets_the_restricted_pod_security_standard(site: str) -> None:
    pod = pod_spec(site)["securityContext"]
    assert pod["runAsNonRoot"] is True
    assert pod["runAsUser"] > 0
    assert pod["runAsGroup"] > 0
    assert pod["fsGroup"] > 0
    assert pod["seccompProfile"]["type"] == "RuntimeDefault"
    assert pod_spec(site)["automountServiceAccountToken"] is False
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        assert not pod_spec(site).get(key, False)
    sc = container(site)["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert "add" not in sc["capabilities"]
    assert not sc.get("privileged", False)


def test_the_only_writable_paths_are_the_reports_and_a_bounded_tmp(site: str) -> None:
    volumes = {v["name"]: v for v in pod_spec(site)["volumes"]}
    writable = {m["mountPath"]: volumes[m["name"]] for m in container(site)["volumeMounts"] if not m.get("readOnly")}
    assert set(writable) == {REPORT_DIR, "/tmp"}
    assert writable["/tmp"]["emptyDir"]["sizeLimit"]


def test_the_container_has_requests_and_limits(site: str) -> None:
    resources = container(site)["resources"]
    for kind in ("requests", "limits"):
        assert {"cpu", "memory", "ephemeral-storage"} <= set(resources[kind]), f"{kind}: {resources[kind]}"


def test_the_site_name_is_the_same_everywhere(site: str) -> None:
    """Copying site-a to site-b must rename every object; a leftover would point site-b at site-a's Secret."""
    for obj in (cronjob(site), secret(site), pvc(site)):
        assert site in obj["metadata"]["name"], obj["metadata"]["name"]
        assert obj["metadata"]["labels"]["app.kubernetes.io/instance"] == site
    others = [other for other in SITES if other != site]
    text = repr((cronjob(site), secret(site), pvc(site)))
    assert [other for other in others if other in text] == []
