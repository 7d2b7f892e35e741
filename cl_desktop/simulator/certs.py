"""The signature of an OVF package: the signer's certificate from its `.cert` file, and the
preview warnings it raises (self-signed, expired, not yet valid, untrusted).

The standard library has no X.509 parser (``ssl`` decodes only the peer of a live
connection), so the few fields needed are read here with a small DER reader: the issuer, the
validity and the subject of ``tbsCertificate``. Trust is decided by names: a certificate is
trusted when it is one of the service's trusted certificates or its chain (the other
certificates in the `.cert` file) reaches an issuer whose name is a trusted certificate's
subject. Signatures are not verified (no public-key code in the standard library): this is a
simulator of the protocol, not a verifier.
"""

from __future__ import annotations

import base64
import binascii
import calendar
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

JSON = dict[str, Any]

MAX_CERT_FILE = 1 << 20  # a .cert is a few KiB; more is not read
_PEM = re.compile(rb"-----BEGIN CERTIFICATE-----\s*(.*?)\s*-----END CERTIFICATE-----", re.DOTALL)
_ATTRIBUTE_NAMES = {
    "2.5.4.3": "CN",
    "2.5.4.5": "serialNumber",
    "2.5.4.6": "C",
    "2.5.4.7": "L",
    "2.5.4.8": "ST",
    "2.5.4.10": "O",
    "2.5.4.11": "OU",
    "1.2.840.113549.1.9.1": "emailAddress",
    "0.9.2342.19200300.100.1.25": "DC",
}
_STRING_CODECS = {
    0x0C: "utf-8",  # UTF8String
    0x13: "ascii",  # PrintableString
    0x16: "ascii",  # IA5String
    0x14: "latin-1",  # TeletexString (as most decoders do)
    0x1A: "ascii",  # VisibleString
    0x1E: "utf-16-be",  # BMPString
    0x1C: "utf-32-be",  # UniversalString
}


class CertificateError(ValueError):
    """The .cert holds no certificate this reader can decode."""


@dataclass(frozen=True)
class Certificate:
    der: bytes
    issuer_der: bytes
    subject_der: bytes
    issuer: str
    subject: str
    not_before: float  # seconds since the epoch, UTC
    not_after: float

    @property
    def self_signed(self) -> bool:
        return self.issuer_der == self.subject_der

    def pem(self) -> str:
        body = base64.encodebytes(self.der).decode("ascii")
        return f"-----BEGIN CERTIFICATE-----\n{body}-----END CERTIFICATE-----\n"


# -- DER -------------------------------------------------------------------------------------


def _tlv(data: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, start of the value, end of the value) of the element at `pos`."""
    if pos + 2 > len(data):
        raise CertificateError("the certificate ends too early")
    tag, first = data[pos], data[pos + 1]
    pos += 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or pos + count > len(data):
            raise CertificateError("the certificate has an invalid length")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    if pos + length > len(data):
        raise CertificateError("the certificate ends too early")
    return tag, pos, pos + length


def _children(data: bytes, start: int, end: int) -> list[tuple[int, int, int, int]]:
    """(tag, element start, value start, value end) of each element in data[start:end]."""
    out = []
    pos = start
    while pos < end:
        tag, value_start, value_end = _tlv(data, pos)
        out.append((tag, pos, value_start, value_end))
        pos = value_end
    return out


def _oid(value: bytes) -> str:
    if not value:
        raise CertificateError("an empty object identifier")
    parts = [value[0] // 40, value[0] % 40] if value[0] < 80 else [2, value[0] - 80]
    number = 0
    for byte in value[1:]:
        number = (number << 7) | (byte & 0x7F)
        if not byte & 0x80:
            parts.append(number)
            number = 0
    return ".".join(map(str, parts))


def _name_text(data: bytes, start: int, end: int) -> str:
    """A Name as RFC 4514 writes it (most specific first): "CN=host,O=Example,C=US"."""
    rdns = []
    for tag, _, set_start, set_end in _children(data, start, end):
        if tag != 0x31:
            raise CertificateError("a name is not a sequence of sets")
        attributes = []
        for _, _, seq_start, seq_end in _children(data, set_start, set_end):
            parts = _children(data, seq_start, seq_end)
            if len(parts) != 2 or parts[0][0] != 0x06:
                raise CertificateError("a name attribute is malformed")
            oid = _oid(data[parts[0][2] : parts[0][3]])
            value_tag, _, value_start, value_end = parts[1]
            raw = data[value_start:value_end]
            codec = _STRING_CODECS.get(value_tag)
            text = raw.decode(codec, "replace") if codec else "#" + raw.hex()
            text = re.sub(r'([,+"\\<>;])', r"\\\1", text)
            attributes.append(f"{_ATTRIBUTE_NAMES.get(oid, oid)}={text}")
        rdns.append("+".join(attributes))
    return ",".join(reversed(rdns))


def _time(tag: int, raw: bytes) -> float:
    text = raw.decode("ascii", "replace")
    match = re.fullmatch(r"(\d{2}|\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?(?:\.\d+)?Z", text)
    if match is None or (tag == 0x17) != (len(match.group(1)) == 2) or tag not in (0x17, 0x18):
        raise CertificateError(f"an unreadable validity date {text!r}")
    year = int(match.group(1))
    if tag == 0x17:  # UTCTime: 50-99 are 1950-1999 (RFC 5280)
        year += 1900 if year >= 50 else 2000
    month, day, hour, minute = (int(match.group(i)) for i in range(2, 6))
    second = int(match.group(6) or 0)
    return float(calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0)))


def parse_der(der: bytes) -> Certificate:
    """Issuer, subject and validity of one DER certificate."""
    tag, start, end = _tlv(der, 0)
    if tag != 0x30 or end != len(der):
        raise CertificateError("not a DER certificate")
    tbs_tag, tbs_start, tbs_end = _tlv(der, start)
    if tbs_tag != 0x30:
        raise CertificateError("the certificate has no tbsCertificate")
    fields = _children(der, tbs_start, tbs_end)
    if fields and fields[0][0] == 0xA0:  # [0] EXPLICIT version
        fields = fields[1:]
    if len(fields) < 5:
        raise CertificateError("the certificate lacks fields")
    issuer, validity, subject = fields[2:5]  # after serialNumber and signature
    if issuer[0] != 0x30 or validity[0] != 0x30 or subject[0] != 0x30:
        raise CertificateError("the certificate's issuer, validity or subject is malformed")
    dates = _children(der, validity[2], validity[3])
    if len(dates) != 2:
        raise CertificateError("the certificate's validity is malformed")
    not_before = _time(dates[0][0], der[dates[0][2] : dates[0][3]])
    not_after = _time(dates[1][0], der[dates[1][2] : dates[1][3]])
    return Certificate(
        der=der,
        issuer_der=der[issuer[2] : issuer[3]],
        subject_der=der[subject[2] : subject[3]],
        issuer=_name_text(der, issuer[2], issuer[3]),
        subject=_name_text(der, subject[2], subject[3]),
        not_before=not_before,
        not_after=not_after,
    )


def parse_pem(data: bytes) -> list[Certificate]:
    """Every certificate in PEM text (a .cert also holds the signature line: it is skipped)."""
    found = []
    for block in _PEM.findall(data):
        try:
            der = base64.b64decode(b"".join(block.split()), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise CertificateError("a PEM block is not base64") from exc
        found.append(parse_der(der))
    if not found:
        raise CertificateError("it holds no PEM certificate")
    return found


# -- preview warnings ------------------------------------------------------------------------


def _warning(kind: str, message: str) -> JSON:
    return {
        "type": kind,
        "message": {
            "id": f"com.vmware.vdcs.ovf.{kind.lower()}",
            "default_message": message,
            "args": [],
        },
    }


def _trusted(chain: list[Certificate], trusted: Sequence[Certificate]) -> bool:
    """The leaf reaches a trusted certificate by issuer names, through the chain's others."""
    trusted_ders = {t.der for t in trusted}
    trusted_subjects = {t.subject_der for t in trusted}
    current, seen = chain[0], set()
    while current.der not in seen:
        seen.add(current.der)
        if current.der in trusted_ders or current.issuer_der in trusted_subjects:
            return True
        parents = [c for c in chain if c.subject_der == current.issuer_der and c is not current]
        if not parents:
            return False
        current = parents[0]
    return False


def signature_preview(cert_file: bytes, now: float, trusted: Sequence[Certificate]) -> JSON:
    """certificate_info, cert_chain and warnings (without `ignored`) for a .cert's contents."""
    try:
        chain = parse_pem(cert_file)
    except CertificateError as exc:
        message = f"The signing certificate of the OVF package cannot be read: {exc}."
        return {"warnings": [_warning("UNTRUSTED_CERTIFICATE", message)]}
    leaf = chain[0]
    warnings = []
    if not _trusted(chain, trusted):
        if leaf.self_signed:
            text = f"The OVF package is signed with a self-signed certificate ({leaf.subject})."
            warnings.append(_warning("SELF_SIGNED_CERTIFICATE", text))
        else:
            text = (
                f"The OVF package is signed by {leaf.subject}, whose certificate is not issued "
                f"by a trusted authority (issuer: {leaf.issuer})."
            )
            warnings.append(_warning("UNTRUSTED_CERTIFICATE", text))
    if now > leaf.not_after:
        text = f"The certificate that signed the OVF package expired ({_date(leaf.not_after)})."
        warnings.append(_warning("EXPIRED_CERTIFICATE", text))
    if now < leaf.not_before:
        text = (
            "The certificate that signed the OVF package is not valid before "
            f"{_date(leaf.not_before)}."
        )
        warnings.append(_warning("NOT_YET_VALID_CERTIFICATE", text))
    return {
        "certificate_info": {
            "issuer": leaf.issuer,
            "subject": leaf.subject,
            "self_signed": leaf.self_signed,
            "x509": leaf.pem(),
        },
        "cert_chain": [base64.b64encode(c.der).decode("ascii") for c in chain],
        "warnings": warnings,
    }


def _date(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts))
