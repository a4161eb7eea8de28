"""The WSGI entry point for gunicorn: ``gunicorn soap_usestats.wsgi:application``.

A configuration that cannot be used stops gunicorn with its one-line message
("App failed to load"), not a worker's traceback.
"""

from gunicorn.errors import AppImportError

from .exceptions import ConfigError
from .web.app import create_app
from .web.requestlog import configure_logging

try:
    configure_logging()
    application = create_app()
except ConfigError as error:
    raise AppImportError(f"soap-usestats: {error}") from None
