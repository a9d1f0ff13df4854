"""Catalogs are complete and formatting speaks Vietnamese."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from bot.i18n import Translators, catalog_problems

TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def test_every_message_has_its_vietnamese_translation_with_the_same_placeholders():
    assert catalog_problems() == []


def test_vietnamese_dates_quarters_numbers():
    t = Translators("vi", TZ).get("vi")
    # As the Tây Hồ plan writes a date in a text ("trước ngày 15/3/2020"), and as a letter names a meeting's day.
    assert t.date(dt.date(2020, 3, 15)) == "15/3/2020"
    assert t.date(dt.date(2020, 3, 15), "full") == "Chủ Nhật, ngày 15 tháng 3 năm 2020"
    assert t("by {date}", date=t.date(dt.date(2020, 3, 15))) == "trước ngày 15/3/2020"
    english = Translators("vi", TZ).get("en")
    assert english.date(dt.date(2020, 3, 15)) == "March 15, 2020"
    assert t.quarter(dt.date(2020, 5, 1)) == "Quý II/2020"
    assert t.percent(0.7) == "70%"
    assert t.number(1234567) == "1.234.567"


def test_times_are_shown_in_hanoi_time():
    t = Translators("vi", TZ).get("vi")
    utc = dt.datetime(2020, 3, 14, 17, 30, tzinfo=dt.UTC)  # 00:30 on the 15th in Hà Nội
    assert t.date(utc) == "15/3/2020"
    assert t.datetime(utc) == "00:30, 15/3/2020"


def test_translators_do_not_leak_between_locales():
    translators = Translators("vi", TZ)
    vi, en = translators.get("vi"), translators.get("en")
    assert vi("What you can do:") != en("What you can do:")
    assert en("What you can do:") == "What you can do:"
    assert translators.get("fr") is vi
