"""The one place that builds the Application and knows every handler.

Handler groups are layers: group -2 settles what is not a person writing in a private chat (groups,
channels, other update kinds: ``handlers.gate``); group -1 says who is asking (account, language) and
closes a did-you-mean the person moved on from (``handlers.clarify``); group 0 holds edited messages
first, then the features, then the catch-alls that answer whatever no feature took.
"""

from __future__ import annotations

import logging
import unicodedata
import warnings
from collections.abc import Callable, Coroutine
from typing import Any

from telegram import BotCommandScopeChat, BotCommandScopeDefault, Message, Update
from telegram.constants import MessageLimit
from telegram.error import TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    BaseHandler,
    ContextTypes,
    Defaults,
    ExtBot,
    TypeHandler,
)
from telegram.request import BaseRequest, HTTPXRequest
from telegram.warnings import PTBUserWarning

from bot.channels.addresses import DatabaseAddressBook
from bot.channels.router import ChannelRouter
from bot.context import BotContext
from bot.outbox import OutboxDispatcher
from bot.outbox import install as install_outbox
from bot.services import Services
from handlers import (
    clarify,
    common,
    conference,
    desk,
    endorse,
    gate,
    language,
    mine,
    nominate,
    outbox_status,
    privacy,
    publish,
    review,
    roles,
    typed_codes,
)
from handlers import deadlines as deadlines_command
from handlers import exports as export_commands
from handlers import invite as inviting
from handlers import rsvp as delegate_rsvp
from handlers import schedule as planner
from handlers import status as status_commands
from handlers.menu import bot_commands
from rules import identities
from rules.channel_text import split_text, text_length
from rules.files import DatabaseFileStore
from rules.roles import Role
from storage.persistence import SQLAlchemyPersistence

logger = logging.getLogger(__name__)
DRAFT_SWEEP_SECONDS = 600

# Our conversations are keyed by chat and user on purpose (a person answers one question at a time, by
# button or by typing), so PTB's advice to track callback queries per message does not apply.
warnings.filterwarnings("ignore", message=r".*per_message=False.*", category=PTBUserWarning)


class DienhinhBot(ExtBot[Any]):
    """PTB's bot, with one promise more: a text over Telegram's 4,096 characters is sent as several
    messages cut at paragraphs, lines or spaces (the buttons go with the last), instead of being refused.
    Replies that quote what a person typed ("I found no nomination with the code …") can grow past it."""

    async def send_message(self, chat_id: Any, text: str, **kwargs: Any) -> Message:  # type: ignore[override]
        # Telegram counts UTF-16 units (an emoji is two), so the length is measured the same way.
        too_long = text_length(text) > MessageLimit.MAX_TEXT_LENGTH
        pieces = split_text(text, MessageLimit.MAX_TEXT_LENGTH) if too_long else []
        if len(pieces) < 2:
            return await super().send_message(chat_id, text, **kwargs)
        markup = kwargs.pop("reply_markup", None)
        for piece in pieces[:-1]:
            await super().send_message(chat_id, piece, **kwargs)
        return await super().send_message(chat_id, pieces[-1], **{**kwargs, "reply_markup": markup})


# PTB needs a token of Telegram's shape even when there is no Telegram bot; no call with it leaves the router.
ZALO_ONLY_TOKEN = "0:zalo-only"
FILE_PURGE_SECONDS = 600


class TelegramRateLimiter(AIORateLimiter):
    """PTB's limiter (Telegram's 30 a second, 1 a second per chat, retry after a 429), for Telegram's calls
    only: a call for a person on another channel goes straight to the channel router, whose channel has its
    own limits (Zalo's 429 is a used-up monthly quota, not a reason to sleep a minute inside a handler)."""

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        chat_id = data.get("chat_id")
        if isinstance(chat_id, int) and identities.is_channel_address(chat_id):
            return await callback(*args, **kwargs)
        return await super().process_request(callback, args, kwargs, endpoint, data, rate_limit_args)


class DienhinhApplication(Application):
    """PTB's Application with our services, NFC input and state written as soon as an update is done."""

    def __init__(self, *, services: Services, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.services = services

    async def process_update(self, update: object) -> None:
        if isinstance(update, Update):
            normalise_text(update)
        await super().process_update(update)
        # Database first: a conversation step is stored when the person acts, not a minute later.
        if self.persistence and self._states_changed():
            await self.update_persistence()

    def _states_changed(self) -> bool:
        """Whether this update left anything for the persistence to write. Only conversation states are
        stored (``storage.persistence``), and most updates — every /start and /help — change none: PTB's
        walk over all fifteen conversations' states cost a returning /start ≈ 25 µs of its ≈ 155."""
        assert self.persistence is not None
        stored = self.persistence.store_data
        if stored.bot_data or stored.chat_data or stored.user_data or stored.callback_data:
            return True
        # PTB's own record of the keys written since the last run (TrackingDict), read, not consumed.
        return any(states._write_access_keys for states in self._conversation_handler_conversations.values())


def normalise_text(update: Update) -> None:
    """Every inbound text and caption in NFC, so "Nguyễn" typed with combining marks matches stored names;
    NUL characters dropped (nobody types them, and PostgreSQL cannot store them in text)."""
    for message in (update.message, update.edited_message):
        if message is None:
            continue
        for attribute in ("text", "caption"):
            value = getattr(message, attribute)
            if not value:
                continue
            canonical = value.replace("\x00", "") if "\x00" in value else value
            if not unicodedata.is_normalized("NFC", canonical):
                canonical = unicodedata.normalize("NFC", canonical)
            if canonical is not value:
                _set_frozen(message, attribute, canonical)


def _set_frozen(message: Message, attribute: str, value: str) -> None:
    # PTB freezes telegram objects; this is the boundary where the raw input is made canonical.
    with message._unfrozen():
        setattr(message, attribute, value)


async def _post_init(application: Application) -> None:
    app: DienhinhApplication = application  # type: ignore[assignment]
    await set_command_menus(app)
    services = app.services
    services.outbox = OutboxDispatcher(
        services.database,
        app.bot,
        owner=services.settings.outbox_owner or None,
        clock=services.clock,
        batch_size=services.settings.outbox_batch_size,
        max_in_flight=services.settings.outbox_max_in_flight,
        on_blocked=services.accounts.forget,
    )
    install_outbox(app, services.outbox, services.settings.outbox_interval_seconds)
    # Once before anything is sent: rows that went stale while the bot was down are cancelled first.
    try:
        await planner.plan_and_queue(services, app.bot.username)
    except Exception:
        logger.exception("the planner failed at start-up; its job will try again")
    if app.job_queue is not None:
        app.job_queue.run_repeating(
            nominate.expire_drafts, interval=DRAFT_SWEEP_SECONDS, first=10, name="expire-drafts"
        )
        app.job_queue.run_repeating(
            planner.run_planner,
            interval=planner.PLANNER_INTERVAL_SECONDS,
            first=planner.seconds_to_next_minute(),
            name="planner",
            job_kwargs={"max_instances": 1, "coalesce": True},
        )
        # Expired links are refused anyway; this is what deletes the bytes of files shared by link.
        app.job_queue.run_repeating(_purge_shared_files, interval=FILE_PURGE_SECONDS, first=60, name="purge-files")
        app.job_queue.run_daily(
            privacy.run_purge,
            time=privacy.PURGE_TIME.replace(tzinfo=services.settings.tz),
            name="privacy-purge",
            job_kwargs={"max_instances": 1, "coalesce": True},
        )


async def _purge_shared_files(context: Any) -> None:
    store = context.application.services.file_store
    if store is None:
        return
    await store.purge()  # logs what it deleted


async def _post_shutdown(application: Application) -> None:
    app: DienhinhApplication = application  # type: ignore[assignment]
    await app.services.database.dispose()


async def set_command_menus(app: DienhinhApplication) -> None:
    """Everyone's commands in the default scope (Vietnamese, and English for English-language phones),
    organisers' in their own chats."""
    translators = app.services.translators
    try:
        await app.bot.set_my_commands(bot_commands(Role.CITIZEN, translators.default), scope=BotCommandScopeDefault())
        await app.bot.set_my_commands(
            bot_commands(Role.CITIZEN, translators.get("en")),
            scope=BotCommandScopeDefault(),
            language_code="en",
        )
        for organiser_id in app.services.settings.organiser_ids:
            await app.bot.set_my_commands(
                bot_commands(Role.ORGANISER, translators.default), scope=BotCommandScopeChat(organiser_id)
            )
    except TelegramError as error:
        # An organiser who never opened the bot has no chat yet; the menu is set again on /lang.
        logger.warning("could not set every command menu: %s", error)


def build_application(services: Services, *, request: BaseRequest | None = None) -> DienhinhApplication:
    """The bot: handlers, persistence, defaults; ``request`` replaces the HTTP transport (playground, tests)."""
    settings = services.settings
    defaults = Defaults(tzinfo=settings.tz)
    builder = (
        ApplicationBuilder()
        .application_class(DienhinhApplication, kwargs={"services": services})
        .context_types(ContextTypes(context=BotContext))
        .persistence(SQLAlchemyPersistence(services.database))
        .post_init(_post_init)
        .post_shutdown(_post_shutdown)
    )
    address_book = DatabaseAddressBook(services.database, clock=services.clock, account_cache=services.accounts)
    file_store = DatabaseFileStore(
        services.database,
        owner_account=address_book.account_id_of,
        public_base_url=settings.public_base_url,
        link_ttl=settings.file_link_ttl(),
        clock=services.clock,
    )
    services.address_book, services.file_store = address_book, file_store
    if request is not None:
        from bot.playground.transport import OFFLINE_TOKEN

        # The playground and the tests: their transport is Telegram; a router given as it is stays as it is.
        router = request if isinstance(request, ChannelRouter) else ChannelRouter(request, address_book, file_store)
        bot = DienhinhBot(
            settings.bot_token or OFFLINE_TOKEN, request=router, get_updates_request=router, defaults=defaults
        )
    else:
        # Every call goes through the channel router: Telegram's to Telegram (what ApplicationBuilder would
        # build: 256 connections for sending, one for getUpdates), a Zalo person's to the Zalo channel. A bot
        # without BOT_TOKEN serves Zalo alone; the router answers the few Telegram calls PTB makes itself.
        telegram = settings.bot_token.strip() != ""
        sending = HTTPXRequest(connection_pool_size=256) if telegram else None
        polling = HTTPXRequest(connection_pool_size=1) if telegram else None
        bot = DienhinhBot(
            settings.require_token() if telegram else ZALO_ONLY_TOKEN,
            base_url=settings.telegram_api_base_url,
            base_file_url=settings.telegram_file_base_url,
            request=ChannelRouter(sending, address_book, file_store),
            get_updates_request=ChannelRouter(polling, address_book, file_store),
            defaults=defaults,
            rate_limiter=TelegramRateLimiter(max_retries=2),
        )
    builder = builder.bot(bot)
    app: DienhinhApplication = builder.build()  # type: ignore[assignment]
    register_handlers(app)
    return app


def plain_commands() -> list[BaseHandler[Any, BotContext, Any]]:
    return [
        *common.plain_command_handlers(),
        *deadlines_command.handlers(),
        *mine.handlers(),
        *status_commands.handlers(),
        *publish.handlers(),
        *outbox_status.handlers(),
        *privacy.handlers(),
    ]


async def _who_and_where(update: Update, context: BotContext) -> None:
    """Group -1 (one handler runs per group): who is asking, and whether they left a did-you-mean."""
    await common.load_account(update, context)
    await clarify.close_on_other_updates(update, context)


def register_handlers(app: DienhinhApplication) -> None:
    app.add_handler(gate.gate_handler(), group=-2)
    app.add_handler(TypeHandler(Update, _who_and_where), group=-1)
    features = [
        # An edit is never acted on; it must come before every conversation, whose text handlers would take it.
        gate.edited_handler(),
        # Commands that no conversation takes (none of their entry points, states or fallbacks matches them)
        # come first: PTB tries a group's handlers in order, /start and /help are most of the traffic, and
        # walking eleven conversations before them cost ~45 µs an update. A test keeps the premise true.
        *plain_commands(),
        language.conversation(),
        # Conversations before the generic /cancel, which answers "nothing to cancel"; the intake before the
        # endorse question, so typed answers meant for the form never reach it.
        nominate.conversation(),
        review.conversation(),
        *inviting.conversations(),
        export_commands.conversation(),
        conference.conversation(),
        privacy.conversation(),
        # Deep links (/start unit_…, /start end_…) before the generic /start.
        *roles.handlers(),
        *endorse.handlers(),
        # /checkin and /override, whose pick list takes a typed number before the delegate's conversation does.
        desk.conversation(),
        # /start inv_… and chk_… (personal invitation and check-in links) and the RSVP conversations; the
        # delegate's conversation, last of all conversations, takes the typed codes of every kind of link.
        *delegate_rsvp.handlers(typed_codes=typed_codes.entry_points()),
        # /share's offer to revoke takes its typed "1" only when no conversation above asks a question.
        endorse.share_conversation(),
        endorse.late_press(),
        # "tiếp" or a page number after /status units, and its page buttons: after every conversation, whose
        # questions take their own typed numbers.
        *status_commands.page_handlers(),
        *common.command_handlers(),
        # "No" under a did-you-mean and "the whole list" under a short list, whatever the question.
        *clarify.handlers(),
    ]
    for handler in features:
        app.add_handler(handler)
    for handler in common.catch_all_handlers():
        app.add_handler(handler)
    app.add_error_handler(common.on_error)
