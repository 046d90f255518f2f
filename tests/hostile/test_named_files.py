"""Files an inventory names, and the inventory itself: a FIFO, /dev/zero, a 2 GiB sparse file, a directory
or a 5,000-character path is refused at once (one non-blocking open and fstat), never read, never waited on."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.hostile.refusal import assert_ended_quickly, assert_refused, run
from tests.support.inventories import example_data, write
from wcp_acceptance.inventory.load import SOURCE_CHARS
from wcp_acceptance.probes.port_holder import _inventory_name

GIB = 1024**3


@pytest.fixture
def specials(tmp_path: Path) -> dict[str, Path]:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    sparse = tmp_path / "sparse"
    with sparse.open("wb") as handle:
        handle.truncate(2 * GIB)  # no blocks on disk; a reader that trusts it would allocate 2 GiB
    folder = tmp_path / "folder"
    folder.mkdir()
    return {"fifo": fifo, "zero": Path("/dev/zero"), "sparse": sparse, "folder": folder,
            "long": tmp_path / ("x" * 5000)}


def test_every_named_file_is_checked_before_it_is_read(tmp_path: Path, specials: dict[str, Path]) -> None:
    data = example_data()
    ssh = data["supervisor"]["control_plane"]
    data["nsx"]["password"] = {"file": str(specials["fifo"])}
    data["vcenter"]["password"] = {"file": str(specials["sparse"])}
    data["nsx"]["ca_file"] = str(specials["zero"])
    data["api_vip"]["ca_file"] = str(specials["fifo"])
    data["vcenter"]["ca_file"] = str(specials["long"])
    data["kubernetes"]["kubeconfig"] = str(specials["sparse"])
    ssh[0]["ssh"]["known_hosts"] = str(specials["folder"])
    ssh[1]["ssh"] = {"key_file": str(specials["fifo"]), "insecure_skip_host_key_check": True}
    ssh[2]["ssh"]["password"] = {"file": str(specials["zero"])}
    path = write(tmp_path, data)
    result = run([path], tmp_path / "reports")
    assert result.exit_code == 4, result.output[-3000:]
    assert_refused(result.output, path, [
        f"nsx.password: cannot read secret file {specials['fifo']}: it is a FIFO, not a regular file",
        f"vcenter.password: cannot read secret file {specials['sparse']}: it is 2,147,483,648 bytes, "
        "more than the 65,536 bytes allowed",
        f"nsx.ca_file: file {specials['zero']} is a character device, not a regular file",
        f"api_vip.ca_file: file {specials['fifo']} is a FIFO, not a regular file",
        "vcenter.ca_file: file ", "cannot be opened: the path is too long",
        f"kubernetes.kubeconfig: file {specials['sparse']} is 2,147,483,648 bytes, more than the",
        f"supervisor.control_plane[0].ssh.known_hosts: file {specials['folder']} is a directory, not a regular",
        f"supervisor.control_plane[1].ssh.key_file: file {specials['fifo']} is a FIFO, not a regular file",
        f"supervisor.control_plane[2].ssh.password: cannot read secret file {specials['zero']}: it is a char",
    ])
    assert_ended_quickly(result)


@pytest.mark.parametrize(("name", "reason"), [
    ("fifo", "cannot read inventory: the file is a FIFO, not a regular file"),
    ("zero", "cannot read inventory: the file is a character device, not a regular file"),
    ("sparse", "cannot read inventory: the file is 2,147,483,648 bytes, more than the 524,288 bytes allowed"),
    ("folder", "cannot read inventory: the file is a directory, not a regular file"),
])
def test_the_inventory_itself_is_checked_before_it_is_read(tmp_path: Path, specials: dict[str, Path], name: str,
                                                           reason: str) -> None:
    result = run([specials[name]], tmp_path / "reports")
    assert result.exit_code == 4, result.output[-3000:]
    assert_refused(result.output, specials[name], [reason])
    assert_ended_quickly(result)


def test_a_5000_character_inventory_path_is_one_shortened_line(tmp_path: Path, specials: dict[str, Path]) -> None:
    result = run([specials["long"]], tmp_path / "reports")
    assert result.exit_code == 4, result.output[-3000:]
    whole = str(specials["long"])
    assert_refused(result.output, f"{whole[:SOURCE_CHARS]}… ({len(whole):,} characters)",
                   ["cannot read inventory: the file cannot be opened: the path is too long"])
    assert str(specials["long"]) not in result.output, "expected the path shortened, observed it whole"
    assert_ended_quickly(result)


@pytest.mark.parametrize("name", ["fifo", "zero", "sparse"])
def test_naming_another_runs_site_never_waits_on_its_inventory(specials: dict[str, Path], name: str) -> None:
    # the observer-port holder's site is read from its --inventory: that file is as untrusted as ours
    started = time.monotonic()
    site = _inventory_name(os.getpid(), ["pytest", "--inventory", str(specials[name])], Path("/proc"))
    assert site == specials[name].name
    assert time.monotonic() - started < 5, "expected no wait on a FIFO or a device"
