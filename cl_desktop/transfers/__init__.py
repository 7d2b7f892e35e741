"""Transfer engine (no Qt): the UpdateSession/DownloadSession workflows, the queue, history."""

from .jobs import (
    Direction,
    FileProgress,
    HistoryRecord,
    JobSnapshot,
    JobSpec,
    JobState,
    Phase,
    ServerRef,
    Verification,
)

__all__ = [
    "Direction",
    "FileProgress",
    "HistoryRecord",
    "JobSnapshot",
    "JobSpec",
    "JobState",
    "Phase",
    "ServerRef",
    "Verification",
]
