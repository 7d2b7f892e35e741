#!/usr/bin/env python3
"""Break each safety rule on purpose and check that the tests notice.

For every entry of BREAKAGES: copy the working tree to a scratch folder, replace one exact
snippet of the engine with its broken version, run the test selection that guards the rule
(`python -m pytest -x -q SELECTION` with PYTHONPATH at the copy) and report whether it failed
("caught") or passed ("MISSED"). The selection is first run on the unbroken copy: a selection
that fails anyway proves nothing, so that is reported as an error, not as caught.

    scripts/check-safety-rules.py              # every breakage
    scripts/check-safety-rules.py --list       # names only
    scripts/check-safety-rules.py -k rename    # breakages whose name contains "rename"

Exit status 0 only when every selected breakage was caught. An entry whose snippet is no longer
in its file reports "snippet not found" (a failure): the code changed, so update the entry.
See CONTRIBUTING.md, "Safety-rule breakages".
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Breakage:
    name: str  # short, for -k and the report
    rule: str  # the promise this breaks, in words
    file: str  # relative to the repository root
    old: str  # exact text that must occur once in `file`
    new: str  # what replaces it
    selection: tuple[str, ...]  # pytest arguments (paths or node ids) that must catch it


BREAKAGES: tuple[Breakage, ...] = (
    Breakage(
        name="download-checksum-ignored",
        rule="download verification never compares the checksum",
        file="cl_desktop/transfers/download.py",
        old="    if ours != checksum.checksum.lower():\n",
        new="    if False:  # breakage: the checksum is never compared\n",
        selection=(
            "tests/transfers/test_download_failures.py::test_a_changed_byte_never_gets_the_final_name",
            "tests/transfers/faults/test_faults.py::"
            "test_a_corrupted_download_fails_loudly_and_leaves_no_file",
            "tests/transfers/faults/test_faults.py::test_cl_transfer_exits_6_on_a_checksum_mismatch",
        ),
    ),
    Breakage(
        name="upload-failure-keeps-session",
        rule="an upload that fails after its session exists skips ending the session (ACTIVE)",
        file="cl_desktop/transfers/upload.py",
        old=(
            "        except BaseException as exc:\n"
            "            _end_session(ctx, session_id, describe(exc)[1])\n"
            "            raise\n"
        ),
        new="        except BaseException:\n            raise  # breakage: left ACTIVE\n",
        selection=("tests/transfers/test_upload_failures.py",),
    ),
    Breakage(
        name="fanout-failure-keeps-session",
        rule="a fan-out target that fails after its session exists leaves it ACTIVE",
        file="cl_desktop/transfers/fanout.py",
        old=(
            "        except BaseException as exc:\n"
            "            _end_session(ctx, session_id, describe(exc)[1])\n"
            "            raise\n"
        ),
        new="        except BaseException:\n            raise  # breakage: left ACTIVE\n",
        selection=(
            "tests/transfers/test_fanout.py::"
            "test_bytes_damaged_on_the_way_to_one_target_never_become_its_items",
        ),
    ),
    Breakage(
        name="fanout-received-unchecked",
        rule="a fan-out target completes its session without comparing the server's checksum",
        file="cl_desktop/transfers/fanout.py",
        old="            _check_received(ctx, session_id, f, sha1)",
        new="            pass  # breakage: damaged bytes become the item's",
        selection=(
            "tests/transfers/test_fanout.py::"
            "test_bytes_damaged_on_the_way_to_one_target_never_become_its_items",
        ),
    ),
    Breakage(
        name="token-to-any-host",
        rule="the session header is sent to any host",
        file="cl_desktop/api/client.py",
        old="        if same_origin(uri, self.server) and self._token:\n",
        new="        if self._token:  # breakage: no same-origin check\n",
        selection=("tests/api/test_token_scope.py",),
    ),
    Breakage(
        name="token-over-plain-http",
        rule="the session token is sent over plain http to the API's host and port",
        file="cl_desktop/api/transport.py",
        old="    return origin(a) == origin(b)\n",
        new="    return origin(a)[1:] == origin(b)[1:]  # breakage: the scheme is not compared\n",
        selection=("tests/api/test_token_scope.py",),
    ),
    Breakage(
        name="rename-before-verify",
        rule="the download is renamed to its final name before it is verified",
        file="cl_desktop/transfers/download.py",
        old=(
            "    verification, checksum = _verify(\n"
            "        ctx, _file_info(ctx, live, entry.name), entry, part, written, algorithm,"
            " streamed\n"
            "    )\n"
            "    final = _final_name(target, ctx.spec.existing, in_set)\n"
            "    os.replace(part, final)"
        ),
        new=(
            "    final = _final_name(target, ctx.spec.existing, in_set)\n"
            "    os.replace(part, final)  # breakage: renamed before it is verified\n"
            "    verification, checksum = _verify(\n"
            "        ctx, _file_info(ctx, live, entry.name), entry, part, written, algorithm,"
            " streamed\n"
            "    )"
        ),
        selection=("tests/transfers/test_download_failures.py",),
    ),
    Breakage(
        name="resume-without-range",
        rule="a resumed download sends no Range and fetches the whole file again",
        file="cl_desktop/api/client.py",
        old='            headers["Range"] = f"bytes={offset}-"\n',
        new="            pass  # breakage: no Range header\n",
        selection=(
            "tests/transfers/test_download_failures.py::"
            "test_a_resumed_download_asks_only_for_the_missing_bytes",
            "tests/transfers/faults/test_faults.py::test_dropped_download_resumes_with_range",
            "tests/transfers/faults/test_faults.py::"
            "test_pause_and_resume_a_download_keeps_the_partial_file",
        ),
    ),
    Breakage(
        name="no-keep-alive",
        rule="the session is never kept alive during a long upload or download",
        file="cl_desktop/transfers/context.py",
        old="                if time.monotonic() - self._last_sent >= self.interval:\n",
        new="                if False:  # breakage: no keep-alive\n",
        selection=(
            "tests/transfers/faults/test_faults.py::"
            "test_keep_alive_reports_growing_progress_well_inside_the_expiry",
        ),
    ),
    Breakage(
        name="keep-alive-progress-goes-down",
        rule="a keep-alive may report less progress than the one before (the server refuses it)",
        file="cl_desktop/transfers/context.py",
        old=(
            "        progress = percent if percent is not None and percent > self._last_progress"
            " else None\n"
        ),
        new="        progress = percent  # breakage: progress is sent even when it did not grow\n",
        selection=(
            "tests/transfers/faults/test_faults.py::"
            "test_keep_alive_progress_never_goes_back_when_a_file_is_sent_again",
        ),
    ),
    Breakage(
        name="cancel-between-files-only",
        rule="an upload notices cancel only between files, not between blocks",
        file="cl_desktop/transfers/upload.py",
        old=("            control.check()\n            if abandon.is_set():\n"),
        new="            if abandon.is_set():  # breakage: no cancel check per block\n",
        selection=(
            "tests/transfers/faults/test_faults.py::"
            "test_cancel_takes_effect_within_a_block_and_cleans_up",
        ),
    ),
    Breakage(
        name="empty-item-kept",
        rule="an empty item the job created is not deleted when the upload fails",
        file="cl_desktop/transfers/upload.py",
        old=(
            "    except BaseException:\n"
            "        if created:\n"
            "            drop_empty_item(ctx.client, item_id, ctx.report)\n"
            "        raise\n"
        ),
        new="    except BaseException:\n        raise  # breakage: the empty item stays behind\n",
        selection=("tests/transfers/test_upload_failures.py",),
    ),
    Breakage(
        name="ovf-symlink-escape",
        rule="an OVF reference that is a symlink out of its folder is not refused",
        file="cl_desktop/transfers/ovf.py",
        old="    real = Path(os.path.realpath(path))\n",
        new="    real = Path(os.path.abspath(path))  # breakage: symlinks are not followed\n",
        selection=("tests/transfers/test_preflight.py",),
    ),
    Breakage(
        name="ova-manifest-unchecked",
        rule="an .ova member whose bytes differ from its manifest line is completed",
        file="cl_desktop/transfers/upload.py",
        old="    _check_manifest(f, listed_hex)\n",
        new="    pass  # breakage: the streamed hash is not compared with the manifest\n",
        selection=(
            "tests/transfers/test_ova.py::"
            "test_a_wrong_manifest_fails_before_complete_and_becomes_nothing",
        ),
    ),
    Breakage(
        name="ova-member-climbs-out",
        rule="an .ova member named ../x is taken as a name",
        file="cl_desktop/transfers/ova.py",
        old='    if ".." in parts:\n',
        new="    if False:  # breakage: .. is not refused\n",
        selection=(
            "tests/transfers/test_ova.py::"
            "test_a_hostile_or_broken_ova_is_refused_before_anything_is_created",
        ),
    ),
    Breakage(
        name="signature-warnings-accepted-unasked",
        rule="a signed OVF's preview warnings are ignored without the job allowing it",
        file="cl_desktop/transfers/signatures.py",
        old="    allowed = set(ctx.spec.ignore_warnings)\n",
        new="    allowed = {str(w.type) for w in open_warnings}  # breakage: all accepted\n",
        selection=(
            "tests/transfers/test_signed_templates.py::"
            "test_refused_fails_naming_the_warnings_and_leaves_nothing",
        ),
    ),
    Breakage(
        name="import-failure-keeps-session",
        rule="an import from URL that fails after its session exists leaves it ACTIVE",
        file="cl_desktop/transfers/pull.py",
        old=(
            "    except BaseException as exc:\n"
            "        upload._end_session(ctx, session_id, describe(exc)[1])\n"
            "        raise\n"
        ),
        new="    except BaseException:\n        raise  # breakage: left ACTIVE\n",
        selection=(
            "tests/transfers/test_pull.py::test_a_failed_import_ends_its_session_and_item_itself",
        ),
    ),
    Breakage(
        name="import-empty-item-kept",
        rule="an empty item an import created is not deleted when the import fails",
        file="cl_desktop/transfers/pull.py",
        old=(
            "    except BaseException:\n"
            "        if created:\n"
            "            upload.drop_empty_item(ctx.client, item_id, ctx.report)\n"
            "        raise\n"
        ),
        new="    except BaseException:\n        raise  # breakage: the empty item stays behind\n",
        selection=(
            "tests/transfers/test_pull.py::test_a_failed_import_ends_its_session_and_item_itself",
        ),
    ),
    Breakage(
        name="pull-any-certificate",
        rule="the service pulls from an https source whatever certificate it presents",
        file="cl_desktop/simulator/pulls.py",
        old="            if got != want:\n",
        new="            if False:  # breakage: the thumbprint is not compared\n",
        selection=("tests/simulator/test_simulator_pull.py::test_https_source_by_thumbprint",),
    ),
    Breakage(
        name="ova-member-unverified",
        rule="an .ova gets its final name although a member's checksum was never compared",
        file="cl_desktop/transfers/download.py",
        old=(
            "            verification, checksum = _verify(\n"
            "                ctx, _file_info(ctx, live, source), entry, part, written, algorithm,\n"
        ),
        new=(
            "            verification, checksum = (lambda *a, **k: "
            "(Verification.UNVERIFIED, None))(\n"
            "                ctx, _file_info(ctx, live, source), entry, part, written, algorithm,\n"
        ),
        selection=(
            "tests/transfers/test_download_templates.py::"
            "test_a_changed_byte_in_a_disk_never_gives_the_ova_its_name",
        ),
    ),
)

# What is not copied into the scratch tree (generated, large or another checkout's business).
IGNORED = (".git", ".venv", ".vcsim", "__pycache__", "*.egg-info", ".pytest_cache",
           ".mypy_cache", ".ruff_cache", "build", "dist")  # fmt: skip

# pytest exit codes: 0 all passed, 1 some failed; anything else means the run proved nothing.
PYTEST_FAILED = 1


def run_selection(tree: Path, selection: tuple[str, ...], timeout: float) -> tuple[int, str]:
    env = {**os.environ, "PYTHONPATH": str(tree), "QT_QPA_PLATFORM": "offscreen"}
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *selection]
    try:
        done = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)  # fmt: skip
    except subprocess.TimeoutExpired:
        return -1, f"timed out after {timeout:.0f} s"
    lines = (done.stdout + done.stderr).strip().splitlines()
    failed = [line for line in lines if line.startswith(("FAILED ", "ERROR "))]
    return done.returncode, "; ".join([*failed[:1], *lines[-1:]])


def check(tree: Path, b: Breakage, baseline: dict[tuple[str, ...], tuple[int, str]],
          timeout: float) -> tuple[bool, str]:  # fmt: skip
    """(caught, what happened) for one breakage applied to `tree`; the file is restored after."""
    path = tree / b.file
    if not path.exists():
        return False, f"file not found: {b.file}"
    original = path.read_text()
    count = original.count(b.old)
    if count != 1:
        why = "snippet not found" if count == 0 else f"snippet found {count} times"
        return False, f"{why} in {b.file}: the code changed, update the entry"
    missing = [s for s in b.selection if not (tree / s.split("::")[0]).exists()]
    if missing:
        return False, f"selection not found: {', '.join(missing)}"
    if b.selection not in baseline:
        baseline[b.selection] = run_selection(tree, b.selection, timeout)
    code, summary = baseline[b.selection]
    if code != 0:
        return False, f"selection does not pass without the breakage (exit {code}): {summary}"
    path.write_text(original.replace(b.old, b.new))
    try:
        code, summary = run_selection(tree, b.selection, timeout)
    finally:
        path.write_text(original)
    if code == PYTEST_FAILED:
        return True, summary
    if code == 0:
        return False, f"the selection still passes: {summary}"
    return False, f"the run proved nothing (exit {code}): {summary}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-k", dest="match", default="", help="only breakages whose name has this")
    parser.add_argument("--list", action="store_true", help="list the breakages and exit")
    parser.add_argument("--timeout", type=float, default=900.0,
                        help="seconds per pytest run (default 900)")  # fmt: skip
    args = parser.parse_args(argv)
    chosen = [b for b in BREAKAGES if args.match in b.name]
    if args.list:
        for b in chosen:
            print(f"{b.name}: {b.rule}\n    {b.file} -> {' '.join(b.selection)}")
        return 0
    if not chosen:
        print(f"no breakage matches {args.match!r}", file=sys.stderr)
        return 2
    results = []
    with tempfile.TemporaryDirectory(prefix="safety-rules-") as scratch:
        tree = Path(scratch) / "tree"
        shutil.copytree(ROOT, tree, ignore=shutil.ignore_patterns(*IGNORED))
        baseline: dict[tuple[str, ...], tuple[int, str]] = {}
        for b in chosen:
            print(f"... {b.name}: {b.rule}", flush=True)
            caught, detail = check(tree, b, baseline, args.timeout)
            print(f"    {'caught' if caught else 'MISSED'}: {detail}", flush=True)
            results.append((b, caught))
    print()
    for b, caught in results:
        print(f"{'caught' if caught else 'MISSED':7} {b.name}")
    missed = sum(not caught for _, caught in results)
    print(f"{len(results) - missed} of {len(results)} breakages caught")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
