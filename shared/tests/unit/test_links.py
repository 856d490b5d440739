"""Signed download links: valid for one report, one organisation, for a limited time."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from corroborate.links import DownloadLinks, LinkRejected

NOW = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
LINKS = DownloadLinks(secret=b"a-test-link-secret", ttl=timedelta(minutes=15))
REPORT = uuid.uuid4()


def _verify(
    expires: int,
    signature: str,
    *,
    report_id: uuid.UUID = REPORT,
    organisation: str = "org-a",
    now: datetime = NOW,
    links: DownloadLinks = LINKS,
) -> None:
    links.verify(
        report_id=report_id,
        organisation=organisation,
        expires=expires,
        signature=signature,
        now=now,
    )


def test_a_fresh_link_verifies_until_it_expires() -> None:
    expires, signature = LINKS.sign(report_id=REPORT, organisation="org-a", now=NOW)
    assert expires == int((NOW + timedelta(minutes=15)).timestamp())
    assert len(signature) == 64
    _verify(expires, signature)
    _verify(expires, signature, now=NOW + timedelta(minutes=15))


def test_an_expired_link_is_refused() -> None:
    expires, signature = LINKS.sign(report_id=REPORT, organisation="org-a", now=NOW)
    with pytest.raises(LinkRejected, match="expired"):
        _verify(expires, signature, now=NOW + timedelta(minutes=15, seconds=1))


def test_a_link_made_with_a_negative_lifetime_is_already_expired() -> None:
    stale = DownloadLinks(secret=LINKS.secret, ttl=timedelta(seconds=-1))
    expires, signature = stale.sign(report_id=REPORT, organisation="org-a", now=NOW)
    with pytest.raises(LinkRejected, match="expired"):
        _verify(expires, signature)


def test_an_altered_signature_is_refused() -> None:
    expires, signature = LINKS.sign(report_id=REPORT, organisation="org-a", now=NOW)
    flipped = ("0" if signature[0] != "0" else "1") + signature[1:]
    with pytest.raises(LinkRejected, match="signature"):
        _verify(expires, flipped)


def test_extending_the_expiry_breaks_the_signature() -> None:
    expires, signature = LINKS.sign(report_id=REPORT, organisation="org-a", now=NOW)
    with pytest.raises(LinkRejected, match="signature"):
        _verify(expires + 86_400, signature, now=NOW + timedelta(hours=1))


def test_a_link_is_for_one_report_only() -> None:
    expires, signature = LINKS.sign(report_id=REPORT, organisation="org-a", now=NOW)
    with pytest.raises(LinkRejected):
        _verify(expires, signature, report_id=uuid.uuid4())


def test_another_organisation_cannot_use_the_link() -> None:
    expires, signature = LINKS.sign(report_id=REPORT, organisation="org-a", now=NOW)
    with pytest.raises(LinkRejected):
        _verify(expires, signature, organisation="org-b")


def test_a_link_signed_with_another_secret_is_refused() -> None:
    other = DownloadLinks(secret=b"somebody-elses-secret", ttl=LINKS.ttl)
    expires, signature = other.sign(report_id=REPORT, organisation="org-a", now=NOW)
    with pytest.raises(LinkRejected):
        _verify(expires, signature)
