// V0006: rebuilds (app/stores/bulk.py). A Rebuild node records what a rebuild covered
// (its inputs, and the Kafka offsets they reach, which `idgraph consume` starts from) and
// journals its switch: the steps applied so far, so that a switch cut off half-way is
// finished by the next run.
// Each statement is idempotent; statements are separated by semicolons.

CREATE CONSTRAINT rebuild_id IF NOT EXISTS
FOR (r:Rebuild) REQUIRE r.id IS UNIQUE;

CREATE INDEX rebuild_state IF NOT EXISTS
FOR (r:Rebuild) ON (r.state)
