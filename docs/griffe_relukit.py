"""A Griffe extension for the API pages: docstrings written for ``help()`` made to render.

relukit's docstrings follow numpy's conventions, which are written for plain text and
Sphinx. mkdocstrings renders them as Markdown, where two of those conventions go wrong:

* a doctest (``>>>`` lines) outside an ``Examples`` section is a Markdown block quote
  (``>`` nested three deep) and comes out as a flattened quote: such blocks are put in a
  ``pycon`` code fence here;
* a Sphinx role (``:class:`Activation```, ``:func:`relukit.diagnose```, ``:math:`x```)
  is printed literally: each becomes a cross-reference to the object's section
  (``[Activation][relukit.catalogue.Activation]``, resolved by mkdocs-autorefs; an
  unresolved one fails ``mkdocs build --strict``), plain code for objects outside
  relukit (``rich.table.Table``), or inline math for ``:math:``.

A role naming a private object (a ``_`` component) is reported as a warning, which fails
the strict build: the public documentation must not send readers to private names.
Loaded by ``mkdocs.yml`` (``plugins: mkdocstrings: handlers: python: options:
extensions``).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import griffe

REFERENCE = Path(__file__).resolve().parent / "reference"
LOG = logging.getLogger("mkdocs.plugins.relukit_docstrings")

ROLE = re.compile(
    r":(?:py:)?(?P<role>class|func|meth|attr|mod|data|exc|obj|const|math):`(?P<text>[^`]+)`"
)
#: roles whose target is called or instantiated: a module there means its namesake member
#: (``:func:`relukit.diagnose``` is the function ``relukit.diagnose.diagnose``)
CALLABLE_ROLES = {"func", "class", "meth", "exc"}


def fence_doctests(text: str) -> str:
    """Put every ``>>>`` block outside an ``Examples`` section in a ``pycon`` fence.

    A block runs from a ``>>>`` line to the next blank line (its output included), as
    doctest reads it. Lines already in a code fence, and the ``Examples`` section (which
    the numpy parser renders as code itself), are left alone.

    >>> fence_doctests("Text.\\n\\n>>> 1 + 1\\n2\\n\\nMore.").splitlines()
    ['Text.', '', '```pycon', '>>> 1 + 1', '2', '```', '', 'More.']
    """
    lines = text.split("\n")
    out: list[str] = []
    in_examples = in_fence = in_block = False
    for i, line in enumerate(lines):
        stripped = line.strip()
        underline = i + 1 < len(lines) and re.fullmatch(r"-{3,}", lines[i + 1].strip() or "x")
        if underline and not in_fence and not in_block:
            in_examples = stripped == "Examples"
        if stripped.startswith("```"):
            in_fence = not in_fence
        if in_block and not stripped:
            out.append("```")
            in_block = False
        if not in_fence and not in_examples and not in_block and stripped.startswith(">>>"):
            out.append("```pycon")
            in_block = True
        out.append(line)
    if in_block:
        out.append("```")
    return "\n".join(out)


def _member(collection: Any, path: str) -> Any:
    try:
        return collection.get_member(path)
    except (KeyError, ValueError, AttributeError, griffe.AliasResolutionError):
        return None


def _final(obj: Any) -> Any:
    """The object an alias stands for (the object itself otherwise)."""
    if isinstance(obj, griffe.Alias):
        try:
            return obj.final_target
        except (griffe.AliasResolutionError, griffe.CyclicAliasError):
            return None
    return obj


def _kind(obj: Any) -> str:
    obj = _final(obj)
    return "" if obj is None else obj.kind.value


def _private(path: str) -> bool:
    return any(p.startswith("_") and not p.endswith("__") for p in path.split("."))


def directives(pages: list[Path]) -> list[tuple[str, list[str] | None]]:
    """``(path, members or None)`` for every ``::: path`` in ``pages``."""
    out: list[tuple[str, list[str] | None]] = []
    for page in pages:
        lines = page.read_text(encoding="utf-8").splitlines()
        for i, line in enumerate(lines):
            m = re.match(r"::: ([\w.]+)\s*$", line)
            if not m:
                continue
            members: list[str] | None = None
            j = i + 1
            while j < len(lines) and lines[j].startswith(" "):
                if lines[j].strip() == "members:":
                    members = []
                elif members is not None and lines[j].strip().startswith("- "):
                    members.append(lines[j].strip()[2:].strip())
                j += 1
            out.append((m.group(1), members))
    return out


def rendered(collection: Any, pages: list[Path]) -> dict[str, str]:
    """``{real path: anchor}`` for every object the reference pages render.

    An object documented through a public alias (``relukit.diagnose.DeadUnitMonitor``,
    defined in a private module) has that alias's path as its anchor; its members too.
    Public members are rendered, submodules are not, and a directive's ``members:`` list
    limits its object's members.
    """
    out: dict[str, str] = {}

    def add(obj: Any, anchor: str, only: list[str] | None) -> None:
        real = _final(obj)
        if real is None or real.path in out:
            return
        out[real.path] = anchor
        for name, member in real.members.items():
            if _private(name) or (only is not None and name not in only):
                continue
            target = _final(member)
            if target is None or not target.docstring:  # mkdocstrings leaves these out
                continue
            if _kind(member) == "module":
                continue
            add(member, f"{anchor}.{name}", None)

    for path, only in directives(pages):
        obj = _member(collection, path)
        if obj is not None:
            add(obj, path, only)
    return out


def resolve(collection: Any, context: Any, target: str, role: str) -> Any:
    """The object ``target`` names as seen from the object ``context``, or None.

    Absolute names (``relukit.Activation``) are looked up as they are; relative ones
    (``Activation``, ``step``, ``Activation.derivative``) in ``context``, its members and
    each enclosing scope in turn, as Python would. For a role that calls (``:func:``,
    ``:class:``...), a module stands for its namesake member (``relukit.diagnose``).
    """
    candidates = []
    if target == "relukit" or target.startswith("relukit."):
        candidates.append(target)
    scope = context
    while scope is not None:
        candidates.append(f"{scope.path}.{target}")
        scope = scope.parent
    for path in candidates:
        obj = _member(collection, path)
        if obj is None:
            continue
        if role in CALLABLE_ROLES and _kind(obj) == "module":
            inner = _member(collection, f"{path}.{path.rsplit('.', 1)[-1]}")
            obj = inner if inner is not None else obj
        return _final(obj)
    return None


def rewrite_roles(text: str, collection: Any, context: Any, anchors: dict[str, str]) -> str:
    """Replace every Sphinx role in ``text`` (see the module docstring).

    ``anchors`` maps the real path of every rendered object to its anchor: a role whose
    object is rendered becomes a link to it, any other plain code.
    """

    def one(m: re.Match[str]) -> str:
        role, raw = m.group("role"), m.group("text")
        if role == "math":
            return f"${raw}$"
        target = raw.lstrip("~")
        shown = target.rsplit(".", 1)[-1] if raw.startswith("~") else target
        if _private(shown):
            LOG.warning("%s: %s shows a private name in the docs", context.path, m.group(0))
        obj = resolve(collection, context, target, role)
        anchor = anchors.get(obj.path) if obj is not None else None
        if anchor is None and target.startswith("relukit."):
            # a name relukit makes at run time (relukit.recycle): the rendered namesake
            same = [a for a in anchors.values() if a.endswith("." + target.rsplit(".", 1)[-1])]
            anchor = same[0] if len(same) == 1 else None
        return f"`{shown}`" if anchor is None else f"[`{shown}`][{anchor}]"

    return ROLE.sub(one, text)


class RelukitDocstrings(griffe.Extension):
    """Rewrite the docstrings of the rendered objects (see the module docstring)."""

    def on_package(self, *, pkg: griffe.Module, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        if pkg.path != "relukit":
            return
        collection = loader.modules_collection
        anchors = rendered(collection, sorted(REFERENCE.glob("*.md")))
        for path in anchors:
            obj = _member(collection, path)
            if obj is None or obj.docstring is None:
                continue
            text = fence_doctests(obj.docstring.value)
            obj.docstring.value = rewrite_roles(text, collection, obj, anchors)
