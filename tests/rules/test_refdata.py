"""Reference lists: they load, hold what the domain notes list, search like people type, and fail loudly."""

from __future__ import annotations

import datetime as dt
import shutil
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from rules.refdata import (
    REFERENCE_DIR,
    DataFileError,
    load_reference,
    reference,
)


def test_every_list_loads_with_its_source_and_version() -> None:
    data = reference()

    for name in ("titles", "movements", "ethnic_groups", "religions", "occupation_groups", "economic_sectors"):
        ref_list = getattr(data, name)
        assert len(ref_list) > 0, name
        assert ref_list.source and ref_list.version and ref_list.valid_from, name
    assert [gender.code for gender in data.genders] == ["nam", "nu"]
    assert reference() is data  # cached


def test_there_are_54_ethnic_groups_and_only_kinh_is_no_minority() -> None:
    groups = reference().ethnic_groups

    assert len(groups) == 54
    assert [group.code for group in groups if not group.minority] == ["kinh"]
    assert groups["mong"].label == "Mông"
    assert all(group.label == unicodedata.normalize("NFC", group.label) for group in groups)


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("hmong", "mong"),
        ("H’Mông", "mong"),
        ("H'Mông", "mong"),
        ("Hmông", "mong"),
        ("meo", "mong"),
        ("MÈO", "mong"),
        ("khome", "khmer"),
        ("Khơ-me", "khmer"),
        ("khmer", "khmer"),
        ("xtieng", "xtieng"),
        ("X'Tiêng", "xtieng"),
        ("M'Nông", "mnong"),
        ("ê-đê", "e_de"),
        ("gia-rai", "gia_rai"),
        ("co lao", "co_lao"),
        ("Cơ Lao", "co_lao"),
        (unicodedata.normalize("NFD", "Mường"), "muong"),
        ("bru van kieu", "bru_van_kieu"),
    ],
)
def test_ethnic_group_search_matches_aliases_and_unaccented_input(typed: str, code: str) -> None:
    assert reference().ethnic_groups.search(typed)[0].code == code


def test_search_ranks_exact_then_prefix_then_substring() -> None:
    groups = reference().ethnic_groups

    found = [group.code for group in groups.search("co")]

    assert found[0] == "co"  # exact
    assert set(found[1:]) >= {"co_ho", "co_tu", "co_lao", "cong"}  # prefixes
    assert [group.code for group in groups.search("van kieu")] == ["bru_van_kieu"]  # substring
    assert groups.search("") == []
    assert groups.search("  -  ") == []
    assert groups.search("zzz") == []


def test_religions_offer_none_other_and_prefer_not_to_say() -> None:
    religions = reference().religions

    assert {"khong", "khac", "khong_tra_loi"} <= set(religions.codes())
    assert religions["khong"].label == "Không"
    assert [religion.code for religion in religions.search("khong")][:2] == ["khong", "khong_tra_loi"]
    assert religions.search("Thiên Chúa giáo")[0].code == "cong_giao"
    assert religions.search("hoa hao")[0].code == "phat_giao_hoa_hao"


def test_occupation_groups_flag_direct_producers() -> None:
    groups = reference().occupation_groups

    assert {group.code for group in groups if group.direct_producer} == {
        "cong_nhan",
        "nong_dan",
        "truc_tiep_san_xuat",
    }
    assert {"can_bo_cong_chuc", "luc_luong_vu_trang", "giao_vien", "y_te", "khac"} <= set(groups.codes())


def test_economic_sectors_cover_the_five_sectors_and_not_applicable() -> None:
    assert reference().economic_sectors.codes() == (
        "nha_nuoc",
        "tap_the",
        "tu_nhan",
        "von_dau_tu_nuoc_ngoai",
        "ca_the",
        "khong_ap_dung",  # for a tổ dân phố, a class, a club (issue 10 item 9)
    )


def test_titles_include_the_local_categories_the_conferences_honour() -> None:
    titles = reference().titles

    for code in ("dien_hinh_tien_tien", "nguoi_tot_viec_tot"):
        assert titles[code].kind == "local_category"
        assert set(titles[code].applies_to) == {"individual", "collective"}
    assert titles["gia_dinh_van_hoa"].applies_to == ("household",)
    assert titles.search("nguoi tot viec tot")[0].code == "nguoi_tot_viec_tot"


def test_active_follows_file_and_entry_validity() -> None:
    titles = reference().titles

    in_2020 = {title.code for title in titles.active(dt.date(2020, 5, 1))}
    in_2024 = {title.code for title in titles.active(dt.date(2024, 6, 1))}

    assert "cstd_co_so" in in_2020
    assert "xa_phuong_tieu_bieu" not in in_2020
    assert "xa_phuong_tieu_bieu" in in_2024
    assert titles.active(dt.date(2000, 1, 1)) == []  # before the list's valid_from


def test_movements_carry_scope_and_validity() -> None:
    movements = reference().movements

    assert movements["van_hoa_cong_so"].scope == "national"
    assert movements["van_hoa_cong_so"].valid_from == dt.date(2019, 5, 19)
    assert "doi_moi_chuyen_doi_so" not in {m.code for m in movements.active(dt.date(2020, 5, 1))}
    assert "khac" in movements


# --- bad files -----------------------------------------------------------------------------------------


def copy_reference(tmp_path: Path, file_name: str, change: Callable[[dict[str, Any]], None]) -> Path:
    """A copy of the reference directory with ``change`` applied to one file."""
    directory = tmp_path / "reference"
    shutil.copytree(REFERENCE_DIR, directory)
    path = directory / file_name
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return directory


def test_an_unchanged_copy_loads(tmp_path: Path) -> None:
    directory = copy_reference(tmp_path, "religions.yaml", lambda data: None)

    assert len(load_reference(directory).religions) == len(reference().religions)


@pytest.mark.parametrize(
    ("file_name", "change", "field", "expected"),
    [
        (
            "ethnic_groups.yaml",
            lambda data: data["entries"][3].update(code="Mường"),
            "entries[3].code",
            "an ascii snake_case code such as nong_thon_moi",
        ),
        (
            "ethnic_groups.yaml",
            lambda data: data["entries"][5].update(code="kinh"),
            "entries[5].code",
            "a code no other entry uses ('kinh' is also entries[0])",
        ),
        (
            "religions.yaml",
            lambda data: data["entries"][0].pop("label_en"),
            "entries[0].label_en",
            "a value (this field is required)",
        ),
        (
            "religions.yaml",
            lambda data: data["entries"][1].update(lable="x"),
            "entries[1].lable",
            "no field of this name (check the spelling)",
        ),
        (
            "ethnic_groups.yaml",
            lambda data: data["entries"][2].update(minority="maybe"),
            "entries[2].minority",
            "true or false",
        ),
        (
            "titles.yaml",
            lambda data: data["entries"][0].update(kind="award"),
            "entries[0].kind",
            "one of 'emulation_title', 'commendation', 'honorary_title' or 'local_category'",
        ),
        (
            "genders.yaml",
            lambda data: data.update(valid_from="13/08/2020"),
            "valid_from",
            "a date written YYYY-MM-DD",
        ),
        (
            "ethnic_groups.yaml",
            lambda data: data["entries"][1].update(aliases=["Hmông"]),  # Tày, taking Mông's alias
            "entries[7].aliases[0]",
            "a name no other entry uses ('H'Mông' also names entries[1])",
        ),
    ],
)
def test_a_bad_file_names_the_file_the_field_and_what_was_expected(
    tmp_path: Path, file_name: str, change: Callable[[dict[str, Any]], None], field: str, expected: str
) -> None:
    directory = copy_reference(tmp_path, file_name, change)

    with pytest.raises(DataFileError) as caught:
        load_reference(directory)

    assert str(caught.value) == f"{directory / file_name}: {field}: expected {expected}"
    assert "\n" not in str(caught.value)


def test_a_missing_file_or_broken_yaml_is_reported(tmp_path: Path) -> None:
    directory = tmp_path / "reference"
    shutil.copytree(REFERENCE_DIR, directory)
    (directory / "genders.yaml").write_text("source: [unclosed\n", encoding="utf-8")
    with pytest.raises(DataFileError, match=r"genders\.yaml: line \d+: expected valid YAML"):
        load_reference(directory)

    (directory / "genders.yaml").unlink()
    with pytest.raises(DataFileError, match=r"genders\.yaml: expected a file at this path"):
        load_reference(directory)


def test_labels_are_normalised_to_nfc(tmp_path: Path) -> None:
    decomposed = unicodedata.normalize("NFD", "Tịnh độ Cư sĩ")

    directory = copy_reference(tmp_path, "religions.yaml", lambda data: data["entries"][8].update(label=decomposed))

    label = load_reference(directory).religions["tinh_do_cu_si"].label
    assert label == unicodedata.normalize("NFC", "Tịnh độ Cư sĩ")


def test_project_files_are_named_relative_to_the_project() -> None:
    error = DataFileError(REFERENCE_DIR / "x.yaml", "entries[3].code", "an ascii snake_case code")

    assert str(error) == "data/reference/x.yaml: entries[3].code: expected an ascii snake_case code"


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        ("valid_from: 2004-07-01", "valid_from: 2003-02-29", "valid_from: expected a date that exists"),
        ("  - code: nu", "  - code: nu\n    code: nu", "entries[1].code: expected each key once in a mapping"),
    ],
    ids=["29-february-2003", "key-twice"],
)
def test_a_typed_impossible_date_or_repeated_key_in_a_list_is_reported(
    tmp_path: Path, old: str, new: str, problem: str
) -> None:
    directory = tmp_path / "reference"
    shutil.copytree(REFERENCE_DIR, directory)
    path = directory / "genders.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")

    with pytest.raises(DataFileError) as caught:
        load_reference(directory)

    assert str(caught.value).startswith(f"{path}: {problem}")
