"""One-on-one support: requests routed to listeners on shift, escalation, and the two-way relay.

Who knows what
    * The member is stored as a keyed hash (one open request at a time; blocks hold across
      anonymous requests) and, while the bot needs to reach them, their id encrypted with AES-GCM
      under the context ``support:{conversation}:member``. Listeners and coordinators only ever see
      the member's label ("Member · K7Q2", or the name the member chose to give).
    * The member sees the listener only as "Listener · 7Q2X". Listener ids are stored in the
      clear (they act in a role) but never appear in the member's messages, custom ids or logs.
    * Text is relayed through the outbox (:mod:`bot.services.outbox`): encrypted while a delivery
      is pending, dropped when delivered. Topics are encrypted and dropped when the conversation ends.

Discord is reached through :class:`~bot.services.support.port.SupportPort` (attached by the support
cog) and the outbox's transport. Nothing here imports discord.

Where things are (each file imports only those above it in this list)
    models.py        limits, job kinds, what the port renders, results, pure helpers
    port.py          the Discord port
    core.py          the shared stores and port; identities, eligibility, notices and alerts
    intake.py        asking, offers to listeners, escalation, the queue for the next shift
    conversation.py  accepting, the relay, revealing, handing over to a colleague
    closing.py       ending (by either side, idle, blocked), feedback, cooldown, blocks lifted
    service.py       SupportService, the one object the app and the cogs use; jobs restored at start
"""
