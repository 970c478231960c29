"""The ``relukit`` command line (also ``python -m relukit``).

Sub-commands live in one module each (``relukit.cli.<name>``) and register themselves
through ``register(subparsers)``; each sets ``func`` to a callable ``(args) -> int``.
Errors (bad arguments, unknown activation, bad values) print one line on stderr and
exit with status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
from collections.abc import Sequence
from typing import Any

__all__ = ["build_parser", "main"]

#: sub-command modules, in the order shown by ``relukit --help``
COMMANDS = ("evaluate", "listing", "plot", "explore", "bench", "experiment", "demo")


class CLIError(Exception):
    """An error to report as one line on stderr with exit status 2."""


class HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter without breaking words at hyphens (``monitor-overhead``)."""

    def _split_lines(self, text: str, width: int) -> list[str]:
        import textwrap

        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr and exit status 2."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"{self.prog}: error: {message} (see {self.prog} --help)\n")
        raise SystemExit(2)


def build_parser() -> Parser:
    from relukit import __version__

    parser = Parser(
        prog="relukit",
        description="The ReLU family of activation functions: values, derivatives, "
        "plots, benchmarks and dying-ReLU experiments.",
    )
    parser.add_argument(
        "-V",
        "--version",
        action="version",
        version=f"relukit {__version__}",
        help="print relukit's version and exit",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True
    for name in COMMANDS:
        importlib.import_module(f"relukit.cli.{name}").register(sub)
    _list_nested_choices(sub)
    return parser


def _list_nested_choices(sub: argparse._SubParsersAction) -> None:
    """Name every nested sub-command in the top-level help.

    ``relukit --help`` then lists each experiment and benchmark, taken from the parsers
    themselves so that the list cannot drift: "experiment  ...: dying-relu, born-dead, ...".
    """
    for pseudo in sub._choices_actions:
        child = sub.choices[pseudo.dest]
        nested = [a for a in child._actions if isinstance(a, argparse._SubParsersAction)]
        if not nested:
            continue
        names = list(nested[0].choices)
        text = pseudo.help or ""
        if text.endswith(")") and "(" in text:  # drop a hand-written "(a, b)" list
            head, _, listed = text[:-1].rpartition("(")
            if all(n.strip() in names for n in listed.split(",")):
                text = head.rstrip()
        head, sep, listed = text.rpartition(":")  # ... or a hand-written ": a, b" list
        if sep and all(n.strip() in names for n in listed.split(",")):
            text = head.rstrip()
        pseudo.help = f"{text}: {', '.join(names)}"


def _walk(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """``parser`` and every sub-command parser under it."""
    found = [parser]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                found += _walk(child)
    return found


def _python_spelling(argv: list[str], parser: argparse.ArgumentParser) -> list[str]:
    """Accept ``--negative_slope`` (the Python keyword's spelling) for ``--negative-slope``.

    Only a token before ``--`` that names a known option once its underscores are
    hyphens is changed (``--negative_slope=0.1`` too); anything else is left to argparse.
    """
    known = {s for p in _walk(parser) for s in p._option_string_actions}
    fixed: list[str] = []
    for i, tok in enumerate(argv):
        if tok == "--":
            return fixed + argv[i:]
        name, eq, value = tok.partition("=")
        if name.startswith("--") and "_" in name:
            hyphens = "--" + name[2:].replace("_", "-")
            if hyphens in known:
                tok = hyphens + eq + value
        fixed.append(tok)
    return fixed


def _chosen_parser(parser: argparse.ArgumentParser, args: argparse.Namespace) -> Any:
    """The innermost sub-command parser that ``args`` went through."""
    while True:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        name = getattr(args, subs[0].dest, None) if subs else None
        if name is None:
            return parser
        parser = subs[0].choices[name]


def _suggest(option: str, parser: argparse.ArgumentParser) -> str | None:
    """The option of ``parser`` that ``option`` was probably meant to be, if any.

    A whole word of an option (``--slope``: ``--negative-slope``) or a close spelling
    (``--alpa``: ``--alpha``).
    """
    import difflib

    want = option.partition("=")[0].lstrip("-").replace("_", "-").lower()
    if not want:
        return None
    longs = [s for s in parser._option_string_actions if s.startswith("--") and s != "--help"]
    by_word = [s for s in longs if want in s[2:].split("-")]
    if len(by_word) == 1:
        return by_word[0]
    close = difflib.get_close_matches(want, [s[2:] for s in longs], n=1, cutoff=0.7)
    return "--" + close[0] if close else None


def _unrecognized(parser: Any, extras: list[str]) -> None:
    """The sub-command's usage, then one line: what was not understood and a guess."""
    hints = [h for h in (_suggest(x, parser) for x in extras if x.startswith("-")) if h]
    guess = f"; did you mean {' or '.join(dict.fromkeys(hints))}?" if hints else ""
    parser.print_usage(sys.stderr)
    sys.stderr.write(
        f"{parser.prog}: error: unrecognized arguments: {' '.join(extras)}{guess} "
        f"(see {parser.prog} --help)\n"
    )
    raise SystemExit(2)


#: a token that is meant as a negative number, even a wrong one: ``-0x1``, ``-e5``, ``-1,5``
_NUMBER_LIKE = re.compile(r"-(?:\.?[0-9]|[eE][+-]?[0-9])")


def _protect_negative_numbers(
    argv: Sequence[str], options: frozenset[str] = frozenset()
) -> list[str]:
    """Let ``-10``, ``-inf`` and ``-1e3`` be plain positional numbers.

    argparse takes any token starting with ``-`` that does not look like ``-10`` or
    ``-1.5`` for an option. A leading space keeps a number a number (``float`` ignores it).
    A token that looks like a number but is none (``-0x1``, ``-e5``) is kept an argument
    too, so that it is refused as "'-0x1' is not a number" rather than taken for an
    unknown option; a token that starts like one of ``options`` is left alone.
    """
    fixed = []
    for tok in argv:
        if tok.startswith("-") and not tok.startswith("--"):
            try:
                float(tok)
            except ValueError:
                if _NUMBER_LIKE.match(tok) and not any(tok.startswith(o) for o in options):
                    tok = " " + tok
            else:
                tok = " " + tok
        fixed.append(tok)
    return fixed


def _escape_unencodable() -> list[tuple[Any, str]]:
    """Let stdout and stderr print any text, whatever their encoding.

    A character the stream's encoding cannot hold (``ä`` in a file name under
    ``PYTHONIOENCODING=ascii``, ``π`` on a Latin-1 terminal) is written escaped
    (``\\xe4``, ``\\u03c0``) instead of raising UnicodeEncodeError after the work is
    done. Returns what to put back.
    """
    restore = []
    for stream in (sys.stdout, sys.stderr):
        errors = getattr(stream, "errors", None)
        if errors in (None, "backslashreplace") or not hasattr(stream, "reconfigure"):
            continue
        try:
            stream.reconfigure(errors="backslashreplace")
        except (ValueError, OSError):  # a closed or exotic stream: leave it as it is
            continue
        restore.append((stream, errors))
    return restore


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    restore = _escape_unencodable()
    try:
        return _main(argv)
    finally:
        for stream, errors in restore:
            try:
                stream.flush()
                stream.reconfigure(errors=errors)
            except (ValueError, OSError):
                pass


def _main(argv: Sequence[str] | None) -> int:
    args_in = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args_in = _python_spelling(args_in, parser)
    short = frozenset(s for p in _walk(parser) for s in p._option_string_actions if s[1] != "-")
    args, extras = parser.parse_known_args(_protect_negative_numbers(args_in, short))
    if extras:  # named by the sub-command that did not understand them
        _unrecognized(_chosen_parser(parser, args), [x.strip() for x in extras])
    try:
        return int(args.func(args) or 0)
    except (CLIError, TypeError, ValueError, LookupError) as exc:
        sys.stderr.write(f"relukit {args.command}: error: {exc}\n")
        return 2
    except ModuleNotFoundError as exc:  # an optional package: one line naming its extra
        from relukit._optional import EXTRAS, install_hint

        top = (exc.name or "").partition(".")[0]
        if top not in EXTRAS:
            raise
        text = str(exc)
        if "pip install" not in text:
            text = f"needs {top}, which is not installed: {install_hint(top)}"
        sys.stderr.write(f"relukit {args.command}: error: {text}\n")
        return 2
    except MemoryError as exc:  # sizes too large for the machine (numpy: "Unable to ...")
        text = " ".join(str(exc).split()) or "the run ran out of memory"
        sys.stderr.write(
            f"relukit {args.command}: error: not enough memory: {text}; give smaller sizes\n"
        )
        return 2
    except BrokenPipeError:  # e.g. `relukit list | head`
        return 0
    except OSError as exc:  # a file that could not be written after all (disk full, ...)
        where = f" {exc.filename}" if exc.filename else ""
        sys.stderr.write(f"relukit {args.command}: error:{where} {exc.strerror or exc}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("relukit: interrupted\n")
        return 130


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
