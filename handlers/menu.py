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
    Command("lang", N_("Change language / Đổi ngôn ngữ")),
    Command("cancel", N_("Stop what you are doing")),
    Command("outbox", N_("Messages waiting to be sent"), Role.ORGANISER),
)


def commands_for(role: str) -> list[Command]:
    return [command for command in COMMANDS if at_least(role, command.role)]


def bot_commands(role: str, t: Translator) -> list[BotCommand]:
    return [BotCommand(command.name, t(command.description)) for command in commands_for(role)]


def help_lines(role: str, t: Translator) -> str:
    return "\n".join(f"/{command.name} — {t(command.description)}" for command in commands_for(role))
