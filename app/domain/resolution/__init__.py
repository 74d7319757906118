"""Identity resolution: decide how events and steward actions change the identity graph.

Pure: no I/O and no clock (the caller passes `now`). Identifiers seen in one event are
linked; the connected components of the accepted links are customers.

Two paths give the same answer:
- the fast path (fast.py), for the common batch that breaks no rule: union the batch's
  identifiers with the customers they already belong to;
- the full path (components.py), when a batch would break a per-type limit or a ban,
  quarantines a hub, or a steward changes a link: gather the whole stored components, and
  re-run `partition` (partition.py), which accepts links strongest first and rejects the
  ones that would break a rule. It is a function of the set of links, so the outcome does
  not depend on the order in which the evidence arrived.

batch.py collects what a batch brings; ingest.py chooses the path for each of its groups.
When customers merge, the one first seen (ties: the smaller id) keeps its id; the others
are recorded as merged into it (anchors.py). When a customer splits, the part holding most
of its identifiers keeps the id and the others become new customers.
"""

from app.domain.history import customer_id_for
from app.domain.plan import LinkFacts
from app.domain.resolution.anchors import MATCHER_SOURCE, STEWARD_SOURCE, survivor_of
from app.domain.resolution.batch import SAMPLE_EVENT_IDS, Batch, new_events
from app.domain.resolution.components import Repartition, require_components, resolve_components
from app.domain.resolution.ingest import DEFAULT_RULES, plan_ingest
from app.domain.resolution.partition import Partition, partition

__all__ = [
    "DEFAULT_RULES",
    "MATCHER_SOURCE",
    "SAMPLE_EVENT_IDS",
    "STEWARD_SOURCE",
    "Batch",
    "LinkFacts",
    "Partition",
    "Repartition",
    "customer_id_for",
    "new_events",
    "partition",
    "plan_ingest",
    "require_components",
    "resolve_components",
    "survivor_of",
]
