"""Moodle's context levels (``context.contextlevel``), as ``lib/accesslib.php`` numbers them."""

SYSTEM = 10
USER = 30
CATEGORY = 40
COURSE = 50
MODULE = 70
BLOCK = 80
