"""The Zalo Bot Platform channel (``../shared/docs/zalo-bot-api.md``).

- :mod:`.client`: the async HTTP client for the Bot API (token kept out of logs, errors and reprs);
- :mod:`.updates`: typed inbound events, the parser for both envelope shapes, the deduplicator;
- :mod:`.fake_server`: a fake Bot API on 127.0.0.1 for tests and the playground;
- :mod:`.outbound`: Bot API calls to a Zalo address carried out on Zalo (menus, splits, links);
- :mod:`.inbound`: Zalo events as PTB updates;
- :mod:`.channel`: polling, webhook intake, and the wiring of the two above.

Splitting long texts and rendering keyboards as numbered menus is channel-neutral text work and lives in
:mod:`rules.channel_text`.
"""

# The channel name in addresses (``AddressBook.address_of("zalo", …)``) and in the router.
CHANNEL = "zalo"
