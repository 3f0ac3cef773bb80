"""How the `perennial` command ends: one readable message and an exit code per kind of mistake.

Expected failures (a config mistake, data that fails validation, a gate that refuses...) are
``PerennialError``s: printed once, without a traceback, exiting with the kind's ``exit_code``
(README, "Exit codes"). A traceback is shown for bugs, and for everything with ``--debug``.
"""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from perennial.errors import PerennialError

DEBUG_ENV = "PERENNIAL_DEBUG"
err_console = Console(stderr=True)


def print_error(message: str) -> None:
    """One error line; the message's brackets are text ("[tool.perennial]"), not rich markup."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)


def debugging() -> bool:
    import os

    return os.environ.get(DEBUG_ENV, "") not in ("", "0", "false")


class FlowFailure(str):
    """A failed flow run's message, carrying the exit code of the error that failed it."""

    exit_code: int = 1

    @classmethod
    def of(cls, state: Any) -> FlowFailure:
        from perennial.errors import PerennialError

        try:
            exc = state.result(raise_on_failure=False)
        except Exception:  # the result may not be retrievable: the message still is
            exc = None
        # an expected error in its own words, as one raised before the flow started prints: without
        # Prefect's "Flow run encountered an exception: TargetError: " in front of it
        expected = isinstance(exc, PerennialError) and str(exc)
        message = cls(expected or state.message or "flow failed")
        message.exit_code = getattr(exc, "exit_code", 1) if isinstance(exc, BaseException) else 1
        return message


class _OncePerError(logging.Filter):
    """Drops Prefect's log lines about an expected error: the CLI prints it once, at the end."""

    def filter(self, record: logging.LogRecord) -> bool:
        from perennial.errors import PerennialError

        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, PerennialError):
            return False
        # at any level: the flow's closing INFO line ("Finished in state Failed(...)") repeats it too
        text = record.getMessage()
        return not any(name in text for name in _ERROR_NAMES)


_ERROR_NAMES = (
    "ConfigError",
    "TargetError",
    "DataSourceError",
    "DataValidationFailed",
    "GateFailed",
    "GateInconclusive",
    "RegistryError",
)


def quiet_expected_errors() -> None:
    """Without --debug, Prefect's console handlers leave expected errors to the CLI's one message."""
    if debugging():
        return
    handlers = [*logging.getLogger().handlers, *logging.getLogger("prefect").handlers]
    for handler in handlers:
        if not any(isinstance(f, _OncePerError) for f in handler.filters):
            handler.addFilter(_OncePerError())


def run(app: Any) -> None:
    """The console entry point: the Typer app, with expected errors as one message and an exit code.

    Typer carries its own click (``typer._click``): its exceptions are Typer's (``typer.Exit``,
    ``typer.Abort``, ``typer.TyperException``), not the ``click`` package's. Outside standalone mode a
    command's ``typer.Exit`` comes back as the app's return value, which is the process's exit code.
    """
    import typer

    from perennial.errors import PerennialError

    if "--debug" in sys.argv[1:]:
        import os

        os.environ[DEBUG_ENV] = "1"
    try:
        code = app(standalone_mode=False)
    except PerennialError as exc:
        if debugging():
            raise
        print_error(str(exc))
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err_console.print("aborted")
        sys.exit(130)
    except typer.TyperException as exc:  # a usage mistake: click's message and its exit code (2)
        exc.show()  # type: ignore[attr-defined]  # every TyperException raised here is a ClickException
        sys.exit(exc.exit_code)
    except Exception as exc:
        if debugging():
            raise
        unavailable = service_unavailable(exc)
        if unavailable is not None:
            print_error(str(unavailable))
            sys.exit(unavailable.exit_code)
        err_console.print(
            f"[bold red]unexpected error[/] {type(exc).__name__}: {escape(str(exc))}\n(a bug: run again with --debug for the traceback)",
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)


# Prefect's words when its embedded API server did not answer in time (prefect/server/api/server.py)
_PREFECT_START_TIMEOUT = "Timed out while attempting to connect to ephemeral Prefect API server"


def service_unavailable(exc: BaseException) -> PerennialError | None:
    """The error to report for a server that did not start in time, instead of calling it a bug."""
    import os

    from perennial.errors import ServiceUnavailable

    if isinstance(exc, RuntimeError) and _PREFECT_START_TIMEOUT in str(exc):
        waited = os.environ.get("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "its")
        return ServiceUnavailable(
            f"Prefect's embedded API did not answer within {waited} s of starting (a busy machine, or a first "
            "start migrating its database); nothing ran. Run again, raise "
            "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS, or start the servers once with `perennial up`"
        )
    return None
