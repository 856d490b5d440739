"""Protected details: sealed for the bus and the database, opened only with the master key."""

from __future__ import annotations

import base64
import os
import uuid
from datetime import date

import pytest

from corroborate.crypto import DecryptionError, KeyRing
from corroborate.events.contracts import (
    ProtectedDetails,
    open_details,
    seal_details,
)
from corroborate_testing import referral_submitted

NAME = "Zubeida Canary-Qorxoy"


@pytest.fixture(scope="module")
def ring() -> KeyRing:
    return KeyRing(base64.b64encode(os.urandom(32)).decode())


def details() -> ProtectedDetails:
    return ProtectedDetails(
        full_name=NAME,
        other_names=["Zubi"],
        date_of_birth=date(1990, 5, 17),
        home_office_reference="HO-998877",
        account="Detained in 2019 and beaten with cables.",
        questions=["Are the scars on the back consistent with the account?"],
    )


def test_sealed_details_open_to_the_same_details(ring: KeyRing) -> None:
    case_id = uuid.uuid4()
    sealed = seal_details(details(), case_id=case_id, key=ring.new_data_key())
    assert open_details(sealed, case_id=case_id, keyring=ring) == details()


def test_sealed_details_show_no_identity(ring: KeyRing) -> None:
    sealed = seal_details(details(), case_id=uuid.uuid4(), key=ring.new_data_key())
    as_sent = sealed.model_dump_json()
    for secret in (NAME, "Zubi", "1990-05-17", "HO-998877", "beaten", "scars"):
        assert secret not in as_sent
        assert secret.encode() not in base64.b64decode(sealed.ciphertext)


def test_sealed_details_cannot_be_moved_to_another_case(ring: KeyRing) -> None:
    sealed = seal_details(details(), case_id=uuid.uuid4(), key=ring.new_data_key())
    with pytest.raises(DecryptionError):
        open_details(sealed, case_id=uuid.uuid4(), keyring=ring)


def test_sealed_details_need_the_master_key_that_wrapped_them(ring: KeyRing) -> None:
    case_id = uuid.uuid4()
    sealed = seal_details(details(), case_id=case_id, key=ring.new_data_key())
    other = KeyRing(base64.b64encode(os.urandom(32)).decode())
    with pytest.raises(DecryptionError):
        open_details(sealed, case_id=case_id, keyring=other)


def test_referral_event_on_the_wire_carries_no_identity(ring: KeyRing) -> None:
    case_id = uuid.uuid4()
    wire = referral_submitted(keyring=ring, protected=details(), case_id=case_id).model_dump_json()
    assert NAME not in wire
    assert "HO-998877" not in wire
    assert "CRB-2026-ABC123" in wire  # the case reference is what travels in clear
