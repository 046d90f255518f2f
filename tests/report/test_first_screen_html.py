"""The first screen's HTML: what it says, and that site values and API answers cannot inject markup."""

from __future__ import annotations

from html.parser import HTMLParser
from types import SimpleNamespace

from tests.report.summaries import NO_PTR, entry, seed_failures, summary
from wcp_acceptance.plugin.html import pytest_html_results_table_row
from wcp_acceptance.report.firstscreen import render
from wcp_acceptance.report.screen import NO_BASELINE, screen_of

HOSTILE = '<script>alert("site")</script>'
INJECTED = '<img src=x onerror="alert(1)">'


class Elements(HTMLParser):
    """Every start tag with its attributes, and the text under each id."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(fragments: list[str]) -> Elements:
    parser = Elements()
    parser.feed("".join(fragments))
    parser.close()
    return parser


def test_hostile_site_values_and_api_answers_are_text_not_markup() -> None:
    tests = [entry("WCP-DNS-002", f"cp-1/eth0 -> {HOSTILE}", "failed", cause=f"PTR says {INJECTED}",
                   observed=INJECTED, evidence=(f"answer: {INJECTED}", "</pre><script>x()</script>"))]
    data = summary(tests, site=HOSTILE, supervisor=INJECTED, scope=f"selection -k {HOSTILE!r}")
    page = parse(render(screen_of(data, environment={"Site (inventory)": HOSTILE, INJECTED: "NSX managers"})))
    tags = {tag for tag, _ in page.tags}
    assert "script" not in tags
    assert "img" not in tags
    assert not [attrs for _, attrs in page.tags if any(name.startswith("on") for name in attrs)]
    text = "".join(page.text)
    assert HOSTILE in text
    assert INJECTED in text
    assert "</pre><script>x()</script>" in text


def test_a_healthy_run_says_so_and_that_nothing_is_compared() -> None:
    tests = [entry("WCP-VIP-001", "172.16.1.2:443"), entry("WCP-VIP-001", "172.16.1.2:6443")]
    screen = screen_of(summary(tests))
    html = "".join(render(screen))
    assert screen.verdict == "HEALTHY"
    assert 'id="wcp-verdict" class="wcp-verdict">HEALTHY<' in html
    assert "every selected check passed" in html
    assert f'id="wcp-diff" class="wcp-no-baseline">{NO_BASELINE}<' in html
    assert 'id="wcp-evidence"' not in html
    vip = next(a for a in screen.areas if a.name == "vip")
    assert [(c.check_id, c.status, c.passed, c.total) for c in vip.checks] == [
        ("WCP-VIP-001", "passed", 2, 2), ("WCP-VIP-002", "not selected", 0, 0), ("WCP-VIP-003", "not selected", 0, 0)]
    assert {a.status for a in screen.areas if a.name != "vip"} == {"not selected"}


def test_the_area_table_says_what_was_excluded_and_what_was_not_reached() -> None:
    tests = [entry("WCP-VIP-001", "172.16.1.2:443"), entry("WCP-VIP-002", "172.16.1.2:443", "skipped"),
             {**entry("WCP-VIP-003", "172.16.1.2:443"), "outcome": "not_run"},
             entry("WCP-NCP-001", "supervisor-1", "error", cause="kube-apiserver refused the token (401)")]
    screen = screen_of(summary(tests, verdict="INCOMPLETE", interrupted_by="SIGTERM"))
    rows = {c.check_id: c for a in screen.areas for c in a.checks}
    assert [rows[i].status for i in ("WCP-VIP-001", "WCP-VIP-002", "WCP-VIP-003", "WCP-NCP-001")] == [
        "passed", "excluded", "not run", "could not observe"]
    assert rows["WCP-NCP-001"].first_cause == "kube-apiserver refused the token (401)"
    assert rows["WCP-NCP-001"].cause_number == 1
    html = "".join(render(screen))
    assert "nothing failed, but something could not be observed or the run was cut short" in html
    assert "cut short by SIGTERM" in html
    assert "1 could not be observed" in html


def test_the_seed_failure_reads_as_one_cause_with_its_rows_and_their_evidence() -> None:
    html = "".join(render(screen_of(summary(seed_failures()))))
    page = parse([html])
    causes = [attrs for tag, attrs in page.tags if tag == "li" and attrs.get("class") == "wcp-cause"]
    assert [c["id"] for c in causes] == ["wcp-cause-1"]
    assert html.count('<tr class="wcp-o-failed">') == 27
    articles = [attrs for tag, attrs in page.tags if tag == "article"]
    assert len(articles) == 27
    links = {attrs["href"] for tag, attrs in page.tags if tag == "a"}
    ids = {attrs["id"] for _, attrs in page.tags if "id" in attrs}
    assert {href[1:] for href in links if href and href.startswith("#")} <= ids  # no link to nothing


def test_since_the_last_good_run_counts_new_fixed_and_still_failing() -> None:
    before = summary([entry("WCP-DNS-002", "cp-1/eth0 -> vcenter.corp.local", "failed",
                            cause=NO_PTR.format(server="192.168.10.10")),
                      entry("WCP-DLB-001", "supervisor-1", "failed", cause="NCP has not realised 1 Service port"),
                      entry("WCP-VIP-001", "172.16.1.2:443")])
    after = summary([entry("WCP-DNS-002", "cp-1/eth0 -> vcenter.corp.local", "failed",
                           cause=NO_PTR.format(server="192.168.10.10")),
                     entry("WCP-DLB-001", "supervisor-1"),
                     entry("WCP-VIP-001", "172.16.1.2:443", "failed", cause="nothing listens on the VIP port")])
    screen = screen_of(after, baseline=before, baseline_label="the last good run 20261124T020000Z")
    assert screen.diff_line == ("since the last good run 20261124T020000Z: 1 new failures, 1 fixed, "
                                "1 still failing")
    assert screen.since("WCP-VIP-001", "172.16.1.2:443") == "new"
    assert screen.since("WCP-DNS-002", "cp-1/eth0 -> vcenter.corp.local") == "still failing"
    html = "".join(render(screen))
    assert "<b>WCP-DLB-001</b> supervisor-1: failed \u2192 passed" in html
    assert '<th>Since the last good run</th>' in html


def test_the_per_test_table_escapes_node_ids_and_names_the_check() -> None:
    report = SimpleNamespace(nodeid=f"tests_live/test_dns.py::test_x[{HOSTILE}]", when="call",
                             user_properties=[("check_id", "WCP-DNS-001")])
    cells = ['<td class="col-result">Failed</td>', f'<td class="col-testId">{report.nodeid}</td>',
             '<td class="col-duration">0.25 s</td>', '<td class="col-links"></td>']
    pytest_html_results_table_row(report, cells)  # type: ignore[arg-type]
    assert cells[1] == '<td class="col-check">WCP-DNS-001</td>'
    assert "<script>" not in cells[2]
    assert "&lt;script&gt;" in cells[2]


def test_the_first_screen_names_the_first_three_causes_and_counts_the_rest() -> None:
    wordings = ("refused", "reset by the peer", "timed out", "answered as nginx", "closed before TLS")
    tests = [entry("WCP-VIP-001", f"172.16.1.2:{port}", "failed", cause=f"the VIP port {port} {wording}")
             for port, wording in zip((443, 6443, 8443, 9443, 10443), wordings, strict=True)]
    html = "".join(render(screen_of(summary(tests))))
    digest = html.split('<ol id="wcp-digest">', 1)[1].split("</ol>", 1)[0]
    assert digest.count("<li") == 4
    assert '<li class="wcp-o-failed"><a href="#wcp-cause-1">1 target</a>: the VIP port 443 refused' in digest
    assert '<a href="#wcp-causes">2 more</a>' in digest
    assert "5 distinct causes</a> for 5 failed or unobserved targets" in html
