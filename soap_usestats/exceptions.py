"""The errors a request can end in, with the contract's fault codes.

Each carries the SOAP ``faultcode`` and the MNET status number clients of
``block_use_stats`` know; its message is written for the client and never
holds SQL, a path or a stack trace.
"""


class UseStatsError(Exception):
    """Base of the errors a client is told about."""

    faultcode = "Server"
    status = 500


class InvalidParameter(UseStatsError):
    faultcode, status = "Client.InvalidParameter", 503


class UnknownUser(UseStatsError):
    faultcode, status = "Client.UnknownUser", 520


class UnknownCourse(UseStatsError):
    faultcode, status = "Client.UnknownCourse", 520


class AuthenticationFailed(UseStatsError):
    faultcode, status = "Client.AuthenticationFailed", 501


class CredentialUnchecked(AuthenticationFailed):
    """Refused without testing a credential: none or several were presented, the client
    is throttled, or a store the check needs is down. It tells a guesser nothing, so it
    is not counted against the client's address (``auth.throttle``)."""


class Forbidden(UseStatsError):
    faultcode, status = "Client.Forbidden", 510


class UnknownHost(UseStatsError):
    faultcode, status = "Client.UnknownHost", 502


class InvalidXML(UseStatsError):
    faultcode, status = "Client.InvalidXML", 503


class NotUnderstood(UseStatsError):
    """SOAP header entries for this service, marked ``mustUnderstand``, that it does not
    understand: SOAP's own ``MustUnderstand`` fault, answered before anything else is done.

    ``headers`` are their names, ``{namespace}local``.
    """

    faultcode, status = "MustUnderstand", 503

    def __init__(self, headers: list[str]) -> None:
        super().__init__(f"the service does not understand the header {', '.join(headers)}, "
                         "marked mustUnderstand")
        self.headers = tuple(headers)


class RemoteFailure(UseStatsError):
    """The site named by ``whereroot`` failed, timed out, or the call would loop."""

    faultcode, status = "Server.RemoteFailure", 511


class DatabaseUnavailable(UseStatsError):
    faultcode, status = "Server.DatabaseUnavailable", 500


class SchemaMismatch(UseStatsError):
    """A table the service reads does not exist: a wrong table prefix, or a missing plugin.

    The client is told that the configuration does not fit the database; the operator's
    log names the missing table (the root cause, see ``moodle.database``).
    """

    faultcode, status = "Server.SchemaMismatch", 500


class InternalError(UseStatsError):
    """A defect of the service; the details go to the operator's log only."""

    faultcode, status = "Server.InternalError", 500


class ConfigError(ValueError):
    """The configuration cannot be used; the message says which setting and why."""


def root_cause(error: BaseException) -> BaseException:
    """The first error of the chain that ``error`` was raised from."""
    while error.__cause__ is not None:
        error = error.__cause__
    return error
