"""Channels: adapters between a messaging platform and the one PTB Application.

A channel turns its platform's inbound events into what the handlers consume and the handlers' output into
its platform's API calls. It holds no dialogue logic: the ConversationHandlers and the rules layer are the
same for every channel.
"""
