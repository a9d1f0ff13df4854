"""Roles in chat: /grant (organisers give roles), /unitlink (a unit's focal-point link), and the link itself.

``/grant @username reviewer`` or ``/grant 123456789 organiser`` gives a role at once; without a role the
organiser picks one from buttons (or types it). The grantee is told in their own language and their command
menu changes. ``/unitlink`` makes a single-use ``?start=unit_<token>`` link for a unit, chosen from the
wards' buttons or by typing part of any unit's name; whoever opens it first becomes the unit's focal point.
"""

from __future__ import annotations

import logging
from typing import Any

from telegram import BotCommandScopeChat, Update
from telegram.error import TelegramError
from telegram.ext import CommandHandler, ConversationHandler, MessageHandler, filters

from bot.context import BotContext
from bot.i18n import N_, Translator
from handlers import clarify, guesses
from handlers.common import is_organiser, refresh_menu, refuse
from handlers.dialogue import Dialogue
from handlers.keyboards import ChoicePrompt, keyboard
from handlers.link_codes import or_type_code
from handlers.menu import bot_commands, help_lines
from handlers.presses import ButtonData, Id, button
from rules import accounts, grants, outbox, unit_links
from rules.accounts import AccountSnapshot
from rules.choices import Option, pick
from rules.grants import GRANTABLE_ROLES, ROLE_ALIASES, GrantOutcome, GrantResult
from rules.guesses import GuessKind
from rules.link_codes import TypedCode
from rules.roles import NotAllowed, Role
from rules.tokens import split_payload
from rules.unit_links import LinkOutcome, Redemption, UnitChoice

logger = logging.getLogger(__name__)

CHOOSING_ROLE = "grant.choosing_role"
CHOOSING_UNIT = "unitlink.choosing_unit"
# In user_data while a question is open (not persisted: after a restart the person is asked again).
GRANTEE = "grant.grantee"
SHOWN_UNITS = "unitlink.shown"
MAX_UNIT_BUTTONS = 10
UNIT_DATA = ButtonData("ulink", int, Id())


def _memory(context: BotContext) -> dict[Any, Any]:
    """What this person is in the middle of (``user_data``: kept in memory only, see above)."""
    assert context.user_data is not None  # every update here comes from a person
    return context.user_data


ROLE_LABELS: dict[Role, str] = {
    Role.ORGANISER: N_("Organiser"),
    Role.REVIEWER: N_("Reviewer"),
    Role.FOCAL_POINT: N_("Unit focal point"),
    Role.CITIZEN: N_("Citizen (no special role)"),
}


def role_label(t: Translator, role: str) -> str:
    """The role as a person reads it, e.g. "Người xét duyệt"."""
    try:
        return t(ROLE_LABELS[Role(role)])
    except ValueError:
        return role


async def _refuse(update: Update, context: BotContext) -> int:
    assert update.message is not None
    await update.message.reply_text(context.t("Sorry, only organisers can use this command."))
    return ConversationHandler.END


async def cancel(update: Update, context: BotContext) -> int:
    assert update.effective_chat is not None
    _memory(context).pop(GRANTEE, None)
    _memory(context).pop(SHOWN_UNITS, None)
    await context.bot.send_message(update.effective_chat.id, context.t("Cancelled. Nothing was changed."))
    return ConversationHandler.END


# --- /grant ------------------------------------------------------------------------------------------


def _grant_usage(t: Translator) -> str:
    # The account number is the example: every person sees theirs in /start, on Telegram and on Zalo alike
    # (Zalo has no usernames and its ids are long hexadecimal strings nobody reads out).
    return t(
        "To give someone a role, type for example:\n"
        "/grant #12 reviewer — #12 is the account number the person sees in /start and /help\n"
        "/grant @username organiser — a Telegram username\n\n"
        "Roles: organiser, reviewer, citizen. The person must have opened the bot before. "
        "A unit's focal point gets the role by opening a unit link (/unitlink)."
    )


def _typed_role_options(t: Translator) -> list[Option]:
    """Every role word an organiser may type after /grant, focal point included (to explain it)."""
    roles = (*GRANTABLE_ROLES, Role.FOCAL_POINT)
    return [Option(role, role_label(t, role), aliases=ROLE_ALIASES[role]) for role in roles]


def _split_role_and_reason(t: Translator, words: list[str]) -> tuple[Role | None, str | None]:
    """``reviewer phụ trách khối phường`` → (reviewer, "phụ trách khối phường"); longest role match wins."""
    options = _typed_role_options(t)
    for end in range(len(words), 0, -1):
        option = pick(options, " ".join(words[:end]))
        if option is not None:
            return Role(option.key), " ".join(words[end:]) or None
    return None, None


def _grantee(context: BotContext) -> dict[str, Any] | None:
    grantee: dict[str, Any] | None = _memory(context).get(GRANTEE)
    return grantee


def _role_options(context: BotContext) -> list[Option]:
    # The grantee's account id is part of each key, so a button left from an earlier /grant for someone
    # else is not accepted for this one.
    grantee = _grantee(context)
    target = grantee["id"] if grantee else "-"
    return [
        Option(f"{target}.{role}", role_label(context.t, role), aliases=ROLE_ALIASES[role]) for role in GRANTABLE_ROLES
    ]


def _role_question(context: BotContext) -> str:
    grantee = _grantee(context)
    if grantee is None:
        return context.t("Which role?")
    return context.t(
        "Which role should {name} have? (now: {role})",
        name=grantee["name"],
        role=role_label(context.t, grantee["role"]),
    )


async def _role_chosen(update: Update, context: BotContext, option: Option) -> int:
    target, _, role = option.key.partition(".")
    _memory(context).pop(GRANTEE, None)
    if not target.isdigit():
        assert update.effective_chat is not None
        await context.bot.send_message(
            update.effective_chat.id,
            context.t("Sorry, I lost track of whom this was for. Please send the /grant command again."),
        )
        return ConversationHandler.END
    return await _apply_grant(update, context, int(target), Role(role), reason=None)


ROLE_PROMPT = ChoicePrompt("grant", question=_role_question, options=_role_options, on_choice=_role_chosen)


async def grant_command(update: Update, context: BotContext) -> str | int:
    assert update.message is not None and context.account is not None
    t = context.t
    if not is_organiser(context):
        return await _refuse(update, context)
    if not context.args:
        await update.message.reply_text(_grant_usage(t))
        return ConversationHandler.END
    target_text, words = context.args[0], list(context.args[1:])
    target = grants.parse_target(target_text)
    if target is None:
        await update.message.reply_text(
            t(
                "Sorry, I cannot tell who “{target}” is: type the person's account number (#12), a @username "
                "or a Telegram or Zalo id.",
                target=target_text,
            )
            + "\n\n"
            + _grant_usage(t)
        )
        return ConversationHandler.END
    async with context.transaction() as db:
        grantee = await grants.find_grantee(db, target)
    if grantee is None:
        await update.message.reply_text(_unknown_target(t, target_text))
        return ConversationHandler.END
    role, reason = _split_role_and_reason(t, words)
    if role is not None:
        return await _apply_grant(update, context, grantee.id, role, reason=reason)
    _memory(context)[GRANTEE] = {"id": grantee.id, "name": grantee.display_name, "role": grantee.role}
    note = t("I do not know the role “{role}”.", role=" ".join(words)) if words else None
    await ROLE_PROMPT.ask(update, context, note)
    return CHOOSING_ROLE


def _unknown_target(t: Translator, target: str) -> str:
    return t(
        "I do not know {target} yet. Bots cannot write to anyone first: please ask them to open the bot and "
        "press Start, then grant the role again.",
        target=target,
    )


async def _apply_grant(update: Update, context: BotContext, target_id: int, role: Role, *, reason: str | None) -> int:
    assert context.account is not None and update.effective_chat is not None
    t = context.t
    async with context.transaction() as db:
        result = await grants.grant_role(
            db,
            actor_id=context.account.id,
            role=role,
            target_account_id=target_id,
            reason=reason,
            settings_organiser_ids=context.services.settings.organiser_ids,
        )
        if result.granted:
            await _tell_grantee(db, context, result)
    yourself = result.target is not None and result.target.id == context.account.id
    await context.bot.send_message(update.effective_chat.id, _grant_reply(t, result, yourself=yourself))
    if result.granted and result.target is not None:
        await _after_grant(context, result.target)
    return ConversationHandler.END


def _grant_reply(t: Translator, result: GrantResult, *, yourself: bool) -> str:
    name = result.target.display_name if result.target else ""
    role = role_label(t, result.role) if result.role else ""
    if result.granted and yourself:
        return t("Done. Your role is now: {role}.", role=role)
    replies = {
        GrantOutcome.GRANTED: lambda: t("Done. {name}'s role is now: {role}. I have told them.", name=name, role=role),
        GrantOutcome.UNCHANGED: lambda: t(
            "{name} already has the role: {role}. Nothing was changed.", name=name, role=role
        ),
        GrantOutcome.NOT_ALLOWED: lambda: t("Sorry, only organisers can use this command."),
        GrantOutcome.NOT_GRANTABLE: lambda: t(
            "A unit's focal point is not given with /grant: make a link for their unit with /unitlink and send "
            "it to them."
        ),
        GrantOutcome.UNKNOWN_TARGET: lambda: t("Sorry, I could not find that person any more. Nothing was changed."),
        GrantOutcome.LAST_ORGANISER: lambda: t(
            "Sorry, {name} is the last organiser. Make someone else an organiser first, so the work always has one.",
            name=name,
        ),
        GrantOutcome.SETTINGS_ORGANISER: lambda: t(
            "Sorry, {name} is an organiser named in the bot's settings (ORGANISER_IDS) and would become an "
            "organiser again at once. Remove them from the settings first.",
            name=name,
        ),
    }
    reply = replies.get(result.outcome)
    return reply() if reply else t("Cancelled. Nothing was changed.")


async def _tell_grantee(db: Any, context: BotContext, result: GrantResult) -> None:
    """The grantee hears of it in their own language, through the outbox (they did not just write)."""
    target = result.target
    assert target is not None and context.account is not None and result.role is not None
    if target.id == context.account.id:
        return
    t = context.services.translators.get(target.locale)  # theirs, not the organiser's
    now = context.now()
    await outbox.enqueue(
        db,
        account_id=target.id,
        text=t(
            "{actor} has changed your role to: {role}. Type /help to see what you can do now.",
            actor=context.account.display_name,
            role=role_label(t, result.role),
        ),
        dedupe_key=f"role.grant:{target.id}:{result.role}:{now.isoformat()}",
        topic=f"account:{target.id}",
        now=now,
    )


async def _after_grant(context: BotContext, target: AccountSnapshot) -> None:
    """The grantee's account as this process remembers it, and their command menu, follow the new role."""
    assert context.account is not None
    context.services.accounts.forget_account(target.id)
    if target.id == context.account.id:
        context.use_account(target)
    async with context.transaction() as db:
        telegram_chats = await accounts.telegram_addresses(db, target.id)
    # Only Telegram has a command menu; on other channels /help lists what the new role can do.
    theirs = context.services.translators.get(target.locale)
    for chat_id in telegram_chats:
        try:
            await context.bot.set_my_commands(bot_commands(target.role, theirs), scope=BotCommandScopeChat(chat_id))
        except TelegramError as error:
            # They blocked the bot or never had a chat; their menu is set again when they change language.
            logger.warning("could not set the command menu of account %s: %s", target.id, error)


def grant_conversation() -> ConversationHandler:
    return Dialogue(
        entry_points=[CommandHandler("grant", grant_command)],
        states={CHOOSING_ROLE: ROLE_PROMPT.handlers()},
        fallbacks=[CommandHandler("cancel", cancel), CommandHandler("grant", grant_command)],
        name="grant",
        persistent=True,
        allow_reentry=True,
    )


# --- /unitlink ---------------------------------------------------------------------------------------


def _today(context: BotContext) -> Any:
    return context.t.local(context.now()).date()


def _shown(context: BotContext) -> list[Option] | None:
    shown = _memory(context).get(SHOWN_UNITS)
    return [Option(str(unit_id), name) for unit_id, name in shown] if shown else None


async def unitlink_command(update: Update, context: BotContext) -> str | int:
    if not is_organiser(context):
        return await _refuse(update, context)
    query = " ".join(context.args or ()) or None
    if query is None:
        return await _offer_units(update, context, None)
    _memory(context).pop(SHOWN_UNITS, None)
    return await _unit_answer(update, context, query)


async def _offer_units(update: Update, context: BotContext, query: str | None, note: str | None = None) -> str | int:
    """Show up to ten units (the wards, or those matching ``query``) as buttons, even when one matches: a
    unit is taken only when it is named in full, pressed or confirmed."""
    t = context.t
    assert update.effective_chat is not None
    async with context.transaction() as db:
        units = await unit_links.linkable_units(db, today=_today(context), query=query)
    if query is None and not units:
        await context.bot.send_message(
            update.effective_chat.id,
            t("No unit is in force today. Please load the campaign plan first (dienhinh plan load …)."),
        )
        return ConversationHandler.END
    if query is not None and not units:
        await context.bot.send_message(
            update.effective_chat.id,
            t("No unit matches “{query}”. Please type another part of its name, or /cancel.", query=query),
        )
        return CHOOSING_UNIT
    shown = _first_units(units, query)
    _memory(context)[SHOWN_UNITS] = [[unit.id, unit.name] for unit in shown]
    question = _unit_question(t, query, shown=len(shown), total=len(units))
    await context.bot.send_message(
        update.effective_chat.id,
        f"{note}\n\n{question}" if note else question,
        reply_markup=keyboard("ulink", [Option(str(unit.id), unit.name) for unit in shown]),
    )
    return CHOOSING_UNIT


def _first_units(units: list[UnitChoice], query: str | None) -> list[UnitChoice]:
    if query is None:
        wards = [unit for unit in units if unit.is_ward]
        return (wards or units)[:MAX_UNIT_BUTTONS]
    return units[:MAX_UNIT_BUTTONS]


def _unit_question(t: Translator, query: str | None, *, shown: int, total: int) -> str:
    question = t("Which unit is the focal-point link for?")
    if query is None:
        hint = t(
            "Choose a ward below, or type part of the name of any of the {total} units to search (e.g. “giáo dục”).",
            total=t.number(total),
        )
    elif shown < total:
        hint = t(
            "{total} units match “{query}”; here are the first {shown}. Choose one, or type more of the name.",
            total=t.number(total),
            shown=t.number(shown),
            query=query,
        )
    else:
        hint = t("Units matching “{query}”: choose one, or type another name.", query=query)
    return f"{question}\n\n{hint}"


async def unit_typed(update: Update, context: BotContext) -> str | int:
    assert update.message is not None and update.message.text is not None
    if not is_organiser(context):
        return await _refuse(update, context)
    return await _unit_answer(update, context, update.message.text)


async def _unit_answer(update: Update, context: BotContext, text: str) -> str | int:
    """A unit typed (or given after /unitlink): named in full, it is taken; in part, it is asked back; not
    at all, the units matching it are listed."""
    async with context.transaction() as db:
        units = await unit_links.linkable_units(db, today=_today(context))
        shown = _shown(context) or [Option(str(unit.id), unit.name) for unit in _first_units(units, None)]
        named = [Option(str(unit.id), unit.name) for unit in units]
        result = await clarify.typed(db, context, "ulink", text, shown, named=named)
    if isinstance(result, clarify.Chosen):
        return await _make_link(update, context, int(result.option.key))
    if isinstance(result, clarify.Ask):
        await clarify.send(update, context, result)
        return CHOOSING_UNIT
    if result.unmatched or not units:
        return await _offer_units(update, context, text)
    return await _offer_units(update, context, None, note=result.note)


async def unit_pressed(update: Update, context: BotContext, unit_id: int) -> str | int:
    press = context.press
    assert press is not None
    if not is_organiser(context):
        await press.answer(context.t("Sorry, only organisers can use this command."), alert=True)
        return ConversationHandler.END
    async with context.transaction() as db:
        unit = await unit_links.linkable_unit(db, unit_id=unit_id, today=_today(context))
    if unit is None:
        await press.answer(context.t("That choice is no longer available."))
        return await _offer_units(update, context, None)
    await press.close(unit.name)
    return await _make_link(update, context, unit.id)


async def unit_other(update: Update, context: BotContext) -> str:
    assert update.message is not None
    await update.message.reply_text(
        context.t("Please choose one of the units above or type part of a unit's name. To stop, type /cancel.")
    )
    return CHOOSING_UNIT


async def _make_link(update: Update, context: BotContext, unit_id: int) -> str | int:
    assert context.account is not None and update.effective_chat is not None
    t = context.t
    now = context.now()
    days = context.services.settings.unit_link_days
    async with context.transaction() as db:
        unit = await unit_links.linkable_unit(db, unit_id=unit_id, today=_today(context))
        link = None
        if unit is not None:
            link = await unit_links.create_unit_link(
                db,
                unit_id=unit.id,
                created_by_id=context.account.id,
                now=now,
                days=days,
                secret=context.services.link_secret,
            )
    if isinstance(link, NotAllowed):
        return await refuse(update, context, link)
    if unit is None or link is None:
        return await _offer_units(update, context, None)
    _memory(context).pop(SHOWN_UNITS, None)
    await context.bot.send_message(
        update.effective_chat.id,
        t(
            "Here is the link for the focal point of {unit}:\n{url}\n{or_code}\n\n"
            "It works once: whoever opens it or types its code first becomes the unit's focal point. It is "
            "valid until {date}. Please send it only to the person the unit has chosen.",
            unit=unit.name,
            url=unit_links.unit_link_url(context.bot.username, link.token),
            or_code=or_type_code(t, link.shown_code),
            date=t.date(unit_links.link_expiry(now, days)),
        ),
    )
    return ConversationHandler.END


def unitlink_conversation() -> ConversationHandler:
    return Dialogue(
        entry_points=[CommandHandler("unitlink", unitlink_command)],
        states={
            CHOOSING_UNIT: [
                button(UNIT_DATA, unit_pressed),
                MessageHandler(filters.UpdateType.MESSAGE & filters.TEXT & ~filters.COMMAND, unit_typed),
                MessageHandler(filters.UpdateType.MESSAGE & ~filters.COMMAND, unit_other),
            ]
        },
        fallbacks=[CommandHandler("cancel", cancel), CommandHandler("unitlink", unitlink_command)],
        name="unitlink",
        persistent=True,
        allow_reentry=True,
    )


# --- /start unit_<token> -----------------------------------------------------------------------------


async def open_unit_link(update: Update, context: BotContext) -> None:
    """A focal point opens the link an organiser made for their unit."""
    token = split_payload(context.args[0], unit_links.PAYLOAD_PREFIX) if context.args else None
    await open_unit_link_with(update, context, token=token or "")


async def open_unit_link_with(
    update: Update, context: BotContext, *, token: str = "", code: TypedCode | None = None
) -> None:
    """Open a unit link by its ``token`` or its typed ``code``: the same rules either way."""
    assert update.message is not None and context.account is not None
    if await guesses.cooling_down(update, context):
        return
    async with context.transaction() as db:
        result = await unit_links.redeem_unit_link(
            db, token=token, account_id=context.account.id, now=context.now(), code=code
        )
        told = result.outcome is LinkOutcome.TAKEN and await _tell_link_creator(db, context, result)
    guesses.record(
        update,
        context,
        GuessKind.TYPED_CODE if code else GuessKind.UNIT_LINK,
        missed=result.outcome in (LinkOutcome.UNKNOWN, LinkOutcome.EXPIRED),
    )
    if result.outcome is LinkOutcome.REDEEMED and result.account is not None:
        context.use_account(result.account)
        await refresh_menu(context, update.message.chat_id)
    await update.message.reply_text(_redemption_reply(context.t, result, told=bool(told)))


def _redemption_reply(t: Translator, result: Redemption, *, told: bool) -> str:
    unit = result.unit_name or ""
    outcome = result.outcome
    if outcome is LinkOutcome.REDEEMED:
        assert result.account is not None
        parts = [t("Welcome! You are now the focal point of {unit}: you send your unit's nominations.", unit=unit)]
        if result.previous_unit_name:
            parts.append(t("You no longer speak for {unit}.", unit=result.previous_unit_name))
        parts.append(t("What you can do:") + "\n" + help_lines(result.account.role, t))
        return "\n\n".join(parts)
    if outcome is LinkOutcome.ALREADY_YOURS:
        return t("You are already the focal point of {unit}. Type /help to see what you can do.", unit=unit)
    if outcome is LinkOutcome.TAKEN:
        text = t("Sorry, this link for {unit} has already been used by someone else: it works only once.", unit=unit)
        follow = (
            t("I have let the organiser who made it know. Please ask them for a new link.")
            if told
            else t("Please ask the organisers for a new link.")
        )
        return f"{text} {follow}"
    if outcome is LinkOutcome.SPENT:
        return t(
            "You have already used this link for {unit}, and your role has changed since. A link works only once: "
            "please ask the organisers for a new one.",
            unit=unit,
        )
    if outcome is LinkOutcome.EXPIRED:
        assert result.expires_at is not None
        return t(
            "Sorry, this link for {unit} expired on {date}. Please ask the organisers for a new one.",
            unit=unit,
            date=t.date(result.expires_at),
        )
    if outcome is LinkOutcome.REVOKED:
        return t("Sorry, the organisers have withdrawn this link for {unit}. Please ask them for a new one.", unit=unit)
    if outcome is LinkOutcome.STAFF:
        assert result.account is not None
        return t(
            "You are already {role}, so this link does not make you the focal point of {unit}: a unit link never "
            "takes away an organiser's or a reviewer's role. The link is still unused: please pass it on to the "
            "unit's focal point.",
            role=role_label(t, result.account.role),
            unit=unit,
        )
    return t(
        "Sorry, this unit link is not valid. Please check that you opened the whole link, or ask the organisers "
        "for a new one."
    )


async def _tell_link_creator(db: Any, context: BotContext, result: Redemption) -> bool:
    """Someone else opened a used link: the organiser who made it hears of it (the link may have leaked)."""
    creator, intruder = result.creator, result.account
    if creator is None or intruder is None:
        return False
    t = context.services.translators.get(creator.locale)  # the organiser's, not the person's who wrote
    now = context.now()
    await outbox.enqueue(
        db,
        account_id=creator.id,
        text=t(
            "Someone tried to open the focal-point link you made for {unit}, which {used_by} already used on "
            "{date}: {name} (account #{account}). They were refused. If they should speak for the unit "
            "too, make them a new link with /unitlink.",
            unit=result.unit_name or "",
            used_by=result.used_by.display_name if result.used_by else "?",
            date=t.date(result.used_at) if result.used_at else "?",
            name=intruder.display_name,
            account=intruder.id,
        ),
        dedupe_key=f"unit_link:{result.link_id}:taken:{intruder.id}",
        topic=f"unit_link:{result.link_id}",
        now=now,
    )
    return True


def handlers() -> list[Any]:
    """The /start unit_ deep link must come before the generic /start (see bot.app)."""
    return [
        CommandHandler("start", open_unit_link, filters=filters.Regex(r"^/start(@\w+)? unit_")),
        grant_conversation(),
        unitlink_conversation(),
    ]
