"""gunicorn configuration for soap_usestats in production.

    gunicorn -c /etc/soap-usestats/gunicorn.conf.py soap_usestats.wsgi:application

The settings, their environment variables and the metrics hooks are the
service's own (``soap_usestats/web/serving.py``), the same ``soap-usestats serve``
runs with.
"""

from soap_usestats.config import load_settings
from soap_usestats.exceptions import ConfigError
from soap_usestats.web import serving

try:
    configured = load_settings()
    globals().update(serving.settings(configured.trusted_proxies,
                                      timeout=serving.worker_timeout(configured)))
except ConfigError as error:  # one line for the operator, not gunicorn's traceback
    raise SystemExit(f"soap-usestats: {error}") from None
globals().update(serving.hooks(configured.public_url))
serving.prepare_metrics()
