"""The committed SDL (app/api/schema.graphql) is the schema the code serves."""

from app.api.sdl import SDL_FILE, sdl


def test_the_committed_sdl_matches_the_code():
    assert SDL_FILE.read_text() == sdl(), (
        "app/api/schema.graphql differs from the code: run `python -m app.api.sdl` and "
        "commit the file")


def test_the_sdl_has_the_operations_the_tracker_asks_for():
    text = sdl()
    for name in ("customer(", "customerByIdentifier(", "customers(", "searchCustomers(",
                 "identifier(", "reviewQueue(", "auditLog(", "ingestEvents(",
                 "linkIdentifiers(", "unlinkIdentifiers(", "splitCustomer(", "mergeCustomers(",
                 "resolveReview(", "forgetCustomer(", "undoAction(", "quarantineIdentifier(",
                 "releaseIdentifier(", "customerChanged(", "segmentMembershipChanged(",
                 "union MergeResult"):
        assert name in text, name
