"""A secret is a type, not a string: it prints masked everywhere and only a transport reveals it."""

from __future__ import annotations

from dataclasses import dataclass, field

MASK = "********"


@dataclass(frozen=True, eq=False)
class Secret:
    """A credential read from the inventory.

    ``source`` says where it came from (``env:WCP_NSX_PASSWORD``, ``file:/path``, ``inline``) and is
    safe to print; the value itself is reachable only through :meth:`reveal`.
    """

    _value: str = field(repr=False)
    source: str = "inline"

    def reveal(self) -> str:
        """Return the clear value. Only transports (SSH, HTTP auth) may call this."""
        return self._value

    @property
    def inline(self) -> bool:
        return self.source == "inline"

    def __repr__(self) -> str:
        return f"Secret({MASK}, source={self.source!r})"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __reduce__(self) -> str | tuple[object, ...]:  # never pickle the clear value (xdist, caches)
        raise TypeError("a Secret cannot be pickled")
