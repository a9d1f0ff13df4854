"""Personal data: /privacy (the notice), /mydata (see it, and a file to keep), /withdraw CODE (consent),
/erase (after a confirmation that says what goes and what stays), /request (ask the organisers) and, for
organisers, /requests (the queue; ``/requests N reply`` closes one and tells the person).

Parse and render only: every change is a use case in ``rules.privacy``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from telegram import InputFile, Update
from telegram.ext import BaseHandler, CommandHandler, ConversationHandler, MessageHandler, filters

from bot.context import BotContext
from bot.i18n import N_, Translator, Translators
from handlers.common import is_organiser, refuse
from handlers.dialogue import Dialogue
from handlers.keyboards import ChoicePrompt
from handlers.review import nomination_line
from handlers.roles import role_label
from handlers.rsvp import STATUS_WORDS
from rules import privacy, retention
from rules.choices import NO, YES, Option
from rules.privacy import (
    Controller,
    DetailProblem,
    ErasurePlan,
    HandleRefusal,
    MyData,
    Refusal,
    RequestKind,
    RequestStatus,
)
from rules.retention import Kind
from rules.roles import NotAllowed
from rules.text import parse_id

if TYPE_CHECKING:
    from bot.services import Services

logger = logging.getLogger(__name__)
END = ConversationHandler.END
CONFIRMING = "privacy.erase.confirming"
REQUEST_KIND = "privacy.request.kind"
LANGUAGES = {"vi": "Tiếng Việt", "en": "English"}
CHANNEL_NAMES = {"telegram": "Telegram", "zalo": "Zalo"}
# One state per kind of request while its text is awaited: the state itself remembers the kind, so a
# restart in between loses nothing.
DETAIL_STATES = {kind: f"privacy.request.{kind}" for kind in RequestKind}
SHOWN = 10  # items of each list in the /mydata summary; the file has them all

RETAINED: dict[Kind, str] = {
    Kind.DRAFT: N_("Unfinished nomination drafts: {days} days after the last answer"),
    Kind.NOMINATION_NOT_APPROVED: N_(
        "Nominations not accepted, withdrawn or marked as duplicates: {days} days after the campaign ends"
    ),
    Kind.INVITATION: N_("Invitations and attendance: {days} days after the conference, then only the counts are kept"),
    Kind.GUEST_LIST: N_("Guest lists sent as files: {days} days after they are sent"),
    Kind.EVIDENCE: N_("Photos and documents sent as evidence: {days} days after the campaign ends"),
    Kind.EXPORT: N_("Files made for you (Excel lists, QR codes, /mydata): {days} days"),
    Kind.OUTBOX: N_("The texts of messages the bot sent you on its own (reminders, decisions): {days} days"),
    Kind.AUDIT: N_("The audit trail (who did what, when): at least {days} days; it is not cut automatically"),
}
KINDS: dict[str, str] = {
    RequestKind.CORRECT: N_("Correct data about me"),
    RequestKind.ERASE: N_("Erase data about me that someone else sent"),
    RequestKind.OBJECT: N_("Object to a use of my data"),
    RequestKind.OTHER: N_("Another question about my data"),
}
CONSENT_GIVEN = N_("• {code}: {what} — given on {date}")
CONSENT_WITHDRAWN = N_("• {code}: {what} — not given or withdrawn on {date}")
CONSENTS = {
    "sensitive": N_("ethnicity and religion"),
    "publicity": N_("publishing the story"),
}


def _chat(update: Update) -> int:
    assert update.effective_chat is not None
    return update.effective_chat.id


async def _say(update: Update, context: BotContext, text: str) -> None:
    await context.bot.send_message(_chat(update), text)


# --- /privacy ---------------------------------------------------------------------------------------------


def notice_text(t: Translator, controller: Controller, rules: retention.RetentionFile) -> str:
    """The privacy notice, in the person's language; the body responsible and its contact from the plan."""
    who = [t("Responsible for your data: {name}.", name=controller.name or t("the organising body of the campaign"))]
    for msgid, value in (
        (N_("Contact: {value}"), controller.contact),
        (N_("Address: {value}"), controller.address),
        (N_("Phone: {value}"), controller.phone),
        (N_("E-mail: {value}"), controller.email),
    ):
        if value:
            who.append(t(msgid, value=value))
    kept = [t(RETAINED[kind], days=t.number(rules.period(kind).days)) for kind in Kind]
    sections = [
        t("🔒 How this bot handles personal data"),
        "\n".join(who),
        t(
            "What is collected, and why:\n"
            "• Your account: the name your app shows, your language, your role and unit: to know who is writing and what you may do.\n"
            "• The nominations you send: the nominee's name, gender, year of birth, position, unit, phone (if given), achievements and evidence: to consider them for commendation.\n"
            "• Ethnicity and religion are sensitive personal data: recorded only with consent, only to report the balance of the delegates.\n"
            "• Invitations: name, year of birth, unit, position, your answers and the check-in: to organise the conference.\n"
            "• Endorsements: that you recognise a nominee, and your comment."
        ),
        t(
            "Who sees it: the organisers and reviewers of the campaign; ethnicity, religion and phone numbers only the organisers. A story is published only when the nominee agreed. Nothing is sold or passed to anyone else."
        ),
        t("How long it is kept:") + "\n" + "\n".join(f"• {line}" for line in kept),
        t(
            "Your rights under the Law on Personal Data Protection (Law 91/2025/QH15) and Decree 356/2025/NĐ-CP: to be informed, to give and withdraw consent, to see your data, to have it corrected, erased or restricted, and to object. Silence is not consent.\n"
            "• /mydata — see everything the bot holds about you, and get it as a file\n"
            "• /withdraw CODE — withdraw your consent for a nomination you sent (its ethnicity and religion are erased)\n"
            "• /erase — erase your data (you are told first exactly what goes and what must stay)\n"
            "• /request — ask the organisers to correct or erase data about you (also when someone else nominated you), or object to a use of it"
        ),
        t(
            "Questions or complaints: write /request, or contact {name} as above.",
            name=controller.name or t("the organisers"),
        ),
    ]
    return "\n\n".join(sections)


async def privacy_command(update: Update, context: BotContext) -> None:
    async with context.transaction() as db:
        controller = await privacy.controller(db)
    await _say(update, context, notice_text(context.t, controller, retention.load()))


# --- /mydata ----------------------------------------------------------------------------------------------


def _when(t: Translator, moment: Any) -> str:
    return t.date(moment) if moment is not None else "—"


def _more(t: Translator, items: list[str], total: int) -> list[str]:
    if total > len(items):
        items.append(t("… and {count} more (in the file)", count=t.number(total - len(items))))
    return items


REQUEST_STATUS = {RequestStatus.OPEN: N_("waiting for the organisers"), RequestStatus.DONE: N_("answered")}


def _kind(t: Translator, request: dict[str, Any]) -> str:
    kind = request["kind"]
    return t(KINDS[kind])


def _request_status(t: Translator, request: dict[str, Any]) -> str:
    status = request["status"]
    return t(REQUEST_STATUS[status])


def _invitation_status(t: Translator, invitation: dict[str, Any]) -> str:
    status = invitation["status"]
    return t(STATUS_WORDS[status]) if status in STATUS_WORDS else status


def _invitation_line(t: Translator, invitation: dict[str, Any]) -> str:
    """Invited when, the answer and when it was given, and the check-in: the time and who recorded it, as
    a role (the person at the desk is not named)."""
    line = t(
        "• {conference}: invited on {date}; {status}",
        conference=invitation["conference"],
        date=_when(t, invitation["invited_at"]),
        status=_invitation_status(t, invitation),
    )
    if invitation["responded_at"]:
        line += t(" (answered on {date})", date=_when(t, invitation["responded_at"]))
    if invitation["checked_in_at"]:
        by = invitation["checked_in_by"]
        line += t(
            "; checked in at {moment}, recorded by: {role}",
            moment=t.datetime(invitation["checked_in_at"]),
            role=role_label(t, by) if by else "—",
        )
    return line


def summary_text(t: Translator, data: MyData) -> str:
    account = data.account
    lines = [
        t("Your data, account #{number}:", number=account["number"]),
        t("• Name: {name}", name=account["name"] or "—"),
        t(
            "• Language: {language}; role: {role}",
            language=LANGUAGES.get(account["language"] or "") or t("not chosen"),
            role=role_label(t, account["role"]),
        ),
    ]
    if account["unit"]:
        lines.append(t("• Unit: {unit}", unit=account["unit"]))
    for identity in data.identities:
        lines.append(
            t(
                "• On {channel} since {date}",
                channel=CHANNEL_NAMES.get(identity["channel"], identity["channel"]),
                date=_when(t, identity["since"]),
            )
        )
    parts = ["\n".join(lines)]
    consents = [
        t(
            CONSENT_GIVEN if consent.given else CONSENT_WITHDRAWN,
            code=consent.nomination or t("(draft)"),
            what=t(CONSENTS[consent.what]),
            date=_when(t, consent.at),
        )
        for consent in data.consents[:SHOWN]
    ]
    if consents:
        parts.append("\n".join([t("Consents:"), *_more(t, consents, len(data.consents))]))
    sections: list[tuple[str, list[str], int]] = [
        (
            t("Nominations you sent ({count}):", count=t.number(len(data.nominations))),
            [nomination_line(t, n["code"], n["nominee_name"], n["status"]) for n in data.nominations[:SHOWN]],
            len(data.nominations),
        ),
        (
            t("Invitations ({count}):", count=t.number(len(data.invitations))),
            [_invitation_line(t, i) for i in data.invitations[:SHOWN]],
            len(data.invitations),
        ),
        (
            t("Endorsements ({count}):", count=t.number(len(data.endorsements))),
            [
                t("• {code} on {date}", code=e["nomination"] or "—", date=_when(t, e["at"]))
                for e in data.endorsements[:SHOWN]
            ],
            len(data.endorsements),
        ),
        (
            t("Your requests to the organisers ({count}):", count=t.number(len(data.requests))),
            [
                t(
                    "• No. {number}: {kind} — {status}",
                    number=r["number"],
                    kind=_kind(t, r),
                    status=_request_status(t, r),
                )
                for r in data.requests[:SHOWN]
            ],
            len(data.requests),
        ),
    ]
    for heading, items, total in sections:
        if total:
            parts.append("\n".join([heading, *_more(t, items, total)]))
    parts.append(t("Everything is also in the file below. To correct something, type /request; to erase, /erase."))
    return "\n\n".join(parts)


async def mydata_command(update: Update, context: BotContext) -> None:
    assert context.account is not None
    t = context.t
    async with context.transaction() as db:
        data = await privacy.my_data(db, context.account.id, now=context.now())
    if data is None:
        await _say(update, context, t("I hold no data about you."))
        return
    await _say(update, context, summary_text(t, data))
    content = json.dumps(data.as_json(), ensure_ascii=False, indent=2).encode("utf-8")
    await context.bot.send_document(
        _chat(update),
        document=InputFile(content, filename=f"mydata-{context.account.id}.json"),
        caption=t("Your data as a file (JSON), for you to keep."),
    )


# --- /withdraw CODE ---------------------------------------------------------------------------------------


async def withdraw_command(update: Update, context: BotContext) -> None:
    assert context.account is not None
    t = context.t
    if not context.args:
        await _say(
            update,
            context,
            t(
                "Please add the code of the nomination, e.g. /withdraw DH-2020-0001. Type /mine to see your nominations."
            ),
        )
        return
    code = " ".join(context.args)
    async with context.transaction() as db:
        outcome = await privacy.withdraw_consent(db, context.account.id, code, now=context.now())
    texts = {
        Refusal.NOT_FOUND: N_("I found no nomination with the code {code}."),
        Refusal.NOT_YOURS: N_("Sorry, you can only withdraw consent for the nominations you sent yourself."),
        Refusal.NOTHING_TO_WITHDRAW: N_("The nomination {code} carries no consent to withdraw."),
    }
    if isinstance(outcome, Refusal):
        await _say(update, context, t(texts[outcome], code=code.strip().upper()))
        return
    lines = [t("Done: the consents of {code} are withdrawn and recorded.", code=outcome.code)]
    if outcome.erased_sensitive:
        lines.append(t("Its ethnicity and religion are erased."))
    lines.append(t("Its story will not be published."))
    if outcome.was_published:
        lines.append(t("It was published already: to have that post taken down, type /request."))
    await _say(update, context, " ".join(lines))


# --- /erase -----------------------------------------------------------------------------------------------


def erasure_text(t: Translator, plan: ErasurePlan) -> str:
    goes = [t("• your account: name, username, language, role and unit, and the way the bot reaches you")]
    if plan.drafts:
        goes.append(t("• your unfinished drafts ({count})", count=t.number(plan.drafts)))
    if plan.open_nominations:
        goes.append(
            t("• nominations not decided yet, withdrawn and erased: {codes}", codes=", ".join(plan.open_nominations))
        )
    if plan.closed_nominations:
        goes.append(t("• nominations not accepted or withdrawn: {codes}", codes=", ".join(plan.closed_nominations)))
    if plan.endorsements:
        goes.append(
            t(
                "• your endorsements ({count}); on approved nominations only your comment",
                count=t.number(plan.endorsements),
            )
        )
    if plan.files:
        goes.append(t("• files kept for you ({count})", count=t.number(plan.files)))
    goes.append(t("• messages waiting to be sent to you"))
    stays = []
    if plan.kept_nominations:
        stays.append(
            t(
                "• approved nominations ({codes}): they are part of the official commendation record, so the nominee's record stays, but it no longer says who sent it",
                codes=", ".join(plan.kept_nominations),
            )
        )
    if plan.invitations:
        stays.append(
            t(
                "• your invitations ({count}): the organisers keep the conference record (name as on their list, attendance) until its retention period ends; it is no longer linked to you",
                count=t.number(plan.invitations),
            )
        )
    stays.append(
        t(
            "• the audit trail and your requests to the organisers: the record of what was done with your data, this erasure included"
        )
    )
    return "\n\n".join(
        [
            t("Before I erase your data, here is exactly what happens."),
            t("Erased:") + "\n" + "\n".join(goes),
            t("Kept, and why:") + "\n" + "\n".join(stays),
            t("This cannot be undone."),
        ]
    )


def _erase_options(context: BotContext) -> list[Option]:
    t = context.t
    return [
        Option("erase", t("Erase my data"), aliases=("xoá", "xóa", "erase"), means=YES),
        Option("keep", t("No, keep it"), aliases=("giữ", "keep"), means=NO),
    ]


async def _erase_chosen(update: Update, context: BotContext, option: Option) -> int:
    assert context.account is not None
    t = context.t
    if option.key != "erase":
        await _say(update, context, t("Nothing was erased."))
        return END
    async with context.transaction() as db:
        erased = await privacy.erase(
            db, context.account.id, now=context.now(), notice=back_to_review_notice(context.services.translators)
        )
        if erased is not None:
            # Said before the identity goes for good: on Zalo the reply is routed through it.
            await _say(
                update,
                context,
                t(
                    "Done: your data is erased. If you write again, you start as someone new. Thank you for taking part."
                ),
            )
    if erased is None:
        await _say(update, context, t("I hold no data about you."))
        return END
    await context.services.database.empty_log()
    address_book = context.services.address_book
    for address in erased.addresses:
        context.services.accounts.forget(address)
        if address_book is not None:
            address_book.forget(address)
    return END


ERASE_PROMPT = ChoicePrompt(
    "erase",
    question=lambda context: context.t("Erase your data?"),
    options=_erase_options,
    on_choice=_erase_chosen,
)


async def erase_command(update: Update, context: BotContext) -> int:
    assert context.account is not None
    async with context.transaction() as db:
        plan = await privacy.erasure_plan(db, context.account.id)
    await ERASE_PROMPT.ask(update, context, note=erasure_text(context.t, plan))
    return CONFIRMING  # type: ignore[return-value]


# --- /request ---------------------------------------------------------------------------------------------


def _kind_options(context: BotContext) -> list[Option]:
    return [Option(key, context.t(label)) for key, label in KINDS.items()]


async def _kind_chosen(update: Update, context: BotContext, option: Option) -> str:
    await _say(update, context, _detail_question(context.t))
    return DETAIL_STATES[RequestKind(option.key)]


def _detail_question(t: Translator) -> str:
    return t(
        "Please write your request in one message: who you are, what should be corrected, erased or stopped, and the code of the nomination if you know it (e.g. DH-2020-0001)."
    )


KIND_PROMPT = ChoicePrompt(
    "privreq",
    question=lambda context: context.t("What would you like to ask the organisers?"),
    options=_kind_options,
    on_choice=_kind_chosen,
)


def _notice_renderer(context: BotContext, msgid: str, **extra: Callable[[Translator, Any], object]) -> Any:
    """A renderer of a request's notice in its reader's language: ``msgid`` with the request's number and
    kind, and ``extra`` values made from the notice."""
    translators = context.services.translators

    def render(notice: Any) -> str:
        t = translators.get(notice.locale)
        values = {name: make(t, notice) for name, make in extra.items()}
        return t(msgid, number=notice.number, kind=t(KINDS[notice.kind]), **values)

    return render


def _new_request_notice(context: BotContext) -> Any:
    return _notice_renderer(
        context,
        N_("New personal-data request no. {number} ({kind}), to be answered by {date}. Type /requests to see it."),
        date=lambda t, notice: t.date(notice.due_at),
    )


async def request_command(update: Update, context: BotContext) -> str:
    await KIND_PROMPT.ask(update, context)
    return REQUEST_KIND


def _detail_handlers(kind: RequestKind) -> list[BaseHandler[Update, BotContext, Any]]:
    async def detail(update: Update, context: BotContext) -> str | int:
        assert update.message is not None and update.message.text is not None and context.account is not None
        return await request_detail(update, context, kind, update.message.text)

    async def not_text(update: Update, context: BotContext) -> str:
        await _say(update, context, _detail_question(context.t))
        return DETAIL_STATES[kind]

    return [
        MessageHandler(filters.UpdateType.MESSAGE & filters.TEXT & ~filters.COMMAND, detail),
        MessageHandler(filters.UpdateType.MESSAGE & ~filters.COMMAND, not_text),
    ]


async def request_detail(update: Update, context: BotContext, kind: RequestKind, text: str) -> str | int:
    assert context.account is not None
    t = context.t
    async with context.transaction() as db:
        filed = await privacy.file_request(
            db, context.account.id, kind, text, now=context.now(), notice=_new_request_notice(context)
        )
    if isinstance(filed, DetailProblem):
        await _say(update, context, t(filed.msgid, **filed.values) + "\n\n" + _detail_question(t))
        return DETAIL_STATES[kind]
    await _say(
        update,
        context,
        t(
            "Thank you. Your request no. {number} is with the organisers; they will answer by {date}, and I will tell you here.",
            number=filed.number,
            date=t.date(filed.due_at),
        ),
    )
    return END


async def cancel(update: Update, context: BotContext) -> int:
    await _say(update, context, context.t("Cancelled. Nothing was changed."))
    return END


# --- /requests (organisers) -------------------------------------------------------------------------------


def _handled_notice(context: BotContext) -> Any:
    return _notice_renderer(
        context,
        N_("The organisers have handled your request no. {number} ({kind}):\n{reply}"),
        reply=lambda _t, notice: notice.reply,
    )


async def requests_command(update: Update, context: BotContext) -> None:
    assert context.account is not None
    t = context.t
    if not is_organiser(context):
        await _say(update, context, t("Sorry, only organisers can do this."))
        return
    if context.args:
        await _handle(update, context, context.args)
        return
    async with context.transaction() as db:
        queue = await privacy.open_requests(db, context.account.id, now=context.now())
    if isinstance(queue, NotAllowed):
        await refuse(update, context, queue)
        return
    if not queue:
        await _say(update, context, t("No personal-data requests are waiting."))
        return
    lines = [t("Personal-data requests waiting ({count}):", count=t.number(len(queue)))]
    for item in queue:
        lines.append(
            t(
                "No. {number} — {kind}{about}, from {name}; answer by {date}{late}:\n{detail}",
                number=item.number,
                kind=t(KINDS[item.kind]),
                about=f" ({item.about})" if item.about else "",
                name=item.requester or t("someone who has since erased their data"),
                date=t.date(item.due_at),
                late=t(" — overdue") if item.overdue else "",
                detail=item.detail,
            )
        )
    lines.append(
        t("When it is done, type /requests NUMBER and what was done, e.g. /requests 3 Năm sinh đã được sửa thành 1978.")
    )
    await _say(update, context, "\n\n".join(lines))


async def _handle(update: Update, context: BotContext, args: list[str]) -> None:
    assert context.account is not None
    t = context.t
    number = parse_id(args[0])
    if number is None or len(args) < 2:
        await _say(
            update,
            context,
            t(
                "Please write the number of the request and what was done, e.g. /requests 3 Năm sinh đã được sửa thành 1978."
            ),
        )
        return
    async with context.transaction() as db:
        outcome = await privacy.handle_request(
            db, context.account.id, number, " ".join(args[1:]), now=context.now(), notice=_handled_notice(context)
        )
    if isinstance(outcome, NotAllowed):
        await refuse(update, context, outcome)
        return
    if isinstance(outcome, DetailProblem):
        await _say(update, context, t(outcome.msgid, **outcome.values))
        return
    if outcome == HandleRefusal.NOT_FOUND:
        await _say(update, context, t("There is no request no. {number}.", number=number))
        return
    if outcome == HandleRefusal.ALREADY_HANDLED:
        await _say(update, context, t("Request no. {number} was handled already.", number=number))
        return
    told = t("The person will be told.") if outcome.told else t("The person cannot be reached by the bot any more.")
    await _say(update, context, t("Request no. {number} is closed.", number=outcome.number) + " " + told)


# --- the daily retention purge ---------------------------------------------------------------------------

# Local time of the daily purge: before the organisers' digest (07:30 by default), which reports it.
PURGE_TIME = dt.time(2, 0)


def back_to_review_notice(translators: Translators) -> retention.BackToReviewNotice:
    """What the nominator of a duplicate is told when the nomination it duplicated is erased or purged
    (why it went is that other person's business: only that it is no longer kept)."""

    def render(item: retention.BackToReview) -> str:
        t = translators.get(item.locale)
        return t(
            "Your nomination {code} ({name}) is under review again: the nomination {original} it was marked as a duplicate of is no longer kept. You will be told of the decision.",
            code=item.code,
            name=item.nominee_name,
            original=item.original_code,
        )

    return render


async def purge_now(services: Services) -> retention.Due:
    """De-identify or delete what is past its retention period, as of ``services.clock()``."""
    async with services.database.transaction() as db:
        done = await retention.purge(db, now=services.clock(), notice=back_to_review_notice(services.translators))
    if not done.empty:
        logger.info("retention: %s", done.counts())
        await services.database.empty_log()
    return done


async def run_purge(context: BotContext) -> None:
    """Daily job: see :func:`purge_now`."""
    await purge_now(context.services)


# --- wiring -----------------------------------------------------------------------------------------------


def handlers() -> list[BaseHandler[Update, BotContext, Any]]:
    """The one-shot commands (no conversation takes them)."""
    return [
        CommandHandler("privacy", privacy_command),
        CommandHandler("mydata", mydata_command),
        CommandHandler("withdraw", withdraw_command),
        CommandHandler("requests", requests_command),
    ]


def conversation() -> ConversationHandler:
    return Dialogue(
        entry_points=[CommandHandler("erase", erase_command), CommandHandler("request", request_command)],
        states={
            CONFIRMING: ERASE_PROMPT.handlers(),
            REQUEST_KIND: KIND_PROMPT.handlers(),
            **{state: _detail_handlers(kind) for kind, state in DETAIL_STATES.items()},
        },
        fallbacks=[CommandHandler("cancel", cancel)],
        name="privacy",
        persistent=True,
        allow_reentry=True,
    )
