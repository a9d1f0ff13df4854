"""One open question per person: a dialogue that starts closes the others of the same chat.

PTB keeps each ConversationHandler's state on its own, and tries a group's handlers in order. Without this,
an organiser looking at a /review card who types /invite all has two open dialogues, and the "2" meant for
/invite's question ("which conference?") is taken by the earlier-registered review as "Từ chối" for a
nomination the organiser was no longer looking at — a choice nobody made. So the question asked last is
the one a typed answer answers: when a dialogue is entered through one of its entry points and stays open,
every other dialogue open for the same chat and person is ended. What they saved stays saved (a form's
draft is a row; /nominate resumes it); only their claim on the next typed answer goes.

A dialogue made with ``interrupts=False`` (/lang) leaves the others open: it asks one question and ends,
and it is registered before them, so its answer reaches it first and the form goes on after it.
"""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import Application, ConversationHandler

from bot.context import BotContext


class Dialogue(ConversationHandler[BotContext]):
    def __init__(self, *args: Any, interrupts: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.interrupts = interrupts

    async def handle_update(
        self,
        update: Update,
        application: Application[Any, BotContext, Any, Any, Any, Any],
        check_result: Any,
        context: BotContext,
    ) -> object | None:
        _state, key, handler, _check = check_result
        entered = handler in self.entry_points
        result = await super().handle_update(update, application, check_result, context)
        if self.interrupts and entered and key in self._conversations:
            close_others(application, self, key)
        return result


def close_others(
    application: Application[Any, Any, Any, Any, Any, Any], opened: ConversationHandler[Any], key: Any
) -> None:
    """End every other open dialogue of ``key``; the Application stores the change after the update."""
    for handlers in application.handlers.values():
        for other in handlers:
            if other is not opened and isinstance(other, ConversationHandler) and key in other._conversations:
                other._update_state(ConversationHandler.END, key)
