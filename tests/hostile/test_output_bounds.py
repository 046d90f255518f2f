"""Output stays bounded whatever the inventory holds: a huge value is shortened with its length, a million
bad entries print twenty problems and a count, and an inventory past the size cap is refused unread."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.hostile.refusal import OUTPUT_MAX_CHARS, assert_ended_quickly, assert_refused, run
from tests.support.inventories import EXAMPLE, example_data, write
from wcp_acceptance.inventory import InventoryError, load_inventory
from wcp_acceptance.inventory.load import MAX_PROBLEMS


def test_a_huge_value_inside_the_cap_is_shown_shortened(tmp_path: Path) -> None:
    data = example_data()
    data["name"] = "n" * 400_000
    path = write(tmp_path, data)
    result = run([path], tmp_path / "reports")
    assert result.exit_code == 4, result.output[-3000:]
    assert_refused(result.output, path, [f"name: '{'n' * 79}… (400,002 characters) is not a plain name"])
    assert_ended_quickly(result)


def test_a_10_mb_value_is_refused_by_the_file_size_cap(tmp_path: Path) -> None:
    path = write(tmp_path, EXAMPLE.read_text().replace("name: supervisor-1", f"name: {'v' * 10_000_000}", 1))
    result = run([path], tmp_path / "reports")
    assert result.exit_code == 4, result.output[-3000:]
    assert_refused(result.output, path, ["cannot read inventory: the file is 10,00", "more than the 524,288 bytes"])
    assert_ended_quickly(result)


def test_a_flood_of_bad_entries_prints_twenty_problems_and_a_count(tmp_path: Path) -> None:
    data = example_data()
    data["ntp_servers"] = []
    flood = "ntp_servers:\n" + "- bad\n" * 80_000  # ~480 KB, just under the cap
    path = write(tmp_path, yaml.safe_dump(data, sort_keys=False).replace("ntp_servers: []\n", flood, 1))
    result = run([path], tmp_path / "reports")
    assert result.exit_code == 4, result.output[-3000:]
    assert_refused(result.output, path, ["ntp_servers[0]: 'bad' is not an IPv4 address",
                                         f"ntp_servers[{MAX_PROBLEMS - 1}]: 'bad' is not an IPv4 address"])
    assert f"ntp_servers[{MAX_PROBLEMS}]:" not in result.output
    assert f"... and {80_000 - MAX_PROBLEMS:,} more problems" in result.output
    assert len(result.output) < OUTPUT_MAX_CHARS // 4, f"observed {len(result.output):,} characters"
    assert_ended_quickly(result)


@pytest.mark.parametrize("key", ["k" * 5000, "\x1b[2J\x1b[31mred"])
def test_an_unknown_key_is_shown_shortened_and_escaped(tmp_path: Path, key: str) -> None:
    data = example_data()
    data["nsx"][key] = "x"
    with pytest.raises(InventoryError) as caught:
        load_inventory(write(tmp_path, data))
    (line,) = [p for p in caught.value.problems if "unknown key" in p]
    assert len(line) < 400, line
    assert "\x1b" not in line, f"expected control characters escaped, observed {line!r}"
