#!/bin/sh
# Container entrypoint: runs wcp-acceptance with the container's arguments.
#   (no arguments)         wcp-acceptance run --inventory "$WCP_INVENTORY"
#   --report-dir DIR ...   wcp-acceptance run --report-dir DIR ...   (options of run; the inventory from WCP_INVENTORY)
#   checks | diff A B ...  wcp-acceptance checks | diff A B ...
# exec, so wcp-acceptance gets SIGTERM itself (and finishes its report) and its exit code is the container's.
set -eu

if [ "$#" -eq 0 ]; then
  if [ -z "${WCP_INVENTORY:-}" ]; then
    echo "wcp-acceptance: no arguments and WCP_INVENTORY is not set: give an inventory (run --inventory FILE)" >&2
    exit 4
  fi
  set -- run --inventory "$WCP_INVENTORY"
else
  case "$1" in
    -*) set -- run "$@" ;;
  esac
fi
exec wcp-acceptance "$@"
