"""Transports: the only code that opens connections and reveals secrets (read-only by construction)."""
