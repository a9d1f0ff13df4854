"""Inviting delegates: /invite for approved exemplars, and guest lists sent as spreadsheets.

``/invite DH-2020-0042`` invites that approved nomination's nominee into the exemplar pool of its
conference; ``/invite all [conference]`` every approved nomination of a conference not invited yet. The
pool's seats, how many are invited and accepted, and the effect ("210 ghế; đã mời 180 … → sẽ mời thêm 12")
are shown before a Yes/No confirmation; nobody already invited is invited twice, and "No" creates nothing.

An organiser sends the list of guests and leaders as an Excel (.xlsx) or CSV document. Every row is
checked; the report names each bad row with its number and reason, and nothing is invited until the
organiser confirms the good rows (or sends a fixed file). Importing the same file again invites nobody
twice. A person who is not an organiser and sends a spreadsheet is told politely that this is for
organisers. What a confirmation covers is kept in the database, so a restart resumes at the question.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update
from telegram.error import TelegramError
from telegram.ext import BaseHandler, CommandHandler, ConversationHandler, MessageHandler, filters

from bot.context import BotContext
from bot.i18n import N_, Translator
from handlers import clarify, presses
from handlers.common import refuse
from handlers.conference import closed_text
from handlers.dialogue import Dialogue
from handlers.exports import (
    OTHER,
    TEXT,
    ConferenceQuestion,
    Offered,
    answer_query,
    chat_id,
    may_manage,
    organisers_only,
    over_seats_line,
    pool_line,
    send_long,
)
from handlers.keyboards import keyboard
from handlers.presses import ButtonData, Choice, Count, Id, button
from handlers.review import status_label
from rules import conferences, delegates, guest_lists, identities
from rules.choices import NO, YES, Option
from rules.conferences import Closed, Use
from rules.delegates import InvitePreview
from rules.guest_lists import UnreadableFile
from rules.roles import NotAllowed
from rules.seats import PoolCount, pool_counts
from rules.text import fold
from storage.models import Conference, InvitationImport

END = ConversationHandler.END
INVITE_CONFERENCE = "invite.conference"
INVITE_CONFIRM = "invite.confirm"
GUEST_CONFERENCE = "guest_list.conference"
GUEST_CONFIRM = "guest_list.confirm"
# Kept in ptb_data per organiser while a question is open.
INVITE_DESK = "invite"
GUEST_DESK = "guest_list"
ALL_WORDS = frozenset({"all", "tat ca", "tatca"})
NAMES_SHOWN = 30
PROBLEMS_SHOWN = 60


class InvitePress(NamedTuple):
    answer: str
    shown: int  # how many the preview showed


class ImportPress(NamedTuple):
    answer: str
    import_id: int


# Callback data: ivc:<yes|no>:<count> (the count must match what is pending); glc:<ok|no>:<import id>.
INVITE_DATA = ButtonData("ivc", InvitePress, Choice("yes", "no"), Count())
IMPORT_DATA = ButtonData("glc", ImportPress, Choice("ok", "no"), Id())
SPREADSHEET = (
    filters.Document.FileExtension("xlsx")
    | filters.Document.FileExtension("xls")
    | filters.Document.FileExtension("csv")
    | filters.Document.MimeType("text/csv")
    | filters.Document.MimeType("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
)


def _account_id(context: BotContext) -> int:
    assert context.account is not None
    return context.account.id


# --- /invite -----------------------------------------------------------------------------------------


def _usage(t: Translator, channel: str) -> str:
    exemplars = t(
        "To invite approved exemplars, type for example:\n"
        "/invite DH-2020-0001 — one approved nomination\n"
        "/invite all — every approved nomination of a conference not invited yet"
    )
    if channel == identities.ZALO:
        # Zalo delivers no documents: asking for the file there would leave the organiser waiting.
        guests = t(
            "Guest lists cannot be sent on Zalo: send the Excel file to the bot on Telegram, or import it "
            "with the command line (dienhinh invitations import FILE)."
        )
    else:
        guests = t(
            "To invite guests and leaders, send me their list as an Excel (.xlsx) or CSV file with the columns Họ và tên, Năm sinh, Giới tính, Dân tộc, Đơn vị, Chức vụ, Thành phần, Số điện thoại (and Nhóm if some are not guests)."
        )
    return exemplars + "\n\n" + guests


def _nominee_lines(nominees: Sequence[delegates.Nominee], t: Translator) -> list[str]:
    lines = [f"• {nominee.code} — {nominee.name}" for nominee in nominees[:NAMES_SHOWN]]
    if len(nominees) > NAMES_SHOWN:
        lines.append(t("… and {count} more", count=t.number(len(nominees) - NAMES_SHOWN)))
    return lines


def _refusal_text(t: Translator, preview: InvitePreview) -> str:
    refusal = preview.refusal
    if refusal == "not_found":
        return t("I found no nomination with the code {code}.", code=preview.code)
    if refusal == "not_approved":
        return t(
            "Only approved nominations can be invited; {code} is: {status}.",
            code=preview.code,
            status=status_label(t, preview.nomination_status or ""),
        )
    if refusal == "no_conference":
        return t("{code} is not for any conference, so there is nothing to invite it to.", code=preview.code)
    if refusal == "no_pool":
        return t("{title} has no pool of exemplar seats in its plan.", title=preview.conference_title)
    if refusal == "ended":
        return t("{title} has ended, so nobody can be invited to it any more.", title=preview.conference_title)
    if preview.already_invited and preview.code:
        nominee = preview.already_invited[0]
        return t(
            "{code} ({name}) is already invited to {title}.",
            code=nominee.code,
            name=nominee.name,
            title=preview.conference_title,
        )
    if preview.already_invited:
        return t(
            "Every approved nomination of {title} is already invited ({count}).",
            title=preview.conference_title,
            count=t.number(len(preview.already_invited)),
        )
    return t("No approved nomination of {title} is waiting to be invited.", title=preview.conference_title)


def _preview_text(t: Translator, preview: InvitePreview) -> str:
    assert preview.pool is not None
    adding = len(preview.to_invite)
    lines = [t("Invite to {title}, as exemplar delegates:", title=preview.conference_title)]
    lines += _nominee_lines(preview.to_invite, t)
    if preview.already_invited:
        lines += ["", t("Already invited, skipped ({count}):", count=t.number(len(preview.already_invited)))]
        lines += _nominee_lines(preview.already_invited, t)
    lines += ["", pool_line(t, preview.pool, adding)]
    warning = over_seats_line(t, preview.pool, adding)
    if warning:
        lines.append(warning)
    lines += ["", t("Create these {count} invitations?", count=t.number(adding))]
    return "\n".join(lines)


def _invite_options(t: Translator, count: int) -> list[Option]:
    return [
        Option(f"yes:{count}", t("Yes, invite {count}", count=t.number(count)), means=YES),
        Option(f"no:{count}", t("No, do not invite"), means=NO),
    ]


async def _show_preview(update: Update, context: BotContext, preview: InvitePreview | NotAllowed) -> str | int:
    t = context.t
    if isinstance(preview, NotAllowed):
        return await refuse(update, context, preview)
    async with context.transaction() as db:
        if preview.refusal is None:
            await delegates.remember(
                db,
                INVITE_DESK,
                _account_id(context),
                {"conference_id": preview.conference_id, "nomination_ids": preview.nomination_ids},
            )
        else:
            await delegates.forget(db, INVITE_DESK, _account_id(context))
    if preview.refusal is not None:
        await context.bot.send_message(chat_id(update), _refusal_text(t, preview))
        return END
    markup = keyboard("ivc", _invite_options(t, len(preview.to_invite)), columns=2)
    await send_long(update, context, _preview_text(t, preview), markup)
    return INVITE_CONFIRM


async def _preview_conference(update: Update, context: BotContext, conference_id: int) -> str | int:
    async with context.transaction() as db:
        preview = await delegates.preview_conference(
            db, conference_id, actor_id=_account_id(context), now=context.now()
        )
    return await _show_preview(update, context, preview)


def _open_for(use: Use) -> Offered:
    async def offered(session: AsyncSession, now: dt.datetime) -> list[Conference]:
        return await conferences.open_for(session, use, now)

    return offered


INVITE_QUESTION = ConferenceQuestion(
    "ivk",
    INVITE_CONFERENCE,
    N_("Which conference do you want to invite approved exemplars to?"),
    _preview_conference,
    offered=_open_for(Use.INVITATIONS),
    none_offered=N_("No conference takes invitations now: the conferences of the plan have ended."),
)


def _after_all(args: Sequence[str]) -> Sequence[str] | None:
    """The words after "all" ("tất cả"), or None when the command is not "/invite all …"."""
    for size in (2, 1):
        if len(args) >= size and fold(" ".join(args[:size])) in ALL_WORDS:
            return args[size:]
    return None


async def invite(update: Update, context: BotContext) -> str | int:
    t = context.t
    if not may_manage(context):
        await context.bot.send_message(chat_id(update), organisers_only(t))
        return END
    args = context.args or []
    if not args:
        await context.bot.send_message(chat_id(update), _usage(t, context.channel))
        return END
    rest = _after_all(args)
    if rest is not None:
        return await INVITE_QUESTION.start(update, context, " ".join(rest))
    async with context.transaction() as db:
        preview = await delegates.preview_nomination(
            db, " ".join(args), actor_id=_account_id(context), now=context.now()
        )
    return await _show_preview(update, context, preview)


async def _invite_decided(update: Update, context: BotContext, key: str) -> int:
    t = context.t
    answer, count = key.split(":")
    result = None
    async with context.transaction() as db:
        desk = await delegates.recall(db, INVITE_DESK, _account_id(context))
        ids = [int(value) for value in desk.get("nomination_ids", [])]
        current = bool(desk) and len(ids) == int(count)
        if answer == "yes" and current:
            result = await delegates.invite_nominations(
                db,
                conference_id=int(desk["conference_id"]),
                nomination_ids=ids,
                secret=context.services.link_secret,
                actor_id=_account_id(context),
                now=context.now(),
            )
        await delegates.forget(db, INVITE_DESK, _account_id(context))
    if isinstance(result, NotAllowed):
        return await refuse(update, context, result)
    if answer != "yes":
        await answer_query(context)
        await context.bot.send_message(chat_id(update), t("Nothing was invited."))
        return END
    if result is None:
        stale = t("This confirmation is out of date. Please type /invite again.")
        await answer_query(context, stale)
        if update.callback_query is None:
            await context.bot.send_message(chat_id(update), stale)
        return END
    await answer_query(context)
    lines = [t("Invited {count} exemplars.", count=t.number(len(result.created)))]
    if result.skipped:
        lines += [t("Not invited, because they were invited or changed meanwhile:")]
        lines += _nominee_lines(result.skipped, t)
    lines += ["", t("Type /invitations to get their personal links and QR codes for the units to hand out.")]
    await send_long(update, context, "\n".join(lines))
    return END


async def _invite_pressed(update: Update, context: BotContext, chosen: InvitePress) -> int:
    if not may_manage(context):
        await presses.answer(context, organisers_only(context.t))
        return END
    return await _invite_decided(update, context, f"{chosen.answer}:{chosen.shown}")


async def _invite_typed(update: Update, context: BotContext) -> str | int:
    assert update.message is not None
    async with context.transaction() as db:
        desk = await delegates.recall(db, INVITE_DESK, _account_id(context))
    options = _invite_options(context.t, len(desk.get("nomination_ids", [])))
    result = await clarify.answer(context, "ivc", update.message.text or "", options, columns=2)
    if isinstance(result, clarify.Ask):
        await clarify.send(update, context, result)
        return INVITE_CONFIRM
    if isinstance(result, clarify.Again):
        await context.bot.send_message(chat_id(update), result.note, reply_markup=keyboard("ivc", options, columns=2))
        return INVITE_CONFIRM
    return await _invite_decided(update, context, result.option.key)


async def _please_answer(update: Update, context: BotContext) -> None:
    await context.bot.send_message(
        chat_id(update),
        context.t("Please press a button or type its number, or /cancel to stop.")
        if context.t.buttons
        else context.t("Please type the number of your choice, or /cancel to stop."),
    )


async def _cancel_invite(update: Update, context: BotContext) -> int:
    async with context.transaction() as db:
        await delegates.forget(db, INVITE_DESK, _account_id(context))
    await context.bot.send_message(chat_id(update), context.t("Cancelled. No invitation was created."))
    return END


def invite_conversation() -> ConversationHandler[BotContext]:
    pressed: BaseHandler[Update, BotContext, Any] = button(INVITE_DATA, _invite_pressed)
    return Dialogue(
        entry_points=[CommandHandler("invite", invite), pressed],
        states={
            INVITE_CONFERENCE: INVITE_QUESTION.handlers(),
            INVITE_CONFIRM: [pressed, MessageHandler(TEXT, _invite_typed), MessageHandler(OTHER, _please_answer)],
        },
        fallbacks=[CommandHandler("cancel", _cancel_invite), CommandHandler("invite", invite), pressed],
        name="invite",
        persistent=True,
        allow_reentry=True,
    )


# --- guest lists ---------------------------------------------------------------------------------------


def rows_read(staged: InvitationImport) -> int:
    rows = {row["row"] for row in staged.rows}
    rows |= {problem["row"] for problem in staged.problems if problem["code"] != "ignored_columns"}
    return len(rows)


def _problem_lines(t: Translator, problems: Sequence[dict[str, Any]], limit: int | None) -> list[str]:
    shown = problems if limit is None else problems[:limit]
    lines = [t(msgid, **values) for msgid, values in map(guest_lists.problem_message, shown)]
    if limit is not None and len(problems) > limit:
        lines.append(t("… and {count} more rows", count=t.number(len(problems) - limit)))
    return lines


def import_report(
    t: Translator,
    staged: InvitationImport,
    *,
    conference_title: str,
    pools: Sequence[PoolCount],
    earlier: InvitationImport | None,
    limit: int | None = PROBLEMS_SHOWN,
) -> str:
    """What a checked guest list holds: rows read, ready, left out (each with its row and reason), skipped."""
    errors = guest_lists.blocking(staged.problems)
    skipped = [problem for problem in staged.problems if problem["code"] == "already_invited"]
    notes = [problem for problem in staged.problems if problem["code"] == "ignored_columns"]
    lines = [
        t(
            "Guest list “{file}” for {title}: {count} rows read.",
            file=staged.file_name,
            title=conference_title,
            count=t.number(rows_read(staged)),
        )
    ]
    if earlier is not None:
        lines.append(
            t(
                "This file was already imported on {date}; nobody in it is invited twice.",
                date=t.date(earlier.confirmed_at or earlier.created_at),
            )
        )
    lines.append(t("✅ Ready to invite: {count}.", count=t.number(len(staged.rows))))
    adding = guest_lists.pool_rows(staged)
    for pool in pools:
        if adding.get(pool.code):
            lines.append(pool_line(t, pool, adding[pool.code]))
            warning = over_seats_line(t, pool, adding[pool.code])
            if warning:
                lines.append(warning)
    if errors:
        bad = len(guest_lists.bad_rows(staged.problems))
        lines += ["", t("❌ Rows with problems, left out ({count}):", count=t.number(bad))]
        lines += _problem_lines(t, errors, limit)
    if skipped:
        lines += ["", t("ℹ️ Already invited, skipped ({count}):", count=t.number(len(skipped)))]
        lines += _problem_lines(t, skipped, limit)
    if notes:
        lines += ["", *_problem_lines(t, notes, None)]
    return "\n".join(lines)


def _import_options(t: Translator, import_id: int, count: int) -> list[Option]:
    return [
        Option(
            f"ok:{import_id}",
            t("Invite the {count} people ready", count=t.number(count)),
            aliases=("xác nhận", "confirm"),
            means=YES,
        ),
        Option(f"no:{import_id}", t("Cancel the import"), aliases=("hủy", "huỷ", "cancel"), means=NO),
    ]


async def _stage(update: Update, context: BotContext, conference_id: int) -> str | int:
    t = context.t
    account_id = _account_id(context)
    async with context.transaction() as db:
        desk = await delegates.recall(db, GUEST_DESK, account_id)
    if not desk.get("file_id"):
        await context.bot.send_message(chat_id(update), t("Please send the guest list file again."))
        return END
    try:
        telegram_file = await context.bot.get_file(desk["file_id"])
        data = bytes(await telegram_file.download_as_bytearray())
    except TelegramError:
        await context.bot.send_message(
            chat_id(update), t("Sorry, I could not download the file. Please send it again.")
        )
        return END
    file_name = desk.get("file_name") or "guest-list"
    try:
        # In a process of its own and outside any transaction: a hostile file stalls neither the event
        # loop nor other writers (SQLite's write lock) while it is read and refused.
        table = await guest_lists.read_guest_list(file_name, data)
    except UnreadableFile as problem:
        async with context.transaction() as db:
            await delegates.forget(db, GUEST_DESK, account_id)
        await context.bot.send_message(
            chat_id(update),
            t(problem.msgid, **problem.values)
            + "\n\n"
            + t("Nothing was imported. Please fix the file and send it again."),
        )
        return END
    async with context.transaction() as db:
        await delegates.forget(db, GUEST_DESK, account_id)
        staged = await guest_lists.stage_import(db, conference_id, file_name, table, account_id, context.now())
        if not isinstance(staged, NotAllowed | Closed):
            earlier = await guest_lists.earlier_import(db, staged)
            pools = await pool_counts(db, conference_id)
            conference = await db.get_one(Conference, conference_id)
            if not staged.rows:
                await guest_lists.cancel_import(db, staged.id)
    if isinstance(staged, NotAllowed):
        return await refuse(update, context, staged)
    if isinstance(staged, Closed):
        await context.bot.send_message(chat_id(update), closed_text(t, staged, Use.GUEST_LISTS))
        return END
    report = import_report(t, staged, conference_title=conference.title, pools=pools, earlier=earlier)
    if not staged.rows:
        await send_long(
            update,
            context,
            report + "\n\n" + t("Nothing can be imported from this file. Please fix it and send it again."),
        )
        return END
    question = t(
        "Nothing is invited until you confirm. Invite the {count} people ready now, or fix the file and send it again.",
        count=t.number(len(staged.rows)),
    )
    markup = keyboard("glc", _import_options(t, staged.id, len(staged.rows)))
    await send_long(update, context, f"{report}\n\n{question}", markup)
    return GUEST_CONFIRM


GUEST_QUESTION = ConferenceQuestion(
    "glk",
    GUEST_CONFERENCE,
    N_("Which conference is this guest list for?"),
    _stage,
    offered=_open_for(Use.GUEST_LISTS),
    none_offered=N_("No conference takes guest lists now: the conferences of the plan have ended."),
)


async def guest_list_received(update: Update, context: BotContext) -> str | int:
    message = update.message
    assert message is not None and message.document is not None
    t = context.t
    if not may_manage(context):
        await message.reply_text(t("Sorry, only organisers can import guest lists. Type /help to see what I can do."))
        return END
    document = message.document
    if document.file_size and document.file_size > guest_lists.MAX_BYTES:
        problem = UnreadableFile(
            "too_large",
            size=f"{document.file_size / 1024 / 1024:.1f}",
            max=guest_lists.MAX_BYTES // 1024 // 1024,
        )
        await message.reply_text(t(problem.msgid, **problem.values))
        return END
    async with context.transaction() as db:
        await delegates.remember(
            db,
            GUEST_DESK,
            _account_id(context),
            {"file_id": document.file_id, "file_name": document.file_name or "guest-list"},
        )
        named = await delegates.find_conference(db, message.caption) if message.caption else None
        if named is not None and not conferences.is_open_for(named, Use.GUEST_LISTS, context.now()):
            named = None  # an ended conference named in the caption: asked among those open
    if named is not None:
        return await _stage(update, context, named.id)
    return await GUEST_QUESTION.start(update, context, "")


async def _import_decided(update: Update, context: BotContext, answer: str, import_id: int) -> int:
    t = context.t
    created: int | NotAllowed | Closed = 0
    rows = 0
    async with context.transaction() as db:
        staged = await guest_lists.get_import(db, import_id)
        status = staged.status if staged is not None else None
        if staged is not None and status == guest_lists.PENDING and answer == "ok":
            rows = len(staged.rows)
            created = await guest_lists.confirm_import(
                db, import_id, _account_id(context), context.now(), context.services.link_secret
            )
        elif status == guest_lists.PENDING:
            await guest_lists.cancel_import(db, import_id)
    if isinstance(created, NotAllowed):
        return await refuse(update, context, created)
    if isinstance(created, Closed):
        await answer_query(context)
        await context.bot.send_message(chat_id(update), closed_text(context.t, created, Use.GUEST_LISTS))
        return END
    if status != guest_lists.PENDING:
        stale = t("This guest list was already imported or cancelled.")
        await answer_query(context, stale)
        if update.callback_query is None:
            await context.bot.send_message(chat_id(update), stale)
        return END
    await answer_query(context)
    if answer != "ok":
        await context.bot.send_message(chat_id(update), t("Cancelled: nothing was imported."))
        return END
    lines = [t("Invited {count} people from the guest list.", count=t.number(created))]
    if created < rows:
        lines.append(t("{count} were invited meanwhile and were skipped.", count=t.number(rows - created)))
    lines.append(t("Type /invitations to get their personal links and QR codes for the units to hand out."))
    await context.bot.send_message(chat_id(update), "\n".join(lines))
    return END


async def _import_pressed(update: Update, context: BotContext, chosen: ImportPress) -> int:
    if not may_manage(context):
        await presses.answer(context, organisers_only(context.t))
        return END
    return await _import_decided(update, context, chosen.answer, chosen.import_id)


async def _import_typed(update: Update, context: BotContext) -> str | int:
    assert update.message is not None
    async with context.transaction() as db:
        staged = await guest_lists.latest_pending(db, _account_id(context))
    if staged is None:
        await context.bot.send_message(chat_id(update), context.t("No guest list is waiting for your confirmation."))
        return END
    options = _import_options(context.t, staged.id, len(staged.rows))
    result = await clarify.answer(context, "glc", update.message.text or "", options)
    if isinstance(result, clarify.Ask):
        await clarify.send(update, context, result)
        return GUEST_CONFIRM
    if isinstance(result, clarify.Again):
        await context.bot.send_message(chat_id(update), result.note, reply_markup=keyboard("glc", options))
        return GUEST_CONFIRM
    answer, import_id = result.option.key.split(":")
    return await _import_decided(update, context, answer, int(import_id))


async def _cancel_import(update: Update, context: BotContext) -> int:
    async with context.transaction() as db:
        await delegates.forget(db, GUEST_DESK, _account_id(context))
        staged = await guest_lists.latest_pending(db, _account_id(context))
        if staged is not None:
            await guest_lists.cancel_import(db, staged.id)
    await context.bot.send_message(chat_id(update), context.t("Cancelled: nothing was imported."))
    return END


def guest_list_conversation() -> ConversationHandler[BotContext]:
    received: BaseHandler[Update, BotContext, Any] = MessageHandler(
        filters.UpdateType.MESSAGE & SPREADSHEET, guest_list_received
    )
    pressed: BaseHandler[Update, BotContext, Any] = button(IMPORT_DATA, _import_pressed)
    return Dialogue(
        entry_points=[received, pressed],
        states={
            GUEST_CONFERENCE: GUEST_QUESTION.handlers(),
            GUEST_CONFIRM: [pressed, MessageHandler(TEXT, _import_typed), MessageHandler(OTHER, _please_answer)],
        },
        fallbacks=[CommandHandler("cancel", _cancel_import), received, pressed],
        name="guest_list",
        persistent=True,
        allow_reentry=True,
    )


def conversations() -> list[ConversationHandler[BotContext]]:
    return [invite_conversation(), guest_list_conversation()]
