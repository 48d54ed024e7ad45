"""The ``drg`` command line: a thin typer layer that parses, calls one library function, and prints.

Commands live in small modules (``drg/cli/*.py``), each with a ``register(app)`` function, so that the
grouping, payment and settlement commands can grow apart. They are listed in the order of the job
(:data:`COMMAND_ORDER`: synth, check, scheme, group, explain, policy, weights, points, settle, monitor,
audit, ledger, publish, estimate, demo).

Conventions every command follows: ``-h`` and ``--help``; ``drg --version``; ``--json`` on every command
that prints a result; ``--period`` read one way (:func:`drg.cli.options.period_value`); a scheme given as a
compiled file or a rule-table directory (:func:`drg.cli.options.load_any_scheme`); help texts that stand
alone. Heavy libraries (polars, numba, duckdb) are imported inside the commands, never at module import, and
plain option values are converted without pydantic (:func:`drg.cli.options.install_light_coercion`), so
``drg --help`` and the one-case estimate stay fast.

Exit codes (CONTRACT.md): 0 success; 1 the input or policy is wrong; 2 usage error.
"""

from __future__ import annotations

import sys

import typer
from typer.core import TyperGroup

from drg.cli.options import install_light_coercion

__all__ = ["COMMAND_ORDER", "app", "ledger_app", "main", "policy_app", "run", "scheme_app", "settle_app"]

#: The commands in the order of the job (later commands keep their slot: monitor, audit).
COMMAND_ORDER = ("synth", "check", "scheme", "group", "explain", "policy", "weights", "points", "settle", "monitor",
                 "audit", "ledger", "publish", "estimate", "demo")


class JobOrderGroup(TyperGroup):
    """A command group that lists its commands in :data:`COMMAND_ORDER` (others after, as registered)."""

    def list_commands(self, ctx) -> list[str]:
        names = list(super().list_commands(ctx))
        rank = {n: i for i, n in enumerate(COMMAND_ORDER)}
        return sorted(names, key=lambda n: (rank.get(n, len(rank)), names.index(n)))


_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def sub_app(help_text: str) -> typer.Typer:
    """A command group of ``drg`` with the same conventions (``-h``, plain help)."""
    return typer.Typer(help=help_text, no_args_is_help=True, rich_markup_mode=None, context_settings=_SETTINGS,
                       add_completion=False)


install_light_coercion()
app = typer.Typer(
    name="drg",
    help="DRG point-method payment (DRG 点数法): group inpatient cases, price them in points, settle a city's "
         "fund budget to the fen, and let a hospital check its own estimate.",
    cls=JobOrderGroup,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings=_SETTINGS,
)
scheme_app = sub_app("Compile, inspect and compare grouping schemes.")
policy_app = sub_app("List the policy profiles and show one, with where each value comes from.")
settle_app = sub_app("Monthly prepayment runs and the annual settlement.")
ledger_app = sub_app("The settlement ledger: its runs, in yuan.")
app.add_typer(scheme_app, name="scheme", short_help="compile and inspect grouping schemes")
app.add_typer(policy_app, name="policy", short_help="policy profiles and where each value comes from")
app.add_typer(settle_app, name="settle", short_help="monthly prepayment runs and the annual settlement")
app.add_typer(ledger_app, name="ledger", short_help="the settlement ledger's runs, in yuan")


def _version(value: bool) -> None:
    if value:
        import drg

        typer.echo(f"drg {drg.__version__}")
        raise typer.Exit()


@app.callback()
def _root(ctx: typer.Context,
          version: bool = typer.Option(False, "--version", help="Print the version and exit.", is_eager=True,
                                       callback=_version)) -> None:
    """DRG point-method payment (DRG 点数法)."""
    from drg.cli.runtime import ONE_CASE_COMMANDS, batch_process

    if ctx.invoked_subcommand in ONE_CASE_COMMANDS:
        return  # answers to one case: the batch settings (drg.cli.runtime) would only cost time

    batch_process(ctx.invoked_subcommand)


def _register_all() -> None:
    import importlib

    for name in ("cases", "grouping", "payment", "settlement", "monitoring", "audit", "estimate"):
        try:
            module = importlib.import_module(f"drg.cli.{name}")
        except ModuleNotFoundError as exc:  # a command module not written yet
            if exc.name == f"drg.cli.{name}":
                continue
            raise
        module.register(app=app, scheme_app=scheme_app, policy_app=policy_app,
                        settle_app=settle_app, ledger_app=ledger_app)


_register_all()


def _one_command_app(name: str) -> typer.Typer | None:
    """A ``drg`` app holding only the command group of module ``name`` (``drg estimate`` answers one case:
    building the click commands of every other command would cost it time for nothing). Same options, help
    and errors: the module registers the very same functions."""
    import importlib

    small = typer.Typer(name="drg", cls=JobOrderGroup, add_completion=False, pretty_exceptions_enable=False,
                        rich_markup_mode=None, context_settings=_SETTINGS)
    importlib.import_module(f"drg.cli.{name}").register(app=small, scheme_app=None, policy_app=None,
                                                        settle_app=None, ledger_app=None)
    return small


#: Commands run through an app of their own module only (see :func:`_one_command_app`).
_LIGHT_COMMANDS = {"estimate": "estimate"}


def main() -> None:
    """Console-script entry point: map project errors to exit codes (1 input, 2 usage); a wrong input, an
    output that cannot be written or a broken invariant is one line (:mod:`drg.cli.guard`), never a
    traceback."""
    from drg.cli.runtime import ONE_CASE_COMMANDS, numpy_small_pages

    first = sys.argv[1] if len(sys.argv) > 1 else ""
    if first not in ONE_CASE_COMMANDS:
        # before anything imports numpy (the error classes below do, through the grouper): the root callback,
        # which applies the other batch settings, runs too late for this one
        numpy_small_pages()
    from drg.cli.guard import run_guarded

    runner = _one_command_app(_LIGHT_COMMANDS[first]) if first in _LIGHT_COMMANDS else app
    sys.exit(run_guarded(lambda: runner(prog_name="drg"), rich=True))


def run() -> None:
    """The ``drg`` program (console script and ``python -m drg.cli``): :func:`main`, then the process ends
    without tearing the interpreter down (:func:`drg.cli.runtime.leave`). ``main`` itself ends with
    ``SystemExit``, for callers that run it inside a process of their own."""
    try:
        main()
        code = 0
    except SystemExit as done:      # (click ends every command so, a successful one with 0)
        code = done.code
    if code is not None and not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    from drg.cli.runtime import leave

    leave(code or 0)
