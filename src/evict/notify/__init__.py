"""Reminders and alerts: what is worth telling an organisation, and the channels that tell it.

:mod:`evict.notify.events` decides, from the fleet's facts and today's date, which notifications
are due (a milestone coming up, hosts overdue, a covered product found for the first time, a
waiver about to expire); :mod:`evict.notify.channels` delivers them by e-mail (SMTP), webhook
(JSON, HMAC-signed, retried) and syslog (RFC 5424). :mod:`evict.service.notify` runs a pass.
"""
