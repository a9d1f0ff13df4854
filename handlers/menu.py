"""The commands each role sees in Telegram's menu and in /help, grouped by task (Đề cử, Giấy mời, Theo dõi,
Quản trị, Chung). Features add their commands here, in their group."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from enum import StrEnum

from telegram import BotCommand

from bot.i18n import N_, Translator
from rules.roles import Role, at_least


class Group(StrEnum):
    """The tasks /help groups the commands by (and the order of Telegram's command menu)."""

    NOMINATIONS = "nominations"
    INVITATIONS = "invitations"
    FOLLOW_UP = "follow_up"
    ADMINISTRATION = "administration"
    GENERAL = "general"


GROUP_TITLES = {
    Group.NOMINATIONS: N_("📝 Nominations"),
    Group.INVITATIONS: N_("✉️ Invitations"),
    Group.FOLLOW_UP: N_("📊 Follow-up"),
    Group.ADMINISTRATION: N_("⚙️ Administration"),
    Group.GENERAL: N_("ℹ️ General"),
}


@dataclass(frozen=True)
class Command:
    name: str
    description: str  # a msgid
    group: Group
    role: Role = Role.CITIZEN


# In the order of the groups, and within each group in the order people need them.
COMMANDS: tuple[Command, ...] = (
    Command("nominate", N_("Nominate an exemplar or a good deed"), Group.NOMINATIONS),
    Command("mine", N_("Your nominations and their status"), Group.NOMINATIONS),
    Command("nomination", N_("Details of a nomination: /nomination CODE"), Group.NOMINATIONS),
    Command("share", N_("A link to gather endorsements for your nomination"), Group.NOMINATIONS),
    Command("review", N_("Review the nominations sent in"), Group.NOMINATIONS, Role.REVIEWER),
    Command(
        "publish",
        N_("Publish an approved exemplar in the channel: /publish CODE"),
        Group.NOMINATIONS,
        Role.ORGANISER,
    ),
    Command("rsvp", N_("Your invitations: attend, decline or propose a substitute"), Group.INVITATIONS),
    Command("invite", N_("Invite approved exemplars: /invite CODE or /invite all"), Group.INVITATIONS, Role.ORGANISER),
    Command(
        "invitations",
        N_("Invitations: Excel list (links, QR codes) or letters to print (PDF)"),
        Group.INVITATIONS,
        Role.ORGANISER,
    ),
    Command("delegates", N_("Delegates by pool and status, with counts"), Group.INVITATIONS, Role.ORGANISER),
    Command("conference", N_("Set a conference's day, time and venue"), Group.INVITATIONS, Role.ORGANISER),
    Command("substitutes", N_("Proposed substitutes: approve or reject"), Group.INVITATIONS, Role.ORGANISER),
    Command(
        "override",
        N_("Record a delegate's answer: /override NUMBER attend|decline reason"),
        Group.INVITATIONS,
        Role.ORGANISER,
    ),
    Command(
        "attendance",
        N_("Attendance list (danh sách trích ngang) as an Excel file"),
        Group.INVITATIONS,
        Role.ORGANISER,
    ),
    Command("checkin", N_("Check a delegate in: /checkin CODE"), Group.INVITATIONS, Role.REVIEWER),
    Command("deadlines", N_("Deadlines: what is open and until when"), Group.FOLLOW_UP),
    Command(
        "status", N_("Where things stand: deadlines, nominations, seats, balance"), Group.FOLLOW_UP, Role.ORGANISER
    ),
    Command(
        "export",
        N_(
            "Excel workbook: nominations, delegates, attendance, balance (ethnicity and religion only with "
            "/export sensitive REASON)"
        ),
        Group.FOLLOW_UP,
        Role.ORGANISER,
    ),
    Command("outbox", N_("Messages waiting to be sent"), Group.FOLLOW_UP, Role.ORGANISER),
    Command("requests", N_("Personal-data requests to answer"), Group.ADMINISTRATION, Role.ORGANISER),
    Command("grant", N_("Give someone a role (organiser, reviewer)"), Group.ADMINISTRATION, Role.ORGANISER),
    Command("unitlink", N_("Make a link for a unit's focal point"), Group.ADMINISTRATION, Role.ORGANISER),
    Command("start", N_("Welcome and what I can do"), Group.GENERAL),
    Command("help", N_("How to use this bot"), Group.GENERAL),
    Command("lang", N_("Change language / Đổi ngôn ngữ"), Group.GENERAL),
    Command("cancel", N_("Stop what you are doing"), Group.GENERAL),
    Command("privacy", N_("How your personal data is handled, and your rights"), Group.GENERAL),
    Command("mydata", N_("See all the data the bot holds about you"), Group.GENERAL),
    Command("request", N_("Ask the organisers to correct or erase your data, or object"), Group.GENERAL),
    Command("erase", N_("Erase your data"), Group.GENERAL),
)


def commands_for(role: str) -> list[Command]:
    return [command for command in COMMANDS if at_least(role, command.role)]


def bot_commands(role: str, t: Translator) -> list[BotCommand]:
    return [BotCommand(command.name, t(command.description)) for command in commands_for(role)]


def grouped(role: str) -> list[tuple[Group, list[Command]]]:
    """The commands ``role`` may use, by task, in the order of :class:`Group`; empty groups left out."""
    commands = commands_for(role)
    found = [(group, [command for command in commands if command.group == group]) for group in Group]
    return [(group, items) for group, items in found if items]


# Every /start and /help shows this, and it depends only on the role and the translator (one per locale and
# channel kind, made once at start-up): made once each.
@functools.lru_cache(maxsize=64)
def help_lines(role: str, t: Translator) -> str:
    """The commands by task: a heading per group ("📝 Đề cử"), then one line per command."""
    return "\n\n".join(
        "\n".join([t(GROUP_TITLES[group]), *(f"/{command.name} — {t(command.description)}" for command in items)])
        for group, items in grouped(role)
    )
