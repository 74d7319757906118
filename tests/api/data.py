"""A small, known data set: Anna (CRM, web, app, shop), Bob (web, CRM) and Carl (a cookie)."""

from __future__ import annotations

from typing import Any

from app.bootstrap import Services
from tests.helpers import raw_event

ANNA_EMAIL = "anna.devries@example.com"
ANNA_PHONE = "+31612345678"
EVENTS = [
    raw_event("web-1", "2024-01-01T10:00:00Z", "cookie:ck_anna", properties={"url": "/home"}),
    raw_event("crm-1", "2024-01-02T10:00:00Z", "crm_id:C-1", f"email:{ANNA_EMAIL}",
              "phone:+31 6 1234 5678", type_="crm_record", source="crm",
              traits={"first_name": "Anna", "last_name": "de Vries", "birth_date": "1988-04-12",
                      "postcode": "1016 GV", "city": "Amsterdam"},
              consent={"email_marketing": True}),
    raw_event("web-2", "2024-01-03T10:00:00Z", "cookie:ck_anna", f"email:{ANNA_EMAIL}",
              type_="login", traits={"first_name": "Annie"}),
    raw_event("pos-1", "2024-01-04T10:00:00Z", "crm_id:C-1", type_="purchase", source="pos",
              properties={"amount": 25, "note": f"receipt sent to {ANNA_EMAIL}"}),
    raw_event("app-1", "2024-01-05T10:00:00Z", f"email:{ANNA_EMAIL}", source="app",
              consent={"email_marketing": False}),
    raw_event("web-b1", "2024-02-01T10:00:00Z", "cookie:ck_bob", "email:bob@example.org",
              traits={"first_name": "Bob", "last_name": "Bakker"}),
    raw_event("crm-b1", "2024-02-02T10:00:00Z", "crm_id:C-2", "email:bob@example.org",
              type_="crm_record", source="crm"),
    raw_event("web-c1", "2024-03-01T10:00:00Z", "cookie:ck_carl"),
]
ANNA_TIMELINE = ["app-1", "pos-1", "web-2", "crm-1", "web-1"]


async def seed(services: Services, events: list[dict[str, Any]] = EVENTS) -> dict[str, str]:
    """Ingest the events; return the customer id of anna, bob and carl."""
    result = await services.ingest.ingest_raw((e["event_id"], e) for e in events)
    assert not result.problems, result.problems
    owners = await services.store.owners(["cookie:ck_anna", "cookie:ck_bob", "cookie:ck_carl"])
    return {"anna": owners["cookie:ck_anna"], "bob": owners["cookie:ck_bob"],
            "carl": owners["cookie:ck_carl"]}
