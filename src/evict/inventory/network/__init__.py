"""Network logs as inventory sources: the devices that talk to a covered vendor's endpoints.

One module per log format (Zeek, Suricata, Squid, BIND, Windows DNS Server, dnsmasq/Pi-hole),
all read by the streaming reader of :mod:`evict.inventory.network._reader`. Each client address
becomes a host ``net:<address>`` whose observations (kind ``network``) are the endpoint-looking
names it asked for, with first and last seen, a count and a few log lines.
"""
