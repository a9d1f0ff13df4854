"""``dienhinh``: the operator's command line.

    dienhinh run                 start the bot (long polling, or webhook when WEBHOOK_URL is set)
    dienhinh demo [--keep] [--channel zalo]
                                 the offline playground (everyone starts on Telegram, or on Zalo)
    dienhinh db upgrade          migrate the database to the current schema
    dienhinh db status           say whether the database is up to date
    dienhinh plan load FILE      create or update a campaign from a plan file
    dienhinh invitations import FILE [--conference CODE] [--yes]
                                 check a guest list (.xlsx or .csv) row by row; invite its good rows with --yes

A missing or malformed setting, a bad plan file, an unreadable guest list or an out-of-date database ends
with one clear line and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
import sys
from pathlib import Path
from typing import TypedDict
from zoneinfo import ZoneInfo

from bot.i18n import Translator, Translators
from bot.settings import Settings, SettingsError, load_settings

logger = logging.getLogger("dienhinh")


def clock() -> dt.datetime:
    """The operator's clock: what is open now (``rules.conferences``) is judged at this moment."""
    return dt.datetime.now(dt.UTC)


def _translator(settings: Settings | None) -> Translator:
    if settings is None:
        return Translators("vi", ZoneInfo("Asia/Ho_Chi_Minh")).default
    return Translators(settings.default_locale, settings.tz).default


def _fail(message: str) -> int:
    print(message, file=sys.stderr)
    return 2


def _configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # httpx logs every request at INFO, token in the URL included.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # APScheduler logs two INFO lines per run of every job, and the outbox runs every second: each job
    # logs what it did itself. Warnings (a run missed) and errors still show.
    logging.getLogger("apscheduler.executors").setLevel(logging.WARNING)


async def _prepare_database(settings: Settings) -> None:
    from storage.migrate import ensure_up_to_date, upgrade_to_head

    if settings.auto_migrate:
        await upgrade_to_head(settings.database_url, link_secret=settings.link_secret_bytes())
    else:
        await ensure_up_to_date(settings.database_url)


ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "my_chat_member"]
WEBHOOK_PATH = "telegram"


class WebhookOptions(TypedDict):
    listen: str
    port: int
    url_path: str
    webhook_url: str
    secret_token: str


def webhook_options(settings: Settings) -> WebhookOptions:
    """Where the webhook listens and what Telegram is told; the secret makes PTB refuse other callers."""
    return WebhookOptions(
        listen=settings.webhook_listen,
        port=settings.webhook_port,
        url_path=WEBHOOK_PATH,
        webhook_url=f"{settings.webhook_url.rstrip('/')}/{WEBHOOK_PATH}",
        secret_token=settings.webhook_secret,
    )


def cmd_run(settings: Settings) -> int:
    from bot.app import build_application
    from bot.channels import runtime
    from bot.outbox import process_owner
    from bot.services import Services
    from bot.settings import PROJECT_ROOT
    from storage.migrate import OutOfDateDatabase

    t = _translator(settings)
    settings.require_channels()
    _configure_logging(settings)
    try:
        asyncio.run(_prepare_database(settings))
    except OutOfDateDatabase as problem:
        return _fail(t("The database is not up to date: {problem}", problem=problem))
    if not settings.outbox_owner:
        # Same name as this bot's last run, so the outbox takes back at once what a crash left claimed.
        settings = settings.model_copy(update={"outbox_owner": process_owner(PROJECT_ROOT / "data")})
    application = build_application(Services.create(settings))
    logger.info("starting: %s", ", ".join(settings.require_channels()))
    asyncio.run(runtime.serve(application, settings, allowed_updates=list(ALLOWED_UPDATES)))
    return 0


def cmd_demo(keep: bool, channel: str) -> int:
    from bot.playground import terminal

    return asyncio.run(terminal.run(keep=keep, channel=channel))


def cmd_db(settings: Settings, action: str) -> int:
    from storage.migrate import OutOfDateDatabase, ensure_up_to_date, head_revision, upgrade_to_head

    t = _translator(settings)
    try:
        if action == "upgrade":
            asyncio.run(upgrade_to_head(settings.database_url, link_secret=settings.link_secret_bytes()))
        else:
            asyncio.run(ensure_up_to_date(settings.database_url))
    except OutOfDateDatabase as problem:
        return _fail(t("The database is not up to date: {problem}", problem=problem))
    print(t("The database is at the current schema ({revision}).", revision=head_revision()))
    return 0


def cmd_plan_load(settings: Settings, path: Path) -> int:
    from rules.plans import load_plan
    from rules.refdata import DataFileError
    from storage.db import Database

    t = _translator(settings)

    async def load() -> object:
        await _prepare_database(settings)
        database = Database(settings.database_url)
        try:
            return await load_plan(database, path)
        finally:
            await database.dispose()

    try:
        summary = asyncio.run(load())
    except DataFileError as problem:
        return _fail(t("The plan was not loaded; nothing was changed. {problem}", problem=problem))
    except FileNotFoundError:
        return _fail(t("No such file: {path}", path=path))
    print(t("Plan loaded: {summary}", summary=summary))
    return 0


class _CliProblem(Exception):
    """A problem the operator can fix, already worded for them."""


async def _import_guest_list(
    settings: Settings, path: Path, data: bytes, conference_code: str | None, confirm: bool
) -> tuple[str, int | None, int]:
    """(the row report, invitations created or None without --yes, rows ready); raises _CliProblem."""
    from handlers.conference import closed_text
    from handlers.invite import import_report
    from rules import delegates, guest_lists
    from rules.conferences import Closed, Use, open_for
    from rules.roles import OPERATOR, NotAllowed
    from rules.seats import pool_counts
    from storage.db import Database

    t = _translator(settings)
    now = clock()
    table = await guest_lists.read_guest_list(path.name, data)  # before the transaction, as the bot does
    await _prepare_database(settings)
    database = Database(settings.database_url)
    try:
        async with database.transaction() as db:
            planned = await delegates.conferences(db)
            if not planned:
                raise _CliProblem(t("No conference is set up yet. Load a plan first: dienhinh plan load FILE"))
            conferences = await open_for(db, Use.GUEST_LISTS, now)
            codes = ", ".join(conference.code for conference in conferences)
            if conference_code:
                conference = await delegates.find_conference(db, conference_code)
                if conference is None:
                    every = ", ".join(conference.code for conference in planned)
                    raise _CliProblem(
                        t("There is no conference {code}. Conferences: {codes}.", code=conference_code, codes=every)
                    )
            elif len(conferences) == 1:
                conference = conferences[0]
            elif not conferences:
                raise _CliProblem(t("No conference takes guest lists now: the conferences of the plan have ended."))
            else:
                raise _CliProblem(
                    t("Several conferences take invitations: {codes}. Say which with --conference CODE.", codes=codes)
                )
            staged = await guest_lists.stage_import(db, conference.id, path.name, table, OPERATOR, now)
            if isinstance(staged, NotAllowed):  # the operator holds every role
                raise _CliProblem(t("Sorry, only organisers can do this."))
            if isinstance(staged, Closed):
                raise _CliProblem(closed_text(t, staged, Use.GUEST_LISTS))
            report = import_report(
                t,
                staged,
                conference_title=conference.title,
                pools=await pool_counts(db, conference.id),
                earlier=await guest_lists.earlier_import(db, staged),
                limit=None,
            )
            created = None
            if confirm and staged.rows:
                result = await guest_lists.confirm_import(db, staged.id, OPERATOR, now, settings.link_secret_bytes())
                created = result if isinstance(result, int) else None  # the operator holds every role
            else:
                await guest_lists.cancel_import(db, staged.id)
            return report, created, len(staged.rows)
    finally:
        await database.dispose()


def cmd_invitations_import(settings: Settings, path: Path, conference_code: str | None, confirm: bool) -> int:
    from rules.guest_lists import UnreadableFile

    t = _translator(settings)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return _fail(t("No such file: {path}", path=path))
    except OSError as problem:
        return _fail(t("The file {path} cannot be read: {problem}", path=path, problem=problem.strerror))
    try:
        report, created, ready = asyncio.run(_import_guest_list(settings, path, data, conference_code, confirm))
    except UnreadableFile as problem:
        return _fail(t("{path}: {problem}", path=path, problem=t(problem.msgid, **problem.values)))
    except _CliProblem as problem:
        return _fail(str(problem))
    print(report)
    print()
    if created is not None:
        print(t("Invited {count} people from the guest list.", count=created))
    elif ready:
        print(
            t("Nothing was imported. To invite the {count} people ready, run the same command with --yes.", count=ready)
        )
    else:
        print(t("Nothing can be imported from this file. Please fix it and run the command again."))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dienhinh", description="dienhinh operator commands")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="start the bot")
    demo = commands.add_parser("demo", help="the offline playground")
    demo.add_argument("--keep", action="store_true", help="keep the playground database from last time")
    demo.add_argument(
        "--channel",
        choices=["telegram", "zalo"],
        default="telegram",
        help="where everyone starts (`:channel` switches)",
    )
    db = commands.add_parser("db", help="database schema")
    db.add_argument("action", choices=["upgrade", "status"])
    plan = commands.add_parser("plan", help="campaign plans")
    plan.add_argument("action", choices=["load"])
    plan.add_argument("file", type=Path)
    invitations = commands.add_parser("invitations", help="invitations and guest lists")
    invitations.add_argument("action", choices=["import"])
    invitations.add_argument("file", type=Path, help="a guest list: .xlsx or .csv")
    invitations.add_argument("--conference", help="the conference's code (needed when there are several)")
    invitations.add_argument("--yes", action="store_true", help="invite the good rows (without it, only check)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "demo":
            return cmd_demo(args.keep, args.channel)
        settings = load_settings()
        if args.command == "run":
            return cmd_run(settings)
        if args.command == "db":
            return cmd_db(settings, args.action)
        if args.command == "invitations":
            return cmd_invitations_import(settings, args.file, args.conference, args.yes)
        return cmd_plan_load(settings, args.file)
    except SettingsError as problem:
        t = _translator(None)
        return _fail(t("Invalid setting {setting}: {problem}", setting=problem.setting, problem=t(problem.problem)))


if __name__ == "__main__":
    raise SystemExit(main())
