"""Benchmark message checks: variants caught on a public SMS collection, and checks per second.

About 500 lines, most of them the phrase tables that generate plausible templates in six
languages; the split, the checks and the throughput run share one node setup.

    python bench/messages.py [--seeds 1,2,3] [--templates 100000] [--seconds 15]
    python bench/messages.py --sweep 1     # recall and ham per threshold on seed 1's split

1. Catching variants (issue 15, point 8). The UCI SMS Spam Collection in fixtures/ (747 spam,
   4,827 ham; spam stands for scam) is split per seed into a known and an unseen half of its
   spam. On a fresh node (SQLite, the Flask app in process, every request through the real API
   routes, authentication and schemas) a regulator reports each known spam message as a
   verified `message` report, which lists it (and the numbers and links extracted from it) as
   the node lists any regulator-verified report. An operator then checks every unseen spam and
   every ham message with POST /api/v1/messages/check. Printed per seed: recall on unseen spam
   (verdict block or warn), the false-match rate on ham (any verdict but allow), the share of
   caught spam caught only by similarity, and messages checked per second.

2. Checks per second (point 9). 100,000 listed message templates, generated from phrases of
   scam SMS in English, Malay, Indonesian, Tagalog, Vietnamese and Thai and normalised by the
   node's own code, are written with the bulk insert path (as bench/distribution.py does) with
   their LSH bands. The node is served by gunicorn with one worker and one client posts checks
   one after another (half variants of the generator, half ham from the collection), against a
   bare Flask endpoint served the same way in the same run, the two alternating, the best of
   two runs each. The last line is `ratio: X`.

Needs gunicorn (`pip install -e '.[bench]'`).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from http.client import HTTPConnection
from pathlib import Path
from types import SimpleNamespace

from distribution import Server  # bench/ is on sys.path when a script runs
from flask import Flask, jsonify, request
from machine import describe

ROOT = Path(__file__).resolve().parents[1]
COLLECTION = ROOT / "fixtures" / "sms-spam-collection-uci" / "SMSSpamCollection"
COUNTRY = "SG"
REPORT_BATCH = 500

bare_app = Flask("bare")  # the yardstick: a Flask JSON endpoint that checks nothing


@bare_app.post("/api/v1/messages/check")
def bare_check():
    """Answer like a message check without doing one."""
    body = request.get_json()
    return jsonify({"verdict": "allow", "fingerprint": "", "template": body["text"], "matches": []})


def collection() -> list[tuple[str, str]]:
    """The collection as (label, text) pairs."""
    lines = COLLECTION.read_text(encoding="utf-8").splitlines()
    return [tuple(line.split("\t", 1)) for line in lines]  # type: ignore[misc]


# --- a node in process --------------------------------------------------------------------------


def fresh_node(directory: Path):
    """A migrated SQLite node with a regulator and an operator; return app and both headers."""
    from scamshare import migrations
    from scamshare.app import create_app
    from scamshare.db import make_engine, transaction
    from scamshare.services import audit
    from scamshare.services import organisations as orgs

    url = f"sqlite:///{directory / 'node.db'}"
    engine = make_engine(url)
    migrations.upgrade(engine)
    engine.dispose()
    app = create_app(
        {"DATABASE_URL": url, "COUNTRY": COUNTRY, "LOG_REQUESTS": False, "DATA_DIR": str(directory)}
    )
    headers = {}
    with transaction(app) as session:
        for role in ("regulator", "operator"):
            org = orgs.create_organisation(
                session, audit.NODE, name=f"Bench {role}", role=role, country=COUNTRY
            )
            headers[role] = {
                "Authorization": f"Bearer {orgs.create_key(session, audit.NODE, org).key}"
            }
    return app, url, headers


def report(text: str, observed: datetime) -> dict:
    """A regulator's verified report of one scam message."""
    return {
        "kind": "message",
        "value": text,
        "category": "other",
        "channel": "sms",
        "observed_at": observed.isoformat(),
        "evidence_ref": "uci-sms-spam",
        "verified": True,
    }


def recall_run(seed: int, messages: list[tuple[str, str]]) -> dict:
    """One seed: list the known half of the spam, check the rest; return the figures."""
    spam = [text for label, text in messages if label == "spam"]
    ham = [text for label, text in messages if label == "ham"]
    random.Random(seed).shuffle(spam)
    known, unseen = spam[: len(spam) // 2], spam[len(spam) // 2 :]
    with tempfile.TemporaryDirectory(prefix="scamshare-bench-") as directory:
        app, _url, headers = fresh_node(Path(directory))
        client = app.test_client()
        observed = datetime.now(UTC) - timedelta(hours=1)
        for start in range(0, len(known), REPORT_BATCH):
            body = {"reports": [report(t, observed) for t in known[start : start + REPORT_BATCH]]}
            response = client.post("/api/v1/reports", json=body, headers=headers["regulator"])
            assert response.status_code == 200, response.json
            assert not response.json["rejected"], response.json["rejected"][:3]
        verdicts: dict[str, list[dict]] = {"spam": [], "ham": []}
        started = time.perf_counter()
        for label, texts in (("spam", unseen), ("ham", ham)):
            for text in texts:
                response = client.post(
                    "/api/v1/messages/check", json={"text": text}, headers=headers["operator"]
                )
                assert response.status_code == 200, response.json
                verdicts[label].append(response.json)
        elapsed = time.perf_counter() - started
        app.extensions["scamshare.engine"].dispose()
    caught = [v for v in verdicts["spam"] if v["verdict"] != "allow"]
    similar_only = [v for v in caught if {m["match"] for m in v["matches"]} == {"similar_template"}]
    false = [v for v in verdicts["ham"] if v["verdict"] != "allow"]
    return {
        "seed": seed,
        "known": len(known),
        "unseen": len(unseen),
        "recall": len(caught) / len(unseen),
        "similar_only": len(similar_only) / len(unseen),
        "ham": len(ham),
        "false_matches": len(false),
        "false_rate": len(false) / len(ham),
        "checks_per_s": (len(unseen) + len(ham)) / elapsed,
        "false_examples": [v["template"][:70] for v in false[:3]],
    }


def threshold_sweep(
    seed: int, messages: list[tuple[str, str]]
) -> list[tuple[int, float, float, int]]:
    """(minimum shingles, threshold, recall, ham matched) on one seed's split.

    What the node would answer with other settings, from its own normalisation: an unseen text
    is caught by an exact template or an extracted number or link of a known one, or by its best
    similarity to a known template when both have at least the minimum number of shingles. This
    is how SIMILARITY_THRESHOLD and MIN_SHINGLES were chosen, on seed 1 only.
    """
    import base64

    import numpy

    from scamshare.normalise import normalise
    from scamshare.normalise import signature as minhash

    spam = [text for label, text in messages if label == "spam"]
    random.Random(seed).shuffle(spam)
    known = [normalise("message", t, COUNTRY) for t in spam[: len(spam) // 2]]
    fingerprints = {n.value for n in known}
    contents = {(e["kind"], e["value"]) for n in known for e in n.facts["extracted"]}
    signed = [n for n in known if n.facts["signature"]]
    signatures = numpy.array(
        [numpy.frombuffer(base64.b64decode(n.facts["signature"]), dtype=">u4") for n in signed]
    )
    sizes = numpy.array([len(minhash.shingles(n.facts["template"])) for n in signed])

    def scores(text: str) -> tuple[float, int, numpy.ndarray]:
        """(2 for an exact match else 0, own size, similarity to each signed known template)."""
        normalised = normalise("message", text, COUNTRY)
        found = {(e["kind"], e["value"]) for e in normalised.facts["extracted"]}
        exact = 2.0 if normalised.value in fingerprints or found & contents else 0.0
        if not normalised.facts["signature"]:
            return exact, 0, numpy.zeros(len(signed))
        mine = numpy.frombuffer(base64.b64decode(normalised.facts["signature"]), dtype=">u4")
        size = len(minhash.shingles(normalised.facts["template"]))
        return exact, size, (signatures == mine).mean(axis=1)

    unseen = [scores(t) for t in spam[len(spam) // 2 :]]
    ham = [scores(t) for label, t in messages if label == "ham"]
    results = []
    for minimum in (6, 8, 10, 12):
        usable = sizes >= minimum

        def best(score: tuple[float, int, numpy.ndarray], usable=usable, minimum=minimum) -> float:
            """The best similarity allowed at this minimum, or 2 for an exact match."""
            exact, size, similar = score
            if exact or size < minimum or not usable.any():
                return exact
            return float(similar[usable].max())

        unseen_best = [best(score) for score in unseen]
        ham_best = [best(score) for score in ham]
        for step in range(16):
            threshold = round(0.20 + 0.01 * step, 2)
            recall = sum(u >= threshold for u in unseen_best) / len(unseen_best)
            results.append((minimum, threshold, recall, sum(h >= threshold for h in ham_best)))
    return results


# --- 100,000 listed templates -------------------------------------------------------------------

# Phrases of scam SMS per language; a template is one language's opener, subject, problem,
# campaign name and call to action, with its own link, number and amount.
PHRASES = {
    "en": {
        "openers": ["URGENT!", "Dear customer,", "Reminder:", "Final notice:", "Alert:", ""],
        "subjects": ["your account", "your card", "your parcel", "your loan application",
                     "your tax refund", "your reward points", "your SIM card", "your e-wallet"],
        "problems": ["is on hold", "has been suspended", "will expire today", "was approved",
                     "needs verification", "has unusual activity", "was charged twice"],
        "nouns": ["bonus", "voucher", "reward", "cashback", "rebate", "prize"],
        "actions": ["Pay {amount} at {url}", "Verify at {url}", "Call {phone} now",
                    "Login at {url} within 24h", "Update your details at {url}",
                    "Claim {amount} at {url}"],
        "tails": ["to avoid suspension.", "before midnight.", "T&C apply.", "Ignore if done.", ""],
    },
    "ms": {
        "openers": ["Tahniah!", "Pelanggan yang dihormati,", "Perhatian:", "Notis akhir:", ""],
        "subjects": ["akaun anda", "kad anda", "bungkusan anda", "pinjaman anda",
                     "bayaran balik cukai anda", "mata ganjaran anda"],
        "problems": ["telah disekat", "akan tamat tempoh hari ini", "sedang ditahan",
                     "telah diluluskan", "perlu disahkan"],
        "nouns": ["baucar", "ganjaran", "bonus", "hadiah", "rebat"],
        "actions": ["Sila klik {url} sekarang", "Bayar {amount} di {url}", "Hubungi {phone} segera",
                    "Tuntut {amount} di {url}", "Kemas kini maklumat di {url}"],
        "tails": ["untuk mengelakkan penggantungan.", "dalam masa 24 jam.", "Terima kasih.", ""],
    },
    "id": {
        "openers": ["Selamat!", "Pelanggan Yth,", "Pemberitahuan:", "Penting:", ""],
        "subjects": ["rekening Anda", "paket Anda", "kartu kredit Anda", "pinjaman Anda",
                     "poin hadiah Anda"],
        "problems": ["telah diblokir", "tertahan di gudang", "akan kedaluwarsa hari ini",
                     "telah disetujui", "perlu verifikasi"],
        "nouns": ["hadiah", "bonus", "voucher", "cashback", "undian"],
        "actions": ["Klaim di {url}", "Cek di {url}", "Hubungi {phone} sekarang",
                    "Bayar {amount} di {url}", "Verifikasi di {url}"],
        "tails": ["sebelum jam 12 malam.", "Abaikan jika sudah.", "Terima kasih.", ""],
    },
    "tl": {
        "openers": ["Paalala:", "Binabati kita!", "Mahalagang abiso:", ""],
        "subjects": ["ang iyong account", "ang iyong padala", "ang iyong GCash wallet",
                     "ang iyong loan"],
        "problems": ["ay na-suspend", "ay naka-hold", "ay mag-e-expire ngayon", "ay naaprubahan"],
        "nouns": ["premyo", "bonus", "ayuda", "cashback"],
        "actions": ["I-claim sa {url}", "Bayaran ang {amount} sa {url}", "Tumawag sa {phone}",
                    "Mag-login sa {url}"],
        "tails": ["ngayon din.", "Salamat.", "bago mag-hatinggabi.", ""],
    },
    "vi": {
        "openers": ["Kính gửi quý khách,", "Thông báo:", "Chúc mừng!", ""],
        "subjects": ["tài khoản của quý khách", "đơn hàng của bạn", "thẻ tín dụng của bạn",
                     "khoản vay của bạn"],
        "problems": ["đã bị khóa", "đang chờ xác nhận", "sẽ hết hạn hôm nay", "đã được duyệt"],
        "nouns": ["phần thưởng", "quà tặng", "ưu đãi", "tiền hoàn"],
        "actions": ["Truy cập {url} để xác nhận", "Nhận {amount} tại {url}", "Gọi {phone} ngay",
                    "Thanh toán {amount} tại {url}"],
        "tails": ["trong hôm nay.", "Xin cảm ơn.", ""],
    },
    "th": {
        "openers": ["เรียนลูกค้า", "ด่วน!", "แจ้งเตือน", ""],
        "subjects": ["บัญชีของท่าน", "พัสดุของคุณ", "บัตรเครดิตของคุณ", "สินเชื่อของคุณ"],
        "problems": ["ถูกระงับ", "ถูกกักไว้", "จะหมดอายุวันนี้", "ได้รับการอนุมัติ"],
        "nouns": ["รางวัล", "เงินคืน", "โบนัส", "คูปอง"],
        "actions": ["กดลิงก์ {url}", "ชำระ {amount} ที่ {url}", "โทร {phone} ทันที",
                    "ยืนยันตัวตนที่ {url}"],
        "tails": ["ภายในวันนี้", "ขอบคุณค่ะ", ""],
    },
}  # fmt: skip
BRANDS = [
    "DBS", "OCBC", "UOB", "POSB", "Maybank", "CIMB", "Public Bank", "RHB", "BCA", "BRI",
    "Mandiri", "BDO", "BPI", "GCash", "Maya", "Vietcombank", "Techcombank", "MoMo", "KBank",
    "SCB", "Krungthai", "Shopee", "Lazada", "Tokopedia", "Grab", "Singtel", "Celcom", "Digi",
    "Globe", "Smart", "Viettel", "AIS", "TrueMove", "IRAS", "LHDN", "SSS", "EVN", "PLN",
]  # fmt: skip
WORDS = [
    "secure", "verify", "pay", "parcel", "claim", "bonus", "refund", "promo", "login", "track",
    "gift", "reward", "update", "help", "post", "bank", "lucky", "cash", "loan", "tax",
]  # fmt: skip
TLDS = ["com", "net", "xyz", "top", "shop", "info", "online", "site", "vip", "cc", "club"]
SYLLABLES = [
    "ka", "ri", "mo", "su", "na", "te", "lo", "pi", "ba", "de", "ku", "sa", "vi", "ro", "ma",
    "ti", "ga", "ne", "po", "la", "zu", "ha", "me", "do", "ya", "chi", "fu", "go", "wa", "xi",
]  # fmt: skip
# Campaign words: the product, promotion or scheme names that set one campaign's texts apart
# from another's ("Raya Ceria bonus", "MegaSaver voucher"), 27,000 of them.
CAMPAIGN_WORDS = [a + b + c for a in SYLLABLES for b in SYLLABLES for c in SYLLABLES]


def scam_text(rng: random.Random) -> str:
    """One plausible scam SMS in one language, with its own campaign, link, number and amount."""
    phrases = PHRASES[rng.choice(list(PHRASES))]
    brand = rng.choice(BRANDS)
    link = (
        f"https://{brand.lower().replace(' ', '')}-{rng.choice(WORDS)}"
        f"{rng.randrange(10**4)}.{rng.choice(TLDS)}/{rng.choice(WORDS)}"
    )
    action = rng.choice(phrases["actions"]).format(
        url=link, phone=f"+65 8{rng.randrange(10**7):07d}", amount=f"${rng.randrange(2, 900)}.00"
    )
    campaign = " ".join(rng.sample(CAMPAIGN_WORDS, 4))
    parts = [
        rng.choice(phrases["openers"]),
        f"{brand}: {rng.choice(phrases['subjects'])} {rng.choice(phrases['problems'])}.",
        f"{campaign.capitalize()} {rng.choice(phrases['nouns'])} "
        f"{' '.join(rng.sample(CAMPAIGN_WORDS, 2))}.",
        action,
        rng.choice(phrases["tails"]),
    ]
    return " ".join(part for part in parts if part)


def template_rows(count: int, seed: int) -> tuple[list[dict], list[list[str]]]:
    """Listed message indicators of distinct generated templates, and each one's bands."""
    from scamshare.indicators import render, rules
    from scamshare.normalise import normalise

    rng = random.Random(seed)
    now = datetime.now(UTC)
    rows, bands, seen = [], [], set()
    while len(rows) < count:
        normalised = normalise("message", scam_text(rng), COUNTRY)
        if normalised.value in seen:
            continue
        seen.add(normalised.value)
        facts = {k: v for k, v in normalised.facts.items() if k not in ("bands", "extracted")} | {
            "listable": True
        }
        first = now - timedelta(days=rng.uniform(1, 20))
        row = {
            "kind": "message",
            "value": normalised.value,
            "status": "listed",
            "risk": "high",
            "report_count": 1,
            "org_count": 1,
            "country_count": 1,
            "verified_count": 1,
            "spoofed_count": 0,
            "category_counts": {"other": 1},
            "categories": "other",
            "channel_counts": {"sms": 1},
            "first_reported_at": first,
            "last_reported_at": first,
            "last_verified_at": first,
            "listed_at": first,
            "expires_at": first + timedelta(days=30),
            "sequence": len(rows) + 1,
            "exported": True,
            "facts": facts,
            "created_at": first,
            "updated_at": first,
        }
        view = rules.merged_view(
            SimpleNamespace(**row, removal_reason=None, foreign=[]), COUNTRY, {}
        )
        row.update(render.stored(view))
        rows.append(row)
        bands.append(normalised.facts["bands"])
    return rows, bands


def load_templates(url: str, count: int) -> float:
    """Write `count` listed templates and their bands with bulk inserts; return seconds."""
    from sqlalchemy import insert, select, update

    from scamshare.db import make_engine
    from scamshare.models import Counter, Indicator, MessageBand

    started = time.perf_counter()
    rows, bands = template_rows(count, seed=11)
    engine = make_engine(url)
    chunk = 10_000
    for offset in range(0, count, chunk):
        part = rows[offset : offset + chunk]
        with engine.begin() as connection:
            connection.execute(insert(Indicator.__table__), part)
            ids = dict(
                connection.execute(
                    select(Indicator.value, Indicator.id).where(
                        Indicator.value.in_([r["value"] for r in part])
                    )
                ).all()
            )
            band_rows = [
                {"indicator_id": ids[row["value"]], "band": band}
                for row, keys in zip(part, bands[offset : offset + chunk], strict=True)
                for band in keys
            ]
            connection.execute(insert(MessageBand.__table__), band_rows)
    with engine.begin() as connection:
        connection.execute(update(Counter).where(Counter.name == "sequence").values(value=count))
        connection.exec_driver_sql("ANALYZE")  # what a node's periodic ANALYZE would have done
    engine.dispose()
    return time.perf_counter() - started


def post_checks(port: int, bodies: list[bytes], headers: dict, seconds: float) -> tuple[float, int]:
    """One client posting checks one after another; return checks per second and errors."""
    headers = {**headers, "Content-Type": "application/json"}
    warmup_end = time.monotonic() + 1.0
    end = warmup_end + seconds
    done = errors = index = 0
    started = None
    while True:
        now = time.monotonic()
        if now >= end:
            break
        if started is None and now >= warmup_end:
            started, done = time.perf_counter(), 0
        connection = HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            connection.request(
                "POST", "/api/v1/messages/check", bodies[index % len(bodies)], headers
            )
            response = connection.getresponse()
            response.read()
            errors += response.status != 200
        except OSError:
            errors += 1
        finally:
            connection.close()
        index += 1
        done += 1
    return done / (time.perf_counter() - started), errors


def throughput_run(count: int, seconds: float, ham: list[str]) -> dict:
    """Checks per second against `count` listed templates, and a bare endpoint's."""
    with tempfile.TemporaryDirectory(prefix="scamshare-bench-") as directory:
        app, url, headers = fresh_node(Path(directory))
        app.extensions["scamshare.engine"].dispose()
        load_seconds = load_templates(url, count)
        print(f"loaded {count:,} listed templates with their bands in {load_seconds:.0f} s")
        rng = random.Random(99)
        texts = [scam_text(rng) for _ in range(2000)] + rng.sample(ham, 2000)
        rng.shuffle(texts)
        bodies = [json.dumps({"text": text}).encode() for text in texts]
        environment = {
            "SCAMSHARE_DATABASE_URL": url,
            "SCAMSHARE_COUNTRY": COUNTRY,
            "SCAMSHARE_LOG_REQUESTS": "false",
            "SCAMSHARE_DATA_DIR": directory,
        }
        node_rates, bare_rates, errors = [], [], 0
        node = Server("wsgi:app", 1, environment, ROOT)
        bare = Server("messages:bare_app", 1, environment, ROOT / "bench")
        try:
            for _ in range(2):  # alternate, so that neither side alone enjoys a quiet machine
                rate, failed = post_checks(node.port, bodies, headers["operator"], seconds)
                node_rates.append(rate)
                errors += failed
                bare_rates.append(post_checks(bare.port, bodies, {}, seconds)[0])
        finally:
            node.stop()
            bare.stop()
    return {"node": max(node_rates), "bare": max(bare_rates), "errors": errors}


def main() -> None:
    """Run both parts and print their figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="1,2,3", help="seeds of the known/unseen splits")
    parser.add_argument("--templates", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument(
        "--sweep", type=int, metavar="SEED", help="only print recall and ham per threshold"
    )
    arguments = parser.parse_args()
    print(describe())
    messages = collection()
    if arguments.sweep is not None:
        for minimum, threshold, recall, ham in threshold_sweep(arguments.sweep, messages):
            print(
                f"seed {arguments.sweep} min_shingles {minimum} threshold {threshold:.2f}: "
                f"recall {recall:.1%}, ham {ham}"
            )
        return
    print(
        f"collection: {sum(label == 'spam' for label, _ in messages)} spam, "
        f"{sum(label == 'ham' for label, _ in messages)} ham"
    )
    worst_recall, worst_false = 1.0, 0.0
    for seed in (int(s) for s in arguments.seeds.split(",")):
        figures = recall_run(seed, messages)
        worst_recall = min(worst_recall, figures["recall"])
        worst_false = max(worst_false, figures["false_rate"])
        print(
            f"seed {seed}: {figures['known']} known, {figures['unseen']} unseen spam: recall "
            f"{figures['recall']:.1%} ({figures['similar_only']:.1%} by similarity alone); "
            f"ham matched {figures['false_matches']}/{figures['ham']} = {figures['false_rate']:.2%}"
            f"; {figures['checks_per_s']:.0f} checks/s (in process)"
        )
        for example in figures["false_examples"]:
            print(f"    ham matched: {example!r}")
    print(
        f"worst seed: recall {worst_recall:.1%} (target 65%), ham {worst_false:.2%} (target 0.2%)"
    )
    ham = [text for label, text in messages if label == "ham"]
    figures = throughput_run(arguments.templates, arguments.seconds, ham)
    print(
        f"{arguments.templates:,} listed templates, one client, gunicorn one worker: "
        f"{figures['node']:.0f} checks/s (target 200), errors {figures['errors']}; "
        f"bare Flask endpoint {figures['bare']:.0f}/s"
    )
    print(f"ratio: {figures['node'] / figures['bare']:.3f}")


if __name__ == "__main__":
    sys.exit(main())
