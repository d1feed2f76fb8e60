"""One router per domain. Each module exports `router` and `DOWNSTREAM` (the service it calls)."""
