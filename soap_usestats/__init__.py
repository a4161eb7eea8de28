"""soap_usestats: Moodle time spent and grades, over SOAP, for ERPs."""

__version__ = "1.0.0"
