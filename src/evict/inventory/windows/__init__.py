"""Windows inventories read offline, on any OS: regedit exports, registry hives, PowerShell output.

The sources live in :mod:`evict.inventory.windows.reg`, :mod:`evict.inventory.windows.hive` and
:mod:`evict.inventory.windows.powershell`; the registry imports them by name, so reading a
``.reg`` file never loads the hive parser. What the two registry sources look for, and how a key
becomes an observation, is written once in :mod:`evict.inventory.windows._keys`.
"""

__all__: list[str] = []
