"""soap_usestats: Moodle time spent and grades, over SOAP, for ERPs."""

# First of all: Spyne's six.moves on Python 3.12+, before any module imports Spyne.
from . import spyne_compat  # noqa: F401

__version__ = "1.0.0"
