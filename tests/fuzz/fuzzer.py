"""Random updates from many people against the real Application, and what must hold whatever they send.

A run seeds a world (``fuzz.world``), then sends ``updates`` updates in bursts. A person is picked and
either does one to six random things (typing anything, commands with arguments, deep links, pressing
buttons real, stale, inaccessible, foreign or forged, photos, documents, stickers, edits, group and channel
posts), or, a third of the time, sets out to do what their role does (``/nominate``, ``/review``, a guest
list, ``/rsvp``, …) and then answers the questions for six to twenty-four updates, pressing the buttons the
bot shows or typing a fitting answer, so forms and cards are followed deep. Between updates the outbox is
sent, the planner and the draft sweep run, the clock moves on (drafts expire, RSVP deadlines pass) and the
bot restarts, as in production.

The oracles, checked on every update:

``error-handler``
    No update reaches the error handler (``handlers.common.on_error``): the recorder is put before it.
``escaped``
    No exception leaves ``Application.process_update``; nor any job run here (outbox, planner, sweep).
``logged-error``
    Nothing logs at ERROR or above (a handler that catches and logs has failed the person all the same).
``no-reply``
    A private message that expects an answer gets at least one message back in that chat, sent while
    the update is handled. Expecting an answer: a text (not empty: Telegram never delivers one), a
    command, a photo, a document or a sticker, sent by a person in a private chat. Edited messages,
    group and channel posts expect nothing (they must only not fail).
``press-unanswered``
    Every button press (``callback_query``: real, stale, on an inaccessible message, forged, without data)
    is answered (``answerCallbackQuery`` with its id), so no spinner is left turning.
``stall``
    No update takes longer than ``stall_seconds`` (5 s): the event loop serves everyone.
``telegram-limit``
    What the bot sends would be accepted by Telegram: text 1–4096 characters, captions ≤ 1024, toasts
    ≤ 200, callback data ≤ 64 bytes, command menus valid (the in-process Bot API does not enforce these).
``placeholder``
    No message shows an unfilled ``{placeholder}`` that no person typed.
``formula``
    No cell of a workbook the bot sends is a formula (the bot writes none: one there was typed by someone,
    a nominee named ``=HYPERLINK(…)``, a guest list row ``=A1*2``).
``privilege``
    Organisers' files (every spreadsheet, the status chart) are sent only to someone who is an organiser
    in the database at that moment, and every audited organiser's or reviewer's act (an import, invitations,
    a grant, an export, a decision) was done by someone who holds that role then: a demoted organiser
    answering a question left open gets and does nothing.
``invariant``
    Between updates the database holds no half-saved record (``fuzz.invariants``), checked every
    ``check_every`` updates and at the end.

Failures are deduplicated by oracle, exception type, innermost project frame and kind of update; each
group keeps one reproducer (the seed and the update number: ``FUZZ_SEED=… FUZZ_UPDATES=… make fuzz``
replays the run up to it; personal tokens are random, so the replay is the same run, not the same bytes).
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import re
import time
from collections import deque
from types import SimpleNamespace
from typing import Any

from sqlalchemy import func, select
from telegram import Update
from telegram.ext import CallbackQueryHandler, CommandHandler, ConversationHandler

from bot.outbox import OutboxDispatcher, SendLimiter
from bot.playground.harness import Playground
from bot.playground.transport import BOT_USERNAME, SentMessage
from handlers import nominate
from handlers import schedule as planner
from rules.text import fold
from storage.models import (
    Account,
    AuditEntry,
    Conference,
    Endorsement,
    Evidence,
    Invitation,
    InvitationImport,
    Nomination,
    OutboxMessage,
)
from tests.people import reached_at

from . import inputs
from .checks import (
    PLACEHOLDER,
    formula_cells,
    is_organisers_file,
    roles_allowed,
    telegram_limit_problems,
    texts_sent,
)
from .invariants import Violation, violations
from .report import Action, Expectation, Failure, Report, clip, innermost_project_frame, shown, trace_of
from .world import FuzzPerson, World, seed_world

SEND_METHODS = frozenset(
    {"sendMessage", "sendPhoto", "sendDocument", "sendMediaGroup", "sendSticker", "sendLocation", "copyMessage"}
)
_LINK = re.compile(r"\?start=([A-Za-z0-9_\-]+)")
_CODE = re.compile(r"\b[A-Z]{1,8}-\d{4}-\d{4,}\b")
_CHECKIN_CODE = re.compile(r"\b[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}\b")


class Clock:
    """The bot's clock: real time plus an offset the run moves (past a deadline), as tests do."""

    def __init__(self) -> None:
        self.offset = dt.timedelta()

    def __call__(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + self.offset

    def move_to(self, moment: dt.datetime) -> None:
        self.offset = moment - dt.datetime.now(dt.UTC)


class _ErrorLog(logging.Handler):
    """Log records at ERROR and above, while the run is on."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


# --- the run -------------------------------------------------------------------------------------------


class Fuzzer:
    """Drives one Playground; ``prepare`` seeds the world, ``run`` sends the updates and returns a Report."""

    def __init__(
        self,
        playground: Playground,
        clock: Clock,
        *,
        seed: int,
        backend: str = "sqlite",
        stall_seconds: float = 5.0,
        check_every: int = 500,
    ) -> None:
        self.playground = playground
        self.clock = clock
        self.rng = random.Random(seed)
        self.report = Report(seed, backend)
        self.stall_seconds = stall_seconds
        self.check_every = check_every
        self.world = World()
        self._errors: list[tuple[object, BaseException]] = []
        self._log = _ErrorLog()
        self._typed_placeholders: set[str] = set()
        self._seen_violations: set[tuple[str, str]] = set()
        self._history: dict[int, deque[str]] = {}
        self._payloads: dict[str, None] = {}
        self._codes: dict[str, None] = {}
        self._checkin_codes: dict[str, None] = {}
        self._dispatcher: tuple[object, OutboxDispatcher] | None = None
        self._audited = 0  # the last audit entry judged
        self._fake_time = 0.0
        self.commands: list[str] = []
        self.prefixes: list[str] = []

    # --- set-up --------------------------------------------------------------------------------------

    async def prepare(self) -> World:
        self._instrument()
        self.world = await seed_world(self.playground, self.clock, self._seed_step)
        for payload in self.world.payloads:
            self._payloads[payload] = None
        for code in self.world.nomination_codes:
            self._codes[code] = None
        for code in self.world.checkin_codes:
            self._checkin_codes[code] = None
        return self.world

    def _instrument(self) -> None:
        """Record what reaches the error handler (before it runs), and learn the commands and prefixes."""
        app = self.playground.application

        async def record(update: object, context: Any) -> None:
            if context.error is not None:
                self._errors.append((update, context.error))

        app.error_handlers = {record: True, **app.error_handlers}  # first, so it sees every error
        self.commands, self.prefixes = registered_commands_and_prefixes(app)

    async def _seed_step(self, person: FuzzPerson, update: Update, kind: str) -> None:
        await self._deliver(Action(-1, kind, shown(_text_of(update)), person, person.chat_id, "nothing", update))

    # --- the loop ------------------------------------------------------------------------------------

    async def run(self, updates: int) -> Report:
        root = logging.getLogger()
        root.addHandler(self._log)
        started = time.perf_counter()
        try:
            await self._loop(updates)
            await self._check_invariants(self._last_action(updates))
            self.report.reached = await reached(self.playground.services.database)
        finally:
            root.removeHandler(self._log)
            self.report.elapsed = time.perf_counter() - started
        return self.report

    async def _loop(self, updates: int) -> None:
        jumps = {
            int(updates * 0.25): "drafts",
            int(updates * 0.5): "grassroots",
            int(updates * 0.6): "drafts",
            int(updates * 0.85): "district",
        }
        restarts = {int(updates * share) for share in (0.33, 0.66)} if updates >= 300 else set()
        index = 0
        while index < updates:
            person = self._pick_person()
            diligent = self.rng.random() < 0.35
            for step in range(self.rng.randint(6, 24) if diligent else self.rng.randint(1, 6)):
                if index >= updates:
                    break
                if not diligent:
                    action = self._next_action(index, person)
                elif step == 0:
                    action = self._task(index, person)
                else:
                    action = self._follow_up(index, person)
                await self._deliver(action)
                index += 1
                await self._between_updates(index, jumps, restarts)

    async def _between_updates(self, index: int, jumps: dict[int, str], restarts: set[int]) -> None:
        if index % 97 == 0:
            await self._job(index, "job:outbox", self._send_outbox)
        if index % 331 == 0:
            await self._job(index, "job:planner", self._plan)
        if index % 499 == 0:
            await self._job(index, "job:drafts", self._expire_drafts)
        if index in jumps:
            await self._job(index, "job:clock", lambda: self._move_clock(jumps[index]))
        if index in restarts:
            await self._job(index, "job:restart", self._restart)
        if index % self.check_every == 0:
            await self._check_invariants(self._last_action(index))

    def _pick_person(self) -> FuzzPerson:
        people = self.world.people
        # Organisers and reviewers have the deepest paths: they act a little more often.
        weights = [3 if "organiser" in p.role else 2 if p.role in ("reviewer", "delegate") else 1 for p in people]
        return self.rng.choices(people, weights)[0]

    # --- delivering and judging ----------------------------------------------------------------------

    async def _deliver(self, action: Action) -> None:
        assert action.update is not None
        api = self.playground.api
        first_call = len(api.calls)
        errors_before = len(self._errors)
        logs_before = len(self._log.records)
        shown_before = len(api.chats[action.chat_id])
        started = time.perf_counter()
        try:
            await self.playground.deliver(action.update)
        except Exception as error:  # the oracle: nothing may escape process_update
            self._fail("escaped", action, error)
        duration = time.perf_counter() - started
        if action.index >= 0:
            self.report.updates += 1
            self.report.counts[action.coarse] += 1
            self.report.durations.append((duration, action.kind))
        calls = api.calls[first_call:]
        failed = len(self._errors) > errors_before
        for _, handled in self._errors[errors_before:]:
            self._fail("error-handler", action, handled)
        self._judge_logs(action, logs_before)
        if not failed:
            self._judge_answer(action, calls)
        if duration > self.stall_seconds:
            message = f"took {duration:.2f} s (limit {self.stall_seconds:g} s)"
            self._fail_plain("stall", action, message, "stall", by_fine_kind=True)
        self._judge_calls(action, calls)
        shown = api.chats[action.chat_id][shown_before:]
        await self._judge_privilege(action, shown)
        await self._judge_acting_roles(action)
        self._judge_workbooks(action, shown)
        self._harvest(calls)
        if action.person is not None and action.index >= 0:
            history = self._history.setdefault(action.person.chat_id, deque(maxlen=4))
            history.append(f"#{action.index} {action.kind} {action.detail}")

    def _judge_logs(self, action: Action, logs_before: int) -> None:
        records = self._log.records[logs_before:]
        recorded = {id(error) for _, error in self._errors} if records else set()
        for record in records:
            error = record.exc_info[1] if record.exc_info else None
            if error is not None and id(error) in recorded:
                continue  # on_error logging what the recorder already has
            message = f"{record.name}: {record.getMessage()}"
            if error is not None:
                self._fail("logged-error", action, error, prefix=message)
            else:
                self._fail_plain("logged-error", action, message, f"{record.name}:{record.msg}")

    def _judge_answer(self, action: Action, calls: list[tuple[str, dict[str, Any]]]) -> None:
        update = action.update
        if action.expects == "reply":
            if not any(name in SEND_METHODS and _chat(params) == action.chat_id for name, params in calls):
                self._fail_plain("no-reply", action, "no message back in the private chat", "", by_fine_kind=True)
        elif action.expects == "answer" and update is not None and update.callback_query is not None:
            query_id = update.callback_query.id
            if not any(
                name == "answerCallbackQuery" and str(params.get("callback_query_id")) == query_id
                for name, params in calls
            ):
                data = update.callback_query.data
                prefix = "no data" if data is None else (data.split(":", 1)[0] + ":" if ":" in data else "other data")
                message = f"the button press was not answered ({prefix})"
                self._fail_plain("press-unanswered", action, message, message)

    def _judge_calls(self, action: Action, calls: list[tuple[str, dict[str, Any]]]) -> None:
        for name, params in calls:
            for problem in telegram_limit_problems(name, params):
                signature = f"{name}: {problem.split(' (')[0]}"
                self._fail_plain("telegram-limit", action, f"{name}: {problem}", signature, by_fine_kind=True)
            for text in texts_sent(params):
                for placeholder in {p.casefold() for p in PLACEHOLDER.findall(text)} - self._typed_placeholders:
                    self._fail_plain(
                        "placeholder", action, f"{name} shows {placeholder}: {clip(text, 120)}", f"{placeholder}"
                    )

    async def _judge_privilege(self, action: Action, shown: list[SentMessage]) -> None:
        """Organisers' files (spreadsheets, the status chart) go to organisers only, as the database
        has them at that moment (not as a question opened before a demotion had them)."""
        files = [m.file_name for m in shown if m.file_name and is_organisers_file(m.file_name)]
        if not files or action.person is None:
            return
        async with self.playground.services.database.transaction() as db:
            role = await db.scalar(select(Account.role).where(reached_at(action.person.chat_id)))
        if role != "organiser":
            self._fail_plain(
                "privilege", action, f"{', '.join(files)} sent to a {role}", f"organisers' file to a {role}"
            )

    async def _judge_acting_roles(self, action: Action) -> None:
        """Whoever did an organiser's (or a reviewer's) audited act holds that role now, in the database: a
        demoted organiser's answer to a question left open invites, imports or exports nothing."""
        async with self.playground.services.database.transaction() as db:
            rows = (
                await db.execute(
                    select(AuditEntry.id, AuditEntry.action, AuditEntry.actor_id, AuditEntry.entity_id, Account.role)
                    .outerjoin(Account, Account.id == AuditEntry.actor_id)
                    .where(AuditEntry.id > self._audited)
                    .order_by(AuditEntry.id)
                )
            ).all()
        for entry_id, done, actor_id, entity_id, role in rows:
            self._audited = entry_id
            if action.index < 0 or actor_id is None or (done == "role.grant" and entity_id == str(actor_id)):
                continue  # the world's seeding; the bot's own jobs; someone changing their own role
            if role not in roles_allowed(done):
                self._fail_plain("privilege", action, f"{done} done by a {role}", f"{done} by a {role}")

    def _judge_workbooks(self, action: Action, shown: list[SentMessage]) -> None:
        """The bot writes no formulas: a formula cell in a workbook it sent came from what someone typed."""
        for message in shown:
            if not (message.file_name or "").endswith(".xlsx") or not message.file_bytes:
                continue
            for sheet, coordinate, formula in formula_cells(message.file_bytes):
                self._fail_plain(
                    "formula",
                    action,
                    f"{message.file_name}: {sheet}!{coordinate} is the formula {clip(formula, 60)!r}",
                    f"formula in {(message.file_name or '').split('-')[0]}",
                )

    def _fail(self, oracle: str, action: Action, error: BaseException, *, prefix: str = "") -> None:
        message = f"{type(error).__name__}: {error}"
        where = innermost_project_frame(error)
        failure = Failure(
            oracle,
            action,
            f"{prefix} → {message}" if prefix else message,
            where,
            trace_of(error),
            signature=type(error).__name__,
        )
        self._record(failure)

    def _fail_plain(
        self, oracle: str, action: Action, message: str, signature: str, *, by_fine_kind: bool = False
    ) -> None:
        self._record(Failure(oracle, action, message, signature=signature, by_fine_kind=by_fine_kind))

    def _record(self, failure: Failure) -> None:
        action = failure.action
        if action.person is not None:
            action.context = tuple(self._history.get(action.person.chat_id, ()))
        self.report.add(failure)

    def _harvest(self, calls: list[tuple[str, dict[str, Any]]]) -> None:
        """Links, codes and check-in codes the bot showed, for people to use (and misuse) later."""
        for _, params in calls:
            for text in texts_sent(params):
                for payload in _LINK.findall(text):
                    self._payloads[payload] = None
                for code in _CODE.findall(text):
                    self._codes[code] = None
                for code in _CHECKIN_CODE.findall(text):
                    self._checkin_codes[code] = None

    # --- jobs between updates ------------------------------------------------------------------------

    async def _job(self, index: int, kind: str, job: Any) -> None:
        action = Action(index, kind, "", None, 0, "nothing")
        errors_before, logs_before = len(self._errors), len(self._log.records)
        first_call = len(self.playground.api.calls)
        try:
            await job()
        except Exception as error:
            self._fail("escaped", action, error)
        for _, handled in self._errors[errors_before:]:
            self._fail("error-handler", action, handled)
        self._judge_logs(action, logs_before)
        calls = self.playground.api.calls[first_call:]
        self._judge_calls(action, calls)
        self._harvest(calls)

    async def _send_outbox(self) -> None:
        """Everything queued, paced on a fake clock so the run does not wait out Telegram's rate limits."""
        app = self.playground.application
        if self._dispatcher is None or self._dispatcher[0] is not app:

            def monotonic() -> float:
                return self._fake_time

            async def sleep(seconds: float) -> None:
                self._fake_time += max(seconds, 0.0)

            services = app.services
            dispatcher = OutboxDispatcher(
                services.database,
                app.bot,
                clock=services.clock,
                limiter=SendLimiter(clock=monotonic, sleep=sleep),
                max_chat_wait=3600.0,
                on_blocked=services.accounts.forget,
            )
            self._dispatcher = (app, dispatcher)
        await self._dispatcher[1].drain()

    async def _plan(self) -> None:
        await planner.plan_and_queue(self.playground.services, BOT_USERNAME)

    async def _expire_drafts(self) -> None:
        await nominate.expire_drafts(SimpleNamespace(application=self.playground.application))  # type: ignore[arg-type]

    async def _move_clock(self, to: str) -> None:
        """Three days on (unfinished drafts expire), or past a conference's RSVP deadline."""
        if to == "drafts":
            self.clock.offset += dt.timedelta(hours=73)
            await self._expire_drafts()
            return
        conference_code = to
        async with self.playground.services.database.transaction() as db:
            deadline = await db.scalar(select(Conference.rsvp_deadline).where(Conference.code == conference_code))
        if deadline is not None and deadline > self.clock():
            self.clock.move_to(deadline + dt.timedelta(hours=1))

    async def _restart(self) -> None:
        await self.playground.restart()
        self._instrument()

    async def _check_invariants(self, action: Action) -> None:
        found: list[Violation] = await violations(self.playground.services.database)
        for violation in found:
            key = (violation.invariant, violation.record)
            if key in self._seen_violations:
                continue
            self._seen_violations.add(key)
            self._fail_plain("invariant", action, str(violation), violation.invariant)

    def _last_action(self, index: int) -> Action:
        return Action(index - 1, "check:invariants", f"checked after update #{index - 1}", None, 0, "nothing")

    # --- what people do ------------------------------------------------------------------------------

    def _next_action(self, index: int, person: FuzzPerson) -> Action:
        roll = self.rng.random() * 100
        makers = (
            (14, self._guided_answer),
            (12, self._hostile_message),
            (20, self._command),
            (6, self._deep_link),
            (18, self._press_real),
            (9, self._press_forged),
            (3, self._photo),
            (3, self._document),
            (2, self._sticker),
            (6, self._edit),
            (5, self._group),
            (2, self._channel),
        )
        for weight, make in makers:
            roll -= weight
            if roll < 0:
                return make(index, person)
        return self._guided_answer(index, person)

    # What a person of each role sets out to do in a diligent burst (then answers every question).
    _TASKS: dict[str, tuple[str, ...]] = {
        "organiser": (
            "/review",
            "/invite all",
            "/invite",
            "/substitutes",
            "guest-list",
            "/grant",
            "/unitlink",
            "/override",
            "/export",
            "/attendance",
            "/invitations",
            "/delegates",
            "/status",
            "/publish",
            "/checkin",
            "/lang",
        ),
        "reviewer": ("/review", "/review", "/checkin", "/nominate", "/mine", "/lang"),
        "focal point": ("/nominate", "/nominate", "/mine", "/share", "/rsvp"),
        "delegate": ("/rsvp", "/rsvp", "link", "/nominate"),
        "citizen": ("/nominate", "/nominate", "Đề cử", "/mine", "/share", "link", "/lang"),
        "stranger": ("/nominate", "link", "/start", "/rsvp"),
    }

    def _task(self, index: int, person: FuzzPerson) -> Action:
        role = "organiser" if "organiser" in person.role else person.role
        task = self.rng.choice(self._TASKS.get(role, self._TASKS["citizen"]))
        if task == "guest-list":
            rows = inputs.guest_rows(self.rng, self.rng.randint(1, 8))
            file = inputs.FileToSend("guest-list-xlsx", inputs.xlsx(rows), "khach-moi.xlsx", inputs.XLSX_MIME)
            return self._send_document(index, person, file)
        if task == "link":
            return self._deep_link(index, person)
        if task.startswith("/") and self.rng.random() < 0.5:
            name = task.split()[0][1:]
            arguments = inputs.command_arguments(name, self.rng, self._refs())
            task = f"/{name} {arguments}".rstrip() if " " not in task else task
        kind = f"command:{task.split()[0]}" if task.startswith("/") else "text:task"
        return self._message(index, person, kind, task)

    def _follow_up(self, index: int, person: FuzzPerson) -> Action:
        """The next step of a task: press the latest button or answer the question (mostly)."""
        roll = self.rng.random()
        if roll < 0.6:
            return self._press_real(index, person, stale=False)
        if roll < 0.97:
            return self._guided_answer(index, person)
        return self._next_action(index, person)

    @property
    def _factory(self) -> Any:
        assert self.playground.factory is not None
        return self.playground.factory

    def _refs(self) -> inputs.Refs:
        return inputs.Refs(
            codes=list(self._codes)[-60:],
            invitation_ids=self.world.invitation_ids,
            usernames=self.world.usernames,
            user_ids=[p.chat_id for p in self.world.people],
            conferences=self.world.conference_codes,
            units=self.world.unit_names,
            checkin_codes=list(self._checkin_codes)[-30:],
            payloads=list(self._payloads)[-80:],
        )

    def _message(self, index: int, person: FuzzPerson, kind: str, text: str) -> Action:
        """A private text message (a command if it starts with /)."""
        update = self._factory.text(person.persona, text)
        person.sent.append(update.message.message_id)
        self._typed(text)
        expects: Expectation = "reply" if text else "nothing"
        return Action(index, kind, shown(text), person, person.chat_id, expects, update)

    def _typed(self, text: str | None) -> None:
        if text:
            # Casefolded: the bot may echo what was typed in capitals (a code is upper-cased).
            self._typed_placeholders.update(p.casefold() for p in PLACEHOLDER.findall(text))

    def _latest_with_buttons(self, chat_id: int, *, skip: int = 0) -> SentMessage | None:
        with_buttons = [m for m in self.playground.api.messages(chat_id)[-30:] if m.buttons]
        if len(with_buttons) <= skip:
            return None
        return with_buttons[-1 - skip]

    def _guided_answer(self, index: int, person: FuzzPerson) -> Action:
        """An answer to the question the bot asked last: a typed option, or a fitting value."""
        messages = self.playground.api.messages(person.chat_id)
        last = messages[-1] if messages else None
        if last is not None and last.buttons and self.rng.random() < 0.6:
            number = self.rng.randrange(len(last.buttons))
            label = str(last.buttons[number]["text"])
            return self._message(index, person, "text:typed-option", inputs.typed_label(label, number, self.rng))
        answer = inputs.answer_for(last.text, self.rng) if last is not None else None
        if answer is not None and "minh chung" in fold(last.text if last else "") and self.rng.random() < 0.5:
            return self._photo(index, person)
        if answer is not None:
            return self._message(index, person, "text:answer", answer)
        return self._message(index, person, "text:plausible", inputs.plausible_text(self.rng))

    def _hostile_message(self, index: int, person: FuzzPerson) -> Action:
        if self.rng.random() < 0.03:
            return self._message(index, person, "text:empty", "")
        text = inputs.hostile_text(self.rng)
        return self._message(index, person, "text:long" if len(text) > 1000 else "text:hostile", text)

    def _command(self, index: int, person: FuzzPerson) -> Action:
        roll = self.rng.random()
        if roll < 0.06:
            name = self.rng.choice(("foo", "START", "Start", "admin", "a" * 40, "đề_cử", "x" * 4000))
        else:
            name = self.rng.choice(self.commands)
        arguments = inputs.command_arguments(name, self.rng, self._refs())
        mention = f"@{BOT_USERNAME}" if self.rng.random() < 0.1 else ""
        text = f"/{name}{mention} {arguments}".rstrip()
        return self._message(index, person, f"command:/{name[:20]}", text)

    def _deep_link(self, index: int, person: FuzzPerson) -> Action:
        how, payload = inputs.deep_link_payload(self.rng, self._refs())
        prefix = payload.split("_", 1)[0] if "_" in payload[:6] else "other"
        return self._message(index, person, f"deeplink:{how}-{prefix}", f"/start {payload}")

    def _press(
        self, index: int, person: FuzzPerson, kind: str, message: SentMessage, data: str | None, inaccessible: bool
    ) -> Action:
        if inaccessible:
            message.editable = False  # Telegram no longer lets the bot edit what it no longer gives
        update = self._factory.press(person.persona, message, data, inaccessible=inaccessible)
        where = "inaccessible message" if inaccessible else f"message {message.message_id}"
        return Action(index, kind, f"press {shown(data)} on {where}", person, person.chat_id, "answer", update)

    def _press_real(self, index: int, person: FuzzPerson, *, stale: bool | None = None) -> Action:
        """A button the bot showed this person: the latest keyboard mostly, an older one sometimes."""
        if stale is None:
            stale = self.rng.random() < 0.15
        message = self._latest_with_buttons(person.chat_id, skip=self.rng.randint(1, 3) if stale else 0)
        if message is None:
            return self._guided_answer(index, person)
        # The first button is usually the one that moves on (Send, Attend, Approve): a little more often.
        button = message.buttons[0] if self.rng.random() < 0.3 else self.rng.choice(message.buttons)
        data = str(button.get("callback_data"))
        inaccessible = self.rng.random() < 0.08
        kind = "press:inaccessible" if inaccessible else "press:stale" if stale else "press:real"
        return self._press(index, person, kind, message, data, inaccessible)

    def _press_forged(self, index: int, person: FuzzPerson) -> Action:
        """Mutated, foreign (another chat's real button), made-up or missing data, on some message."""
        messages = self.playground.api.messages(person.chat_id)
        roll = self.rng.random()
        if roll < 0.6 and messages:
            message = messages[-1]
        elif roll < 0.8 and messages:
            message = self.rng.choice(messages[-20:])
        else:
            message = SentMessage(person.chat_id, self.rng.choice((10**6, 2**31 - 1, 1)), "sendMessage", "old")
        real = self._real_callback_data(person)
        data: str | None
        if self.rng.random() < 0.25 and real:
            how, data = "foreign", self.rng.choice(real)
        else:
            how, data = inputs.forge_callback_data(self.rng, real, self.prefixes)
        inaccessible = self.rng.random() < 0.15
        return self._press(index, person, f"press:{how}", message, data, inaccessible)

    def _real_callback_data(self, person: FuzzPerson) -> list[str]:
        """Callback data from another person's chat (what a forger could have learned)."""
        other = self.rng.choice(self.world.people)
        data = [
            str(button.get("callback_data"))
            for message in self.playground.api.messages(other.chat_id)[-10:]
            for button in message.buttons
            if button.get("callback_data")
        ]
        return data

    def _photo(self, index: int, person: FuzzPerson) -> Action:
        data, caption = inputs.photo(self.rng)
        self._typed(caption)
        update = self._factory.photo(person.persona, data, caption)
        person.sent.append(update.message.message_id)
        return Action(
            index, "photo", f"{len(data)} bytes, caption {shown(caption)}", person, person.chat_id, "reply", update
        )

    def _document(self, index: int, person: FuzzPerson) -> Action:
        return self._send_document(index, person, inputs.document(self.rng))

    def _send_document(self, index: int, person: FuzzPerson, file: inputs.FileToSend) -> Action:
        self._typed(file.caption)
        self._typed(file.file_name)
        update = self._factory.document(
            person.persona, file.data, file.file_name, file.mime_type, caption=file.caption, file_size=file.file_size
        )
        person.sent.append(update.message.message_id)
        size = file.file_size if file.file_size is not None else len(file.data)
        detail = f"{file.file_name[:40]!r}, {size} bytes, caption {shown(file.caption)}"
        return Action(index, f"document:{file.variant}", detail, person, person.chat_id, "reply", update)

    def _sticker(self, index: int, person: FuzzPerson) -> Action:
        update = self._factory.sticker(person.persona)
        return Action(index, "sticker", "👍", person, person.chat_id, "reply", update)

    def _edit(self, index: int, person: FuzzPerson) -> Action:
        """The person edits one of their messages: now a command, an answer or anything."""
        roll = self.rng.random()
        if roll < 0.4:
            name = self.rng.choice(self.commands)
            text = f"/{name} {inputs.command_arguments(name, self.rng, self._refs())}".rstrip()
            kind = "edited:command"
        elif roll < 0.7:
            text, kind = inputs.plausible_text(self.rng), "edited:answer"
        else:
            text, kind = inputs.hostile_text(self.rng), "edited:hostile"
        message_id = self.rng.choice(person.sent[-10:]) if person.sent and self.rng.random() < 0.8 else None
        self._typed(text)
        update = self._factory.edited_text(person.persona, text, message_id)
        detail = f"message {message_id or 'unknown'} now reads {shown(text)}"
        return Action(index, kind, detail, person, person.chat_id, "nothing", update)

    def _group(self, index: int, person: FuzzPerson) -> Action:
        group = self.rng.choice(self.world.groups)
        roll = self.rng.random()
        if roll < 0.3:
            name = self.rng.choice(self.commands)
            mention = f"@{BOT_USERNAME}" if self.rng.random() < 0.5 else ""
            text = f"/{name}{mention} {inputs.command_arguments(name, self.rng, self._refs())}".rstrip()
            kind = "group:command"
        elif roll < 0.5:
            text, kind = f"/start {inputs.deep_link_payload(self.rng, self._refs())[1]}", "group:deeplink"
        elif roll < 0.6:
            text, kind = f"@{BOT_USERNAME} {inputs.plausible_text(self.rng)}", "group:mention"
        else:
            text, kind = inputs.hostile_text(self.rng), "group:text"
        self._typed(text)
        update = self._factory.group_text(person.persona, group, text, supergroup=group < -(10**12))
        return Action(index, kind, f"in group {group}: {shown(text)}", person, group, "nothing", update)

    def _channel(self, index: int, person: FuzzPerson) -> Action:
        channel = self.rng.choice(self.world.channels)
        text = self.rng.choice((inputs.hostile_text(self.rng), "/start", "/status", inputs.plausible_text(self.rng)))
        self._typed(text)
        update = self._factory.channel_post(channel, text)
        return Action(index, "channel:post", f"in channel {channel}: {shown(text)}", None, channel, "nothing", update)


# --- helpers -------------------------------------------------------------------------------------------


async def reached(database: Any) -> dict[str, int]:
    """Rows by table and status: how deep the run got (nominations sent, invitations accepted, …)."""
    counted: dict[str, int] = {}
    tables = (
        (Nomination, Nomination.status),
        (Invitation, Invitation.status),
        (InvitationImport, InvitationImport.status),
        (Account, Account.role),
        (OutboxMessage, OutboxMessage.status),
        (Endorsement, None),
        (Evidence, None),
        (AuditEntry, None),
    )
    async with database.transaction() as db:
        for model, column in tables:
            if column is None:
                total = await db.scalar(select(func.count()).select_from(model))
                counted[model.__tablename__] = int(total or 0)
                continue
            rows = await db.execute(select(column, func.count()).group_by(column).order_by(column))
            for value, count in rows.all():
                counted[f"{model.__tablename__} {value}"] = int(count)
    return counted


def registered_commands_and_prefixes(app: Any) -> tuple[list[str], list[str]]:
    """Every command a handler answers, and the fixed starts of every button pattern (sorted)."""
    commands: set[str] = set()
    prefixes: set[str] = set()

    def walk(handler: Any) -> None:
        if isinstance(handler, ConversationHandler):
            for child in (*handler.entry_points, *handler.fallbacks):
                walk(child)
            for state in handler.states.values():
                for child in state:
                    walk(child)
        elif isinstance(handler, CommandHandler):
            commands.update(handler.commands)
        elif isinstance(handler, CallbackQueryHandler) and handler.pattern is not None:
            pattern = handler.pattern.pattern if isinstance(handler.pattern, re.Pattern) else handler.pattern
            if isinstance(pattern, str) and (prefix := inputs.literal_prefix(pattern)):
                prefixes.add(prefix)

    for group in sorted(app.handlers):
        for handler in app.handlers[group]:
            walk(handler)
    return sorted(commands), sorted(prefixes)


def _chat(params: dict[str, Any]) -> int | None:
    try:
        return int(params.get("chat_id", 0))
    except (TypeError, ValueError):
        return None


def _text_of(update: Update) -> str | None:
    message = update.effective_message
    return message.text if message is not None else None


__all__ = ["Clock", "Fuzzer", "Report", "registered_commands_and_prefixes"]
