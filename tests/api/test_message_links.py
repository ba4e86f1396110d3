"""Links in SMS text as people write them, read through the message check (issue 15, point 7).

Each case lists the links a reader sees in the text, with verified regulator reports of kind
url, then checks the text: exactly those URLs match, and the template shows one <url> per link.
Texts without links keep their dotted words (abbreviations, times, addresses) in the template.
The texts imitate scam and everyday SMS of the region; every scam domain is invented.
"""

from __future__ import annotations

import pytest

from scamshare.normalise import normalise

from .test_messages import check, list_values, report

# (text, links a reader sees in it)
CASES = [
    # English (Singapore, Malaysia, the Philippines)
    (
        "SingPost: Your parcel is on hold due to an incomplete address. Update: "
        "singpost-redelivery.top/track",
        ["http://singpost-redelivery.top/track"],
    ),
    (
        "SingPost: parcel on hold. Update at http;//singpost-redelivery.top/track within 24h",
        ["http://singpost-redelivery.top/track"],
    ),
    (
        "Your DBS account is suspended. Login https//dbs-sg-secure.com/verify to restore it",
        ["https://dbs-sg-secure.com/verify"],
    ),
    ("Dear customer, verify your card at www.ocbc-verify.net now", ["www.ocbc-verify.net"]),
    (
        "info.www.example-promo.jimdo.com - claim your voucher today",
        ["www.example-promo.jimdo.com"],
    ),
    ("Claim your prize at HTTP://PRIZE-CLAIM.XYZ/WIN", ["HTTP://PRIZE-CLAIM.XYZ/WIN"]),
    (
        "Your package is held.Visit parcel-sg.top/p?id=88 to pay S$1.99",
        ["parcel-sg.top/p?id=88"],
    ),
    ("Reply STOP to opt out, e.g. STOP ALL. T&C apply.", []),
    ("Meet at Blk 123 Jurong West St.52 #01-01 at 3pm", []),
    ("Pls bring your NRIC/No.ID and passport tmr", []),
    ("Your OTP is 123456. Do not share it with anyone. -DBS", []),
    ("Click hxxps://gcash-rewards[.]top/claim to get P5,000", ["https://gcash-rewards.top/claim"]),
    ("GCash: You won P10,000! Claim via bit.ly/3xYzAbc before 11:59PM", ["bit.ly/3xYzAbc"]),
    ("Part-time job, earn RM300/day: t.me/kerja_sambilan_my", ["t.me/kerja_sambilan_my"]),
    ("WhatsApp us at wa.me/60123456789 for the loan approval", ["wa.me/60123456789"]),
    ("Mr.Tan will call you tmr. The Pte.Ltd documents are ready", []),
    ("ok.how are you? see you at 7.30pm", []),
    (
        "Update your details at maybank2u.com.my.secure-login.top/my within 24 hours",
        ["maybank2u.com.my.secure-login.top/my"],
    ),
    ("Visit http://203.0.113.7:8080/pay to avoid suspension", ["http://203.0.113.7:8080/pay"]),
    ("Contact support@dbs-help.com for help with your card", []),
    (
        "Your Shopee order is ready, track: shopee.sg.order-track.cc/x9",
        ["shopee.sg.order-track.cc/x9"],
    ),
    (
        "Two links: www.first-scam.top and second-scam.xyz/b, both fake",
        ["www.first-scam.top", "second-scam.xyz/b"],
    ),
    ("Your a.m. appointment at Dr.Lim's clinic is confirmed", []),
    ("U.S. tax refund pending, claim at irs-refund-gov.us/claim", ["irs-refund-gov.us/claim"]),
    ("Covid grant: http ://gov-sg-covid.com/grant", ["http://gov-sg-covid.com/grant"]),
    ("Claim at https:/grab-rewards.vip/r before midnight", ["https://grab-rewards.vip/r"]),
    ("Sign up now (www.promo-sg.shop).", ["www.promo-sg.shop"]),
    ("Call 8123 4567 or go to sgd-refund.com.", ["sgd-refund.com"]),
    ("sorry.my phone died, call you later", []),
    # Malay
    (
        "Tahniah! Anda menang RM5,000. Layari www.hadiah-raya.xyz sekarang",
        ["www.hadiah-raya.xyz"],
    ),
    (
        "Akaun Maybank anda telah disekat. Sila klik maybank-my.top/sah untuk pengesahan",
        ["maybank-my.top/sah"],
    ),
    ("Pos Malaysia: bungkusan anda tertahan. Bayar RM2.50 di pos-my.cc/bayar", ["pos-my.cc/bayar"]),
    ("Sila layari.www.bantuan-rahmah.com untuk semakan", ["www.bantuan-rahmah.com"]),
    ("Syarikat XYZ Sdn.Bhd. akan hubungi anda. Tel.No pejabat ada di surat", []),
    ("Jumpa di Jln.Ampang esok ok.la", []),
    (
        "Bantuan tunai: mohon di http://bantuan-online.site/daftar",
        ["http://bantuan-online.site/daftar"],
    ),
    # Indonesian
    (
        "Selamat! Anda dapat hadiah Rp50.000.000 dari BRI. Klaim di bri-hadiah.com/klaim",
        ["bri-hadiah.com/klaim"],
    ),
    ("Paket Anda tertahan. Cek resi di jne-tracking.info/resi/123", ["jne-tracking.info/resi/123"]),
    ("Kunjungi.bca-promo.top/undian untuk klaim hadiah", ["bca-promo.top/undian"]),
    ("Kantor kami di Jl.Sudirman No.5, Jakarta", []),
    ("Mohon siapkan KTP dan No.ID pelanggan Anda", []),
    ("Info lengkap promo: s.id/promo-bca", ["s.id/promo-bca"]),
    (
        "Tagihan PLN Anda belum dibayar, bayar di http://pln-tagihan.id/bayar",
        ["http://pln-tagihan.id/bayar"],
    ),
    ("Pinjaman cepat cair tanpa BI checking wa.me/6281234567890", ["wa.me/6281234567890"]),
    ("Situs resmi: www.tokopedia.com. Jangan percaya link lain", ["www.tokopedia.com"]),
    ("Harga Rp.50.000/bln, hubungi kami", []),
    # Thai
    (
        "คุณได้รับเงินคืน 5,000 บาท กดลิงก์ th-refund.top/claim ภายใน 24 ชม.",
        ["th-refund.top/claim"],
    ),
    (
        "พัสดุของคุณถูกกักไว้ กรุณาชำระค่าธรรมเนียมที่kerry-th.cc/payเพื่อรับพัสดุ",
        ["kerry-th.cc/pay"],
    ),
    (
        "บัญชีของท่านถูกระงับ โปรดยืนยันตัวตนที่ https://kbank-verify.com/login",
        ["https://kbank-verify.com/login"],
    ),
    ("ยินดีด้วย คุณได้รับรางวัล กดที่นี่www.lucky-draw-th.xyz", ["www.lucky-draw-th.xyz"]),
    ("ประชุมเวลา 10.30 น. ที่ห้อง 3", []),
    ("กยศ. แจ้งยอดค้างชำระ ดูรายละเอียดที่ bit.ly/kys-th", ["bit.ly/kys-th"]),
    # Vietnamese
    (
        "Tài khoản Vietcombank của quý khách bị khóa. Truy cập vcb-xacthuc.com để mở khóa",
        ["vcb-xacthuc.com"],
    ),
    (
        "Chúc mừng bạn trúng thưởng 10 triệu đồng, nhận tại http;//quatang-tet.xyz/nhan",
        ["http://quatang-tet.xyz/nhan"],
    ),
    (
        "Quý khách vui lòng cập nhật thông tin tại www.evn-hoadon.net.vn",
        ["www.evn-hoadon.net.vn"],
    ),
    ("Hẹn gặp lúc 9h30 tại số 12 đường Lê Lợi, TP.HCM", []),
    (
        "Đơn hàng của bạn đang chờ giao, xác nhận tại ghn-express.top/xn?ma=123",
        ["ghn-express.top/xn?ma=123"],
    ),
    # Tagalog
    (
        "Nanalo ka ng P50,000 sa GCash! I-claim sa gcash-promo.club/claim ngayon",
        ["gcash-promo.club/claim"],
    ),
    ("Ang iyong package ay naka-hold. Bayaran ang P150 sa lbc-ph.top/bayad", ["lbc-ph.top/bayad"]),
    (
        "Pindutin dito: http//bdo-verify.online/login para ma-verify",
        ["http://bdo-verify.online/login"],
    ),
    ("Magkita tayo sa St.Mary's Church, 5pm", []),
    ("Sumali sa trabaho online, kumita ng P2,000/araw: t.me/trabaho_ph", ["t.me/trabaho_ph"]),
    # Burmese
    (
        "သင်၏ KBZPay အကောင့်ကို ပိတ်ထားပါသည်။ kbzpay-verify.com/login တွင် အတည်ပြုပါ",
        ["kbzpay-verify.com/login"],
    ),
    ("ဆုငွေ ၅၀၀၀၀၀ ကျပ် ရရှိပါသည်။ www.mm-lucky.xyz သို့ ဝင်ပါ", ["www.mm-lucky.xyz"]),
    ("မနက်ဖြန် ၁၀ နာရီ တွေ့မယ်", []),
    # Khmer
    (
        "គណនី ABA របស់អ្នកត្រូវបានផ្អាក។ សូមចូល aba-verify.top/kh ដើម្បីបើកវិញ",
        ["aba-verify.top/kh"],
    ),
    ("អ្នកបានឈ្នះរង្វាន់ 1000$ ចុចទីនេះ https://wing-reward.xyz/win", ["https://wing-reward.xyz/win"]),
    ("ជួបគ្នានៅម៉ោង 9.30 ព្រឹក", []),
    # Lao
    (
        "ບັນຊີ BCEL One ຂອງທ່ານຖືກລະງັບ ກະລຸນາຢືນຢັນທີ່ bcel-verify.com/la",
        ["bcel-verify.com/la"],
    ),
    ("ທ່ານໄດ້ຮັບລາງວັນ ກົດທີ່ລິ້ງwww.lao-lucky.top", ["www.lao-lucky.top"]),
    ("ພົບກັນເວລາ 10.00 ໂມງ", []),
]


def test_the_table_is_large_and_covers_the_region():
    """At least 60 cases, links and no-link texts both well represented."""
    assert len(CASES) >= 60
    assert sum(1 for _, links in CASES if not links) >= 15


@pytest.mark.parametrize(("text", "links"), CASES, ids=[f"case{n:02d}" for n in range(len(CASES))])
def test_a_message_check_finds_the_links_a_reader_sees(client, keys, text, links):
    """Exactly the links in the text match their listed URLs; other dotted words stay words."""
    expected = {normalise("url", link).value for link in links}
    if links:
        list_values(client, keys, *(report(link, kind="url") for link in links))
    response = check(client, keys["operator"], text=text)
    assert response.status_code == 200, response.json
    found = {m["value"] for m in response.json["matches"] if m["kind"] == "url"}
    assert found == expected
    assert response.json["template"].count("<url>") == len(links)
    assert response.json["verdict"] == ("block" if links else "allow")
