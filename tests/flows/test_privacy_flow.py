"""/privacy, /mydata and /erase as a citizen meets them, through the real Application."""

from __future__ import annotations

import json

from sqlalchemy import select

from rules.plans import SEED_PLAN, apply_plan, load_plan_file
from storage.models import Account, AuditEntry


async def _plan(playground) -> None:
    async with playground.services.database.transaction() as db:
        await apply_plan(db, load_plan_file(SEED_PLAN))


async def test_the_notice_names_the_body_the_law_and_the_rights(playground, citizen):
    await _plan(playground)
    replies = await citizen.send("/privacy")
    text = "\n".join(m.text for m in replies)
    assert "Bên chịu trách nhiệm về dữ liệu của bạn: UBND quận Tây Hồ." in text
    assert "Luật số 91/2025/QH15" in text and "Nghị định số 356/2025/NĐ-CP" in text
    assert "/mydata" in text and "/erase" in text and "/request" in text
    assert "/privacy" in (await citizen.send("/help"))[-1].text


async def test_mydata_gives_a_summary_and_a_file_and_is_audited(playground, citizen):
    replies = await citizen.send("/mydata")
    assert replies[0].text.startswith("Dữ liệu của bạn, tài khoản #")
    data = json.loads(replies[-1].file_bytes or b"{}")
    assert data["account"]["name"] == "Nguyễn Thị Lan"
    async with playground.services.database.transaction() as db:
        actions = (await db.scalars(select(AuditEntry.action))).all()
    assert "privacy.mydata" in actions


async def test_erase_says_what_goes_and_a_typed_yes_erases(playground, citizen):
    asked = await citizen.send("/erase")
    assert "Sẽ bị xoá:" in asked[-1].text and "Được giữ lại, và lý do:" in asked[-1].text
    done = await citizen.send("có")
    assert done[-1].text.startswith("Xong: dữ liệu của bạn đã được xoá.")
    async with playground.services.database.transaction() as db:
        erased = (await db.scalars(select(Account).where(Account.erased_at.is_not(None)))).all()
    assert len(erased) == 1 and erased[0].display_name == ""
