"""``dienhinh``: the operator's command line.

    dienhinh run                 start the bot (long polling, or webhook when WEBHOOK_URL is set)
    dienhinh demo [--keep] [--channel zalo]
                                 the offline playground (everyone starts on Telegram, or on Zalo)
    dienhinh db upgrade          migrate the database to the current schema
    dienhinh db status           say whether the database is up to date
    dienhinh plan load FILE      create or update a campaign from a plan file
    dienhinh invitations import FILE [--conference CODE] [--yes]
                                 check a guest list (.xlsx or .csv) row by row; invite its good rows with --yes
    dienhinh privacy purge [--dry-run]
                                 de-identify or delete what is past its retention period (data/reference/
                                 retention.yaml); --dry-run only shows what would go
    dienhinh invitations print --bot USERNAME [--conference CODE] [--per unit|person] [--out DIR]
                                 write the printable invitations (giấy mời) as PDF files: one per unit, or
                                 one per person; USERNAME is the bot's Telegram username, for the QR codes
    dienhinh audit verify [--expect-head HASH]
                                 walk the audit chain; name the first entry changed, removed or inserted (exit 1)
    dienhinh audit export [--format csv|jsonl] [--out FILE]
                                 write the audit trail with its hashes for an inspector

A missing or malformed setting, a bad plan file, an unreadable guest list or an out-of-date database ends
with one clear line and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from bot.i18n import N_, Translator, Translators
from bot.settings import Settings, SettingsError, load_settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from rules.conferences import Use
    from rules.printing import Letters
    from storage.migrate import OutOfDateDatabase
    from storage.models import Conference

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


def out_of_date_text(t: Translator, problem: OutOfDateDatabase) -> str:
    """Why the database does not fit this version, and what to run, in the operator's language."""
    from storage.migrate import UPGRADE_COMMAND

    if problem.current is None:
        return t(
            "the database has no schema yet (revision: none) but this version needs revision {head}; run: {command}",
            head=problem.head,
            command=UPGRADE_COMMAND,
        )
    if not problem.known:
        return t(
            "the database is at revision {current}, which this version does not know (its newest is {head}); "
            "the database was upgraded by a newer dienhinh: run that version",
            current=problem.current,
            head=problem.head,
        )
    return t(
        "the database is at revision {current} but this version needs revision {head}; run: {command}",
        current=problem.current,
        head=problem.head,
        command=UPGRADE_COMMAND,
    )


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


# The exit status when the lease was lost (EX_TEMPFAIL): systemd's Restart=on-failure starts it again as a
# standby.
LEASE_LOST_EXIT = 75


def cmd_run(settings: Settings) -> int:
    from storage.migrate import OutOfDateDatabase

    t = _translator(settings)
    settings.require_channels()
    _configure_logging(settings)
    try:
        lost = asyncio.run(_serve_while_active(settings))
    except OutOfDateDatabase as problem:
        return _fail(t("The database is not up to date: {problem}", problem=out_of_date_text(t, problem)))
    if lost:
        logger.error("the lease was lost: stopped so that only one process serves; start again as a standby")
        return LEASE_LOST_EXIT
    return 0


async def _serve_while_active(settings: Settings) -> bool:
    """Wait for the lease (``bot.lease``), then build and serve the bot from scratch; True if it was lost."""
    from bot.app import build_application
    from bot.channels import runtime
    from bot.lease import lease_for
    from bot.outbox import process_owner, take_over
    from bot.services import Services
    from bot.settings import PROJECT_ROOT

    lease = lease_for(settings.database_url)
    await lease.acquire()
    try:
        # Only the active process migrates: a standby must not change the schema under a running bot.
        await _prepare_database(settings)
        if not settings.outbox_owner:
            # Same name as this bot's last run on this machine (kept for a process without the lease's help).
            settings = settings.model_copy(update={"outbox_owner": process_owner(PROJECT_ROOT / "data")})
        services = Services.create(settings)
        # Holding the lease, this is the only sender alive: what another left claimed goes out again now.
        await take_over(services.database)
        application = build_application(services)
        logger.info("starting: %s", ", ".join(settings.require_channels()))
        return await runtime.serve(application, settings, allowed_updates=list(ALLOWED_UPDATES), until=lease.lost)
    finally:
        await lease.release()


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
        return _fail(t("The database is not up to date: {problem}", problem=out_of_date_text(t, problem)))
    print(t("The database is at the current schema ({revision}).", revision=head_revision()))
    return 0


def cmd_plan_load(settings: Settings, path: Path) -> int:
    from rules.plans import PlanSummary, load_plan
    from rules.refdata import DataFileError
    from storage.db import Database

    t = _translator(settings)

    async def load() -> PlanSummary:
        await _prepare_database(settings)
        database = Database(settings.database_url)
        try:
            return await load_plan(database, path)
        finally:
            await database.dispose()

    try:
        summary = asyncio.run(load())
    except DataFileError as problem:
        return _fail(t("The plan was not loaded; nothing was changed. {problem}", problem=problem.worded(t)))
    except FileNotFoundError:
        return _fail(t("No such file: {path}", path=path))
    print(t("Plan loaded: {summary}", summary="\n".join(summary.lines(t))))
    return 0


PURGE_LINES = {
    "draft": N_("• drafts to delete: {count}"),
    "nomination_not_approved": N_("• nominations not approved to delete: {count}"),
    "invitation": N_("• invitations to de-identify: {count}"),
    "guest_list": N_("• uploaded guest lists to delete: {count}"),
    "evidence": N_("• evidence files to delete: {count}"),
    "export": N_("• shared files to delete: {count}"),
    "outbox": N_("• texts of sent messages to erase: {count}"),
    "audit": N_("• audit entries past their period (kept: the trail is not cut): {count}"),
}


def cmd_privacy_purge(settings: Settings, dry_run: bool) -> int:
    """What is past its retention period (``data/reference/retention.yaml``); without --dry-run, purge it."""
    from handlers.privacy import back_to_review_notice
    from rules import retention
    from storage.db import Database

    t = _translator(settings)

    async def run() -> tuple[retention.Due, dict[retention.Kind, list[retention.DueFile]]]:
        await _prepare_database(settings)
        database = Database(settings.database_url)
        try:
            async with database.transaction() as db:
                if dry_run:
                    found = await retention.due(db, now=clock())
                    return found, await retention.due_files(db, found)
                translators = Translators(settings.default_locale, settings.tz)
                done = await retention.purge(db, now=clock(), notice=back_to_review_notice(translators))
            await database.empty_log()
            return done, {}
        finally:
            await database.dispose()

    found, named = asyncio.run(run())
    if found.empty:
        print(t("Nothing is past its retention period."))
        return 0
    heading = t("Dry run, nothing was changed. Past their retention period now:") if dry_run else t("Purged:")
    lines = [heading]
    for kind, count in found.counts().items():
        lines.append(t(PURGE_LINES[kind], count=count))
        files = named.get(retention.Kind(kind), [])
        lines.extend(t("    {name}, at {date}", name=f.name, date=t.datetime(f.at)) for f in files)
        if len(files) < count and files:
            lines.append(t("    … and {count} more", count=count - len(files)))
    print("\n".join(lines))
    return 0


class _CliProblem(Exception):
    """A problem the operator can fix, already worded for them."""


async def _pick_conference(
    db: AsyncSession, t: Translator, code: str | None, open_now: tuple[Use, dt.datetime] | None = None
) -> Conference:
    """The conference ``--conference`` names, or the only one there is (with ``open_now``, the only one
    open for that use now: an ended conference takes no guest list); raises _CliProblem."""
    from rules import delegates
    from rules.conferences import open_for

    planned = await delegates.conferences(db)
    if not planned:
        raise _CliProblem(t("No conference is set up yet. Load a plan first: dienhinh plan load FILE"))
    if code:
        conference = await delegates.find_conference(db, code)
        if conference is None:
            every = ", ".join(conference.code for conference in planned)
            raise _CliProblem(t("There is no conference {code}. Conferences: {codes}.", code=code, codes=every))
        return conference
    conferences = planned if open_now is None else await open_for(db, *open_now)
    if len(conferences) == 1:
        return conferences[0]
    if not conferences:
        raise _CliProblem(t("No conference takes guest lists now: the conferences of the plan have ended."))
    codes = ", ".join(conference.code for conference in conferences)
    raise _CliProblem(
        t("Several conferences take invitations: {codes}. Say which with --conference CODE.", codes=codes)
    )


async def _import_guest_list(
    settings: Settings, path: Path, data: bytes, conference_code: str | None, confirm: bool
) -> tuple[str, int | None, int]:
    """(the row report, invitations created or None without --yes, rows ready); raises _CliProblem."""
    from handlers.conference import closed_text
    from handlers.invite import import_report
    from rules import guest_lists
    from rules.conferences import Closed, Use
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
            conference = await _pick_conference(db, t, conference_code, open_now=(Use.GUEST_LISTS, now))
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


async def _read_letters(settings: Settings, conference_code: str | None, bot: str) -> Letters:
    """The letters to print, read as the operator (audited); raises _CliProblem."""
    from rules.printing import invitation_letters
    from rules.roles import OPERATOR, NotAllowed
    from storage.db import Database

    t = _translator(settings)
    await _prepare_database(settings)
    database = Database(settings.database_url)
    try:
        async with database.transaction() as db:
            conference = await _pick_conference(db, t, conference_code)
            letters = await invitation_letters(
                db,
                conference.id,
                labels=t,
                secret=settings.link_secret_bytes(),
                bot_username=bot,
                actor_id=OPERATOR,
                now=dt.datetime.now(dt.UTC),
            )
            if isinstance(letters, NotAllowed):  # the operator holds every role
                raise _CliProblem(t("Sorry, only organisers can do this."))
            if letters is None:
                raise _CliProblem(t("No one is invited to {title} yet.", title=conference.title))
            return letters
    finally:
        await database.dispose()


def cmd_invitations_print(
    settings: Settings, conference_code: str | None, per: str, bot: str | None, out: Path | None
) -> int:
    from rules.printing import Per, files

    t = _translator(settings)
    bot = (bot or "").strip().lstrip("@")
    if not bot:
        return _fail(t("Say the bot's Telegram username with --bot USERNAME: the QR codes on the letters open it."))
    try:
        letters = asyncio.run(_read_letters(settings, conference_code, bot))
    except _CliProblem as problem:
        return _fail(str(problem))
    how = Per(per)
    archive = letters.person_archive if how is Per.PERSON else letters.unit_archive
    folder = out or Path(archive.removesuffix(".zip"))
    try:
        folder.mkdir(parents=True, exist_ok=True)
        made = files(letters, how)  # the event loop is over: the drawing blocks nothing
        for name, data in made:
            (folder / name).write_bytes(data)
    except OSError as problem:
        return _fail(t("The folder {path} cannot be written: {problem}", path=folder, problem=problem.strerror))
    print(
        t(
            "Wrote {files} PDF files with the invitations of {count} people to {path}:",
            files=len(made),
            count=len(letters.letters),
            path=folder,
        )
    )
    for name, _ in made:
        print(f"  {name}")
    return 0


# argparse's own words (its usage line, headings and errors) as Python 3.11 writes them: through the catalog.
ARGPARSE_WORDS = (
    N_("usage: "),
    N_("positional arguments"),
    N_("options"),
    N_("show this help message and exit"),
    N_("%(prog)s: error: %(message)s\n"),
    N_("argument %(argument_name)s: %(message)s"),
    N_("invalid choice: %(value)r (choose from %(choices)s)"),
    N_("the following arguments are required: %s"),
    N_("unrecognized arguments: %s"),
    N_("expected one argument"),
    N_("ambiguous option: %(option)s could match %(matches)s"),
)


@contextlib.contextmanager
def _argparse_speaks(t: Translator) -> Iterator[None]:
    """argparse words its help and errors through its module's ``_``: the operator's catalog meanwhile."""
    saved = argparse._, argparse.ngettext  # type: ignore[attr-defined]
    argparse._, argparse.ngettext = t.translations.gettext, t.translations.ngettext  # type: ignore[attr-defined]
    try:
        yield
    finally:
        argparse._, argparse.ngettext = saved  # type: ignore[attr-defined]


def _operator_translator() -> Translator:
    """The operator's language for the command line itself (Vietnamese when the settings cannot be read)."""
    try:
        return _translator(load_settings())
    except SettingsError:
        return _translator(None)


def _action(parser: argparse.ArgumentParser, t: Translator, *choices: str) -> None:
    """The word after the command (``db upgrade``), named so in the usage line and in its errors."""
    parser.add_argument("action", choices=choices, metavar="{" + ",".join(choices) + "}", help=t("what to do"))


def build_parser(t: Translator) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dienhinh", description=t("dienhinh operator commands"))
    commands = parser.add_subparsers(dest="command", required=True, metavar=t("COMMAND"))
    commands.add_parser("run", help=t("start the bot"))
    demo = commands.add_parser("demo", help=t("the offline playground"))
    demo.add_argument("--keep", action="store_true", help=t("keep the playground database from last time"))
    demo.add_argument(
        "--channel",
        choices=["telegram", "zalo"],
        default="telegram",
        help=t("where everyone starts (`:channel` switches)"),
    )
    db = commands.add_parser("db", help=t("database schema"))
    _action(db, t, "upgrade", "status")
    plan = commands.add_parser("plan", help=t("campaign plans"))
    _action(plan, t, "load")
    plan.add_argument(
        "file", type=Path, metavar=t("FILE"), help=t("a plan file (.yaml), e.g. data/plans/tay-ho-2020.yaml")
    )
    invitations = commands.add_parser("invitations", help=t("invitations and guest lists"))
    _action(invitations, t, "import", "print")
    invitations.add_argument(
        "file", type=Path, nargs="?", metavar=t("FILE"), help=t("import: a guest list (.xlsx or .csv)")
    )
    invitations.add_argument(
        "--conference", metavar=t("CODE"), help=t("the conference's code (needed when there are several)")
    )
    invitations.add_argument(
        "--yes", action="store_true", help=t("import: invite the good rows (without it, only check)")
    )
    invitations.add_argument(
        "--per",
        choices=["unit", "person"],
        default="unit",
        help=t("print: one PDF per unit (default) or per person"),
    )
    invitations.add_argument(
        "--bot", metavar=t("USERNAME"), help=t("print: the bot's Telegram username, for the links in the QR codes")
    )
    invitations.add_argument(
        "--out",
        type=Path,
        metavar=t("FOLDER"),
        help=t("print: the folder to write to (default: a new folder here, named after the conference)"),
    )
    audit = commands.add_parser("audit", help=t("the tamper-evident audit trail"))
    _action(audit, t, "verify", "export")
    audit.add_argument("--expect-head", metavar=t("HASH"), help=t("verify: the head hash a digest showed"))
    audit.add_argument("--format", choices=["csv", "jsonl"], default="jsonl", help=t("export: the file's format"))
    audit.add_argument(
        "--out", type=Path, metavar=t("FILE"), help=t("export: the file to write (default: standard output)")
    )
    privacy = commands.add_parser("privacy", help=t("personal data"))
    _action(privacy, t, "purge")
    privacy.add_argument("--dry-run", action="store_true", help=t("only show what is past its retention period"))
    return parser


def main(argv: list[str] | None = None) -> int:
    t = _operator_translator()
    with _argparse_speaks(t):
        args = build_parser(t).parse_args(argv)
    try:
        if args.command == "demo":
            return cmd_demo(args.keep, args.channel)
        settings = load_settings()
        if args.command == "run":
            return cmd_run(settings)
        if args.command == "db":
            return cmd_db(settings, args.action)
        if args.command == "audit":
            from bot import audit_cli

            if args.action == "verify":
                return audit_cli.cmd_verify(settings, _translator(settings), args.expect_head)
            return audit_cli.cmd_export(settings, _translator(settings), args.format, args.out)
        if args.command == "privacy":
            return cmd_privacy_purge(settings, args.dry_run)
        if args.command == "invitations" and args.action == "print":
            return cmd_invitations_print(settings, args.conference, args.per, args.bot, args.out)
        if args.command == "invitations":
            if args.file is None:
                t = _translator(settings)
                return _fail(t("Say which guest list to import: dienhinh invitations import FILE"))
            return cmd_invitations_import(settings, args.file, args.conference, args.yes)
        return cmd_plan_load(settings, args.file)
    except SettingsError as problem:
        t = _translator(None)
        return _fail(t("Invalid setting {setting}: {problem}", setting=problem.setting, problem=t(problem.problem)))


if __name__ == "__main__":
    raise SystemExit(main())
