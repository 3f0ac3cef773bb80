"""Typed errors. Each one says which file, column, field or rule was broken."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported for types only: errors must stay import-light
    from perennial.core.gates import GateReport
    from perennial.core.validation import ValidationReport


class PerennialError(Exception):
    """Base of every error Perennial raises on purpose.

    ``exit_code`` is the CLI's exit status for the kind (README, "Exit codes"): a script can tell
    a config mistake from bad data or a refusing gate without reading the message.
    """

    exit_code = 1


class ConfigError(PerennialError):
    """A config file is missing, unreadable, or breaks the schema (key path in the message)."""

    exit_code = 3


class TargetError(ConfigError):
    """The target column's values and the config disagree: not two values, or an unknown positive label."""


class DataSourceError(PerennialError):
    """A data source cannot be read: missing file, corrupt bytes, unreachable database.

    ``transient`` marks failures worth retrying (a database that did not answer), as
    opposed to ones a retry cannot fix (a missing file, a corrupt Parquet footer).
    """

    exit_code = 4

    def __init__(self, message: str, transient: bool = False) -> None:
        self.transient = transient
        super().__init__(message)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (str(self), self.transient))


class DataValidationFailed(PerennialError):
    """The data broke its expectation suite; carries the full report."""

    exit_code = 5

    def __init__(self, report: ValidationReport) -> None:
        self.report = report
        super().__init__(report.summary())

    def __reduce__(self) -> tuple[Any, ...]:
        # Prefect and multiprocessing pickle exceptions; rebuild from the report.
        return (type(self), (self.report,))


class GateFailed(PerennialError):
    """A candidate failed an enforced gate; carries the full report."""

    exit_code = 6

    def __init__(self, report: GateReport) -> None:
        self.report = report
        super().__init__(report.summary())

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.report,))


class GateInconclusive(PerennialError):
    """Too little evidence to promote on (rows, a class, a wide interval); carries the full report.

    The gate did not pass: a refusal to promote, with the refused gate's exit code.
    """

    exit_code = 6

    def __init__(self, report: GateReport) -> None:
        self.report = report
        super().__init__(
            f"{report.summary()}. To promote on this evidence anyway: perennial promote VERSION --force --reason "
            "'...' (recorded in the ledger); to judge on less evidence: lower gate.min_evidence"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.report,))


class RegistryError(PerennialError):
    """The model registry cannot do what was asked (unknown version, no champion...)."""

    exit_code = 7

    def __init__(self, message: str, **context: Any) -> None:
        self.context = context
        super().__init__(message)


class ServiceUnavailable(PerennialError):
    """A server the command needs did not start or answer (Prefect's embedded API, a tracking server):
    neither a bug nor the user's data; running again, or with more time, can succeed."""

    exit_code = 8
