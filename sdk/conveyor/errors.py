"""Every error Conveyor raises, by name.

Two families:

* ``ConveyorError`` and its subclasses are raised *to the caller* of the SDK, CLI or HTTP
  API. Each message says what is wrong and how to fix it. A ``ValidationError`` is always
  raised before anything is written (no item, no message, no object).
* ``TaskSignal`` and its subclasses are raised *by task handlers* to tell the runtime how
  an attempt ended: ``Fatal`` (never retry), ``RetryLater`` (retry with backoff, spends an
  attempt) and ``Throttled`` (retry with backoff on a separate budget that never spends
  an attempt).

``conveyor.Retry`` is the catalog's retry *policy* (``retry=Retry(max_attempts=5)``), so the
handler's "try again" signal is named ``RetryLater``.
"""

from __future__ import annotations


class ConveyorError(Exception):
    """Base of every error Conveyor raises to its callers."""

    #: HTTP status the submit API maps this error to.
    http_status: int = 500


class ValidationError(ConveyorError, ValueError):
    """Bad input at the edge. Raised before anything is written."""

    http_status = 400


class CatalogError(ValidationError):
    """A task type is declared wrongly; raised at import, naming the task and the field."""


class UnknownTaskType(ValidationError):
    """The task type is not in the catalog."""

    http_status = 404


class InvalidPayload(ValidationError):
    """The payload is not native JSON (dict/list/str/int/float/bool/None, string keys)."""


class PayloadTooLarge(ValidationError):
    """The serialized payload is over the absolute maximum."""

    http_status = 413


class InvalidTaskId(ValidationError):
    """The task ID is empty, too long, or uses characters outside the documented set."""


class DuplicateTaskId(ValidationError):
    """The same task ID appears twice inside one ``submit_many`` call."""


class InvalidTiming(ValidationError):
    """A delay, start time, TTL or schedule expression is wrong."""


class InvalidPriority(ValidationError):
    """The priority is not one of the catalog's priority names."""


class InvalidTenant(ValidationError):
    """The tenant is empty or malformed."""


class InvalidOption(ValidationError):
    """Any other argument that is out of range or of the wrong kind."""


class TaskConflict(ConveyorError):
    """A task with this ID already exists with a different type or payload."""

    http_status = 409


class TaskNotFound(ConveyorError):
    """No task with this ID exists (or it has aged out of the store)."""

    http_status = 404


class InvalidTransition(ConveyorError):
    """A state change that the task's current state does not allow (lost a race).

    ``current`` is the record as the store saw it when the condition failed, if known.
    """

    http_status = 409

    def __init__(self, message: str, current: object = None) -> None:
        super().__init__(message)
        self.current = current


class Forbidden(ConveyorError):
    """The caller may not act on this tenant or task (the HTTP API's tenant boundary)."""

    http_status = 403


class Overloaded(ConveyorError):
    """Admission refused: the producer (or its tenant) must back off for ``retry_after`` s."""

    http_status = 429

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class WaitTimeout(ConveyorError, TimeoutError):
    """``wait``/``result`` gave up before the task reached a terminal state."""

    http_status = 504


class TaskFailed(ConveyorError):
    """``result`` was asked for a task that ended FAILED, CANCELLED or EXPIRED."""

    def __init__(self, message: str, state: str, error: dict[str, str] | None) -> None:
        super().__init__(message)
        self.state = state
        self.error = error


class TaskSignal(Exception):
    """Raised by a task handler to say how the attempt ended."""


class Fatal(TaskSignal):
    """The task can never succeed: it goes to FAILED (and the DLQ) at once."""


class SubmitNotDeclared(Fatal):
    """A handler called ``ctx.submit`` but its task type was not declared ``submits=True``
    (its executor has no permission to submit): fatal, since a retry cannot grant it."""


class RetryLater(TaskSignal):
    """Try again later; spends one attempt. ``delay`` (seconds) overrides the backoff."""

    def __init__(self, message: str = "", delay: float | None = None) -> None:
        super().__init__(message)
        self.delay = delay


class Throttled(TaskSignal):
    """A downstream asked us to slow down; retried on the throttle budget, not attempts."""

    def __init__(self, message: str = "", delay: float | None = None) -> None:
        super().__init__(message)
        self.delay = delay


class DevCloudLost(ConveyorError):
    """The dev cloud answers but holds no Conveyor deployment: its state lives in moto's
    memory and was lost when it restarted (or the prefix names another deployment)."""

    http_status = 503


class DevCloudUnavailable(ConveyorError):
    """Nothing answers at the dev cloud's endpoint: it is stopped, or moved to a new port."""

    http_status = 503
