"""The queue's pure parts: the speed meter, a finished job's verdict, what each state allows,
the family a failed job's error belongs to."""

from __future__ import annotations

import pytest

from cl_desktop.api import errors
from cl_desktop.transfers.errors import DiskFullError, IntegrityError, UnsafeNameError, failure_kind
from cl_desktop.transfers.jobs import FailureKind, FileProgress, JobState, Verification, verdict
from cl_desktop.transfers.meter import SpeedMeter, eta_seconds


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_meter_knows_no_speed_until_two_samples_lie_apart_in_time() -> None:
    clock = FakeClock()
    meter = SpeedMeter(clock=clock)
    assert meter.speed == 0.0 and meter.eta(1000) is None
    assert meter.add(0) == 0.0
    assert meter.add(500) == 0.0  # same instant: no rate yet
    assert meter.eta(1000) is None
    clock.now += 1.0
    assert meter.add(1500) == pytest.approx(1500.0)
    assert meter.eta(4500) == pytest.approx(2.0)


def test_meter_averages_over_its_window_and_forgets_older_samples() -> None:
    clock = FakeClock()
    meter = SpeedMeter(window=3.0, clock=clock)
    done = 0
    for _ in range(10):  # 10 s at 1000 B/s
        meter.add(done)
        clock.now += 1.0
        done += 1000
    for _ in range(4):  # then 100 B/s
        meter.add(done)
        clock.now += 1.0
        done += 100
    # the window holds the last 3 s (plus the sample that spans its start): the slow part only
    assert meter.speed == pytest.approx(100.0)
    assert meter.eta(done - 100 + 1000) == pytest.approx(10.0)


def test_meter_keeps_two_samples_when_reports_are_rarer_than_its_window() -> None:
    clock = FakeClock()
    meter = SpeedMeter(window=3.0, clock=clock)
    meter.add(0)
    clock.now += 10.0
    assert meter.add(5000) == pytest.approx(500.0)
    clock.now += 10.0
    assert meter.add(15000) == pytest.approx(1000.0)  # only the last two: 10 kB in 10 s


def test_eta_is_unknown_without_speed_and_zero_when_done() -> None:
    assert eta_seconds(100, 0.0) is None
    assert eta_seconds(0, 50.0) == 0.0
    assert eta_seconds(100, 50.0) == 2.0
    clock = FakeClock()
    meter = SpeedMeter(clock=clock)
    meter.add(0)
    clock.now += 1
    meter.add(2000)
    assert meter.eta(1000) == 0.0  # more done than the total said: nothing left
    assert meter.eta(0) is None  # size unknown


def files(*kinds: Verification | None) -> list[FileProgress]:
    return [FileProgress(f"f{i}", 10, 10, kind) for i, kind in enumerate(kinds)]


V, S, U, C = (
    Verification.VERIFIED,
    Verification.SIZE_ONLY,
    Verification.UNVERIFIED,
    Verification.CONSUMED,
)


@pytest.mark.parametrize(
    ("kinds", "expected"),
    [
        ((V, V), V),
        ((V, C), V),  # an OVF's manifest is consumed, not kept: it does not count
        ((V, S), S),
        ((S,), S),
        ((V, U), U),
        ((V, None), U),  # a file with no outcome cannot vouch for the job
        ((C,), U),
        ((), U),
    ],
)
def test_a_job_is_as_sure_as_its_least_sure_file(
    kinds: tuple[Verification | None, ...], expected: Verification
) -> None:
    assert verdict(files(*kinds)) is expected


def test_what_each_state_allows() -> None:
    allowed = {
        state: {
            name
            for name in ("cancel", "pause", "resume", "retry", "remove")
            if getattr(state, f"can_{name}")()
        }
        for state in JobState
    }
    assert allowed == {
        JobState.QUEUED: {"cancel", "pause"},
        JobState.RUNNING: {"cancel", "pause"},
        JobState.PAUSED: {"cancel", "resume", "remove"},
        JobState.DONE: {"remove"},
        JobState.FAILED: {"retry", "remove"},
        JobState.CANCELED: {"retry", "remove"},
    }
    assert {s for s in JobState if s.finished} == {
        JobState.DONE,
        JobState.FAILED,
        JobState.CANCELED,
    }


def test_a_failed_jobs_family_comes_from_the_error_type() -> None:
    assert failure_kind(IntegrityError("x.iso: checksum differs")) is FailureKind.INTEGRITY
    assert failure_kind(errors.NotFound("no such item")) is FailureKind.SERVER
    assert failure_kind(DiskFullError("no space left")) is FailureKind.LOCAL
    assert failure_kind(UnsafeNameError("'..'")) is FailureKind.LOCAL
    # an OSError the engine did not word, like any other escaped exception, is a bug
    assert failure_kind(OSError(5, "I/O error")) is FailureKind.INTERNAL
    assert failure_kind(KeyError("spec")) is FailureKind.INTERNAL
