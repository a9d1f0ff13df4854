"""/nominate: put forward an exemplar or a good deed, one question at a time.

The questions, their order and what a valid answer is live in ``rules.intake``; this module asks them and
reads the answers: a button press, the option typed by number or name, free text, photos and documents.
Each answer is committed before the next question is sent, so a restart, a lost phone or /cancel loses
nothing. /back returns one question; /cancel stops and keeps the draft.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardMarkup, Update
from telegram.ext import (
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.context import BotContext
from bot.i18n import N_, Translator
from handlers import clarify, presses
from handlers.dialogue import Dialogue
from handlers.keyboards import keyboard
from handlers.link_codes import or_type_code
from rules import accounts, endorsements, identities, intake, outbox
from rules.choices import NO, Option
from rules.intake import Answered, Problem, Step
from rules.nominations import Status
from rules.refdata import reference
from rules.review import possible_duplicates
from rules.text import format_phone
from storage.models import Campaign, Conference, Nomination, OrgUnit

logger = logging.getLogger(__name__)

PREFIX = "nom"
RESUME = "nominate.resume"
EDIT = "nominate.edit"
DUPLICATE = "nominate.duplicate"
END = ConversationHandler.END
CONTINUE, START_OVER = "continue", "restart"
SEND, EDIT_FIELD, DISCARD = "send", "edit", "discard"
SEND_ANYWAY, BACK_TO_SUMMARY = "anyway", "summary"
ALLOWANCE = "nominate.allowance"
KEEP = "keep"

QUESTIONS: dict[Step, str] = {
    Step.CONFERENCE: N_("Which conference is this nomination for?"),
    Step.KIND: N_("Are you nominating a person or a collective (a team, a family, an organisation)?"),
    Step.NAME: N_("What is the full name of the person or the collective?"),
    Step.GENDER: N_("Gender?"),
    Step.BIRTH_YEAR: N_("Year of birth? (four digits, e.g. 1985)"),
    Step.SENSITIVE_CONSENT: N_(
        "To keep the conference balanced we record ethnicity and religion. Only the organisers see them. "
        "Do you and the nominee agree to give them? (How personal data is handled: /privacy)"
    ),
    Step.ETHNICITY: N_("Ethnicity? Choose one, or type its name (e.g. Tày, H'Mông)."),
    Step.RELIGION: N_("Religion? Choose one, or type its name."),
    Step.OCCUPATION: N_("Which group does the nominee work in?"),
    Step.POSITION: N_("Position and workplace, or home address if not working (e.g. Tổ trưởng tổ dân phố số 5)?"),
    Step.UNIT: N_("Which ward or unit does the nominee belong to? Choose one, or type its name."),
    Step.PHONE: N_("The nominee's phone number (optional, seen only by the organisers)? Type it, or skip."),
    Step.MEMBERS: N_("How many members does the collective have?"),
    Step.ECONOMIC_SECTOR: N_("Which economic sector is the collective in?"),
    Step.TITLE: N_("Which title or category is sought?"),
    Step.MOVEMENT: N_("In which emulation movement did the nominee stand out?"),
    Step.MOVEMENT_OTHER: N_("Which movement? Please type its name."),
    Step.ACHIEVEMENTS: N_(
        "Describe the achievements in a few sentences: what was done, when, and the results ({min}–{max} characters)."
    ),
    Step.EVIDENCE: N_(
        "Send photos or documents as evidence (certificates, decisions, press articles), as many as you like. "
        "Choose Done when finished, or if you have none."
    ),
    Step.PUBLICITY: N_("If the nomination is approved, may we publicise the story and photo?"),
}

FIELD_NAMES: dict[Step, str] = {
    Step.CONFERENCE: N_("Conference"),
    Step.KIND: N_("Nominee"),
    Step.NAME: N_("Name"),
    Step.GENDER: N_("Gender"),
    Step.BIRTH_YEAR: N_("Year of birth"),
    Step.SENSITIVE_CONSENT: N_("Ethnicity and religion recorded"),
    Step.ETHNICITY: N_("Ethnicity"),
    Step.RELIGION: N_("Religion"),
    Step.OCCUPATION: N_("Occupation group"),
    Step.POSITION: N_("Position, workplace or address"),
    Step.UNIT: N_("Ward or unit"),
    Step.PHONE: N_("Phone"),
    Step.MEMBERS: N_("Members"),
    Step.ECONOMIC_SECTOR: N_("Economic sector"),
    Step.TITLE: N_("Title sought"),
    Step.MOVEMENT: N_("Movement"),
    Step.MOVEMENT_OTHER: N_("Other movement"),
    Step.ACHIEVEMENTS: N_("Achievements"),
    Step.EVIDENCE: N_("Evidence"),
    Step.PUBLICITY: N_("Publicity agreed"),
}
TEXT_STEPS = frozenset(
    {Step.NAME, Step.BIRTH_YEAR, Step.POSITION, Step.MEMBERS, Step.MOVEMENT_OTHER, Step.ACHIEVEMENTS, Step.PHONE}
)
SEARCHED_STEPS = frozenset({Step.ETHNICITY, Step.RELIGION, Step.UNIT})


@dataclass(frozen=True)
class Reply:
    """A message to send once the transaction is committed (never hold the database during network I/O)."""

    text: str
    markup: InlineKeyboardMarkup | None = None


def _not_open(t: Translator) -> Reply:
    return Reply(
        t("This nomination form is no longer open (it was sent or it expired). Type /nominate to start a new one.")
    )


def _who(context: BotContext) -> intake.Context:
    assert context.account is not None
    return intake.Context(
        account_id=context.account.id,
        role=context.account.role,
        unit_id=context.account.unit_id,
        now=context.now(),
        draft_ttl=dt.timedelta(hours=context.services.settings.draft_ttl_hours),
    )


async def _send(update: Update, context: BotContext, replies: list[Reply]) -> None:
    chat = update.effective_chat
    assert chat is not None
    for reply in replies:
        await context.bot.send_message(chat.id, reply.text, reply_markup=reply.markup)


# --- questions ----------------------------------------------------------------------------------------


async def _asks_conference(db: AsyncSession, now: dt.datetime) -> bool:
    return len(await intake.open_conferences(db, now)) > 1


async def _options(
    db: AsyncSession, draft: Nomination, step: Step, t: Translator, now: dt.datetime
) -> tuple[Option, ...]:
    conference = await db.get(Conference, draft.conference_id) if draft.conference_id else None
    day = intake.conference_day(conference)
    if step == Step.CONFERENCE:
        offered = await intake.open_conferences(db, now)
        if draft.source == "focal_point" and draft.unit_id is not None:
            offered = [
                c for c in offered if await intake.allowance_left(db, c.id, draft.unit_id, excluding=draft.id) != 0
            ]
        return tuple(
            Option(
                str(c.id),
                t("{title} (until {deadline})", title=c.title, deadline=t.date(c.nomination_deadline))
                if c.nomination_deadline
                else c.title,
                aliases=(c.title, c.code),
            )
            for c in offered
        )
    if step == Step.KIND:
        return (
            Option("individual", t("A person"), aliases=("cá nhân", "individual")),
            Option("collective", t("A collective"), aliases=("tập thể", "collective")),
        )
    if step in (Step.SENSITIVE_CONSENT, Step.PUBLICITY):
        return intake.yes_no(t("Yes, we agree"), t("No"))
    if step == Step.UNIT:
        return tuple(Option(str(u.id), u.name) for u in await intake.units_for(db, conference))
    if step == Step.PHONE:
        return (Option(intake.SKIP, t("Skip"), aliases=("bỏ qua", "skip"), means=NO),)
    if step == Step.EVIDENCE:
        return (Option(intake.DONE, t("Done"), aliases=("xong", "done", "bỏ qua", "skip", "không có"), means=NO),)
    campaign = await db.get(Campaign, draft.campaign_id)
    options = intake.choice_options(
        step, draft, locale=t.locale, on=day, campaign_movements=campaign.movements if campaign else ()
    )
    if step == Step.ETHNICITY:
        options += (Option(intake.SKIP, t("Prefer not to say"), aliases=("bỏ qua", "skip")),)
    return options


async def _named(db: AsyncSession, draft: Nomination, step: Step, t: Translator) -> tuple[Option, ...]:
    """What may be typed by name at ``step`` beyond its buttons: every unit, every ethnic group and religion."""
    if step == Step.UNIT:
        conference = await db.get(Conference, draft.conference_id) if draft.conference_id else None
        return tuple(Option(str(u.id), u.name) for u in await intake.units_for(db, conference, every=True))
    return intake.named_options(step, locale=t.locale)


def _columns(step: Step) -> int:
    return 2 if step in (Step.KIND, Step.GENDER, Step.SENSITIVE_CONSENT, Step.PUBLICITY) else 1


async def _question(
    db: AsyncSession, draft: Nomination, step: Step, t: Translator, now: dt.datetime, note: str | None = None
) -> Reply:
    if step == Step.SUMMARY:
        return await _summary(db, draft, t, note)
    text = t(QUESTIONS[step])
    if step == Step.ACHIEVEMENTS:
        low, high = intake.LENGTHS[Step.ACHIEVEMENTS]
        text = t(QUESTIONS[step], min=low, max=high)
    if step == Step.EVIDENCE and draft.evidence:
        text += "\n" + t("Files received so far: {count}.", count=len(draft.evidence))
    if step == Step.CONFERENCE:
        text = "\n".join([*await _allowance_notes(db, draft, t, now), text])
    if note:
        text = f"{note}\n\n{text}"
    options = await _options(db, draft, step, t, now)
    return Reply(text, keyboard(f"{PREFIX}:{step}", options, _columns(step)) if options else None)


def _label(options: tuple[Option, ...], key: str | None) -> str | None:
    return next((o.label for o in options if o.key == key), key)


async def _summary(db: AsyncSession, draft: Nomination, t: Translator, note: str | None = None) -> Reply:
    """Every answer, then Send / Edit a field / Cancel."""
    now = dt.datetime.now(dt.UTC)
    lines = [t("Please check the nomination before sending:")]
    for step in intake.ORDER:
        if step == Step.SUMMARY or not intake.applies(step, draft, asks_unit=True, asks_conference=True):
            continue
        value = await _display_value(db, draft, step, t, now)
        if value:
            lines.append(f"• {t(FIELD_NAMES[step])}: {value}")
    if draft.status == Status.CHANGES_REQUESTED and draft.code:
        lines.insert(0, t("Nomination {code}, sent back to you for changes.", code=draft.code))
    if note:
        lines.insert(0, note + "\n")
    return Reply("\n".join(lines), keyboard(f"{PREFIX}:{Step.SUMMARY}", _summary_options(t)))


async def _display_value(
    db: AsyncSession, draft: Nomination, step: Step, t: Translator, now: dt.datetime
) -> str | None:
    if step == Step.NAME:
        return draft.nominee_name
    if step == Step.BIRTH_YEAR:
        return str(draft.birth_year) if draft.birth_year else None
    if step == Step.POSITION:
        return draft.position
    if step == Step.MEMBERS:
        return t.number(draft.member_count) if draft.member_count else None
    if step == Step.MOVEMENT_OTHER:
        return draft.movement_other
    if step == Step.ACHIEVEMENTS:
        return draft.achievements
    if step == Step.PHONE:
        return format_phone(draft.phone_e164) or t("not given")
    if step == Step.EVIDENCE:
        return t("{count} file(s)", count=len(draft.evidence)) if draft.evidence else t("none")
    if step == Step.UNIT:
        unit = await db.get(OrgUnit, draft.unit_id) if draft.unit_id else None
        return unit.name if unit else None
    if step == Step.CONFERENCE:
        conference = await db.get(Conference, draft.conference_id) if draft.conference_id else None
        return conference.title if conference else None
    if step in (Step.SENSITIVE_CONSENT, Step.PUBLICITY):
        value = draft.sensitive_consent if step == Step.SENSITIVE_CONSENT else draft.publicity_consent
        return None if value is None else (t("yes") if value else t("no"))
    if step in (Step.ETHNICITY, Step.RELIGION):
        data = reference()
        entry = (data.ethnic_groups if step == Step.ETHNICITY else data.religions).get(
            (draft.ethnicity if step == Step.ETHNICITY else draft.religion) or ""
        )
        return (entry.label_en if t.locale == "en" else entry.label) if entry else t("not given")
    key = {
        Step.KIND: draft.kind,
        Step.GENDER: draft.gender,
        Step.OCCUPATION: draft.occupation_group,
        Step.ECONOMIC_SECTOR: draft.economic_sector,
        Step.TITLE: draft.title_code,
        Step.MOVEMENT: draft.movement_code,
    }.get(step)
    if key is None:
        return None
    return _label(await _options(db, draft, step, t, now), key)


# --- entry --------------------------------------------------------------------------------------------


async def begin(update: Update, context: BotContext) -> str | int:
    """/nominate: continue a draft or start one."""
    who = _who(context)
    t = context.t
    async with context.transaction() as db:
        draft = await intake.current_draft(db, who.account_id)
        if draft is not None and draft.status == Status.CHANGES_REQUESTED:
            note = _changes_note(draft, t)
            draft.draft_step = Step.SUMMARY
            replies = [await _question(db, draft, Step.SUMMARY, t, who.now, note)]
            state: str | int = Step.SUMMARY
        elif draft is not None and (closed := await _closed_conference(db, draft, who.now)) is not None:
            replies = [
                Reply(
                    t(
                        "Nominations for {conference} closed on {deadline}. It can no longer be sent.",
                        conference=closed.title,
                        deadline=t.datetime(closed.nomination_deadline or who.now),
                    )
                )
            ]
            state = END
        elif draft is not None:
            started = t.date(draft.created_at)
            options = _resume_options(t)
            replies = [
                Reply(
                    t(
                        "You have an unfinished nomination ({name}), started on {date}. Continue it or start over?",
                        name=draft.nominee_name or t("no name yet"),
                        date=started,
                    ),
                    keyboard(f"{PREFIX}:resume", options, 2),
                )
            ]
            state = RESUME
        else:
            replies, state = await _new_draft(db, who, t)
    await _send(update, context, replies)
    return state


async def _closed_conference(db: AsyncSession, draft: Nomination, now: dt.datetime) -> Conference | None:
    """The draft's conference when it stopped taking nominations (the draft can't be sent any more)."""
    conference = await db.get(Conference, draft.conference_id) if draft.conference_id else None
    if conference is None or conference.nomination_deadline is None or now < conference.nomination_deadline:
        return None
    return conference


async def _new_draft(db: AsyncSession, who: intake.Context, t: Translator) -> tuple[list[Reply], str | int]:
    conferences = await intake.open_conferences(db, who.now)
    if not conferences:
        return [Reply(t("No conference is accepting nominations now. Type /deadlines to see the dates."))], END
    intro = t("Let's nominate an exemplar. Each answer is saved as you go; /back returns one question, /cancel stops.")
    choose = True
    if who.is_focal_point and who.unit_id is not None:
        unit = await intake.unit_conferences(db, who.unit_id, conferences, who.now)
        if not unit.available:
            return [Reply("\n".join(_problem_text(t, used.problem) for used in unit.used_up))], END
        # A conference whose allowance is used up is said so and left out; the person then chooses among
        # the others, even when one is left: a draft never goes to another conference by itself.
        conferences = [conference for conference, _ in unit.available]
        choose = not unit.used_up
        ward = await db.get(OrgUnit, who.unit_id)
        for conference, left in unit.available:
            if left is not None:
                intro += "\n" + t(
                    "{unit} may still send {left} nomination(s) to {conference}.",
                    unit=ward.name if ward else "",
                    left=left,
                    conference=conference.title,
                )
    draft = await intake.start_draft(db, who, conferences, choose=choose)
    first = Step.CONFERENCE if draft.conference_id is None else Step.KIND
    draft.draft_step = first
    return [Reply(intro), await _question(db, draft, first, t, who.now)], first


def _problem_text(t: Translator, problem: Problem) -> str:
    values = {k: t.datetime(v) if isinstance(v, dt.datetime) else v for k, v in problem.values.items()}
    return t(problem.msgid, **values)


async def _allowance_notes(db: AsyncSession, draft: Nomination, t: Translator, now: dt.datetime) -> list[str]:
    """For a unit's draft: the open conferences whose allowance the unit has used up (they are not offered)."""
    if draft.source != "focal_point" or draft.unit_id is None:
        return []
    notes = []
    for conference in await intake.open_conferences(db, now):
        used = await intake.allowance_used(db, draft.unit_id, conference, now, excluding=draft.id)
        if used is not None:
            notes.append(_problem_text(t, used.problem))
    return notes


def _changes_note(draft: Nomination, t: Translator) -> str:
    request = next((e for e in reversed(draft.events) if e.to_status == Status.CHANGES_REQUESTED), None)
    message = request.reason if request and request.reason else ""
    return t("The reviewers asked for changes: {message}\nEdit what is needed, then choose Send.", message=message)


def _resume_options(t: Translator) -> tuple[Option, ...]:
    return (
        Option(CONTINUE, t("Continue"), aliases=("tiếp tục", "continue")),
        Option(START_OVER, t("Start over"), aliases=("làm lại", "start over")),
    )


async def resume(update: Update, context: BotContext) -> str | int:
    """The answer to "continue or start over", pressed or typed."""
    who = _who(context)
    t = context.t
    options = _resume_options(t)
    async with context.transaction() as db:
        draft = await intake.current_draft(db, who.account_id)
        if draft is None:
            replies, state = await _new_draft(db, who, t)
        else:
            choice = await _read_choice(db, update, context, f"{PREFIX}:resume", options, columns=2)
            if isinstance(choice, clarify.Ask):
                replies, state = [Reply(choice.text, choice.markup)], RESUME
            elif isinstance(choice, clarify.Again):
                replies, state = [Reply(choice.note, keyboard(f"{PREFIX}:resume", options, 2))], RESUME
            elif choice.key == START_OVER:
                await intake.discard(db, draft, who)
                replies, state = await _new_draft(db, who, t)
            else:
                step = Step(draft.draft_step) if draft.draft_step else Step.KIND
                replies, state = [await _question(db, draft, step, t, who.now)], step
    await _send(update, context, replies)
    return state


# --- answers ------------------------------------------------------------------------------------------


async def _read_choice(
    db: AsyncSession,
    update: Update,
    context: BotContext,
    question: str,
    options: tuple[Option, ...],
    *,
    named: tuple[Option, ...] = (),
    columns: int = 1,
) -> Option | clarify.Ask | clarify.Again:
    """The option pressed (re-checked against those offered now) or typed at ``question``; a typed answer
    that names one only partly is asked back (:class:`clarify.Ask`)."""
    press = context.press
    if press is not None:
        # The data was checked by its ButtonData (see _choice_handlers); the key is its last part.
        key = (press.data or "").rsplit(":", 1)[-1]
        option = next((o for o in (*options, *named) if o.key == key), None)
        if option is None:
            return clarify.Again(context.t("That choice is no longer available."), "gone")
        await press.close(option.label)
        return option
    message = update.effective_message
    if message is None or not message.text:
        return clarify.Again(_retry_note(context.t, len(options)))
    result = await clarify.typed(db, context, question, message.text, options, named=named, columns=columns)
    return result.option if isinstance(result, clarify.Chosen) else result


def _retry_note(t: Translator, count: int) -> str:
    return clarify.retry_note(t, count)


async def on_answer(step: Step, update: Update, context: BotContext) -> str | int:
    """Any input while ``step`` is asked: parse it, store it, ask the next question (or the same again)."""
    who = _who(context)
    t = context.t
    async with context.transaction() as db:
        draft = await intake.current_draft(db, who.account_id)
        # The step is saved just after its reply goes out: a process that died in between (kill -9, a lost
        # machine) comes back one question behind what the person sees. The draft, committed before the
        # reply, names the question shown, and the answer is taken for that one.
        shown = Step(draft.draft_step) if draft is not None and draft.draft_step else step
        summary_shown = shown == Step.SUMMARY != step
        if draft is None:
            replies: list[Reply] = [_not_open(t)]
            state: str | int = END
        elif not summary_shown:
            replies, state = await _handle(db, draft, shown, update, context, who)
    if summary_shown:
        return await on_summary(update, context)  # it reads the answer to the summary itself
    await _send(update, context, replies)
    return state


async def _handle(
    db: AsyncSession,
    draft: Nomination,
    step: Step,
    update: Update,
    context: BotContext,
    who: intake.Context,
) -> tuple[list[Reply], str | int]:
    t = context.t
    message = update.effective_message if update.callback_query is None else None
    if message is not None and (message.photo or message.document):
        return await _evidence(db, draft, step, message, t, who)
    options = await _options(db, draft, step, t, who.now)
    if context.press is None and (message is None or not message.text):
        return [await _question(db, draft, step, t, who.now, _wrong_kind(step, t, len(options)))], step
    value = await _value(db, draft, step, update, context, options, who)
    if isinstance(value, Reply):
        return [value], step
    if isinstance(value, Problem):
        return [await _question(db, draft, step, t, who.now, t(value.msgid, **value.values))], step
    asks_conf = await _asks_conference(db, who.now)
    result = await intake.answer(db, draft, step, value, who, asks_conference=asks_conf)
    if isinstance(result, Problem):
        return [await _question(db, draft, step, t, who.now, t(result.msgid, **result.values))], step
    assert isinstance(result, Answered)
    return [await _question(db, draft, result.next, t, who.now)], result.next


async def _value(
    db: AsyncSession,
    draft: Nomination,
    step: Step,
    update: Update,
    context: BotContext,
    options: tuple[Option, ...],
    who: intake.Context,
) -> Any:
    """The answer to ``step`` as stored (a key, a text, a number), a Problem with it, or the Reply to send
    instead (a did-you-mean, a short list, the question again)."""
    t = context.t
    text = update.effective_message.text if context.press is None and update.effective_message else None
    if text is not None and not options:
        return _parse_text(step, text, who)
    if text is not None and step == Step.PHONE:
        phone = intake.parse_phone(text)
        if not isinstance(phone, Problem):
            return phone
    named = await _named(db, draft, step, t)
    choice = await _read_choice(db, update, context, f"{PREFIX}:{step}", options, named=named, columns=_columns(step))
    if isinstance(choice, clarify.Ask):
        return Reply(choice.text, choice.markup)
    if isinstance(choice, clarify.Again):
        note = choice.note
        if named and choice.reason == "unmatched":
            note = t(N_("I could not find that name in the list. Please check the spelling or choose from the list."))
        if step == Step.PHONE and text is not None and choice.reason == "unmatched":
            # Neither a phone number nor "skip": say what a number looks like.
            note = t(
                N_("That does not look like a Vietnamese phone number. Please type it like 0912 345 678, or skip.")
            )
        return await _question(db, draft, step, t, who.now, note)
    return choice.key


def _parse_text(step: Step, text: str, who: intake.Context) -> Any:
    """A typed answer to a question without options: the parsed value, or the Problem with it."""
    if step == Step.BIRTH_YEAR:
        return intake.parse_birth_year(text, who.now.date())
    if step == Step.MEMBERS:
        return intake.parse_members(text)
    return intake.parse_text(step, text)


def _wrong_kind(step: Step, t: Translator, count: int) -> str:
    if step in TEXT_STEPS:
        return t("Please answer this question with text.")
    return _retry_note(t, count)


async def _evidence(
    db: AsyncSession, draft: Nomination, step: Step, message: Any, t: Translator, who: intake.Context
) -> tuple[list[Reply], str | int]:
    if step != Step.EVIDENCE:
        return [
            await _question(
                db,
                draft,
                step,
                t,
                who.now,
                t(
                    "A file is not an answer to this question. You can attach files a little later, when I ask for evidence."
                ),
            )
        ], step
    if message.photo:
        photo = message.photo[-1]
        kind, file_id, unique, name, mime, size = (
            "photo",
            photo.file_id,
            photo.file_unique_id,
            None,
            "image/jpeg",
            photo.file_size,
        )
    else:
        document = message.document
        kind, file_id, unique, name, mime, size = (
            "document",
            document.file_id,
            document.file_unique_id,
            document.file_name,
            document.mime_type,
            document.file_size,
        )
    count = await intake.add_evidence(
        db,
        draft,
        kind=kind,
        file_id=file_id,
        file_unique_id=unique,
        file_name=name,
        mime_type=mime,
        file_size=size,
        now=who.now,
    )
    if isinstance(count, Problem):
        note = t(count.msgid, **count.values)
    else:
        note = t("Received. Files so far: {count}. Send more, or choose Done.", count=count)
    options = await _options(db, draft, step, t, who.now)
    return [Reply(note, keyboard(f"{PREFIX}:{step}", options))], step


# --- summary, edit, send ------------------------------------------------------------------------------


def _summary_options(t: Translator) -> tuple[Option, ...]:
    return (
        Option(SEND, t("Send"), aliases=("gửi", "send")),
        Option(EDIT_FIELD, t("Edit a field"), aliases=("sửa", "edit")),
        Option(DISCARD, t("Cancel this nomination"), aliases=("huỷ đề cử", "hủy đề cử")),
    )


async def on_summary(update: Update, context: BotContext) -> str | int:
    who = _who(context)
    t = context.t
    options = _summary_options(t)
    async with context.transaction() as db:
        draft = await intake.current_draft(db, who.account_id)
        choice = await _read_choice(db, update, context, f"{PREFIX}:{Step.SUMMARY}", options) if draft else None
        replies: list[Reply]
        state: str | int
        if draft is None or choice is None:
            replies, state = [_not_open(t)], END
        elif isinstance(choice, clarify.Ask):
            replies, state = [Reply(choice.text, choice.markup)], Step.SUMMARY
        elif isinstance(choice, clarify.Again):
            replies, state = [await _question(db, draft, Step.SUMMARY, t, who.now, choice.note)], Step.SUMMARY
        elif choice.key == EDIT_FIELD:
            replies, state = [await _edit_menu(db, draft, t, who)], EDIT
        elif choice.key == DISCARD:
            await intake.discard(db, draft, who)
            replies, state = [Reply(t("The nomination was cancelled and the draft deleted."))], END
        else:
            replies, state = await _try_send(db, draft, t, who, context, confirmed=False)
    await _send(update, context, replies)
    return state


async def _edit_menu(db: AsyncSession, draft: Nomination, t: Translator, who: intake.Context) -> Reply:
    asks_conf = await _asks_conference(db, who.now)
    steps = intake.edit_steps(draft, asks_unit=intake.asks_unit(draft), asks_conference=asks_conf)
    options = tuple(Option(str(step), t(FIELD_NAMES[step])) for step in steps)
    return Reply(t("Which field do you want to change?"), keyboard(f"{PREFIX}:edit", options, 2))


async def on_edit(update: Update, context: BotContext) -> str | int:
    who = _who(context)
    t = context.t
    async with context.transaction() as db:
        draft = await intake.current_draft(db, who.account_id)
        replies: list[Reply]
        state: str | int
        if draft is None:
            replies, state = [_not_open(t)], END
        else:
            replies, state = await _edit_answer(update, context, db, draft, who)
    await _send(update, context, replies)
    return state


async def _edit_answer(
    update: Update, context: BotContext, db: AsyncSession, draft: Nomination, who: intake.Context
) -> tuple[list[Reply], str | int]:
    """Which field to change: the chosen question is asked, then the summary comes back."""
    t = context.t
    menu = await _edit_menu(db, draft, t, who)
    assert menu.markup is not None
    options = tuple(
        Option(str(button.callback_data).rsplit(":", 1)[-1], button.text)
        for row in menu.markup.inline_keyboard
        for button in row
    )
    choice = await _read_choice(db, update, context, f"{PREFIX}:edit", options, columns=2)
    if isinstance(choice, clarify.Ask):
        return [Reply(choice.text, choice.markup)], EDIT
    if isinstance(choice, clarify.Again):
        return [Reply(choice.note + "\n\n" + menu.text, menu.markup)], EDIT
    step = Step(choice.key)
    await intake.edit_field(db, draft, step)
    return [await _question(db, draft, step, t, who.now)], step


async def on_duplicate(update: Update, context: BotContext) -> str | int:
    who = _who(context)
    t = context.t
    options = _duplicate_options(t)
    async with context.transaction() as db:
        draft = await intake.current_draft(db, who.account_id)
        choice = await _read_choice(db, update, context, f"{PREFIX}:dup", options) if draft else None
        replies: list[Reply]
        state: str | int
        if draft is None or choice is None:
            replies, state = [_not_open(t)], END
        elif isinstance(choice, clarify.Ask):
            replies, state = [Reply(choice.text, choice.markup)], DUPLICATE
        elif isinstance(choice, clarify.Again):
            replies, state = [Reply(choice.note, keyboard(f"{PREFIX}:dup", options))], DUPLICATE
        elif choice.key == BACK_TO_SUMMARY:
            replies, state = [await _question(db, draft, Step.SUMMARY, t, who.now)], Step.SUMMARY
        else:
            replies, state = await _try_send(db, draft, t, who, context, confirmed=True)
    await _send(update, context, replies)
    return state


def _duplicate_options(t: Translator) -> tuple[Option, ...]:
    return (
        Option(SEND_ANYWAY, t("Send anyway"), aliases=("vẫn gửi", "send anyway")),
        Option(BACK_TO_SUMMARY, t("Back to the summary"), aliases=("quay lại", "back")),
    )


async def _try_send(
    db: AsyncSession, draft: Nomination, t: Translator, who: intake.Context, context: BotContext, *, confirmed: bool
) -> tuple[list[Reply], str | int]:
    if not confirmed and draft.status == Status.DRAFT:
        duplicates = await possible_duplicates(db, draft)
        if duplicates:
            lines = [
                t("{code} ({name}), sent on {date}", code=d.code, name=d.nominee_name, date=t.date(d.submitted_at))
                for d in duplicates
                if d.submitted_at is not None
            ]
            text = t("This nominee may already have been nominated:\n{list}\nSend anyway?", list="\n".join(lines))
            return [Reply(text, keyboard(f"{PREFIX}:dup", _duplicate_options(t)))], DUPLICATE
    result = await intake.send(db, draft, who)
    if isinstance(result, intake.Refused) and result.allowance is not None and result.allowance.elsewhere:
        return [_allowance_question(t, result.allowance)], ALLOWANCE
    if isinstance(result, intake.Refused):
        problem = result.problem
        values = dict(problem.values)
        if isinstance(values.get("deadline"), dt.datetime):
            values["deadline"] = t.datetime(values["deadline"])
        note = t(problem.msgid, **values)
        if "step" in problem.values:
            step = Step(problem.values["step"])
            await intake.edit_field(db, draft, step)
            return [await _question(db, draft, step, t, who.now, note)], step
        return [Reply(note + "\n" + t("Your draft is kept; type /nominate to see it."))], END
    nomination = result.nomination
    share = await endorsements.share_link(db, nomination, context.services.link_secret)
    await _notify_staff(db, nomination, result.event.id, context, resubmitted=result.resubmitted)
    if context.channel == identities.ZALO:
        # Zalo has no deep links: a t.me link is no use there, the typed code does what it does.
        receipt = t(
            "Sent. Your nomination code is {code}. The organisers will review it and I will tell you the "
            "decision.\n\nPeople who know the nominee can endorse the nomination by sending this bot on Zalo "
            "the message:\n{command}\n\nType /mine to follow your nominations.",
            code=nomination.code,
            command=share.shown_code,
        )
        return [Reply(receipt)], END
    receipt = t(
        "Sent. Your nomination code is {code}. The organisers will review it and I will tell you the decision.\n\n"
        "Share this link with people who know the nominee, so they can endorse the nomination:\n{link}\n"
        "{or_code}\n\n"
        "Type /mine to follow your nominations.",
        code=nomination.code,
        link=endorsements.share_url(context.bot.username, share.token),
        or_code=or_type_code(t, share.shown_code),
    )
    return [Reply(receipt)], END


def _allowance_options(t: Translator, used: intake.AllowanceUsed) -> tuple[Option, ...]:
    return (
        *(
            Option(str(c.id), t("Send it to {conference}", conference=c.title), aliases=(c.title, c.code))
            for c in used.elsewhere
        ),
        Option(KEEP, t("Keep the draft"), aliases=("giữ bản nháp", "giữ", "keep"), means=NO),
    )


def _allowance_question(t: Translator, used: intake.AllowanceUsed, note: str | None = None) -> Reply:
    """The unit's allowance for the draft's conference is used up: send it elsewhere, or keep it."""
    text = _problem_text(t, used.problem) + "\n" + t("What would you like to do with this nomination?")
    if note:
        text = f"{note}\n\n{text}"
    return Reply(text, keyboard(f"{PREFIX}:allowance", _allowance_options(t, used)))


async def on_allowance(update: Update, context: BotContext) -> str | int:
    """The answer to "the allowance is used up: send it to another conference, or keep the draft"."""
    who = _who(context)
    async with context.transaction() as db:
        draft = await intake.current_draft(db, who.account_id)
        replies, state = await _allowance_answer(db, draft, update, context, who)
    await _send(update, context, replies)
    return state


async def _allowance_answer(
    db: AsyncSession, draft: Nomination | None, update: Update, context: BotContext, who: intake.Context
) -> tuple[list[Reply], str | int]:
    t = context.t
    conference = await db.get(Conference, draft.conference_id) if draft and draft.conference_id else None
    if draft is None or conference is None or draft.unit_id is None:
        return [_not_open(t)], END
    used = await intake.allowance_used(db, draft.unit_id, conference, who.now, excluding=draft.id)
    if used is None or not used.elsewhere:
        # Meanwhile a place came free (or the other conference closed): the summary again, to send or keep.
        return [await _question(db, draft, Step.SUMMARY, t, who.now)], Step.SUMMARY
    choice = await _read_choice(db, update, context, f"{PREFIX}:allowance", _allowance_options(t, used))
    if isinstance(choice, clarify.Ask):
        return [Reply(choice.text, choice.markup)], ALLOWANCE
    if isinstance(choice, clarify.Again):
        return [_allowance_question(t, used, choice.note)], ALLOWANCE
    if choice.key == KEEP:
        expiry = draft.draft_expires_at or who.now
        return [Reply(t("Your draft is kept until {date}; type /nominate to see it.", date=t.datetime(expiry)))], END
    problem = await intake.choose_conference(db, draft, int(choice.key), who)
    if problem is not None:
        return [_allowance_question(t, used, _problem_text(t, problem))], ALLOWANCE
    return await _try_send(db, draft, t, who, context, confirmed=True)


# "… from a citizen": who a new nomination comes from, in the notice to organisers and reviewers.
NOTICE_SOURCES = {
    "citizen": N_("a citizen"),
    "focal_point": N_("a unit focal point"),
    "organiser": N_("the organisers"),
}


async def _notify_staff(
    db: AsyncSession, nomination: Nomination, event_id: int, context: BotContext, *, resubmitted: bool
) -> None:
    """Organisers and reviewers learn of a new (or resubmitted) nomination, each in their language."""
    unit = await db.get(OrgUnit, nomination.unit_id) if nomination.unit_id else None
    for member in await accounts.staff(db):
        t = context.services.translators.get(member.locale)
        msgid = (
            N_("Nomination {code} was resubmitted after changes: {name} ({unit}). Type /review to see it.")
            if resubmitted
            else N_("New nomination {code}: {name} ({unit}), from {source}. Type /review to see it.")
        )
        source = t(NOTICE_SOURCES.get(nomination.source, NOTICE_SOURCES["citizen"]))
        await outbox.enqueue(
            db,
            account_id=member.id,
            text=t(
                msgid,
                code=nomination.code,
                name=nomination.nominee_name,
                unit=unit.name if unit else "-",
                source=source,
            ),
            dedupe_key=f"nomination:{nomination.id}:submitted:{event_id}:to:{member.id}",
            topic=f"nomination:{nomination.id}",
            now=context.now(),
        )


# --- /back and /cancel --------------------------------------------------------------------------------


async def back(update: Update, context: BotContext) -> str | int:
    who = _who(context)
    t = context.t
    async with context.transaction() as db:
        draft = await intake.current_draft(db, who.account_id)
        replies: list[Reply]
        state: str | int
        if draft is None:
            replies, state = [_not_open(t)], END
        else:
            replies, state = await _one_back(db, draft, t, who)
    await _send(update, context, replies)
    return state


async def _one_back(
    db: AsyncSession, draft: Nomination, t: Translator, who: intake.Context
) -> tuple[list[Reply], str | int]:
    """/back: the question before the one being asked (the first one stays, with a note)."""
    current = Step(draft.draft_step) if draft.draft_step else Step.SUMMARY
    asks_conf = await _asks_conference(db, who.now)
    previous = intake.previous_step(draft, current, asks_unit=intake.asks_unit(draft), asks_conference=asks_conf)
    if previous is None:
        return [await _question(db, draft, current, t, who.now, t("This is the first question."))], current
    draft.draft_step = previous
    draft.draft_editing = False
    return [await _question(db, draft, previous, t, who.now)], previous


async def cancel(update: Update, context: BotContext) -> int:
    who = _who(context)
    t = context.t
    async with context.transaction() as db:
        draft = await intake.current_draft(db, who.account_id)
    if draft is not None and draft.draft_expires_at is not None:
        text = t(
            "Stopped. Your answers are kept as a draft until {date}; type /nominate to continue or start over.",
            date=t.datetime(draft.draft_expires_at),
        )
    else:
        text = t("Stopped. Type /nominate when you want to continue.")
    await _send(update, context, [Reply(text)])
    return END


# --- expiry -------------------------------------------------------------------------------------------


async def expire_drafts(context: BotContext) -> None:
    """Repeating job: drafts left too long expire, and their nominators are told (through the outbox)."""
    services = context.application.services  # type: ignore[attr-defined]
    now = services.clock()
    async with services.database.transaction() as db:
        expired = await intake.expire_drafts(db, now)
        for draft in expired:
            nominator = await accounts.by_id(db, draft.nominator_id)
            if nominator is None:
                continue
            t = services.translators.get(nominator.locale)
            await outbox.enqueue(
                db,
                account_id=nominator.id,
                text=t(
                    "Your unfinished nomination ({name}) was not changed for {hours} hours and has expired. "
                    "Type /nominate to start again.",
                    name=draft.nominee_name or t("no name yet"),
                    hours=services.settings.draft_ttl_hours,
                ),
                dedupe_key=f"nomination:{draft.id}:expired",
                topic=f"nomination:{draft.id}",
                now=now,
            )
    if expired:
        logger.info("expired %s draft nomination(s)", len(expired))


# --- wiring -------------------------------------------------------------------------------------------

ENTRY_TEXT = r"(?i)^\s*(đề cử|de cu|nominate)\s*$"


def _step_handlers(step: Step) -> list[Any]:
    return _choice_handlers(str(step), functools.partial(on_answer, step))


def _choice_handlers(name: str, callback: Any) -> list[Any]:
    """A press (data ``nom:<name>:<key>``) and a typed answer go to the same ``callback``."""

    async def pressed(update: Update, context: BotContext, key: str) -> Any:
        return await callback(update, context)  # the key is read again, with the options, by _read_choice

    return [
        presses.button(presses.ButtonData(f"{PREFIX}:{name}", str, presses.Key()), pressed),
        MessageHandler(filters.UpdateType.MESSAGE & ~filters.COMMAND, callback),
    ]


def conversation() -> ConversationHandler[BotContext]:
    states: dict[object, list[Any]] = {step: _step_handlers(step) for step in intake.ORDER if step != Step.SUMMARY}
    states[Step.SUMMARY] = _choice_handlers(str(Step.SUMMARY), on_summary)
    states[RESUME] = _choice_handlers("resume", resume)
    states[EDIT] = _choice_handlers("edit", on_edit)
    states[DUPLICATE] = _choice_handlers("dup", on_duplicate)
    states[ALLOWANCE] = _choice_handlers("allowance", on_allowance)
    return Dialogue(
        entry_points=[
            CommandHandler("nominate", begin),
            MessageHandler(filters.UpdateType.MESSAGE & filters.Regex(ENTRY_TEXT), begin),
        ],
        states=states,
        fallbacks=[
            CommandHandler("cancel", cancel),
            CommandHandler("back", back),
            CommandHandler("nominate", begin),
        ],
        name="nominate",
        persistent=True,
        allow_reentry=True,
    )
