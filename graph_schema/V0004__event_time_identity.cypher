// V0004: ids and merge history follow event time (app/domain/history.py): each identifier
// and link keeps the event of its first sighting, each customer its anchor (first_seen,
// first_event, first_key) and the moment its history was replayed to (settled). A store
// written before is given them from what it holds. Each statement only fills what is
// missing, so an interrupted migration can run again.

MATCH (i:Identifier)
WHERE i.first_event IS NULL AND i.type IS NOT NULL
CALL (i) {
  OPTIONAL MATCH (e:Event)-[:OBSERVED]->(i)
  WITH e
  ORDER BY e.ts, e.event_id
  RETURN head(collect(e.event_id)) AS first
}
SET i.first_event = coalesce(first, '');

MATCH ()-[l:LINKED]->()
WHERE l.first_event IS NULL
CALL (l) {
  OPTIONAL MATCH (e:Event)
  WHERE e.event_id IN l.event_ids
  WITH e
  ORDER BY e.ts, e.event_id
  RETURN head(collect(e.event_id)) AS first
}
SET l.first_event = coalesce(first, '');

MATCH (c:Customer)
WHERE c.first_key IS NULL AND c.merged_into IS NULL AND c.erased_at IS NULL
CALL (c) {
  MATCH (c)<-[:BELONGS_TO]-(i:Identifier)
  WITH i
  ORDER BY i.first_seen, i.first_event, i.key
  RETURN head(collect(i)) AS anchor, max(i.first_seen + '|' + i.first_event) AS seen
}
CALL (c) {
  OPTIONAL MATCH (c)<-[:BELONGS_TO]-(:Identifier)-[l:LINKED]->(:Identifier)
  WHERE l.status = 'active'
  RETURN max(l.first_seen + '|' + l.first_event) AS linked
}
SET c.first_seen = anchor.first_seen, c.first_event = anchor.first_event,
    c.first_key = anchor.key,
    c.settled = CASE WHEN linked IS NOT NULL AND linked > seen THEN linked ELSE seen END;

MATCH (c:Customer)
WHERE c.first_key IS NULL
SET c.first_event = '', c.first_key = '', c.settled = ''
