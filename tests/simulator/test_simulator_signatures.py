"""Signed OVF packages: the signer's certificate (the .cert beside the .ovf) read by the service,
the preview warnings it raises, and complete refused while one is not ignored."""

from __future__ import annotations

import ssl
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import trustme
from cryptography import x509

from cl_desktop.simulator import ContentLibraryService
from cl_desktop.simulator.certs import CertificateError, parse_der, parse_pem
from tests.support.simclient import RawClient, error_type, new_http

OVF = b'<?xml version="1.0"?><Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1"/>'
NOW = datetime.now(UTC)


def cert_file(*pems: bytes) -> bytes:
    """A .cert as ovftool writes it: the signature of the manifest, then the certificate(s)."""
    return b"SHA256(signed.mf)= " + b"ab" * 256 + b"\n" + b"".join(pems)


def leaf_pem(ca: trustme.CA, **dates: datetime) -> bytes:
    leaf = ca.issue_cert("signer.example.com", common_name="Appliance Signer", **dates)
    return leaf.cert_chain_pems[0].bytes()


def signed_session(raw: RawClient, name: str, cert: bytes) -> str:
    item = raw.create_item(name, item_type="ovf")
    return raw.upload(item, {"signed.cert": cert, "signed.ovf": OVF}, complete=False)


def preview(raw: RawClient, sid: str) -> dict[str, Any]:
    return dict(raw.update_session(sid)["preview_info"])


def kinds(info: dict[str, Any]) -> list[str]:
    return [w["type"] for w in info["warnings"]]


def patch_behavior(raw: RawClient, sid: str, *types: str) -> None:
    spec = {"warning_behavior": [{"type": t, "ignored": True} for t in types]}
    raw.ok("PATCH", raw.us_path(sid), json=spec if raw.dialect == "api" else {"update_spec": spec})


def test_self_signed_signature(raw_client: RawClient) -> None:
    ca = trustme.CA(organization_name="Appliance Vendor")
    sid = signed_session(raw_client, "self-signed", cert_file(ca.cert_pem.bytes()))
    info = preview(raw_client, sid)
    assert info["state"] == "AVAILABLE"
    assert kinds(info) == ["SELF_SIGNED_CERTIFICATE"]
    assert info["warnings"][0]["ignored"] is False
    assert "self-signed" in info["warnings"][0]["message"]["default_message"]
    cert = info["certificate_info"]
    theirs = x509.load_pem_x509_certificate(ca.cert_pem.bytes())
    assert cert["self_signed"] is True
    assert cert["subject"] == cert["issuer"] == theirs.subject.rfc4514_string()
    assert ssl.PEM_cert_to_DER_cert(cert["x509"]) == ssl.PEM_cert_to_DER_cert(
        ca.cert_pem.bytes().decode()
    )


@pytest.mark.parametrize(
    ("dates", "expected"),
    [
        ({"not_after": NOW - timedelta(days=1)}, ["EXPIRED_CERTIFICATE"]),
        ({"not_before": NOW + timedelta(days=30)}, ["NOT_YET_VALID_CERTIFICATE"]),
        ({}, []),  # issued by the trusted CA and in date: nothing to warn about
        # far enough ahead that the end date is a GeneralizedTime, not a UTCTime
        ({"not_after": datetime(2061, 1, 1, tzinfo=UTC)}, []),
    ],
)
def test_dates_of_a_trusted_signer(
    sim_factory: Callable[..., ContentLibraryService],
    dates: dict[str, datetime],
    expected: list[str],
) -> None:
    ca = trustme.CA()
    sim = sim_factory(trusted_certificates=(ca.cert_pem.bytes().decode(),))
    raw = RawClient(sim, "api")
    sid = signed_session(raw, "dated", cert_file(leaf_pem(ca, **dates)))
    info = preview(raw, sid)
    assert kinds(info) == expected
    assert info["certificate_info"]["self_signed"] is False
    assert "CN=Appliance Signer" in info["certificate_info"]["subject"]


def test_untrusted_signer_and_a_chain_to_a_trusted_root(
    sim_factory: Callable[..., ContentLibraryService],
) -> None:
    root = trustme.CA()
    intermediate = trustme.CA(parent_cert=root)
    leaf = leaf_pem(intermediate)
    untrusting = RawClient(sim_factory(), "rest")
    sid = signed_session(untrusting, "untrusted", cert_file(leaf, intermediate.cert_pem.bytes()))
    assert kinds(preview(untrusting, sid)) == ["UNTRUSTED_CERTIFICATE"]
    # the same .cert, on a service that trusts the root: the intermediate links them
    trusting = RawClient(sim_factory(trusted_certificates=(root.cert_pem.bytes().decode(),)), "api")
    sid = signed_session(trusting, "chained", cert_file(leaf, intermediate.cert_pem.bytes()))
    assert kinds(preview(trusting, sid)) == []
    # without the intermediate in the .cert the chain is broken
    sid = signed_session(trusting, "broken-chain", cert_file(leaf))
    assert kinds(preview(trusting, sid)) == ["UNTRUSTED_CERTIFICATE"]


def test_expired_and_untrusted_are_both_raised(raw_api: RawClient) -> None:
    pem = leaf_pem(trustme.CA(), not_after=NOW - timedelta(days=2))
    sid = signed_session(raw_api, "two-warnings", cert_file(pem))
    assert kinds(preview(raw_api, sid)) == ["UNTRUSTED_CERTIFICATE", "EXPIRED_CERTIFICATE"]


def test_unreadable_cert_is_a_warning_not_a_crash(raw_client: RawClient) -> None:
    garbage = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    for name, content in (("not-pem", b"hello"), ("bad-der", garbage)):
        sid = signed_session(raw_client, name, content)
        info = preview(raw_client, sid)
        assert info["state"] == "AVAILABLE" and "certificate_info" not in info
        (warning,) = info["warnings"]
        assert warning["type"] == "UNTRUSTED_CERTIFICATE"
        assert "cannot be read" in warning["message"]["default_message"]


def test_preparing_until_the_descriptor_and_signature_arrived(raw_client: RawClient) -> None:
    item = raw_client.create_item("preparing", item_type="ovf")
    sid = raw_client.create_update_session(item)
    cert = cert_file(trustme.CA().cert_pem.bytes())
    cert_info = raw_client.add_file(sid, "signed.cert", size=len(cert))
    descriptor = raw_client.add_file(sid, "signed.ovf", size=len(OVF))
    assert preview(raw_client, sid) == {"state": "PREPARING"}
    assert raw_client.put(descriptor["upload_endpoint"]["uri"], OVF).status_code == 200
    assert preview(raw_client, sid) == {"state": "PREPARING"}  # the signature is still due
    assert raw_client.put(cert_info["upload_endpoint"]["uri"], cert).status_code == 200
    assert kinds(preview(raw_client, sid)) == ["SELF_SIGNED_CERTIFICATE"]


def test_complete_refused_while_a_warning_is_not_ignored(raw_client: RawClient) -> None:
    cert = cert_file(trustme.CA().cert_pem.bytes())
    item = raw_client.create_item("refused", item_type="ovf")
    sid = raw_client.upload(item, {"signed.cert": cert, "signed.ovf": OVF}, complete=False)
    r = raw_client.us_action(sid, "complete")
    assert r.status_code in (400, 500)
    assert error_type(r, raw_client.dialect) == "NOT_ALLOWED_IN_CURRENT_STATE"
    assert "SELF_SIGNED_CERTIFICATE" in r.text
    session = raw_client.update_session(sid)
    assert session["state"] == "ERROR" and "preview_info" not in session
    assert "SELF_SIGNED_CERTIFICATE" in session["error_message"]["default_message"]
    assert raw_client.item_files(item) == []  # nothing reached the item


def test_complete_accepted_once_the_warning_is_ignored(raw_client: RawClient) -> None:
    cert = cert_file(trustme.CA().cert_pem.bytes())
    item = raw_client.create_item("accepted", item_type="ovf")
    sid = raw_client.upload(item, {"signed.cert": cert, "signed.ovf": OVF}, complete=False)
    patch_behavior(raw_client, sid, "EXPIRED_CERTIFICATE")  # not the one raised
    assert preview(raw_client, sid)["warnings"][0]["ignored"] is False
    patch_behavior(raw_client, sid, "SELF_SIGNED_CERTIFICATE")
    assert preview(raw_client, sid)["warnings"][0]["ignored"] is True
    r = raw_client.us_action(sid, "complete")
    assert r.status_code in (200, 204), r.text
    assert raw_client.update_session(sid)["state"] == "DONE"
    assert [f["name"] for f in raw_client.item_files(item)] == ["signed.ovf"]  # .cert consumed


def test_warning_behavior_given_at_create(raw_api: RawClient) -> None:
    item = raw_api.create_item("behavior-at-create", item_type="ovf")
    behavior = [{"type": "SELF_SIGNED_CERTIFICATE", "ignored": True}]
    sid = str(
        raw_api.ok(
            "POST", raw_api.us_path(), json={"library_item_id": item, "warning_behavior": behavior}
        )
    )
    cert = cert_file(trustme.CA().cert_pem.bytes())
    for name, data in (("signed.cert", cert), ("signed.ovf", OVF)):
        info = raw_api.add_file(sid, name, size=len(data))
        assert raw_api.put(info["upload_endpoint"]["uri"], data).status_code == 200
    r = raw_api.us_action(sid, "complete")
    assert r.status_code == 204, r.text


def test_der_reader_agrees_with_cryptography() -> None:
    root = trustme.CA(organization_name="Example, Inc.", organization_unit_name="Lab+Test")
    pems = [
        root.cert_pem.bytes(),
        leaf_pem(root, not_after=datetime(2070, 5, 6, 7, 8, 9, tzinfo=UTC)),
        leaf_pem(root, not_before=datetime(1999, 1, 2, tzinfo=UTC)),
    ]
    for pem in pems:
        ours, theirs = parse_pem(pem)[0], x509.load_pem_x509_certificate(pem)
        assert ours.subject == theirs.subject.rfc4514_string()
        assert ours.issuer == theirs.issuer.rfc4514_string()
        assert ours.not_before == theirs.not_valid_before_utc.timestamp()
        assert ours.not_after == theirs.not_valid_after_utc.timestamp()
    for bad in (b"", b"\x30\x03\x02\x01", b"\x30\x80" + bytes(10), b"\x04\x00"):
        with pytest.raises(CertificateError):
            parse_der(bad)


def test_the_command_line_trusts_a_pem_file(
    sim_cli: Callable[..., tuple[subprocess.Popen[str], str]], tmp_path: Path
) -> None:
    ca = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    _proc, base = sim_cli("--user", "admin:secret", "--trust-certificate", str(ca_file))
    http = new_http()
    http.headers["vmware-api-session-id"] = http.post(
        base + "/api/session", auth=("admin", "secret")
    ).json()
    library = http.get(base + "/api/content/library").json()[0]
    item = http.post(
        base + "/api/content/library/item",
        json={"library_id": library, "name": "trusted", "type": "ovf"},
    ).json()
    sessions = base + "/api/content/library/item/update-session"
    sid = http.post(sessions, json={"library_item_id": item}).json()
    for name, data in (("s.cert", cert_file(leaf_pem(ca))), ("s.ovf", OVF)):
        info = http.post(
            f"{sessions}/{sid}/file", json={"name": name, "source_type": "PUSH", "size": len(data)}
        ).json()
        assert new_http().put(info["upload_endpoint"]["uri"], data=data).status_code == 200
    preview = http.get(f"{sessions}/{sid}").json()["preview_info"]
    assert preview["state"] == "AVAILABLE" and preview["warnings"] == []

    for bad in (tmp_path / "missing.pem", tmp_path / "not-a-cert.pem"):
        if bad.name.startswith("not"):
            bad.write_text("hello")
        run = subprocess.run(
            [sys.executable, "-m", "cl_desktop.simulator", "--trust-certificate", str(bad)],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert run.returncode == 2 and "certificate" in run.stderr, run.stderr
