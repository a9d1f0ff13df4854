"""The Zalo Bot Platform channel (``../shared/docs/zalo-bot-api.md``).

- :mod:`.client`: the async HTTP client for the Bot API (token kept out of logs, errors and reprs);
- :mod:`.updates`: typed inbound events, the parser for both envelope shapes, the deduplicator;
- :mod:`.fake_server`: a fake Bot API on 127.0.0.1 for tests and the playground.

Splitting long texts and rendering keyboards as numbered menus is channel-neutral text work and lives in
:mod:`rules.channel_text`.
"""
