"""/conference: organisers set a conference's day, time and venue in chat, without editing the plan file.

``/conference`` (or ``/conference district``) asks which conference when several have not ended, shows
its day, time and venue as they stand, and asks what to change: "Ngày và giờ", "Giờ", "Địa điểm". The
day is typed as Vietnamese offices write it ("15/4/2020", "15 tháng 4", with the time if wanted:
"15/4/2020 8h30"), the time as "8h30", "8:30" or "14 giờ"; a wrong one gets a polite note and the same
question. What was understood is shown back ("08:30, Thứ Tư, ngày 15 tháng 4 năm 2020") before it is saved.
Saving goes through ``rules.arrangements.set_arrangements``: organisers only, audited, and every delegate
who accepted is told of the change through the outbox, in their language.

What is being typed is kept in the person's scratch row (``storage.scratch``), so a restart resumes it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update
from telegram.ext import BaseHandler, CommandHandler, ConversationHandler, MessageHandler, filters

from bot.context import BotContext
from bot.i18n import N_, Translator
from bot.services import Services
from handlers import clarify
from handlers.common import refuse
from handlers.dialogue import Dialogue
from handlers.exports import ConferenceQuestion, may_manage
from handlers.keyboards import keyboard
from handlers.presses import ButtonData, Choice, button
from rules import address, arrangements, conferences
from rules.arrangements import Change, Day, Saved
from rules.choices import NO, YES, Option
from rules.conferences import Closed, Use
from rules.intake import Problem
from rules.plans import LOCAL_TZ
from rules.roles import NotAllowed
from storage import scratch
from storage.models import Conference

END = ConversationHandler.END
PICK, MENU, DAY, TIME, VENUE, CONFIRM = (
    "conference.pick",
    "conference.menu",
    "conference.day",
    "conference.time",
    "conference.venue",
    "conference.confirm",
)
DESK = "conference"  # the scratch row: {"conference_id", "field", "day", "starts_at", "venue"}
TEXT = filters.UpdateType.MESSAGE & filters.TEXT & ~filters.COMMAND
OTHER = filters.UpdateType.MESSAGE & ~filters.COMMAND
WHEN, HOUR, PLACE, DONE = "when", "time", "venue", "done"
SAVE, AGAIN, DROP = "save", "again", "cancel"
MENU_DATA = ButtonData("cfm", str, Choice(WHEN, HOUR, PLACE, DONE))
CONFIRM_DATA = ButtonData("cfc", str, Choice(SAVE, AGAIN, DROP))


# --- texts ------------------------------------------------------------------------------------------------


def closed_text(t: Translator, closed: Closed, use: Use) -> str:
    """Why a conference is not offered for ``use`` any more (it has ended, or its deadline passed)."""
    if closed.ended_at is None:
        return t("{title} is no longer open for this.", title=closed.title)
    messages = {
        Use.GUEST_LISTS: N_("{title} ended on {date}: it takes no guest list any more."),
        Use.INVITATIONS: N_("{title} ended on {date}: nobody can be invited to it any more."),
        Use.ARRANGEMENTS: N_("{title} ended on {date}: its day, time and venue can no longer be changed."),
        Use.NOMINATIONS: N_("{title} ended on {date}: it takes no nominations any more."),
    }
    return t(messages[use], title=closed.title, date=t.date(closed.ended_at))


def moment_text(t: Translator, moment: dt.datetime) -> str:
    """``08:30, Thứ Tư, 15 tháng 4, 2020``: the weekday too, so a wrong day is seen at once."""
    return t("{time}, {date}", time=t.time(moment), date=t.date(moment, "full"))


def _when(t: Translator, conference: Conference) -> str:
    if conference.starts_at is not None:
        return moment_text(t, conference.starts_at)
    if conference.window_end is not None:
        return t("not set yet (the plan: by {date})", date=t.date(conference.window_end))
    return t("not set yet")


def _current(t: Translator, conference: Conference) -> str:
    return "\n".join(
        [
            conference.title,
            t("• Time: {when}", when=_when(t, conference)),
            t("• Venue: {venue}", venue=conference.venue or t("not set yet")),
        ]
    )


def _menu_options(t: Translator, conference: Conference) -> list[Option]:
    options = [Option(WHEN, t("Day and time"), aliases=("ngày", "ngay gio", "day"))]
    if conference.starts_at is not None:
        options.append(Option(HOUR, t("Time only"), aliases=("giờ", "time")))
    options += [
        Option(PLACE, t("Venue"), aliases=("địa điểm", "venue", "place")),
        Option(DONE, t("Done"), aliases=("xong", "done"), means=NO),
    ]
    return options


def _confirm_options(t: Translator) -> list[Option]:
    return [
        Option(SAVE, t("Save"), aliases=("lưu", "save"), means=YES),
        Option(AGAIN, t("Type it again"), aliases=("nhập lại", "again")),
        Option(DROP, t("Cancel"), aliases=("huỷ", "hủy", "cancel"), means=NO),
    ]


QUESTIONS = {
    WHEN: N_("On which day? Type it like {day}, or with the time: {day} 8h30."),
    HOUR: N_("At what time does it start? Type it like 8h30, 8:30 or 14 giờ."),
    PLACE: N_("Where is it held? Type the venue, for example: Hội trường UBND quận Tây Hồ, 657 Lạc Long Quân."),
}


def change_notice(services: Services) -> Callable[[Change], str]:
    """What a delegate who accepted reads when the day, time or venue changes, in their language."""

    def write(change: Change) -> str:
        t = services.translators.get(change.locale)
        honorific = address.honorific(t, change.gender)
        unset = t("not set yet")
        when = moment_text(t, change.starts_at) if change.starts_at else unset
        venue = change.venue or unset
        lines = [
            t(
                "Dear {honorific} {name},\nThe organisers wish to inform you of a change to {conference}:",
                honorific=honorific,
                name=change.full_name,
                conference=change.conference_title,
            )
        ]
        if change.time_changed:
            before = moment_text(t, change.starts_at_before) if change.starts_at_before else unset
            lines.append(t("• Time: {when} (previously: {before})", when=when, before=before))
        else:
            lines.append(t("• Time: {when}", when=when))
        if change.venue_changed:
            lines.append(t("• Venue: {venue} (previously: {before})", venue=venue, before=change.venue_before or unset))
        else:
            lines.append(t("• Venue: {venue}", venue=venue))
        lines.append(t("We look forward to welcoming {honorific} {name}.", honorific=honorific, name=change.full_name))
        return "\n".join(lines)

    return write


# --- helpers ----------------------------------------------------------------------------------------------


def _chat(update: Update) -> int:
    assert update.effective_chat is not None
    return update.effective_chat.id


def _account(context: BotContext) -> int:
    assert context.account is not None
    return context.account.id


async def _desk(db: AsyncSession, context: BotContext) -> dict[str, Any]:
    return await scratch.recall(db, DESK, _account(context))


async def _conference(db: AsyncSession, desk: dict[str, Any]) -> Conference | None:
    conference_id = desk.get("conference_id")
    return await db.get(Conference, int(conference_id), populate_existing=True) if conference_id else None


async def _say(
    update: Update, context: BotContext, text: str, options: list[Option] | None = None, prefix: str = ""
) -> None:
    markup = keyboard(prefix, options) if options else None
    await context.bot.send_message(_chat(update), text, reply_markup=markup)


async def _show_menu(update: Update, context: BotContext, conference: Conference, note: str | None = None) -> str:
    t = context.t
    question = t("What do you want to set?")
    text = f"{_current(t, conference)}\n\n{question}"
    if note:
        text = f"{note}\n\n{text}"
    await _say(update, context, text, _menu_options(t, conference), MENU_DATA.prefix)
    return MENU


async def _ask(update: Update, context: BotContext, field: str, note: str | None = None) -> str:
    # The example is a day of this year (a 2020 example reads as a mistake to an officer in 2027).
    today = context.now().astimezone(LOCAL_TZ).date()
    text = context.t(QUESTIONS[field], day=f"{today.day}/{today.month}/{today.year}")
    await _say(update, context, f"{note}\n\n{text}" if note else text)
    return {WHEN: DAY, HOUR: TIME, PLACE: VENUE}[field]


async def _gone(update: Update, context: BotContext) -> int:
    async with context.transaction() as db:
        await scratch.forget(db, DESK, _account(context))
    await _say(update, context, context.t("This conference can no longer be changed. Type /conference to start again."))
    return END


# --- which conference -------------------------------------------------------------------------------------


async def _offered(session: AsyncSession, now: dt.datetime) -> list[Conference]:
    return await conferences.open_for(session, Use.ARRANGEMENTS, now)


async def _picked(update: Update, context: BotContext, conference_id: int) -> str | int:
    async with context.transaction() as db:
        await scratch.remember(db, DESK, _account(context), {"conference_id": conference_id})
        conference = await db.get(Conference, conference_id)
    if conference is None:
        return await _gone(update, context)
    return await _show_menu(update, context, conference)


PICK_QUESTION = ConferenceQuestion(
    "cfp",
    PICK,
    N_("Which conference do you want to set the day, time or venue of?"),
    _picked,
    offered=_offered,
    none_offered=N_("No conference can be changed now: the conferences of the plan have ended."),
)


async def begin(update: Update, context: BotContext) -> str | int:
    """/conference [code]: organisers only."""
    if context.account is None or not may_manage(context):
        await _say(update, context, context.t("Sorry, only organisers can use this command."))
        return END
    return await PICK_QUESTION.start(update, context, " ".join(context.args or []))


# --- the menu ---------------------------------------------------------------------------------------------


async def _menu_choice(update: Update, context: BotContext, key: str) -> str | int:
    async with context.transaction() as db:
        desk = await _desk(db, context)
        conference = await _conference(db, desk)
        if conference is not None and key in (WHEN, HOUR, PLACE):
            await scratch.remember(db, DESK, _account(context), {"conference_id": conference.id, "field": key})
    if conference is None or not conferences.is_open_for(conference, Use.ARRANGEMENTS, context.now()):
        return await _gone(update, context)
    if key == HOUR and conference.starts_at is None:
        key = WHEN  # no day yet: the day first
    if key == DONE:
        async with context.transaction() as db:
            await scratch.forget(db, DESK, _account(context))
        await _say(update, context, context.t("Done. Type /conference to change something again."))
        return END
    return await _ask(update, context, key)


async def menu_pressed(update: Update, context: BotContext, key: str) -> str | int:
    if context.press is not None:
        await context.press.close()
    return await _menu_choice(update, context, key)


async def menu_typed(update: Update, context: BotContext) -> str | int:
    assert update.effective_message is not None
    async with context.transaction() as db:
        conference = await _conference(db, await _desk(db, context))
    if conference is None:
        return await _gone(update, context)
    options = _menu_options(context.t, conference)
    result = await clarify.answer(context, MENU_DATA.prefix, update.effective_message.text or "", options)
    if isinstance(result, clarify.Ask):
        await clarify.send(update, context, result)
        return MENU
    if isinstance(result, clarify.Again):
        return await _show_menu(update, context, conference, result.note)
    return await _menu_choice(update, context, result.option.key)


# --- typing the day, the time, the venue ------------------------------------------------------------------


def _problem(t: Translator, problem: Problem) -> str:
    values = {
        key: (
            t.datetime(value)
            if isinstance(value, dt.datetime)
            else t.date(value)
            if isinstance(value, dt.date)
            else value
        )
        for key, value in problem.values.items()
    }
    return t(problem.msgid, **values)


async def _typed_value(update: Update, context: BotContext, field: str) -> str | int:
    """The day, the time or the venue typed: parsed, checked, and shown back before it is saved."""
    t = context.t
    text = update.effective_message.text if update.effective_message else None
    async with context.transaction() as db:
        desk = await _desk(db, context)
        conference = await _conference(db, desk)
    if conference is None or not conferences.is_open_for(conference, Use.ARRANGEMENTS, context.now()):
        return await _gone(update, context)
    if not text:
        return await _ask(update, context, field, t("Please answer with text."))
    tz = t.tz
    if field == PLACE:
        venue = arrangements.parse_venue(text)
        if isinstance(venue, Problem):
            return await _ask(update, context, field, _problem(t, venue))
        return await _show_back(update, context, conference, {**desk, "field": PLACE, "venue": venue})
    if field == WHEN:
        year = (conference.window_end or conference.window_start or context.now()).astimezone(tz).year
        day = arrangements.parse_day(text, default_year=year)
        if isinstance(day, Problem):
            return await _ask(update, context, field, _problem(t, day))
        if day.time is None:
            problem = arrangements.check_day(conference, day.day, context.now(), tz)
            if problem is not None:
                return await _ask(update, context, field, _problem(t, problem))
            async with context.transaction() as db:
                await scratch.remember(db, DESK, _account(context), {**desk, "field": WHEN, "day": day.day.isoformat()})
            return await _ask(update, context, HOUR)
        return await _check_start(update, context, conference, desk, day)
    time = arrangements.parse_time(text)
    if isinstance(time, Problem):
        return await _ask(update, context, HOUR, _problem(t, time))
    if desk.get("day"):
        on = dt.date.fromisoformat(desk["day"])
    elif conference.starts_at is not None:
        on = conference.starts_at.astimezone(tz).date()
    else:
        return await _ask(update, context, WHEN)
    return await _check_start(update, context, conference, desk, Day(on, time))


async def _check_start(
    update: Update, context: BotContext, conference: Conference, desk: dict[str, Any], day: Day
) -> str | int:
    assert day.time is not None
    t = context.t
    starts_at = arrangements.local_start(day.day, day.time, t.tz)
    problem = arrangements.check_start(conference, starts_at, context.now(), t.tz)
    if problem is not None:
        async with context.transaction() as db:
            await scratch.remember(db, DESK, _account(context), {"conference_id": conference.id, "field": WHEN})
        return await _ask(update, context, WHEN, _problem(t, problem))
    return await _show_back(update, context, conference, {**desk, "field": WHEN, "starts_at": starts_at.isoformat()})


async def _show_back(update: Update, context: BotContext, conference: Conference, desk: dict[str, Any]) -> str:
    t = context.t
    async with context.transaction() as db:
        await scratch.remember(db, DESK, _account(context), desk)
    if desk["field"] == PLACE:
        text = t(
            "New venue of {conference}: {venue}\n(until now: {before})\n\nSave it?",
            conference=conference.title,
            venue=desk["venue"],
            before=conference.venue or t("not set yet"),
        )
    else:
        text = t(
            "New time of {conference}: {when}\n(until now: {before})\n\nSave it?",
            conference=conference.title,
            when=moment_text(t, dt.datetime.fromisoformat(desk["starts_at"])),
            before=_when(t, conference),
        )
    await _say(update, context, text, _confirm_options(t), CONFIRM_DATA.prefix)
    return CONFIRM


async def day_typed(update: Update, context: BotContext) -> str | int:
    return await _typed_value(update, context, WHEN)


async def time_typed(update: Update, context: BotContext) -> str | int:
    return await _typed_value(update, context, HOUR)


async def venue_typed(update: Update, context: BotContext) -> str | int:
    return await _typed_value(update, context, PLACE)


def _not_text(field: str) -> Callable[[Update, BotContext], Any]:
    async def other(update: Update, context: BotContext) -> str | int:
        return await _ask(update, context, field, context.t("Please answer with text."))

    return other


# --- saving -----------------------------------------------------------------------------------------------


async def _decided(update: Update, context: BotContext, key: str) -> str | int:
    t = context.t
    async with context.transaction() as db:
        desk = await _desk(db, context)
        conference = await _conference(db, desk)
        if conference is None or "field" not in desk:
            result: Saved | NotAllowed | Closed | Problem | None = None
        elif key == SAVE and (desk.get("starts_at") or desk.get("venue")):
            values: dict[str, Any] = (
                {"venue": desk["venue"]}
                if desk["field"] == PLACE
                else {"starts_at": dt.datetime.fromisoformat(desk["starts_at"])}
            )
            result = await arrangements.set_arrangements(
                db,
                conference.id,
                actor_id=_account(context),
                now=context.now(),
                tz=t.tz,
                notice=change_notice(context.services),
                **values,
            )
            await scratch.remember(db, DESK, _account(context), {"conference_id": conference.id})
        else:
            result = None
            await scratch.remember(
                db, DESK, _account(context), {"conference_id": conference.id, "field": desk["field"]}
            )
    if conference is None or "field" not in desk:
        return await _gone(update, context)
    if key == AGAIN:
        return await _ask(update, context, desk["field"])
    if key == DROP or result is None:
        return await _show_menu(update, context, conference, t("Nothing was changed."))
    if isinstance(result, NotAllowed):
        return await refuse(update, context, result)
    if isinstance(result, Closed):
        await _say(update, context, closed_text(t, result, Use.ARRANGEMENTS))
        return END
    if isinstance(result, Problem):
        return await _ask(update, context, WHEN, _problem(t, result))
    assert isinstance(result, Saved)
    async with context.transaction() as db:
        fresh = await db.get(Conference, conference.id, populate_existing=True)
    assert fresh is not None
    note = t("Saved.")
    if result.told:
        note += " " + t("The {count} delegates who accepted are being told of the change.", count=t.number(result.told))
    return await _show_menu(update, context, fresh, note)


async def confirm_pressed(update: Update, context: BotContext, key: str) -> str | int:
    if context.press is not None:
        await context.press.close()
    return await _decided(update, context, key)


async def confirm_typed(update: Update, context: BotContext) -> str | int:
    assert update.effective_message is not None
    options = _confirm_options(context.t)
    result = await clarify.answer(context, CONFIRM_DATA.prefix, update.effective_message.text or "", options)
    if isinstance(result, clarify.Ask):
        await clarify.send(update, context, result)
        return CONFIRM
    if isinstance(result, clarify.Again):
        await _say(update, context, result.note, options, CONFIRM_DATA.prefix)
        return CONFIRM
    return await _decided(update, context, result.option.key)


async def cancel(update: Update, context: BotContext) -> int:
    if context.account is not None:
        async with context.transaction() as db:
            await scratch.forget(db, DESK, _account(context))
    await _say(update, context, context.t("Cancelled. Nothing was changed."))
    return END


def conversation() -> ConversationHandler[BotContext]:
    entry: BaseHandler[Update, BotContext, Any] = CommandHandler("conference", begin)
    return Dialogue(
        entry_points=[entry],
        states={
            PICK: PICK_QUESTION.handlers(),
            MENU: [
                button(MENU_DATA, menu_pressed),
                MessageHandler(TEXT, menu_typed),
                MessageHandler(OTHER, menu_typed),
            ],
            DAY: [MessageHandler(TEXT, day_typed), MessageHandler(OTHER, _not_text(WHEN))],
            TIME: [MessageHandler(TEXT, time_typed), MessageHandler(OTHER, _not_text(HOUR))],
            VENUE: [MessageHandler(TEXT, venue_typed), MessageHandler(OTHER, _not_text(PLACE))],
            CONFIRM: [
                button(CONFIRM_DATA, confirm_pressed),
                MessageHandler(TEXT, confirm_typed),
                MessageHandler(OTHER, confirm_typed),
            ],
        },
        fallbacks=[CommandHandler("cancel", cancel), entry],
        name="conference",
        persistent=True,
        allow_reentry=True,
    )
