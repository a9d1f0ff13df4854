"""``make demo``: chat with the real bot in a terminal, offline, as several people.

The bot runs with SQLite and the seed plan (a copy whose dates are moved so the deadlines lie ahead of
today) against the in-process Bot API. Keyboards are shown as numbered options; type the number or the
option's name. Lines starting with ``:`` are playground commands (``:help`` lists them). Works with piped
standard input too, so a session can be scripted:

    printf '/start\\n/lang\\n2\\n/start\\n' | make demo

Each person also has a Zalo twin (a separate account with a Zalo identity and the same role): ``:channel
zalo`` (or ``dienhinh demo --channel zalo``) makes the current person write on Zalo, through the real Zalo
client and a fake Zalo server, and shows what the Zalo app would: menus as text, one block per message,
links or notes where Telegram would send a file.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import fcntl
import logging
import os
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.channels.zalo.fake_server import DeliveredMessage
from bot.i18n import N_, Translator, Translators
from bot.playground.harness import ChatUser, NoSuchButton, Playground, ZaloChatUser, shown
from bot.playground.transport import InProcessBotAPI, Persona, SentMessage
from bot.services import Services
from bot.settings import PROJECT_ROOT, Settings, load_settings
from rules import accounts, identities, invitations
from rules.roles import Role
from rules.text import fold
from storage.db import Database
from storage.models import Conference, Invitation, OrgUnit, OutboxMessage

DEMO_DIR = PROJECT_ROOT / "data" / "demo"
# Held while a playground runs: a second one in the same folder neither shares nor deletes its files.
LOCK_FILE = "playground.lock"
DELEGATE_NAME = "Lê Văn Hùng"
SEED_PLAN = PROJECT_ROOT / "data" / "plans" / "tay-ho-2020.yaml"


@dataclass(frozen=True)
class DemoPersona:
    key: str
    persona: Persona
    role: Role
    unit_hint: str | None = None
    about: str = ""

    @property
    def full_name(self) -> str:
        return f"{self.persona.last_name} {self.persona.first_name}"

    @property
    def zalo_id(self) -> str:
        """The Zalo id of this person's Zalo twin (20 hex digits, as Zalo's are), the same in every demo."""
        return f"7a1000{self.persona.user_id:014x}"


PERSONAS = (
    DemoPersona("lan", Persona(1001, "Lan", "Nguyễn Thị"), Role.CITIZEN, about=N_("citizen")),
    DemoPersona(
        "minh",
        Persona(1002, "Minh", "Trần Văn"),
        Role.FOCAL_POINT,
        unit_hint="buoi",
        about=N_("focal point of UBND phường Bưởi"),
    ),
    DemoPersona("hoa", Persona(1003, "Hoà", "Phạm Thu"), Role.ORGANISER, about=N_("organiser")),
    DemoPersona("hung", Persona(1004, "Hùng", "Lê Văn"), Role.CITIZEN, about=N_("invited delegate")),
)

HELP = N_(
    "Playground commands:\n"
    "  :as NAME          switch person ({names})\n"
    "  :channel zalo     write on Zalo as the current person's Zalo twin (`:channel telegram` goes back)\n"
    "  :who              who is who, and on which channel\n"
    "  :press N          press button N of the last message with buttons (typing N works too; Zalo has none)\n"
    "  :photo PATH [caption]   send a photo from a file\n"
    "  :doc PATH         send a document (e.g. a spreadsheet; Zalo delivers none: the bot hears “unsupported”)\n"
    "  :sticker          send a sticker\n"
    "  :link             open the demo invitation link (as whoever you are now; it was made for hung)\n"
    "  :restart          restart the bot process (the database and Telegram's side stay)\n"
    "  :help             this list\n"
    "  :quit             leave (end of input works too)\n"
    "Anything else is sent to the bot as text, e.g. /start or /lang."
)


class Terminal:
    """The people of the demo, each on Telegram or on Zalo (``channel``: where everyone starts)."""

    def __init__(
        self,
        playground: Playground,
        out: TextIO,
        echo_input: bool,
        directory: Path = DEMO_DIR,
        *,
        channel: str = identities.TELEGRAM,
    ) -> None:
        self.playground = playground
        self.directory = directory
        self.out = out
        self.echo_input = echo_input
        self.people = {p.key: playground.person(p.persona) for p in PERSONAS}
        self.zalo_people = {p.key: playground.zalo_person(p.full_name, zalo_id=p.zalo_id) for p in PERSONAS}
        self.names = {p.key: f"{p.persona.first_name}" for p in PERSONAS}
        self.channels = {p.key: channel for p in PERSONAS}
        self.current = "lan"
        self.invitation_line = "/start"
        playground.api.listeners.append(self._on_message)
        assert playground.zalo_server is not None, "the demo runs the Zalo channel too"
        playground.zalo_server.listeners.append(self._on_zalo_message)
        self._toasts_seen: dict[int, int] = {}

    @property
    def t(self) -> Translator:
        """The playground speaks the bot's default language (its lines are not the bot's, but read alike)."""
        return self.playground.services.translators.default

    @property
    def on_zalo(self) -> bool:
        return self.channels[self.current] == identities.ZALO

    @property
    def user(self) -> ChatUser:
        return self.people[self.current]

    @property
    def zalo_user(self) -> ZaloChatUser:
        return self.zalo_people[self.current]

    def label(self, key: str) -> str:
        """A person's name as the prompt and the arrows show it, "(Zalo)" after the Zalo twin's."""
        return f"{self.names[key]} (Zalo)" if self.channels[key] == identities.ZALO else self.names[key]

    def say(self, text: str = "") -> None:
        # A reader that went away (`make demo | head`) is not the bot's error.
        with contextlib.suppress(BrokenPipeError):
            print(text, file=self.out, flush=True)

    def _on_message(self, message: SentMessage) -> None:
        owner = next((key for key, user in self.people.items() if user.chat_id == message.chat_id), None)
        mine = owner == self.current and not self.on_zalo
        to = "" if mine else f" → {self.names.get(owner or '', message.chat_id)}"
        body = message.text or ""
        if message.file_name:
            body = f"[{message.method.removeprefix('send').lower()}: {message.file_name}] {body}".strip()
            if message.file_bytes is not None:
                saved = self.directory / "received" / message.file_name
                saved.parent.mkdir(parents=True, exist_ok=True)
                saved.write_bytes(message.file_bytes)
                body += "\n   " + self.t(N_("(saved to {path})"), path=saved)
        self.say(f"🤖{to} {body}".replace("\n", "\n   "))
        for index, label in enumerate(message.button_labels, start=1):
            self.say(f"   [{index}] {label}")

    def _on_zalo_message(self, zalo_id: str, message: DeliveredMessage) -> None:
        """A message the bot sent on Zalo, shown as the Zalo app shows it: text only, no buttons."""
        owner = next((key for key, user in self.zalo_people.items() if user.zalo_id == zalo_id), None)
        mine = owner == self.current and self.on_zalo
        to = "" if mine else f" → {self.names.get(owner or '', zalo_id)} (Zalo)"
        self.say(f"🤖{to} {shown(message)}".replace("\n", "\n   "))

    def _show_toasts(self) -> None:
        for chat_id, toasts in self.playground.api.toasts.items():
            seen = self._toasts_seen.get(chat_id, 0)
            for toast in toasts[seen:]:
                self.say(f"   💬 {toast}")
            self._toasts_seen[chat_id] = len(toasts)

    async def handle(self, line: str) -> bool:
        """Act on one line; False when the person wants to leave."""
        line = line.strip()
        if not line:
            return True
        if self.echo_input:
            self.say(f"{self.label(self.current)}> {line}")
        if line.startswith(":"):
            return await self._command(line)
        if self.on_zalo:
            await self.zalo_user.send(line)
            return True
        await self.user.send(line)
        self._show_toasts()
        return True

    async def _command(self, line: str) -> bool:
        try:
            words = shlex.split(line[1:])
        except ValueError:
            words = line[1:].split()
        name, args = (words[0].lower(), words[1:]) if words else ("help", [])
        t = self.t
        try:
            if name in {"quit", "exit", "q"}:
                return False
            if name == "as":
                self._switch(" ".join(args))
            elif name == "who":
                self._who()
            elif name == "channel":
                self._switch_channel(args[0] if args else "")
            elif name == "press" and self.on_zalo:
                self.say(t("(Zalo has no buttons: type the number or the name of your answer)"))
            elif name == "press":
                await self.user.press(args[0] if args else "1")
                self._show_toasts()
            elif name == "photo":
                photo = Path(args[0]).expanduser()
                caption = " ".join(args[1:]) or None
                await (self.zalo_user if self.on_zalo else self.user).send_photo(photo, caption)
            elif name in {"doc", "document"} and self.on_zalo:
                Path(args[0]).expanduser().read_bytes()  # a missing file is still the playground's complaint
                self.say(t("(Zalo does not deliver documents to bots: the bot receives “unsupported content”)"))
                await self.zalo_user.send_unsupported()
            elif name in {"doc", "document"}:
                await self.user.send_document(Path(args[0]).expanduser())
            elif name == "sticker":
                await (self.zalo_user.send_sticker() if self.on_zalo else self.user.send_sticker())
            elif name == "link":
                await (self.zalo_user if self.on_zalo else self.user).send(self.invitation_line)
                self._show_toasts()
            elif name == "restart":
                await self.playground.restart()
                self.say(t("(bot restarted)"))
            else:
                self.say(t(HELP, names=", ".join(self.names)))
        except IndexError:
            self.say(t("(playground: missing argument; :help lists the commands)"))
        except (FileNotFoundError, IsADirectoryError) as problem:
            self.say(t("(playground: no file {path}; :help lists the commands)", path=problem.filename))
        except NoSuchButton as missing:
            if missing.labels:
                labels = ", ".join(missing.labels)
                self.say(
                    t(
                        "(playground: no button “{choice}”; the buttons are: {labels})",
                        choice=missing.choice,
                        labels=labels,
                    )
                )
            else:
                self.say(t("(playground: no buttons to press; type your answer)"))
        return True

    def _switch(self, wanted: str) -> None:
        key = next(
            (k for k, n in self.names.items() if fold(wanted) in {fold(k), fold(n)}),
            None,
        )
        if key is None:
            self.say(
                self.t(N_("(no person “{name}”; choose one of: {names})"), name=wanted, names=", ".join(self.names))
            )
            return
        self.current = key
        self.say(self.t(N_("(now you are {name})"), name=self.label(key)))

    def _who(self) -> None:
        t = self.t
        for p in PERSONAS:
            mark = "*" if p.key == self.current else " "
            where = t("on Zalo") if self.channels[p.key] == identities.ZALO else t("on Telegram")
            self.say(f" {mark} {p.key:5} {p.full_name} — {t(p.about)} — {where}")
        self.say(
            "   "
            + t(
                "Each person is on Telegram and has a Zalo twin with the same name and role: a separate account "
                "(its own language, drafts and nominations). `:channel zalo` / `:channel telegram` switches."
            )
        )

    def _switch_channel(self, wanted: str) -> None:
        channel = fold(wanted)
        if channel not in identities.CHANNELS:
            self.say(
                self.t(
                    N_("(no channel “{name}”; choose one of: {names})"),
                    name=wanted,
                    names=", ".join(identities.CHANNELS),
                )
            )
            return
        self.channels[self.current] = channel
        if channel == identities.ZALO:
            self.say(
                self.t(N_("(now you are {name}, the Zalo twin: a separate account)"), name=self.label(self.current))
            )
        else:
            self.say(self.t(N_("(now you are {name})"), name=self.label(self.current)))


DEMO_VENUE = "Hội trường UBND quận Tây Hồ, 657 Lạc Long Quân"
DEMO_BRING = "Giấy mời hoặc mã điểm danh, căn cước công dân"


async def prepare_database(settings: Settings, today: dt.date) -> str:
    """A fresh demo database: migrated, the seed plan loaded with its dates moved ahead, personas set up,
    and an invitation for the delegate persona; returns the ``/start inv_…`` line that opens it."""
    from rules.plans import apply_plan, load_plan_file, shift_plan_dates
    from storage.migrate import upgrade_to_head

    await upgrade_to_head(settings.database_url)
    database = Database(settings.database_url)
    try:
        plan = shift_plan_dates(load_plan_file(SEED_PLAN), today)
        async with database.transaction() as session:
            await apply_plan(session, plan)
            for demo in PERSONAS:
                persona = demo.persona
                account = await accounts.ensure_telegram_account(
                    session,
                    telegram_user_id=persona.user_id,
                    display_name=demo.full_name,
                    username=None,
                    organiser_ids=settings.organiser_ids,
                    now=dt.datetime.now(dt.UTC),
                )
                # The Zalo twin: another account, reached on Zalo, with the same role (`:channel zalo`).
                twin = await accounts.ensure_account(
                    session,
                    channel=identities.ZALO,
                    external_id=demo.zalo_id,
                    display_name=demo.full_name,
                    now=dt.datetime.now(dt.UTC),
                )
                unit_id = None
                if demo.unit_hint:
                    unit_id = await session.scalar(
                        select(OrgUnit.id)
                        .where(or_(OrgUnit.code == demo.unit_hint, OrgUnit.name_fold.like(f"%{demo.unit_hint}%")))
                        .order_by(OrgUnit.id)
                    )
                if demo.role != Role.CITIZEN:
                    for account_id in (account.id, twin.account.id):
                        await accounts.assign_role(session, account_id, demo.role, unit_id=unit_id, reason="demo")
            return await _invite_delegate(session, settings)
    finally:
        await database.dispose()


async def _invite_delegate(session: AsyncSession, settings: Settings) -> str:
    """The plan leaves the district conference's day open ("văn bản triển khai cụ thể sau"); the demo fixes
    one in its window, with a venue, and invites Hùng as a guest."""
    conference = await session.scalar(select(Conference).where(Conference.code == "district"))
    assert conference is not None and conference.window_start is not None
    # After the RSVP deadline (delegates answer first), inside the plan's window (Quý II).
    anchor = conference.rsvp_deadline or conference.window_start
    local_start = anchor.astimezone(settings.tz) + dt.timedelta(days=5)
    conference.starts_at = local_start.replace(hour=8, minute=0, second=0, microsecond=0).astimezone(dt.UTC)
    conference.venue = DEMO_VENUE
    conference.what_to_bring = DEMO_BRING
    secret = settings.link_secret_bytes()
    invitation = await invitations.create_invitation(
        session,
        conference=conference,
        pool_code=invitations.GUEST_POOL,
        person=invitations.Person(
            DELEGATE_NAME, gender="nam", birth_year=1962, position="Chủ tịch Hội Cựu chiến binh phường Bưởi"
        ),
        secret=secret,
        now=dt.datetime.now(dt.UTC),
    )
    assert invitation is not None
    return f"/start inv_{invitations.link_token(invitation, secret)}"


async def _wait_for_outbox(database: Database, seconds: float = 5.0) -> None:
    """Let the sender deliver what is already due before the playground closes."""
    deadline = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < deadline:
        async with database.transaction() as session:
            due = await session.scalar(
                select(OutboxMessage.id).where(
                    OutboxMessage.status.in_(("pending", "sending")),
                    OutboxMessage.due_at <= dt.datetime.now(dt.UTC),
                )
            )
        if due is None:
            return
        await asyncio.sleep(0.2)


def _hold(directory: Path) -> TextIO | None:
    """The playground's lock on ``directory`` (kept open while it runs), or None when another holds it."""
    handle = (directory / LOCK_FILE).open("a", encoding="utf-8")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


async def existing_invitation_line(settings: Settings) -> str | None:
    """The ``/start inv_…`` line of the demo delegate's invitation in a kept database (None: there is none)."""
    from storage.migrate import upgrade_to_head

    await upgrade_to_head(settings.database_url)
    database = Database(settings.database_url)
    try:
        async with database.transaction() as session:
            invitation = await session.scalar(
                select(Invitation)
                .join(Conference, Conference.id == Invitation.conference_id)
                .where(Conference.code == "district", Invitation.full_name == DELEGATE_NAME)
                .order_by(Invitation.id)
            )
            if invitation is None:
                return None
            return f"/start inv_{invitations.link_token(invitation, settings.link_secret_bytes())}"
    finally:
        await database.dispose()


async def run(
    keep: bool = False,
    stdin: TextIO = sys.stdin,
    out: TextIO = sys.stdout,
    directory: Path = DEMO_DIR,
    *,
    channel: str = identities.TELEGRAM,
) -> int:
    directory.mkdir(parents=True, exist_ok=True)
    lock = _hold(directory)
    if lock is None:
        settings = load_settings(bot_token="", webhook_url="")
        t = Translators(settings.default_locale, settings.tz).default
        with contextlib.suppress(BrokenPipeError):
            print(
                t(
                    N_(
                        "Another playground is running in {path}. Please use that one, or close it first: "
                        "its database was left as it is."
                    ),
                    path=directory,
                ),
                file=out,
                flush=True,
            )
        return 1
    try:
        return await _run(keep, stdin, out, directory, channel)
    finally:
        lock.close()


async def _run(keep: bool, stdin: TextIO, out: TextIO, directory: Path, channel: str) -> int:
    db_path = directory / "playground.sqlite3"
    if not keep:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    organiser = next(p.persona.user_id for p in PERSONAS if p.role == Role.ORGANISER)
    settings = load_settings(
        database_url=f"sqlite+aiosqlite:///{db_path}",
        organiser_ids=(organiser,),
        bot_token="",
        webhook_url="",
        log_level=os.environ.get("LOG_LEVEL", "WARNING"),
    )
    logging.basicConfig(
        filename=directory / "playground.log",
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # --keep goes on with the database of last time as it is: its plan, people and invitation.
    kept = await existing_invitation_line(settings) if keep and db_path.exists() else None
    invitation_line = kept or await prepare_database(settings, dt.datetime.now(settings.tz).date())
    # No web server runs in the demo, so no file links: Zalo people get the note saying where files are.
    playground = Playground(lambda: Services.create(settings), api=InProcessBotAPI(), zalo=True)
    await playground.start(run_jobs=True)
    interactive = stdin.isatty()
    terminal = Terminal(playground, out, echo_input=not interactive, directory=directory, channel=channel)
    t: Translator = playground.services.translators.default
    terminal.say(t("Offline playground: you are chatting with the real bot, without Telegram."))
    if kept:
        terminal.say(t("(the database of last time is kept: {path})", path=db_path))
    terminal.say(t(HELP, names=", ".join(terminal.names)))
    terminal.invitation_line = invitation_line
    terminal.say(
        t("(Hùng is invited to the district conference: `:as hung`, then `:link` or {line})", line=invitation_line)
    )
    terminal.say(t("(now you are {name}; try /start)", name=terminal.label(terminal.current)))
    try:
        while True:
            prompt = f"{terminal.label(terminal.current)}> " if interactive else ""
            try:
                line = await asyncio.to_thread(_read_line, stdin, prompt, interactive)
            except EOFError:
                break
            if not await terminal.handle(line):
                break
        await _wait_for_outbox(playground.services.database)
    finally:
        await playground.stop()
    return 0


def _read_line(stdin: TextIO, prompt: str, interactive: bool) -> str:
    if interactive:
        return input(prompt)
    line = stdin.readline()
    if not line:
        raise EOFError
    return line
