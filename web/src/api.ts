/**
 * Talking to the ticketing API: queries and mutations as GraphQL over HTTP POST (the WebSocket
 * endpoint refuses them), the live seat map as a GraphQL subscription over graphql-transport-ws.
 * Every operation the page uses is written out here, with the type of its answer.
 */
import { createClient, type Client } from "graphql-ws";

const GRAPHQL_PATH = "/graphql";

export interface Money {
  amount: string; // exact decimal, never parsed into a float for sums: the server adds up
  currency: string;
}

export interface EventSummary {
  id: string;
  name: string;
  startsAt: string;
  currency: string;
  venue: { name: string };
}

export interface PriceLevel {
  id: string;
  name: string;
}

/** The compact layout (see the SeatMapLayoutJSON scalar in schema.graphql). */
export interface LayoutJSON {
  seat_columns: string[];
  focal_point: [number, number] | null;
  sections: LayoutSectionJSON[];
}

export interface LayoutSectionJSON {
  id: number;
  name: string;
  kind: "SEATED" | "GENERAL_ADMISSION";
  capacity: number;
  position: number;
  outline: [number, number][];
  label: [number, number];
  price_sets: { price_id: number; amount: string }[][];
  seats: (string | number | null)[][];
}

export interface SectionStatuses {
  id: string;
  availableCount: number;
  statuses: string;
}

export interface SeatMapAnswer {
  version: string;
  layoutVersion: string;
  layout: LayoutJSON;
  sections: SectionStatuses[];
}

/**
 * One section in a `seatMapChanges` message: either its whole `statuses`, or the indexes of the
 * seats that changed (`seats`) with one status digit each (`seatStatuses`).
 */
export interface SectionChange {
  id: string;
  availableCount: number;
  statuses: string | null;
  seats: number[] | null;
  seatStatuses: string | null;
}

export interface SeatMapChanges {
  version: string;
  /** The client fell behind or the layout changed: fetch seatMap again. */
  reload: boolean;
  sections: SectionChange[];
}

export type CartStatus = "OPEN" | "BOOKED" | "PAID" | "FAILED" | "EXPIRED";
export type PaymentStatus = "PENDING" | "COMPLETED" | "FAILED" | "EXPIRED";

export interface CartItem {
  eventId: string;
  seatId: string;
  sectionId: string;
  rowId: string | null;
  priceOption: { id: string; name: string; price: Money };
  holdExpiresAt: string | null;
}

export interface Ticket {
  id: string;
  eventName: string;
  startsAt: string;
  venueName: string;
  section: string;
  row: string | null;
  number: string | null;
  seatId: string;
  priceName: string;
  price: Money;
}

export interface Payment {
  id: string;
  status: PaymentStatus;
  total: Money;
  expiresAt: string;
  tickets: Ticket[];
}

export interface Cart {
  id: string;
  status: CartStatus;
  items: CartItem[];
  total: Money;
  expiresAt: string | null;
  payment: Payment | null;
}

export interface UserError {
  code: string;
  message: string;
}

/** A GraphQL error or a refused request, with the API's stable code when there is one. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly code: string | null,
  ) {
    super(message);
  }
}

interface GraphQLAnswer<T> {
  data?: T | null;
  errors?: { message: string; extensions?: { code?: string } }[];
}

async function graphql<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
  let response: Response;
  try {
    response = await fetch(GRAPHQL_PATH, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify({ query, variables }),
    });
  } catch {
    throw new ApiError("The server cannot be reached.", null);
  }
  let answer: GraphQLAnswer<T>;
  try {
    answer = (await response.json()) as GraphQLAnswer<T>;
  } catch {
    throw new ApiError(`The server answered ${response.status}.`, null);
  }
  const error = answer.errors?.[0];
  if (error !== undefined || answer.data == null) {
    throw new ApiError(error?.message ?? "No answer.", error?.extensions?.code ?? null);
  }
  return answer.data;
}

/** Expected failures (seat taken, cart not open, ...) come back as data: turn them into errors. */
function orFail<P extends { userErrors: UserError[] }>(payload: P): P {
  const error = payload.userErrors[0];
  if (error !== undefined) {
    throw new ApiError(error.message, error.code);
  }
  return payload;
}

const MONEY = "{ amount currency }";
const TICKET = `{
  id eventName startsAt venueName section row number seatId priceName price ${MONEY}
}`;
const PAYMENT = `{ id status total ${MONEY} expiresAt tickets ${TICKET} }`;
const CART = `{
  id status total ${MONEY} expiresAt
  items { eventId seatId sectionId rowId holdExpiresAt priceOption { id name price ${MONEY} } }
  payment ${PAYMENT}
}`;

export async function listEvents(): Promise<EventSummary[]> {
  const data = await graphql<{ events: { nodes: EventSummary[] } }>(
    `query Events { events(first: 100) { nodes { id name startsAt currency venue { name } } } }`,
  );
  return data.events.nodes;
}

export interface EventSeatMap {
  priceLevels: PriceLevel[];
  seatMap: SeatMapAnswer;
}

export async function loadSeatMap(eventId: string): Promise<EventSeatMap | null> {
  const data = await graphql<{
    event: { priceLevels: PriceLevel[] } | null;
    seatMap: SeatMapAnswer | null;
  }>(
    `query SeatMap($id: ID!) {
      event(id: $id) { priceLevels { id name } }
      seatMap(eventId: $id) { version layoutVersion layout sections { id availableCount statuses } }
    }`,
    { id: eventId },
  );
  if (data.event === null || data.seatMap === null) {
    return null;
  }
  return { priceLevels: data.event.priceLevels, seatMap: data.seatMap };
}

/**
 * What changed since `since`, over HTTP, in the subscription's form (its sections always whole):
 * for when the page must not wait for the WebSocket.
 */
export async function loadSeatChanges(
  eventId: string,
  since: string,
): Promise<SeatMapChanges | null> {
  const data = await graphql<{
    seatChanges: { version: string; sections: SectionStatuses[] } | null;
  }>(
    `query Changes($id: ID!, $since: String!) {
      seatChanges(eventId: $id, since: $since) { version sections { id availableCount statuses } }
    }`,
    { id: eventId, since },
  );
  const changes = data.seatChanges;
  if (changes === null) {
    return null;
  }
  return {
    version: changes.version,
    reload: false,
    sections: changes.sections.map((s) => ({ ...s, seats: null, seatStatuses: null })),
  };
}

export async function loadCart(cartId: string): Promise<Cart> {
  const data = await graphql<{ cart: Cart }>(`query Cart($id: UUID!) { cart(id: $id) ${CART} }`, {
    id: cartId,
  });
  return data.cart;
}

export async function loadPayment(paymentId: string): Promise<Payment | null> {
  const data = await graphql<{ payment: Payment | null }>(
    `query Payment($id: UUID!) { payment(id: $id) ${PAYMENT} }`,
    { id: paymentId },
  );
  return data.payment;
}

type CartPayload = { cart: Cart; userErrors: UserError[] };

export async function holdSeat(input: {
  cartId: string;
  eventId: string;
  seatId: string;
  priceId: string;
}): Promise<Cart> {
  const data = await graphql<{ addSeatToCart: CartPayload }>(
    `mutation Hold($input: AddSeatToCartInput!) {
      addSeatToCart(input: $input) { cart ${CART} userErrors { code message } }
    }`,
    { input },
  );
  return orFail(data.addSeatToCart).cart;
}

export async function holdPlaces(input: {
  cartId: string;
  eventId: string;
  sectionId: string;
  priceId: string;
  quantity: number;
}): Promise<Cart> {
  const data = await graphql<{ addGeneralAdmissionToCart: CartPayload }>(
    `mutation HoldPlaces($input: AddGeneralAdmissionToCartInput!) {
      addGeneralAdmissionToCart(input: $input) { cart ${CART} userErrors { code message } }
    }`,
    { input },
  );
  return orFail(data.addGeneralAdmissionToCart).cart;
}

export async function releaseSeat(input: {
  cartId: string;
  eventId: string;
  seatId: string;
}): Promise<Cart> {
  const data = await graphql<{ removeSeatFromCart: CartPayload }>(
    `mutation Release($input: RemoveSeatFromCartInput!) {
      removeSeatFromCart(input: $input) { cart ${CART} userErrors { code message } }
    }`,
    { input },
  );
  return orFail(data.removeSeatFromCart).cart;
}

export async function bookCart(cartId: string): Promise<Cart> {
  const data = await graphql<{ bookCart: CartPayload }>(
    `mutation Book($input: BookCartInput!) {
      bookCart(input: $input) { cart ${CART} userErrors { code message } }
    }`,
    { input: { cartId } },
  );
  return orFail(data.bookCart).cart;
}

/** Test payments only: what the payment provider would report. */
export async function completeTestPayment(paymentId: string): Promise<Cart> {
  const data = await graphql<{ completePayment: CartPayload }>(
    `mutation Pay($input: FinishPaymentInput!) {
      completePayment(input: $input) { cart ${CART} userErrors { code message } }
    }`,
    { input: { paymentId } },
  );
  return orFail(data.completePayment).cart;
}

/** Whether anyone may complete a payment ("test") or only the provider's callback ("signed"). */
export async function paymentsMode(): Promise<string> {
  const response = await fetch("/health", { headers: { accept: "application/json" } });
  const health = (await response.json()) as { payments?: string };
  return health.payments ?? "signed";
}

const SEAT_MAP_CHANGES = `subscription Live($id: ID!, $since: String!) {
  seatMapChanges(eventId: $id, since: $since) {
    version
    reload
    sections { id availableCount statuses seats seatStatuses }
  }
}`;

/**
 * One WebSocket for the page's lifetime. graphql-ws connects lazily, retries when the
 * connection drops, and re-sends the live subscriptions it had, from the version each started
 * at: the statuses that brings are absolute, so what the map already has is applied again,
 * harmlessly.
 */
export function liveClient(onConnection: (connected: boolean) => void): Client {
  const url = new URL(GRAPHQL_PATH, window.location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return createClient({
    url: url.href,
    retryAttempts: Infinity,
    shouldRetry: () => true,
    on: {
      connected: () => onConnection(true),
      closed: () => onConnection(false),
    },
  });
}

/**
 * Follows an event's seat map from `since`; returns the function that stops it. `onChanges`
 * gets every message; `onEnd` is told when the server ends the subscription (no such event) or
 * refuses it.
 */
export function followSeatMap(
  client: Client,
  eventId: string,
  since: string,
  onChanges: (changes: SeatMapChanges) => void,
  onEnd: (error: unknown) => void,
): () => void {
  return client.subscribe<{ seatMapChanges: SeatMapChanges | null }>(
    { query: SEAT_MAP_CHANGES, variables: { id: eventId, since } },
    {
      next: (message) => {
        const changes = message.data?.seatMapChanges;
        if (changes != null) {
          onChanges(changes);
        } else if (message.errors !== undefined) {
          onEnd(new ApiError(message.errors[0]?.message ?? "refused", null));
        }
      },
      error: (error) => onEnd(error),
      complete: () => onEnd(null),
    },
  );
}
