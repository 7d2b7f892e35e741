"""The preview warnings of a signed OVF package, settled before `complete`.

A signed OVF (a .cert beside the .ovf) makes the server fill the update session's
`preview_info` once the descriptor has arrived, with warnings about the signer's certificate.
Any warning the client has not marked ignored in the session's `warning_behavior` fails the
session at complete, so the upload settles them first: those the job's spec allows
(`JobSpec.ignore_warnings`) are marked ignored; any other stops the job for the user to decide
(`WarningsPending`, a pause that keeps the session) or, where nobody can be asked (the command
line), fails it with the warnings named (`UnacceptedWarnings`).
"""

from __future__ import annotations

import logging
import time
from datetime import datetime

from cl_desktop.api import (
    PreviewInfo,
    PreviewState,
    PreviewWarningInfo,
    WarningBehavior,
    WarningType,
)

from .context import WorkflowContext
from .control import with_retries
from .errors import Interrupted, TransferError
from .jobs import SignatureWarning, WarningDecision, warning_words

log = logging.getLogger(__name__)

PREVIEW_WAIT = 60.0  # seconds a PREPARING preview is waited for; then complete decides
KEEP_ALIVE_EVERY = 20.0  # while waiting: well inside the server's shortest idle timeout


class WarningsPending(Interrupted):
    """The job stops (as paused, keeping its session and files) for the user to decide."""

    def __init__(self, decision: WarningDecision) -> None:
        super().__init__(pause=True)
        self.decision = decision


class UnacceptedWarnings(TransferError):
    """The signature of the OVF raised warnings the job was not allowed to ignore."""

    title = "Signature warnings not accepted"
    hint = (
        "Check the package's signing certificate with its vendor. To upload it anyway, allow "
        "the warning (in the window's question, or cl-transfer --ignore-warning TYPE)."
    )
    command_line_hint = (
        "Check the package's signing certificate with its vendor. To upload it anyway, allow "
        "the warning with --ignore-warning TYPE."
    )

    refused_by_user = False

    def __init__(self, decision: WarningDecision) -> None:
        listed = "; ".join(f"{warning_words(t)} ({t})" for t in decision.types)
        who = "the upload was refused" if self.refused_by_user else "not ignored"
        signer = f" Signer: {decision.subject}." if decision.subject else ""
        super().__init__(
            f"the OVF package's signature raised warnings, {who}: {listed}.{signer}",
            operation="complete upload",
        )
        self.decision = decision


class RefusedWarnings(UnacceptedWarnings):
    """The user refused the upload when asked about the warnings."""

    refused_by_user = True
    hint = "Nothing was kept. Retry the job to be asked again."


def settle_warnings(ctx: WorkflowContext, session_id: str) -> None:
    """Wait (bounded) for the session's preview, mark the allowed warnings ignored, and stop
    on any other. A server without preview_info (vcsim) or with nothing to warn passes."""
    client, control = ctx.client, ctx.control
    deadline = time.monotonic() + PREVIEW_WAIT
    kept_alive, delay = time.monotonic(), 0.1
    while True:
        session = with_retries(control, lambda: client.update_sessions.get(session_id))
        preview = session.preview_info
        if preview is None or preview.state is not PreviewState.PREPARING:
            break
        if time.monotonic() >= deadline:
            log.info("the preview of session %s is still preparing; completing", session_id)
            return
        control.wait(delay)
        delay = min(2.0, delay * 2)
        if time.monotonic() - kept_alive >= KEEP_ALIVE_EVERY:
            with_retries(control, lambda: client.update_sessions.keep_alive(session_id))
            kept_alive = time.monotonic()
    if preview is None or preview.state is not PreviewState.AVAILABLE:
        return
    open_warnings = [w for w in preview.warnings if not w.ignored]
    if not open_warnings:
        return
    allowed = set(ctx.spec.ignore_warnings)
    accepted = {str(w.type) for w in open_warnings if str(w.type) in allowed}
    if accepted:
        behavior = {str(b.type): b.ignored for b in session.warning_behavior}
        behavior.update(dict.fromkeys(accepted, True))
        spec = tuple(WarningBehavior(WarningType(t), ignored) for t, ignored in behavior.items())
        with_retries(control, lambda: client.update_sessions.update(session_id, spec))
        log.info("ignoring the warnings %s of session %s", sorted(accepted), session_id)
    refused = [w for w in open_warnings if str(w.type) not in allowed]
    if refused:
        decision = decision_for(preview, refused)
        if ctx.ask_about_warnings:
            raise WarningsPending(decision)
        raise UnacceptedWarnings(decision)


def decision_for(preview: PreviewInfo, warnings: list[PreviewWarningInfo]) -> WarningDecision:
    cert = preview.certificate_info
    valid_from, valid_until = _validity(cert.x509 if cert is not None else None)
    return WarningDecision(
        warnings=tuple(
            SignatureWarning(str(w.type), w.message.default_message if w.message else "")
            for w in warnings
        ),
        subject=(cert.subject or "") if cert is not None else "",
        issuer=(cert.issuer or "") if cert is not None else "",
        self_signed=cert.self_signed if cert is not None else None,
        valid_from=valid_from,
        valid_until=valid_until,
    )


def _validity(pem: str | None) -> tuple[str, str]:
    """The certificate's validity in words, or ("", "") when the server sent none we can read."""
    if not pem:
        return "", ""
    # imported here: cryptography takes a while to load, and only a signed OVF needs it
    from cryptography import x509

    try:
        cert = x509.load_pem_x509_certificate(pem.encode("ascii", "replace"))
    except ValueError as exc:
        log.info("the server's certificate_info.x509 cannot be read: %s", exc)
        return "", ""
    return _when(cert.not_valid_before_utc), _when(cert.not_valid_after_utc)


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")
