"""The nomination tally (``storage.tally``) against a count of the nominations, after every kind of write.

Each step writes nominations the way the bot, an import, a cascade or a hand in the database would; after
each, the tally must equal a fresh count (``tally.mismatches``), and a few figures are also written out.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, insert, select, text, update

from storage import tally
from storage.models import Account, Campaign, Conference, Nomination, NominationTally, OrgUnit
from tests.people import telegram_identities

SENT_AT = dt.datetime(2020, 5, 1, 2, tzinfo=dt.UTC)


async def _world(db) -> tuple[int, int, int, list[int], int]:
    campaign = Campaign(code="test-2020", title="Kế hoạch thử")
    db.add(campaign)
    await db.flush()
    conferences = [Conference(campaign_id=campaign.id, code=code, level="district", title=code) for code in "ab"]
    units = [OrgUnit(code=f"u{k}", name=f"Phường {k}", name_fold=f"phuong {k}", kind="ward") for k in range(3)]
    nominator = Account(identities=telegram_identities(1), display_name="Người đề cử")
    db.add_all([*conferences, *units, nominator])
    await db.flush()
    return campaign.id, conferences[0].id, conferences[1].id, [unit.id for unit in units], nominator.id


def _row(campaign: int, conference: int | None, unit: int | None, nominator: int, **values) -> dict:
    return {
        "campaign_id": campaign,
        "conference_id": conference,
        "unit_id": unit,
        "nominator_id": nominator,
        "source": values.pop("source", "focal_point"),
        "status": values.pop("status", "draft"),
        "draft_editing": False,
        **values,
    }


async def _tally(db, conference: int) -> dict[tuple[int | None, str, str], tuple[int, int]]:
    return {
        (r.unit_id, r.source, r.status): (r.nominations, r.submitted)
        for r in await tally.conference_tally(db, conference)
    }


async def test_the_tally_follows_every_write_to_the_nominations(database) -> None:
    async with database.transaction() as db:
        campaign, first, second, units, nominator = await _world(db)
        # A bulk insert (an import), a draft, sent ones, one without a unit, one without a conference.
        await db.execute(
            insert(Nomination),
            [
                _row(campaign, first, units[0], nominator, status="submitted", submitted_at=SENT_AT),
                _row(campaign, first, units[0], nominator, status="submitted", submitted_at=SENT_AT),
                _row(campaign, first, units[1], nominator, status="approved", submitted_at=SENT_AT),
                _row(campaign, first, None, nominator, source="citizen", status="submitted", submitted_at=SENT_AT),
                _row(campaign, first, units[2], nominator),
                _row(campaign, None, units[2], nominator, status="submitted", submitted_at=SENT_AT),
            ],
        )
        assert await tally.mismatches(db) == []
        assert await _tally(db, first) == {
            (units[0], "focal_point", "submitted"): (2, 2),
            (units[1], "focal_point", "approved"): (1, 1),
            (None, "citizen", "submitted"): (1, 1),
            (units[2], "focal_point", "draft"): (1, 0),
        }

    async with database.transaction() as db:
        # The ORM's writes: a draft sent, a decision, an answer that changes nothing counted.
        draft = await db.scalar(select(Nomination).where(Nomination.status == "draft"))
        draft.status, draft.submitted_at = "submitted", SENT_AT
        await db.flush()
        assert await tally.mismatches(db) == []
        draft.achievements = "Gương mẫu trong phong trào."
        draft.status = "approved"
        await db.flush()
        # One statement over many rows, moving nominations between conferences and units.
        await db.execute(update(Nomination).where(Nomination.unit_id == units[0]).values(unit_id=units[1]))
        await db.execute(update(Nomination).where(Nomination.conference_id.is_(None)).values(conference_id=second))
        assert await tally.mismatches(db) == []
        assert await _tally(db, first) == {
            (units[1], "focal_point", "submitted"): (2, 2),
            (units[1], "focal_point", "approved"): (1, 1),
            (None, "citizen", "submitted"): (1, 1),
            (units[2], "focal_point", "approved"): (1, 1),
        }
        assert await _tally(db, second) == {(units[2], "focal_point", "submitted"): (1, 1)}

    async with database.transaction() as db:
        # A unit deleted sets its nominations' unit to NULL (the foreign key's action); one nomination deleted.
        await db.execute(delete(OrgUnit).where(OrgUnit.id == units[1]))
        await db.execute(delete(Nomination).where(Nomination.source == "citizen"))
        assert await tally.mismatches(db) == []
        assert await _tally(db, first) == {
            (None, "focal_point", "submitted"): (2, 2),
            (None, "focal_point", "approved"): (1, 1),
            (units[2], "focal_point", "approved"): (1, 1),
        }
        # A conference deleted leaves its nominations without one: out of every conference's figures.
        await db.execute(delete(Conference).where(Conference.id == first))
        assert await tally.mismatches(db) == []
        assert await _tally(db, first) == {}


async def test_a_write_that_is_rolled_back_leaves_the_tally_as_it_was(database) -> None:
    async with database.transaction() as db:
        campaign, first, _, units, nominator = await _world(db)
        await db.execute(insert(Nomination), [_row(campaign, first, units[0], nominator)])
    try:
        async with database.transaction() as db:
            await db.execute(update(Nomination).values(status="submitted", submitted_at=SENT_AT))
            raise RuntimeError("the reviewer's phone died")
    except RuntimeError:
        pass
    async with database.transaction() as db:
        assert await _tally(db, first) == {(units[0], "focal_point", "draft"): (1, 0)}
        assert await tally.mismatches(db) == []


async def test_a_tally_out_of_step_is_found(database) -> None:
    """The check used by the fuzzer and the tests can fail: a tally row changed by hand is reported."""
    async with database.transaction() as db:
        campaign, first, _, units, nominator = await _world(db)
        await db.execute(insert(Nomination), [_row(campaign, first, units[0], nominator)])
        await db.execute(update(NominationTally).values(nominations=NominationTally.nominations + 1))
        assert await tally.mismatches(db) == [(first, units[0], "focal_point", "draft", 1, 2, 0, 0)]


async def test_creating_the_tables_twice_installs_the_triggers_once(database) -> None:
    from storage.models import Base

    async with database.engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    async with database.transaction() as db:
        campaign, first, _, units, nominator = await _world(db)
        await db.execute(insert(Nomination), [_row(campaign, first, units[0], nominator)])
        assert await _tally(db, first) == {(units[0], "focal_point", "draft"): (1, 0)}
        if database.dialect == "postgresql":
            found = await db.scalar(text("SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'nomination_tally_%'"))
        else:
            found = await db.scalar(text("SELECT count(*) FROM sqlite_master WHERE name LIKE 'nomination_tally_%'"))
        assert found == 3
