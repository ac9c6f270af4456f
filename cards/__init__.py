"""The domain: tables, punch rules, risk rules, audit, redemption.

Piccolo finds its engine through PICCOLO_CONF; pointing it here lets both the server
and piccolo's own migration commands use `cards/piccolo_conf.py` without set-up.
"""

import os

os.environ.setdefault("PICCOLO_CONF", "cards.piccolo_conf")
