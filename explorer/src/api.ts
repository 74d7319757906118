// The GraphQL client of the explorer: same origin only (/graphql), an API key as a bearer
// token when one is given (local development mode needs none).

const KEY_STORAGE = "idgraph.apiKey";
const ENDPOINT = "/graphql";

export class AuthRequired extends Error {}

export class ApiError extends Error {
  constructor(message: string, readonly errors: GqlError[] = []) {
    super(message);
  }
}

export interface GqlError {
  message: string;
  path?: (string | number)[];
}

export function apiKey(): string | null {
  return sessionStorage.getItem(KEY_STORAGE);
}

export function setApiKey(key: string | null): void {
  if (key) sessionStorage.setItem(KEY_STORAGE, key);
  else sessionStorage.removeItem(KEY_STORAGE);
}

export interface Result<T> {
  data: T;
  errors: GqlError[];
}

/** Run a query; partial answers come back with their errors (a search tries every
 * identifier type and some of them reject the spelling). */
export async function gqlPartial<T>(query: string, variables: Record<string, unknown> = {},
): Promise<Result<T>> {
  const headers: Record<string, string> = { "Content-Type": "application/json", Accept: "application/json" };
  const key = apiKey();
  if (key) headers.Authorization = `Bearer ${key}`;
  let response: Response;
  try {
    response = await fetch(ENDPOINT, {
      method: "POST", headers, body: JSON.stringify({ query, variables }),
      credentials: "same-origin",
    });
  } catch (e) {
    throw new ApiError(`the idgraph API did not answer (${String(e)})`);
  }
  if (response.status === 401) throw new AuthRequired("an API key is needed");
  let body: { data?: T; errors?: GqlError[] };
  try {
    body = await response.json();
  } catch {
    throw new ApiError(`the idgraph API answered ${response.status} without JSON`);
  }
  const errors = body.errors ?? [];
  if (body.data == null) {
    throw new ApiError(errors.map((e) => e.message).join("; ") || `HTTP ${response.status}`, errors);
  }
  return { data: body.data, errors };
}

/** Run a query; any error is thrown. */
export async function gql<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const { data, errors } = await gqlPartial<T>(query, variables);
  if (errors.length) throw new ApiError(errors.map((e) => e.message).join("; "), errors);
  return data;
}

// -- types (the parts of the schema the page reads) ------------------------------------

// The schema's enums (app/api/schema.graphql): a value is its name, in upper case.
export type IdentifierStatus = "ACTIVE" | "BLOCKED" | "QUARANTINED";
export type LinkStatus = "ACTIVE" | "REJECTED" | "REMOVED" | "BANNED";
export type ReviewStatus = "OPEN" | "ACCEPTED" | "REJECTED";
export type AuditAction = "LINK" | "UNLINK" | "MERGE" | "SPLIT" | "RELINK" | "QUARANTINE"
  | "RELEASE" | "REVIEW" | "FORGET" | "RULES";
export type SurvivorshipRule = "MOST_RECENT" | "MOST_FREQUENT" | "SOURCE_PRIORITY";
export type MatchDecision = "LINK" | "REVIEW" | "NONE";
export type MatchGuard = "HOUSEHOLD" | "TWINS" | "OTHER_CUSTOMER";
export type MatchBasis = "STRANGERS" | "HOUSEMATES" | "TWINS";

/** An enum value as the page writes it, and as its CSS classes and graph styles name it:
 * QUARANTINED is "quarantined", OTHER_CUSTOMER "other_customer". */
export function word(value: string): string {
  return value.toLowerCase();
}

export interface Viewer { role: string; actor: string; seesPii: boolean; developmentMode: boolean }
export interface Trait {
  name: string; value: unknown; source: string; observedAt: string; rule: SurvivorshipRule; observations: number;
}
export interface Consent { purpose: string; granted: boolean; source: string; observedAt: string }
export interface Identifier {
  type: string; value: string; firstSeen: string; lastSeen: string; sources: string[]; status: IdentifierStatus;
}
export interface HistoryEntry {
  kind: "MERGE" | "SPLIT"; at: string; reason: string; absorbedId: string | null;
  survivorId: string | null; eventId: string | null; customerId: string | null; parts: string[] | null;
}
export interface Segment { segmentId: string; since: string; why: string[] }
export interface CustomerDetail {
  id: string;
  profile: { traits: Trait[] };
  consent: Consent[];
  identifiers: Identifier[];
  segments: Segment[];
  mergeHistory: HistoryEntry[];
}
export interface GraphNode {
  key: string; type: string; value: string; status: IdentifierStatus; reason: string;
  customerId: string | null; hops: number;
}
export interface Link {
  a: string; b: string; status: LinkStatus; reason: string; count: number; firstSeen: string;
  lastSeen: string; sources: string[]; sampleEventIds: string[]; weights: unknown;
  /** A matched link's comparisons in one line: `+FIRST_NAME+BIRTH_DATE-STREET`. */
  matchKey: string | null;
}
export interface IdentityGraph {
  customerId: string; depth: number; nodes: GraphNode[]; links: Link[]; truncated: boolean;
}
export interface Explanation {
  identifier: string; customerId: string | null; anchor: string | null; path: Link[]; stopped: Link[];
}
export interface EventNode {
  eventId: string; type: string; timestamp: string; source: string;
  identifiers: { type: string; value: string }[]; properties: Record<string, unknown>;
  traits: Record<string, unknown>;
}
export interface PageInfo { hasNextPage: boolean; endCursor: string | null }
export interface Connection<T> { edges: { cursor: string; node: T }[]; pageInfo: PageInfo }
export interface CustomerSummary {
  id: string; profile: { traits: { name: string; value: unknown }[] };
  identifiers: { type: string; value: string; status: IdentifierStatus }[];
}
export interface ReviewSide {
  key: string; type: string; value: string; customerId: string | null;
  customer: { id: string; profile: { traits: Trait[] }; identifiers: { type: string; value: string; status: IdentifierStatus }[] } | null;
}
export interface Review {
  id: string; score: number; weights: Record<string, unknown>; matchKey: string | null; status: ReviewStatus; createdAt: string;
  a: ReviewSide; b: ReviewSide;
}
export interface AuditEntry {
  seq: number; actor: string; action: AuditAction; target: string; reason: string; at: string;
  details: Record<string, unknown>; undoable: boolean; undoneBy: number | null;
}
export interface Failure { __typename: string; code: string; message: string; suggestion: string }
export interface ActionSuccess {
  __typename: "ActionSuccess"; auditSeq: number | null;
  merges: { absorbedId: string; survivorId: string }[];
  splits: { customerId: string; parts: string[] }[];
  affectedCustomers: { id: string }[];
}
export type ActionResult = ActionSuccess | Failure;

// -- queries ---------------------------------------------------------------------------

const SUMMARY = `fragment Summary on Customer {
  id
  profile { traits { name value } }
  identifiers { type value status }
}`;

export const VIEWER = `query Viewer { viewer { role actor seesPii developmentMode } }`;

export const BUILT_IN_TYPES = ["email", "phone", "cookie", "device_id", "crm_id"] as const;

// One round trip tries the text as a customer id, as every built-in identifier type (raw
// spelling: the API normalises it), as `type:value` for any other type, and as a fuzzy
// search on names, e-mail addresses and phone numbers.
const IDENTIFIER_HIT = `{ type value status reason customer { ...Summary } }`;
export const SEARCH_PAGE = 10;
export const SEARCH = `query Search($q: String!, $id: ID!, $fuzzy: Boolean!, $hasTyped: Boolean!,
    $typedType: String!, $typedValue: String!) {
  byId: customer(id: $id) { ...Summary }
  ${BUILT_IN_TYPES.map((t) => `${t}: identifier(type: "${t}", value: $q) ${IDENTIFIER_HIT}`).join("\n  ")}
  typed: identifier(type: $typedType, value: $typedValue) @include(if: $hasTyped) ${IDENTIFIER_HIT}
  search: searchCustomers(query: $q, first: ${SEARCH_PAGE}) @include(if: $fuzzy) {
    edges { score matched hint node { ...Summary } } pageInfo { hasNextPage endCursor }
  }
}
${SUMMARY}`;

/** The next page of a fuzzy search (the first comes with SEARCH). */
export const SEARCH_MORE = `query SearchMore($q: String!, $after: String!) {
  search: searchCustomers(query: $q, first: ${SEARCH_PAGE}, after: $after) {
    edges { score matched hint node { ...Summary } } pageInfo { hasNextPage endCursor }
  }
}
${SUMMARY}`;

// $asOf (event time) null: the customer as it is; else as the evidence up to then made it
export const CUSTOMER = `query Customer($id: ID!, $asOf: DateTime) {
  customer(id: $id, asOf: $asOf) {
    id
    profile { traits { name value source observedAt rule observations } }
    consent { purpose granted source observedAt }
    identifiers { type value firstSeen lastSeen sources status }
    segments { segmentId since why }
    mergeHistory { kind at reason absorbedId survivorId eventId customerId parts }
  }
}`;

const LINK = `a b status reason count firstSeen lastSeen sources sampleEventIds weights matchKey`;

/** The customer and its graph as of a moment, in one query: the server rebuilds the
 * moment once for both. */
export const MOMENT = `query Moment($id: ID!, $depth: Int!, $asOf: DateTime) {
  customer(id: $id, asOf: $asOf) {
    id
    profile { traits { name value source observedAt rule observations } }
    consent { purpose granted source observedAt }
    identifiers { type value firstSeen lastSeen sources status }
    segments { segmentId since why }
    mergeHistory { kind at reason absorbedId survivorId eventId customerId parts }
    identityGraph(depth: $depth) {
      customerId depth truncated
      nodes { key type value status reason customerId hops }
      links { ${LINK} }
    }
  }
}`;

export const GRAPH = `query Graph($id: ID!, $depth: Int!, $asOf: DateTime) {
  customer(id: $id, asOf: $asOf) {
    id
    identityGraph(depth: $depth) {
      customerId depth truncated
      nodes { key type value status reason customerId hops }
      links { ${LINK} }
    }
  }
}`;

export const EXPLAIN = `query Explain($id: ID!, $type: String!, $value: String!, $asOf: DateTime) {
  customer(id: $id, asOf: $asOf) {
    explain(type: $type, value: $value) {
      identifier customerId anchor
      path { ${LINK} }
      stopped { ${LINK} }
    }
  }
}`;

export const TIMELINE = `query Timeline($id: ID!, $first: Int!, $after: String, $types: [String!], $asOf: DateTime) {
  customer(id: $id, asOf: $asOf) {
    timeline(first: $first, after: $after, types: $types) {
      edges { cursor node { eventId type timestamp source identifiers { type value } properties traits } }
      pageInfo { hasNextPage endCursor }
    }
  }
}`;

export const REVIEW_COUNT = `query ReviewCount {
  reviewQueue(first: 100) { __typename ... on ReviewConnection { edges { cursor } pageInfo { hasNextPage } } }
}`;

const SIDE = `key type value customerId
  customer { id profile { traits { name value source observedAt rule observations } } identifiers { type value status } }`;

export const REVIEW_QUEUE = `query ReviewQueue($first: Int!, $after: String) {
  reviewQueue(first: $first, after: $after) {
    __typename
    ... on ReviewConnection {
      edges { cursor node { id score weights matchKey status createdAt a { ${SIDE} } b { ${SIDE} } } }
      pageInfo { hasNextPage endCursor }
    }
    ... on Forbidden { message }
  }
}`;

export const AUDIT_LOG = `query AuditLog($first: Int!, $before: String) {
  auditLog(first: $first, before: $before) {
    __typename
    ... on AuditConnection {
      edges { cursor node { seq actor action target reason at details undoable undoneBy } }
      pageInfo { hasNextPage endCursor }
    }
    ... on Forbidden { message }
  }
}`;

// -- mutations -------------------------------------------------------------------------

const OUTCOME = `__typename
  ... on ActionSuccess {
    auditSeq
    merges { absorbedId survivorId }
    splits { customerId parts }
    affectedCustomers { id }
  }
  ... on Failure { code message suggestion }`;

export const MUTATIONS = {
  unlink: `mutation Unlink($a: IdentifierInput!, $b: IdentifierInput!, $reason: String!, $ban: Boolean!) {
    result: unlinkIdentifiers(a: $a, b: $b, reason: $reason, ban: $ban) { ${OUTCOME} } }`,
  link: `mutation Link($a: IdentifierInput!, $b: IdentifierInput!, $reason: String!) {
    result: linkIdentifiers(a: $a, b: $b, reason: $reason) { ${OUTCOME} } }`,
  merge: `mutation Merge($a: ID!, $b: ID!, $reason: String!) {
    result: mergeCustomers(a: $a, b: $b, reason: $reason) { ${OUTCOME} } }`,
  split: `mutation Split($identifiers: [IdentifierInput!]!, $reason: String!) {
    result: splitCustomer(identifiers: $identifiers, reason: $reason) { ${OUTCOME} } }`,
  quarantine: `mutation Quarantine($identifier: IdentifierInput!, $reason: String!) {
    result: quarantineIdentifier(identifier: $identifier, reason: $reason) { ${OUTCOME} } }`,
  release: `mutation Release($identifier: IdentifierInput!, $reason: String!) {
    result: releaseIdentifier(identifier: $identifier, reason: $reason) { ${OUTCOME} } }`,
  resolveReview: `mutation ResolveReview($id: ID!, $accept: Boolean!, $reason: String!) {
    result: resolveReview(id: $id, accept: $accept, reason: $reason) { ${OUTCOME} } }`,
  undo: `mutation Undo($seq: Int!, $reason: String!) {
    result: undoAction(seq: $seq, reason: $reason) { ${OUTCOME} } }`,
} as const;

export async function act(kind: keyof typeof MUTATIONS, variables: Record<string, unknown>,
): Promise<ActionResult> {
  const data = await gql<{ result: ActionResult }>(MUTATIONS[kind], variables);
  return data.result;
}

export function isSuccess(r: ActionResult): r is ActionSuccess {
  return r.__typename === "ActionSuccess";
}

/** `type:value` -> the IdentifierInput the mutations take. */
export function identifierOf(key: string): { type: string; value: string } {
  const i = key.indexOf(":");
  return { type: key.slice(0, i), value: key.slice(i + 1) };
}

// -- prefetch ---------------------------------------------------------------------------
// The page starts the queries of the view it opens on while it learns the caller's role;
// the view takes them (once) instead of asking again.
const prefetched = new Map<string, Promise<unknown>>();

export function prefetch(name: string, query: string, variables: Record<string, unknown>): void {
  const p = gql(query, variables);
  p.catch(() => undefined);
  prefetched.set(`${name}:${JSON.stringify(variables)}`, p);
}

export function takePrefetched<T>(name: string, variables: Record<string, unknown>): Promise<T> | null {
  const key = `${name}:${JSON.stringify(variables)}`;
  const p = prefetched.get(key) as Promise<T> | undefined;
  prefetched.delete(key);
  return p ?? null;
}

/** The graph depth a page address asks for: 0 to 3, 1 when absent or not a depth. */
export function depthParam(params: URLSearchParams): number {
  const d = Number(params.get("depth") ?? 1);
  return Number.isInteger(d) && d >= 0 && d <= 3 ? d : 1;
}

// -- previews -----------------------------------------------------------------------------

/** A steward action as `previewAction` takes it (app/api/schema.graphql, ActionInput). */
export interface ActionInput {
  kind: "LINK" | "UNLINK" | "MERGE" | "SPLIT" | "QUARANTINE" | "RELEASE" | "ACCEPT_REVIEW";
  identifiers?: { type: string; value: string }[];
  customers?: string[];
  reviewId?: string;
  ban?: boolean;
}
export interface CustomerDiff {
  customerId: string; change: "MERGED" | "SPLIT" | "CHANGED" | "NEW" | "EMPTIED";
  gained: string[]; lost: string[]; fromCustomers: string[]; toCustomers: string[];
}
export interface SegmentChangeDiff { customerId: string; segmentId: string; change: "ENTERED" | "LEFT"; why: string[] }
export interface GraphDiff {
  __typename: "GraphDiff";
  customersBefore: number; customersAfter: number; merges: number; splits: number;
  identifiersMoved: number; identifiersDeactivated: number; identifiersActivated: number;
  segmentEntries: number; segmentExits: number;
  customers: CustomerDiff[]; segmentChanges: SegmentChangeDiff[];
}
export type PreviewResult = GraphDiff | Failure;

const GRAPH_DIFF = `customersBefore customersAfter merges splits identifiersMoved identifiersDeactivated
      identifiersActivated segmentEntries segmentExits
      customers { customerId change gained lost fromCustomers toCustomers }
      segmentChanges { customerId segmentId change why }`;

export const PREVIEW_ACTION = `query PreviewAction($action: ActionInput!) {
  result: previewAction(action: $action) {
    __typename
    ... on GraphDiff { ${GRAPH_DIFF} }
    ... on Failure { code message suggestion }
  }
}`;

export async function previewAction(action: ActionInput): Promise<PreviewResult> {
  return (await gql<{ result: PreviewResult }>(PREVIEW_ACTION, { action })).result;
}

// -- why not -------------------------------------------------------------------------------

export interface WhyNotPair {
  a: string; b: string; score: number; probability: number; decision: MatchDecision; guard: MatchGuard | null;
  basis: MatchBasis; comparisons: { comparison: string; level: string; weight: number }[];
}
export interface WhyNotAnswer {
  __typename: "WhyNot";
  a: { id: string }; b: { id: string }; reasons: string[]; compared: number;
  thresholds: { review: number; link: number; merge: number } | null;
  pairs: WhyNotPair[]; stoppedLinks: Link[];
  conflicts: { type: string; limit: number; count: number; message: string }[];
  decisions: AuditEntry[] | null;
  merge: GraphDiff | Failure;
}
export interface WhyNotData { whyNot: WhyNotAnswer | (Failure & { __typename: string }) }
export interface WhyNotSidesData { a?: { id: string } | null; b?: { id: string } | null }

export const WHY_NOT_SIDES = `query WhyNotSides($aType: String!, $aValue: String!, $aTyped: Boolean!,
    $bType: String!, $bValue: String!, $bTyped: Boolean!) {
  a: customerByIdentifier(type: $aType, value: $aValue) @include(if: $aTyped) { id }
  b: customerByIdentifier(type: $bType, value: $bValue) @include(if: $bTyped) { id }
}`;

export const WHY_NOT = `query WhyNot($customers: [ID!]) {
  whyNot(customers: $customers) {
    __typename
    ... on WhyNot {
      a { id } b { id } reasons compared
      thresholds { review link merge }
      pairs { a b score probability decision guard basis comparisons { comparison level weight } }
      stoppedLinks { ${LINK} }
      conflicts { type limit count message }
      decisions { seq actor action target reason at details undoable undoneBy }
      merge {
        __typename
        ... on GraphDiff { ${GRAPH_DIFF} }
        ... on Failure { code message suggestion }
      }
    }
    ... on Failure { code message suggestion }
  }
}`;
