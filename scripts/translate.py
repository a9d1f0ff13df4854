"""Put Vietnamese translations from a JSON file into the Vietnamese catalog.

    make babel                                  # the new msgids reach locales/vi/LC_MESSAGES/messages.po
    .venv/bin/python scripts/translate.py vi.json
    make babel catalog-check                    # compile, and check nothing is left untranslated

The JSON file maps each English msgid to its Vietnamese text (for a plural message, to a list with one
text, since Vietnamese has one plural form). Keeping the translations of a change in such a file lets two
branches that both add messages be merged by running ``make babel`` and this script again, instead of
resolving conflicts in the catalog by hand. A msgid the catalog does not have is reported, not added.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

CATALOG = Path("locales/vi/LC_MESSAGES/messages.po")


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__)
        return 2
    with CATALOG.open("rb") as handle:
        catalog = read_po(handle, locale="vi")
    missing: list[str] = []
    changed = 0
    for path in argv[1:]:
        translations: dict[str, str | list[str]] = json.loads(Path(path).read_text(encoding="utf-8"))
        for msgid, text in translations.items():
            message = next((m for m in catalog if (m.id[0] if isinstance(m.id, tuple) else m.id) == msgid), None)
            if message is None:
                missing.append(msgid)
                continue
            message.string = tuple(text) if isinstance(message.id, tuple) else text  # type: ignore[assignment]
            message.flags.discard("fuzzy")
            changed += 1
    with CATALOG.open("wb") as handle:
        write_po(handle, catalog, width=76)
    print(f"{changed} translations set in {CATALOG}")
    for msgid in missing:
        print(f"not in the catalog (run make babel first?): {msgid!r}")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
