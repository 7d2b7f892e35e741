"""Decoding rules of the typed models and the error mapping, on bodies as both dialects send."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from cl_desktop.api import errors
from cl_desktop.api.errors import error_from_response
from cl_desktop.api.models import (
    AddSpec,
    ChecksumAlgorithm,
    ChecksumInfo,
    DownloadFileInfo,
    ItemModel,
    PrepareStatus,
    SourceType,
    TransferStatus,
    UpdateFileInfo,
    UpdateSessionModel,
    UpdateSessionState,
    ValidationResult,
    decode,
    decode_list,
    encode,
    parse_time,
)


def test_unknown_members_are_ignored_and_absent_ones_are_none() -> None:
    item = decode(
        ItemModel,
        {"id": "i1", "name": "x", "library_id": "l1", "type": "iso", "File": None, "Template": 3},
    )
    assert item == ItemModel(id="i1", name="x", library_id="l1", type="iso")
    assert item.size is None and item.cached is None and item.content_version is None


def test_null_lists_decode_as_empty() -> None:
    assert decode_list(ItemModel, None) == ()
    result = decode(ValidationResult, {"has_errors": False, "missing_files": None})
    assert result.missing_files == () and result.invalid_files == ()


def test_nested_models_enums_and_times() -> None:
    body = {
        "id": "s1",
        "library_item_id": "i1",
        "state": "ERROR",
        "client_progress": 42,
        "expiration_time": "2026-11-26T20:06:05.707123456+01:00",
        "error_message": {"id": "m.id", "default_message": "disk read failed", "args": ["a"]},
        "warning_behavior": [{"type": "SELF_SIGNED_CERTIFICATE", "ignored": True}],
    }
    model = decode(UpdateSessionModel, body)
    assert model.state is UpdateSessionState.ERROR
    assert model.expiration_time == datetime(2026, 11, 26, 19, 6, 5, 707123, tzinfo=UTC)
    assert model.error_message is not None and str(model.error_message) == "disk read failed"
    assert model.warning_behavior[0].ignored is True


def test_enum_values_from_newer_servers_are_kept() -> None:
    info = decode(UpdateFileInfo, {"name": "a", "status": "QUARANTINED"})
    assert info.status is not None and info.status.value == "QUARANTINED"
    assert info.status != TransferStatus.READY


def test_checksum_algorithm_defaults_to_sha1() -> None:
    assert ChecksumInfo(checksum="ab").effective_algorithm is ChecksumAlgorithm.SHA1
    info = decode(
        DownloadFileInfo, {"name": "a", "status": "PREPARED", "checksum_info": {"checksum": "x"}}
    )
    assert info.status is PrepareStatus.PREPARED
    assert info.checksum_info == ChecksumInfo(checksum="x")


def test_encode_drops_none_and_renders_enums() -> None:
    spec = AddSpec(
        "disk 1.vmdk",
        SourceType.PUSH,
        size=5,
        checksum_info=ChecksumInfo("ab", ChecksumAlgorithm.SHA256),
    )
    assert encode(spec) == {
        "name": "disk 1.vmdk",
        "source_type": "PUSH",
        "size": 5,
        "checksum_info": {"checksum": "ab", "algorithm": "SHA256"},
    }


def test_vcsim_time_format_parses() -> None:
    assert parse_time("2026-11-26T22:43:19.123456789Z").microsecond == 123456


def test_api_error_body_is_mapped_by_error_type_not_status() -> None:
    body = {
        "error_type": "RESOURCE_BUSY",
        "messages": [{"id": "x", "default_message": "Item is locked by session abc.", "args": []}],
    }
    # the 7.0U2 spec answers RESOURCE_BUSY with 500 on update-session create
    exc = error_from_response(500, json.dumps(body).encode(), operation="create update session")
    assert isinstance(exc, errors.ResourceBusy)
    assert exc.status == 500
    assert "Item is locked by session abc." in exc.message
    assert exc.message.startswith("create update session: ")
    assert exc.title == "Busy"


def test_rest_error_body_with_and_without_messages() -> None:
    full = {
        "type": "com.vmware.vapi.std.errors.not_allowed_in_current_state",
        "value": {
            "error_type": "NOT_ALLOWED_IN_CURRENT_STATE",
            "messages": [{"id": "i", "default_message": "Session is not active."}],
        },
    }
    exc = error_from_response(400, json.dumps(full).encode())
    assert isinstance(exc, errors.NotAllowedInCurrentState)
    assert "Session is not active." in exc.message
    bare = {"type": "com.vmware.vapi.std.errors.already_exists", "value": {}}  # vcsim
    exc = error_from_response(400, json.dumps(bare).encode())
    assert isinstance(exc, errors.AlreadyExists)
    assert "already exists" in exc.message


def test_non_json_bodies_map_by_status() -> None:
    exc = error_from_response(404, b"404 page not found\n")
    assert isinstance(exc, errors.NotFound) and "404 page not found" in exc.message
    assert isinstance(error_from_response(401, b""), errors.Unauthenticated)
    assert isinstance(error_from_response(503, b"<html>busy</html>"), errors.ServiceUnavailable)
    assert "<html>" not in error_from_response(503, b"<html>busy</html>").message
    assert type(error_from_response(418, b"")) is errors.VapiError


def test_every_error_type_has_a_class() -> None:
    for name in (
        "ALREADY_EXISTS",
        "NOT_FOUND",
        "UNAUTHORIZED",
        "INVALID_ELEMENT_TYPE",
        "RESOURCE_BUSY",
        "UNAUTHENTICATED",
        "TIMED_OUT",
        "UNVERIFIED_PEER",
    ):
        cls = errors.ERROR_TYPES[name]
        assert cls.error_type == name and cls.title


def test_block_sizer_shrinks_on_slow_links_and_grows_back() -> None:
    from cl_desktop.api.streams import BlockSizer

    sizer = BlockSizer(1 << 20, target=0.2)
    assert sizer.size == 1 << 20
    sizer.observe(1 << 20, 5.0)  # 200 KB/s: a 1 MiB block would block for 5 s
    assert sizer.size == 64 << 10  # 0.2 s at that rate is 42 KB; never below 64 KiB
    sizer.observe(64 << 10, 0.1)  # 650 KB/s
    assert sizer.size == 128 << 10
    sizer.observe(1 << 20, 0.002)  # loopback speed
    assert sizer.size == 1 << 20
