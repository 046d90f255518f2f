#!/usr/bin/env bash
# Capture real `ip -j` output of a Supervisor control-plane VM's policy routing.
#
# The seed (field report) shows the rules a Supervisor VM gets once eth1 (workload) is added:
# every workload destination, the workload DNS server and traffic from the eth1 address go to
# table 200, whose default route leaves through eth1. When management and workload DNS share
# 192.168.10.10, management DNS is steered out eth1 too. This script rebuilds both variants of
# the seed (shared DNS, and the healthy redeploy with workload DNS 192.168.10.11) plus a variant
# with the less common rule selectors and actions, and saves what iproute2 prints, so that the
# parser and the lookup engine in wcp_acceptance/iproute.py are tested against the kernel's own
# answers rather than against hand-written JSON.
#
# Safety: everything happens inside one uniquely named network namespace (every command is
# `ip -n NAME ...`), which a trap deletes on exit, error or interrupt. Nothing is sent anywhere:
# `ip route get` only asks the kernel's FIB. Needs root (CAP_NET_ADMIN) to create the namespace.
#
# Usage: tests/data/capture_iproute.sh [OUTPUT_DIR]   (default: tests/data/iproute next to this script)

set -euo pipefail

OUT="${1:-$(cd "$(dirname "$0")" && pwd)/iproute}"
NS="wcpcap-$$-${RANDOM}"

if [[ $(id -u) -ne 0 ]]; then
    echo "capture_iproute.sh: needs root to create network namespace ${NS}" >&2
    exit 2
fi

cleanup() {
    if ip netns list | grep -qw -- "${NS}"; then
        ip netns delete "${NS}"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM  # exit runs the EXIT trap

nsip() { ip -n "${NS}" "$@"; }

# A fresh namespace for one variant: eth0 (management) and eth1 (workload) as the two ends of a
# veth pair inside the namespace, the seed's addresses, the main default route via the management
# gateway and the Supervisor's table 200.
make_vm() {
    cleanup
    ip netns add "${NS}"
    nsip link add eth0 type veth peer name eth1
    nsip addr add 192.168.10.45/24 dev eth0
    nsip addr add 10.244.0.2/28 dev eth1
    nsip link set lo up
    nsip link set eth0 up
    nsip link set eth1 up
    nsip route add default via 192.168.10.254 dev eth0
    nsip route add default via 10.244.0.1 dev eth1 proto static table 200
    nsip route add 10.244.0.0/28 dev eth1 proto static scope link table 200
}

# Save one `ip -j route get DST [from SRC]`; a refusal (unreachable rule, blackhole) is saved as
# .err with the exit status and stderr, because that is what a VM would print too.
route_get() {
    local dir="$1" dst="$2" src="${3:-}" name args=()
    name="route-get_${dst}"
    args=(route get "${dst}")
    if [[ -n "${src}" ]]; then
        name="${name}_from_${src}"
        args+=(from "${src}")
    fi
    local rc=0
    nsip -j "${args[@]}" >"${dir}/${name}.json" 2>"${dir}/${name}.stderr" || rc=$?
    if [[ ${rc} -ne 0 ]]; then
        rm -f "${dir}/${name}.json"
        { echo "exit ${rc}"; cat "${dir}/${name}.stderr"; } >"${dir}/${name}.err"
    fi
    rm -f "${dir}/${name}.stderr"
}

save_tables() {
    local dir="$1"
    mkdir -p "${dir}"
    nsip -j rule show >"${dir}/rule.json"
    nsip -j route show table all >"${dir}/route-table-all.json"
    nsip -j route show table 200 >"${dir}/route-table-200.json"
    nsip rule show >"${dir}/rule.txt"
    nsip route show table 200 >"${dir}/route-table-200.txt"
    nsip route show >"${dir}/route-main.txt"
}

# Destinations worth asking about: management DNS, the healthy variant's workload DNS, a vCenter
# address, the seed's NSX manager, the API VIP, kube-dns ClusterIP, a workload neighbour, an
# outside address, a 100.64/16 address, and both local addresses.
DESTINATIONS=(192.168.10.10 192.168.10.11 192.168.10.20 192.168.10.28 172.16.1.2 10.96.0.10 10.244.0.5
              8.8.8.8 100.64.0.1 192.168.10.45 10.244.0.2)
SOURCES=(192.168.10.45 10.244.0.2 "")

capture_route_gets() {
    local dir="$1" dst src
    for dst in "${DESTINATIONS[@]}"; do
        for src in "${SOURCES[@]}"; do
            route_get "${dir}" "${dst}" "${src}"
        done
    done
}

# --- the seed, management and workload DNS both 192.168.10.10 (rules in the seed's order) ---
make_vm
for sel in "to 192.168.10.10" "to 172.16.1.0/24" "to 10.244.0.0/20" "from 10.244.0.2" \
           "to 100.64.0.0/16" "to 10.96.0.0/23"; do
    # shellcheck disable=SC2086  # the selector is two words on purpose
    nsip rule add pref 0 ${sel} lookup 200
done
save_tables "${OUT}/seed-shared-dns"
capture_route_gets "${OUT}/seed-shared-dns"

# --- the seed's healthy redeploy: workload DNS 192.168.10.11 ---
make_vm
for sel in "to 172.16.1.0/24" "to 10.244.0.0/20" "to 10.96.0.0/23" "from 10.244.0.2" \
           "to 100.64.0.0/16" "to 192.168.10.11"; do
    # shellcheck disable=SC2086
    nsip rule add pref 0 ${sel} lookup 200
done
save_tables "${OUT}/healthy"
capture_route_gets "${OUT}/healthy"

# --- the other selectors and actions the parser must read (not, fwmark, iif, oif, goto,
#     unreachable/prohibit/blackhole rules and routes, a throw route) ---
make_vm
nsip rule add pref 0 to 192.168.10.10 lookup 200
nsip rule add pref 0 from 10.244.0.2 lookup 200
nsip rule add pref 5 not from 10.0.0.0/8 fwmark 0x1/0xff iif lo lookup 300
nsip rule add pref 6 to 198.51.100.0/24 unreachable
nsip rule add pref 7 oif eth0 to 203.0.113.0/24 prohibit
nsip rule add pref 8 to 198.18.0.0/15 blackhole
nsip rule add pref 9 to 198.19.0.0/16 goto 32766
nsip rule add pref 10 iif lo lookup 300
nsip route add blackhole 192.0.2.0/24 table 300
nsip route add unreachable 192.0.2.5 table 300
nsip route add prohibit 192.0.2.6 table 300
nsip route add throw 192.0.2.7 table 300
nsip route add 192.0.2.64/26 via 192.168.10.253 dev eth0 metric 50 table 300
nsip route add 192.0.2.64/26 via 10.244.0.3 dev eth1 metric 10 table 300
save_tables "${OUT}/selectors"
for dst in 192.168.10.10 198.51.100.1 203.0.113.9 198.18.0.1 198.19.0.1 192.0.2.1 192.0.2.5 192.0.2.6 \
           192.0.2.7 192.0.2.70 8.8.8.8; do
    for src in 192.168.10.45 10.244.0.2 ""; do
        route_get "${OUT}/selectors" "${dst}" "${src}"
    done
done

echo "captured into ${OUT} (namespace ${NS} removed)"
