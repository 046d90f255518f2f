"""Many sites in one invocation: what a site's run printed is kept in its output.log and echoed to the
terminal with credentials masked (the site's secrets, and whatever looks like a credential)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from wcp_acceptance import redact as redaction
from wcp_acceptance.cli import site_launch, sites
from wcp_acceptance.cli.site_netns import SiteSpec

SECRET, TOKEN = "site-secret-4d8e1f", "bearer-canary-9a0b2c"

LEAKY_SITE = r'''
import json, sys
from pathlib import Path
root, label, secret, token = sys.argv[1:5]
print(f"NSX said: user admin with password {secret} is locked", flush=True)
print(f"GET /api/v1/namespaces Authorization: Bearer {token}", flush=True)
run = Path(root, label, "20261125T020000Z")
run.mkdir(parents=True)
(run / "summary.json").write_text(json.dumps({"inventory": label, "verdict": "UNHEALTHY", "exit_code": 1}))
print(f"wcp-acceptance {label}: UNHEALTHY exit=1 8 passed, 1 failed, 0 could not observe, 0 skipped "
      f"report={run}")
sys.exit(1)
'''


@pytest.fixture(autouse=True)
def _site_secret() -> Iterator[None]:
    redaction.register(SECRET)  # as reading the site's inventory registers its secrets
    yield
    redaction.forget()


def test_a_sites_output_log_and_lines_hold_no_credential(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "leaky_site.py").write_text(LEAKY_SITE)
    spec = SiteSpec(tmp_path / "leaky.yaml", "leaky", None)
    launcher = site_launch.spawner(
        lambda site: [sys.executable, str(tmp_path / "leaky_site.py"), str(tmp_path), site.label, SECRET, TOKEN])
    assert sites.run_sites([spec], report_root=tmp_path, jobs=1, launcher=launcher) == 1
    out = capsys.readouterr().out
    log = (tmp_path / "leaky" / "20261125T020000Z" / "output.log").read_text()
    assert "NSX said: user admin with password ******** is locked" in log  # kept, masked
    assert "wcp-acceptance leaky: UNHEALTHY exit=1" in out
    for name, text in {"output.log": log, "the terminal": out}.items():
        assert SECRET not in text, f"the site's secret reached {name}"
        assert TOKEN not in text, f"a bearer token reached {name}"
