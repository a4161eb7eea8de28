"""The WSGI entry point for gunicorn: ``gunicorn soap_usestats.wsgi:application``."""

from .app import create_app
from .logs import configure_logging

configure_logging()
application = create_app()
