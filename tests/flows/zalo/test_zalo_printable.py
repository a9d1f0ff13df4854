"""Printable invitations asked for on Zalo: the form question is a numbered menu, and the PDF or ZIP, which
Zalo cannot carry, comes as a link through the bot's file store (or, without PUBLIC_BASE_URL, a note)."""

from __future__ import annotations

import io
import re
import zipfile

from sqlalchemy import select

from bot.playground.harness import Playground, ZaloChatUser
from rules import accounts
from rules.invitations import EXEMPLAR_POOL, Person, create_invitation
from rules.roles import Role
from storage.models import Conference, OrgUnit
from tests.flows.zalo.conftest import PUBLIC_BASE_URL


async def _zalo_organiser(playground: Playground) -> ZaloChatUser:
    hoa = playground.zalo_person("Phạm Thu Hoà")
    async with playground.services.database.transaction() as db:
        contact = await accounts.ensure_account(
            db, channel="zalo", external_id=hoa.zalo_id, display_name="Phạm Thu Hoà", now=playground.services.clock()
        )
        await accounts.assign_role(db, contact.account.id, Role.ORGANISER, reason="test")
    return hoa


async def _invite(playground: Playground, *names: tuple[str, str]) -> None:
    async with playground.services.database.transaction() as db:
        conference = await db.scalar(select(Conference).where(Conference.code == "district"))
        assert conference is not None
        for name, unit in names:
            await create_invitation(
                db,
                conference=conference,
                pool_code=EXEMPLAR_POOL,
                person=Person(
                    full_name=name,
                    gender="nam",
                    unit_id=await db.scalar(select(OrgUnit.id).where(OrgUnit.code == unit)),
                ),
                secret=playground.services.link_secret,
                now=playground.services.clock(),
            )


async def test_printable_invitations_on_zalo_come_as_a_link_or_a_note(playground: Playground, plan: None) -> None:
    hoa = await _zalo_organiser(playground)
    await _invite(playground, ("Nguyễn Văn An", "buoi"), ("Lê Văn Hùng", "nhat_tan"))

    menu = await hoa.send("/invitations district")
    assert "Bạn cần thư mời dự Hội nghị Điển hình tiên tiến ở dạng nào?" in menu[-1]
    assert "1. Tải danh sách (Excel)" in menu[-1] and "3. Giấy mời theo đơn vị (PDF)" in menu[-1]
    note = await hoa.send("3")
    assert note[0] == "Đang chuẩn bị 2 giấy mời để in…"
    assert "Không thể gửi tệp “giay-moi-theo-don-vi-district.zip” qua Zalo." in note[-1]
    assert "Tệp này có thể nhận qua Telegram hoặc tại Ban Tổ chức." in note[-1]

    playground.file_store.public_base_url = PUBLIC_BASE_URL
    [*_, link] = await hoa.send("/invitations district theo đơn vị")

    assert link.startswith("Giấy mời in dự Hội nghị Điển hình tiên tiến: 2 người trong 2 tệp PDF")
    url = re.search(r"https://\S+", link).group(0)  # type: ignore[union-attr]
    assert url.startswith(f"{PUBLIC_BASE_URL}/files/") and url.endswith("/giay-moi-theo-don-vi-district.zip")
    opened = await playground.shared_file(url)
    assert opened is not None and opened.data is not None
    assert opened.filename == "giay-moi-theo-don-vi-district.zip"
    with zipfile.ZipFile(io.BytesIO(opened.data)) as archive:
        assert sorted(archive.namelist()) == ["Giấy mời – Phường Bưởi.pdf", "Giấy mời – Phường Nhật Tân.pdf"]
