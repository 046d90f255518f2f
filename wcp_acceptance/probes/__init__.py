"""Probes: observe one fact on the live system and return an observation record.

A probe runs allow-listed read-only commands on a control-plane VM through
:class:`wcp_acceptance.commands.ReadOnlyRunner` and returns a frozen record from
:mod:`wcp_acceptance.observations` even when the system is wrong; it raises
:class:`wcp_acceptance.finding.ObservationError` only when it could not look at all.
"""
