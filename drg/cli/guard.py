"""How a command ends for a person: a wrong input, an output that cannot be written or a broken invariant is
one line on standard error and exit code 1; a reader that stops reading (``drg … | head``) ends the command
quietly; nothing ever ends in a traceback (``DRG_DEBUG=1`` shows one for an unexpected error)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

__all__ = ["run_guarded"]


def _say(text: str) -> None:
    try:
        sys.stderr.write(text.rstrip("\n") + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def _stdout_gone() -> None:
    """Standard output's reader has gone: point it at /dev/null, so that the interpreter's last flush does
    not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def run_guarded(fn: Callable[[], object], *, rich: bool = False) -> int:
    """Run ``fn`` (a command) and return its exit code, reporting errors as one line each."""
    from drg.errors import InputError, InvariantError

    if not os.environ.get("DRG_DEBUG"):
        # an object finalised after its error was reported (a workbook's zip file on a full disk, standard
        # output closed by `| head`) must not print "Exception ignored in …" after the one clean line
        sys.unraisablehook = lambda unraisable: None

    def show(prefix: str, message: str) -> None:
        if rich:
            try:
                from rich.console import Console
                from rich.markup import escape

                Console(stderr=True).print(f"[bold red]{prefix}[/] {escape(message)}", highlight=False,
                                           soft_wrap=True)
                return
            except Exception:
                pass
        _say(f"{prefix} {message}")

    try:
        fn()
        sys.stdout.flush()
        return 0
    except SystemExit:
        raise
    except BrokenPipeError:
        _stdout_gone()
        return 0
    except KeyboardInterrupt:
        _say("interrupted")
        return 130
    except InputError as exc:
        show("error:", str(exc))
        return 1
    except InvariantError as exc:
        show("invariant broken, run refused:", str(exc))
        return 1
    except OSError as exc:
        from drg.outputs import io_cause

        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        show("error:", f"{where}{io_cause(exc)}")
        return 1
    except Exception as exc:
        if os.environ.get("DRG_DEBUG"):
            raise
        show("error:", f"internal error ({type(exc).__name__}); nothing was written for the failed step. "
                       "Set DRG_DEBUG=1 to see where it happened")
        return 1
