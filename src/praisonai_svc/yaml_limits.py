"""A YAML loader for untrusted documents: limits enforced *while* the document is composed, not after.

* **libyaml when available.** Scanning and parsing (most of PyYAML's time) run in libyaml's C parser
  (``yaml._yaml.CParser``); only the composition (events → nodes), where the limits live, and the construction
  (nodes → Python values) run in Python. Without libyaml the pure-Python parser is used (about 4x slower).
* **Node count.** Every node counts as it is composed, and an alias counts as everything its anchor expanded to,
  so a "billion laughs" document is refused after :data:`MAX_YAML_NODES` nodes, before the rest is read.
* **Depth and aliases.** At most :data:`MAX_DEPTH` levels of nesting and :data:`MAX_YAML_ALIASES` aliases.
* **Time.** The deadline is checked every :data:`CHECK_EVERY` nodes while composing and constructing.
* **Only what JSON carries.** Integers beyond :data:`MAX_INT_DIGITS` digits, infinite or NaN floats and strings
  that are not valid Unicode (lone surrogates such as ``"\\ud800"``) are refused with a message naming them.

Every refusal is a :class:`~praisonai_svc.errors.PayloadError` (HTTP 400).
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.resolver import Resolver

from praisonai_svc.errors import PayloadError

_FastParser: Any
try:  # libyaml's parser, when PyYAML was built with it
    from yaml import _yaml

    _FastParser = _yaml.CParser
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    _FastParser = None

MAX_DEPTH = 64
MAX_YAML_ALIASES = 100
MAX_YAML_NODES = 200_000  # after alias expansion; ~1 MB of "[1,1,1,...]" has 500,000
MAX_INT_DIGITS = 4300  # Python's own int/str conversion limit (sys.get_int_max_str_digits default)
MAX_INT_BITS = math.ceil(MAX_INT_DIGITS * math.log2(10))  # the same bound for hex, octal and binary forms
CHECK_EVERY = 1024  # nodes between two looks at the clock
LIBYAML = _FastParser is not None


class DeadlineExceeded(PayloadError):
    """The document took too long to parse; nothing was queued. Send a smaller or simpler document."""


def check_deadline(deadline: float | None, budget_seconds: float | None = None) -> None:
    if deadline is not None and time.monotonic() > deadline:
        limit = f" ({budget_seconds:g} s)" if budget_seconds else ""
        raise DeadlineExceeded(f"The document took longer than its parse budget{limit}; nothing was queued. "
                               "Send a smaller or simpler document.")


def check_text_value(value: str) -> str:
    """``value``, if it is valid Unicode text (no lone surrogate); PayloadError naming the surrogate if not."""
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            bad = value[exc.start]
            raise PayloadError(f"The document contains a lone UTF-16 surrogate (\\u{ord(bad):04x}), which is not "
                               "valid Unicode text; send the character itself or a valid surrogate pair.") from None
    return value


class _LimitedComposer(Composer):
    """PyYAML's composer with the limits counted at each node, before the node is built."""

    deadline: float | None = None
    budget_seconds: float | None = None
    if TYPE_CHECKING:  # provided by the parser and the resolver this class is combined with
        def peek_event(self) -> Any: ...
        def get_event(self) -> Any: ...
        def resolve(self, kind: Any, value: Any, implicit: Any) -> Any: ...

    def _init_limits(self) -> None:
        self._depth = 0
        self._nodes = 0
        self._aliases = 0
        self._weights: dict[str, int] = {}  # anchor -> nodes it expanded to

    def _count(self, nodes: int) -> None:
        before = self._nodes
        self._nodes += nodes
        if self._nodes > MAX_YAML_NODES:
            raise PayloadError(f"YAML document has more than {MAX_YAML_NODES} nodes (aliases count as what they "
                               "expand to); refusing it. Send a smaller document.")
        if before // CHECK_EVERY != self._nodes // CHECK_EVERY:
            check_deadline(self.deadline, self.budget_seconds)

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_YAML_ALIASES:
                raise PayloadError(f"YAML uses more than {MAX_YAML_ALIASES} aliases; refusing to expand it.")
            self._count(self._weights.get(str(event.anchor), 1))
            return super().compose_node(parent, index)
        if isinstance(event, yaml.ScalarEvent) and event.anchor is None:
            self._count(1)
            return self._scalar(self.get_event())
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise PayloadError(f"Document is nested deeper than {MAX_DEPTH} levels.")
        start = self._nodes
        self._count(1)
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if event.anchor is not None:
            self._weights[event.anchor] = self._nodes - start
        return node

    def _scalar(self, event: Any) -> Any:
        """Composer.compose_scalar_node for the common case (no anchor), without its call chain: most nodes
        of a large document are scalars. Our resolver has no path resolvers, so descend/ascend do nothing."""
        tag = event.tag
        if tag is None or tag == "!":
            tag = self.resolve(yaml.ScalarNode, event.value, event.implicit)
        return yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark, style=event.style)


class _JsonConstructor(SafeConstructor):
    """SafeConstructor that refuses, by name, the scalars JSON cannot carry, and keeps an eye on the clock."""

    deadline: float | None = None
    budget_seconds: float | None = None
    _constructed = 0

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        self._constructed += 1
        if self._constructed % CHECK_EVERY == 0:
            check_deadline(self.deadline, self.budget_seconds)
        return super().construct_object(node, deep)

    def construct_yaml_int(self, node: Any) -> int:
        text = node.value
        if len(text) < 19 and text.isdigit():  # the common case, without PyYAML's sign/base/underscore parsing
            return int(text)
        try:
            value = super().construct_yaml_int(node)
        except ValueError:
            value = None
        if value is None or value.bit_length() > MAX_INT_BITS:
            raise PayloadError(f"YAML integer at line {node.start_mark.line + 1} has more than {MAX_INT_DIGITS} "
                               "digits; send it as a string.")
        return value

    def construct_yaml_float(self, node: Any) -> float:
        value = super().construct_yaml_float(node)
        if not math.isfinite(value):
            raise PayloadError(f"YAML number {node.value!r} at line {node.start_mark.line + 1} is not finite "
                               "(infinity or NaN); JSON cannot carry it. Send a finite number or a string.")
        return value

    def construct_yaml_str(self, node: Any) -> str:
        return check_text_value(super().construct_yaml_str(node))

    yaml_constructors = {**SafeConstructor.yaml_constructors, "tag:yaml.org,2002:int": construct_yaml_int,
                         "tag:yaml.org,2002:float": construct_yaml_float, "tag:yaml.org,2002:str": construct_yaml_str}


class PurePythonLoader(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser, _LimitedComposer,
                       _JsonConstructor, Resolver):
    """The limited loader on PyYAML's pure-Python scanner and parser."""

    def __init__(self, stream: str) -> None:
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        _LimitedComposer.__init__(self)
        _JsonConstructor.__init__(self)
        Resolver.__init__(self)
        self._init_limits()


if _FastParser is not None:
    class FastLoader(_LimitedComposer, _FastParser, _JsonConstructor, Resolver):  # type: ignore[misc]
        """The limited loader on libyaml's C parser; the composer above it is Python, so the limits hold."""

        def __init__(self, stream: str) -> None:
            _FastParser.__init__(self, stream)
            _LimitedComposer.__init__(self)
            _JsonConstructor.__init__(self)
            Resolver.__init__(self)
            self._init_limits()

    LOADER: type[Any] = FastLoader
else:  # pragma: no cover - depends on how PyYAML was built
    LOADER = PurePythonLoader


def load_limited(text: str, *, deadline: float | None = None, budget_seconds: float | None = None,
                 loader: type[Any] | None = None) -> Any:
    """The one document in ``text``, within the limits above (PayloadError otherwise; YAMLError if malformed)."""
    instance = (loader or LOADER)(text)
    instance.deadline = deadline
    instance.budget_seconds = budget_seconds
    try:
        return instance.get_single_data()
    finally:
        instance.dispose()
