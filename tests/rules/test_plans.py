"""Plans: the seed plan loads into the database as the article describes it, reloads without changes,
edits update in place, and a broken file names its problem and changes nothing."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import pytest
import yaml
from sqlalchemy import select

from rules.plans import (
    SEED_PLAN,
    SeatPoolSpec,
    apply_plan,
    load_plan,
    load_plan_file,
    pool_seats,
    shift_plan_dates,
)
from rules.refdata import DataFileError
from storage.db import Database
from storage.models import (
    BalanceTarget,
    Base,
    Campaign,
    Conference,
    Invitation,
    OrgUnit,
    SeatPool,
    UnitAllowance,
)

ICT = dt.timezone(dt.timedelta(hours=7))
SEED_DATA = yaml.safe_load(SEED_PLAN.read_text(encoding="utf-8"))


def write_plan(tmp_path: Path, change: Callable[[dict[str, Any]], None], name: str = "plan.yaml") -> Path:
    """A copy of the seed plan with ``change`` applied, written to ``tmp_path``."""
    data = copy.deepcopy(SEED_DATA)
    change(data)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


async def snapshot(database: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in primary-key order."""
    async with database.transaction() as session:
        return {
            table.name: [
                tuple(row) for row in await session.execute(select(table).order_by(*table.primary_key.columns))
            ]
            for table in Base.metadata.sorted_tables
        }


async def conference(database: Database, code: str) -> Conference:
    async with database.transaction() as session:
        row = await session.scalar(select(Conference).where(Conference.code == code))
        assert row is not None
        return row


async def pools(database: Database, code: str) -> dict[str, tuple[float, str, int | None]]:
    async with database.transaction() as session:
        rows = await session.scalars(
            select(SeatPool).join(Conference).where(Conference.code == code).order_by(SeatPool.id)
        )
        return {row.code: (row.share, row.share_rule, row.seats) for row in rows}


# --- seats ---------------------------------------------------------------------------------------------


def pool(code: str, share: float, rule: Literal["min", "max"]) -> SeatPoolSpec:
    return SeatPoolSpec(code=code, title=code, share=share, share_rule=rule)


def test_pool_seats_round_the_ceiling_down_and_give_the_rest_to_the_floor() -> None:
    seventy_thirty = [pool("exemplar", 0.70, "min"), pool("guest_leader", 0.30, "max")]

    assert pool_seats(300, seventy_thirty) == {"exemplar": 210, "guest_leader": 90}
    assert pool_seats(301, seventy_thirty) == {"exemplar": 211, "guest_leader": 90}
    assert pool_seats(7, seventy_thirty) == {"exemplar": 5, "guest_leader": 2}
    assert pool_seats(None, seventy_thirty) == {"exemplar": None, "guest_leader": None}


def test_pool_seats_share_the_rest_between_several_floors() -> None:
    three = [pool("a", 0.35, "min"), pool("b", 0.35, "min"), pool("c", 0.30, "max")]

    seats = pool_seats(10, three)

    assert seats == {"a": 4, "b": 3, "c": 3}
    assert sum(s or 0 for s in seats.values()) == 10


# --- the seed plan -------------------------------------------------------------------------------------


def test_the_seed_plan_is_valid_and_says_what_the_article_says() -> None:
    plan = load_plan_file(SEED_PLAN)

    assert plan.code == "tay-ho-2020" and plan.code_prefix == "DH"
    assert plan.sha256 == hashlib.sha256(SEED_PLAN.read_bytes()).hexdigest()
    assert [c.code for c in plan.conferences] == ["grassroots", "district"]
    grassroots, district = plan.conferences
    assert grassroots.title == "Hội nghị tuyên dương điển hình tiên tiến, người tốt - việc tốt"
    assert grassroots.duration_minutes == district.duration_minutes == 240
    assert grassroots.capacity is None
    assert district.title == "Hội nghị Điển hình tiên tiến" and district.capacity == 300
    assert district.starts_at is None
    assert {"doanh_nghiep_hoi_nhap", "vi_nguoi_ngheo", "nong_thon_moi", "van_hoa_cong_so"} <= set(plan.movements)
    assert "15/2003/QH11" in plan.legal_basis.texts[0] and "91/2017/NĐ-CP" in plan.legal_basis.texts[1]
    assert (plan.youth.min_age, plan.youth.max_age) == (16, 30)
    wards = [unit for unit in plan.units if unit.kind == "ward"]
    assert sorted(unit.code for unit in wards) == [
        "buoi",
        "nhat_tan",
        "phu_thuong",
        "quang_an",
        "thuy_khue",
        "tu_lien",
        "xuan_la",
        "yen_phu",
    ]


async def test_the_seed_plan_loads_into_a_fresh_database(database: Database) -> None:
    summary = await load_plan(database, SEED_PLAN)

    assert summary.created and summary.changed
    assert [(c.code, c.capacity, c.pool_seats) for c in summary.conferences] == [
        ("grassroots", None, (("exemplar", None), ("guest_leader", None))),
        ("district", 300, (("exemplar", 210), ("guest_leader", 90))),
    ]
    assert summary.units == summary.units_created == 40
    # The pools by the titles the plan gives them, not by their codes.
    assert "district: capacity 300; Đại biểu điển hình tiên tiến 210 seats, Đại biểu khách mời" in str(summary)

    grassroots = await conference(database, "grassroots")
    assert grassroots.level == "grassroots" and grassroots.capacity is None
    assert grassroots.window_end == dt.datetime(2020, 3, 14, 23, 59, 59, tzinfo=ICT)
    assert grassroots.window_end.astimezone(ICT).date() == dt.date(2020, 3, 14)  # "trước 15/3/2020"
    assert grassroots.nomination_deadline == dt.datetime(2020, 2, 29, 17, tzinfo=ICT)
    assert await pools(database, "grassroots") == {
        "exemplar": (0.7, "min", None),
        "guest_leader": (0.3, "max", None),
    }

    district = await conference(database, "district")
    assert district.level == "district" and district.capacity == 300 and district.duration_minutes == 240
    assert district.window_start == dt.datetime(2020, 4, 1, tzinfo=ICT)  # Quý II/2020
    assert district.window_end == dt.datetime(2020, 6, 30, 23, 59, 59, tzinfo=ICT)
    assert district.starts_at is None
    assert district.nomination_deadline == dt.datetime(2020, 5, 15, 17, tzinfo=ICT)
    assert district.rsvp_deadline == dt.datetime(2020, 6, 10, 17, tzinfo=ICT)
    assert await pools(database, "district") == {
        "exemplar": (0.7, "min", 210),
        "guest_leader": (0.3, "max", 90),
    }

    async with database.transaction() as session:
        campaign = await session.scalar(select(Campaign))
        assert campaign is not None
        assert campaign.code == "tay-ho-2020" and campaign.plan_version == "2020.1"
        assert campaign.plan_sha256 == hashlib.sha256(SEED_PLAN.read_bytes()).hexdigest()
        assert "91/2017/NĐ-CP" in (campaign.legal_basis or "")
        assert "nong_thon_moi" in campaign.movements

        targets = {
            (t.dimension, t.value): t.target_share
            for t in await session.scalars(select(BalanceTarget).where(BalanceTarget.conference_id == district.id))
        }
        assert targets[("women", "")] == 0.3
        assert targets[("youth", "")] == 0.15
        assert targets[("direct_producer", "")] == 0.3
        assert targets[("religion", "")] is None  # report only
        assert targets[("occupation_group", "nong_dan")] is None

        district_unit = await session.scalar(select(OrgUnit).where(OrgUnit.code == "quan_tay_ho"))
        assert district_unit is not None and district_unit.kind == "district"
        wards = list(await session.scalars(select(OrgUnit).where(OrgUnit.kind == "ward")))
        assert len(wards) == 8
        assert all(w.parent_id == district_unit.id and w.valid_to == dt.date(2025, 6, 30) for w in wards)
        thuy_khue = next(w for w in wards if w.code == "thuy_khue")
        assert thuy_khue.name == "Phường Thụy Khuê" and thuy_khue.name_fold == "phuong thuy khue"

        buoi_allowance = await session.scalar(
            select(UnitAllowance)
            .join(OrgUnit)
            .where(OrgUnit.code == "buoi", UnitAllowance.conference_id == district.id)
        )
        assert buoi_allowance is not None
        assert (buoi_allowance.nominations, buoi_allowance.expected_nominations) == (10, 5)


async def test_loading_the_same_plan_twice_changes_nothing(database: Database) -> None:
    await load_plan(database, SEED_PLAN)
    before = await snapshot(database)

    summary = await load_plan(database, SEED_PLAN)

    assert not summary.changed
    assert "unchanged" in str(summary)
    assert await snapshot(database) == before  # same rows, same updated_at


async def test_an_edited_plan_updates_the_same_rows(database: Database, tmp_path: Path) -> None:
    await load_plan(database, SEED_PLAN)
    district_before = await conference(database, "district")
    before = await snapshot(database)

    def edit(data: dict[str, Any]) -> None:
        data["version"] = "2020.2"
        data["conferences"][1]["capacity"] = 250
        data["conferences"][1]["balance_targets"] = [
            t for t in data["conferences"][1]["balance_targets"] if t["dimension"] != "religion"
        ]
        data["units"][1]["name"] = "Phường Bưởi (Tây Hồ)"

    summary = await load_plan(database, write_plan(tmp_path, edit))

    assert summary.changed and not summary.created
    assert summary.units_updated == 1 and summary.units_created == 0
    assert summary.removed == ("conference district: balance target religion",)
    district = await conference(database, "district")
    assert district.id == district_before.id and district.capacity == 250
    assert await pools(database, "district") == {
        "exemplar": (0.7, "min", 175),
        "guest_leader": (0.3, "max", 75),
    }
    after = await snapshot(database)
    assert len(after["org_unit"]) == len(before["org_unit"])
    assert len(after["conference"]) == len(before["conference"])
    assert len(after["balance_target"]) == len(before["balance_target"]) - 1
    async with database.transaction() as session:
        campaign = await session.scalar(select(Campaign))
        assert campaign is not None and campaign.plan_version == "2020.2"
        assert campaign.plan_sha256 != hashlib.sha256(SEED_PLAN.read_bytes()).hexdigest()


# --- broken plans --------------------------------------------------------------------------------------


def set_in(path: tuple[Any, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        target = data
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value

    return change


BROKEN_PLANS = [
    pytest.param(
        set_in(("conferences", 1, "capacity"), "ba trăm"),
        "conferences[1].capacity: expected a whole number from 1 to 1000000",
        id="capacity-in-words",
    ),
    pytest.param(
        set_in(("conferences", 1, "pools", 0, "share"), 0.9),
        "conferences[1].pools: expected shares that add up to 1 (these add up to 1.2)",
        id="shares-add-up-to-1.2",
    ),
    pytest.param(
        set_in(("units", 1, "parent"), "quan_ba_dinh"),
        "units[1].parent: expected the code of a unit in this file (there is no 'quan_ba_dinh')",
        id="unknown-parent",
    ),
    pytest.param(
        set_in(("movements", 0), "phong_trao_ma"),
        "movements[0]: expected a movement code from data/reference/movements.yaml (there is no 'phong_trao_ma')",
        id="unknown-movement",
    ),
    pytest.param(
        set_in(("units", 1, "allowances"), {"city": {"nominations": 3}}),
        "units[1].allowances.city: expected a conference code of this plan (grassroots, district)",
        id="allowance-for-unknown-conference",
    ),
    pytest.param(
        set_in(("conferences", 1, "nomination_deadline"), "2020-07-01T17:00:00+07:00"),
        "conferences[1].nomination_deadline: expected a time before window_end (2020-06-30 23:59:59+07:00)",
        id="deadline-after-window",
    ),
    pytest.param(
        set_in(("conferences", 0, "window_end"), "2020-03-14T23:59:59"),
        "conferences[0].window_end: expected a date and time with its UTC offset, e.g. 2020-03-14T23:59:59+07:00",
        id="time-without-offset",
    ),
    pytest.param(
        set_in(("conferences", 1, "balance_targets", 4, "value"), "thien_chua"),
        "conferences[1].balance_targets[4].value: expected a code from data/reference/religions.yaml"
        " (there is no 'thien_chua')",
        id="unknown-religion",
    ),
    pytest.param(
        set_in(("conferences", 1, "balance_targets", 0, "report_only"), True),
        "conferences[1].balance_targets[0]: expected either target_share or report_only: true, not both",
        id="target-and-report-only",
    ),
    pytest.param(
        set_in(("conferences", 1, "pools", 1, "share_rule"), "at_most"),
        "conferences[1].pools[1].share_rule: expected one of 'min' or 'max'",
        id="unknown-share-rule",
    ),
    pytest.param(
        set_in(("units", 0, "parent"), "buoi"),
        "units[0].parent: expected a parent that is not the unit itself or one of its descendants",
        id="parent-cycle",
    ),
    pytest.param(
        set_in(("conferences", 1, "capcity"), 300),
        "conferences[1].capcity: expected no field of this name (check the spelling)",
        id="misspelt-field",
    ),
]


@pytest.mark.parametrize(("change", "problem"), BROKEN_PLANS)
def test_a_broken_plan_names_the_file_the_field_and_what_was_expected(
    tmp_path: Path, change: Callable[[dict[str, Any]], None], problem: str
) -> None:
    path = write_plan(tmp_path, change, name="bad.yaml")

    with pytest.raises(DataFileError) as caught:
        load_plan_file(path)

    assert str(caught.value) == f"{path}: {problem}"


def test_an_unchanged_copy_of_the_seed_plan_is_valid(tmp_path: Path) -> None:
    plan = load_plan_file(write_plan(tmp_path, lambda data: None))

    assert plan.conference("district").capacity == 300


@pytest.mark.parametrize(("change", "problem"), BROKEN_PLANS[:4])
async def test_a_broken_plan_after_a_good_one_changes_nothing(
    database: Database, tmp_path: Path, change: Callable[[dict[str, Any]], None], problem: str
) -> None:
    await load_plan(database, SEED_PLAN)
    before = await snapshot(database)

    def edit_and_break(data: dict[str, Any]) -> None:
        data["title"] = "Kế hoạch đã sửa"  # a valid edit that must not land either
        change(data)

    with pytest.raises(DataFileError, match=re.escape(problem)):
        await load_plan(database, write_plan(tmp_path, edit_and_break))

    assert await snapshot(database) == before


# --- broken files, as typed by an editor ---------------------------------------------------------------
# These edit the seed plan's text, not its parsed data: what matters is how YAML reads what was typed
# (an unquoted date is a YAML timestamp; a repeated key never reaches a dict).

SEED_TEXT = SEED_PLAN.read_text(encoding="utf-8")
GRASSROOTS_DEADLINE = "nomination_deadline: 2020-02-29T17:00:00+07:00"
CAPACITY = "capacity: 300"


def write_text_plan(tmp_path: Path, old: str, new: str, name: str = "typed.yaml") -> Path:
    """The seed plan's text with the first ``old`` replaced by ``new``."""
    assert old in SEED_TEXT
    path = tmp_path / name
    path.write_text(SEED_TEXT.replace(old, new, 1), encoding="utf-8")
    return path


BROKEN_TEXTS = [
    pytest.param(
        GRASSROOTS_DEADLINE,
        "nomination_deadline: 2027-02-29T17:00:00+07:00",
        "conferences[0].nomination_deadline: expected a date and time that exists"
        " (2027-02-29T17:00:00+07:00: day is out of range for month)",
        id="29-february-of-a-common-year",
    ),
    pytest.param(
        GRASSROOTS_DEADLINE,
        "nomination_deadline: 2020-02-29T25:00:00+07:00",
        "conferences[0].nomination_deadline: expected a date and time that exists"
        " (2020-02-29T25:00:00+07:00: hour must be in 0..23)",
        id="hour-25",
    ),
    pytest.param(
        GRASSROOTS_DEADLINE,
        "nomination_deadline: 2020-02-29T17:00:00+25:00",
        "conferences[0].nomination_deadline: expected a date and time that exists"
        " (2020-02-29T17:00:00+25:00: the UTC offset must be under 24 hours)",
        id="offset-of-25-hours",
    ),
    pytest.param(
        GRASSROOTS_DEADLINE,
        "nomination_deadline: 0001-01-01T00:00:00+07:00",
        "conferences[0].nomination_deadline: expected a date and time between the years 1900 and 2999",
        id="year-1",
    ),
    pytest.param(
        GRASSROOTS_DEADLINE,
        "nomination_deadline: !!timestamp 2027-02-29",
        "conferences[0].nomination_deadline: expected a date and time that exists"
        " (2027-02-29: day is out of range for month)",
        id="tagged-impossible-timestamp",
    ),
    pytest.param(
        "valid_from: 1995-10-28",
        "valid_from: 1995-02-30",
        "units[0].valid_from: expected a date that exists (1995-02-30: day is out of range for month)",
        id="30-february",
    ),
    pytest.param(
        "valid_from: 1995-10-28",
        "valid_from: 1995-13-01",
        "units[0].valid_from: expected a date that exists (1995-13-01: month must be in 1..12)",
        id="month-13",
    ),
    pytest.param(
        CAPACITY,
        "capacity: " + "9" * 5000,
        "conferences[1].capacity: expected a whole number from 1 to 1000000",
        id="number-of-5000-digits",
    ),
    pytest.param(
        CAPACITY,
        "capacity: 99999999999999999999",
        "conferences[1].capacity: expected a whole number from 1 to 1000000",
        id="number-beyond-64-bits",
    ),
    pytest.param(
        CAPACITY,
        "capacity: 300.5",
        "conferences[1].capacity: expected a whole number from 1 to 1000000",
        id="fraction",
    ),
    pytest.param(
        CAPACITY,
        "capacity: .inf",
        "conferences[1].capacity: expected a whole number from 1 to 1000000",
        id="infinity",
    ),
    pytest.param(
        CAPACITY,
        "capacity: yes",
        "conferences[1].capacity: expected a whole number from 1 to 1000000",
        id="yes",
    ),
    pytest.param(
        CAPACITY,
        "capacity: !!int ba-tram",
        "conferences[1].capacity: expected a whole number from 1 to 1000000",
        id="tagged-int-that-is-not",
    ),
    pytest.param(
        "share: 0.70",
        "share: 0.7000001",
        "conferences[0].pools[0].share: expected a share above 0 and at most 1 with up to 4 decimals, e.g. 0.30",
        id="share-with-7-decimals",
    ),
    pytest.param(
        'version: "2020.1"',
        "version: 2020.1",
        'version: expected a version of up to 32 characters written as quoted text, e.g. "2020.1"',
        id="unquoted-version",
    ),
    pytest.param(
        "title: Hội nghị Điển hình tiên tiến",
        "title: " + "Hội nghị " * 30,
        "conferences[1].title: expected at most 255 characters (this has 269)",
        id="title-too-long-for-its-column",
    ),
    pytest.param(
        "code: guest_leader",
        "code: " + "guest_leader" * 3,
        "conferences[0].pools[1].code: expected an ascii snake_case code of up to 32 characters such as exemplar",
        id="pool-code-too-long-for-its-column",
    ),
    pytest.param(
        CAPACITY,
        "capacity: !!python/object/apply:os.system [echo]",
        "conferences[1].capacity: expected a plain value, without the tag !!python/object/apply:os.system",
        id="python-tag",
    ),
    pytest.param(
        CAPACITY,
        f"{CAPACITY}\n    capacity: 250",
        "conferences[1].capacity: expected each key once in a mapping ('capacity' is given twice, first on line 110)",
        id="key-twice",
    ),
    pytest.param(
        "{ code: buoi, name: Phường Bưởi,",
        "{ code: buoi, code: nhat_tan, name: Phường Bưởi,",
        "units[1].code: expected each key once in a mapping ('code' is given twice, first on line 177)",
        id="key-twice-on-one-line",
    ),
    pytest.param(
        CAPACITY,
        "? [300]\n    : 300",
        "conferences[1].[key]: expected valid YAML (found unhashable key)",
        id="list-as-key",
    ),
    pytest.param(
        CAPACITY,
        "300: capacity",
        "conferences[1][300]: expected field names written as text",
        id="number-as-key",
    ),
    pytest.param(
        CAPACITY,
        "capacity: &seats [*seats]",
        "conferences[1].capacity[0]: expected no alias (*name) inside the value it names",
        id="alias-inside-itself",
    ),
    pytest.param(
        CAPACITY,
        "capacity: *seats",
        "line 110: expected valid YAML (found undefined alias 'seats')",
        id="undefined-alias",
    ),
    pytest.param(
        CAPACITY,
        "capacity: " + "[" * 1000 + "]" * 1000,
        "line 110: expected valid YAML (at most 32 levels of nesting)",
        id="nested-1000-deep",
    ),
    pytest.param(
        CAPACITY,
        "capacity: [300",
        "line 113: expected valid YAML (expected ',' or ']', but got '<scalar>')",
        id="unclosed-bracket",
    ),
    pytest.param(
        CAPACITY,
        f"\t{CAPACITY}",
        "line 110: expected valid YAML (found character '\\t' that cannot start any token)",
        id="tab-indent",
    ),
    pytest.param(
        CAPACITY,
        "capacity: 3\x0700",
        "line 110: expected text without control characters (found #x0007)",
        id="control-character",
    ),
]


@pytest.mark.parametrize(("old", "new", "problem"), BROKEN_TEXTS)
def test_every_bad_value_typed_in_a_plan_names_the_field_and_what_was_expected(
    tmp_path: Path, old: str, new: str, problem: str
) -> None:
    path = write_text_plan(tmp_path, old, new)

    with pytest.raises(DataFileError) as caught:
        load_plan_file(path)

    assert str(caught.value) == f"{path}: {problem}"


NOT_A_MAPPING = "expected a YAML mapping of field names to values at the top level"
BROKEN_DOCUMENTS = [
    pytest.param("- code: tay-ho-2020\n- version: '2020.1'\n", NOT_A_MAPPING, id="list"),
    pytest.param("Kế hoạch tổ chức Hội nghị\n", NOT_A_MAPPING, id="text"),
    pytest.param("", NOT_A_MAPPING, id="empty"),
    pytest.param("# only a comment\n", NOT_A_MAPPING, id="comment"),
    pytest.param(
        SEED_TEXT + "---\ncode: second\n",
        f"line {SEED_TEXT.count(chr(10)) + 1}: expected valid YAML (but found another document)",
        id="two",
    ),
    pytest.param(
        # a "billion laughs": 10 ** 7 values from a few hundred bytes
        "".join(f"l{n}: &l{n} [{', '.join([f'*l{n - 1}' if n else 'ha'] * 10)}]\n" for n in range(7)),
        "l5: expected at most 500000 values in the file, aliases (*name) counted in full",
        id="billion-laughs",
    ),
]


@pytest.mark.parametrize(("text", "problem"), BROKEN_DOCUMENTS)
def test_a_file_that_is_no_plan_at_all_says_what_was_expected(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "doc.yaml"
    path.write_text(text, encoding="utf-8")

    with pytest.raises(DataFileError) as caught:
        load_plan_file(path)

    assert str(caught.value) == f"{path}: {problem}"


def test_a_file_too_large_or_not_utf8_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    from rules.data_yaml import MAX_FILE_BYTES

    huge = tmp_path / "huge.yaml"
    with huge.open("w", encoding="utf-8") as file:
        file.write(SEED_TEXT)
        file.write("#" * (MAX_FILE_BYTES - len(SEED_TEXT.encode()) + 1))
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(SEED_TEXT.encode("cp1258", errors="replace"))

    with pytest.raises(DataFileError) as too_large:
        load_plan_file(huge)
    with pytest.raises(DataFileError) as not_utf8:
        load_plan_file(latin)

    assert str(too_large.value) == f"{huge}: expected a file of at most 2 MB"
    assert str(not_utf8.value) == f"{latin}: expected UTF-8 text"
    huge.write_text(SEED_TEXT + "#" * (MAX_FILE_BYTES - len(SEED_TEXT.encode()) - 1), encoding="utf-8")
    assert load_plan_file(huge).code == "tay-ho-2020"  # the limit itself is allowed


def test_an_unquoted_date_or_time_is_read_as_the_schema_says(tmp_path: Path) -> None:
    path = write_text_plan(tmp_path, GRASSROOTS_DEADLINE, "nomination_deadline: 2020-02-29 17:00:00 +07:00")

    plan = load_plan_file(path)

    assert plan.conferences[0].nomination_deadline == dt.datetime(2020, 2, 29, 17, tzinfo=ICT)
    assert plan.units[1].valid_from == dt.date(1995, 10, 28)


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [case for case in BROKEN_TEXTS if case.id in {"29-february-of-a-common-year", "key-twice", "unclosed-bracket"}],
)
async def test_a_badly_typed_plan_after_a_good_one_changes_nothing(
    database: Database, tmp_path: Path, old: str, new: str, problem: str
) -> None:
    await load_plan(database, SEED_PLAN)
    before = await snapshot(database)
    path = write_text_plan(tmp_path, old, new)

    with pytest.raises(DataFileError, match=re.escape(problem)):
        await load_plan(database, path)

    assert await snapshot(database) == before


async def test_a_problem_found_while_applying_rolls_everything_back(database: Database, tmp_path: Path) -> None:
    await load_plan(database, SEED_PLAN)
    district = await conference(database, "district")
    async with database.transaction() as session:
        session.add(
            Invitation(
                conference_id=district.id,
                pool_code="guest_leader",
                import_key="le van a|1970",
                full_name="Lê Văn A",
                name_fold="le van a",
            )
        )
    before = await snapshot(database)

    def drop_guest_pool(data: dict[str, Any]) -> None:
        data["conferences"][1]["capacity"] = 200
        data["conferences"][1]["pools"] = [
            {"code": "exemplar", "title": "Đại biểu điển hình tiên tiến", "share": 1.0, "share_rule": "min"}
        ]

    with pytest.raises(DataFileError, match=r"conferences\[1\]\.pools: expected the pool 'guest_leader' to stay"):
        await load_plan(database, write_plan(tmp_path, drop_guest_pool))

    assert await snapshot(database) == before
    assert (await conference(database, "district")).capacity == 300


# --- moving dates for the demo -------------------------------------------------------------------------


def deadlines(plan: Any) -> list[dt.datetime]:
    return [
        moment for c in plan.conferences for moment in (c.nomination_deadline, c.rsvp_deadline) if moment is not None
    ]


def test_shift_plan_dates_moves_every_date_by_whole_years_past_today() -> None:
    plan = load_plan_file(SEED_PLAN)
    today = dt.date(2026, 11, 24)

    shifted = shift_plan_dates(plan, today)

    assert all(moment.astimezone(ICT).date() > today for moment in deadlines(shifted))
    grassroots, district = shifted.conferences
    assert grassroots.nomination_deadline == dt.datetime(2027, 2, 28, 17, tzinfo=ICT)  # from 29/2/2020
    assert grassroots.window_end == dt.datetime(2027, 3, 14, 23, 59, 59, tzinfo=ICT)
    assert district.window_start == dt.datetime(2027, 4, 1, tzinfo=ICT)
    assert district.window_end == dt.datetime(2027, 6, 30, 23, 59, 59, tzinfo=ICT)
    assert shifted.valid_from == dt.date(2027, 1, 1)
    assert shifted.units[1].valid_to == dt.date(2032, 6, 30)
    assert shifted.sha256 == plan.sha256
    # the original keeps its dates
    assert plan.conferences[0].nomination_deadline == dt.datetime(2020, 2, 29, 17, tzinfo=ICT)


def test_shift_plan_dates_by_days_keeps_every_interval() -> None:
    plan = load_plan_file(SEED_PLAN)
    today = dt.date(2026, 11, 24)

    shifted = shift_plan_dates(plan, today, by="days", lead_days=14)

    assert min(deadlines(shifted)).astimezone(ICT).date() == today + dt.timedelta(days=14)
    before, after = plan.conference("district"), shifted.conference("district")
    assert after.window_end - after.rsvp_deadline == before.window_end - before.rsvp_deadline  # type: ignore[operator]


def test_shift_plan_dates_leaves_a_future_plan_alone() -> None:
    plan = load_plan_file(SEED_PLAN)

    assert shift_plan_dates(plan, dt.date(2019, 12, 31)) == plan


async def test_a_shifted_plan_loads_with_deadlines_ahead(database: Database) -> None:
    today = dt.date(2026, 11, 24)

    await load_plan(database, SEED_PLAN, today=today)

    for code in ("grassroots", "district"):
        row = await conference(database, code)
        assert row.nomination_deadline is not None and row.nomination_deadline.astimezone(ICT).date() > today


async def test_apply_plan_leaves_the_commit_to_the_caller(database: Database) -> None:
    plan = load_plan_file(SEED_PLAN)
    async with database.sessions() as session:
        await apply_plan(session, plan)
        await session.rollback()

    assert (await snapshot(database))["campaign"] == []


def test_the_seed_plan_gives_english_titles_to_its_conferences_and_pools() -> None:
    plan = load_plan_file(SEED_PLAN)

    district = next(conference for conference in plan.conferences if conference.code == "district")
    assert district.title_en == "District Exemplars' Conference"
    assert [pool.title_en for pool in district.pools] == ["Exemplars", "Guests and leaders of all levels and sectors"]


@pytest.mark.parametrize(
    ("new", "problem"),
    [
        ("title_en: Đại biểu điển hình tiên tiến", "expected title_en in English, not the Vietnamese title again"),
        ("title_en: Đại biểu tiêu biểu xuất sắc", "expected title_en in English: most of its words are Vietnamese"),
        ("title_en: ''", "expected"),
    ],
)
def test_an_english_title_that_is_not_english_is_refused_with_its_field(tmp_path: Path, new: str, problem: str) -> None:
    path = write_text_plan(tmp_path, "title_en: Exemplars", new)

    with pytest.raises(DataFileError) as caught:
        load_plan_file(path)

    assert "title_en" in str(caught.value) and problem in str(caught.value)
