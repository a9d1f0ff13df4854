"""The YAML of data files (plans, reference lists): PyYAML's safe loader, strict enough that every problem
in a file becomes "where, and what was expected there", never a traceback.

What differs from ``yaml.safe_load``:

- Unquoted dates and times stay text. PyYAML builds them itself and raises a bare ``ValueError`` for one
  that does not exist (``2027-02-29``); as text, the schema's field type parses it and reports the field.
- Any other scalar that cannot be built as what it looks like or is tagged as (``!!int abc``, a number of
  5,000 digits) stays text too, so the schema says what the field expects.
- A key given twice in one mapping is refused (PyYAML silently keeps the last one).
- Nesting deeper than :data:`MAX_DEPTH`, an alias inside the value it names, and more than
  :data:`MAX_VALUES` values once aliases are expanded (a "billion laughs" file) are refused before
  anything is built, so a hostile file cannot exhaust the stack, the memory or the validator's time.
- Problems PyYAML finds itself (syntax) are reported with their line.

Anchors and aliases (``&ward`` … ``*ward``) keep working: the seed plan uses them.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from rules.i18n import N_, Wording

# A plan listing every commune of the country (some 3,300 units) takes well under 1 MB; the pure-Python
# parser reads about 1 MB in 3 s.
MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_DEPTH = 32
MAX_VALUES = 500_000

# Timestamps are the schema's to parse; "=" alone would be the YAML "value" tag, which has no constructor.
_TEXT_TAGS = frozenset({"tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:value"})
_UNKNOWN_TAG = re.compile(r"could not determine a constructor for the tag '(.*)'")


class YamlProblem(Exception):
    """Where in the file (a field path such as ``conferences[0].code``, or ``line 12``) and what was expected."""

    def __init__(self, where: str | Wording, expected: str | Wording) -> None:
        super().__init__(f"{where}: expected {expected}" if where else f"expected {expected}")
        self.where = where
        self.expected = expected


class _DataLoader(yaml.SafeLoader):
    yaml_implicit_resolvers = {
        first: [(tag, pattern) for tag, pattern in resolvers if tag not in _TEXT_TAGS]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        # The composer recurses once per level: bound it before Python's own limit is reached.
        if self._depth >= MAX_DEPTH:
            raise ComposerError(None, None, f"at most {MAX_DEPTH} levels of nesting", self.peek_event().start_mark)
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        if not isinstance(node, ScalarNode):
            return super().construct_object(node, deep)
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError):
            # Kept as written; the field's type says what it expected.
            self.recursive_objects.pop(node, None)
            self.constructed_objects[node] = node.value
            return node.value


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


class _Walk:
    """One pass over the composed nodes before anything is built: paths, repeated keys, alias cycles, size."""

    def __init__(self) -> None:
        # Where each node starts in the file -> the first field path that reaches it.
        self.paths: dict[int, str] = {}
        self._sizes: dict[int, int] = {}
        self._open: set[int] = set()

    def size(self, node: Node, path: str) -> int:
        """How many values ``node`` holds with aliases expanded (memoised, so shared nodes cost once)."""
        key = id(node)
        if key in self._sizes:
            return self._sizes[key]
        if key in self._open:
            raise YamlProblem(path, Wording(N_("no alias (*name) inside the value it names")))
        self._open.add(key)
        self.paths.setdefault(node.start_mark.index, path)
        total = 1
        if isinstance(node, SequenceNode):
            for index, child in enumerate(node.value):
                total += self.size(child, f"{path}[{index}]")
        elif isinstance(node, MappingNode):
            total += self._mapping(node, path)
        self._open.discard(key)
        if total > MAX_VALUES:
            limit = Wording.of(
                N_("at most {limit} values in the file, aliases (*name) counted in full"), limit=MAX_VALUES
            )
            raise YamlProblem(path, limit)
        self._sizes[key] = total
        return total

    def _mapping(self, node: MappingNode, path: str) -> int:
        first_line: dict[tuple[str, str], int] = {}
        total = 0
        for key_node, value_node in node.value:
            name = key_node.value if isinstance(key_node, ScalarNode) else "[key]"
            entry = _join(path, name)
            if isinstance(key_node, ScalarNode):
                identity = (key_node.tag, key_node.value)
                if identity in first_line:
                    raise YamlProblem(
                        entry,
                        Wording.of(
                            N_("each key once in a mapping ('{name}' is given twice, first on line {line})"),
                            name=name,
                            line=first_line[identity],
                        ),
                    )
                first_line[identity] = key_node.start_mark.line + 1
            total += self.size(key_node, entry) + self.size(value_node, entry)
        return total


def _line(mark: Any) -> str | Wording:
    return Wording.of(N_("line {number}"), number=mark.line + 1) if mark is not None else ""


def parse(text: str) -> Any:
    """The value of the one YAML document in ``text`` (``None`` when empty); :class:`YamlProblem` if it
    is not valid YAML, or is valid but beyond the limits above."""
    walk = _Walk()
    loader: _DataLoader | None = None
    try:
        loader = _DataLoader(text)
        node = loader.get_single_node()
        if node is None:
            return None
        walk.size(node, "")
        return loader.construct_document(node)
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        found = Wording.of(
            N_("text without control characters (found {character})"), character=f"#x{exc.character:04x}"
        )
        raise YamlProblem(Wording.of(N_("line {number}"), number=line), found) from None
    except ConstructorError as exc:
        mark = exc.problem_mark
        where = walk.paths.get(mark.index, "") if mark is not None else ""
        tag = _UNKNOWN_TAG.match(exc.problem or "")
        if tag:
            written = tag[1].replace("tag:yaml.org,2002:", "!!", 1)
            raise YamlProblem(
                where or _line(mark), Wording.of(N_("a plain value, without the tag {tag}"), tag=written)
            ) from None
        raise YamlProblem(where or _line(mark), Wording.of(N_("valid YAML ({problem})"), problem=exc.problem)) from None
    except yaml.MarkedYAMLError as exc:
        problem = exc.problem or exc.context
        raise YamlProblem(_line(exc.problem_mark), Wording.of(N_("valid YAML ({problem})"), problem=problem)) from None
    except yaml.YAMLError:
        raise YamlProblem("", Wording(N_("valid YAML"))) from None
    finally:
        if loader is not None:
            loader.dispose()


__all__ = ["MAX_DEPTH", "MAX_FILE_BYTES", "MAX_VALUES", "YamlProblem", "parse"]
