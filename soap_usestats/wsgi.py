"""The WSGI entry point for gunicorn: ``gunicorn soap_usestats.wsgi:application``."""

from .web.app import create_app
from .web.requestlog import configure_logging

configure_logging()
application = create_app()
