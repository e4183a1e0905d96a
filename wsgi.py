"""Production entry point: ``gunicorn wsgi:app`` (the config comes from $FEEDSVC_CONFIG)."""

from feedsvc import create_app

app = create_app()
