"""Our own runs are strict (a broken plugin fails loudly) and quiet."""

import os

os.environ.setdefault("ARMOUR_PLUGINS_STRICT", "1")
os.environ.setdefault("ARMOUR_PROGRESS", "0")
