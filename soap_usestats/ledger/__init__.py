"""The ledger: each processed log row's final seconds, compiled once into a database of the
service's own (never the Moodle database), keyed by site.

``tables`` holds its layout, ``migrate`` creates and upgrades it (Alembic), ``compiler``
fills it from the log, ``lock`` lets one compiler at a time write it.
"""
