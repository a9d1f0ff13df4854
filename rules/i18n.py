"""The gettext marker for msgids defined in the rules layer, which has no translator of its own."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


def N_(msgid: str) -> str:
    """Mark ``msgid`` for extraction; the caller translates it for the person it is shown to."""
    return msgid


@dataclass(frozen=True)
class Wording:
    """A msgid and its values, worded when someone reads it: by their translator, or in English.

    A value may be a Wording too (worded by the same translator). ``str()`` is the English text.
    """

    msgid: str
    values: tuple[tuple[str, object], ...] = ()

    @classmethod
    def of(cls, msgid: str, /, **values: object) -> Wording:
        return cls(msgid, tuple(values.items()))

    def worded(self, t: Callable[..., str] | None = None) -> str:
        values = {name: value.worded(t) if isinstance(value, Wording) else value for name, value in self.values}
        if t is not None:
            return t(self.msgid, **values)
        return self.msgid.format(**values) if values else self.msgid

    def __str__(self) -> str:
        return self.worded()
