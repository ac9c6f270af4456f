"""Piccolo's configuration: the engine from DATABASE_URL and our one app."""

from piccolo.conf.apps import AppRegistry

from cards.database import database_url, engine_from_url

DB = engine_from_url(database_url())

APP_REGISTRY = AppRegistry(apps=["cards.piccolo_app"])
