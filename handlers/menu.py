"""The commands each role sees in Telegram's menu and in /help. Features add their commands here."""

from __future__ import annotations

from dataclasses import dataclass

from telegram import BotCommand

from bot.i18n import N_, Translator
from rules.roles import Role, at_least


@dataclass(frozen=True)
class Command:
    name: str
    description: str  # a msgid
    role: Role = Role.CITIZEN


COMMANDS: tuple[Command, ...] = (
    Command("start", N_("Welcome and what I can do")),
    Command("help", N_("How to use this bot")),
    Command("nominate", N_("Nominate an exemplar or a good deed")),
    Command("rsvp", N_("Your invitations: attend, decline or propose a substitute")),
    Command("deadlines", N_("Deadlines: what is open and until when")),
    Command("lang", N_("Change language / Đổi ngôn ngữ")),
    Command("cancel", N_("Stop what you are doing")),
    Command("outbox", N_("Messages waiting to be sent"), Role.ORGANISER),
    Command("share", N_("A link to gather endorsements for your nomination")),
    Command("grant", N_("Give someone a role (organiser, reviewer)"), Role.ORGANISER),
    Command("unitlink", N_("Make a link for a unit's focal point"), Role.ORGANISER),
    Command("mine", N_("Your nominations and their status")),
    Command("nomination", N_("Details of a nomination: /nomination CODE")),
    Command("review", N_("Review the nominations sent in"), Role.REVIEWER),
    Command("publish", N_("Publish an approved exemplar in the channel: /publish CODE"), Role.ORGANISER),
    Command("checkin", N_("Check a delegate in: /checkin CODE"), Role.REVIEWER),
    Command("substitutes", N_("Proposed substitutes: approve or reject"), Role.ORGANISER),
    Command("override", N_("Record a delegate's answer: /override NUMBER attend|decline reason"), Role.ORGANISER),
    Command("invite", N_("Invite approved exemplars: /invite CODE or /invite all"), Role.ORGANISER),
    Command("invitations", N_("Excel file of the invitations: personal links and QR codes"), Role.ORGANISER),
    Command("attendance", N_("Attendance list (danh sách trích ngang) as an Excel file"), Role.ORGANISER),
    Command("delegates", N_("Delegates by pool and status, with counts"), Role.ORGANISER),
    Command("conference", N_("Set a conference's day, time and venue"), Role.ORGANISER),
    Command("status", N_("Where things stand: deadlines, nominations, seats, balance"), Role.ORGANISER),
    Command("export", N_("Excel workbook: nominations, delegates, attendance, balance"), Role.ORGANISER),
)


def commands_for(role: str) -> list[Command]:
    return [command for command in COMMANDS if at_least(role, command.role)]


def bot_commands(role: str, t: Translator) -> list[BotCommand]:
    return [BotCommand(command.name, t(command.description)) for command in commands_for(role)]


def help_lines(role: str, t: Translator) -> str:
    return "\n".join(f"/{command.name} — {t(command.description)}" for command in commands_for(role))
