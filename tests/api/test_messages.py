"""Checking an SMS: exact and near-duplicate templates, listed contents, senders, verdicts."""

from __future__ import annotations

from datetime import timedelta

import pytest

from scamshare.clock import utcnow

SCAM = (
    "Your parcel is held at customs. Pay $2.50 now at http://pay-parcel.example.com/t "
    "or call 8123 4567"
)
# Reworded, with a link and a number the node has never seen.
NEAR = (
    "Your parcel is being held at customs. Pay $9.90 now at http://other-site.example.org/z "
    "or call 9123 4567"
)


def report(value, kind="message", **extra) -> dict:
    """A report observed yesterday."""
    return {
        "kind": kind,
        "value": value,
        "category": "parcel_delivery",
        "channel": "sms",
        "observed_at": (utcnow() - timedelta(days=1)).isoformat(),
        "evidence_ref": "case-1",
        **extra,
    }


def list_values(client, keys, *reports) -> None:
    """List values with verified regulator reports."""
    body = {"reports": [{**r, "verified": True} for r in reports]}
    assert (
        client.post("/api/v1/reports", json=body, headers=keys["regulator"].headers).status_code
        == 200
    )


def check(client, credential, **body):
    """POST one message check."""
    return client.post("/api/v1/messages/check", json=body, headers=credential.headers)


def matches(response) -> set[tuple[str, str]]:
    """The (match, value) pairs of a verdict."""
    return {(m["match"], m["value"]) for m in response.json["matches"]}


def test_the_exact_template_and_its_listed_contents_block(client, keys):
    """Same template with other amounts: the template, its URL and number all match."""
    list_values(
        client,
        keys,
        report(SCAM),
        report("http://pay-parcel.example.com/t", kind="url"),
        report("+65 8123 4567", kind="phone"),
    )
    response = check(client, keys["operator"], text=SCAM.replace("$2.50", "$3.10"))
    assert response.status_code == 200
    assert response.json["verdict"] == "block"
    found = matches(response)
    assert ("url", "pay-parcel.example.com/t") in found
    assert ("phone", "+6581234567") in found
    template = next(m for m in response.json["matches"] if m["match"] == "template")
    assert template["action"] == "block" and template["similarity"] is None
    assert template["origins"] == [{"country": "SG", "policy": "block"}]
    assert response.json["template"].startswith("your parcel is held at customs. pay <amount>")


def test_a_near_duplicate_template_warns_with_its_similarity(client, keys):
    """A reworded copy of a listed template is a near-duplicate: warn, with its similarity."""
    list_values(client, keys, report(SCAM))
    response = check(client, keys["operator"], text=NEAR)
    assert response.json["verdict"] == "warn"
    [similar] = response.json["matches"]
    assert similar["match"] == "similar_template" and similar["action"] == "warn"
    assert 0.84 <= similar["similarity"] < 1


def test_a_listed_domain_inside_a_link_blocks(client, keys):
    """A link on a listed domain blocks even when the URL itself was never reported."""
    list_values(client, keys, report("pay-parcel.example.com", kind="domain"))
    response = check(
        client, keys["operator"], text="Claim here: https://pay-parcel.example.com/other"
    )
    assert response.json["verdict"] == "block"
    assert matches(response) == {("domain", "example.com")}


def test_a_listed_sender_id_or_number_given_as_sender_blocks(client, keys):
    """The sender ID and sending number are checked as well as the text."""
    list_values(
        client, keys, report("PARCELSG", kind="sender_id"), report("+65 8765 4321", kind="phone")
    )
    by_sender = check(client, keys["operator"], text="Hello there", sender="parcelsg")
    assert by_sender.json["verdict"] == "block"
    assert by_sender.json["matches"][0]["sources"] == ["sender"]
    by_number = check(client, keys["operator"], text="Hello there", number="8765 4321")
    assert matches(by_number) == {("phone", "+6587654321")}
    assert by_number.json["matches"][0]["sources"] == ["number"]


def test_a_disputed_match_warns(client, keys):
    """Under appeal, a listing still warns but no longer blocks."""
    list_values(client, keys, report("+65 8765 4321", kind="phone"))
    client.post(
        "/api/v1/appeals",
        json={"value": "+65 8765 4321", "reason": "not mine", "contact_ref": "c-1"},
        headers=keys["operator"].headers,
    )
    response = check(client, keys["operator"], text="Call me on 8765 4321")
    assert response.json["verdict"] == "warn"
    assert response.json["matches"][0]["status"] == "disputed"


def test_an_ordinary_message_is_allowed_and_reported_values_do_not_count(client, keys):
    """Only listed and disputed values match: one unverified report blocks nobody."""
    client.post(
        "/api/v1/reports",
        json=report("+65 8765 4321", kind="phone"),
        headers=keys["operator"].headers,
    )
    response = check(client, keys["law_enforcement"], text="Dinner at 7? Call 8765 4321")
    assert (response.json["verdict"], response.json["matches"]) == ("allow", [])


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        ({"text": "   "}, "text", "empty_message"),
        ({"text": "hi", "number": "12"}, "number", "too_short"),
        ({"text": "hi", "sender": "!!"}, "sender", "invalid_sender_id"),
    ],
)
def test_parts_that_cannot_be_normalised_are_422(client, keys, body, field, reason):
    """Each unreadable part is named with the normaliser's reason."""
    response = check(client, keys["operator"], **body)
    assert response.status_code == 422
    assert (response.json["errors"][0]["field"], response.json["errors"][0]["reason"]) == (
        field,
        reason,
    )


@pytest.mark.parametrize("role", ["peer_node", "admin"])
def test_roles_without_check_permission_are_refused(client, keys, role):
    """Only regulators, law enforcement and operators check messages."""
    assert check(client, keys[role], text="hello").status_code == 403


# A listed scam and a reworded variant per script; scripts without spaces use character shingles.
VARIANTS = [
    (
        "คุณได้รับเงินคืนภาษี 5,000 บาท กรุณากดลิงก์ https://th-refund.top/a เพื่อยืนยันตัวตนภายในวันนี้",
        "คุณได้รับเงินคืนภาษีจำนวน 9,000 บาท กรุณากดลิงก์ https://th-tax.xyz/b เพื่อยืนยันตัวตนภายในวันนี้ค่ะ",
    ),
    (
        "ທ່ານໄດ້ຮັບເງິນລາງວັນ 500000 ກີບ ກະລຸນາກົດລິ້ງ https://lao-lucky.top/a ເພື່ອຮັບລາງວັນພາຍໃນມື້ນີ້",
        "ທ່ານໄດ້ຮັບເງິນລາງວັນພິເສດ 900000 ກີບ ກະລຸນາກົດລິ້ງ https://lao-win.xyz/b ເພື່ອຮັບລາງວັນພາຍໃນມື້ນີ້",
    ),
    (
        "គណនីធនាគាររបស់អ្នកត្រូវបានផ្អាក សូមចុចតំណ https://aba-verify.top/a ដើម្បីផ្ទៀងផ្ទាត់ថ្ងៃនេះ",
        "គណនីធនាគាររបស់លោកអ្នកត្រូវបានផ្អាក សូមចុចតំណ https://aba-check.xyz/b ដើម្បីផ្ទៀងផ្ទាត់ថ្ងៃនេះ",
    ),
    (
        "သင်၏ဘဏ်အကောင့်ကို ယာယီပိတ်ထားပါသည် https://kbz-verify.top/a တွင် ယနေ့အတည်ပြုပေးပါ",
        "သင်၏ဘဏ်အကောင့်ကို ယာယီပိတ်ထားပြီးဖြစ်ပါသည် https://kbz-check.xyz/b တွင် ယနေ့အတည်ပြုပေးပါ",
    ),
    (
        "Tài khoản ngân hàng của quý khách đã bị tạm khóa, vui lòng truy cập "
        "https://vcb-xacthuc.top/a để xác thực trong hôm nay",
        "Tài khoản ngân hàng của quý khách đã bị khóa, vui lòng truy cập ngay "
        "https://vcb-mokhoa.xyz/b để xác thực trong hôm nay",
    ),
    (
        "Akaun bank anda telah disekat sementara, sila layari https://bank-sah.top/a "
        "untuk pengesahan dalam masa 24 jam",
        "Akaun bank anda telah disekat, sila layari segera https://bank-semak.xyz/b "
        "untuk pengesahan dalam masa 48 jam",
    ),
]


@pytest.mark.parametrize(("listed", "variant"), VARIANTS, ids=["th", "lo", "km", "my", "vi", "ms"])
def test_a_reworded_variant_in_any_script_warns(client, keys, listed, variant):
    """Thai, Lao, Khmer, Burmese (no spaces) and spaced scripts: a variant is a near-duplicate."""
    list_values(client, keys, report(listed))
    response = check(client, keys["operator"], text=variant)
    assert response.json["verdict"] == "warn"
    [similar] = response.json["matches"]
    assert similar["match"] == "similar_template"
    assert 0.26 <= similar["similarity"] < 1


@pytest.mark.parametrize(("listed", "variant"), VARIANTS, ids=["th", "lo", "km", "my", "vi", "ms"])
def test_another_message_in_the_same_script_is_allowed(client, keys, listed, variant):
    """A listed template does not make every text of its script similar."""
    list_values(client, keys, report(listed))
    others = dict(zip(("th", "lo", "km", "my", "vi", "ms"), VARIANTS, strict=True))
    script = next(name for name, pair in others.items() if pair[0] == listed)
    everyday = {
        "th": "พรุ่งนี้เราไปกินข้าวที่ร้านเดิมกันไหม แม่บอกว่าจะมารับตอนเย็นหลังเลิกงาน",
        "lo": "ມື້ອື່ນພວກເຮົາໄປກິນເຂົ້າຮ້ານເກົ່າບໍ່ ແມ່ບອກວ່າຈະມາຮັບຕອນແລງຫຼັງເລີກວຽກ",
        "km": "ថ្ងៃស្អែកយើងទៅញ៉ាំបាយនៅហាងចាស់ទេ ម្តាយប្រាប់ថានឹងមកយកពេលល្ងាចក្រោយចេញពីការងារ",
        "my": "မနက်ဖြန် ထမင်းသွားစားကြမလား အမေက ညနေ အလုပ်ဆင်းရင် လာကြိုမယ်တဲ့",
        "vi": "Mai mình đi ăn ở quán cũ nhé, mẹ bảo chiều tan làm sẽ qua đón con",
        "ms": "Esok kita makan tengah hari di kedai biasa, mak kata dia datang ambil lepas kerja",
    }[script]
    response = check(client, keys["operator"], text=everyday)
    assert response.json["verdict"] == "allow", response.json


def test_another_number_and_48h_for_24h_is_still_a_near_duplicate(client, keys):
    """The issue's case: a variant with another number, link and deadline warns, not allow."""
    list_values(
        client,
        keys,
        report(
            "DBS: your account is suspended. Verify within 24h at https://dbs-verify.xyz/a "
            "or call 8123 4567 to keep your card"
        ),
    )
    response = check(
        client,
        keys["operator"],
        text="DBS: your account is suspended. Verify within 48h at https://dbs-check.top/b "
        "or call 9876 5432 to keep your card",
    )
    assert response.json["verdict"] == "warn"
    [similar] = response.json["matches"]
    assert similar["match"] == "similar_template" and similar["similarity"] >= 0.26
